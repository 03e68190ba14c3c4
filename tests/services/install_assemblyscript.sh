#!/usr/bin/env bash
# AssemblyScript compiler (npm `assemblyscript`) for `scorpius rules build` and its tests.
# Idempotent; installed under ~/.cache/scorpius/assemblyscript.
set -euo pipefail
version=0.28.20
dest="${HOME}/.cache/scorpius/assemblyscript"
if [ -x "$dest/node_modules/.bin/asc" ] && [ "$(cat "$dest/.version" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
. "$(dirname "$0")/npm.sh"
ensure_npm install_assemblyscript
mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"name": "scorpius-asc", "private": true}' > package.json
npm install --no-audit --no-fund --silent "assemblyscript@${version}"
echo "$version" > .version
"$dest/node_modules/.bin/asc" --version
