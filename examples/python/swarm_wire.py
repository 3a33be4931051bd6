"""swarm_wire.py - Swarm's wire contract in Python (Debian python3-avro):
the schemas from schemas/*.avsc, Confluent framing (magic byte 0, 4-byte
big-endian schema id, Avro binary), and the two Schema Registry calls a
producer needs (register a schema under a subject, fetch one by id), with
the standard library's urllib so nothing beyond python3-avro is needed.
"""
import base64
import io
import json
import os
import struct
import urllib.request

import avro.io
import avro.schema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.environ.get("SWARM_SCHEMAS", os.path.join(HERE, "..", "..", "schemas"))

# The fixed ids Swarm uses without a registry.
REQUEST_ID, RESPONSE_ID = 1, 2


def schema_text(name):
    with open(os.path.join(SCHEMAS, name + ".avsc")) as f:
        return f.read()


REQUEST = avro.schema.parse(schema_text("InferenceRequest"))
RESPONSE = avro.schema.parse(schema_text("InferenceResponse"))


def encode(schema, schema_id, datum):
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, schema_id))
    avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def decode(reader_schema, raw, writers):
    """Decode a framed value.  writers: {id: writer schema}; an id missing
    there raises KeyError (fetch it from the registry first)."""
    if len(raw) < 5 or raw[0] != 0:
        raise ValueError("not Confluent-framed Avro")
    (sid,) = struct.unpack(">I", raw[1:5])
    reader = avro.io.DatumReader(writers[sid], reader_schema)
    return reader.read(avro.io.BinaryDecoder(io.BytesIO(raw[5:])))


class Registry:
    """Confluent Schema Registry REST (POST /subjects/{s}/versions,
    GET /schemas/ids/{id}); user_info "user:password" for basic auth."""

    def __init__(self, url, user_info=None):
        self.url = url.rstrip("/")
        self.auth = None
        if user_info:
            self.auth = "Basic " + base64.b64encode(user_info.encode()).decode()

    def _call(self, path, body=None):
        req = urllib.request.Request(self.url + path, data=body)
        req.add_header("Accept", "application/vnd.schemaregistry.v1+json")
        if body is not None:
            req.add_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        if self.auth:
            req.add_header("Authorization", self.auth)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def register(self, subject, text):
        body = json.dumps({"schema": text}).encode()
        return self._call("/subjects/%s/versions" % urllib.parse.quote(subject, safe=""),
                          body)["id"]

    def schema(self, schema_id):
        return avro.schema.parse(self._call("/schemas/ids/%d" % schema_id)["schema"])


def load_npy(path):
    """float32 rows of a .npy file (numpy when present, else the format)."""
    import numpy
    return numpy.load(path).astype("float32")
