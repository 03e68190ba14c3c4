#!/usr/bin/env bash
# Installs the real servers the tests start (idempotent; downloads are cached in ~/.cache/scorpius).
# Each service has its own install_<name>.sh beside this file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for script in "$here"/install_*.sh; do
  [ -e "$script" ] || continue
  bash "$script"
done
