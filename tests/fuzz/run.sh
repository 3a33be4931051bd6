#!/usr/bin/env bash
# run.sh [TARGET...] - build the fuzz targets with clang + libFuzzer + ASan +
# UBSan (build/fuzz) and fuzz each for SWARM_FUZZ_SECONDS (default 60),
# starting from its committed corpus (corpus/TARGET) and the recorded
# findings (crashes/TARGET).  Targets: request onnx conf npy csv (default
# all).  Fails (exit 1) on any finding: a sanitizer report, a broken
# invariant, a timeout (> 10 s for one input) or an out-of-memory (> 2 GiB).
#
# libFuzzer runs in fork mode with crashes ignored, so one finding does not
# end the budget; afterwards every artifact is replayed to classify it by
# the first project frame of its stack.  Findings are copied to
# build/fuzz/findings/TARGET/ (reproducers to commit under crashes/TARGET
# once fixed).
#
# SWARM_FUZZ_EXEC_FINDINGS=warn: findings of fuzz_onnx whose first project
# frame is in lib/exec/ are reported and kept but do not fail the run.  That
# is for CI while issue 10's defect 1 (model-file shape arithmetic, owned by
# the executor's work) is open; everything else still fails.  Default: fail.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
secs=${SWARM_FUZZ_SECONDS:-60}
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(request onnx conf npy csv)

if ! command -v clang >/dev/null; then
        echo "fuzz: clang not installed (.ci/deps installs it)" >&2
        exit 1
fi
jobs=$(nproc 2>/dev/null || echo 2)
CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSWARM_FUZZ=ON \
        -DSWARM_SANITIZE=address,undefined -DSWARM_CUDA=OFF >build/fuzz.cmake.log 2>&1 ||
        { cat build/fuzz.cmake.log >&2; exit 1; }
cmake --build build/fuzz -j"$jobs" --target "${targets[@]/#/fuzz_}" >build/fuzz.build.log 2>&1 ||
        { tail -40 build/fuzz.build.log >&2; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
fail=0
for t in "${targets[@]}"; do
        bin=$root/build/fuzz/tests/fuzz/fuzz_$t
        work=$root/build/fuzz/work/$t
        found=$root/build/fuzz/findings/$t
        rm -rf "$work" "$found"
        mkdir -p "$work/corpus" "$work/artifacts" "$found"
        seeds=("$root/tests/fuzz/corpus/$t")
        [[ -d $root/tests/fuzz/crashes/$t ]] && seeds+=("$root/tests/fuzz/crashes/$t")
        t0=$(date +%s)
        (cd "$work" && "$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
                -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
                -artifact_prefix="$work/artifacts/" corpus "${seeds[@]}" >"$work/log" 2>&1)
        el=$(( $(date +%s) - t0 ))
        execs=$(grep -Eo 'exec/s:? [0-9]+' "$work/log" | tail -1 | grep -Eo '[0-9]+$' || echo 0)
        ncorp=$(ls "$work/corpus" | wc -l)
        n_bad=0 n_exec=0
        for a in "$work/artifacts"/*; do
                [[ -e $a ]] || continue
                name=$(basename "$a")
                # replay once for the stack; classify by its first frame in
                # the project's lib/ (the target's own file does not count)
                (cd "$work" && timeout 60 "$bin" "$a" >"$work/$name.txt" 2>&1)
                where=$(grep -Eo "$root/lib/[^ :]+" "$work/$name.txt" | head -1)
                cp "$a" "$found/"
                cp "$work/$name.txt" "$found/"
                if [[ $t == onnx && $where == "$root/lib/exec/"* ]]; then
                        n_exec=$((n_exec + 1))
                        echo "fuzz: $t: $name in ${where#$root/} (lib/exec)" >&2
                else
                        n_bad=$((n_bad + 1))
                        echo "fuzz: $t: $name in ${where:-?}" >&2
                        grep -E 'ERROR|runtime error|invariant|SUMMARY' "$work/$name.txt" | head -3 >&2
                fi
        done
        echo "fuzz: $t: ${el}s, last exec/s $execs, corpus $ncorp, findings $n_bad, lib/exec findings $n_exec"
        if ((n_bad)); then
                fail=1
        fi
        if ((n_exec)) && [[ ${SWARM_FUZZ_EXEC_FINDINGS:-fail} != warn ]]; then
                fail=1
        fi
        if ! grep -q "Done\|INFO: fuzzed for" "$work/log" && ((n_bad + n_exec == 0)); then
                echo "fuzz: $t: libFuzzer did not finish its budget:" >&2
                tail -20 "$work/log" >&2
                fail=1
        fi
done
exit $fail
