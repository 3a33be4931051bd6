#!/usr/bin/env bash
# test_roles.sh SWARM_REGISTRY_BIN FIXTURES_DIR -- the worker role
# (swarm_worker) reads the registry and cannot change it: on every table of
# schema registry (listed from the catalog, so a table added later is
# covered), INSERT, UPDATE, DELETE and TRUNCATE are refused with "permission
# denied" while SELECT returns the rows; sequences and CREATE in the schema
# are refused too.  The admin role (swarm_admin) can write, so the checks
# are not passing for a broken connection.  Runs under with-postgres.sh.
set -u
R=$1
F=$2
fails=0 checks=0
ok()   { checks=$((checks + 1)); }
fail() { echo "FAIL $*" >&2; fails=$((fails + 1)); }
sql()  { psql -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }
W="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=roles_worker"
A="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=roles_admin"
# as ROLE_CONNINFO SQL: prints psql's stderr, returns its status
as() { psql -X -qAt -v ON_ERROR_STOP=1 "$1" -c "$2" 2>&1 >/dev/null; }
denied() { # denied DESC SQL
        local out
        if out=$(as "$W" "$2"); then fail "worker could $1: $2"
        elif ! grep -q "permission denied" <<<"$out"; then fail "$1: not a permission error: $out"
        else ok; fi
}

"$R" migrate >/dev/null || { echo "FAIL migrate" >&2; exit 1; }
"$R" register ident "$F/identity/model.onnx" >/dev/null || { echo "FAIL register" >&2; exit 1; }
"$R" promote ident 1 >/dev/null && "$R" config ident max_batch_rows=8 >/dev/null ||
        { echo "FAIL promote/config" >&2; exit 1; }
sql "create role roles_worker login in role swarm_worker"
sql "create role roles_admin login in role swarm_admin"

tables=$(sql "select tablename from pg_tables where schemaname = 'registry' order by 1")
[[ $(wc -w <<<"$tables") -ge 6 ]] || fail "expected the registry tables, got: $tables"
for t in $tables; do
        col=$(sql "select attname from pg_attribute where attrelid = 'registry.$t'::regclass
                   and attnum > 0 and not attisdropped order by attnum limit 1")
        rows=$(sql "select count(*) from registry.$t")
        got=$(psql -X -qAt "$W" -c "select count(*) from registry.$t" 2>&1)
        [[ $got == "$rows" ]] && ok || fail "worker read of $t: got '$got', want $rows"
        denied "insert into $t" "insert into registry.$t default values"
        denied "update $t" "update registry.$t set $col = $col"
        denied "delete from $t" "delete from registry.$t"
        denied "truncate $t" "truncate registry.$t"
done
for s in $(sql "select sequencename from pg_sequences where schemaname = 'registry'"); do
        denied "nextval($s)" "select nextval('registry.$s')"
done
denied "create a table" "create table registry.w_owned (x int)"
denied "alias moves" "update registry.aliases set version = version"
# the same rows as the worker would change, written by the admin role
as "$A" "update registry.deployments set max_batch_rows = 16" && ok || fail "admin cannot update"
[[ $(as "$W" "listen swarm_registry") == "" ]] && ok || fail "worker cannot LISTEN"

echo "roles: tables=$(wc -w <<<"$tables") checks=$checks failures=$fails"
[[ $fails -eq 0 ]]
