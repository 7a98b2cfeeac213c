#!/usr/bin/env bash
# Sets everything up (idempotent), builds the gateway and runs a local cluster: Redis, a Tansu broker, a router,
# two edges, the echo, push and presence services, and the demo page (open the URL it prints). Ctrl-C stops it all.
# Extra arguments go to `gateway dev` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[dev] building the gateway"
swift build --product gateway 2>&1 | { grep -vE 'prohibited flag' || true; }
echo "[dev] starting the local cluster"
exec "$(swift build --show-bin-path)/gateway" dev "$@"
