#!/usr/bin/env bash
# pg-test.sh starts a throwaway PostgreSQL cluster for the store tests and
# prints the line that points the tests at it:
#
#   eval "$(scripts/pg-test.sh)"        # start (or reuse) the cluster
#   go test ./postgres/...
#   scripts/pg-test.sh stop             # stop it and delete its files
#
# As root on Debian it installs the postgresql package if it is missing. The
# cluster trusts local connections, listens on 127.0.0.1 only, and runs with
# fsync off: it is for tests, never for data you want to keep. Running the
# script again while its cluster is up reuses that cluster. Logs go to stderr;
# stdout carries only the export line.
set -euo pipefail

state="${TMPDIR:-/tmp}/autodebit-pg-test.state"
dbname=autodebit_test

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

running() {
	[ -f "$state" ] || return 1
	# shellcheck disable=SC1090
	. "$state"
	[ -n "${PGDATA_DIR:-}" ] && [ -n "${BIN:-}" ] && as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR/data" status >/dev/null 2>&1
}

if [ "${1:-}" = stop ]; then
	if running; then
		log "stopping the cluster in $PGDATA_DIR"
		as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR/data" -m fast -w stop >&2
		rm -rf "$PGDATA_DIR"
	else
		log "no cluster running"
	fi
	rm -f "$state"
	exit 0
elif [ $# -gt 0 ]; then
	die "usage: $0 [stop]"
fi

if running; then
	log "reusing the cluster in $PGDATA_DIR on port $PORT"
	echo "export AUTODEBIT_TEST_POSTGRES_URL='$URL'"
	exit 0
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
mkdir "$PGDATA_DIR/sock"
if [ "$(id -u)" -eq 0 ]; then
	chown -R postgres:postgres "$PGDATA_DIR"
fi

PORT=${AUTODEBIT_PG_TEST_PORT:-54329}
while ! port_free "$PORT"; do
	PORT=$((PORT + 1))
	[ "$PORT" -lt 54429 ] || die "no free port in 54329-54428"
done

log "initdb in $PGDATA_DIR/data"
as_pg "$BIN/initdb" -D "$PGDATA_DIR/data" -U postgres --auth=trust -E UTF8 --no-sync >"$PGDATA_DIR/initdb.log" 2>&1 ||
	{ cat "$PGDATA_DIR/initdb.log" >&2; die "initdb failed"; }

log "starting on 127.0.0.1:$PORT"
as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/postgres.log" -w -t 60 \
	-o "-p $PORT -k $PGDATA_DIR/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
	start >&2 || { cat "$PGDATA_DIR/postgres.log" >&2; die "pg_ctl start failed"; }

as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$dbname"

URL="postgres://postgres@127.0.0.1:$PORT/$dbname?sslmode=disable"
cat >"$state" <<STATE
PGDATA_DIR='$PGDATA_DIR'
BIN='$BIN'
PORT='$PORT'
URL='$URL'
STATE
log "ready; stop with: $0 stop"
echo "export AUTODEBIT_TEST_POSTGRES_URL='$URL'"
