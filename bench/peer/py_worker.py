#!/usr/bin/python3
"""A Python peer of swarm-consumer, as a competent user would write it:
confluent-kafka (Debian's python3-confluent-kafka) and numpy, the same
Avro wire format (Confluent framing, schema ids 1 request / 2 response), the
same at-least-once rule (an offset is stored only after its response is
acknowledged), micro-batches of up to 256 requests.

    py_worker.py BROKERS TOPIC RESULTS GROUP MODEL.onnx

Serves the Fashion MLP (weights read from the ONNX file by
tests/fixtures/fashion-mlp/common.py) until SIGTERM.
"""
import io
import signal
import struct
import sys

import numpy as np
from confluent_kafka import Consumer, Producer, TopicPartition

sys.path.insert(0, __file__.rsplit("/", 3)[0] + "/tests/fixtures/fashion-mlp")
from common import load_mlp_weights, mlp_forward  # noqa: E402

DTYPES = ["FLOAT32", "FLOAT16", "BFLOAT16", "INT64", "INT32", "UINT8", "INT8", "BOOL", "FLOAT64"]


def zz(b, i):  # Avro long: zigzag varint
    n = s = 0
    while True:
        c = b[i]; i += 1
        n |= (c & 0x7F) << s; s += 7
        if c < 0x80:
            return (n >> 1) ^ -(n & 1), i


def rd_bytes(b, i):
    n, i = zz(b, i)
    return b[i:i + n], i + n


def rd_array(b, i, rd_item):  # Avro array: blocks; a negative count is followed by a byte size
    items = []
    while True:
        n, i = zz(b, i)
        if n == 0:
            return items, i
        if n < 0:
            n = -n; _, i = zz(b, i)
        for _ in range(n):
            item, i = rd_item(b, i)
            items.append(item)


def rd_input(b, i):  # one tensor of the request: name, dtype, shape, data
    name, i = rd_bytes(b, i)
    dt, i = zz(b, i)
    shape, i = rd_array(b, i, zz)
    data, i = rd_bytes(b, i)
    return (name, DTYPES[dt], shape, data), i


def decode_request(b):
    if len(b) < 5 or b[0] != 0 or struct.unpack(">i", b[1:5])[0] != 1:
        raise ValueError("bad frame")
    i = 5
    rid, i = rd_bytes(b, i)
    model, i = rd_bytes(b, i)
    u, i = zz(b, i)
    if u:
        _, i = zz(b, i)
    inputs, i = rd_array(b, i, rd_input)
    return rid, model, inputs


def w_long(out, v):
    v = (v << 1) ^ (v >> 63)
    while v > 0x7F:
        out.append((v & 0x7F) | 0x80); v >>= 7
    out.append(v)


def w_bytes(out, s):
    w_long(out, len(s)); out += s


def encode_response(rid, model, probs, rows, worker, part, off):
    out = bytearray(b"\x00\x00\x00\x00\x02")
    w_bytes(out, rid); w_bytes(out, model); w_long(out, 1)
    w_long(out, 1)                      # one output tensor
    w_bytes(out, b"probabilities"); w_long(out, 0)
    w_long(out, 2); w_long(out, probs.shape[0]); w_long(out, probs.shape[1]); w_long(out, 0)
    w_bytes(out, probs.tobytes())
    w_long(out, 0)                      # end of outputs
    w_long(out, 0)                      # status OK
    w_long(out, 0)                      # error: null
    w_long(out, 0); w_long(out, 0); w_long(out, rows)
    w_bytes(out, worker); w_long(out, part); w_long(out, off)
    return bytes(out)


def main():
    brokers, topic, results, group, model_path = sys.argv[1:6]
    layers = load_mlp_weights(model_path)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    c = Consumer({"bootstrap.servers": brokers, "group.id": group,
                  "enable.auto.offset.store": False, "auto.offset.reset": "earliest",
                  "partition.assignment.strategy": "cooperative-sticky",
                  "fetch.wait.max.ms": 10})
    p = Producer({"bootstrap.servers": brokers, "linger.ms": 5, "acks": "all",
                  "compression.codec": "lz4"})
    c.subscribe([topic])
    worker = b"py-peer"

    def delivered(err, msg, tp):
        if err is None:
            c.store_offsets(offsets=[tp])

    while not stop:
        msgs = c.consume(num_messages=256, timeout=0.1)
        p.poll(0)
        if not msgs:
            continue
        reqs, xs = [], []
        for m in msgs:
            if m.error():
                continue
            rid, model, inputs = decode_request(m.value())
            name, dt, shape, data = inputs[0]
            xs.append(np.frombuffer(data, dtype=np.float32).reshape(shape))
            reqs.append((rid, model, shape[0], m.partition(), m.offset()))
        if not reqs:
            continue
        probs = mlp_forward(layers, np.concatenate(xs))
        r0 = 0
        for rid, model, rows, part, off in reqs:
            v = encode_response(rid, model, probs[r0:r0 + rows], len(reqs), worker, part, off)
            r0 += rows
            tp = TopicPartition(topic, part, off + 1)
            p.produce(results, v, callback=lambda e, m, tp=tp: delivered(e, m, tp))
    p.flush(10)
    c.commit(asynchronous=False)
    c.close()


if __name__ == "__main__":
    main()
