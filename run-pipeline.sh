#!/usr/bin/env bash
# run-pipeline.sh - the main job, and Quick start command 1: install what is
# missing, build, and run the inference pipeline end to end on local defaults
# it starts itself:
#   a throw-away PostgreSQL (the model registry: migrated, the shipped model
#     registered and promoted to production),
#   a local Kafka broker (swarm-broker: Apache Kafka fetched through Maven),
#   one batching worker serving the model through the registry,
#   the 10,000-image Fashion-MNIST test set sent through the pipeline,
#   the producer's summary plus the accuracy against the labels.
# Everything it started is stopped on exit.  SWARM_DEMO_MOCK=1 uses
# librdkafka's mock cluster instead of the JVM broker.
# (.ci/demo, CI's entry point for it, runs this.)
set -euo pipefail
cd "$(dirname "$0")"
root=$PWD
bin=$root/build/release

if [ "${1:-}" != --inside ]; then
  bash .ci/deps
  echo "== building (build/release)"
  mkdir -p build
  if ! { cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release &&
         cmake --build build/release -j"$(nproc 2>/dev/null || echo 2)"; } >build/demo-build.log 2>&1; then
    tail -40 build/demo-build.log >&2
    exit 1
  fi
  echo "== starting PostgreSQL for the model registry"
  exec bash tests/lib/with-postgres.sh -- bash "$root/run-pipeline.sh" --inside
fi

work=$(mktemp -d /tmp/swarm-demo.XXXXXX)
pids=()
cleanup() {
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== registry: migrate, register and promote the shipped model"
"$bin/registry/swarm-registry" migrate
"$bin/registry/swarm-registry" register fashion tests/fixtures/fashion-mlp/model.onnx \
  --description "Fashion-MNIST MLP 784-128-10 (tests/fixtures/fashion-mlp/train.py)"
"$bin/registry/swarm-registry" promote fashion 1 --reason "quick start"
"$bin/registry/swarm-registry" config fashion request_topic=requests result_topic=results \
  max_batch_rows=256 max_delay_us=2000 min_workers=1 max_workers=2 lag_target=2 >/dev/null
"$bin/registry/swarm-registry" list

echo "== test set: Fashion-MNIST (Debian's dataset-fashion-mnist)"
/usr/bin/python3 tests/fixtures/fashion-mlp/make_data.py "$work/data"

echo "== starting the local Kafka broker"
mock=() scaler_mock=()
if [ "${SWARM_DEMO_MOCK:-0}" = 1 ]; then
  mock=(--mock --watch-group swarm-workers)
  scaler_mock=(--no-group-api)   # the mock has no group Admin API
fi
"$bin/tests/broker/swarm-broker" "${mock[@]}" --topic requests:16 --topic results:16 \
  --topic requests.dlq:1 --bootstrap-file "$work/bootstrap" >"$work/broker.out" 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 1 600); do
  [ -s "$work/bootstrap" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/broker.log" >&2; exit 1; }
  sleep 0.2
done
[ -s "$work/bootstrap" ] || { echo "broker did not start" >&2; cat "$work/broker.log" >&2; exit 1; }
brokers=$(sed -n 's/^bootstrap.servers=//p' "$work/bootstrap")
echo "   bootstrap.servers=$brokers"

echo "== starting the scaler (swarm-scaler, local actuator): it runs the workers"
echo "   (swarm-consumer serving the registry's production version), from one"
"$bin/scaler/swarm-scaler" -b "$brokers" -g swarm-workers --registry "$SWARM_REGISTRY" \
  --model fashion --actuator local --poll-interval 1 --scale-down-window 10 \
  --worker-capacity 5000 "${scaler_mock[@]}" -- \
  "$bin/consumer/swarm-consumer" -b "$brokers" -g swarm-workers --registry "$SWARM_REGISTRY" \
  --log-level warn 2>"$work/scaler.log" &
pids+=($!)

echo "== warming up: 100 requests while the worker joins the group"
"$bin/producer/swarm-producer" -b "$brokers" --model fashion --input "$work/data/test.csv" \
  --wait --timeout 120 --id-prefix warmup- >/dev/null 2>&1

echo "== sending the test set (swarm-producer), waiting for every response"
"$bin/producer/swarm-producer" -b "$brokers" --model fashion --input "$work/data/test.npy" \
  --repeat 5 --wait --output "$work/predictions.npy"

/usr/bin/python3 - "$work/predictions.npy" "$work/data/labels.npy" <<'PY'
import sys, numpy as np
p = np.load(sys.argv[1]); y = np.load(sys.argv[2])
acc = float((p.argmax(axis=1) == y).mean())
print(f"accuracy={acc:.4f} ({int((p.argmax(axis=1) == y).sum())}/{len(y)} correct, "
      f"model trained to 0.8808)")
PY
echo "== what the scaler did (workers over time, and why)"
sleep 25   # rate window + scale-down window: the fleet shrinks back after the burst
grep -E " decision | worker (started|exited|stopped|replaced)" "$work/scaler.log" |
  sed -E 's/^([0-9T:.-]+)Z [A-Z]+ swarm-scaler: /  \1 /' || true
echo "== stopping the scaler (and its workers), the broker and PostgreSQL"
