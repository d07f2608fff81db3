#!/usr/bin/env bash
# System tools the end-to-end kit tests use as real parts (see docs/local-gateway.md):
#   prometheus  Debian's build of Prometheus (with promtool). tests/e2e start their own on
#               loopback; the system service is never left running.
# Idempotent: does nothing when prometheus and promtool are already on PATH.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  echo "install-e2e-deps: prometheus and promtool already present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# The package's maintainer scripts would start a prometheus service on :9090. Keep services
# from starting during the install (policy-rc.d exit 101 = "action forbidden", the Debian
# convention), unless a policy is already in place.
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  added_policy=1
fi
cleanup() { if [ -n "$added_policy" ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

echo "install-e2e-deps: installing prometheus"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends prometheus

# On a machine with systemd the unit may still have been started: stop and disable it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $SUDO systemctl disable --now prometheus || true
fi
