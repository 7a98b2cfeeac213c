#!/usr/bin/env bash
# Builds the release gateway and the load generator, then runs benchmark scenarios on this machine. Each scenario
# starts its own local cluster and writes a JSON result to bench/results/ (docs/performance.md).
#
#   scripts/bench.sh                       # every scenario at the sizes of the performance goals (about 20 minutes)
#   scripts/bench.sh connections --devices 19000 --edges 1
#   scripts/bench.sh roundtrip --rate 2000 --devices 1000
#   scripts/bench.sh smoke                 # every scenario tiny and short (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[bench] building gateway and gateway-bench (release)"
swift build -c release --product gateway 2>&1 | { grep -vE 'prohibited flag' || true; }
swift build -c release --product gateway-bench 2>&1 | { grep -vE 'prohibited flag' || true; }
bench=.build/release/gateway-bench

if [ $# -gt 0 ]; then
    exec "$bench" "$@"
fi
"$bench" connections --devices 19000 --edges 1
"$bench" connections --devices 19000 --edges 1 --tls
"$bench" connections --devices 100000 --edges 6
"$bench" upstream --devices 100
"$bench" roundtrip --devices 1000 --rate 2000
"$bench" downstream --devices 1000
"$bench" downstream --targets random --devices 10000 --backlog 1
"$bench" downstream --targets random --devices 10000 --backlog 1 --rate 2000
"$bench" reconnect --devices 15000 --edges 3
"$bench" fanout --mode broadcast --subscribers 100000 --edges 6 --rate 100
"$bench" fanout --mode broadcast --subscribers 100000 --edges 6 --rate 1 --duration 20 --probes 3
"$bench" fanout --mode edge --subscribers 19000 --edges 1 --rate 50
"$bench" fanout --mode storm --subscribers 15000 --edges 3 --missed 100
"$bench" api
echo "[bench] results in bench/results/"
