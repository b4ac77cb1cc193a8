#!/bin/sh
# Runs berth-admin's keychain tests inside one private D-Bus session with an
# unlocked gnome-keyring (a real Secret Service), so they never touch the
# desktop's own keychain. Needs the Debian packages dbus, gnome-keyring and
# keyutils. Extra arguments go to the test runner, e.g. a test name.
#
#   crates/berth-admin/run-keychain-tests.sh
#   crates/berth-admin/run-keychain-tests.sh secrets_never
#
# The tests also start such a session by themselves when run with plain
# `cargo test -p berth-admin`; this script runs them all in one session.
set -eu
cd "$(dirname "$0")/../.."
for tool in dbus-run-session gnome-keyring-daemon keyctl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run-keychain-tests.sh: $tool is missing; install it with:" >&2
        echo "  sudo apt-get install dbus gnome-keyring keyutils" >&2
        exit 1
    fi
done
if command -v cargo-nextest >/dev/null 2>&1; then
    runner="cargo nextest run -p berth-admin --test keychain"
else
    runner="cargo test -p berth-admin --test keychain --"
fi
export BERTH_KEYRING_SESSION=1
# A keyring folder of its own, so an existing login keyring is never used or changed.
XDG_DATA_HOME=$(mktemp -d "${TMPDIR:-/tmp}/berth-keyring-XXXXXX")
export XDG_DATA_HOME
trap 'rm -rf "$XDG_DATA_HOME"' EXIT
dbus-run-session -- keyctl session - sh -c \
    'echo -n berth-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"' \
    sh $runner "$@"
