#!/usr/bin/env bash
# The scaler's status page in headless Chromium: a registry with a model in
# production (v1) and staging (v2), a backlog the scaler sees and a worker
# that drains it; check_page.py waits for the chart and compares the page's
# numbers with /metrics.  Runs under with-postgres.sh and with-broker.sh.
# usage: test_status_page.sh SCALER CONSUMER PRODUCER REGISTRY MODEL DATA_DIR
set -uo pipefail
scaler=$1 consumer=$2 producer=$3 reg=$4 model=$5 data=$6
here=$(cd "$(dirname "$0")" && pwd)
command -v chromium >/dev/null || { echo "no chromium: skipped"; exit 77; }
work=$(mktemp -d)
spid= wpid=
cleanup() {
  for p in $wpid $spid; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work" /tmp/swarm-chromium-*
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -30 "$work/scaler.log" >&2; exit 1; }

"$reg" migrate >/dev/null || fail migrate
"$reg" register fashion "$model" >/dev/null && "$reg" register fashion "$model" >/dev/null &&
  "$reg" promote fashion 1 >/dev/null && "$reg" promote fashion 2 --alias staging >/dev/null &&
  "$reg" config fashion request_topic=requests >/dev/null || fail "registry setup"

# a backlog before anyone consumes
"$producer" -b "$SWARM_BOOTSTRAP" --model fashion --input "$data/test.csv" --repeat 5 \
  >/dev/null 2>&1 || fail "producer"

"$scaler" -b "$SWARM_BOOTSTRAP" -t requests -g page-test --registry "$SWARM_REGISTRY" \
  --model fashion --actuator none --poll-interval 1 --metrics-port 0 \
  --worker-capacity 50 --drain-target 2 2>"$work/scaler.log" &
spid=$!
for _ in $(seq 1 100); do
  grep -q 'metrics listening port=' "$work/scaler.log" && break
  sleep 0.2
done
port=$(grep -o 'metrics listening port=[0-9]*' "$work/scaler.log" | head -1 | cut -d= -f2)
[ -n "$port" ] || fail "no metrics port"
sleep 4   # a few polls with the backlog and no worker: the scaler asks for more
"$consumer" -b "$SWARM_BOOTSTRAP" -g page-test -M "fashion=$model" --metrics-port -1 \
  -X session.timeout.ms=6000 2>"$work/worker.log" &
wpid=$!
/usr/bin/python3 "$here/check_page.py" "$port" 8 '{"fashion": ["v1", "v2"]}' \
  "${SWARM_STATUS_SCREENSHOT:-$work/page.png}" || fail "page check"
