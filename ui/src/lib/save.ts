// What a save of storage settings or config.yml looks like while it runs and after.

import { describeError } from "../api";
import { setStatus } from "./registry.svelte";
import { toast } from "./toast.svelte";
import type { SaveResult } from "./types";

/** The phases a save goes through, as the progress line shows them. */
export const SAVE_PHASES = ["Probing…", "Saving…", "Restarting registry…"];

/**
 * Moves the progress line on by time while one call does several things on the
 * server; returns a function that stops it.
 */
export function advanceByTime(setPhase: (phase: number) => void, from: number, delays: number[]): () => void {
  const timers = delays.map((delay, i) => setTimeout(() => setPhase(from + i + 1), delay));
  return () => timers.forEach(clearTimeout);
}

/** Reports a finished save: the new status, and a toast either way. */
export function reportSave(result: SaveResult, what: string): void {
  setStatus(result.status);
  if (result.saved) {
    const state = result.status.state === "running" ? `running on ${result.status.driver} storage` : result.status.state;
    toast("success", `${what} saved`, `The registry restarted and is ${state}.`);
  } else {
    toast("error", `${what} not saved`, "The storage probe failed, so nothing was changed. See the failing step.");
  }
}

/** Reports a save the server refused. */
export function reportSaveError(e: unknown, what: string): void {
  const { message, hint } = describeError(e);
  toast("error", `${what} not saved`, hint ? `${message} ${hint}` : message);
}
