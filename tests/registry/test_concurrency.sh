#!/usr/bin/env bash
# test_concurrency.sh SWARM_REGISTRY_BIN FIXTURES_DIR -- concurrent migrates,
# registrations and promotions leave a consistent registry.  Runs under
# tests/lib/with-postgres.sh.
set -u
R=$1
F=$2
ID=$F/identity/model.onnx
fails=0
ok()   { echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; fails=$((fails + 1)); }
sql() { psql -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# two migrates at once on an empty database: the advisory lock serializes
"$R" migrate >/dev/null 2>&1 & p1=$!
"$R" migrate >/dev/null 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
[[ $r1 -eq 0 && $r2 -eq 0 ]] && ok "concurrent migrates both succeed" || fail "migrate rc $r1 $r2"
[[ $(sql "select count(*) from registry.schema_migrations") -eq $(sql "select max(version) from registry.schema_migrations") ]] \
        && ok "each migration recorded once" || fail "migrations table"

# concurrent registrations get distinct numbers
for i in 1 2 3 4 5 6; do "$R" register m "$ID" >/dev/null 2>&1 & done
wait
[[ $(sql "select string_agg(version::text, ',' order by version) from registry.versions") == "1,2,3,4,5,6" ]] \
        && ok "six concurrent registrations: versions 1..6" || fail "versions: $(sql 'select string_agg(version::text, \',\') from registry.versions')"

# two writers promote in a loop at the same time
promoter() {
        for i in $(seq 1 15); do
                "$R" promote m $(( (i + $1) % 6 + 1 )) --reason "writer $1" >/dev/null 2>&1 || echo err
        done
}
promoter 0 >/tmp/promoter0.$$ & p1=$!
promoter 3 >/tmp/promoter1.$$ & p2=$!
wait $p1 $p2
errs=$(cat /tmp/promoter0.$$ /tmp/promoter1.$$ | wc -l)
rm -f /tmp/promoter0.$$ /tmp/promoter1.$$
[[ $errs -eq 0 ]] && ok "every promotion succeeded" || fail "$errs promotions failed"
# the history is a chain: each move starts where the previous one ended,
# and the alias is where the last one ended
broken=$(sql "select count(*) from (select from_version, lag(to_version) over (order by id) prev
               from registry.history where kind = 'alias' and name = 'production') h
              where h.prev is not null and h.from_version is distinct from h.prev")
[[ $broken -eq 0 ]] && ok "history is a consistent chain" || fail "$broken broken links"
[[ $(sql "select version from registry.aliases where alias = 'production'") -eq \
   $(sql "select to_version from registry.history where kind = 'alias' and name = 'production' order by id desc limit 1") ]] \
        && ok "alias equals the last history row" || fail "alias vs history"
[[ $(sql "select count(*) from registry.history where from_version is null") -eq 1 ]] \
        && ok "exactly one first promotion" || fail "first promotions"

echo "$fails failure(s)"
[[ $fails -eq 0 ]]
