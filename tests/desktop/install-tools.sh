#!/usr/bin/env bash
# Installs what the desktop end-to-end test drives the window with, when missing:
# tauri-driver (cargo, into ~/.cargo/bin) and a Python venv with Selenium
# (.cache/desktop-venv). System packages (xvfb, webkit2gtk-driver, …) come from
# scripts/install-deps.sh or the apt-get line run.sh prints.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.cache/desktop-venv"

if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "desktop: installing tauri-driver (cargo install tauri-driver --locked --version '^2', ~2 min)"
  cargo install tauri-driver --locked --version '^2'
fi

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import selenium' 2>/dev/null; then
  echo "desktop: creating $venv with Selenium"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/desktop/requirements.txt"
fi
