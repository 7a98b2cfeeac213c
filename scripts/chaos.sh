#!/usr/bin/env bash
# Chaos run: a local cluster (3 edges, 2 routers, echo, push, presence, a Redis Cluster) under mixed load, with one
# random fault every 10 to 20 s; then every delivery invariant is checked and the result written to bench/results/
# (docs/guarantees.md, "Chaos runs"). Exits non-zero when an invariant is broken.
#
#   scripts/chaos.sh --minutes 10                 # the full run (release build)
#   scripts/chaos.sh --minutes 10 --seed 4242     # repeat a run's faults and their timing
#   scripts/chaos.sh --seconds 90 --seed 1 --debug  # what CI runs, on the debug build it already has
#   scripts/chaos.sh --minutes 10 -- --standalone-redis --backend-rate 40   # after --: more gateway-bench chaos flags
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=600
seed=""
build=release
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) seconds=$(( $2 * 60 )); shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --debug) build=debug; shift ;;
        --) shift; extra=("$@"); break ;;
        *) echo "usage: scripts/chaos.sh [--minutes N | --seconds N] [--seed S] [--debug] [-- gateway-bench chaos flags]" >&2; exit 2 ;;
    esac
done
bash scripts/setup.sh
if [ "$build" = release ]; then
    echo "[chaos] building gateway and gateway-bench (release)"
    swift build -c release --product gateway 2>&1 | { grep -vE 'prohibited flag' || true; }
    swift build -c release --product gateway-bench 2>&1 | { grep -vE 'prohibited flag' || true; }
else
    echo "[chaos] building gateway and gateway-bench (debug)"
    swift build --product gateway 2>&1 | { grep -vE 'prohibited flag' || true; }
    swift build --product gateway-bench 2>&1 | { grep -vE 'prohibited flag' || true; }
fi
args=(chaos --seconds "$seconds")
if [ -n "$seed" ]; then args+=(--seed "$seed"); fi
exec ".build/$build/gateway-bench" "${args[@]}" "${extra[@]}"
