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
if [ $# -gt 0 ]; then
  exec swift test --skip-build "$@"
fi
# schemathesis sends thousands of requests from two Python workers: on a small machine that starves the timing of the
# tests running beside it, so it runs on its own after the rest (CG_SCHEMATHESIS=later skips it in the first run).
echo "[test] running the test suite"
status=0
CG_SCHEMATHESIS=later swift test --skip-build || status=$?
echo "[test] schemathesis against the live gateway api, alone"
swift test --skip-build --filter APISchemathesisTests || status=$?
exit $status
