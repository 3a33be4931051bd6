#!/usr/bin/env bash
# with-registry.sh [--auth] -- COMMAND...: run COMMAND with a Confluent-
# compatible Schema Registry listening on 127.0.0.1, its URL in
# SWARM_TEST_REGISTRY_URL (and the URL of a second one that wants basic auth
# swarm:s3cret in SWARM_TEST_REGISTRY_AUTH_URL with --auth).
#
# The registry is Apicurio Registry (Confluent API at /apis/ccompat/v7) when
# SWARM_APICURIO_DIR names a built Quarkus application (quarkus-run.jar),
# else tests/schemareg/mini_registry.py.  Why not always Apicurio: Maven
# Central carries only apicurio-registry-app-*.jar, the application's
# classes without the Quarkus runner, and a Quarkus build of it (a pom with
# the app as dependency and quarkus-maven-plugin:build) cannot resolve from
# Central: 3.3.3 needs Quarkus 3.33.3.1 (a vendor build, not on Central),
# 2.6.13.Final needs apicurio-common-app-components 0.2.7.Final and
# apicurio-tenant-manager-client, which Central does not have either.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
auth=0
while [ $# -gt 0 ]; do
  case $1 in
    --auth) auth=1; shift;;
    --) shift; break;;
    *) echo "with-registry.sh: unknown option $1" >&2; exit 2;;
  esac
done
tmp=$(mktemp -d /tmp/swarm-registry.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_file() {   # FILE PID
  for _ in $(seq 1 600); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start_mini() {  # NAME [ARGS...]
  local name=$1; shift
  /usr/bin/python3 "$here/mini_registry.py" --port-file "$tmp/$name.url" "$@" \
    >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  wait_file "$tmp/$name.url" "$!" || { cat "$tmp/$name.log" >&2; exit 1; }
}

if [ -n "${SWARM_APICURIO_DIR:-}" ] && [ -f "$SWARM_APICURIO_DIR/quarkus-run.jar" ]; then
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  java -Dquarkus.http.port="$port" -Dquarkus.http.host=127.0.0.1 \
       -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2 \
       -jar "$SWARM_APICURIO_DIR/quarkus-run.jar" >"$tmp/apicurio.log" 2>&1 &
  pids+=($!)
  url=http://127.0.0.1:$port/apis/ccompat/v7
  for _ in $(seq 1 900); do
    curl -fs "$url/subjects" >/dev/null 2>&1 && break
    kill -0 "${pids[0]}" 2>/dev/null || { tail -30 "$tmp/apicurio.log" >&2; exit 1; }
    sleep 0.2
  done
  curl -fs "$url/subjects" >/dev/null || { echo "Apicurio did not start" >&2; exit 1; }
  echo "with-registry: Apicurio Registry at $url" >&2
else
  start_mini plain
  url=$(cat "$tmp/plain.url")
  echo "with-registry: mini_registry.py at $url (no SWARM_APICURIO_DIR)" >&2
fi
export SWARM_TEST_REGISTRY_URL=$url SWARM_TEST_REGISTRY_PID=${pids[0]}
if [ "$auth" = 1 ]; then
  start_mini auth --user swarm:s3cret
  export SWARM_TEST_REGISTRY_AUTH_URL=$(cat "$tmp/auth.url")
fi
"$@"
