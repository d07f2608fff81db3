#!/usr/bin/env bash
# System tools the end-to-end kit tests use as real parts (see docs/local-gateway.md):
#   prometheus  Debian's build of Prometheus (with promtool). tests/e2e start their own on
#               loopback; the system service is never left running. promtool checks the scrape
#               jobs and runs every dashboard query (tests/kit/promtool-dashboard.test.ts).
# Idempotent: does nothing when prometheus and promtool are already on PATH.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  echo "install-e2e-deps: prometheus and promtool already present"
  exit 0
fi

echo "install-e2e-deps: installing prometheus"
bash "$(dirname "$0")/apt-install.sh" prometheus
