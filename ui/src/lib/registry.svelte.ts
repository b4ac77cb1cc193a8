// The sidecar's status, polled once for the whole app (sidebar and pages).

import * as api from "../api";
import type { Status } from "./types";

/** The latest status, the error of the latest poll, and when it was read. */
export const registry: { status: Status | null; error: unknown; readAt: number } = $state({
  status: null,
  error: null,
  readAt: 0,
});

/** Takes a status an action returned, so the screen does not wait for the next poll. */
export function setStatus(status: Status): void {
  registry.status = status;
  registry.error = null;
  registry.readAt = Date.now();
}

/** The status without what changes on every read (the uptime grows). */
function steady(status: Status): string {
  return JSON.stringify({ ...status, uptimeSeconds: null });
}

/** Reads the status now. An answer that says nothing new changes nothing on
 *  screen (the uptime ticks on from the last read), so a window at rest
 *  does not repaint. */
export async function refreshStatus(): Promise<void> {
  try {
    const status = await api.status();
    const shown = registry.status;
    const uptimeKept =
      shown !== null && (shown.uptimeSeconds === null) === (status.uptimeSeconds === null);
    if (shown !== null && registry.error === null && uptimeKept && steady(shown) === steady(status)) return;
    setStatus(status);
  } catch (e) {
    registry.error = e;
  }
}

let timer: ReturnType<typeof setInterval> | null = null;

/** Polls the status every few seconds (faster while the registry is starting). */
export function startPolling(): void {
  if (timer !== null) return;
  void refreshStatus();
  let ticks = 0;
  timer = setInterval(() => {
    ticks++;
    const busy = registry.status?.state === "starting";
    // A hidden window (minimised, another tab) reads only every 15 s.
    const every = document.hidden ? 15 : 3;
    if (busy || ticks % every === 0) void refreshStatus();
  }, 1000);
}
