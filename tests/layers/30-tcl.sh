#!/usr/bin/env bash
# Integration layer: the tcl-tests suite against $BUILD/raftcache-server.
# Builds nothing. One count per `test` block; ends "tcl: N passed, N failed".
# FULL=1 adds the tests tagged slow. The failing tests are also written to
# $BUILD/test-logs/tcl-failures.md.
set -u
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
FULL="${FULL:-0}"
bin="$BUILD/raftcache-server"
if [ ! -x "$bin" ]; then
    echo "no server binary at $bin"
    echo "tcl: 0 passed, 1 failed"
    exit 1
fi
# Room for 10,000 client sockets plus the server's own.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p "$BUILD/test-logs"
args=(--server-bin "$bin" --failures "$BUILD/test-logs/tcl-failures.md")
[ "$FULL" = 1 ] && args+=(--slow)
out="$BUILD/test-logs/tcl-suite.out"
pids="$BUILD/test-logs/tcl-server-pids"
: >"$pids"
TCL_TESTS_PID_FILE="$pids" timeout -k 5 340 tclsh tcl-tests/test_helper.tcl "${args[@]}" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
# A suite killed by the timeout cannot stop its servers: stop those still
# running the binary under test, by the PIDs the suite recorded.
while read -r pid; do
    if [ -n "$pid" ] && grep -qa -- "$(basename "$bin")" "/proc/$pid/cmdline" 2>/dev/null; then
        echo "stopping leftover server $pid"
        kill -TERM "$pid" 2>/dev/null
    fi
done <"$pids"
line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
if [ -z "$line" ]; then
    # Killed or crashed before the summary: count what was seen, plus one.
    p=$(grep -ac '^\[ok\]' "$out")
    f=$(( $(grep -ac '^\[err\]' "$out") + 1 ))
    echo "suite did not finish (exit $rc)"
else
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/')
    f=$(echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/')
fi
echo "tcl: $p passed, $f failed"
[ "$f" -eq 0 ]
