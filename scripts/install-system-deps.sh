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

echo "install-system-deps: installing ${missing[*]}"
bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
