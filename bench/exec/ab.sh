#!/usr/bin/env bash
# Before / after on one model: bash bench/exec/ab.sh NEW_BUILD BASE_BUILD
# MODEL.onnx INPUTS_DIR THREADS "BATCHES" [ROUNDS]
# Runs bench_exec of both builds and bench_ort.js in turn, ROUNDS times
# (default 3), and prints each batch's minimum per runner with the ratios:
# alternating keeps a load change on this shared machine from landing on
# one side only.  BENCH_CPU_TIME passes through to bench_exec.
set -euo pipefail
# OpenBLAS (the pthreads build) starts its own worker threads when it is
# loaded, and they spin on sched_yield for about 0.1 s before they sleep:
# 17% of the samples of a short bench_exec run (perf, one thread), in the
# first cells, where they take the second core from a 2-lane run and count
# in BENCH_CPU_TIME.  swarm never uses them (the CPU backend calls
# openblas_set_num_threads(1)), so none are started here.
export OPENBLAS_NUM_THREADS=1
here=$(cd "$(dirname "$0")" && pwd)
new=$1 base=$2 model=$3 inputs=$4 threads=$5 batches=$6 rounds=${7:-3}
declare -A best
for _ in $(seq "$rounds"); do
  for who in new base ort; do
    case $who in
      new) out=$("$new/bench/exec/bench_exec" "$model" "$threads" --inputs "$inputs" $batches 2>/dev/null) ;;
      base) out=$("$base/bench/exec/bench_exec" "$model" "$threads" --inputs "$inputs" $batches 2>/dev/null) ;;
      ort) out=$(node "$here/bench_ort.js" "$model" "$threads" --inputs "$inputs" $batches) ;;
    esac
    while read -r bb mm _; do
      b=${bb#batch=} v=${mm#ms_per_run=} k="$who.${bb#batch=}"
      if [ -z "${best[$k]:-}" ] || awk -v a="$v" -v c="${best[$k]}" 'BEGIN { exit !(a < c) }'; then
        best[$k]=$v
      fi
    done <<< "$out"
  done
done
for b in $batches; do
  awk -v b="$b" -v n="${best[new.$b]}" -v o="${best[base.$b]}" -v x="${best[ort.$b]}" \
    'BEGIN { printf "batch %4d  new %9.4f  base %9.4f  ort %9.4f ms  new/base %.2f  ort/new %.2f  ort/base %.2f\n", b, n, o, x, n / o, x / n, x / o }'
done
