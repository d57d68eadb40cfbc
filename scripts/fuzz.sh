#!/usr/bin/env bash
# Runs every fuzz target in the module for a fixed budget each
# (FUZZTIME, default 10s). Usage: scripts/fuzz.sh [FUZZTIME]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-${FUZZTIME:-10s}}"
status=0
while IFS=: read -r file target; do
	pkg="./$(dirname "$file")"
	echo "fuzz $pkg $target ($fuzztime)"
	if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/fuzz.$$.log 2>&1; then
		cat /tmp/fuzz.$$.log
		status=1
	fi
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)\(' . | sed -E 's#^\./##; s#:func (Fuzz[A-Za-z0-9_]+)\(#:\1#' | sort)
rm -f /tmp/fuzz.$$.log
exit $status
