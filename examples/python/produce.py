#!/usr/bin/python3
"""produce.py - send Fashion-MNIST inference requests to Swarm from Python.

  produce.py -b BROKERS --input test.npy [--limit N] [--model fashion]
             [--topic requests] [--id-prefix py-] [--rows-per-request 1]
             [--registry URL [--registry-user USER:PASSWORD]]

Each request carries a FLOAT32 tensor "input" of shape [rows, 784]; its id is
PREFIX + the index of its first row, so read_results.py can put answers back
in order.  With --registry the request schema is registered under
"<topic>-value" (TopicNameStrategy) and records are framed with the id the
registry assigned; without it, with Swarm's fixed id 1.
Debian packages: python3-confluent-kafka python3-avro python3-numpy.
"""
import argparse
import sys

from confluent_kafka import Producer

import swarm_wire


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-b", "--brokers", required=True)
    ap.add_argument("-t", "--topic", default="requests")
    ap.add_argument("--input", required=True)
    ap.add_argument("--model", default="fashion")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--rows-per-request", type=int, default=1)
    ap.add_argument("--id-prefix", default="py-")
    ap.add_argument("--registry")
    ap.add_argument("--registry-user")
    ap.add_argument("--schema", help="writer schema file (an evolved InferenceRequest)")
    ap.add_argument("--schema-id", type=int, help="frame with this id, no registry")
    a = ap.parse_args()

    x = swarm_wire.load_npy(a.input)
    if a.limit:
        x = x[:a.limit]
    text = open(a.schema).read() if a.schema else swarm_wire.schema_text("InferenceRequest")
    writer = swarm_wire.avro.schema.parse(text)
    sid = a.schema_id or swarm_wire.REQUEST_ID
    if a.registry:
        reg = swarm_wire.Registry(a.registry, a.registry_user)
        sid = reg.register(a.topic + "-value", text)
    p = Producer({"bootstrap.servers": a.brokers, "linger.ms": 5})
    failed = []

    def on_delivery(err, msg):
        if err:
            failed.append(err)

    n = 0
    for i in range(0, len(x), a.rows_per_request):
        rows = x[i:i + a.rows_per_request]
        datum = {
            "request_id": "%s%d" % (a.id_prefix, i),
            "model": a.model,
            "version": None,
            "inputs": [{"name": "input", "dtype": "FLOAT32",
                        "shape": [int(rows.shape[0]), int(rows.shape[1])],
                        "data": rows.astype("<f4").tobytes()}],
            "reply_topic": None,
            "deadline_ms": None,
            "metadata": {"client": "python"},
        }
        for f in writer.fields:     # fields an evolved schema added
            datum.setdefault(f.name, f.default)
        while True:
            try:
                p.produce(a.topic, swarm_wire.encode(writer, sid, datum),
                          on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
        n += 1
    left = p.flush(60)
    if failed or left:
        print("produce.py: %d failed, %d undelivered" % (len(failed), left), file=sys.stderr)
        return 1
    print("sent=%d rows=%d schema_id=%d topic=%s" % (n, len(x), sid, a.topic))
    return 0


if __name__ == "__main__":
    sys.exit(main())
