#!/usr/bin/env bash
# `swarm-producer score` end to end: a real broker (with-broker.sh sets
# SWARM_BOOTSTRAP), a real worker (swarm-consumer with the shipped
# Fashion-MNIST MLP) on the scoring topic requests.batch, answers on
# results.batch.  Asserts:
#   1. a 100,000-row CSV (header, id column, a quoted text column) scores
#      completely: every row within 1e-5 of the numpy reference, in input
#      order (Avro C's reader), while the scorer's and the worker's resident
#      memory stay flat although the file (~300 MB) is far larger than the
#      scorer's bound (--max-memory-mb 4) and the worker's (--max-queue-rows);
#   2. the same rows as an Avro object container: same check, after a Ctrl-C
#      (SIGINT) at ~30% and a resume;
#   3. a run SIGKILLed halfway and resumed writes a file byte-identical to
#      the uninterrupted run of 1, and does not re-score the finished rows;
#   4. malformed rows (short, not a number, bad quoting, empty, unterminated
#      quote) land in the rejects file with their record and line numbers,
#      the rest is scored, exit code 3; the same input to CSV output;
#   5. .npy input, read back with Apache Avro's Python reader as well;
#   6. on a terminal (script(1)) a progress bar instead of log lines.
# Usage: test_score_e2e.sh CONSUMER PRODUCER MAKE_INPUTS CHECK_SCORES MODEL DATA_DIR WORK_DIR
set -euo pipefail
consumer=$1 producer=$2 make_inputs=$3 check=$4 model=$5 data=$6 work=$7
rows=${SCORE_E2E_ROWS:-100000}
mkdir -p "$work"
rm -f "$work"/out* "$work"/*.ckpt "$work"/*.rejects.csv
wpid=
cleanup() { [ -n "$wpid" ] && kill -TERM "$wpid" 2>/dev/null; wait 2>/dev/null; return 0; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -5 "$work/worker.log" >&2 || true; exit 1; }
# an array, not a function: a backgrounded run's $! must be the scorer itself
score=("$producer" score -b "$SWARM_BOOTSTRAP" --model fashion --progress-interval 2)
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# sample a process's RSS (kB) every 0.2 s into a file until it exits
sample_rss() { # pid file
  while kill -0 "$1" 2>/dev/null; do rss_kb "$1" >>"$2"; sleep 0.2; done
}

t0=$(date +%s)
if [ ! -s "$work/in.csv" ] || [ ! -s "$work/in.avro" ]; then
  "$make_inputs" "$data/test.npy" "$rows" "$work/in.csv" "$work/in.avro"
fi
echo "inputs: $(du -h "$work/in.csv" | cut -f1) CSV, $(du -h "$work/in.avro" | cut -f1) Avro, $rows rows ($(( $(date +%s) - t0 )) s)"

"$consumer" -b "$SWARM_BOOTSTRAP" -g scoring -t requests.batch -r results.batch -M "fashion=$model" \
  --max-batch-rows 256 --max-queue-rows 1024 --metrics-port -1 2>"$work/worker.log" &
wpid=$!

# ---- 1. 100k-row CSV, memory flat
t1=$(date +%s)
"${score[@]}" --input "$work/in.csv" --output "$work/out_csv.avro" --id-column id \
  --features px0..px783 --label --max-memory-mb 4 --rows-per-request 128 \
  --window 64 >"$work/s1.out" 2>"$work/s1.err" &
spid=$!
: >"$work/rss_scorer" ; : >"$work/rss_worker"
sample_rss "$spid" "$work/rss_scorer" &
while kill -0 "$spid" 2>/dev/null; do rss_kb "$wpid" >>"$work/rss_worker"; sleep 0.2; done
rc=0; wait "$spid" || rc=$?
cat "$work/s1.out"
[ "$rc" = 0 ] || { tail "$work/s1.err" >&2; fail "CSV run exited $rc"; }
grep -q "^summary rows=$rows scored=$rows rejected=0 " "$work/s1.out" || fail "CSV summary"
grep -q "progress rows=" "$work/s1.err" || fail "no progress lines on a non-terminal"
[ ! -e "$work/out_csv.avro.ckpt" ] || fail "checkpoint left after a complete run"
"$check" "$work/out_csv.avro" "$data/expected.npy" "$rows" || fail "CSV output values"
echo "CSV run: $(( $(date +%s) - t1 )) s"
# Flat: after the first quarter of the samples, RSS grows by < 8 MB, and the
# scorer stays far below the file's size.
/usr/bin/python3 - "$work/rss_scorer" "$work/rss_worker" "$(stat -c %s "$work/in.csv")" <<'PY' || fail "memory not flat"
import sys
size = int(sys.argv[3])
for name, path, cap_mb in (("scorer", sys.argv[1], 96), ("worker", sys.argv[2], 400)):
    v = [int(x) for x in open(path).read().split() if int(x) > 0]
    assert len(v) >= 8, (name, "too few samples", len(v))
    q = len(v) // 4
    early, late = max(v[q:2 * q]), max(v[q:])
    print(f"{name}: rss samples={len(v)} first_quarter_end={v[q]//1024} MB "
          f"max_after={late//1024} MB growth={(late-early)/1024:.1f} MB "
          f"file={size>>20} MB")
    assert late - early < 8 * 1024, (name, "grew", late - early)
    assert late < cap_mb * 1024, (name, "above", cap_mb, "MB")
PY

# ---- 2. the same rows as Avro; SIGINT at ~30%, then resume.  Checkpoints
# every 0.1 s, not the default 1 s: on a fast machine the whole file scores
# in about 2 s, so a 1 s checkpoint may never show the point to stop at
# (the interval is not part of the settings a resume must repeat).
"${score[@]}" --input "$work/in.avro" --output "$work/out_avro.avro" --id-column id \
  --tensor input=pixels --checkpoint-interval 0.1 >"$work/s2.out" 2>"$work/s2.err" &
spid=$!
for _ in $(seq 1 600); do
  s=$(sed -n 's/^scored=//p' "$work/out_avro.avro.ckpt" 2>/dev/null || true)
  [ -n "$s" ] && [ "$s" -ge $((rows * 3 / 10)) ] && break
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.05
done
kill -INT "$spid" 2>/dev/null || true
rc=0; wait "$spid" || rc=$?
[ "$rc" = 1 ] || fail "SIGINT run exited $rc, want 1 (interrupted)"
grep -q "complete=0" "$work/s2.out" || fail "SIGINT run claims completion"
"${score[@]}" --input "$work/in.avro" --output "$work/out_avro.avro" --id-column id \
  --tensor input=pixels >"$work/s2b.out" 2>"$work/s2b.err" || fail "Avro resume: $(tail -3 "$work/s2b.err")"
cat "$work/s2.out" "$work/s2b.out"
grep -q "^summary rows=$rows scored=$rows .* resumed=1 complete=1" "$work/s2b.out" || fail "Avro resume summary"
"$check" "$work/out_avro.avro" "$data/expected.npy" "$rows" || fail "Avro output values"

# ---- 3. SIGKILL halfway, resume: byte-identical to run 1 (checkpoints
# every 0.1 s, as in 2)
"${score[@]}" --input "$work/in.csv" --output "$work/out_kill.avro" --id-column id \
  --features px0..px783 --label --rows-per-request 128 --checkpoint-interval 0.1 \
  >"$work/s3.out" 2>"$work/s3.err" &
spid=$!
killed_at=
for _ in $(seq 1 1200); do
  s=$(sed -n 's/^scored=//p' "$work/out_kill.avro.ckpt" 2>/dev/null || true)
  if [ -n "$s" ] && [ "$s" -ge $((rows / 2)) ]; then killed_at=$s; break; fi
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.05
done
kill -KILL "$spid" 2>/dev/null || true
wait "$spid" 2>/dev/null || true
[ -n "$killed_at" ] || fail "the run ended before it could be killed halfway"
[ -s "$work/out_kill.avro.ckpt" ] || fail "no checkpoint after SIGKILL"
cmp -s "$work/out_kill.avro" "$work/out_csv.avro" && fail "killed output is already complete"
"${score[@]}" --input "$work/in.csv" --output "$work/out_kill.avro" --id-column id \
  --features px0..px783 --label --rows-per-request 128 >"$work/s3b.out" 2>"$work/s3b.err" \
  || fail "resume after SIGKILL: $(tail -3 "$work/s3b.err")"
cat "$work/s3b.out"
cmp "$work/out_kill.avro" "$work/out_csv.avro" || fail "resumed output differs from the uninterrupted one"
req=$(sed -n 's/.* requests=\([0-9]*\) .*/\1/p' "$work/s3b.out")
# at most the rows after the checkpoint (plus the window in flight) again
[ "$req" -le $(( (rows - killed_at) / 128 + 40 )) ] || fail "resume sent $req requests: finished rows were scored again"
echo "SIGKILL at scored>=$killed_at, resumed with $req requests: byte-identical ($(stat -c %s "$work/out_kill.avro") bytes)"

# ---- 4. malformed rows
/usr/bin/python3 - "$data/test.npy" "$work/bad.csv" <<'PY'
import sys, numpy as np
x = np.load(sys.argv[1])[:2000]
out = open(sys.argv[2], "w")
out.write("id," + ",".join(f"px{k}" for k in range(784)) + ",note\n")
for i, row in enumerate(x):
    f = [f"img-{i}"] + [repr(float(v)) for v in row] + ["ok"]
    if i == 10: f = f[:-5]                       # short row
    if i == 20: f[101] = "abc"                   # not a number
    if i == 30: f[6] = '0"5'                     # bad quoting
    if i == 40: f[9] = '"' + f[9] + '"'          # quoted number: fine
    if i == 50: f[8] = ""                        # empty value
    if i == 1999: f[-1] = '"unterminated'        # quote never closed
    out.write(",".join(f) + "\n")
PY
rc=0
"${score[@]}" --input "$work/bad.csv" --output "$work/out_bad.avro" --id-column id \
  --features px0..px783 >"$work/s4.out" 2>"$work/s4.err" || rc=$?
cat "$work/s4.out"
[ "$rc" = 3 ] || fail "malformed run exited $rc, want 3"
grep -q "^summary rows=2000 scored=1995 rejected=5 rejected_input=5 " "$work/s4.out" || fail "malformed summary"
"$check" "$work/out_bad.avro" "$data/expected.npy" 2000 10 20 30 50 1999 || fail "malformed: scored rows"
/usr/bin/python3 - "$work/out_bad.avro.rejects.csv" <<'PY' || fail "rejects file"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0] == ["row", "line", "reason", "text"], rows[0]
want = [("10", "12", "781 fields, the header has 786"),
        ("20", "22", 'column px100: "abc" is not a number'),
        ("30", "32", "bad quoting at line 32"),
        ("50", "52", "column px7: empty value"),
        ("1999", "2001", "unterminated quoted field")]
got = rows[1:]
assert len(got) == len(want), got
for g, (r, l, why) in zip(got, want):
    assert g[0] == r and g[1] == l and why in g[2], (g[:3], r, l, why)
    assert g[3].startswith(f"img-{r},"), g[3][:40]
print("rejects:", [(g[0], g[1], g[2]) for g in got])
PY
rc=0
"${score[@]}" --input "$work/bad.csv" --output "$work/out_bad.csv" --id-column id \
  --features px0..px783 --top-k 3 >/dev/null 2>"$work/s4b.err" || rc=$?
[ "$rc" = 3 ] || fail "CSV output run exited $rc"
/usr/bin/python3 - "$work/out_bad.csv" "$data/expected.npy" <<'PY' || fail "CSV output values"
import sys, numpy as np
lines = open(sys.argv[1]).read().splitlines()
head = lines[0].split(",")
assert head[:2] == ["id", "probabilities_0"] and head[-6:] == ["top1_index", "top1_score", "top2_index", "top2_score", "top3_index", "top3_score"], head
ids = [int(l.split(",")[0][4:]) for l in lines[1:]]
assert ids == [i for i in range(2000) if i not in (10, 20, 30, 50, 1999)], "order"
got = np.array([[float(v) for v in l.split(",")[1:11]] for l in lines[1:]], dtype=np.float32)
want = np.load(sys.argv[2])[ids]
assert np.abs(got - want).max() <= 1e-5, np.abs(got - want).max()
top1 = np.array([int(l.split(",")[11]) for l in lines[1:]])
assert (top1 == want.argmax(axis=1)).all()
print(f"CSV output: {len(ids)} rows, max abs err {np.abs(got - want).max():.2e}")
PY

# ---- 5. .npy input; Apache Avro's Python reader reads the output as is
"${score[@]}" --input "$data/test.npy" --output "$work/out_npy.avro" --top-k 2 >"$work/s5.out" 2>"$work/s5.err" \
  || fail ".npy run: $(tail -3 "$work/s5.err")"
/usr/bin/python3 - "$work/out_npy.avro" "$data/expected.npy" <<'PY' || fail "python avro reader"
import sys, numpy as np
from avro.datafile import DataFileReader
from avro.io import DatumReader
with DataFileReader(open(sys.argv[1], "rb"), DatumReader()) as r:
    recs = list(r)
want = np.load(sys.argv[2])
assert [x["row"] for x in recs] == list(range(len(want))), "rows"
got = np.array([x["probabilities"] for x in recs], dtype=np.float32)
err = float(np.abs(got - want).max())
assert err <= 1e-5, err
assert all(x["top_k"][0]["index"] == int(i) for x, i in zip(recs, want.argmax(axis=1)))
print(f"python avro: {len(recs)} records, max abs err {err:.2e}")
PY

# ---- 6. on a terminal: a progress bar (script(1) gives the run a pty)
script -qefc "$(printf '%q ' "${score[@]}" --input "$data/test.npy" --output "$work/out_tty.avro")" \
  /dev/null >"$work/tty.out" 2>&1 || fail "terminal run: $(tail -3 "$work/tty.out")"
grep -aq $'\r\[###.* rows  [0-9]* rows/s  ETA ' "$work/tty.out" || fail "no progress bar on a terminal: $(head -c 300 "$work/tty.out")"
grep -aq "progress rows=" "$work/tty.out" && fail "log lines instead of a bar on a terminal"
cmp -s "$work/out_tty.avro" "$work/out_npy.avro" && fail "--top-k did not change the file"
echo "terminal: progress bar drawn"

kill -TERM "$wpid"; wait "$wpid" || fail "worker exited non-zero"; wpid=
grep " summary " "$work/worker.log"
echo "score e2e: all checks passed in $(( $(date +%s) - t0 )) s"
