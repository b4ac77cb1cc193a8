// Byte counts, digests and dates for the Disk and Repositories pages.

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
