#!/usr/bin/env bash
# Makes sure a Redis answers on 127.0.0.1:6379 (the dedup store of the cluster
# tests and of `npm run cluster`), starting the machine's redis-server without
# persistence when none does. Tests that restart or fill Redis start their own.
set -euo pipefail
ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
ready && exit 0
echo "starting Redis" >&2
mkdir -p /var/lib/redis /var/log/redis
redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
  --dir /var/lib/redis --logfile /var/log/redis/ci.log
for _ in $(seq 1 50); do ready && exit 0; sleep 0.2; done
echo "Redis did not come up on 127.0.0.1:6379" >&2
exit 1
