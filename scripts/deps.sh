#!/usr/bin/env bash
# Installs the system packages the tests need, as root on Debian: Chromium
# for the browser tests and PostgreSQL for the store tests. Idempotent: it
# runs apt-get only when something is missing, and `apt-get update` once.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || missing+=(postgresql)
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
