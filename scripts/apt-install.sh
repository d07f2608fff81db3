#!/usr/bin/env bash
# apt-install.sh PACKAGE...: installs Debian packages for the tests' real parts without letting
# their maintainer scripts start system services (the tests start their own on loopback): a
# temporary policy-rc.d that exits 101 ("action forbidden", the Debian convention), unless one is
# already in place; and on a systemd machine any unit named like a package is stopped after.
set -euo pipefail
[ "$#" -gt 0 ] || exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  added_policy=1
fi
cleanup() { if [ -n "$added_policy" ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "$@"

if command -v systemctl >/dev/null 2>&1; then
  for unit in "$@"; do
    if systemctl is-active --quiet "$unit" 2>/dev/null; then $SUDO systemctl disable --now "$unit" || true; fi
  done
fi
