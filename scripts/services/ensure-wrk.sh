#!/usr/bin/env bash
# Makes sure wrk (Debian's package) is on PATH: `adtally bench` runs its
# ingest-wrk cross-check with it. Installs it when missing; on failure prints
# one line saying why on stderr and exits 1, and the bench reports the
# scenario as skipped with that line.
set -uo pipefail
command -v wrk >/dev/null 2>&1 && exit 0
fail() { echo "$1" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "wrk is not installed and installing it needs root (apt-get install wrk)"
command -v apt-get >/dev/null 2>&1 || fail "wrk is not installed and there is no apt-get to install it"
export DEBIAN_FRONTEND=noninteractive
# Two callers at once (the bench's test and wrk-load's run side by side) wait for dpkg's lock, not fail.
apt=(apt-get -q -o DPkg::Lock::Timeout=300)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "installing wrk (apt-get install -y wrk)" >&2
# A machine whose package lists are missing or stale knows no wrk: refresh them once and try again.
if ! "${apt[@]}" install -y wrk >"$log" 2>&1; then
  "${apt[@]}" update >>"$log" 2>&1 || true
  "${apt[@]}" install -y wrk >>"$log" 2>&1 ||
    fail "apt-get install wrk failed: $(grep -E '^(E|W):' "$log" | head -n1 | cut -c1-200)"
fi
command -v wrk >/dev/null 2>&1 || fail "apt-get installed wrk but it is not on PATH"
