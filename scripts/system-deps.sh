#!/usr/bin/env bash
# The Debian packages the test suite needs, in one place: `make test`, `.ci/run` and the README use this list.
#   scripts/system-deps.sh list     print the packages, one a line
#   scripts/system-deps.sh missing  print the ones not installed
#   scripts/system-deps.sh ensure   install the missing ones (as root, or with passwordless sudo);
#                                   otherwise say which and how, and exit 1
set -euo pipefail

# package            what needs it
PACKAGES=(
  chromium          # real-browser UI tests (headless Chromium)
  chromium-driver   # Selenium drives Chromium through it
  tesseract-ocr     # OCR of image attachments
  dovecot-imapd     # the IMAP server the e-mail tests start on loopback
)

missing() {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || echo "$pkg"
  done
}

ensure() {
  local todo
  mapfile -t todo < <(missing)
  [ ${#todo[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      {
        echo "make test needs these Debian packages, which are not installed: ${todo[*]}"
        echo "(Chromium and its driver for the browser tests, Tesseract for OCR, Dovecot for the e-mail tests.)"
        echo "Install them as root, then run make test again:"
        echo "  sudo apt-get install -y ${todo[*]}"
      } >&2
      return 1
    fi
  fi
  echo "Installing the Debian packages the tests need: ${todo[*]}" >&2
  if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${todo[@]}" >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${todo[@]}" >/dev/null
  fi
  # Debian enables and starts dovecot on install; the tests start their own on loopback
  if [ -x /usr/sbin/dovecot ] && command -v systemctl >/dev/null 2>&1; then
    "${sudo[@]}" systemctl disable --now dovecot >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  list) printf '%s\n' "${PACKAGES[@]}" ;;
  missing) missing ;;
  ensure) ensure ;;
  *) echo "usage: $0 list|missing|ensure" >&2; exit 2 ;;
esac
