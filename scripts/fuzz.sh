#!/usr/bin/env bash
# Runs every fuzz target in the module for a fixed budget each
# (FUZZTIME, default 10s). Usage: scripts/fuzz.sh [FUZZTIME]
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context
# deadline exceeded" at the end of -fuzztime when a worker is starved of CPU
# (golang/go#75804, fixed in Go 1.27): no input failed and nothing is written
# to testdata/fuzz. A run that fails exactly that way is run once more; any
# other failure, a reproducer written, or the same failure twice fails.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-${FUZZTIME:-10s}}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# deadline_race LOG CORPUS_BEFORE CORPUS_DIR: the failure in LOG is only the
# coordinator's deadline race.
deadline_race() {
	local after
	after=$(ls "$3" 2>/dev/null | sort || true)
	[ "$after" = "$2" ] || return 1
	grep -q 'Failing input written to' "$1" && return 1
	# The only lines after "--- FAIL" are the bare error, FAIL and the exit lines.
	# (Read whole, not through grep -q, which could end the pipe early.)
	local extra
	extra=$(sed -n '/^--- FAIL/,$p' "$1" | grep -vE '^(--- FAIL: .*|    context deadline exceeded|FAIL|exit status 1|FAIL	.*)$' || true)
	[ -z "$extra" ] || return 1
	grep -qE '^    context deadline exceeded$' "$1"
}

status=0
while IFS=: read -r file target; do
	pkg="./$(dirname "$file")"
	corpus="$(dirname "$file")/testdata/fuzz/$target"
	for try in 1 2; do
		echo "fuzz $pkg $target ($fuzztime)"
		before=$(ls "$corpus" 2>/dev/null | sort || true)
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
			break
		fi
		cat "$log"
		if [ "$try" = 1 ] && deadline_race "$log" "$before" "$corpus"; then
			echo "fuzz $target: Go's fuzz coordinator deadline race (golang/go#75804), no input failed; running it again"
			continue
		fi
		status=1
		break
	done
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)\(' . | sed -E 's#^\./##; s#:func (Fuzz[A-Za-z0-9_]+)\(#:\1#' | sort)
exit $status
