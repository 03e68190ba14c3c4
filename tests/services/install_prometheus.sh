#!/usr/bin/env bash
# Prometheus for the metrics test: Debian's package. The tests start their own server process
# (tests/services/prometheus.py); the package's system service is not needed.
set -euo pipefail
if [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; then
  exit 0
fi
. "$(dirname "$0")/apt.sh"
apt_install prometheus
disable_services prometheus prometheus-node-exporter
