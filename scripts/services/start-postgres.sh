#!/usr/bin/env bash
# Makes sure the machine's PostgreSQL (127.0.0.1:5432, trust auth) answers:
# the direct-db reference server of `adtally bench` and its test use it.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432; }
ready && exit 0
echo "starting PostgreSQL" >&2
pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
for _ in $(seq 1 50); do ready && exit 0; sleep 0.2; done
echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
