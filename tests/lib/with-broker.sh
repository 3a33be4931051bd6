#!/usr/bin/env bash
# with-broker.sh [--mock] [--topic T:N]... [other swarm-broker options] -- CMD ARGS...
#
# Starts swarm-broker, waits for its bootstrap file (SWARM_BROKER_TIMEOUT,
# default 120 s), runs CMD with SWARM_BOOTSTRAP=host:port exported, stops the
# broker with SIGTERM and exits with CMD's status.  The broker binary is
# $SWARM_BROKER_BIN (CTest sets it), else build/tests/broker/swarm-broker of
# this checkout, else swarm-broker on PATH.  Exit 125: the broker could not
# be started; 2: usage.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kafka-common.sh
. "$here/kafka-common.sh"
bin=${SWARM_BROKER_BIN:-}
if [[ -z $bin ]]; then
        for c in "$here/../../build/tests/broker/swarm-broker" \
                 "$(command -v swarm-broker 2>/dev/null || true)"; do
                if [[ -n $c && -x $c ]]; then bin=$c; break; fi
        done
fi
if [[ -z $bin || ! -x $bin ]]; then
        echo "with-broker.sh: swarm-broker not found; set SWARM_BROKER_BIN" >&2
        exit 125
fi

opts=()
while [[ $# -gt 0 && $1 != -- ]]; do opts+=("$1"); shift; done
wrap_need_cmd "with-broker.sh [swarm-broker options] -- CMD ARGS..." $#
shift # the "--"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/with-broker.XXXXXX") || exit 125
bpid=
# Every exit path (CMD failure, timeout, ^C, SIGTERM from ctest) stops the
# broker, so no JVM or temp folder outlives the test.
cleanup() {
        wrap_stop "$bpid"
        rm -rf "$tmp"
}
wrap_traps cleanup

"$bin" "${opts[@]}" --bootstrap-file "$tmp/bootstrap" >"$tmp/stdout" &
bpid=$!

deadline=$(( $(date +%s) + ${SWARM_BROKER_TIMEOUT:-120} ))
while [[ ! -s $tmp/bootstrap ]]; do
        if ! kill -0 "$bpid" 2>/dev/null; then
                wait "$bpid"; rc=$?
                bpid=
                echo "with-broker.sh: swarm-broker exited ($rc) before it was ready" >&2
                exit 125
        fi
        if (( $(date +%s) >= deadline )); then
                echo "with-broker.sh: no bootstrap after ${SWARM_BROKER_TIMEOUT:-120} s" >&2
                exit 125
        fi
        sleep 0.1
done
SWARM_BOOTSTRAP=$(sed -n 's/^bootstrap\.servers=//p' "$tmp/bootstrap")
export SWARM_BOOTSTRAP

"$@"
rc=$?

kill -TERM "$bpid" 2>/dev/null
wait "$bpid"; brc=$?
bpid=
if [[ $brc -ne 0 ]]; then
        echo "with-broker.sh: swarm-broker exited with $brc" >&2
fi
exit $rc
