#!/usr/bin/env bash
# Installs the Debian tools the size figure reads the wasm with (wabt's wasm-objdump and
# binaryen's wasm-opt), only when they are missing. Safe to run repeatedly.
set -euo pipefail
missing=()
command -v wasm-objdump >/dev/null 2>&1 || missing+=(wabt)
command -v wasm-opt >/dev/null 2>&1 || missing+=(binaryen)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "bench: installing ${missing[*]} with apt-get" >&2
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >&2
