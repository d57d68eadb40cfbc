#!/usr/bin/env bash
# pg-test.sh starts a throwaway PostgreSQL cluster for the store tests and
# prints the lines that point the tests at it:
#
#   eval "$(scripts/pg-test.sh)"        # start a cluster of this shell's own
#   go test ./postgres/...
#   scripts/pg-test.sh stop             # stop that cluster and delete its files
#
# Every start makes a cluster of its own: a new directory (mktemp), the first
# free port from 54329 (AUTODEBIT_PG_TEST_PORT), and a state file inside that
# directory, printed as AUTODEBIT_PG_TEST_STATE. `stop` acts only on the
# cluster that state file names (`stop STATE` names it explicitly), and only
# when the file lies in the directory it describes; it never stops a cluster
# it merely finds running. So runs on one machine never stop each other's
# clusters, and a cluster started some other way is never touched. Running
# the script again where AUTODEBIT_PG_TEST_STATE names a running cluster
# reuses it.
#
# As root on Debian it installs the postgresql package if it is missing. The
# cluster trusts local connections, listens on 127.0.0.1 only, and runs with
# fsync off: it is for tests, never for data you want to keep. Logs go to
# stderr; stdout carries only the export lines.
set -euo pipefail

dbname=autodebit_test
marker=.autodebit-pg-test # in every directory this script creates
PORT=''

log() { echo "pg-test: $*" >&2; }
die() { log "$*"; exit 1; }

# as_pg runs a command as the postgres user when we are root (initdb and
# postgres refuse to run as root), or as ourselves otherwise.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

find_bin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	[ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# load_state reads a state file into PGDATA_DIR, BIN, PORT and URL without
# running it, and fails unless the file sits in the directory it names and
# that directory was made by this script: a state file copied, edited or
# written by someone else cannot point stop at another cluster.
load_state() {
	local file=$1 key value dir
	PGDATA_DIR='' BIN='' PORT='' URL=''
	[ -f "$file" ] || return 1
	while IFS='=' read -r key value; do
		value=${value#\'}
		value=${value%\'}
		case $key in
		PGDATA_DIR) PGDATA_DIR=$value ;;
		BIN) BIN=$value ;;
		PORT) PORT=$value ;;
		URL) URL=$value ;;
		esac
	done <"$file"
	dir=$(cd "$(dirname "$file")" && pwd -P)
	[ -n "$PGDATA_DIR" ] && [ -n "$BIN" ] && [ -d "$PGDATA_DIR" ] &&
		[ "$(cd "$PGDATA_DIR" && pwd -P)" = "$dir" ] && [ -f "$PGDATA_DIR/$marker" ]
}

running() { as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR/data" status >/dev/null 2>&1; }

stop_cluster() {
	if running; then
		log "stopping the cluster in $PGDATA_DIR (port $PORT)"
		as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR/data" -m fast -w stop >&2
	else
		log "the cluster in $PGDATA_DIR is not running; deleting its files"
	fi
	rm -rf "$PGDATA_DIR"
}

if [ "${1:-}" = stop ]; then
	[ $# -le 2 ] || die "usage: $0 stop [STATE]"
	state=${2:-${AUTODEBIT_PG_TEST_STATE:-}}
	[ -n "$state" ] || die "stop: no cluster named: set AUTODEBIT_PG_TEST_STATE (printed by the start) or pass its state file; nothing stopped"
	[ -f "$state" ] || die "stop: $state does not exist (already stopped?); nothing stopped"
	load_state "$state" || die "stop: $state is not a state file this script wrote beside its cluster; nothing stopped"
	stop_cluster
	exit 0
elif [ $# -gt 0 ]; then
	die "usage: $0 [stop [STATE]]"
fi

if [ -n "${AUTODEBIT_PG_TEST_STATE:-}" ]; then
	if load_state "$AUTODEBIT_PG_TEST_STATE" && running; then
		log "reusing the cluster in $PGDATA_DIR on port $PORT"
		echo "export AUTODEBIT_TEST_POSTGRES_URL='$URL'"
		echo "export AUTODEBIT_PG_TEST_STATE='$AUTODEBIT_PG_TEST_STATE'"
		exit 0
	fi
	log "AUTODEBIT_PG_TEST_STATE=$AUTODEBIT_PG_TEST_STATE names no running cluster; starting a new one"
fi

BIN=$(find_bin || true)
if [ -z "$BIN" ]; then
	[ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed; run as root to install it, or install the postgresql package"
	log "installing postgresql"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y postgresql >&2
	BIN=$(find_bin) || die "postgresql installed but no initdb under /usr/lib/postgresql/*/bin"
fi
log "using $BIN"

PGDATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/autodebit-pg.XXXXXX")
touch "$PGDATA_DIR/$marker"
# Until the export lines are printed nobody else knows this cluster: remove
# it if anything below fails.
ready=
cleanup() { [ -n "$ready" ] || stop_cluster; }
trap cleanup EXIT
mkdir "$PGDATA_DIR/sock"
if [ "$(id -u)" -eq 0 ]; then
	chown -R postgres:postgres "$PGDATA_DIR"
fi

log "initdb in $PGDATA_DIR/data"
as_pg "$BIN/initdb" -D "$PGDATA_DIR/data" -U postgres --auth=trust -E UTF8 --no-sync >"$PGDATA_DIR/initdb.log" 2>&1 ||
	{ cat "$PGDATA_DIR/initdb.log" >&2; die "initdb failed"; }

# Two runs may pick the same free port at the same moment; the one that
# loses the bind tries the next port.
PORT=${AUTODEBIT_PG_TEST_PORT:-54329}
last=$((PORT + 100))
while :; do
	[ "$PORT" -lt "$last" ] || die "no free port below $last"
	if ! port_free "$PORT"; then
		PORT=$((PORT + 1))
		continue
	fi
	log "starting on 127.0.0.1:$PORT"
	rm -f "$PGDATA_DIR/postgres.log"
	if as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/postgres.log" -w -t 60 \
		-o "-p $PORT -k $PGDATA_DIR/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
		start >/dev/null 2>&1; then
		break
	fi
	if grep -q "could not bind\|could not create any TCP/IP sockets" "$PGDATA_DIR/postgres.log" 2>/dev/null; then
		log "port $PORT was taken meanwhile; trying the next"
		PORT=$((PORT + 1))
		continue
	fi
	cat "$PGDATA_DIR/postgres.log" >&2 || true
	die "pg_ctl start failed"
done

as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$dbname"

URL="postgres://postgres@127.0.0.1:$PORT/$dbname?sslmode=disable"
state="$PGDATA_DIR/state"
cat >"$state" <<STATE
PGDATA_DIR='$PGDATA_DIR'
BIN='$BIN'
PORT='$PORT'
URL='$URL'
STATE
ready=1
log "ready on port $PORT; stop with: $0 stop $state"
echo "export AUTODEBIT_TEST_POSTGRES_URL='$URL'"
echo "export AUTODEBIT_PG_TEST_STATE='$state'"
