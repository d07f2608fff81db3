#!/usr/bin/env bash
# System tools the CLI tests use as real parts (see docs/cli.md):
#   docker-registry  Debian's build of the CNCF distribution registry, started on loopback by
#                    tests/cli/global-setup.ts (never as a system service)
#   skopeo           an OCI client we did not write, to inspect what the CLI pushed and wrote
#   htpasswd         (apache2-utils) makes the bcrypt htpasswd file for the basic-auth registry
#   openssl          makes the token issuer's certificate for the bearer-token registry
# Idempotent: does nothing when every tool is already on PATH.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-system-deps: docker-registry, skopeo, htpasswd and openssl already present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# The docker-registry package's maintainer scripts would start a registry service on :5000.
# The tests start their own on loopback, so keep services from starting during the install
# (policy-rc.d exit 101 = "action forbidden", the Debian convention), unless one is in place.
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  added_policy=1
fi
cleanup() { if [ -n "$added_policy" ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"

# On a machine with systemd the unit may still have been started: stop and disable it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  $SUDO systemctl disable --now docker-registry || true
fi
