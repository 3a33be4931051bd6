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
# --base BIN adds, in every round, passthrough and swarm served by another
# swarm-consumer binary (an older build: before/after in one run, the
# machine's load drifts), as base-passthrough and base-swarm.
#
#   bash bench/peer/run.sh [--requests N] [--window W] [--rounds R] [--build DIR]
#                          [--base BIN]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD requests=100000 window=4096 rounds=1 build=$root/build/dev base=
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    *) echo "usage: $0 [--requests N] [--window W] [--rounds R] [--build DIR] [--base BIN]" >&2; exit 2 ;;
  esac
done
data=$build/data/fashion model=$root/tests/fixtures/fashion-mlp/model.onnx
[ -s "$data/test.npy" ] || /usr/bin/python3 tests/fixtures/fashion-mlp/make_data.py "$data" >/dev/null
. "$root/bench/lib.sh"
bench_workdir swarm-peer
[ -z "$base" ] || [ -x "$base" ] || { echo "--base $base: not an executable" >&2; exit 2; }
TMPDIR=$work bench_broker --topic requests.passthrough:8 --topic requests.swarm:8 \
  --topic requests.base-passthrough:8 --topic requests.base-swarm:8 --topic requests.python:8 \
  --topic results:8 --topic requests.dlq:1
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# the broker's JVM (swarm-broker's child): its CPU per request too, since
# the pass-through ceiling is the whole machine's, not only the worker's
jvm=$(cat "/proc/${pids[0]}/task/${pids[0]}/children" 2>/dev/null | awk '{print $1}')
[ -n "$jvm" ] || jvm=${pids[0]}

declare -A rps cpu_us all_cpu side_cpu
TIMEFORMAT='%U %S'
run() { # name model-name model-file worker-command...
  local name=$1 mname=$2; shift 2
  "$@" >/dev/null 2>"$work/worker-$name.log" &
  local wpid=$!
  pids+=("$wpid")
  "$build/producer/swarm-producer" -b "$brokers" -t "requests.$name" --model "$mname" \
    --input "$data/test.csv" --wait --timeout 120 --id-prefix "warm-" >/dev/null 2>>"$work/producer-$name.log"
  local c0 b0; c0=$(cpu "$wpid"); b0=$(cpu "$jvm")
  { time "$build/producer/swarm-producer" -b "$brokers" -t "requests.$name" --model "$mname" \
    --input "$data/test.npy" --repeat $(( (requests + 9999) / 10000 )) --window "$window" \
    --wait --timeout 600 --id-prefix "$name-" >"$work/out-$name" 2>>"$work/producer-$name.log" \
    || true; } 2>"$work/time-$name"
  local c1 b1; c1=$(cpu "$wpid"); b1=$(cpu "$jvm")
  kill -TERM "$wpid"; wait "$wpid" || true
  local line; line=$(grep '^summary' "$work/out-$name")
  echo "$name: $line"
  local n; n=$(sed -n 's/.* answered=\([0-9]*\).*/\1/p' <<<"$line")
  rps[$name]=$(sed -n 's/.*throughput_rps=\([0-9.]*\).*/\1/p' <<<"$line")
  cpu_us[$name]=$(awk -v a="$c0" -v b="$c1" -v t="$tck" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / t * 1e6 / n }')
  all_cpu[$name]="${all_cpu[$name]:-}${all_cpu[$name]:+ }${cpu_us[$name]}"
  side_cpu[$name]=$(awk -v a="$b0" -v b="$b1" -v t="$tck" -v n="$n" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
    '{ printf "broker %.1f us, producer %.1f us, load %s", (b - a) / t * 1e6 / n, ($1 + $2) * 1e6 / n, load }' \
    "$work/time-$name")
  echo "$name: worker ${cpu_us[$name]} us, ${side_cpu[$name]} (CPU per request)"
}
c=$build/consumer/swarm-consumer
passthrough() {
  run passthrough passthrough "$c" -b "$brokers" -t requests.passthrough -g peer-passthrough \
    -M "passthrough=$root/tests/fixtures/passthrough/model.onnx" --metrics-port -1
}
swarm() {
  run swarm fashion "$c" -b "$brokers" -t requests.swarm -g peer-swarm -M "fashion=$model" --metrics-port -1
}
base_passthrough() {
  run base-passthrough passthrough "$base" -b "$brokers" -t requests.base-passthrough \
    -g peer-base-passthrough -M "passthrough=$root/tests/fixtures/passthrough/model.onnx" --metrics-port -1
}
base_swarm() {
  run base-swarm fashion "$base" -b "$brokers" -t requests.base-swarm -g peer-base-swarm \
    -M "fashion=$model" --metrics-port -1
}
passthrough >/dev/null # round 0, not counted: the fresh broker's first run is slow
ratios=() base_ratios=()
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then
    passthrough; swarm
    [ -z "$base" ] || { base_passthrough; base_swarm; }
  else
    [ -z "$base" ] || { base_swarm; base_passthrough; }
    swarm; passthrough
  fi
  ratios+=("$(awk -v s="${rps[swarm]}" -v i="${rps[passthrough]}" 'BEGIN { printf "%.3f", s / i }')")
  echo "round $r: swarm / passthrough = ${ratios[-1]}"
  if [ -n "$base" ]; then
    base_ratios+=("$(awk -v s="${rps[base-swarm]}" -v i="${rps[base-passthrough]}" 'BEGIN { printf "%.3f", s / i }')")
    echo "round $r: base-swarm / base-passthrough = ${base_ratios[-1]}"
  fi
done
run python fashion /usr/bin/python3 "$root/bench/peer/py_worker.py" "$brokers" requests.python results \
  peer-python "$model"
echo
echo "requests per worker: $(( (requests + 9999) / 10000 * 10000 )), window $window, real Kafka broker"
printf '%-16s %12s %16s\n' worker req/s cpu_us_per_req
ws="passthrough swarm"; [ -z "$base" ] || ws="$ws base-passthrough base-swarm"
for w in $ws python; do printf '%-16s %12s %16s\n' $w "${rps[$w]}" "${cpu_us[$w]}"; done
echo "worker CPU us per request, every round (the table shows the last):"
for w in $ws; do echo "  $w: ${all_cpu[$w]}"; done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med=$(echo "${ratios[*]}" | median)
cs=$(echo "${all_cpu[swarm]}" | median)
awk -v m="$med" -v n="$rounds" -v cs="$cs" -v cp="${cpu_us[python]}" \
  'BEGIN { printf "swarm / ceiling throughput: median %.2f of %d rounds (goal >= 0.95); swarm (median of the rounds) / python CPU per request: %.2f (goal <= 0.40)\n", m, n, cs / cp }'
if [ -n "$base" ]; then
  awk -v m="$(echo "${base_ratios[*]}" | median)" -v cs="$(echo "${all_cpu[base-swarm]}" | median)" \
    -v cp="${cpu_us[python]}" 'BEGIN { printf "base: swarm / ceiling throughput: median %.2f; swarm / python CPU per request: %.2f\n", m, cs / cp }'
fi
