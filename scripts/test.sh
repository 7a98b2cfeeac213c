#!/usr/bin/env bash
# Sets everything up (idempotent) and runs the whole test suite. The tests start their own Redis and Tansu broker
# on free ports, and the gateway's components as real processes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] building (debug, with tests)"
swift build --build-tests 2>&1 | { grep -vE 'prohibited flag' || true; }
echo "[test] JavaScript client unit tests (node --test)"
node --test clients/js/test/
echo "[test] running the test suite"
exec swift test --skip-build "$@"
