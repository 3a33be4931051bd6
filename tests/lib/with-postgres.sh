#!/usr/bin/env bash
# with-postgres.sh [--tls] [-- CMD ARGS...]
#
# Starts a throw-away PostgreSQL server (initdb into a temporary folder, a
# free TCP port on 127.0.0.1, the Unix socket in that folder), creates the
# login superuser `swarm_test` and the database `swarm_test`, exports
#   PGHOST PGPORT PGUSER PGDATABASE   libpq's standard variables
#   SWARM_REGISTRY SWARM_DB           the same as a conninfo string
#   SWARM_PG_CTL                      a script: `$SWARM_PG_CTL stop|start`
#                                     stops/starts this server (tests that
#                                     check reconnection)
#   SWARM_PG_DATA                     the data folder
# runs CMD (default: an interactive shell), stops the server and removes the
# folder on every exit.  Exits with CMD's status; 125 when the server could
# not be started; 2 on usage.
#
# --tls: the server speaks TLS only and takes SCRAM passwords only: a test
# CA and a server certificate for localhost/127.0.0.1 (openssl, made here,
# never committed), ssl=on, password_encryption=scram-sha-256, and, once
# the role and database exist, a pg_hba.conf of one line,
#   hostssl all all 127.0.0.1/32 scram-sha-256
# (no Unix socket, no plain TCP, no trust).  swarm_test gets a random
# password.  Exports, besides PGPORT PGUSER PGDATABASE SWARM_PG_CTL:
#   PGHOST=localhost PGSSLMODE=verify-full PGSSLROOTCERT=CA
#   SWARM_PG_CA            the CA certificate
#   SWARM_PG_PASSWORD_FILE the password (mode 600)
#   PGPASSFILE             a .pgpass line for this server (mode 600)
#   SWARM_REGISTRY SWARM_DB  a conninfo with sslmode=verify-full and
#                          sslrootcert, without the password
#
# Runs as root too: the server then runs as the `postgres` system user
# (runuser), since PostgreSQL refuses to run as root.  Works on Debian 12
# (PostgreSQL 15) and 13 (17): the newest /usr/lib/postgresql/*/bin is used,
# or $SWARM_PG_BINDIR when set.
set -u

tls=
if [[ $# -gt 0 && $1 == --tls ]]; then
        tls=1
        shift
fi
if [[ $# -gt 0 && $1 != -- ]]; then
        echo "usage: with-postgres.sh [--tls] [-- CMD ARGS...]" >&2
        exit 2
fi
[[ $# -gt 0 ]] && shift
[[ $# -eq 0 ]] && set -- "${SHELL:-/bin/bash}"

bindir=${SWARM_PG_BINDIR:-}
if [[ -z $bindir ]]; then
        bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
if [[ -z $bindir || ! -x $bindir/initdb || ! -x $bindir/pg_ctl ]]; then
        echo "with-postgres.sh: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2
        exit 125
fi

runas=()
if [[ $(id -u) -eq 0 ]]; then
        if ! id postgres >/dev/null 2>&1; then
                useradd --system --no-create-home --shell /usr/sbin/nologin postgres ||
                        { echo "with-postgres.sh: cannot create user postgres" >&2; exit 125; }
        fi
        runas=(runuser -u postgres --)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/with-postgres.XXXXXX") || exit 125
chmod 755 "$tmp"
mkdir "$tmp/data" "$tmp/sock"
[[ ${#runas[@]} -gt 0 ]] && chown postgres: "$tmp/data" "$tmp/sock"
started=
cleanup() {
        if [[ -n $started ]]; then
                "${runas[@]}" "$bindir/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# A free port: bind to 0 and read back what the kernel chose.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null)
[[ -z $port ]] && port=$(( 20000 + RANDOM % 20000 ))

if ! "${runas[@]}" "$bindir/initdb" -D "$tmp/data" -U swarm_test -A trust -E UTF8 \
        --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1; then
        # C.UTF-8 may be missing on minimal systems; C works everywhere
        if ! "${runas[@]}" "$bindir/initdb" -D "$tmp/data" -U swarm_test -A trust -E UTF8 \
                --locale=C >"$tmp/initdb.log" 2>&1; then
                cat "$tmp/initdb.log" >&2
                echo "with-postgres.sh: initdb failed" >&2
                exit 125
        fi
fi
cat >>"$tmp/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$tmp/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
CONF

if [[ -n $tls ]]; then
        mkdir "$tmp/tls"
        if ! (
                set -e
                cd "$tmp/tls"
                openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 \
                        -subj "/CN=swarm test PostgreSQL CA" \
                        -addext "basicConstraints=critical,CA:TRUE" \
                        -addext "keyUsage=critical,keyCertSign,cRLSign"
                openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
                        -subj "/CN=localhost"
                printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
                        >server.ext
                openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
                        -days 1 -extfile server.ext -out server.crt
                rm -f ca.key server.csr
                chmod 600 server.key
        ) >"$tmp/tls.log" 2>&1; then
                cat "$tmp/tls.log" >&2
                echo "with-postgres.sh: openssl could not make the certificates" >&2
                exit 125
        fi
        [[ ${#runas[@]} -gt 0 ]] && chown postgres: "$tmp/tls/server.key" "$tmp/tls/server.crt"
        (umask 077; openssl rand -hex 24 >"$tmp/password")
        cat >>"$tmp/data/postgresql.conf" <<CONF
ssl = on
ssl_cert_file = '$tmp/tls/server.crt'
ssl_key_file = '$tmp/tls/server.key'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'
CONF
fi

cat >"$tmp/pg_ctl.sh" <<CTL
#!/usr/bin/env bash
# stop|start the server of this with-postgres.sh run
case "\$1" in
stop)  exec ${runas[*]} "$bindir/pg_ctl" -D "$tmp/data" -m fast -w stop ;;
start) exec ${runas[*]} "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 start ;;
*) echo "usage: \$0 stop|start" >&2; exit 2 ;;
esac
CTL
chmod 755 "$tmp/pg_ctl.sh"
touch "$tmp/server.log"
[[ ${#runas[@]} -gt 0 ]] && chown postgres: "$tmp/server.log"

if ! "$tmp/pg_ctl.sh" start >/dev/null 2>&1; then
        cat "$tmp/server.log" >&2
        echo "with-postgres.sh: the server did not start" >&2
        exit 125
fi
started=1

export PGHOST=$tmp/sock PGPORT=$port PGUSER=swarm_test PGDATABASE=swarm_test
unset PGPASSWORD PGSERVICE PGSERVICEFILE PGHOSTADDR PGOPTIONS
if ! "$bindir/createdb" swarm_test 2>"$tmp/createdb.log"; then
        cat "$tmp/createdb.log" >&2
        echo "with-postgres.sh: createdb failed" >&2
        exit 125
fi
export SWARM_REGISTRY="host=$tmp/sock port=$port user=swarm_test dbname=swarm_test"
if [[ -n $tls ]]; then
        # the password is set through the socket (trust, for this one
        # statement), then only hostssl + scram-sha-256 is left
        # on stdin, not a command line (ps); the password is hex, no quoting
        if ! printf "ALTER ROLE swarm_test PASSWORD '%s';\n" "$(cat "$tmp/password")" |
                "$bindir/psql" -qX -v ON_ERROR_STOP=1 >"$tmp/psql.log" 2>&1; then
                cat "$tmp/psql.log" >&2
                echo "with-postgres.sh: could not set the password" >&2
                exit 125
        fi
        echo "hostssl all all 127.0.0.1/32 scram-sha-256" >"$tmp/data/pg_hba.conf"
        if ! "${runas[@]}" "$bindir/pg_ctl" -D "$tmp/data" -w reload >/dev/null 2>&1; then
                echo "with-postgres.sh: pg_ctl reload failed" >&2
                exit 125
        fi
        (umask 077; printf 'localhost:%s:swarm_test:swarm_test:%s\n' "$port" \
                "$(cat "$tmp/password")" >"$tmp/pgpass")
        export PGHOST=localhost PGSSLMODE=verify-full PGSSLROOTCERT=$tmp/tls/ca.crt \
                PGPASSFILE=$tmp/pgpass SWARM_PG_CA=$tmp/tls/ca.crt \
                SWARM_PG_PASSWORD_FILE=$tmp/password
        export SWARM_REGISTRY="host=localhost port=$port user=swarm_test dbname=swarm_test sslmode=verify-full sslrootcert=$tmp/tls/ca.crt"
fi
export SWARM_DB=$SWARM_REGISTRY
export SWARM_PG_CTL=$tmp/pg_ctl.sh SWARM_PG_DATA=$tmp/data

"$@"
exit $?
