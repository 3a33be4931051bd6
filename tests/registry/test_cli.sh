#!/usr/bin/env bash
# test_cli.sh SWARM_REGISTRY_BIN FIXTURES_DIR -- every swarm-registry command,
# its error cases, SQL metacharacters, the worker role.  Runs under
# tests/lib/with-postgres.sh (PG* exported).
set -u
R=$1
F=$2
MLP=$F/fashion-mlp/model.onnx
ID=$F/identity/model.onnx
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok()   { echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; fails=$((fails + 1)); }
# expect RC DESC CMD...: run CMD, check its exit status
expect() {
        local want=$1 desc=$2; shift 2
        "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
        if [[ $rc -eq $want ]]; then ok "$desc (rc $rc)"; else
                fail "$desc: rc $rc, want $want"; cat "$tmp/out" "$tmp/err" >&2; fi
}
has() { # has FILE TEXT DESC
        if grep -qF -- "$2" "$1"; then ok "$3"; else fail "$3: no \"$2\" in:"; cat "$1" >&2; fi
}
json() { python3 -c "import json,sys; d=json.load(open('$tmp/out')); print($1)"; }
sql() { psql -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# ---- migrations: from empty, then re-applied
expect 0 "migrate from empty" "$R" migrate --json
[[ $(json 'd["applied"]') -ge 1 ]] && ok "applied >= 1" || fail "nothing applied"
expect 0 "migrate again" "$R" migrate --json
[[ $(json 'd["applied"]') -eq 0 ]] && ok "re-run applies nothing" || fail "re-run applied"
n=$(ls "$(dirname "$0")"/../../lib/core/migrations/[0-9]*.sql | wc -l)
[[ $(sql "select count(*) from registry.schema_migrations") -eq $n ]] && ok "recorded $n" || fail "migrations table"

# ---- register
expect 0 "register mlp v1 (bytea)" "$R" register mlp "$MLP" --description "Fashion MLP" --tag team=vision --tag stage=test --meta '{"acc": 0.88}'
has "$tmp/out" "version 1" "v1 numbered"
cp "$MLP" "$tmp/big.onnx"
expect 0 "register mlp v2 (file:// uri)" "$R" register mlp "$tmp/big.onnx" --uri "file://$tmp/big.onnx" --json
[[ $(json 'd["version"]') -eq 2 ]] && ok "v2 numbered" || fail "v2 number"
expect 0 "register mlp v3" "$R" register mlp "$MLP"
expect 0 "register identity" "$R" register ident "$ID"
expect 1 "register a missing file" "$R" register mlp "$tmp/nope.onnx"
head -c 3000 /dev/urandom >"$tmp/junk.onnx"
expect 1 "register a file that is not ONNX" "$R" register mlp "$tmp/junk.onnx"
has "$tmp/err" "cannot be served" "refusal gives the reason"
expect 2 "register --meta not an object" "$R" register mlp "$MLP" --meta '[1'
expect 2 "register --uri not file://" "$R" register mlp "$MLP" --uri http://x/y
expect 1 "register --uri with other bytes" "$R" register mlp "$MLP" --uri "file://$ID"
[[ $(sql "select count(*) from registry.versions") -eq 4 ]] && ok "refused registrations stored nothing" || fail "versions count"

# ---- list / show
expect 0 "list" "$R" list
has "$tmp/out" "Fashion MLP" "list shows the description"
expect 0 "list --json" "$R" list --json
[[ $(json '[m["versions"] for m in d if m["name"]=="mlp"][0]') -eq 3 ]] && ok "list counts versions" || fail "list versions"
expect 0 "show model" "$R" show mlp
has "$tmp/out" "uri" "show lists storage"
expect 0 "show version --json" "$R" show mlp:1 --json
[[ $(json 'd["tags"]["team"] + " " + str(d["metadata"]["acc"]) + " " + str(d["inputs"][0]["shape"])') == "vision 0.88 [None, 784]" ]] \
        && ok "tags, metadata, signature stored" || fail "show mlp:1 content"
[[ $(json 'd["sha256"]') == $(sha256sum "$MLP" | cut -d' ' -f1) ]] && ok "sha256 matches sha256sum" || fail "sha256"
expect 1 "show unknown model" "$R" show nope
has "$tmp/err" 'unknown model "nope"' "unknown model message"
expect 1 "show unknown version" "$R" show mlp:42

# ---- promote / rollback / history
expect 0 "promote v1" "$R" promote mlp 1 --reason "first release"
expect 0 "promote v2" "$R" promote mlp 2
expect 0 "promote v3 to staging" "$R" promote mlp 3 --alias staging
expect 1 "promote a missing version" "$R" promote mlp 99
has "$tmp/err" "no version 99" "missing version message"
expect 1 "promote unknown model" "$R" promote nope 1
expect 2 "promote a bad version" "$R" promote mlp x
expect 0 "rollback" "$R" rollback mlp --json
[[ $(json 'd["to"]') -eq 1 ]] && ok "rollback went to v1" || fail "rollback target"
[[ $(sql "select a.version from registry.aliases a join registry.models m on m.id=a.model_id where m.name='mlp' and alias='production'") -eq 1 ]] \
        && ok "alias is v1" || fail "alias after rollback"
expect 1 "rollback an alias without history" "$R" rollback mlp --alias canary
expect 0 "history" "$R" history mlp --json
[[ $(json 'len(d)') -eq 4 ]] && ok "history has 4 moves" || fail "history length"
[[ $(json 'd[-1]["reason"] + "/" + str(d[-1]["from_version"]) + "/" + str(d[-1]["to_version"])') == "rollback/2/1" ]] \
        && ok "last move is the rollback 2->1" || fail "history content"
expect 0 "history table" "$R" history mlp
has "$tmp/out" "first release" "history shows reasons"
expect 1 "history of unknown model" "$R" history nope

# ---- config
expect 0 "config set" "$R" config mlp request_topic=requests max_batch_rows=64 max_delay_us=1500 device=cpu --reason tune
expect 0 "config show --json" "$R" config mlp --json
[[ $(json 'str(d["max_batch_rows"]) + d["request_topic"]') == "64requests" ]] && ok "config stored" || fail "config content"
expect 1 "config unknown key" "$R" config mlp colour=blue
expect 1 "config bad value" "$R" config mlp max_batch_rows=lots
expect 1 "config out of range" "$R" config mlp max_batch_rows=0
expect 0 "config history" "$R" history mlp --json
[[ $(json 'len([h for h in d if h["kind"]=="config"])') -eq 4 ]] && ok "config changes in history" || fail "config history"

# ---- archive
expect 1 "archive refused while aliased" "$R" archive mlp:1
has "$tmp/err" "production" "refusal names the alias"
expect 0 "archive v2" "$R" archive mlp:2
expect 1 "promote an archived version" "$R" promote mlp 2
has "$tmp/err" "archived" "archived message"
expect 1 "archive a missing version" "$R" archive mlp:77
expect 2 "archive without a version" "$R" archive mlp
sql "insert into registry.history (model_id, kind, name, from_version, to_version) select id, 'alias', 'canary', 2, 3 from registry.models where name='mlp'"
expect 1 "rollback to an archived version" "$R" rollback mlp --alias canary

# ---- export
expect 0 "export v1 (bytea)" "$R" export mlp:1 "$tmp/e1.onnx"
cmp -s "$tmp/e1.onnx" "$MLP" && ok "export v1 identical" || fail "export v1 bytes"
expect 0 "export v2 (uri)" "$R" export mlp:2 "$tmp/e2.onnx"
cmp -s "$tmp/e2.onnx" "$MLP" && ok "export v2 identical" || fail "export v2 bytes"
sql "update registry.versions v set artifact = set_byte(artifact, 500, (get_byte(artifact, 500) + 1) % 256) from registry.models m where m.id = v.model_id and m.name = 'mlp' and v.version = 3"
expect 1 "export after tampering the bytea" "$R" export mlp:3 "$tmp/e3.onnx"
has "$tmp/err" "sha256 mismatch" "tampering detected"
[[ ! -e $tmp/e3.onnx ]] && ok "nothing written on mismatch" || fail "file written"
printf 'x' >>"$tmp/big.onnx"
expect 1 "export after the uri file changed" "$R" export mlp:2 "$tmp/e2b.onnx"

# ---- SQL metacharacters stored and returned verbatim
evil="'; DROP TABLE registry.models; --"
desc=$'quote \' dquote " backslash \\ percent % dollar $1 tab\t日本語 🚀'
expect 0 "register an evil name" "$R" register "$evil" "$ID" --description "$desc" \
        --tag "k'ey=va\"l\\ue" --meta '{"sql": "x\u0027); DELETE FROM registry.versions; --", "u": "ünï"}'
expect 0 "show the evil name --json" "$R" show "$evil" --json
EVIL=$evil DESC=$desc python3 - "$tmp/out" <<'PY' && ok "evil name and metadata verbatim" || fail "evil round trip"
import json, os, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == os.environ["EVIL"], d["name"]
assert d["description"] == os.environ["DESC"], d["description"]
v = d["versions"][0]
assert v["tags"] == {"k'ey": 'va"l\\ue'}, v["tags"]
assert v["metadata"]["sql"] == "x'); DELETE FROM registry.versions; --"
assert v["metadata"]["u"] == "ünï"
PY
expect 0 "promote the evil name" "$R" promote "$evil" 1 --alias "a'; --" --reason "$desc"
expect 0 "history of the evil name" "$R" history "$evil" --json
[[ $(json 'd[0]["name"]') == "a'; --" ]] && ok "alias verbatim" || fail "evil alias"
[[ $(sql "select count(*) from registry.models") -eq 3 ]] && ok "tables intact" || fail "tables"

# ---- the worker role reads and listens, never writes
sql "create role test_worker login in role swarm_worker"
sql "create role test_admin login in role swarm_admin"
W="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=test_worker"
expect 0 "worker can list" "$R" --registry "$W" list
expect 0 "worker can export" "$R" --registry "$W" export mlp:1 "$tmp/w.onnx"
expect 1 "worker cannot promote" "$R" --registry "$W" promote mlp 3
has "$tmp/err" "permission denied" "permission denied message"
expect 1 "worker cannot register" "$R" --registry "$W" register mlp "$MLP"
expect 1 "worker cannot configure" "$R" --registry "$W" config mlp max_batch_rows=8
psql -X -q "$W" -c "update registry.history set reason = 'x'" >/dev/null 2>&1 && fail "worker updated history" || ok "worker cannot update history"
psql -X -q "$W" -c "listen swarm_registry" >/dev/null 2>&1 && ok "worker can LISTEN" || fail "worker LISTEN"
A="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=test_admin"
expect 0 "admin can promote" "$R" --registry "$A" promote mlp 3 --reason "admin role"
psql -X -q "$A" -c "delete from registry.history" >/dev/null 2>&1 && fail "admin deleted history" || ok "history is append-only"

# ---- connection errors, password masking, usage
expect 1 "unreachable database" "$R" --registry "host=$tmp/nosock port=1 password=s3cr3tpw" list
has "$tmp/err" "password=****" "password masked"
grep -q s3cr3tpw "$tmp/err" && fail "password printed" || ok "password not printed"
expect 1 "unreachable URI" "$R" --registry "postgresql://u:s3cr3tpw@127.0.0.1:1/db" list
grep -q s3cr3tpw "$tmp/err" && fail "URI password printed" || ok "URI password not printed"
expect 2 "no command" "$R"
expect 2 "unknown command" "$R" frobnicate
expect 2 "wrong arity" "$R" show
expect 0 "--help" "$R" --help

echo "$fails failure(s)"
[[ $fails -eq 0 ]]
