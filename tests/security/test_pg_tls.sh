#!/usr/bin/env bash
# The registry's PostgreSQL over TLS with SCRAM, under
# `with-postgres.sh --tls` (hostssl + scram-sha-256 only) and with-broker.sh:
#   1. swarm-registry connects with sslmode=verify-full, its conninfo and
#      password from SWARM_REGISTRY_FILE (no password in the environment or
#      on a command line), registers and promotes the tiny model;
#   2. a worker connects with verify-full and the password from libpq's
#      PGPASSFILE, serves the registry's model: 100 requests answered;
#   3. a plain (sslmode=disable) connection is refused by pg_hba, a server
#      certificate from another CA is refused by verify-full, a wrong
#      password is refused: each a non-zero exit with the reason;
#   4. the password is in no log or output (conninfo masking).
# Usage: test_pg_tls.sh CONSUMER PRODUCER REGISTRY MODEL
set -uo pipefail
consumer=$1 producer=$2 registry=$3 model=$4
work=$(mktemp -d)
wpid=
cleanup() { [ -n "$wpid" ] && kill -TERM "$wpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; return 0; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log; do echo "--- $f" >&2; tail -8 "$f" >&2; done; exit 1; }
pw=$(cat "$SWARM_PG_PASSWORD_FILE")
conn=$SWARM_REGISTRY
# conninfo files (mode 600): the password only ever travels in files
secret() { (umask 077; printf '%s\n' "$1" >"$work/$2"); echo "$work/$2"; }
full=$(secret "$conn password=$pw" full.conninfo)

# 1. the registry CLI: conninfo with the password from SWARM_REGISTRY_FILE
R() { env -u PGPASSFILE -u SWARM_REGISTRY SWARM_REGISTRY_FILE=$full "$registry" "$@"; }
R migrate >"$work/registry.log" 2>&1 || fail "migrate over TLS"
R register tiny "$model" >>"$work/registry.log" 2>&1 || fail "register over TLS"
R promote tiny 1 >>"$work/registry.log" 2>&1 || fail "promote over TLS"
R config tiny request_topic=requests >>"$work/registry.log" 2>&1 || fail "config over TLS"
R list >>"$work/registry.log" 2>&1 || fail "list over TLS"
grep -q tiny "$work/registry.log" || fail "the registry does not list tiny"
echo "pg-tls: swarm-registry over TLS (verify-full, SCRAM, SWARM_REGISTRY_FILE): migrate, register, promote"

# 2. a worker: verify-full, password from PGPASSFILE, model from the registry
python3 -c '
for i in range(100):
    print(",".join("%d" % (i + c) for c in range(4)))' >"$work/in.csv"
"$consumer" -b "$SWARM_BOOTSTRAP" -g pg-tls --registry "$conn" --metrics-port -1 \
  2>"$work/worker.log" &
wpid=$!
out=$("$producer" -b "$SWARM_BOOTSTRAP" -m tiny -i "$work/in.csv" -n 1 --wait --timeout 60 \
        -o "$work/out.csv" 2>"$work/producer.log")
grep -q '^summary sent=100 answered=100 ok=100 ' <<<"$out" || fail "worker on the TLS registry: $out"
python3 - "$work/in.csv" "$work/out.csv" <<'PY' || fail "outputs differ from the inputs"
import sys
a, b = ([[float(x) for x in l.split(",")] for l in open(f) if l.strip()] for f in sys.argv[1:])
sys.exit(0 if a == b and len(a) == 100 else 1)
PY
kill -TERM "$wpid"; wait "$wpid"; rc=$?; wpid=
[ $rc -eq 0 ] || fail "the worker exited $rc"
grep -q 'tiny' "$work/worker.log" || fail "the worker log does not name the registry model"
echo "pg-tls: worker on the TLS registry (verify-full, PGPASSFILE): 100/100 answered, values equal"

# 3. refused: no TLS, a certificate from another CA, a wrong password
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/other.key" -out "$work/other.crt" \
  -days 1 -subj "/CN=another CA" >/dev/null 2>&1 || fail "openssl"
check_refused() { # NAME CONNINFO-FILE PATTERN
  if env -u PGPASSFILE -u SWARM_REGISTRY SWARM_REGISTRY_FILE=$2 "$registry" list \
       >"$work/$1.log" 2>&1; then fail "$1: connected"; fi
  grep -qi -- "$3" "$work/$1.log" || fail "$1: the error does not say '$3'"
  echo "pg-tls: $1 refused: $(grep -io -m1 -- "$3.\{0,60\}" "$work/$1.log")"
}
check_refused plain "$(secret "$conn password=$pw sslmode=disable" plain.conninfo)" "no encryption"
check_refused other-ca "$(secret "${conn% sslrootcert=*} sslrootcert=$work/other.crt password=$pw" ca.conninfo)" \
  "certificate verify failed"
check_refused wrong-password "$(secret "$conn password=not-$pw" wrong.conninfo)" "password authentication failed"

# 4. the password appears nowhere
if grep -l -F -- "$pw" "$work"/*.log; then fail "the password is in the files above"; fi
echo "pg-tls: no password in $(cat "$work"/*.log | wc -l) log lines"
