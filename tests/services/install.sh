#!/usr/bin/env bash
# Installs the real servers the tests start (idempotent; downloads are cached in ~/.cache/scorpius).
# Each service has its own install_<name>.sh beside this file; each prints one line before it runs,
# so a first install (minutes: apt, Maven, npm, go install) is never silent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scripts=("$here"/install_*.sh)
total=${#scripts[@]}
step=0
for script in "${scripts[@]}"; do
  [ -e "$script" ] || continue
  step=$((step + 1))
  name=$(basename "$script" .sh)
  echo "services $step/$total: ${name#install_}"
  bash "$script"
done
echo "services: ready"
