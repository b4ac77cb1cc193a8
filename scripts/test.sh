#!/usr/bin/env bash
# `make test`'s test run: starts the storage servers the cloud-driver tests
# talk to (Ceph RGW, Azurite, Swift, the GCS emulator), runs every Rust test,
# then stops the servers by PID, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}

# shellcheck source=storage-servers.sh
source scripts/storage-servers.sh ceph azurite swift gcs
trap storage_servers_stop EXIT

status=0
if "$CARGO" nextest --version >/dev/null 2>&1; then
  "$CARGO" nextest run --workspace --no-fail-fast || status=1
  "$CARGO" test --workspace --doc || status=1
else
  "$CARGO" test --workspace --no-fail-fast || status=1
fi
exit $status
