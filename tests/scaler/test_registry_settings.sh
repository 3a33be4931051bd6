#!/usr/bin/env bash
# The scaler takes min/max workers, the drain target and the request topic
# from the registry's deployment settings of --model, over its flags; and
# `status --registry` lists the models deployed on the topic with their
# production/staging versions and settings.
# Runs under with-postgres.sh and with-broker.sh --mock.
# Usage: test_registry_settings.sh SCALER REGISTRY MODEL
set -euo pipefail
scaler=$1 reg=$2 model=$3
log=$(mktemp)
trap 'rm -f "$log"' EXIT

"$reg" migrate >/dev/null
"$reg" register fashion "$model" >/dev/null
"$reg" register fashion "$model" >/dev/null
"$reg" promote fashion 1 >/dev/null
"$reg" promote fashion 2 --alias staging >/dev/null
"$reg" config fashion request_topic=reqs min_workers=2 max_workers=3 lag_target=7 >/dev/null

# flags say min 1 / max 8 / topic requests: the registry must win
timeout 5 "$scaler" -b "$SWARM_BOOTSTRAP" -t requests -g g --min 1 --max 8 \
  --registry "$SWARM_REGISTRY" --model fashion --no-group-api --actuator none \
  --poll-interval 1 --metrics-port -1 2>"$log" || true
if ! grep -q "watching topic=reqs group=g .* min=2 max=3 drain_target_s=7 " "$log"; then
  echo "FAIL: scaler did not take the deployment settings:" >&2
  cat "$log" >&2
  exit 1
fi
# an unknown model is a clear error, not a silent fallback to the flags
if "$scaler" -b "$SWARM_BOOTSTRAP" -t requests -g g --registry "$SWARM_REGISTRY" \
     --model nosuch --no-group-api --metrics-port -1 2>"$log"; then
  echo "FAIL: unknown model accepted" >&2; exit 1
fi
grep -qi "nosuch" "$log" || { echo "FAIL: error does not name the model:" >&2; cat "$log" >&2; exit 1; }
# status: the model on the watched topic, its versions and settings; with
# and without --model
for m in "--model fashion" ""; do
  # shellcheck disable=SC2086 # $m is zero or two words
  out=$("$scaler" status -b "$SWARM_BOOTSTRAP" -t reqs -g g --no-group-api \
          --registry "$SWARM_REGISTRY" $m 2>"$log") ||
    { echo "FAIL: status ($m):" >&2; cat "$log" >&2; exit 1; }
  if ! grep -Eq '^ +fashion +production v1 +staging v2 +workers 2\.\.3 ' <<<"$out"; then
    echo "FAIL: status ($m) does not show fashion production v1 staging v2:" >&2
    echo "$out" >&2; exit 1
  fi
done
echo "$out" >&2 # the screen, for the log
# a topic no model is deployed on lists none; no registry says so
out=$("$scaler" status -b "$SWARM_BOOTSTRAP" -t requests -g g --no-group-api \
        --registry "$SWARM_REGISTRY" 2>"$log")
grep -q '^models on requests (registry): 0$' <<<"$out" ||
  { echo "FAIL: status on a topic without models:" >&2; echo "$out" >&2; exit 1; }
out=$(env -u SWARM_REGISTRY "$scaler" status -b "$SWARM_BOOTSTRAP" -t reqs -g g --no-group-api 2>"$log")
grep -q '^models: unknown (give --registry)$' <<<"$out" ||
  { echo "FAIL: status without a registry:" >&2; echo "$out" >&2; exit 1; }
echo "$out" | tail -1 >&2
echo "scaler registry settings: min=2 max=3 drain_target_s=7 topic=reqs taken from the registry"
