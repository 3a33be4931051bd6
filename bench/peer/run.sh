#!/usr/bin/env bash
# Worker CPU per request and requests/s on the local Kafka broker for:
#   passthrough  swarm-consumer with tests/fixtures/passthrough (the
#                pass-through ceiling: the MLP's requests and response size,
#                10 floats, and no compute)
#   swarm        swarm-consumer serving the Fashion MLP
#   python       bench/peer/py_worker.py serving the same MLP (confluent-kafka
#                + numpy, Debian's python3 packages)
# Same requests (one 784-float row each), same window, same broker, one run.
# CPU is the worker process's utime + stime over the measured requests
# (/proc/PID/stat), after a warm-up pass that is not counted.
# --rounds R runs passthrough and swarm R times each, alternating which goes
# first, and reports the ratio of each round and their median (the machine's
# load drifts; adjacent runs are the fair comparison).  python runs once.
# A first passthrough run warms the fresh broker up and is not counted.
#
#   bash bench/peer/run.sh [--requests N] [--window W] [--rounds R] [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD requests=100000 window=4096 rounds=1 build=$root/build/dev
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: $0 [--requests N] [--window W] [--rounds R] [--build DIR]" >&2; exit 2 ;;
  esac
done
data=$build/data/fashion model=$root/tests/fixtures/fashion-mlp/model.onnx
[ -s "$data/test.npy" ] || /usr/bin/python3 tests/fixtures/fashion-mlp/make_data.py "$data" >/dev/null
. "$root/bench/lib.sh"
bench_workdir swarm-peer
TMPDIR=$work bench_broker --topic requests.passthrough:8 --topic requests.swarm:8 \
  --topic requests.python:8 --topic results:8 --topic requests.dlq:1
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A rps cpu_us
run() { # name model-name model-file worker-command...
  local name=$1 mname=$2; shift 2
  "$@" >/dev/null 2>"$work/worker-$name.log" &
  local wpid=$!
  pids+=("$wpid")
  "$build/producer/swarm-producer" -b "$brokers" -t "requests.$name" --model "$mname" \
    --input "$data/test.csv" --wait --timeout 120 --id-prefix "warm-" >/dev/null 2>>"$work/producer-$name.log"
  local c0; c0=$(cpu "$wpid")
  "$build/producer/swarm-producer" -b "$brokers" -t "requests.$name" --model "$mname" \
    --input "$data/test.npy" --repeat $(( (requests + 9999) / 10000 )) --window "$window" \
    --wait --timeout 600 --id-prefix "$name-" >"$work/out-$name" 2>>"$work/producer-$name.log" || true
  local c1; c1=$(cpu "$wpid")
  kill -TERM "$wpid"; wait "$wpid" || true
  local line; line=$(grep '^summary' "$work/out-$name")
  echo "$name: $line"
  local n; n=$(sed -n 's/.* answered=\([0-9]*\).*/\1/p' <<<"$line")
  rps[$name]=$(sed -n 's/.*throughput_rps=\([0-9.]*\).*/\1/p' <<<"$line")
  cpu_us[$name]=$(awk -v a="$c0" -v b="$c1" -v t="$tck" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / t * 1e6 / n }')
}
c=$build/consumer/swarm-consumer
passthrough() {
  run passthrough passthrough "$c" -b "$brokers" -t requests.passthrough -g peer-passthrough \
    -M "passthrough=$root/tests/fixtures/passthrough/model.onnx" --metrics-port -1
}
swarm() {
  run swarm fashion "$c" -b "$brokers" -t requests.swarm -g peer-swarm -M "fashion=$model" --metrics-port -1
}
passthrough >/dev/null # round 0, not counted: the fresh broker's first run is slow
ratios=()
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then passthrough; swarm; else swarm; passthrough; fi
  ratios+=("$(awk -v s="${rps[swarm]}" -v i="${rps[passthrough]}" 'BEGIN { printf "%.3f", s / i }')")
  echo "round $r: swarm / passthrough = ${ratios[-1]}"
done
run python fashion /usr/bin/python3 "$root/bench/peer/py_worker.py" "$brokers" requests.python results \
  peer-python "$model"
echo
echo "requests per worker: $(( (requests + 9999) / 10000 * 10000 )), window $window, real Kafka broker"
printf '%-12s %12s %16s\n' worker req/s cpu_us_per_req
for w in passthrough swarm python; do printf '%-12s %12s %16s\n' $w "${rps[$w]}" "${cpu_us[$w]}"; done
med=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
awk -v m="$med" -v n="$rounds" -v cs="${cpu_us[swarm]}" -v cp="${cpu_us[python]}" \
  'BEGIN { printf "swarm / ceiling throughput: median %.2f of %d rounds (goal >= 0.95); swarm / python CPU per request: %.2f (goal <= 0.40)\n", m, n, cs / cp }'
