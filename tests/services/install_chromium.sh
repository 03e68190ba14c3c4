#!/usr/bin/env bash
# Chromium for the web console's browser tests: Debian's chromium + chromium-driver, driven headless by
# Playwright's Python API (executable_path=/usr/bin/chromium). Idempotent: nothing to do when it is there.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Another installer may hold the dpkg lock: wait for it (up to 10 minutes) instead of failing.
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends chromium chromium-driver \
  fonts-liberation
