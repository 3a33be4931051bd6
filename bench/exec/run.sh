#!/usr/bin/env bash
# Compare swarm's executor with onnxruntime-node (CPU) on the same ONNX files
# at the same thread counts.  Usage: bash bench/exec/run.sh [BUILD_DIR]
# Needs node/npm; installs onnxruntime-node into bench/exec/node_modules on
# first use (ONNXRUNTIME_NODE_INSTALL=skip: CPU only).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/bench/exec"
build=${1:-$root/build-bench}
batches="1 16 64 256 1024"
if [ ! -x "$build/bench/exec/bench_exec" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" --target bench_exec >/dev/null
fi
if [ ! -d "$here/node_modules/onnxruntime-node" ]; then
  (cd "$here" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund onnxruntime-node >/dev/null)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/make_mlp.py" "$work/mlp-1024.onnx"
models="fashion-mlp=$root/tests/fixtures/fashion-mlp/model.onnx
fashion-cnn=$root/tests/fixtures/fashion-cnn/model.onnx
mlp-784-1024-1024-10=$work/mlp-1024.onnx"
# OpenBLAS 0.3.21 does not know AVX-512 Zen 4 and falls back to its AVX2
# (Haswell) kernels; OPENBLAS_CORETYPE=SkylakeX selects the AVX-512 ones.
echo "# openblas core: $("$build/bench/exec/bench_exec" "$root/tests/fixtures/fashion-mlp/model.onnx" 1 1 2>&1 >/dev/null | sed -n 's/^openblas core: //p')" \
     "(OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}); load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %7s %6s %12s %12s %7s\n' model threads batch swarm_ms ort_ms ort/swarm
for t in 1 2; do
  while IFS='=' read -r name path; do
    "$build/bench/exec/bench_exec" "$path" "$t" $batches 2>/dev/null > "$work/s.txt"
    node "$here/bench_ort.js" "$path" "$t" $batches > "$work/o.txt"
    paste "$work/s.txt" "$work/o.txt" | while read -r sb sm _ ob om _; do
      b=${sb#batch=}; s=${sm#ms_per_run=}; o=${om#ms_per_run=}
      awk -v n="$name" -v t="$t" -v b="$b" -v s="$s" -v o="$o" \
        'BEGIN { printf "%-22s %7d %6d %12.4f %12.4f %7.2f\n", n, t, b, s, o, o / s }'
    done
  done <<< "$models"
done
