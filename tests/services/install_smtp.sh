#!/usr/bin/env bash
# SMTP for the alert tests is aiosmtpd, a Python package of the dev extra: nothing to download
# beyond it. Idempotent: installs it into the project venv only when it is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON_BIN:-$root/.venv/bin/python}
[ -x "$python" ] || python=python3
if ! "$python" -c 'import aiosmtpd, cryptography' 2>/dev/null; then
  "$python" -m pip install --quiet 'aiosmtpd>=1.4' 'cryptography>=42'
fi
"$python" -c 'import aiosmtpd; print("aiosmtpd", aiosmtpd.__version__, "ready")'
