#!/usr/bin/env bash
# /click of adtally serve (fsync before every 302, aggregation running) against
# a bare node:http server answering 302, both with wrk -t1 -c64, two rounds,
# then the mean events per fsync from /metrics.
# usage: npm run build && DUR=10 scripts/measure/click-vs-bare.sh   (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
D=$(mktemp -d)
export ADTALLY_SECRET=measure-secret-0123456789abcdef ADTALLY_ADMIN_TOKEN=adm_measure_0123456789abcdef
node bin/adtally.js serve --port 18080 --data-dir $D > /tmp/serve.out 2>&1 &
SPID=$!
node dist/src/bench/reference-server-main.js bare > /tmp/bare.out &
BPID=$!
sleep 1.5
BARE=$(grep -o "http://[0-9.:]*" /tmp/bare.out)
A="Authorization: Bearer $ADTALLY_ADMIN_TOKEN"
adv=$(curl -s -H "$A" -d '{"name":"m"}' -H 'content-type: application/json' localhost:18080/api/v1/advertisers | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
camp=$(curl -s -H "$A" -d "{\"advertiserId\":$adv,\"name\":\"c\"}" -H 'content-type: application/json' localhost:18080/api/v1/campaigns | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
curl -s -H "$A" -d "{\"campaignId\":$camp,\"name\":\"a\",\"targetUrl\":\"https://example.com/x\"}" -H 'content-type: application/json' localhost:18080/api/v1/ads >/dev/null
CLICK=$(curl -s localhost:18080/ad | node -pe 'JSON.parse(require("fs").readFileSync(0)).clickUrl')
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
for round in 1 2; do
echo "== bare"; wrk -t1 -c64 -d${DUR:-8}s --latency -H "User-Agent: $UA" "$BARE/click" | grep -E "Requests/sec|50%|99%"
echo "== adtally"; wrk -t1 -c64 -d${DUR:-8}s --latency -H "User-Agent: $UA" "$CLICK" | grep -E "Requests/sec|50%|99%|Non-2xx"
done
curl -s localhost:18080/metrics | grep -E "^adtally_log_(batch_records_(sum|count)|flushes_total)"
kill $SPID $BPID; wait $SPID 2>/dev/null || true; rm -rf $D
