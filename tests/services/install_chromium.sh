#!/usr/bin/env bash
# Chromium for the web console's browser tests: Debian's chromium + chromium-driver, driven headless by
# Playwright's Python API (executable_path=/usr/bin/chromium). Idempotent: nothing to do when it is there.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
. "$(dirname "$0")/apt.sh"
apt_install chromium chromium-driver fonts-liberation
