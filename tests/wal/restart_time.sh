#!/usr/bin/env bash
# Restart-time benchmark of a real node (not part of make test). Fills a
# single durable node with redis-benchmark SETs (about one 64 MiB segment
# of log by default), kills it with SIGKILL, then restarts it ROUNDS times
# (killing it again each time) and reports the time from exec to the first
# +PONG, and to DBSIZE answering the filled key count (the log re-applied),
# with the node's CPU time (utime + stime) at each point: wall-clock swings
# with the load of a shared machine, CPU time much less.
# With OLD_BIN set, the rounds alternate between that binary and the new
# one on the same data directory, so both are measured under the same load.
# Env: BUILD (build), RAFTCACHE_BIN ($BUILD/raftcache-server), OLD_BIN,
# SETS (1000000), ROUNDS (5), KEYSPACE (SETS: keys are distinct).
set -u
BUILD="${BUILD:-build}"
NEW_BIN="${RAFTCACHE_BIN:-$BUILD/raftcache-server}"
OLD_BIN="${OLD_BIN:-}"
SETS="${SETS:-1000000}"
ROUNDS="${ROUNDS:-5}"
KEYSPACE="${KEYSPACE:-$SETS}"
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/raftcache-restart.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 "$here/free_base.py") || { echo "no free port"; exit 1; }

# Prints seconds from now until the node answers: "ping" (+PONG) or
# "dbsize N" (DBSIZE = N); bounded at 120 s.
wait_for() {
    python3 - "$port" "$@" <<'EOF'
import socket, sys, time
port, what = int(sys.argv[1]), sys.argv[2]
want = b"+PONG\r\n" if what == "ping" else b":%s\r\n" % sys.argv[3].encode()
cmd = b"PING\r\n" if what == "ping" else b"DBSIZE\r\n"
start = time.monotonic()
while time.monotonic() - start < 120:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            while time.monotonic() - start < 120:
                s.sendall(cmd)
                if s.recv(64) == want:
                    print("%.3f" % (time.monotonic() - start))
                    sys.exit(0)
                time.sleep(0.002)
    except OSError:
        time.sleep(0.002)
print("timeout")
sys.exit(1)
EOF
}

start_node() {
    mkdir -p "$work/data"
    "$1" --port "$port" --bind 127.0.0.1 --dir "$work/data" \
        --raft-snapshot-entries 0 --logfile "$work/node.log" \
        >/dev/null 2>&1 &
    pid=$!
}

# The node's utime + stime in seconds.
node_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' \
        "/proc/$pid/stat"
}

kill_node() {
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=""
}

start_node "$NEW_BIN"
wait_for ping >/dev/null || { echo "node did not start"; exit 1; }
redis-benchmark -p "$port" -t set -n "$SETS" -r "$KEYSPACE" -d 20 -P 16 \
    -q >/dev/null
keys=$(redis-cli -p "$port" DBSIZE)
kill_node
echo "filled: $keys keys; log: $(du -b "$work"/data/log-* |
    awk '{printf "%s %d B, ", $2, $1}' | sed "s|$work/data/||g")"

declare -a t_new_ping t_new_data t_old_ping t_old_data
declare -a c_new_ping c_new_data c_old_ping c_old_data
for ((r = 0; r < ROUNDS; r++)); do
    for which in old new; do
        bin=$NEW_BIN
        if [ "$which" = old ]; then
            [ -n "$OLD_BIN" ] || continue
            bin=$OLD_BIN
        fi
        t0=$(date +%s.%N)
        start_node "$bin"
        wait_for ping >/dev/null
        t1=$(date +%s.%N)
        c1=$(node_cpu)
        wait_for dbsize "$keys" >/dev/null
        t2=$(date +%s.%N)
        c2=$(node_cpu)
        kill_node
        ping=$(echo "$t1 - $t0" | bc)
        data=$(echo "$t2 - $t0" | bc)
        printf "round %d %s: PONG after %.3f s (cpu %s), all keys after" \
            $((r + 1)) "$which" "$ping" "$c1"
        printf " %.3f s (cpu %s)\n" "$data" "$c2"
        eval "t_${which}_ping+=($ping); t_${which}_data+=($data)"
        eval "c_${which}_ping+=($c1); c_${which}_data+=($c2)"
    done
done

median() { printf "%s\n" "$@" | sort -g | awk '{a[NR]=$1}
    END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for which in old new; do
    eval "n=\${#t_${which}_ping[@]}"
    [ "$n" -gt 0 ] || continue
    eval "p=\$(median \"\${t_${which}_ping[@]}\"); d=\$(median \"\${t_${which}_data[@]}\")"
    eval "c1=\$(median \"\${c_${which}_ping[@]}\"); c2=\$(median \"\${c_${which}_data[@]}\")"
    printf "median %s: PONG after %.3f s (cpu %.2f), all keys after %.3f s (cpu %.2f)\n" \
        "$which" "$p" "$c1" "$d" "$c2"
done
