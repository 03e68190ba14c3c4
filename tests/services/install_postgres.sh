#!/usr/bin/env bash
# PostgreSQL for the API store tests: Debian's package (15 on bookworm). The tests start their own
# cluster (initdb + pg_ctl as the postgres user in a temporary folder, tests/services/postgres.py);
# the package's system service is not needed.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && id postgres >/dev/null 2>&1; then
  exit 0
fi
. "$(dirname "$0")/apt.sh"
apt_install postgresql
disable_services postgresql
