#!/usr/bin/env bash
# A model with three inputs, two of them int64, scored from CSV and Avro
# columns taken by name (--tensor NAME[:DTYPE]=COLUMNS): the request carries
# the tensors with their dtypes (int64 embedding lookups), one of them a
# scalar row (user INT64 [N], sent as [N] with --shape user=; without it the
# run stops on the model's refusal, naming the signature), and every output
# lands in the file (a [N,1] output as a scalar field, [N,2,2] flattened).  Runs under with-broker.sh (SWARM_BOOTSTRAP).
# Usage: test_score_multi.sh CONSUMER PRODUCER
set -euo pipefail
consumer=$1 producer=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$(dirname "$0")/../lib/wait.sh"
test_workdir
fail() { echo "FAIL: $*" >&2; tail -5 "$work/worker.log" >&2 || true; exit 1; }

/usr/bin/python3 "$here/make_multi.py" "$work/multi.onnx"
/usr/bin/python3 - "$work" <<'PY'
import sys, random, json
import avro.schema
from avro.datafile import DataFileWriter
from avro.io import DatumWriter
random.seed(7)
rows = [(f"k{i}", [round(random.uniform(-5, 5), 3) for _ in range(3)],
         [random.randrange(0, 1000), random.randrange(0, 1000)],
         random.randrange(0, 1000)) for i in range(1000)]
with open(f"{sys.argv[1]}/in.csv", "w") as f:
    f.write("u,key,a,b,c,user,v\n")       # columns out of tensor order on purpose
    for k, d, ids, user in rows:
        f.write(f"{ids[0]},{k},{d[0]},{d[1]},{d[2]},{user},{ids[1]}\n")
schema = avro.schema.parse(json.dumps({"type": "record", "name": "R", "fields": [
    {"name": "key", "type": "string"},
    {"name": "dense", "type": {"type": "array", "items": "double"}},
    {"name": "u", "type": "long"}, {"name": "v", "type": ["null", "long"]},
    {"name": "user", "type": "long"}]}))
with DataFileWriter(open(f"{sys.argv[1]}/in.avro", "wb"), DatumWriter(), schema) as w:
    for k, d, ids, user in rows:
        w.append({"key": k, "dense": d, "u": ids[0], "v": ids[1], "user": user})
json.dump(rows, open(f"{sys.argv[1]}/rows.json", "w"))
PY
"$consumer" -b "$SWARM_BOOTSTRAP" -g multi -t requests.batch -r results.batch -M "multi=$work/multi.onnx" \
  --metrics-port -1 2>"$work/worker.log" &
wpid=$!
S=("$producer" score -b "$SWARM_BOOTSTRAP" --model multi --id-column key)
# without --shape the user column goes as [N,1]: the model's refusal stops
# the run at once (exit 1), naming what it expects
rc=0
"${S[@]}" --request-timeout 10 --input "$work/in.csv" --output "$work/out_bad.avro" \
  --tensor dense=a..c --tensor ids:int64=u,v --tensor user:int64=user \
  >"$work/s0.out" 2>"$work/s0.err" || rc=$?
[ "$rc" -eq 1 ] || fail "no --shape: exit $rc, want 1"
grep -q 'user:INT64\[N\]' "$work/s0.err" && grep -q -- '--shape' "$work/s0.err" ||
  fail "no --shape: $(tail -2 "$work/s0.err")"
# a --shape whose element count is not the columns' is refused up front
rc=0
"${S[@]}" --input "$work/in.csv" --output "$work/out_bad.avro" --tensor dense=a..c \
  --tensor ids:int64=u,v --tensor user:int64=user --shape ids=3 >/dev/null 2>"$work/s0b.err" || rc=$?
[ "$rc" -ne 0 ] && grep -q 'tensor ids: --shape has 3 elements, a row of the input 2' "$work/s0b.err" ||
  fail "bad --shape: exit $rc: $(tail -2 "$work/s0b.err")"
"${S[@]}" --request-timeout 10 --input "$work/in.csv" --output "$work/out_csv.avro" \
  --tensor dense=a..c --tensor ids:int64=u,v --tensor user:int64=user --shape user= \
  >"$work/s1.out" 2>"$work/s1.err" || fail "CSV: $(tail -3 "$work/s1.err")"
"${S[@]}" --input "$work/in.avro" --output "$work/out_avro.avro" \
  --tensor dense=dense --tensor ids:int64=u..v --tensor user:int64=user --shape user= \
  --shape ids=2 >"$work/s2.out" 2>"$work/s2.err" || fail "Avro: $(tail -3 "$work/s2.err")"
cat "$work/s1.out" "$work/s2.out"
/usr/bin/python3 - "$work" <<'PY' || fail "outputs"
import sys, json
import numpy as np
from avro.datafile import DataFileReader
from avro.io import DatumReader
rows = json.load(open(f"{sys.argv[1]}/rows.json"))
for name in ("out_csv.avro", "out_avro.avro"):
    with DataFileReader(open(f"{sys.argv[1]}/{name}", "rb"), DatumReader()) as r:
        fields = [f.name for f in r.datum_reader.writers_schema.fields]
        recs = list(r)
    assert fields == ["id", "weighted", "emb", "uemb"], fields
    assert [x["id"] for x in recs] == [k for k, _, _, _ in rows], name + ": order"
    for x, (k, d, ids, user) in zip(recs, rows):
        d32 = np.array(d, dtype=np.float32)
        want = float(d32[0] + np.float32(10) * d32[1] + np.float32(100) * d32[2])
        assert abs(x["weighted"] - want) <= 1e-4 * max(1, abs(want)), (name, k, x["weighted"], want)
        u, v = ids
        assert x["emb"] == [2 * u, 2 * u + 1, 2 * v, 2 * v + 1], (name, k, x["emb"], ids)
        assert x["uemb"] == [2 * user, 2 * user + 1], (name, k, x["uemb"], user)
    print(f"{name}: {len(recs)} rows, three inputs (float32, int64, int64 scalar rows), "
          f"outputs {fields[1:]}")
PY
kill -TERM "$wpid"; wait "$wpid" || fail "worker exit"; wpid=
echo "score multi-input: all checks passed"
