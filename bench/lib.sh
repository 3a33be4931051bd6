# Sourced by the benchmark scripts (bench/pipeline.sh, bench/score/run.sh).

# bench_build BUILD PROGRAM: a Release build in BUILD unless PROGRAM (a path
# below it) is there already.
bench_build() {
  if [ ! -x "$1/$2" ]; then
    cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$1" -j"$(nproc)" >/dev/null
  fi
}

# bench_workdir NAME: $work, a temporary folder removed at exit, and $pids,
# the background processes (append with pids+=($!)), stopped at exit in
# reverse order (workers before the broker).
bench_workdir() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
