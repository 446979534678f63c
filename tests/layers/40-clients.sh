#!/usr/bin/env bash
# Clients layer: real client programs against a freshly started
# $BUILD/raftcache-server: redis-cli, redis-benchmark (smoke), redis-py,
# hiredis (tests/clients/hiredis_check, built by `make programs`), where
# node and npm are available ioredis and node-redis, and the AUTH handshakes
# against a second server started with --requirepass. One count
# per check; skipped checks (a client missing here) are listed, not counted.
# SERVER_BIN overrides the binary (e.g. /usr/bin/redis-server to check the
# checks themselves). Ends "clients: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
SERVER_BIN="${SERVER_BIN:-$BUILD/raftcache-server}"
. tests/clients/common.sh

dir="$BUILD/test-logs/clients.$$"
out="$dir/checks.out"
mkdir -p "$dir"
: >"$out"

if [ -x "$SERVER_BIN" ] && start_server "$dir"; then
    port=$SERVER_PORT
else
    echo "FAIL server_start: $SERVER_BIN did not answer PING (see $dir/server.log)" | tee -a "$out"
    stop_server
    port=1
fi

run() { timeout -k 5 "$1" "${@:2}" 2>&1 | tee -a "$out"; }
run 60 bash tests/clients/redis_cli.sh "$port"
run 120 bash tests/clients/benchmark.sh "$port"
if [ -x /usr/bin/python3 ]; then
    run 60 /usr/bin/python3 tests/clients/redis_py.py "$port"
else
    echo "SKIP redis_py: /usr/bin/python3 missing" | tee -a "$out"
fi
if [ -x "$BUILD/tests/clients/hiredis_check" ]; then
    run 60 "$BUILD/tests/clients/hiredis_check" "$port"
else
    echo "FAIL hiredis_check: $BUILD/tests/clients/hiredis_check not built" | tee -a "$out"
fi

# ioredis and node-redis: optional, skipped where node or the packages are
# not to be had (npm ci needs the registry the first time).
nodedir=tests/clients/node
if command -v node >/dev/null && command -v npm >/dev/null; then
    if [ ! -d "$nodedir/node_modules/ioredis" ]; then
        timeout 45 npm ci --prefix "$nodedir" --no-audit --no-fund --fetch-retries=0 \
            --fetch-timeout=15000 >"$dir/npm.log" 2>&1 || true
    fi
    if [ -d "$nodedir/node_modules/ioredis" ] && [ -d "$nodedir/node_modules/redis" ]; then
        run 60 node "$nodedir/check.js" "$port"
    else
        echo "SKIP node_clients: npm ci failed (see $dir/npm.log)" | tee -a "$out"
    fi
else
    echo "SKIP node_clients: node/npm not installed" | tee -a "$out"
fi

# The first server must have lived through all the checks.
if [ -n "${SERVER_PID:-}" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "FAIL server_alive: the server exited during the checks (see $dir/server.log)" | tee -a "$out"
    SERVER_PID=""
fi
stop_server

# A second server with a password: the clients' AUTH handshakes.
if [ -x "$SERVER_BIN" ] && start_server "$dir/auth" --requirepass pw; then
    run 60 bash tests/clients/auth.sh "$SERVER_PORT"
else
    echo "FAIL auth_server_start: $SERVER_BIN --requirepass pw did not answer" | tee -a "$out"
fi
if [ -n "${SERVER_PID:-}" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "FAIL auth_server_alive: the server exited during the checks (see $dir/auth/server.log)" | tee -a "$out"
    SERVER_PID=""
fi
stop_server

p=$(grep -c '^PASS ' "$out")
f=$(grep -c '^FAIL ' "$out")
s=$(grep -c '^SKIP ' "$out")
[ "$s" -gt 0 ] && echo "($s skipped)"
[ "$f" -eq 0 ] && rm -rf "$dir"
echo "clients: $p passed, $f failed"
[ "$f" -eq 0 ]
