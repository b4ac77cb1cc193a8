#!/usr/bin/env bash
# `make run`: the Berth desktop app when there is a display, else
# `berthd console` for a browser (it prints its URL). Builds the UI first.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
target=${CARGO_TARGET_DIR:-target}
(cd ui && npm install --no-audit --no-fund >/dev/null && npm run build >/dev/null)
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  "$CARGO" build --release -p berthd -p berth-app
  echo "starting the Berth desktop app ($target/release/berth)"
  exec "$target/release/berth"
fi
echo "no display (DISPLAY/WAYLAND_DISPLAY unset): starting berthd console for a browser"
"$CARGO" build --release -p berthd
exec "$target/release/berthd" console --ui-dir ui/dist
