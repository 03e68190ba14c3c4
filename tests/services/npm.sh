# Sourced by the installers of npm packages: makes sure npm is there (apt as root), or fails
# naming what is missing. $1: the installer's name for the message.
ensure_npm() {
  command -v npm >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # apt may be busy with another installer: wait for its lock rather than fail.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq nodejs npm
  else
    echo "$1: npm is required (apt-get install nodejs npm)" >&2
    exit 1
  fi
}

# npm_install_pinned INSTALLER PREFIX [--ignore-scripts] NAME@VERSION...: installs the pinned
# packages under PREFIX/node_modules, unless every one of them is there at its version already;
# sets npm_installed=true when it ran npm.
npm_install_pinned() {
  local installer="$1" prefix="$2"
  shift 2
  local flags=()
  if [ "${1:-}" = --ignore-scripts ]; then
    flags+=("$1")
    shift
  fi
  local spec manifest missing=false
  for spec in "$@"; do
    manifest="${prefix}/node_modules/${spec%@*}/package.json"
    if ! { [ -f "$manifest" ] && grep -q "\"version\": \"${spec##*@}\"" "$manifest"; }; then
      missing=true
    fi
  done
  npm_installed=false
  $missing || return 0
  ensure_npm "$installer"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund "${flags[@]}" "$@"
  npm_installed=true
}
