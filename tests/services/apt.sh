# Sourced by the installers of Debian packages.

# apt_install PACKAGE...: as root, or through sudo when not. Another installer may hold the dpkg
# lock: wait for it (up to 10 minutes) instead of failing.
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -q
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@"
}

# disable_services NAME...: the tests start their own server processes; a package's system
# service (which Debian's postinst may start) is not wanted.
disable_services() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now "$@" >/dev/null 2>&1 || true
  fi
}
