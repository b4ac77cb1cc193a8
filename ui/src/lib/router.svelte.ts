// Hash routing between the pages: #/status, #/storage, #/config, #/credentials, #/trust.

/** The pages of the app. */
export type Page = "status" | "storage" | "config" | "credentials" | "trust";

/** The pages in sidebar order, with their titles. */
export const pages: { id: Page; title: string; subtitle: string }[] = [
  { id: "status", title: "Status", subtitle: "The registry process, its address and its live log." },
  { id: "storage", title: "Storage", subtitle: "Where the registry keeps images: pick a backend, test it, save." },
  { id: "config", title: "Configuration", subtitle: "The registry's config.yml: download it, or review and apply a new one." },
  { id: "credentials", title: "Credentials", subtitle: "Secrets kept in the OS keychain, never in config.yml." },
  { id: "trust", title: "Trust", subtitle: "The registry's CA: make this machine and others trust it, and prove it works." },
];

function fromHash(): Page {
  const id = window.location.hash.replace(/^#\/?/, "");
  return pages.some((p) => p.id === id) ? (id as Page) : "status";
}

/** The page on screen. */
export const route = $state({ page: fromHash() });

window.addEventListener("hashchange", () => {
  route.page = fromHash();
});
