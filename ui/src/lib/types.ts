// The admin API's shapes, as docs/admin-api.md defines them (camelCase).

/** The sidecar registry's lifecycle state. */
export type RegistryState = "running" | "starting" | "stopped" | "crashed";

/** What `status`, `start`, `stop` and `restart` return. */
export interface Status {
  state: RegistryState;
  address: string;
  url: string;
  driver: string;
  backend: string;
  uptimeSeconds: number | null;
  version: string;
  pid: number | null;
  restarts: number;
  lastError: string | null;
  configPath: string;
  /** The certificate the registry serves, or null for plain HTTP. */
  certificate: CertificateView | null;
  /** Pushes and deletes refused (storage.maintenance.readonly.enabled). */
  readOnly: boolean;
}

/** A certificate as the Trust and Status pages show it. */
export interface CertificateView {
  subject: string;
  issuer: string;
  names: string[];
  sha256Fingerprint: string;
  /** End of validity, RFC 3339. */
  notAfter: string;
  daysLeft: number;
  isCa: boolean;
}

/** A client whose trust Berth manages. */
export type TrustTarget = "system" | "docker" | "containerd" | "containers" | "nss";

/** One client's state: trust in the CA, or whether it skips verification. */
export interface TargetStatus<S extends string> {
  target: TrustTarget;
  label: string;
  state: S;
  detail: string;
}

/** How administrator rights are asked for. */
export type Elevation = "pkexec" | "sudo" | "mac-os-prompt" | "windows-uac";

/** What `trustStatus` returns. */
export interface TrustStatus {
  registry: string;
  tls: boolean;
  berthCertificate: boolean;
  caDir: string;
  origin: "berth-ca" | "own-ca" | "own-certificate" | null;
  ca: CertificateView | null;
  server: CertificateView | null;
  /** Names the admin added to Berth's certificate. */
  extraNames: string[];
  /** Every name Berth's certificate is issued for. */
  certificateNames: string[];
  machine: { platform: string | null; root: string; live: boolean; error: string | null };
  elevation: Elevation | null;
  clients: TargetStatus<"trusted" | "not-trusted" | "not-present">[];
  insecure: TargetStatus<"insecure" | "verified" | "not-present">[];
}

/** The admin's own CA, or their own server certificate, for `certificateImport`. */
export interface CertificateImport {
  kind: "own-ca" | "own-certificate";
  certificatePem: string;
  keyPem: string;
  caBundlePem?: string;
}

/** What a trust plan does. */
export type TrustAction = "trust" | "untrust" | "insecure" | "secure";

/** One file or command of a dry run. */
export interface DryRunLine {
  target: TrustTarget;
  description: string;
  path: string | null;
  elevated: boolean;
  contents: string | null;
}

/** What `trustPlan` returns: exactly what applying would touch. */
export interface TrustPlan {
  action: TrustAction;
  registry: string;
  planId: string;
  needsElevation: boolean;
  lines: DryRunLine[];
  elevation: Elevation | null;
  notes: string[];
}

/** One step's outcome after `trustApply`. */
export interface TrustOutcome {
  target: TrustTarget;
  description: string;
  status: "done" | "unchanged" | "skipped" | "failed" | "failed-ignored" | "not-run";
  detail: string;
}

/** What `trustApply` returns. */
export interface TrustApplied {
  action: TrustAction;
  succeeded: boolean;
  elevatedWith: string | null;
  outcomes: TrustOutcome[];
  notes: string[];
  status: TrustStatus;
}

/** One client's handshake with the registry. */
export interface Verdict {
  target: TrustTarget;
  label: string;
  state: "trusted" | "not-trusted" | "not-present" | "unreachable" | "not-checked";
  detail: string;
  sources: string[];
}

/** What `trustVerify` returns. */
export interface VerifyResult {
  registry: string;
  allTrusted: boolean;
  verdicts: Verdict[];
}

/** What `trustOneLiners` returns: the commands for other machines. */
export interface OneLiners {
  registry: string;
  baseUrl: string;
  linux: string;
  macos: string;
  windows: string;
  shSha256: string;
  ps1Sha256: string;
  caFingerprint: string;
  note: string | null;
}

/** A log level, as read from the sidecar's log lines. */
export type LogLevel = "error" | "warn" | "info" | "debug";

/** One line of the sidecar's stdout/stderr. */
export interface LogLine {
  seq: number;
  time: string;
  level: LogLevel;
  text: string;
}

/** What `logs` returns: the lines after `after`, and the cursor for the next call. */
export interface LogPage {
  lines: LogLine[];
  next: number;
}

/** The kinds of input a storage setting takes. */
export type FieldKind = "text" | "secret" | "bool" | "number" | "select" | "textarea" | "file";

/** A value of a storage setting. */
export type FieldValue = string | number | boolean;

/** One choice of a `select` field. */
export interface FieldOption {
  value: string;
  label: string;
}

/** One storage setting of a driver's form. */
export interface Field {
  key: string;
  label: string;
  help: string;
  kind: FieldKind;
  required: boolean;
  advanced: boolean;
  default: FieldValue | null;
  options: FieldOption[] | null;
  placeholder: string | null;
}

/** The form of one storage driver, as `storageSchema` describes it. */
export interface DriverForm {
  driver: string;
  label: string;
  available: boolean;
  unavailableReason: string | null;
  fields: Field[];
}

/** The saved storage settings (secrets are never returned, only whether they are set). */
export interface StorageSettings {
  driver: string;
  values: Record<string, FieldValue>;
  secretsSet: string[];
}

/** What `storageTest` and `storageSave` take. A secret left empty keeps the stored one. */
export interface StorageForm {
  driver: string;
  values: Record<string, FieldValue>;
}

/** The backend probe's steps. */
export type ProbeStepName = "list" | "write" | "read" | "check" | "delete";

/** The outcome of one probe step. */
export type ProbeStepStatus = "passed" | "failed" | "skipped";

/** One step of the backend probe. */
export interface ProbeStep {
  step: ProbeStepName;
  description: string;
  status: ProbeStepStatus;
  detail: string | null;
  millis: number;
}

/** The backend probe's report (berth_storage::probe::ProbeReport). */
export interface ProbeReport {
  driver: string;
  object: string;
  steps: ProbeStep[];
}

/** What `storageTest` returns. */
export interface ProbeResult {
  passed: boolean;
  openError: string | null;
  report: ProbeReport | null;
}

/** What `storageSave` and `configSave` return. */
export interface SaveResult {
  saved: boolean;
  probe: ProbeResult;
  status: Status;
}

/** What `configDownload` returns. */
export interface ConfigFile {
  yaml: string;
  filename: string;
}

/** A problem found in a config.yml, with its position when known (1-based). */
export interface ConfigProblem {
  line: number | null;
  column: number | null;
  message: string;
}

/** One changed setting between the current and the proposed config. */
export interface ConfigChange {
  path: string;
  kind: "added" | "removed" | "changed";
  before: string | null;
  after: string | null;
}

/** What `configReview` returns. */
export interface Review {
  ok: boolean;
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
  current: string;
  proposed: string;
  changes: ConfigChange[];
}

/** What `keychainStatus` returns. */
export interface KeychainStatus {
  available: boolean;
  backend: string;
  message: string;
  hint: string | null;
}

/** One stored secret (never its value). */
export interface Credential {
  name: string;
  label: string;
  usedBy: string;
  active: boolean;
}

// Disk page (diskVolumes, diskUsage, diskHistory, diskSettings, gcRun)

/** One mounted volume and its space, as `df` counts it. */
export interface Volume {
  mountPoint: string;
  device: string;
  fsType: string;
  total: number;
  used: number;
  free: number;
  usedPercent: number;
  holdsRegistry: boolean;
  readOnly: boolean;
}

/** What `diskVolumes` returns. */
export interface VolumesView {
  volumes: Volume[];
  registryPath: string | null;
  driver: string;
  thresholdPercent: number;
  warning: { mountPoint: string; freePercent: number; freeBytes: number; message: string } | null;
}

/** One tag's image size. */
export interface TagUsage {
  tag: string;
  digest: string;
  bytes: number;
}

/** One repository's share of the store. */
export interface RepositoryUsage {
  name: string;
  uniqueBytes: number;
  sharedBytes: number;
  totalBytes: number;
  manifests: number;
  tags: TagUsage[];
}

/** The store's usage figures. */
export interface Usage {
  driver: string;
  totalBytes: number;
  objects: number;
  blobs: number;
  blobBytes: number;
  reclaimableBytes: number;
  reclaimableBlobs: number;
  uploadBytes: number;
  repositories: RepositoryUsage[];
  scannedAt: string;
  scanMillis: number;
  updatedAt: string;
}

/** What `diskUsage` returns. */
export interface UsageStatus {
  state: "ready" | "scanning" | "empty";
  scanned: number;
  usage: Usage | null;
  error: string | null;
}

/** One sample of the usage history. */
export interface UsageSample {
  time: string;
  totalBytes: number;
  blobBytes: number;
  blobs: number;
  reclaimableBytes: number;
  repositories: number;
  volumeFree?: number;
}

/** What `diskHistory` returns. */
export interface UsageHistory {
  samples: UsageSample[];
  days: { date: string; totalBytes: number; growthBytes: number }[];
  growthPerDay: number | null;
}

/** What `diskSettings` returns. */
export interface DiskSettings {
  thresholdPercent: number;
}

/** What `gcRun` returns: what a collection did, or would do. */
export interface GcReport {
  dryRun: boolean;
  deleteUntagged: boolean;
  gracePeriodSeconds: number;
  repositories: number;
  manifests: number;
  blobs: number;
  blobsMarked: number;
  bytesMarked: number;
  blobsSwept: number;
  bytesSwept: number;
  blobsKeptYoung: number;
  blobsKeptInUse: number;
  manifestsDeleted: { repository: string; digest: string }[];
  uploadsPurged: string[];
  startedAt: string;
  millis: number;
}

// Repositories page (repositories, repositoryTags, manifestGet, deletePreview, tagDelete, manifestDelete)

/** One repository in the list. */
export interface RepositoryView {
  name: string;
  tags: number;
  uniqueBytes: number | null;
  sharedBytes: number | null;
  totalBytes: number | null;
}

/** What `repositories` returns. */
export interface RepositoriesView {
  repositories: RepositoryView[];
  deleteEnabled: boolean;
  readOnly: boolean;
  address: string;
}

/** One tag and its manifest. */
export interface TagSummary {
  tag: string;
  digest: string;
  mediaType: string;
  platforms: string[];
  bytes: number;
  created: string | null;
}

/** What `repositoryTags` returns. */
export interface TagList {
  name: string;
  tags: TagSummary[];
  deleteEnabled: boolean;
}

/** What `manifestGet` returns. */
export interface ManifestDetail {
  name: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  size: number;
  totalBytes: number;
  tags: string[];
  subject: string | null;
  annotations: Record<string, string> | null;
  platforms: { platform: string; digest: string; mediaType: string; bytes: number }[];
  config: { digest: string; mediaType: string; size: number; created: string | null; platform: string | null } | null;
  layers: { digest: string; mediaType: string; size: number; foreign: boolean }[];
  referrers: {
    digest: string;
    mediaType: string;
    artifactType: string | null;
    size: number;
    annotations: Record<string, string> | null;
  }[];
  raw: unknown;
}

/** What `deletePreview` returns. */
export interface Reclaimable {
  digest: string;
  bytes: number;
  blobs: number;
  stillTagged: boolean;
  needsUntaggedCollection: boolean;
}

/** One header row of a webhook endpoint (`webhooksList`, `webhookSave`). */
export interface WebhookHeader {
  name: string;
  /** Empty for a secret header when listed; saving it empty keeps the stored value. */
  value: string;
  /** Kept in the keychain (Authorization and the like). */
  secret: boolean;
}

/** A webhook endpoint as the Webhooks page edits it (`notifications.endpoints[]`). */
export interface Webhook {
  name: string;
  url: string;
  disabled: boolean;
  headers: WebhookHeader[];
  /** Go duration, empty for the default (1s). */
  timeout: string;
  /** 0 for the default (10). */
  threshold: number;
  /** Go duration, empty for the default (1s). */
  backoff: string;
  ignoredMediaTypes: string[];
  ignoreActions: string[];
}

/** One delivery attempt in an endpoint's log. */
export interface WebhookAttempt {
  time: string;
  eventId: string;
  action: string;
  repository: string;
  status: number | null;
  error: string | null;
  attempt: number;
  outcome: "delivered" | "retrying" | "backingOff" | "test";
  durationMs: number;
}

/** The running registry's state of one endpoint (`webhookDeliveries`). */
export interface WebhookRuntime {
  name: string;
  url: string;
  disabled: boolean;
  pending: number;
  delivered: number;
  failed: number;
  dropped: number;
  lastError: string | null;
  lastStatus: number | null;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  deliveries: WebhookAttempt[];
}

/** What `webhooksList` returns. */
export interface WebhookList {
  endpoints: (Webhook & { runtime: WebhookRuntime | null })[];
  runtimeError: string | null;
}

/** What `webhookTest` returns: the endpoint's answer to a test event. */
export interface WebhookTestResult {
  endpoint: string;
  url: string;
  eventId: string;
  ok: boolean;
  status: number | null;
  body: string;
  error: string | null;
  durationMs: number;
}

/** The registry's htpasswd users, as the Users page shows them. */
export interface UsersView {
  /** True when the registry requires a login (auth.htpasswd). */
  enabled: boolean;
  /** The htpasswd file. */
  path: string | null;
  users: string[];
  /** Another kind of authentication (e.g. "token") manages users elsewhere. */
  otherAuth: string | null;
  /** True when this change restarted the registry (login turned on). */
  restarted: boolean;
}

/** The answer of readOnlySet. */
export interface ReadOnlyState {
  enabled: boolean;
  /** False when the registry was stopped: it starts in this mode. */
  live: boolean;
}

/** The running registry's figures since it started (registryMetrics). */
export interface RegistryMetrics {
  requests: number;
  clientErrors: number;
  serverErrors: number;
  bytesPushed: number;
  bytesPulled: number;
  uploadsInFlight: number;
  storageErrors: number;
  notificationsPending: number | null;
}
