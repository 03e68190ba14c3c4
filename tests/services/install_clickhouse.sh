#!/usr/bin/env bash
# ClickHouse for the tests: Debian's clickhouse-server / clickhouse-client (18.16 on bookworm/trixie).
# Idempotent: does nothing when the server binary is already there. The tests start their own
# server process (tests/services/clickhouse.py); the package's system service is not needed.
set -euo pipefail
if command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] \
  || command -v clickhouse >/dev/null 2>&1; then
  exit 0
fi
. "$(dirname "$0")/apt.sh"
apt_install clickhouse-server clickhouse-client
disable_services clickhouse-server
