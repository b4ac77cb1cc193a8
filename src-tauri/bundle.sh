#!/usr/bin/env bash
# Builds the release .deb of the app with berthd beside it (/usr/bin/berth and
# /usr/bin/berthd). Needs the built UI (ui/dist) and the Tauri CLI, which it
# installs when missing (cargo install tauri-cli, a few minutes).
# `externalBin` lives only in tauri.bundle.conf.json: in tauri.conf.json it would
# make a plain `cargo build -p berth-app` fail on a clean checkout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

if [ ! -f ui/dist/index.html ]; then
  echo "bundle: build the UI first (cd ui && npm install && npm run build)" >&2
  exit 1
fi
if ! cargo tauri --version >/dev/null 2>&1; then
  echo "bundle: installing the Tauri CLI (cargo install tauri-cli --locked --version '^2')"
  cargo install tauri-cli --locked --version '^2'
fi

# Release builds keep line tables for backtraces (the workspace profile): four
# fifths of each binary. The package ships them without (--strip-debug keeps
# the symbol table, so backtraces still name functions).
triple="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release -p berthd
mkdir -p src-tauri/binaries
cp "$target/release/berthd" "src-tauri/binaries/berthd-$triple"
strip --strip-debug "src-tauri/binaries/berthd-$triple"
cargo tauri build --no-bundle --config src-tauri/tauri.bundle.conf.json
strip --strip-debug "$target/release/berth"
cargo tauri bundle --bundles deb --config src-tauri/tauri.bundle.conf.json
deb="$(ls -t "$target"/release/bundle/deb/*.deb | head -n 1)"
ls -l "$deb"
# What a user gets: the app and its sidecar side by side in /usr/bin.
contents="$(dpkg-deb -c "$deb")"
for bin in usr/bin/berth usr/bin/berthd; do
  if ! grep -q " \./$bin\$\| $bin\$" <<<"$contents"; then
    echo "bundle: $deb lacks /$bin" >&2
    exit 1
  fi
done
echo "bundle: $deb holds /usr/bin/berth and /usr/bin/berthd"
