#!/usr/bin/env bash
# Prometheus for the tests: Debian's `prometheus` package (the server and promtool).
# Idempotent: does nothing when /usr/bin/prometheus and promtool are there. The tests start their
# own server process (tests/services/prometheus.py); the package's system service is not used.
set -euo pipefail
if [ -x /usr/bin/prometheus ] && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Another installer may hold the dpkg lock: wait for it (up to 10 minutes) instead of failing.
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends prometheus
# Debian's postinst may start the system service; the tests do not use it.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
