#!/usr/bin/env bash
# Installs what Berth's build and tests need on Debian/Ubuntu: as root with
# apt-get, otherwise it names the missing packages and the command to run.
set -euo pipefail

# Packages by purpose:
#   skopeo          the real client the end-to-end tests push and pull with
#   docker-registry CNCF Distribution 2.8, the reference registry (interchange tests, bench)
#   apache2-utils   htpasswd, to make bcrypt password files for auth tests
#   openssl         certificates for the TLS tests
#   curl, ca-certificates, pkg-config, build-essential: building and fetching
#   the desktop app (Tauri 2 on WebKitGTK) and its tests: libwebkit2gtk-4.1-dev
#     libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev, xvfb xauth
#     webkit2gtk-driver dbus-x11 imagemagick (the window under Xvfb, screenshots)
#   gnome-keyring keyutils: a real Secret Service for the keychain tests
#   chromium fonts-dejavu-core: the browser tests (Playwright drives Debian's Chromium)
#   nodejs npm: building the UI; python3-venv: the desktop test's Selenium
packages=(skopeo docker-registry apache2-utils openssl curl ca-certificates pkg-config build-essential
  libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev file
  xvfb xauth webkit2gtk-driver dbus-x11 imagemagick gnome-keyring keyutils
  chromium fonts-dejavu-core python3-venv)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust from https://rustup.rs (stable, 1.85 or newer)" >&2
  exit 1
fi

if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing packages: ${missing[*]}. This script knows Debian/Ubuntu (apt-get); install the equivalents with your package manager." >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "Installing: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
