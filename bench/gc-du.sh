#!/usr/bin/env bash
# `berthd du` vs `du -s`, and `berthd gc --dry-run` vs Distribution's
# `registry garbage-collect --dry-run`, on one generated store of 100,000
# blobs in Distribution's layout (bench/gen-store.py), release builds.
#
#   bench/gc-du.sh [--blobs N] [--rounds R] [--keep DIR]
#
# Each command runs R times (default 3) after one warm-up run, page cache
# warm for all of them; the median wall time is reported, with peak RSS.
# Prints a Markdown table to paste into bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
blobs=100000 rounds=3 keep=
while [ $# -gt 0 ]; do
  case "$1" in
    --blobs) blobs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "unknown option $1 (use --blobs N, --rounds R, --keep DIR)" >&2; exit 2 ;;
  esac
done
command -v docker-registry >/dev/null || { echo "install docker-registry (apt-get install docker-registry)" >&2; exit 1; }
"${CARGO:-cargo}" build --release -p berthd
berthd="${CARGO_TARGET_DIR:-target}/release/berthd"

work=${keep:-$(mktemp -d /tmp/berth-gc-du.XXXXXX)}
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
if [ ! -d "$work/store/docker" ]; then
  echo "generating a store of $blobs blobs in $work/store ..." >&2
  python3 bench/gen-store.py "$work/store" --blobs "$blobs" > "$work/counts.json"
fi
counts=$(cat "$work/counts.json" 2>/dev/null || echo "(reused $work/store)")
cat > "$work/config.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/store
  delete:
    enabled: true
http:
  addr: 127.0.0.1:0
YAML

# Runs "$@" once to warm up, then $rounds times; prints "median_seconds max_rss_kib".
measure() {
  "$@" >/dev/null 2>&1
  local times=() rss=0
  for _ in $(seq "$rounds"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" \
      || { cat "$work/stderr" >&2; exit 1; }
    read -r t m < "$work/time"
    times+=("$t"); [ "$m" -gt "$rss" ] && rss=$m
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v r="$rss" '{a[NR]=$1} END {print a[int((NR+1)/2)], r}'
}

read -r du_t du_m < <(measure du -s "$work/store")
read -r bdu_t bdu_m < <(measure "$berthd" du --json --config "$work/config.yml")
read -r dgc_t dgc_m < <(measure docker-registry garbage-collect --dry-run "$work/config.yml")
read -r bgc_t bgc_m < <(measure "$berthd" gc --dry-run --grace-period 0s --config "$work/config.yml")
read -r bgcu_t bgcu_m < <(measure "$berthd" gc --dry-run --delete-untagged --grace-period 0s --config "$work/config.yml")
read -r dgcu_t dgcu_m < <(measure docker-registry garbage-collect --dry-run --delete-untagged "$work/config.yml")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f×", b / a; else print "n/a" }'; }
"$berthd" gc --dry-run --grace-period 0s --json --config "$work/config.yml" > "$work/gc.json"
swept=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["blobsMarked"], r["blobsSwept"])' "$work/gc.json")

echo
echo "### du and gc on $blobs blobs, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- **Machine**: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "- **Store**: $counts; berthd marks/sweeps: $swept; loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- **Method**: median of $rounds runs after a warm-up (page cache warm), peak RSS of any run"
echo
echo "| command | peer | peer s | berthd s | speed-up (peer/berthd) | peer MiB | berthd MiB |"
echo "| --- | --- | --: | --: | --: | --: | --: |"
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k/1024 }'; }
echo "| \`berthd du --json\` | \`du -s\` | $du_t | $bdu_t | $(ratio "$bdu_t" "$du_t") | $(mib "$du_m") | $(mib "$bdu_m") |"
echo "| \`berthd gc --dry-run\` | \`registry garbage-collect --dry-run\` | $dgc_t | $bgc_t | $(ratio "$bgc_t" "$dgc_t") | $(mib "$dgc_m") | $(mib "$bgc_m") |"
echo "| \`berthd gc --dry-run --delete-untagged\` | \`… --dry-run --delete-untagged\` | $dgcu_t | $bgcu_t | $(ratio "$bgcu_t" "$dgcu_t") | $(mib "$dgcu_m") | $(mib "$bgcu_m") |"
