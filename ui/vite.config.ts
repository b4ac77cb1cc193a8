import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// One build for the Tauri window and for `berthd console`: relative asset
// paths, no dev-server assumptions. In `npm run dev`, /api/* is proxied to a
// running `berthd console` (BERTH_CONSOLE, default http://127.0.0.1:5080).
export default defineConfig({
  plugins: [svelte()],
  base: "./",
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 600,
  },
  server: {
    strictPort: true,
    proxy: {
      "/api": process.env.BERTH_CONSOLE ?? "http://127.0.0.1:5080",
    },
  },
});
