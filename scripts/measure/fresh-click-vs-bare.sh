#!/usr/bin/env bash
# Like click-vs-bare.sh, but every click is valid and on a fresh impression id
# (pre-signed paths, scripts/measure/click-paths.mjs, requested in turn by wrk),
# so each costs what a billable click costs. wrk -t1 -c64, bare then adtally,
# ROUNDS rounds. PROF=<dir>: run serve under --cpu-prof and print the split of
# its event loop's busy time (scripts/measure/cpuprofile-split.mjs) at the end.
# usage: npm run build && DUR=10 ROUNDS=2 [PROF=/tmp/prof] scripts/measure/fresh-click-vs-bare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
D=$(mktemp -d)
export ADTALLY_SECRET=e2e-test-secret-0123456789abcdef ADTALLY_ADMIN_TOKEN=adm_measure_0123456789abcdef
ADS=20
node scripts/measure/click-paths.mjs $D/paths.txt "${PATHS_COUNT:-600000}" $ADS
PROF_ARGS=()
if [ -n "${PROF:-}" ]; then mkdir -p "$PROF"; PROF_ARGS=(--cpu-prof "--cpu-prof-dir=$PROF"); fi
node "${PROF_ARGS[@]}" bin/adtally.js serve --port 18081 --data-dir $D/data > $D/serve.out 2>&1 &
SPID=$!
node dist/src/bench/reference-server-main.js bare > $D/bare.out 2>&1 &
BPID=$!
trap 'kill $SPID $BPID 2>/dev/null || true' EXIT
# A loaded machine can take longer than a fixed sleep to start serve.
for _ in $(seq 1 100); do curl -sf localhost:18081/healthz >/dev/null && grep -q http $D/bare.out && break; sleep 0.2; done
BARE=$(grep -o "http://[0-9.:]*" $D/bare.out)
A="Authorization: Bearer $ADTALLY_ADMIN_TOKEN"
J='content-type: application/json'
adv=$(curl -s -H "$A" -H "$J" -d '{"name":"m"}' localhost:18081/api/v1/advertisers | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
camp=$(curl -s -H "$A" -H "$J" -d "{\"advertiserId\":$adv,\"name\":\"c\"}" localhost:18081/api/v1/campaigns | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
for i in $(seq 1 $ADS); do
  curl -s -H "$A" -H "$J" -d "{\"campaignId\":$camp,\"name\":\"a$i\",\"targetUrl\":\"https://example.com/x$i\"}" localhost:18081/api/v1/ads >/dev/null
done
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
export PATHS=$D/paths.txt
for round in $(seq 1 "${ROUNDS:-2}"); do
  echo "== bare"; wrk -t1 -c64 -d${DUR:-8}s --latency -H "User-Agent: $UA" -s scripts/measure/paths.lua "$BARE" | grep -E "Requests/sec|50%|99%"
  echo "== adtally"; wrk -t1 -c64 -d${DUR:-8}s --latency -H "User-Agent: $UA" -s scripts/measure/paths.lua http://127.0.0.1:18081 | grep -E "Requests/sec|50%|99%|Non-2xx"
done
curl -s localhost:18081/metrics | grep -E "^adtally_(log_(batch_records_(sum|count)|flushes_total)|ingest_events_total)"
kill $SPID $BPID; wait $SPID 2>/dev/null || true
trap - EXIT
rm -rf $D
if [ -n "${PROF:-}" ]; then node scripts/measure/cpuprofile-split.mjs "$(ls -t "$PROF"/*.cpuprofile | head -1)" "${TOP:-40}"; fi
