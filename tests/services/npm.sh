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
