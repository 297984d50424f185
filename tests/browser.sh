#!/usr/bin/env bash
# A real headless browser for the tests that open the workflow's HTML report (tests/browser/test_report.py):
# Debian's Chromium and its matching ChromeDriver, which Selenium drives (the Python side is in the `dev`
# extra). Nothing is downloaded at test time: Selenium is pointed at /usr/bin/chromedriver.
#
#   tests/browser.sh install   apt packages (needs root); does nothing when both are installed
#   tests/browser.sh status    the browser's and the driver's versions; exit 1 unless both are installed
set -euo pipefail

PACKAGES=(chromium chromium-driver)
BROWSER=chromium DRIVER=chromedriver

log() { echo "browser.sh: $*" >&2; }

installed() { command -v "$BROWSER" >/dev/null && command -v "$DRIVER" >/dev/null; }

install() {
  installed && return 0
  if [[ $(id -u) != 0 ]]; then
    log "$BROWSER or $DRIVER is missing and installing ${PACKAGES[*]} needs root"
    exit 2
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  installed || { log "installed ${PACKAGES[*]}, but $BROWSER or $DRIVER is still not on PATH"; exit 1; }
  log "installed $(status | paste -sd ' ' -)"
}

status() {
  local ok=0
  # Debian's launcher script prints a harmless shell warning on some machines: keep only its answer.
  if command -v "$BROWSER" >/dev/null; then "$BROWSER" --version 2>/dev/null; else echo "$BROWSER: missing"; ok=1; fi
  if command -v "$DRIVER" >/dev/null; then "$DRIVER" --version; else echo "$DRIVER: missing"; ok=1; fi
  return $ok
}

case ${1:-} in
install) install ;;
status) status ;;
*)
  sed -n '2,7p' "$0" >&2
  exit 2
  ;;
esac
