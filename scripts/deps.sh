#!/usr/bin/env bash
# Installs the system packages the tests need, as root on Debian: Chromium
# for the browser tests and PostgreSQL for the store tests. Idempotent: it
# runs apt-get only when something is missing, and `apt-get update` once.
#
# Usage: scripts/deps.sh [chromium] [postgresql]   (no argument: both)
set -euo pipefail

want=("$@")
((${#want[@]})) || want=(chromium postgresql)
missing=()
for pkg in "${want[@]}"; do
	case $pkg in
	chromium) command -v chromium >/dev/null 2>&1 || [[ -x /usr/bin/chromium ]] || missing+=(chromium) ;;
	postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql) ;;
	*) echo "deps.sh: unknown package $pkg; want chromium or postgresql" >&2; exit 2 ;;
	esac
done
if ((${#missing[@]} == 0)); then
	exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "deps.sh: missing ${missing[*]}; run as root (apt-get install -y ${missing[*]})" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
