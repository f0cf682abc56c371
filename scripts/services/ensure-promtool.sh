#!/usr/bin/env bash
# Makes sure promtool (Debian's prometheus package) is on PATH: the ops test checks
# ops/ rules and a live /metrics with it. Installs it when missing; on failure prints
# one line saying why on stderr and exits 1.
set -uo pipefail
command -v promtool >/dev/null 2>&1 && exit 0
fail() { echo "$1" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "promtool is not installed and installing it needs root (apt-get install prometheus)"
command -v apt-get >/dev/null 2>&1 || fail "promtool is not installed and there is no apt-get to install it"
export DEBIAN_FRONTEND=noninteractive
# Two callers at once wait for dpkg's lock, not fail.
apt=(apt-get -q -o DPkg::Lock::Timeout=300)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "installing promtool (apt-get install -y --no-install-recommends prometheus)" >&2
# A machine whose package lists are missing or stale knows no prometheus: refresh them once and try again.
if ! "${apt[@]}" install -y --no-install-recommends prometheus >"$log" 2>&1; then
  "${apt[@]}" update >>"$log" 2>&1 || true
  "${apt[@]}" install -y --no-install-recommends prometheus >>"$log" 2>&1 ||
    fail "apt-get install prometheus failed: $(grep -E '^(E|W):' "$log" | head -n1 | cut -c1-200)"
fi
command -v promtool >/dev/null 2>&1 || fail "apt-get installed prometheus but promtool is not on PATH"
