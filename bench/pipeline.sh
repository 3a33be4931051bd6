#!/usr/bin/env bash
# Pipeline benchmark: requests/s and latency with the shipped Fashion-MNIST
# MLP and with an identity model (the Kafka + Avro ceiling: same requests,
# no compute), in the same run on the same broker, and their ratio.  Also
# samples the worker's resident memory every second to show whether it stays
# flat.
#
#   bash bench/pipeline.sh [--requests N] [--window W] [--mock] [--build DIR]
#
# Defaults: 200,000 requests of one row each, window 4096, real Kafka broker.
# `--requests 1000000` is the memory-flatness run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. "$root/bench/lib.sh"
requests=200000
window=4096
build=$root/build/release
mock=()
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --mock) mock=(--mock); shift ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: $0 [--requests N] [--window W] [--mock] [--build DIR]" >&2; exit 2 ;;
  esac
done

bench_build "$build" consumer/swarm-consumer

bench_workdir swarm-bench

/usr/bin/python3 tests/fixtures/fashion-mlp/make_data.py "$work/data" >/dev/null
# one request topic per model, so neither worker sees the other's backlog
bench_broker "${mock[@]}" --topic requests.identity:16 \
  --topic requests.fashion:16 --topic results:16 --topic requests.dlq:1

repeat=$(( (requests + 9999) / 10000 ))
declare -A rps p50 p99 rss0 rssmax rssend

run() { # name model
  local name=$1 model=$2 wpid sampler
  "$build/consumer/swarm-consumer" -b "$brokers" -t "requests.$name" -g "bench-$name" -M "$name=$model" --metrics-port 0 \
     --log-level warn 2>"$work/worker-$name.log" &
  wpid=$!
  ( while kill -0 $wpid 2>/dev/null; do
      awk '/VmRSS/ {print $2}' /proc/$wpid/status 2>/dev/null; sleep 1
    done ) >"$work/rss-$name" &
  sampler=$!
  # warm-up: the group join and first fetches are not part of the figure
  "$build/producer/swarm-producer" -b "$brokers" -t "requests.$name" --model "$name" \
     --input "$work/data/test.csv" --wait --timeout 120 --id-prefix "warm-$name-" \
     >/dev/null 2>>"$work/producer-$name.log"
  rss0[$name]=$(awk '/VmRSS/ {print $2}' /proc/$wpid/status)
  "$build/producer/swarm-producer" -b "$brokers" -t "requests.$name" --model "$name" \
     --input "$work/data/test.npy" \
     --repeat "$repeat" --window "$window" --wait --timeout 600 \
     --id-prefix "$name-" >"$work/out-$name" 2>"$work/producer-$name.log" || true
  kill -TERM $wpid; wait $wpid || true; wait $sampler 2>/dev/null || true
  local line; line=$(grep '^summary' "$work/out-$name" || true)
  [ -n "$line" ] || { cat "$work/producer-$name.log" >&2; exit 1; }
  echo "$name: $line"
  rps[$name]=$(sed -n 's/.*throughput_rps=\([0-9.]*\).*/\1/p' <<<"$line")
  p50[$name]=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  p99[$name]=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  rssmax[$name]=$(sort -n "$work/rss-$name" | tail -1)
  rssend[$name]=$(grep . "$work/rss-$name" | tail -1)
}

total=$((repeat * 10000))
echo "requests per model: $total (1 row each), window $window, broker ${mock[*]:-kafka}"
run identity tests/fixtures/identity/model.onnx
run fashion tests/fixtures/fashion-mlp/model.onnx
echo
printf '%-10s %12s %10s %10s %14s %14s %14s\n' model req/s p50_ms p99_ms rss_warm_kB rss_max_kB rss_end_kB
for m in identity fashion; do
  printf '%-10s %12s %10s %10s %14s %14s %14s\n' $m "${rps[$m]}" "${p50[$m]}" "${p99[$m]}" \
    "${rss0[$m]:-?}" "${rssmax[$m]:-?}" "${rssend[$m]:-?}"
done
echo "worker RSS (kB) at 25/50/75/100% of each run (flat = bounded queues, no leak):"
for m in identity fashion; do
  awk -v m=$m '{v[NR]=$1} END {printf "  %-9s %s %s %s %s\n", m, v[int(NR*.25)+0], v[int(NR*.5)+0], v[int(NR*.75)+0], v[NR]}' "$work/rss-$m"
done
awk -v a="${rps[fashion]}" -v b="${rps[identity]}" \
  'BEGIN { printf "ratio fashion/identity throughput: %.2f (goal >= 0.70)\n", a / b }'
