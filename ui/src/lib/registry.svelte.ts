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

/** Reads the status now. */
export async function refreshStatus(): Promise<void> {
  try {
    setStatus(await api.status());
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
    if (busy || ticks % 3 === 0) void refreshStatus();
  }, 1000);
}
