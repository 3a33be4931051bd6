# Sourced by with-broker.sh, with-secure-broker.sh and with-cluster.sh: the
# steps every one of these wrappers takes around the command it runs.
# Each exits the wrapper itself, with the wrapper's documented codes
# (2 usage, 125 the broker could not be started).

# wrap_need_cmd USAGE N: N is the $# left at the "--"; unless it counts the
# "--" and a command, print "usage: USAGE" and exit 2.
wrap_need_cmd() {
  if [[ $2 -lt 2 ]]; then
    echo "usage: $1" >&2
    exit 2
  fi
}

# wrap_need_tools NAME TOOL...: exit 125 (NAME: TOOL not found) unless each
# TOOL is a command or an executable path.
wrap_need_tools() {
  local name=$1 t
  shift
  for t; do
    command -v "$t" >/dev/null || { echo "$name: $t not found" >&2; exit 125; }
  done
}

# wrap_traps CLEANUP: run CLEANUP on every exit, and turn ^C, SIGTERM (from
# ctest) and SIGHUP into exits, so no JVM or temp folder outlives the test.
wrap_traps() {
  # shellcheck disable=SC2064 # CLEANUP is meant to be expanded now
  trap "$1" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP
}

# wrap_stop PID [TENTHS]: SIGTERM PID (a child of this shell) if it still
# runs and reap it; with TENTHS, SIGKILL it when it has not exited within
# TENTHS tenths of a second.
wrap_stop() {
  local pid=$1 tenths=${2:-}
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  if [[ -n $tenths ]]; then
    for _ in $(seq 1 "$tenths"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
}
