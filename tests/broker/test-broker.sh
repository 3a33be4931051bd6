#!/usr/bin/env bash
# test-broker.sh kraft|mock|lowwater|withbroker - CTest driver for
# swarm-broker.  Needs SWARM_BROKER_BIN and SWARM_BROKER_CHECK (set by
# tests/broker/CMakeLists.txt).
set -u
mode=${1:?mode}
bin=${SWARM_BROKER_BIN:?}
check=${SWARM_BROKER_CHECK:?}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-broker.XXXXXX")
bpid=
cleanup() {
        [[ -n $bpid ]] && kill -TERM "$bpid" 2>/dev/null && wait "$bpid"
        rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- broker stderr ---" >&2; cat "$tmp/err" >&2 2>/dev/null; exit 1; }

# start ARGS...: run swarm-broker, wait (120 s) for its first stdout line.
start() {
        "$bin" "$@" >"$tmp/out" 2>"$tmp/err" &
        bpid=$!
        local t0=$(date +%s%N)
        for _ in $(seq 1200); do
                [[ -s $tmp/out ]] && break
                kill -0 "$bpid" 2>/dev/null || fail "swarm-broker exited early"
                sleep 0.1
        done
        bs=$(head -1 "$tmp/out")
        [[ $bs == bootstrap.servers=*:* ]] || fail "first stdout line '$bs'"
        echo "broker ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms: $bs"
}

# stop: SIGTERM, expect exit 0 and (real broker) its temp folder gone.
stop() {
        kill -TERM "$bpid"
        wait "$bpid"; local rc=$?
        bpid=
        [[ $rc -eq 0 ]] || fail "swarm-broker exit status $rc after SIGTERM"
        local dir
        dir=$(sed -n 's/.*kafka broker ready .* dir=\([^ ]*\).*/\1/p' "$tmp/err")
        if [[ -n $dir && -e $dir ]]; then fail "temp folder $dir left behind"; fi
        [[ $(wc -l <"$tmp/out") -eq 1 ]] || fail "stdout has more than one line"
}

case $mode in
kraft)
        start --topic alpha:3 --topic beta:2 --bootstrap-file "$tmp/bs"
        [[ $(cat "$tmp/bs") == "$bs" ]] || fail "bootstrap file differs"
        grep -q 'kafka broker ready .* dir=/' "$tmp/err" || fail "no ready line"
        "$check" --bootstrap "$bs" --expect alpha:3 --expect beta:2 --roundtrip ||
                fail "client checks"
        stop
        ;;
mock)
        start --mock --topic alpha:3 --topic beta:2 --bootstrap-file "$tmp/bs"
        grep -q 'NOT a real Kafka broker' "$tmp/err" || fail "no mock warning"
        "$check" --bootstrap "$bs" --expect alpha:3 --expect beta:2 --roundtrip ||
                fail "client checks"
        stop
        ;;
lowwater)
        start --mock --topic lw:1 --watch-group lagging
        "$check" --bootstrap "$bs" --expect lw:1 --commit-group lagging \
                --fill lw --bytes $((7 * 1024 * 1024)) || fail "fill"
        for _ in $(seq 50); do
                grep -q 'DATA LOST.*group=lagging topic=lw partition=0 committed=0' \
                        "$tmp/err" && break
                sleep 0.1
        done
        grep -q 'DATA LOST.*group=lagging' "$tmp/err" ||
                fail "no low-watermark warning"
        stop
        ;;
withbroker)
        # The harness exports SWARM_BOOTSTRAP and returns CMD's status.
        "$here/../lib/with-broker.sh" --mock --topic wb:2 -- \
                "$check" --expect wb:2 --roundtrip || fail "with-broker.sh ok case"
        "$here/../lib/with-broker.sh" --mock -- sh -c 'exit 7'
        [[ $? -eq 7 ]] || fail "with-broker.sh did not return CMD's status"
        ;;
*)
        echo "unknown mode $mode" >&2; exit 2 ;;
esac
echo "PASS $mode"
