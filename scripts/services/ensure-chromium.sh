#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed: the browser tests (test/*.browser.e2e.test.ts) drive it
# with playwright-core, which downloads no browser. Installs it when missing; prints the binary's path
# on stdout; on failure prints one line saying why on stderr and exits 1.
set -uo pipefail
find_chromium() {
  for bin in "${ADTALLY_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    [ -n "$bin" ] && [ -x "$bin" ] && { echo "$bin"; return 0; }
  done
  return 1
}
find_chromium && exit 0
fail() { echo "$1" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "chromium is not installed and installing it needs root (apt-get install chromium)"
command -v apt-get >/dev/null 2>&1 || fail "chromium is not installed and there is no apt-get to install it"
export DEBIAN_FRONTEND=noninteractive
# Two callers at once wait for dpkg's lock, not fail.
apt=(apt-get -q -o DPkg::Lock::Timeout=300)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "installing chromium (apt-get install -y --no-install-recommends chromium)" >&2
# A machine whose package lists are missing or stale knows no chromium: refresh them once and try again.
if ! "${apt[@]}" install -y --no-install-recommends chromium >"$log" 2>&1; then
  "${apt[@]}" update >>"$log" 2>&1 || true
  "${apt[@]}" install -y --no-install-recommends chromium >>"$log" 2>&1 ||
    fail "apt-get install chromium failed: $(grep -E '^(E|W):' "$log" | head -n1 | cut -c1-200)"
fi
find_chromium || fail "apt-get installed chromium but no chromium binary is in /usr/bin"
