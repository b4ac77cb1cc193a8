#!/usr/bin/env bash
# Real object-store servers for Berth's storage-driver tests, on free
# 127.0.0.1 ports, in a temporary directory.
#
#   source scripts/storage-servers.sh [ceph] [azurite] [swift] [gcs] [redis]
#   ... run the tests ...
#   storage_servers_stop
#
# With no names it starts all five. Run directly instead of sourcing
# (scripts/storage-servers.sh ceph ...) it starts them, prints the exports and
# keeps them up until Ctrl-C.
#
# Servers:
#   ceph     Ceph radosgw (mon + memstore OSD + rgw): S3 with SigV4 checked
#   azurite  Azurite blob service (npm), shared key and SAS checked
#   swift    OpenStack Swift proxy/account/container/object + memcached,
#            one replica, tempauth user test:tester / testing (the account's
#            owner) and test:reader / reading (no rights of its own)
#   gcs      gcp-storage-emulator (pip), in memory, checks no auth
#   redis    redis-server, no persistence
#
# Exports (only for the servers started):
#   BERTH_TEST_S3_ENDPOINT BERTH_TEST_S3_REGION BERTH_TEST_S3_ACCESS_KEY
#   BERTH_TEST_S3_SECRET_KEY BERTH_TEST_S3_BUCKET (created)
#   BERTH_TEST_AZURE_ENDPOINT (http://127.0.0.1:P/devstoreaccount1)
#   BERTH_TEST_AZURE_ACCOUNT BERTH_TEST_AZURE_KEY BERTH_TEST_AZURE_CONNECTION_STRING
#   BERTH_TEST_SWIFT_AUTHURL (v1.0 tempauth) BERTH_TEST_SWIFT_USER BERTH_TEST_SWIFT_KEY
#   BERTH_TEST_SWIFT_READER_USER BERTH_TEST_SWIFT_READER_KEY (not an admin)
#   BERTH_TEST_GCS_ENDPOINT STORAGE_EMULATOR_HOST BERTH_TEST_GCS_BUCKET (created)
#   BERTH_TEST_REDIS_ADDR (host:port)
#   BERTH_STORAGE_SERVERS_DIR (the temporary directory, logs in it)
#
# Installing (skipped when already there; BERTH_STORAGE_SKIP_INSTALL=1 skips it):
#   apt-get (as root): ceph radosgw | swift swift-proxy swift-account
#     swift-container swift-object memcached | redis-server | curl python3-venv
#   npm: azurite into .cache/storage-servers/node_modules
#   pip: gcp-storage-emulator into the venv .cache/storage-servers/venv
# Not root and a package missing: it says what to install and fails.
#
# Knobs: BERTH_STORAGE_CACHE (default <repo>/.cache/storage-servers),
# BERTH_STORAGE_KEEP_DIR=1 (keep the temporary directory and its logs on stop),
# BERTH_CEPH_MEMSTORE_BYTES (Ceph's in-memory OSD size, default 1 GiB; the
# 1 GiB benchmark wants 4 GiB or more).

_ss_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${BERTH_STORAGE_CACHE:=$_ss_root/.cache/storage-servers}"
_SS_AZURITE_VERSION=3.35.0
_SS_GCS_EMULATOR_VERSION=2026.7.19
_SS_AZURE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
_SS_PIDS=()
_SS_NAMES=()

_ss_log() { echo "storage-servers: $*" >&2; }
_ss_now() { date +%s.%N; }
_ss_since() { awk -v a="$1" -v b="$(_ss_now)" 'BEGIN{printf "%.1f", b-a}'; }

_ss_free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# _ss_bg NAME CMD...: start CMD in the background, log to $DIR/NAME.log, remember the PID.
_ss_bg() {
  local name=$1; shift
  "$@" >"$BERTH_STORAGE_SERVERS_DIR/$name.log" 2>&1 &
  _SS_PIDS+=($!); _SS_NAMES+=("$name")
  echo $! >"$BERTH_STORAGE_SERVERS_DIR/$name.pid"
}

# _ss_wait_http URL SECONDS: succeed on any HTTP answer.
_ss_wait_http() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1")" != 000 ] && return 0
    sleep 0.1
  done
  _ss_log "timed out waiting for $1"; return 1
}

_ss_fail() {  # NAME LOGFILE...: report a start failure with the logs' tails
  local name=$1; shift
  _ss_log "$name failed to start; logs in $BERTH_STORAGE_SERVERS_DIR"
  local f; for f in "$@"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
  return 1
}

_ss_install() {
  local want=" $* " pkgs=() missing=() p
  [[ $want == *" ceph "* ]] && pkgs+=(ceph radosgw)
  [[ $want == *" swift "* ]] && pkgs+=(swift swift-proxy swift-account swift-container swift-object memcached)
  [[ $want == *" redis "* ]] && pkgs+=(redis-server)
  command -v curl >/dev/null || pkgs+=(curl)
  [[ $want == *" gcs "* ]] && ! python3 -c 'import venv, ensurepip' 2>/dev/null && pkgs+=(python3-venv)
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
      _ss_log "missing packages: ${missing[*]}"
      _ss_log "install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}"
      return 1
    fi
    _ss_log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
      >"$BERTH_STORAGE_CACHE/apt.log" 2>&1 ||
      { _ss_log "apt-get failed, see $BERTH_STORAGE_CACHE/apt.log"; return 1; }
  fi
  if [[ $want == *" azurite "* ]] && [ ! -x "$BERTH_STORAGE_CACHE/node_modules/.bin/azurite-blob" ]; then
    command -v npm >/dev/null || { _ss_log "azurite needs node and npm"; return 1; }
    _ss_log "npm install azurite@$_SS_AZURITE_VERSION"
    npm install --prefix "$BERTH_STORAGE_CACHE" --no-audit --no-fund --silent \
      "azurite@$_SS_AZURITE_VERSION" >"$BERTH_STORAGE_CACHE/npm.log" 2>&1 ||
      { _ss_log "npm install failed, see $BERTH_STORAGE_CACHE/npm.log"; return 1; }
  fi
  if [[ $want == *" gcs "* ]] && [ ! -x "$BERTH_STORAGE_CACHE/venv/bin/gcp-storage-emulator" ]; then
    _ss_log "pip install gcp-storage-emulator==$_SS_GCS_EMULATOR_VERSION"
    { [ -x "$BERTH_STORAGE_CACHE/venv/bin/pip" ] || python3 -m venv "$BERTH_STORAGE_CACHE/venv"; } &&
      "$BERTH_STORAGE_CACHE/venv/bin/pip" install -q "gcp-storage-emulator==$_SS_GCS_EMULATOR_VERSION" \
        >"$BERTH_STORAGE_CACHE/pip.log" 2>&1 ||
      { _ss_log "pip install failed, see $BERTH_STORAGE_CACHE/pip.log"; return 1; }
  fi
  return 0
}

_ss_start_redis() {
  local d=$BERTH_STORAGE_SERVERS_DIR p i
  p=$(_ss_free_port); mkdir -p "$d/redis"
  _ss_bg redis redis-server --bind 127.0.0.1 --port "$p" --save '' --appendonly no --dir "$d/redis"
  for ((i = 0; i < 100; i++)); do
    redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null | grep -q PONG &&
      { export BERTH_TEST_REDIS_ADDR=127.0.0.1:$p; return 0; }
    sleep 0.1
  done
  _ss_fail redis "$d/redis.log"
}

_ss_start_azurite() {
  local d=$BERTH_STORAGE_SERVERS_DIR p
  p=$(_ss_free_port); mkdir -p "$d/azurite"
  _ss_bg azurite "$BERTH_STORAGE_CACHE/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$p" \
    --location "$d/azurite" --debug "$d/azurite-debug.log" --disableTelemetry --loose --skipApiVersionCheck
  _ss_wait_http "http://127.0.0.1:$p/" 60 || { _ss_fail azurite "$d/azurite.log"; return 1; }
  export BERTH_TEST_AZURE_ACCOUNT=devstoreaccount1
  export BERTH_TEST_AZURE_KEY=$_SS_AZURE_KEY
  export BERTH_TEST_AZURE_ENDPOINT=http://127.0.0.1:$p/devstoreaccount1
  export BERTH_TEST_AZURE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$_SS_AZURE_KEY;BlobEndpoint=$BERTH_TEST_AZURE_ENDPOINT;"
}

_ss_start_gcs() {
  local d=$BERTH_STORAGE_SERVERS_DIR p
  p=$(_ss_free_port); mkdir -p "$d/gcs"
  # It writes next to its working directory even in memory mode: run it in $d/gcs.
  (cd "$d/gcs" && exec "$BERTH_STORAGE_CACHE/venv/bin/gcp-storage-emulator" start \
    --host 127.0.0.1 --port "$p" --in-memory) >"$d/gcs.log" 2>&1 &
  _SS_PIDS+=($!); _SS_NAMES+=(gcs); echo $! >"$d/gcs.pid"
  _ss_wait_http "http://127.0.0.1:$p/" 30 || { _ss_fail gcs "$d/gcs.log"; return 1; }
  export BERTH_TEST_GCS_ENDPOINT=http://127.0.0.1:$p
  export STORAGE_EMULATOR_HOST=$BERTH_TEST_GCS_ENDPOINT
  export BERTH_TEST_GCS_BUCKET=berth-test
  curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d "{\"name\":\"$BERTH_TEST_GCS_BUCKET\"}" "$BERTH_TEST_GCS_ENDPOINT/storage/v1/b?project=test" ||
    { _ss_fail "gcs (bucket creation)" "$d/gcs.log"; return 1; }
}

_ss_start_swift() {
  local d=$BERTH_STORAGE_SERVERS_DIR s pp pm n kind port f p i user
  s=$d/swift; mkdir -p "$s/etc" "$s/node/d1"
  user=$(id -un)
  pp=$(_ss_free_port); pm=$(_ss_free_port)
  for kind in account container object; do
    port=$(_ss_free_port)
    cat >"$s/etc/$kind-server.conf" <<EOF
[DEFAULT]
devices = $s/node
mount_check = false
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $user
swift_dir = $s/etc
log_name = $kind-server
# a test cluster on a busy disk: don't answer 507 below 1% free
fallocate_reserve = 0
[pipeline:main]
pipeline = $kind-server
[app:$kind-server]
use = egg:swift#$kind
EOF
    (cd "$s/etc" && swift-ring-builder "$kind.builder" create 8 1 1 &&
      swift-ring-builder "$kind.builder" add "r1z1-127.0.0.1:$port/d1" 1 &&
      { swift-ring-builder "$kind.builder" rebalance || [ -f "$kind.ring.gz" ]; }) >>"$d/swift-rings.log" 2>&1 ||
      { _ss_fail "swift ($kind ring)" "$d/swift-rings.log"; return 1; }
    eval "local port_$kind=$port"
  done
  cat >"$s/etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $pp
workers = 0
user = $user
swift_dir = $s/etc
log_name = proxy-server
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true
[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test_reader = reading
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$pm
[filter:proxy-logging]
use = egg:swift#proxy_logging
EOF
  for f in catch_errors gatekeeper healthcheck listing_formats bulk tempurl copy slo dlo versioned_writes symlink; do
    printf '[filter:%s]\nuse = egg:swift#%s\n' "$f" "$f" >>"$s/etc/proxy-server.conf"
  done
  # The hash prefix/suffix and storage policies come from /etc/swift/swift.conf
  # (Debian's swift package ships one; swift reads no other path).
  [ -f /etc/swift/swift.conf ] || { _ss_log "swift needs /etc/swift/swift.conf (package swift)"; return 1; }
  if [ "$(id -u)" -eq 0 ]; then _ss_bg memcached memcached -l 127.0.0.1 -p "$pm" -U 0 -m 64 -u root
  else _ss_bg memcached memcached -l 127.0.0.1 -p "$pm" -U 0 -m 64; fi
  for kind in account container object proxy; do
    _ss_bg "swift-$kind" "swift-$kind-server" "$s/etc/$kind-server.conf" -v
  done
  for ((i = 0; i < 300; i++)); do
    curl -sf -m 2 -o /dev/null "http://127.0.0.1:$pp/healthcheck" && break; sleep 0.1
  done
  [ "$i" -lt 300 ] || { _ss_fail swift "$d"/swift-*.log; return 1; }
  for p in "$port_account" "$port_container" "$port_object"; do
    _ss_wait_http "http://127.0.0.1:$p/" 30 || { _ss_fail swift "$d"/swift-*.log; return 1; }
  done
  # Ready when tempauth answers with a token (it needs memcached).
  for ((i = 0; i < 100; i++)); do
    curl -sf -m 2 -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' \
      "http://127.0.0.1:$pp/auth/v1.0" && break
    sleep 0.1
  done
  [ "$i" -lt 100 ] || { _ss_fail "swift (tempauth)" "$d"/swift-*.log "$d/memcached.log"; return 1; }
  export BERTH_TEST_SWIFT_AUTHURL=http://127.0.0.1:$pp/auth/v1.0
  export BERTH_TEST_SWIFT_USER=test:tester BERTH_TEST_SWIFT_KEY=testing
  export BERTH_TEST_SWIFT_READER_USER=test:reader BERTH_TEST_SWIFT_READER_KEY=reading
}

_ss_start_ceph() {
  local d=$BERTH_STORAGE_SERVERS_DIR/ceph pmon prgw fsid uuid id i
  local -a c
  mkdir -p "$d"/{mon,osd,run,log,rgw}
  pmon=$(_ss_free_port); prgw=$(_ss_free_port); fsid=$(cat /proc/sys/kernel/random/uuid)
  cat >"$d/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$pmon
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms client mode = crc
ms mon client mode = crc
keyring = $d/keyring
run dir = $d/run
admin socket = $d/run/\$name.asok
log file = $d/log/\$name.log
mon cluster log file = $d/log/\$cluster.\$channel.log
mon data = $d/mon/\$cluster-\$id
osd data = $d/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = ${BERTH_CEPH_MEMSTORE_BYTES:-1073741824}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
# a test cluster on a busy disk: don't refuse to start below 5% free
mon data avail crit = 1
mon data avail warn = 2
rgw frontends = beast endpoint=127.0.0.1:$prgw
rgw dns name = localhost
rgw data = $d/rgw
EOF
  c=(-c "$d/ceph.conf")
  ceph-authtool --create-keyring "$d/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null &&
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$pmon]" "$d/monmap" >/dev/null &&
    ceph-mon "${c[@]}" --mkfs -i a --monmap "$d/monmap" --keyring "$d/keyring" >"$d/mon-mkfs.log" 2>&1 ||
    { _ss_fail "ceph (mon mkfs)" "$d/mon-mkfs.log"; return 1; }
  _ss_bg ceph-mon ceph-mon "${c[@]}" -i a -f
  for ((i = 0; i < 150; i++)); do
    ceph "${c[@]}" --connect-timeout 2 mon stat >/dev/null 2>&1 && break; sleep 0.2
  done
  [ "$i" -lt 150 ] || { _ss_fail "ceph (mon)" "$d/log/mon.a.log"; return 1; }
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph "${c[@]}" osd new "$uuid" 2>>"$d/osd-mkfs.log") || { _ss_fail "ceph (osd new)" "$d/osd-mkfs.log"; return 1; }
  mkdir -p "$d/osd/ceph-$id"   # memstore mkfs asserts when the osd data dir is missing
  ceph-osd "${c[@]}" -i "$id" --mkfs --osd-uuid "$uuid" >>"$d/osd-mkfs.log" 2>&1 ||
    { _ss_fail "ceph (osd mkfs)" "$d/osd-mkfs.log"; return 1; }
  _ss_bg ceph-osd ceph-osd "${c[@]}" -i "$id" -f
  for ((i = 0; i < 300; i++)); do
    ceph "${c[@]}" osd stat 2>/dev/null | grep -q '1 up' && break; sleep 0.2
  done
  [ "$i" -lt 300 ] || { _ss_fail "ceph (osd)" "$d/log/osd.$id.log"; return 1; }
  _ss_bg radosgw radosgw "${c[@]}" -n client.rgw.a -f
  _ss_wait_http "http://127.0.0.1:$prgw/" 120 || { _ss_fail "ceph (radosgw)" "$d/log/client.rgw.a.log"; return 1; }
  radosgw-admin "${c[@]}" user create --uid=berth --display-name=Berth \
    --access-key=BERTHTESTACCESSKEY --secret-key=berth-test-secret-key >"$d/user-create.log" 2>&1 ||
    { _ss_fail "ceph (user create)" "$d/user-create.log"; return 1; }
  export BERTH_TEST_S3_ENDPOINT=http://127.0.0.1:$prgw
  export BERTH_TEST_S3_REGION=us-east-1
  export BERTH_TEST_S3_ACCESS_KEY=BERTHTESTACCESSKEY
  export BERTH_TEST_S3_SECRET_KEY=berth-test-secret-key
  export BERTH_TEST_S3_BUCKET=berth-test
  # Ready when a signed request creates the bucket. RGW wants the payload hash
  # header, which curl's --aws-sigv4 does not add by itself (this one is for
  # the empty body).
  for ((i = 0; i < 50; i++)); do
    curl -sf -m 5 -o /dev/null -X PUT --aws-sigv4 "aws:amz:$BERTH_TEST_S3_REGION:s3" \
      -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
      --user "$BERTH_TEST_S3_ACCESS_KEY:$BERTH_TEST_S3_SECRET_KEY" \
      "$BERTH_TEST_S3_ENDPOINT/$BERTH_TEST_S3_BUCKET" && return 0
    sleep 0.2
  done
  _ss_fail "ceph (bucket creation)" "$d/log/client.rgw.a.log"
}

storage_servers_stop() {
  local i pid
  for ((i = ${#_SS_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${_SS_PIDS[i]}
    kill "$pid" 2>/dev/null || continue
    local n
    for ((n = 0; n < 100; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { _ss_log "${_SS_NAMES[i]} ($pid) did not stop, killing"; kill -9 "$pid" 2>/dev/null; }
    wait "$pid" 2>/dev/null || true
  done
  _SS_PIDS=(); _SS_NAMES=()
  if [ -n "${BERTH_STORAGE_SERVERS_DIR:-}" ] && [ -d "$BERTH_STORAGE_SERVERS_DIR" ]; then
    if [ -n "${BERTH_STORAGE_KEEP_DIR:-}" ]; then _ss_log "kept $BERTH_STORAGE_SERVERS_DIR"
    else rm -rf "$BERTH_STORAGE_SERVERS_DIR"; fi
  fi
  unset BERTH_STORAGE_SERVERS_DIR \
    BERTH_TEST_S3_ENDPOINT BERTH_TEST_S3_REGION BERTH_TEST_S3_ACCESS_KEY BERTH_TEST_S3_SECRET_KEY BERTH_TEST_S3_BUCKET \
    BERTH_TEST_AZURE_ENDPOINT BERTH_TEST_AZURE_ACCOUNT BERTH_TEST_AZURE_KEY BERTH_TEST_AZURE_CONNECTION_STRING \
    BERTH_TEST_SWIFT_AUTHURL BERTH_TEST_SWIFT_USER BERTH_TEST_SWIFT_KEY \
    BERTH_TEST_SWIFT_READER_USER BERTH_TEST_SWIFT_READER_KEY \
    BERTH_TEST_GCS_ENDPOINT STORAGE_EMULATOR_HOST BERTH_TEST_GCS_BUCKET BERTH_TEST_REDIS_ADDR
}

storage_servers_start() {
  local want=("$@") s t0
  [ ${#want[@]} -gt 0 ] || want=(ceph azurite swift gcs redis)
  for s in "${want[@]}"; do
    case $s in ceph | azurite | swift | gcs | redis) ;;
      *) _ss_log "unknown server '$s' (ceph azurite swift gcs redis)"; return 2 ;;
    esac
  done
  mkdir -p "$BERTH_STORAGE_CACHE"
  if [ -z "${BERTH_STORAGE_SKIP_INSTALL:-}" ]; then
    _ss_install "${want[@]}" || return 1
  fi
  [ -n "${BERTH_STORAGE_SERVERS_DIR:-}" ] || export BERTH_STORAGE_SERVERS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/berth-storage.XXXXXX")
  for s in "${want[@]}"; do
    t0=$(_ss_now)
    "_ss_start_$s" || { storage_servers_stop; return 1; }
    _ss_log "$s ready in $(_ss_since "$t0") s"
  done
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  storage_servers_start "$@"
else
  storage_servers_start "$@" || exit 1
  trap 'storage_servers_stop; exit 0' INT TERM
  for _ss_v in $(compgen -e | grep -E '^(BERTH_TEST_|STORAGE_EMULATOR_HOST$|BERTH_STORAGE_SERVERS_DIR$)' | sort); do
    printf 'export %s=%q\n' "$_ss_v" "${!_ss_v}"
  done
  _ss_log "running; Ctrl-C stops them"
  while :; do sleep 1; done
fi
