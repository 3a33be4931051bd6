#!/usr/bin/env bash
# Compare swarm's executor with onnxruntime-node (CPU) on the same ONNX files
# at the same thread counts.  Usage: bash bench/exec/run.sh [BUILD_DIR]
# Needs node/npm; installs onnxruntime-node into bench/exec/node_modules on
# first use (ONNXRUNTIME_NODE_INSTALL=skip: CPU only).
# BENCH_SET=base (the MLPs and the fashion CNN), families (the model-family
# fixtures of tests/fixtures/families, made with the local wheels on first
# use), all (default: both), or zoo (tests/fixtures/families/zoo.txt's
# architectures, one case each).  BENCH_ONLY: an extended regex; only models whose
# name matches run.  BENCH_THREADS: thread counts (default "1 2");
# BENCH_FAMILY_BATCHES: batch sizes of the families (default "1 16 64");
# BENCH_BATCHES: those of the MLPs and the CNN (default "1 16 64 256 1024").
# BENCH_BASE: the build folder of another bench_exec (say, the commit
# before a change): it is timed on the same cells right after ours, and two
# more columns show its time and ort/base, so before and after come from
# one run under the same load.
set -euo pipefail
# OpenBLAS (the pthreads build) starts its own worker threads when it is
# loaded, and they spin on sched_yield for about 0.1 s before they sleep:
# 17% of the samples of a short bench_exec run (perf, one thread), in the
# first cells, where they take the second core from a 2-lane run and count
# in BENCH_CPU_TIME.  swarm never uses them (the CPU backend calls
# openblas_set_num_threads(1)), so none are started here.
export OPENBLAS_NUM_THREADS=1
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/bench/exec"
build=${1:-$root/build-bench}
set_=${BENCH_SET:-all}
batches=${BENCH_BATCHES:-1 16 64 256 1024}
family_batches=${BENCH_FAMILY_BATCHES:-1 16 64}
if [ ! -x "$build/bench/exec/bench_exec" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" --target bench_exec >/dev/null
fi
if [ ! -d "$here/node_modules/onnxruntime-node" ]; then
  (cd "$here" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund onnxruntime-node >/dev/null)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# name=model.onnx[=inputs folder]
models=""
if [ "$set_" != families ] && [ "$set_" != zoo ]; then
  /usr/bin/python3 "$here/make_mlp.py" "$work/mlp-1024.onnx"
  models="fashion-mlp=$root/tests/fixtures/fashion-mlp/model.onnx
fashion-cnn=$root/tests/fixtures/fashion-cnn/model.onnx
mlp-784-1024-1024-10=$work/mlp-1024.onnx"
fi
if [ "$set_" = zoo ]; then
  # zoo.txt's architectures, each once (NAME, or NAME_ts where it has no
  # NAME), on its first case
  fam_gen="$build/data/families"
  bash "$root/tests/fixtures/families/make.sh" "$build/venv-families" "$fam_gen" large,zoo >&2
  for f in $(grep -v '^#' "$root/tests/fixtures/families/zoo.txt" | awk '{ print $1 }'); do
    d="$fam_gen/$f" c=$(head -1 "$fam_gen/$f/family.txt" | cut -d' ' -f1)
    models="${models:+$models
}$f-$c=$d/model.onnx=$d/$c"
  done
elif [ "$set_" != base ]; then
  fam_src="$root/tests/fixtures/families"
  fam_gen="$build/data/families"
  bash "$fam_src/make.sh" "$build/venv-families" "$fam_gen" large >&2
  # each family from both exporters (NAME: dynamo, NAME_ts: TorchScript)
  for fc in bert:s32 bert:s128 dlrm:b4 gru:t25 lstm:t25 seg:h96w128 \
            resnet18:b2 mobilenet_v3_small:b2 efficientnet_b0:b2 \
            regnet_y_400mf:b2 \
            bert_ts:s32 bert_ts:s128 dlrm_ts:b4 gru_ts:t25 lstm_ts:t25 \
            seg_ts:h96w128 resnet18_ts:b2 mobilenet_v3_small_ts:b2 \
            efficientnet_b0_ts:b2 regnet_y_400mf_ts:b2; do
    f=${fc%%:*} c=${fc#*:} d="$fam_src/$f"
    [ -d "$d" ] || d="$fam_gen/$f"
    models="${models:+$models
}$f-$c=$d/model.onnx=$d/$c"
  done
fi
# OpenBLAS 0.3.21 does not know AVX-512 Zen 4 and falls back to its AVX2
# (Haswell) kernels; OPENBLAS_CORETYPE=SkylakeX selects the AVX-512 ones.
echo "# openblas core: $("$build/bench/exec/bench_exec" "$root/tests/fixtures/fashion-mlp/model.onnx" 1 1 2>&1 >/dev/null | sed -n 's/^openblas core: //p')" \
     "(OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}); load: $(cut -d' ' -f1-3 /proc/loadavg)"
base=${BENCH_BASE:-}
if [ -n "$base" ]; then
  printf '%-26s %7s %6s %12s %12s %7s %12s %8s\n' model threads batch swarm_ms ort_ms ort/swarm base_ms ort/base
else
  printf '%-26s %7s %6s %12s %12s %7s\n' model threads batch swarm_ms ort_ms ort/swarm
fi
: > "$work/ratios"
: > "$work/bratios"
for t in ${BENCH_THREADS:-1 2}; do
  while IFS='=' read -r name path inputs; do
    if [ -n "${BENCH_ONLY:-}" ] && ! grep -Eq "$BENCH_ONLY" <<< "$name"; then
      continue
    fi
    b=$batches args=()
    if [ -n "$inputs" ]; then b=$family_batches args=(--inputs "$inputs"); fi
    # shellcheck disable=SC2086
    if ! "$build/bench/exec/bench_exec" "$path" "$t" "${args[@]}" $b \
         2>"$work/err" > "$work/s.txt"; then
      printf '%-26s %7d   does not load: %s\n' "$name" "$t" \
        "$(grep -v '^openblas core' "$work/err" | head -1 | sed 's|^.*model.onnx: ||')"
      continue
    fi
    # shellcheck disable=SC2086
    node "$here/bench_ort.js" "$path" "$t" "${args[@]}" $b > "$work/o.txt"
    if [ -n "$base" ]; then
      # shellcheck disable=SC2086
      if ! "$base/bench/exec/bench_exec" "$path" "$t" "${args[@]}" $b \
           2>/dev/null > "$work/b.txt"; then
        for _ in $b; do echo "batch=0 ms_per_run=nan"; done > "$work/b.txt"
      fi
    else
      sed 's/.*/batch=0 ms_per_run=0/' "$work/s.txt" > "$work/b.txt"
    fi
    paste "$work/s.txt" "$work/o.txt" "$work/b.txt" |
    while read -r sb sm _ ob om _ bb bm _; do
      b=${sb#batch=}; s=${sm#ms_per_run=}; o=${om#ms_per_run=}
      bs=${bm#ms_per_run=}
      if [ -n "$base" ]; then
        awk -v n="$name" -v t="$t" -v b="$b" -v s="$s" -v o="$o" -v bs="$bs" \
          'BEGIN { printf "%-26s %7d %6d %12.4f %12.4f %7.2f %12.4f %8.2f\n", n, t, b, s, o, o / s, bs, (bs > 0 ? o / bs : 0) }'
        awk -v bs="$bs" -v o="$o" 'BEGIN { if (bs > 0) print o / bs }' >> "$work/bratios"
      else
        awk -v n="$name" -v t="$t" -v b="$b" -v s="$s" -v o="$o" \
          'BEGIN { printf "%-26s %7d %6d %12.4f %12.4f %7.2f\n", n, t, b, s, o, o / s }'
      fi
      awk -v s="$s" -v o="$o" 'BEGIN { print o / s }' >> "$work/ratios"
    done
  done <<< "$models"
done
awk '{ l += log($1); n++; if (n == 1 || $1 < m) m = $1 }
     END { if (n) printf "# %d cells: geometric mean ort/swarm %.2f, lowest %.2f\n", n, exp(l / n), m }' \
  "$work/ratios"
if [ -n "$base" ]; then
  awk '{ l += log($1); n++; if (n == 1 || $1 < m) m = $1 }
       END { if (n) printf "# %d cells: geometric mean ort/base %.2f, lowest %.2f\n", n, exp(l / n), m }' \
    "$work/bratios"
fi
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
