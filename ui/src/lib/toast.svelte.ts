// Toasts: short messages about the result of an action, bottom right.

/** How a toast looks: a success, a failure, or plain news. */
export type ToastKind = "success" | "error" | "info";

/** One toast on screen. */
export interface Toast {
  id: number;
  kind: ToastKind;
  title: string;
  detail: string | null;
}

/** The toasts on screen, oldest first. */
export const toasts: Toast[] = $state([]);

let nextId = 1;

/** Removes a toast. */
export function dismiss(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}

/** Shows a toast; errors stay longer than good news. */
export function toast(kind: ToastKind, title: string, detail: string | null = null): void {
  const id = nextId++;
  toasts.push({ id, kind, title, detail });
  if (toasts.length > 4) toasts.shift();
  setTimeout(() => dismiss(id), kind === "error" ? 10000 : 5000);
}
