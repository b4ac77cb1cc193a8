#!/usr/bin/env bash
# The desktop end-to-end test: the real Berth window under Xvfb, driven through
# tauri-driver + WebKitWebDriver (Selenium), with a real berthd sidecar.
#
# Builds nothing: it needs `ui/dist` (npm run build in ui/) and the debug
# binaries `berth` and `berthd` in $CARGO_TARGET_DIR/debug (cargo build -p
# berthd -p berth-app), or the app named by BERTH_APP_BIN with berthd beside it
# (BERTH_APP_BIN=/usr/bin/berth tests the installed .deb). The window shows the
# UI embedded in the app at build time. It installs tauri-driver and the Selenium venv when
# missing (install-tools.sh). Under CI=true a missing prerequisite fails;
# otherwise the script says how to run it and exits 0.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
export BERTH_APP_BIN="${BERTH_APP_BIN:-$target/debug/berth}"
# The app runs the berthd beside its own executable.
export BERTH_BERTHD_BIN="$(dirname "$BERTH_APP_BIN")/berthd"
export BERTH_UI_DIST="$root/ui/dist"

missing=()
[ -x "$BERTH_APP_BIN" ] || missing+=("the app binary $BERTH_APP_BIN (cargo build -p berth-app)")
[ -x "$BERTH_BERTHD_BIN" ] || missing+=("the sidecar binary $BERTH_BERTHD_BIN (cargo build -p berthd)")
[ -f "$BERTH_UI_DIST/index.html" ] || missing+=("the built UI $BERTH_UI_DIST (cd ui && npm install && npm run build)")
for tool in xvfb-run xauth dbus-run-session gnome-keyring-daemon /usr/bin/WebKitWebDriver /usr/bin/import python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool (apt-get install -y xvfb xauth dbus-x11 gnome-keyring webkit2gtk-driver imagemagick python3-venv)")
done

if [ ${#missing[@]} -gt 0 ]; then
  {
    echo "desktop: cannot run the desktop end-to-end test; missing:"
    printf '  - %s\n' "${missing[@]}"
    echo "Run it with: cd ui && npm install && npm run build && cd .. && cargo build -p berthd -p berth-app && tests/desktop/run.sh"
  } >&2
  if [ "${CI:-}" = "true" ]; then
    echo "desktop: FAILED (CI=true and prerequisites are missing)" >&2
    exit 1
  fi
  echo "desktop: skipped"
  exit 0
fi

if ! "$root/tests/desktop/install-tools.sh"; then
  echo "desktop: cannot install tauri-driver or the Selenium venv (see above)" >&2
  if [ "${CI:-}" = "true" ]; then
    echo "desktop: FAILED (CI=true and the test's tools are missing)" >&2
    exit 1
  fi
  echo "desktop: skipped"
  exit 0
fi
export PATH="$HOME/.cargo/bin:$PATH"
export BERTH_DESKTOP_ARTIFACTS="$root/tests/desktop/artifacts"
export BERTH_DOCS_SCREENSHOTS="$root/docs/screenshots"
mkdir -p "$BERTH_DESKTOP_ARTIFACTS"

# Keep the keyring, WebKit caches and settings of this run out of the user's home.
scratch="$(mktemp -d -t berth-desktop-xdg.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
export XDG_DATA_HOME="$scratch/data" XDG_CACHE_HOME="$scratch/cache" XDG_CONFIG_HOME="$scratch/config"
mkdir -p "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME"

# dbus-run-session ends the session bus (and the keyring daemon with it) when the
# test ends, so no daemon outlives the run.
xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
  dbus-run-session -- bash -c '
    echo -n berth-desktop-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    exec "$0" "$1"
  ' "$root/.cache/desktop-venv/bin/python" "$root/tests/desktop/test_desktop.py"
