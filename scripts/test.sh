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
# The keychain tests, in a private D-Bus session with gnome-keyring.
crates/berth-admin/run-keychain-tests.sh || status=1
# The browser end-to-end tests: Playwright + Debian's Chromium against
# `berthd console` (needs the debug berthd built above and ui/dist).
"$CARGO" build -p berthd -p berth-app || status=1
(cd ui && npm run e2e) || status=1
# The desktop app: the real window under Xvfb driven by tauri-driver +
# WebKitWebDriver, with its berthd sidecar (the berth and berthd built above,
# with ui/dist embedded). Under CI=true a missing tool fails the run; otherwise
# run.sh says what is missing and skips.
tests/desktop/run.sh || status=1
exit $status
