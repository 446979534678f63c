#!/usr/bin/env bash
# Fuzz layer: only under FULL=1 (make test-full). Runs the RESP parser's
# libFuzzer target for FUZZ_SECONDS (default 60) from a small seed corpus;
# a crash, a sanitizer report or a whole/split mismatch fails it. Without
# FULL=1, or without clang, it reports nothing run.
set -u
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
bin="$BUILD/tests/fuzz/fuzz_resp"
if [ "${FULL:-0}" != 1 ]; then
    echo "fuzz: skipped (FULL=1 runs it)"
    echo "fuzz: 0 passed, 0 failed"
    exit 0
fi
if [ ! -x "$bin" ]; then
    echo "fuzz: $bin not built (clang missing?)"
    echo "fuzz: 0 passed, 0 failed"
    exit 0
fi
corpus="$BUILD/fuzz-corpus-resp"
mkdir -p "$corpus"
printf '\x05*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n' >"$corpus/set"
printf '\x07PING\r\nset a "b\\x41" '"'"'c'"'"'\r\n' >"$corpus/inline"
printf '\x03*1\r\n$100\r\nab' >"$corpus/partial"
printf '\x09*0\r\n*-1\r\n\r\n*1\r\n$0\r\n\r\n' >"$corpus/empty"
log="$BUILD/test-logs/fuzz-resp.log"
mkdir -p "$(dirname "$log")"
if timeout $(( ${FUZZ_SECONDS:-60} + 30 )) "$bin" -max_total_time="${FUZZ_SECONDS:-60}" \
        -max_len=4096 -rss_limit_mb=1024 "$corpus" >"$log" 2>&1; then
    tail -n 2 "$log"
    echo "fuzz: 1 passed, 0 failed"
else
    tail -n 30 "$log"
    echo "fuzz: 0 passed, 1 failed"
fi
