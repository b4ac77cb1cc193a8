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
  machine: { platform: string | null; root: string; live: boolean; error: string | null };
  elevation: Elevation | null;
  clients: TargetStatus<"trusted" | "not-trusted" | "not-present">[];
  insecure: TargetStatus<"insecure" | "verified" | "not-present">[];
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
