#!/usr/bin/python3
"""read_results.py - read Swarm's responses from the result topic in Python.

  read_results.py -b BROKERS --expect N --output predictions.npy
                  [--topic results] [--id-prefix py-] [--timeout 120]
                  [--registry URL [--registry-user USER:PASSWORD]]

Reads the result topic from the beginning in a group of its own, keeps the
responses whose request id starts with PREFIX, and when N rows have
arrived writes their first output in request order ([N, classes] float32)
and prints a summary (answered, by status, mean batch rows, workers).
Response schema ids other than Swarm's fixed 2 are fetched from --registry
(Confluent's GET /schemas/ids/{id}) and resolved against
schemas/InferenceResponse.avsc.
"""
import argparse
import collections
import sys
import time
import uuid

import numpy
from confluent_kafka import Consumer

import swarm_wire


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-b", "--brokers", required=True)
    ap.add_argument("-t", "--topic", default="results")
    ap.add_argument("--expect", type=int, required=True, help="rows")
    ap.add_argument("--output", required=True)
    ap.add_argument("--id-prefix", default="py-")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--registry")
    ap.add_argument("--registry-user")
    ap.add_argument("--response-id", type=int, action="append", default=[],
                    help="another id that stands for our own response schema")
    a = ap.parse_args()

    reg = swarm_wire.Registry(a.registry, a.registry_user) if a.registry else None
    writers = {swarm_wire.RESPONSE_ID: swarm_wire.RESPONSE}
    for i in a.response_id:
        writers[i] = swarm_wire.RESPONSE
    c = Consumer({"bootstrap.servers": a.brokers, "group.id": "py-results-" + uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([a.topic])
    rows = {}
    status = collections.Counter()
    batch_rows, workers = [], set()
    got = 0
    end = time.time() + a.timeout
    while got < a.expect and time.time() < end:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        raw = m.value()
        sid = int.from_bytes(raw[1:5], "big") if raw and len(raw) >= 5 else -1
        if sid not in writers and reg:
            writers[sid] = reg.schema(sid)
        r = swarm_wire.decode(swarm_wire.RESPONSE, raw, writers)
        if not r["request_id"].startswith(a.id_prefix) or r["request_id"] in rows:
            continue
        status[r["status"]] += 1
        out = r["outputs"][0] if r["outputs"] else None
        if out is not None:
            v = numpy.frombuffer(out["data"], dtype="<f4").reshape(out["shape"])
        else:
            v = numpy.zeros((0, 0), dtype="float32")
        rows[r["request_id"]] = v
        got += v.shape[0] if out is not None else 1
        batch_rows.append(r["batch_rows"])
        workers.add(r["worker"])
    c.close()
    if got < a.expect:
        print("read_results.py: %d of %d rows after %.0f s" % (got, a.expect, a.timeout),
              file=sys.stderr)
        return 1
    order = sorted(rows, key=lambda k: int(k[len(a.id_prefix):]))
    numpy.save(a.output, numpy.concatenate([rows[k] for k in order]).astype("float32"))
    print("answered=%d rows=%d %s mean_batch_rows=%.1f workers=%d" % (
        len(rows), got, " ".join("%s=%d" % kv for kv in sorted(status.items())),
        sum(batch_rows) / len(batch_rows), len(workers)))
    return 0 if set(status) == {"OK"} else 1


if __name__ == "__main__":
    sys.exit(main())
