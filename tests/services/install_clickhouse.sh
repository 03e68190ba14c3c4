#!/usr/bin/env bash
# ClickHouse for the tests: Debian's clickhouse-server / clickhouse-client (18.16 on bookworm/trixie).
# Idempotent: does nothing when the server binary is already there. The tests start their own
# server process (tests/services/clickhouse.py); the package's system service is not needed.
set -euo pipefail
if command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] \
  || command -v clickhouse >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Another installer may hold the dpkg lock: wait for it (up to 10 minutes) instead of failing.
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
  clickhouse-server clickhouse-client
# Debian's postinst may start the system service; the tests do not use it.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now clickhouse-server >/dev/null 2>&1 || true
fi
