#!/usr/bin/env bash
# bench/gpu/run.sh - on a GPU machine: build (Release, CUDA on), run every
# GPU test, then the GPU benchmark; the summary table is printed last.
# Budget: under 8 minutes on one H100 (build for the detected card only).
#
# Usage: bench/gpu/run.sh [--quick]      BUILD_DIR=... to choose the build dir
# Exit: 0 when every GPU test passed (skips included) and the benchmark ran,
#       1 otherwise.  The GOAL lines report, they do not fail the script.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build-gpu-bench}
quick=${1:-}
t_start=$(date +%s)

# cuBLAS may be missing from pip-layout toolkits; this is a no-op otherwise.
"$root/lib/cuda/install-cublas.sh" || true

# Real code for the card we are on only (one architecture halves nvcc
# time); without nvidia-smi, A100 + H100 code.
arch="80;90"
if command -v nvidia-smi >/dev/null 2>&1; then
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  [[ "$cc" =~ ^[0-9]+$ ]] && arch=$cc
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
echo "run.sh: CUDA architecture $arch, build dir $build" >&2

# The standalone project (bench/gpu/standalone) builds only the executor,
# the CUDA backend, the GPU tests and the benchmark: no Kafka / Avro /
# PostgreSQL packages needed on the GPU machine.
if ! cmake -S "$here/standalone" -B "$build" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CUDA_ARCHITECTURES="$arch" > "$build.configure.log" 2>&1; then
  cat "$build.configure.log"; echo "run.sh: configure failed" >&2; exit 1
fi
if ! cmake --build "$build" -j "$(nproc)" > "$build.build.log" 2>&1; then
  tail -50 "$build.build.log"; echo "run.sh: build failed" >&2; exit 1
fi
echo "run.sh: built in $(( $(date +%s) - t_start ))s" >&2

tests_rc=0
ctest --test-dir "$build" -L gpu --output-on-failure --timeout 300 || tests_rc=1
echo "run.sh: tests done at $(( $(date +%s) - t_start ))s (rc $tests_rc)" >&2

bench_rc=0
timeout 420 "$build/bench/bench_gpu" $quick | tee "$build/bench_gpu.txt" || bench_rc=1
echo
echo "== GPU tests: $([ $tests_rc = 0 ] && echo PASS || echo FAIL)   benchmark: $([ $bench_rc = 0 ] && echo ran || echo FAILED)   total $(( $(date +%s) - t_start ))s"
[ $tests_rc = 0 ] && [ $bench_rc = 0 ]
