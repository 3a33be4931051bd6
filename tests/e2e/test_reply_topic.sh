#!/usr/bin/env bash
# A request's reply_topic overrides the worker's result topic when it matches
# the worker's --reply-topics; a reply topic that does not exist makes the
# request a dead-letter record (with the reason) instead of losing it; one
# outside the allowlist (here the request topic itself, and a name over
# Kafka's 249-character limit) is answered INVALID_REQUEST on the result
# topic and nothing is written to it.  The worker counts answers at delivery, so those are
# dead letters, not "ok".  Runs under with-broker.sh (SWARM_BOOTSTRAP set).
# Usage: test_reply_topic.sh CONSUMER PRODUCER TOPIC_COUNT MODEL DATA_DIR
set -euo pipefail
consumer=$1 producer=$2 topic_count=$3 model=$4 data=$5
. "$(dirname "$0")/../lib/wait.sh"
test_workdir
fail() { echo "FAIL: $*" >&2; cat "$work/worker.log" >&2; exit 1; }
count() { "$topic_count" "$SWARM_BOOTSTRAP" "$1" || fail "cannot count topic $1"; }

"$consumer" -b "$SWARM_BOOTSTRAP" -g reply-test -M "fashion=$model" --metrics-port 0 \
  --reply-topics 'replies|no-such-.*' \
  -X topic.metadata.propagation.max.ms=1000 -X message.timeout.ms=10000 \
  2>"$work/worker.log" &
wpid=$!

# 100 requests answered on "replies", none on "results"
out=$("$producer" -b "$SWARM_BOOTSTRAP" --model fashion --input "$data/test.csv" \
        --reply-topic replies --wait --timeout 120)
grep -q '^summary sent=100 answered=100 ok=100 ' <<<"$out" || fail "reply topic: $out"
[ "$(count replies)" = 100 ] || fail "replies holds $(count replies) records, not 100"
[ "$(count results)" = 0 ] || fail "results holds $(count results) records, not 0"

# 100 requests asking for a topic that does not exist: dead-lettered
"$producer" -b "$SWARM_BOOTSTRAP" --model fashion --input "$data/test.csv" \
  --reply-topic no-such-topic --timeout 30 >/dev/null 2>&1 || true
n=0
for _ in $(seq 1 120); do
  n=$(count requests.dlq)
  [ "$n" -ge 100 ] && break
  sleep 0.5
done
[ "$n" -eq 100 ] || fail "expected 100 dead-letter records, saw $n"
[ "$(grep -c "could not be delivered to reply_topic" "$work/worker.log")" = 100 ] ||
  fail "expected 100 dead-lettering log lines"
[ "$(count results)" = 0 ] || fail "results holds $(count results) records after the DLQ run"

# the request topic is not an allowed reply topic: INVALID_REQUEST on results,
# and the request topic gets nothing beyond the 300 requests
before=$(count requests)
out=$("$producer" -b "$SWARM_BOOTSTRAP" --model fashion --input "$data/test.csv" \
        --reply-topic requests --results results --wait --timeout 120 2>/dev/null) || true
grep -q '^summary sent=100 answered=100 ok=0 invalid_request=100 ' <<<"$out" ||
  fail "reply_topic=requests: $out"
[ "$(count requests)" = $((before + 100)) ] ||
  fail "requests holds $(count requests) records, expected $((before + 100))"
[ "$(count results)" = 100 ] || fail "results holds $(count results), not the 100 refusals"
[ "$(count requests.dlq)" = 100 ] || fail "the refusals reached the DLQ"
long=$(printf 'r%.0s' $(seq 1 250))
out=$("$producer" -b "$SWARM_BOOTSTRAP" --model fashion --input "$data/test.csv" \
        --reply-topic "$long" --results results --wait --timeout 120 2>/dev/null) || true
grep -q '^summary sent=100 answered=100 ok=0 invalid_request=100 ' <<<"$out" ||
  fail "250-character reply_topic: $out"

kill -TERM $wpid; wait $wpid || fail "worker exited non-zero"; wpid=
grep -q "summary messages=400 ok=100 invalid_request=200 .*dead_lettered=100" "$work/worker.log" ||
  fail "worker summary: $(grep summary "$work/worker.log")"
echo "reply_topic: 100 answered on replies, 100 dead-lettered for a missing topic," \
     "200 refused (the request topic, a 250-character name) on results"
