#!/usr/bin/env bash
# Renders icons/berth.svg into the PNGs Tauri embeds (src-tauri/icons/), all RGBA.
# Needs rsvg-convert (Debian: librsvg2-bin) and ImageMagick's /usr/bin/convert.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src-tauri/icons
mkdir -p "$out"
render() { # size file
  rsvg-convert -w "$1" -h "$1" icons/berth.svg -o "$out/$2.tmp.png"
  /usr/bin/convert "$out/$2.tmp.png" -define png:color-type=6 "PNG32:$out/$2"
  rm -f "$out/$2.tmp.png"
}
render 32 32x32.png
render 128 128x128.png
render 256 128x128@2x.png
render 512 icon.png
for f in "$out"/*.png; do /usr/bin/identify -format '%f %wx%h %[channels]\n' "$f"; done
