// Checks a storage setting as the user types, before the server sees it.
// The server checks again; its per-field messages replace these.

import type { Field, FieldValue } from "./types";

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function isEmpty(value: FieldValue | undefined): boolean {
  return value === undefined || (typeof value === "string" && value.trim() === "");
}

function checkUrl(value: string): string | null {
  try {
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:") return "Use an http:// or https:// URL.";
    return null;
  } catch {
    return "Enter a full URL, e.g. https://s3.example.com.";
  }
}

/** What is wrong with one value, or null when it looks right. */
export function validateField(
  driver: string,
  field: Field,
  value: FieldValue | undefined,
  secretStored: boolean,
): string | null {
  if (isEmpty(value)) {
    if (!field.required) return null;
    if (field.kind === "secret" && secretStored) return null;
    if (field.kind === "bool") return null;
    return `${field.label} is required.`;
  }
  if (field.kind === "number") {
    const n = typeof value === "number" ? value : Number(String(value).trim());
    if (!Number.isFinite(n)) return "Enter a number.";
    if (n < 0) return "Enter zero or a positive number.";
    return null;
  }
  if (typeof value !== "string") return null;
  const text = value.trim();
  if (field.kind === "select" && field.options && !field.options.some((o) => o.value === text)) {
    return "Pick one of the listed values.";
  }
  if (/(endpoint|url)$/i.test(field.key) && field.kind === "text") return checkUrl(text);
  if (driver === "filesystem" && field.key === "rootdirectory" && !/^(\/|[A-Za-z]:[\\/])/.test(text)) {
    return "Use an absolute path, e.g. /var/lib/berth/registry.";
  }
  if (field.key === "bucket" && (driver === "s3" || driver === "gcs") && !BUCKET.test(text)) {
    return "Bucket names are 3–63 characters: lowercase letters, digits, dots and hyphens.";
  }
  return null;
}
