# Sourced by the shell tests.  wait_for SECONDS DESCRIPTION CMD...: run CMD
# every 0.2 s until it succeeds; after SECONDS call the test's own
# fail() with what it waited for (so the wait can fail the test).
wait_for() {
  local s=$1 what=$2; shift 2
  for _ in $(seq 1 $((s * 5))); do "$@" && return 0; sleep 0.2; done
  fail "timed out after $s s waiting for: $what"
}

# stop_pid PID: SIGTERM a still-running background process and reap it.
stop_pid() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then kill -TERM "$1"; wait "$1"; fi
}

# test_workdir: $work, a temporary folder, and $wpid, the worker's pid once
# the test sets it; at exit the worker gets SIGTERM, every background job is
# reaped and the folder removed.
test_workdir() {
  work=$(mktemp -d)
  wpid=
  trap test_cleanup EXIT
}

test_cleanup() {
  [ -n "$wpid" ] && kill -TERM "$wpid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
  return 0
}
