#!/usr/bin/env bash
# Builds the protocol fuzzer (libFuzzer + AddressSanitizer) and runs it for a bounded time over Fuzz/corpus/.
#
#   Fuzz/run.sh                   # 20 s
#   FUZZ_SECONDS=300 Fuzz/run.sh  # longer
#   Fuzz/run.sh -jobs=4           # extra arguments go to libFuzzer
#
# The committed corpus is only read: inputs the fuzzer finds interesting go to a temporary directory (printed, kept
# when FUZZ_KEEP_CORPUS=1). A crash exits non-zero and prints the path of the input that caused it
# (under .build/fuzz/crashes/); copy it to Fuzz/crashes/ to keep it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="$root/.build/fuzz"
crashes="$build/crashes"
binary="$build/fuzz-protocol"
seconds="${FUZZ_SECONDS:-20}"
mkdir -p "$build" "$crashes"

if ! command -v swiftc >/dev/null; then
    echo "fuzz: swiftc not found" >&2
    exit 2
fi

# Does this toolchain have libFuzzer? (Linux toolchains from swift.org do; Xcode's does not.)
probe="$build/probe"
mkdir -p "$probe"
cat >"$probe/probe.swift" <<'SWIFT'
@_cdecl("LLVMFuzzerTestOneInput") public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt { 0 }
SWIFT
if ! swiftc -parse-as-library -sanitize=fuzzer,address "$probe/probe.swift" -o "$probe/probe" >"$probe/log" 2>&1; then
    echo "fuzz: this swiftc cannot build with -sanitize=fuzzer:" >&2
    grep -v "Cannot export local symbol" "$probe/log" >&2 || true
    exit 2
fi

echo "fuzz: building $binary"
# ld.gold warns about every ASan symbol it cannot export; those warnings are harmless and hidden.
if ! swiftc -parse-as-library -sanitize=fuzzer,address -O \
        Sources/ChannelProtocol/*.swift Fuzz/FuzzProtocol.swift -o "$binary" >"$build/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$build/build.log" >&2 || true
    echo "fuzz: build failed" >&2
    exit 2
fi
grep -v "Cannot export local symbol" "$build/build.log" || true

work="$(mktemp -d "${TMPDIR:-/tmp}/fuzz-corpus.XXXXXX")"
if [[ "${FUZZ_KEEP_CORPUS:-0}" != 1 ]]; then
    trap 'rm -rf "$work"' EXIT
fi
log="$build/fuzz.log"
ls -1 "$crashes" | sort >"$build/crashes.before"
# Swift's own crash backtracer would take over the fatalError's signal (and can keep the pipe below open for its
# 30 s timeout); libFuzzer's handler is what writes the crash input.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"

echo "fuzz: running ${seconds}s over Fuzz/corpus ($(ls -1 Fuzz/corpus | wc -l) seeds); new inputs go to $work"
set +e
# The first directory collects new inputs; the committed corpus after it is only read.
"$binary" "$work" Fuzz/corpus \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=70000 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$@" 2>&1 | tee "$log" \
    | grep -Ev '^(#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|"|###### |Done [0-9]+ runs)'
status="${PIPESTATUS[0]}"
set -e

runs="$(grep -Eo '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1 || true)"
echo "fuzz: ${runs:-?} executions"
new_crashes="$( (grep -Eo 'Test unit written to [^ ]+' "$log" | sed 's/^Test unit written to //'
                ls -1 "$crashes" | sort | comm -13 "$build/crashes.before" - | sed "s|^|$crashes/|") | sort -u)"
if [[ "$status" -ne 0 || -n "$new_crashes" ]]; then
    echo "fuzz: FAILED (libFuzzer exit $status). Crash input(s):" >&2
    if [[ -n "$new_crashes" ]]; then
        echo "$new_crashes" | sed 's/^/  /' >&2
    else
        echo "  (none written; see $log)" >&2
    fi
    echo "reproduce: $binary <crash-file>; keep it by copying it to Fuzz/crashes/" >&2
    exit 1
fi
echo "fuzz: no crash in ${seconds}s"
