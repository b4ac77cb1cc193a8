// The only module that talks to the back end (docs/admin-api.md).
//
// Inside the Tauri window every operation is `invoke("admin", { op, args })`;
// in a browser it is `POST /api/<op>` to `berthd console`, with the console
// token (read once from `?token=` and kept in sessionStorage) as a bearer token.

import { invoke, isTauri } from "@tauri-apps/api/core";
import type {
  ConfigFile,
  Credential,
  DriverForm,
  KeychainStatus,
  LogLevel,
  LogPage,
  OneLiners,
  ProbeResult,
  Review,
  SaveResult,
  Status,
  StorageForm,
  StorageSettings,
  TrustAction,
  TrustApplied,
  TrustPlan,
  TrustStatus,
  CertificateImport,
  TrustTarget,
  VerifyResult,
  DiskSettings,
  GcReport,
  ManifestDetail,
  Reclaimable,
  RepositoriesView,
  TagList,
  UsageHistory,
  UsageStatus,
  VolumesView,
  Webhook,
  WebhookList,
  WebhookRuntime,
  WebhookTestResult,
  UsersView,
  ReadOnlyState,
  RegistryMetrics,
} from "./lib/types";

/** The error codes the admin API answers with. */
export type ErrorCode =
  | "invalid-input"
  | "invalid-config"
  | "probe-failed"
  | "unavailable-driver"
  | "keychain-unavailable"
  | "not-found"
  | "sidecar"
  | "internal"
  | "unauthorized"
  | "network";

/** A failed admin operation: what is wrong (`message`) and what to do (`hint`). */
export class ApiError extends Error {
  readonly code: ErrorCode | string;
  readonly hint: string | null;
  /** Per-field messages of an `invalid-input` error, keyed by setting. */
  readonly fields: Record<string, string>;

  constructor(code: string, message: string, hint: string | null, fields?: Record<string, string>) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.hint = hint;
    this.fields = fields ?? {};
  }
}

const TOKEN_KEY = "berth.consoleToken";

/** Reads `?token=` once, keeps it for the session and removes it from the address bar. */
function consoleToken(): string | null {
  if (typeof window === "undefined") return null;
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    window.history.replaceState(window.history.state, "", url.toString());
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

let token: string | null | undefined;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Turns whatever a door rejected with into an ApiError. */
function toApiError(raw: unknown, fallback: string): ApiError {
  const body = isRecord(raw) && isRecord(raw.error) ? raw.error : raw;
  if (isRecord(body) && typeof body.message === "string") {
    const fields = isRecord(body.fields)
      ? Object.fromEntries(Object.entries(body.fields).map(([k, v]) => [k, String(v)]))
      : undefined;
    return new ApiError(
      typeof body.code === "string" ? body.code : "internal",
      body.message,
      typeof body.hint === "string" ? body.hint : null,
      fields,
    );
  }
  if (typeof raw === "string" && raw.trim() !== "") return new ApiError("internal", raw, null);
  return new ApiError("internal", fallback, null);
}

async function callHttp(op: string, args: object): Promise<unknown> {
  if (token === undefined) token = consoleToken();
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(`/api/${op}`, { method: "POST", headers, body: JSON.stringify(args) });
  } catch (e) {
    throw new ApiError(
      "network",
      `Cannot reach the Berth console (${e instanceof Error ? e.message : String(e)}).`,
      "Check that `berthd console` is still running, then reload this page.",
    );
  }
  const text = await response.text();
  let body: unknown = null;
  if (text !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!response.ok) {
    const error = toApiError(body, `The console answered ${response.status} ${response.statusText} to ${op}.`);
    if (response.status === 401 && error.code === "internal") {
      throw new ApiError(
        "unauthorized",
        "The console refused this page's token.",
        "Open the URL with ?token=… that `berthd console` printed.",
      );
    }
    throw error;
  }
  return body;
}

async function callTauri(op: string, args: object): Promise<unknown> {
  try {
    return await invoke("admin", { op, args });
  } catch (e) {
    throw toApiError(e, `The operation ${op} failed.`);
  }
}

/** Runs one admin operation through whichever door this page has. */
export async function call<T>(op: string, args: object = {}): Promise<T> {
  const result = isTauri() ? await callTauri(op, args) : await callHttp(op, args);
  return result as T;
}

/** True inside the desktop window, false in a browser. */
export function inDesktopWindow(): boolean {
  return isTauri();
}

// Registry (the sidecar)

/** The sidecar's state, address, backend, uptime and last error. */
export const status = () => call<Status>("status");
/** Starts the sidecar; resolves once it is running and healthy. */
export const start = () => call<Status>("start");
/** Stops the sidecar; resolves once it has stopped. */
export const stop = () => call<Status>("stop");
/** Restarts the sidecar; resolves once it is running and healthy again. */
export const restart = () => call<Status>("restart");
/** The sidecar's log lines after `after`. */
export const logs = (args: { after?: number; level?: LogLevel; limit?: number; waitMs?: number } = {}) =>
  call<LogPage>("logs", args);

// Storage settings

/** The form of every storage driver. */
export const storageSchema = () => call<DriverForm[]>("storageSchema");
/** The saved storage settings (without secret values). */
export const storageGet = () => call<StorageSettings>("storageGet");
/** Probes a backend without saving anything. */
export const storageTest = (form: StorageForm) => call<ProbeResult>("storageTest", form);
/** Probes, saves and restarts the registry; nothing is saved when the probe fails. */
export const storageSave = (form: StorageForm) => call<SaveResult>("storageSave", form);
/** The minimal IAM policy for an S3 bucket, as JSON text. */
export const iamPolicy = (bucket: string) => call<{ policy: string }>("iamPolicy", { bucket });

// YAML

/** The registry's config.yml, with or without secrets. */
export const configDownload = (includeSecrets: boolean) => call<ConfigFile>("configDownload", { includeSecrets });
/** Parses and checks a config.yml and compares it with the current one. */
export const configReview = (yaml: string) => call<Review>("configReview", { yaml });
/** Probes, saves and restarts the registry with a new config.yml. */
export const configSave = (yaml: string) => call<SaveResult>("configSave", { yaml });

// Credentials

/** Whether the OS keychain can be used, and how to get one when not. */
export const keychainStatus = () => call<KeychainStatus>("keychainStatus");
/** The stored secrets, by name (never their values). */
export const credentialsList = () => call<Credential[]>("credentialsList");
/** Stores or replaces a secret; returns the list. */
export const credentialsSet = (name: string, value: string) => call<Credential[]>("credentialsSet", { name, value });
/** Deletes a secret; returns the list. */
export const credentialsDelete = (name: string) => call<Credential[]>("credentialsDelete", { name });

// Trust

/** The CA, the served certificate, and each client's trust on this machine. */
export const trustStatus = () => call<TrustStatus>("trustStatus");
/** The dry run: the files and commands an action would touch, and which need administrator rights. */
export const trustPlan = (action: TrustAction, targets?: TrustTarget[]) =>
  call<TrustPlan>("trustPlan", targets ? { action, targets } : { action });
/** Applies the plan that was shown (`planId`); nothing happens when it would now differ. */
export const trustApply = (action: TrustAction, planId: string, targets?: TrustTarget[]) =>
  call<TrustApplied>("trustApply", targets ? { action, planId, targets } : { action, planId });
/** A TLS handshake with the registry per client, with only that client's CA files. */
export const trustVerify = () => call<VerifyResult>("trustVerify");
/** The one-line commands other machines run to trust the CA. */
export const trustOneLiners = () => call<OneLiners>("trustOneLiners");
/** Replaces the extra names of the registry's certificate (reissued, registry restarted). */
export const certificateNames = (names: string[]) => call<TrustStatus>("certificateNames", { names });
/** Serves the admin's own CA or certificate from now on (registry restarted). */
export const certificateImport = (args: CertificateImport) => call<TrustStatus>("certificateImport", args);

// Disk

/** The machine's volumes, the registry's marked, and the low-space warning. */
export const diskVolumes = () => call<VolumesView>("diskVolumes");
/** The registry's usage figures; `refresh` walks the store again. */
export const diskUsage = (refresh = false) => call<UsageStatus>("diskUsage", refresh ? { refresh } : {});
/** The usage samples kept across restarts. */
export const diskHistory = () => call<UsageHistory>("diskHistory");
/** Reads the Disk settings, or sets the low-space threshold. */
export const diskSettings = (thresholdPercent?: number) =>
  call<DiskSettings>("diskSettings", thresholdPercent === undefined ? {} : { thresholdPercent });
/** Garbage collection; a dry run only reports. */
export const gcRun = (dryRun: boolean, deleteUntagged: boolean) => call<GcReport>("gcRun", { dryRun, deleteUntagged });

// Repositories

/** Every repository with its tag count and bytes. */
export const repositories = () => call<RepositoriesView>("repositories");
/** A repository's tags. */
export const repositoryTags = (name: string) => call<TagList>("repositoryTags", { name });
/** One manifest, by tag or digest, in detail. */
export const manifestGet = (name: string, reference: string) => call<ManifestDetail>("manifestGet", { name, reference });
/** What deleting a tag or manifest would let Reclaim space free. */
export const deletePreview = (name: string, which: { tag: string } | { digest: string }) =>
  call<Reclaimable>("deletePreview", { name, ...which });
/** Deletes a tag (the manifest stays). */
export const tagDelete = (name: string, tag: string) => call<{ deleted: string }>("tagDelete", { name, tag });
/** Deletes a manifest and every tag pointing at it. */
export const manifestDelete = (name: string, digest: string) =>
  call<{ deleted: string }>("manifestDelete", { name, digest });

/** A user-facing text for any error: the message, then the hint. */
/** The webhook endpoints with their delivery state. */
export const webhooksList = () => call<WebhookList>("webhooksList");
/** Adds (`original` unset) or replaces an endpoint; saves and restarts the registry. */
export const webhookSave = (webhook: Webhook, original?: string) =>
  call<SaveResult>("webhookSave", original ? { webhook, original } : { webhook });
/** Removes an endpoint; saves and restarts the registry. */
export const webhookDelete = (name: string) => call<SaveResult>("webhookDelete", { name });
/** Sends a test event to the endpoint now. */
export const webhookTest = (name: string) => call<WebhookTestResult>("webhookTest", { name });
/** The endpoint's counters and recent delivery attempts. */
export const webhookDeliveries = (name: string) => call<WebhookRuntime>("webhookDeliveries", { name });

export function describeError(e: unknown): { message: string; hint: string | null } {
  if (e instanceof ApiError) return { message: e.message, hint: e.hint };
  if (e instanceof Error) return { message: e.message, hint: null };
  return { message: String(e), hint: null };
}

// ---- users and maintenance

/** The registry's htpasswd users. */
export const usersList = () => call<UsersView>("usersList");
/** Adds a user or changes a password (the first user turns login on). */
export const userSet = (name: string, password: string) => call<UsersView>("userSet", { name, password });
/** Removes a user (never the last one). */
export const userDelete = (name: string) => call<UsersView>("userDelete", { name });
/** Switches read-only mode in the running registry and keeps it in config.yml. */
export const readOnlySet = (enabled: boolean) => call<ReadOnlyState>("readOnlySet", { enabled });
/** The running registry's figures since it started. */
export const registryMetrics = () => call<RegistryMetrics>("registryMetrics");
