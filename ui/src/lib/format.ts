// How the pages write times, byte counts, digests and media types.

/**
 * "3d 4h", "2h 05m", "4m", "under a minute": minutes at the finest, so that
 * the Status page changes (and the window repaints) at most once a minute.
 */
export function formatUptime(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m`;
  return "under a minute";
}

/** The time of day of an RFC 3339 timestamp, HH:MM:SS in local time. */
export function formatClock(rfc3339: string): string {
  const date = new Date(rfc3339);
  if (Number.isNaN(date.getTime())) return rfc3339;
  return date.toLocaleTimeString(undefined, { hour12: false });
}

/** "12 ms", "1.4 s". */
export function formatMillis(ms: number): string {
  if (!Number.isFinite(ms)) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Sleeps, for minimum spinner times and polling. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** "0 B", "512 B", "1.5 KiB", "23.4 GiB": binary units, as `df -h` counts. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "—";
  const sign = bytes < 0 ? "-" : "";
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${sign}${value} B`;
  return `${sign}${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${UNITS[unit]}`;
}

/** "sha256:0123456789ab", the first 12 hex digits of a digest. */
export function shortDigest(digest: string): string {
  const [algorithm, hex] = digest.split(":");
  return hex ? `${algorithm}:${hex.slice(0, 12)}` : digest;
}

/** "12 Mar 2026, 14:03" in local time, or the text as given when it does not parse. */
export function formatDate(rfc3339: string | null | undefined): string {
  if (!rfc3339) return "—";
  const date = new Date(rfc3339);
  if (Number.isNaN(date.getTime())) return rfc3339;
  return date.toLocaleString(undefined, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
}

/** "3 minutes ago", "yesterday": how long ago an RFC 3339 time was. */
export function formatAgo(rfc3339: string | null | undefined, now = Date.now()): string {
  if (!rfc3339) return "—";
  const then = new Date(rfc3339).getTime();
  if (Number.isNaN(then)) return rfc3339;
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 60) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? "" : "s"} ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} hour${h === 1 ? "" : "s"} ago`;
  const d = Math.round(h / 24);
  return d === 1 ? "yesterday" : `${d} days ago`;
}

/** A friendly name for a media type or artifact type. */
export function describeType(mediaType: string | null | undefined): string {
  if (!mediaType) return "—";
  const known: Record<string, string> = {
    "application/vnd.oci.image.manifest.v1+json": "OCI image",
    "application/vnd.oci.image.index.v1+json": "OCI index",
    "application/vnd.docker.distribution.manifest.v2+json": "Docker image",
    "application/vnd.docker.distribution.manifest.list.v2+json": "Docker manifest list",
    "application/vnd.oci.artifact.manifest.v1+json": "OCI artifact",
    "application/vnd.dev.cosign.artifact.sig.v1+json": "Signature (cosign)",
    "application/vnd.dev.cosign.simplesigning.v1+json": "Signature payload (cosign)",
    "application/vnd.cncf.notary.signature": "Signature (Notation)",
    "application/spdx+json": "SBOM (SPDX)",
    "application/vnd.cyclonedx+json": "SBOM (CycloneDX)",
    "application/vnd.in-toto+json": "Attestation (in-toto)",
    "application/vnd.oci.image.config.v1+json": "OCI image config",
    "application/vnd.docker.container.image.v1+json": "Docker image config",
    "application/vnd.oci.image.layer.v1.tar+gzip": "layer (tar+gzip)",
    "application/vnd.oci.image.layer.v1.tar+zstd": "layer (tar+zstd)",
    "application/vnd.oci.image.layer.v1.tar": "layer (tar)",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "layer (tar+gzip)",
    "application/vnd.oci.empty.v1+json": "empty",
  };
  if (known[mediaType]) return known[mediaType];
  if (/sbom|spdx|cyclonedx/i.test(mediaType)) return `SBOM (${mediaType})`;
  if (/sig/i.test(mediaType)) return `Signature (${mediaType})`;
  return mediaType;
}

/** True for an index or manifest list. */
export function isIndex(mediaType: string): boolean {
  return mediaType.includes("index") || mediaType.includes("manifest.list");
}
