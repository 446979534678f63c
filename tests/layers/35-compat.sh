#!/usr/bin/env bash
# Compat layer: tests/compat/compat.py sends the same seeded random stream of
# string, key, expiry, SCAN, transaction and malformed commands to
# $BUILD/raftcache-server and to Debian's redis-server 7.0 and compares the
# reply bytes, in RESP2 and after HELLO 3. One count per seed and protocol.
# Quick tier: 30 seeds x 1000 commands (10-30 s); FULL=1: 300 seeds x 1500 (about 8 min).
# Without redis-server (deps/install.sh installs it) the layer is skipped
# and counts nothing. Ends "compat: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
FULL="${FULL:-0}"
bin="$BUILD/raftcache-server"
redis_bin="$(command -v redis-server || true)"
if [ -z "$redis_bin" ]; then
    echo "redis-server not found: compat layer skipped (deps/install.sh installs it)"
    echo "compat: 0 passed, 0 failed"
    exit 0
fi
if [ ! -x "$bin" ]; then
    echo "no server binary at $bin"
    echo "compat: 0 passed, 1 failed"
    exit 1
fi
if [ "$FULL" = 1 ]; then
    args=(--seeds 300 --count 1500 --time-limit 900)
    limit=1000
else
    args=(--seeds 30 --count 1000 --time-limit 40)
    limit=60
fi
mkdir -p "$BUILD/test-logs"
out="$BUILD/test-logs/compat.out"
pids="$BUILD/test-logs/compat-server-pids"
: >"$pids"
timeout -k 5 "$limit" python3 tests/compat/compat.py --server-bin "$bin" \
    --redis-bin "$redis_bin" --pid-file "$pids" "${args[@]}" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
# A tester killed by the timeout cannot stop its servers: stop those still
# running one of the two binaries, by the PIDs it recorded.
while read -r pid; do
    if [ -n "$pid" ] && grep -qaE -- "raftcache-server|redis-server" "/proc/$pid/cmdline" 2>/dev/null; then
        echo "stopping leftover server $pid"
        kill -TERM "$pid" 2>/dev/null
    fi
done <"$pids"
line=$(grep -aE '^compat: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
if [ -z "$line" ]; then
    echo "compat tester did not finish (exit $rc)"
    echo "compat: 0 passed, 1 failed"
    exit 1
fi
f=$(echo "$line" | sed -E 's/^compat: [0-9]+ passed, ([0-9]+) failed.*/\1/')
[ "$f" -eq 0 ]
