#!/usr/bin/env bash
# Checks scripts/pg-test.sh the way two runs on one machine use it: two
# clusters started at once get their own state, directory and port; stopping
# one leaves the other up; `stop` without a state, or with a state file it did
# not write, stops nothing. It only ever stops the clusters it started itself.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
states=()
cleanup() {
	local s
	for s in "${states[@]}"; do
		[[ ! -f "$s" ]] || scripts/pg-test.sh stop "$s" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "test-pg-test: FAIL: $*" >&2; exit 1; }

# field FILE NAME prints NAME's value from an export file.
field() { sed -n "s/^export $2='\(.*\)'\$/\1/p" "$1"; }

# up URL succeeds when a server answers at URL.
up() {
	local bin
	bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	"$bin/pg_isready" -q -d "$1"
}

# Two starts at the same moment, as two `scripts/test` runs would make.
env -u AUTODEBIT_PG_TEST_STATE scripts/pg-test.sh >"$work/a" 2>"$work/a.log" &
pid_a=$!
env -u AUTODEBIT_PG_TEST_STATE scripts/pg-test.sh >"$work/b" 2>"$work/b.log" &
pid_b=$!
wait "$pid_a" || { cat "$work/a.log" >&2; fail "the first start failed"; }
wait "$pid_b" || { cat "$work/b.log" >&2; fail "the second start failed"; }
state_a=$(field "$work/a" AUTODEBIT_PG_TEST_STATE)
state_b=$(field "$work/b" AUTODEBIT_PG_TEST_STATE)
url_a=$(field "$work/a" AUTODEBIT_TEST_POSTGRES_URL)
url_b=$(field "$work/b" AUTODEBIT_TEST_POSTGRES_URL)
states=("$state_a" "$state_b")
[[ -f "$state_a" && -f "$state_b" ]] || fail "a start printed no state file: '$state_a' '$state_b'"
[[ "$state_a" != "$state_b" ]] || fail "both runs share the state file $state_a"
[[ "$url_a" != "$url_b" ]] || fail "both runs got $url_a"
up "$url_a" || fail "cluster A ($url_a) is not up"
up "$url_b" || fail "cluster B ($url_b) is not up"

# stop with nothing named, or with a state file it did not write beside a
# cluster, must refuse and stop nothing.
if env -u AUTODEBIT_PG_TEST_STATE scripts/pg-test.sh stop 2>"$work/stop.log"; then
	fail "stop with no state succeeded"
fi
grep -q AUTODEBIT_PG_TEST_STATE "$work/stop.log" || fail "stop with no state did not say what is missing: $(cat "$work/stop.log")"
cp "$state_a" "$work/copied.state"
if scripts/pg-test.sh stop "$work/copied.state" 2>/dev/null; then
	fail "stop with a copied state file succeeded"
fi
up "$url_a" && up "$url_b" || fail "a refused stop stopped a cluster"

# A shell that started A reuses it; starting afresh never does.
[[ "$(AUTODEBIT_PG_TEST_STATE=$state_a scripts/pg-test.sh 2>/dev/null | head -n 1)" == "export AUTODEBIT_TEST_POSTGRES_URL='$url_a'" ]] ||
	fail "a start with A's state did not reuse A"

# Stopping A leaves B up.
AUTODEBIT_PG_TEST_STATE=$state_a scripts/pg-test.sh stop 2>/dev/null
! up "$url_a" || fail "cluster A is still up after its stop"
[[ ! -e "$(dirname "$state_a")" ]] || fail "A's directory $(dirname "$state_a") is left after its stop"
up "$url_b" || fail "stopping A stopped B"
if scripts/pg-test.sh stop "$state_a" 2>/dev/null; then
	fail "a second stop of A succeeded"
fi

scripts/pg-test.sh stop "$state_b" 2>/dev/null
! up "$url_b" || fail "cluster B is still up after its stop"
echo "test-pg-test: ok"
