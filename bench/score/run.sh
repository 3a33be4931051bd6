#!/usr/bin/env bash
# Offline scoring benchmark (docs/scoring.md, bench/README.md "Offline
# scoring"), all in one run on one broker:
#   1. rows/s of the one-row-per-request online path (swarm-producer
#      --rows-per-request 1 --wait) against one worker;
#   2. rows/s of `swarm-producer score` on the same rows (.npy, CSV, Avro)
#      against an identical worker on the scoring topic;
#   3. online p99 at a fixed request rate: alone, with a backfill on the
#      scoring topic (its own worker), and with the backfill sent to the
#      online topic instead (what the separate topic avoids).
#
#   bash bench/score/run.sh [--rows N] [--rate R] [--seconds S] [--build DIR]
#                           [--batch-worker "ARGS"]
#
# BENCH_BASE=DIR: also time DIR/producer/swarm-producer (an older build's
# scorer) on each format of part 2, just before the current one, against
# the same broker and worker.  BENCH_COMPRESS="lz4 zstd": also score the
# .npy with -X compression.type=C (the requests compressed by the scorer).
#
# Defaults: 200,000 rows (the Fashion-MNIST test set tiled), online rate
# 200 requests/s for 20 s.  The scoring worker runs with the scoring fleet's
# settings of docs/scoring.md (--batch-worker, default "--max-batch-rows 1024
# -X fetch.message.max.bytes=4194304"); the .npy pass is then repeated
# against a scoring worker with the online worker's defaults, to show what
# those settings give in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
. "$root/bench/lib.sh"
rows=200000 rate=200 seconds=20 build=$root/build/release
batch_worker="--max-batch-rows 1024 -X fetch.message.max.bytes=4194304"
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --batch-worker) batch_worker=$2; shift 2 ;;
    *) echo "usage: $0 [--rows N] [--rate R] [--seconds S] [--build DIR] [--batch-worker ARGS]" >&2; exit 2 ;;
  esac
done
bench_build "$build" producer/swarm-producer
bench_workdir swarm-bench-score

model=$root/tests/fixtures/fashion-mlp/model.onnx
/usr/bin/python3 tests/fixtures/fashion-mlp/make_data.py "$work/data" >/dev/null
/usr/bin/python3 - "$work/data/test.npy" "$rows" "$work/rows.npy" <<'PY'
import sys, numpy as np
x = np.load(sys.argv[1]); n = int(sys.argv[2])
np.save(sys.argv[3], np.ascontiguousarray(np.resize(x, (n, x.shape[1]))))
PY
"$build/tests/score/score_make_inputs" "$work/data/test.npy" "$rows" "$work/rows.csv" "$work/rows.avro"

bench_broker --topic requests:4 --topic results:4 \
  --topic requests.batch:4 --topic results.batch:4 --topic requests.dlq:1

worker() { # topic group log results [worker options]
  local t=$1 g=$2 l=$3 r=$4; shift 4
  "$build/consumer/swarm-consumer" -b "$brokers" -t "$t" -r "$r" -g "$g" -M "fashion=$model" \
    --metrics-port -1 --log-level warn "$@" 2>"$work/$l" &
  pids+=($!)
}
worker requests online worker-online.log results
# shellcheck disable=SC2086 # word splitting of the options is wanted
worker requests.batch scoring worker-batch.log results.batch $batch_worker
batch_pid=${pids[-1]}
P=$build/producer/swarm-producer
# warm-up: both groups joined, first fetches done
"$P" -b "$brokers" -t requests --model fashion --input "$work/data/test.npy" --wait >/dev/null 2>&1
"$P" score -b "$brokers" --model fashion --input "$work/data/test.npy" --output "$work/warm.avro" >/dev/null 2>&1

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
# CPU seconds (user + system) a process has used: the broker's JVM (a child
# of swarm-broker) or a worker, to say which one bounds a pass
clk=$(getconf CLK_TCK)
cpu_s() { awk -v c="$clk" '{printf "%.2f", ($14 + $15) / c}' "/proc/$1/stat"; }
jvm=$(pgrep -P "${pids[0]}" | head -1)

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== 1. online path: one row per request, window 4096, $rows rows"
reps=$(( (rows + 9999) / 10000 ))
b0=$(cpu_s "$jvm") w0=$(cpu_s "${pids[1]}")
out=$(/usr/bin/time -f "producer_cpu_s=%U+%S" "$P" -b "$brokers" -t requests --model fashion --input "$work/data/test.npy" \
        --rows-per-request 1 --window 4096 --repeat "$reps" --wait 2>"$work/online.log" | grep '^summary')
echo "$out"
echo "online: cpu_s broker=$(echo "$(cpu_s "$jvm") - $b0" | bc) worker=$(echo "$(cpu_s "${pids[1]}") - $w0" | bc)" \
     "$(grep -o 'producer_cpu_s=.*' "$work/online.log")"
online=$(field throughput_rps <<<"$out")

echo "== 2. score: .npy, CSV, Avro ($rows rows)"
declare -A sc scb
score_pass() { # label scorer format [extra options]: one pass, its figures
  local label=$1 bin=$2 f=$3 extra=(); shift 3
  [ $f = avro ] && extra=(--tensor input=pixels --id-column id)
  [ $f = csv ] && extra=(--features px0..px783 --id-column id)
  b0=$(cpu_s "$jvm") w0=$(cpu_s "$batch_pid")
  out=$(/usr/bin/time -f "scorer_cpu_s=%U+%S" "$bin" score -b "$brokers" --model fashion --input "$work/rows.$f" \
          --output "$work/out-$label.avro" --progress-interval 3600 "${extra[@]}" "$@" 2>"$work/score-$label.log" | grep '^summary')
  echo "$label: $out"
  echo "$label: cpu_s broker=$(echo "$(cpu_s "$jvm") - $b0" | bc) worker=$(echo "$(cpu_s "$batch_pid") - $w0" | bc)" \
       "$(grep -o 'scorer_cpu_s=.*' "$work/score-$label.log")"
  rps=$(field rows_per_s <<<"$out")
}
for f in npy csv avro; do
  if [ -n "${BENCH_BASE:-}" ]; then
    score_pass "$f-base" "$BENCH_BASE/producer/swarm-producer" $f
    scb[$f]=$rps
  fi
  score_pass $f "$P" $f
  sc[$f]=$rps
  if [ -n "${BENCH_BASE:-}" ]; then
    cmp -s "$work/out-$f-base.avro" "$work/out-$f.avro" && echo "$f: output byte-identical to the base scorer's" ||
      echo "$f: OUTPUT DIFFERS from the base scorer's"
  fi
done
for c in ${BENCH_COMPRESS:-}; do
  score_pass "npy-$c" "$P" npy -X compression.type="$c"
done

echo "== 2b. score .npy against a scoring worker with the online defaults (--max-batch-rows 256)"
kill -TERM "$batch_pid"; wait "$batch_pid" 2>/dev/null || true
worker requests.batch scoring worker-batch2.log results.batch
batch_pid=${pids[-1]}
"$P" score -b "$brokers" --model fashion --input "$work/data/test.npy" --output "$work/warm2.avro" >/dev/null 2>&1
out=$("$P" score -b "$brokers" --model fashion --input "$work/rows.npy" \
        --output "$work/out-npy2.avro" --progress-interval 3600 2>"$work/score-npy2.log" | grep '^summary')
echo "npy, worker defaults: $out"
npy_default=$(field rows_per_s <<<"$out")
# back to the scoring fleet's settings for the backfill of part 3
kill -TERM "$batch_pid"; wait "$batch_pid" 2>/dev/null || true
# shellcheck disable=SC2086
worker requests.batch scoring worker-batch3.log results.batch $batch_worker

echo "== 3. online p99 at $rate requests/s for $seconds s"
n=$(( rate * seconds ))
/usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[2], np.load(sys.argv[1])[:int(sys.argv[3])])" \
  "$work/data/test.npy" "$work/online.npy" "$n"
online_p99() { # label
  "$P" -b "$brokers" -t requests --model fashion --input "$work/online.npy" \
     --rows-per-request 1 --rate "$rate" --wait 2>/dev/null |
     grep '^summary' | sed "s/^/$1: /"
}
backfill() { # topic results: score the .npy again and again until bf.stop appears
  rm -f "$work/bf.stop"; : >"$work/bf.out"
  # the results topic is the serving worker's own (-r): a worker answers a
  # reply_topic that is not its result topic INVALID_REQUEST (docs/scoring.md)
  ( while [ ! -e "$work/bf.stop" ]; do
      "$P" score -b "$brokers" -t "$1" --results "$2" --model fashion --input "$work/rows.npy" \
         --output "$work/bf.avro" --restart --progress-interval 3600 \
         >"$work/bf.one" 2>>"$work/bf.log" || true
      grep '^summary' "$work/bf.one" >>"$work/bf.out" || true
    done ) &
  bpid=$!
  sleep 2
}
backfill_stop() { # the pass in progress finishes
  touch "$work/bf.stop"; wait $bpid 2>/dev/null || true
  echo "backfill: $(wc -l <"$work/bf.out") passes of $rows rows, rows/s:" \
       "$(sed -n 's/.*rows_per_s=\([0-9.]*\).*/\1/p' "$work/bf.out" | tr '\n' ' ')"
}
alone=$(online_p99 alone); echo "$alone"
backfill requests.batch results.batch
beside=$(online_p99 "backfill on requests.batch"); echo "$beside"
backfill_stop
backfill requests results
shared=$(online_p99 "backfill on requests (shared)"); echo "$shared"
backfill_stop

echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| path | rows/s | vs online |"
echo "|---|---|---|"
echo "| online, 1 row/request | $online | 1.0x |"
for f in npy csv avro; do
  printf '| score, %s input | %s | %.1fx |\n' "$f" "${sc[$f]}" "$(echo "${sc[$f]} / $online" | bc -l)"
  [ -n "${BENCH_BASE:-}" ] &&
    printf '| score, %s input, base scorer | %s | %.1fx |\n' "$f" "${scb[$f]}" "$(echo "${scb[$f]} / $online" | bc -l)"
done
printf '| score, npy input, scoring worker at the online defaults | %s | %.1fx |\n' "$npy_default" "$(echo "$npy_default / $online" | bc -l)"
echo
echo "| online at $rate req/s | p50 ms | p99 ms | max ms |"
echo "|---|---|---|---|"
for l in "$alone" "$beside" "$shared"; do
  printf '| %s | %s | %s | %s |\n' "${l%%: *}" "$(field p50_ms <<<"$l")" "$(field p99_ms <<<"$l")" "$(field max_ms <<<"$l")"
done
