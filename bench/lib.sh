# Sourced by the benchmark scripts (bench/pipeline.sh, bench/score/run.sh,
# bench/memory/run.sh, bench/peer/run.sh, bench/scaling/run.sh).

# bench_build BUILD PROGRAM: a Release build in BUILD unless PROGRAM (a path
# below it) is there already.
bench_build() {
  if [ ! -x "$1/$2" ]; then
    cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$1" -j"$(nproc)" >/dev/null
  fi
}

# bench_workdir NAME: $work, a temporary folder removed at exit (kept, and
# named on stderr, when KEEP is set), and $pids, the background processes
# (append with pids+=($!)), stopped at exit in reverse order (workers
# before the broker).
bench_workdir() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true
  done
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}

# bench_broker ARGS...: swarm-broker from $build with ARGS (topics, --mock)
# in the background, added to $pids; waits (up to 3 minutes: a fresh KRaft
# JVM on a loaded machine) for its bootstrap line and sets $brokers, or
# prints the broker's log and exits.
bench_broker() {
  "$build/tests/broker/swarm-broker" "$@" --bootstrap-file "$work/bootstrap" \
    >/dev/null 2>"$work/broker.log" &
  pids+=($!)
  local i
  for i in $(seq 1 900); do
    [ -s "$work/bootstrap" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.2
  done
  brokers=$(sed -n 's/^bootstrap.servers=//p' "$work/bootstrap")
  [ -n "$brokers" ] || { cat "$work/broker.log" >&2; exit 1; }
}
