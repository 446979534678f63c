#!/usr/bin/env bash
# Single-node benchmark: raftcache-server against Debian's redis-server (no
# persistence), both on free loopback ports, measured by redis-benchmark in
# the same run, interleaved. Not a test: nothing is asserted, and `make test`
# does not run it.
# Two raftcache servers run: "raftcache", standalone (cluster-enabled no: a
# pure in-memory cache, the apples-to-apples peer of redis-server --save ""
# --appendonly no), and "raftcache-raft", the default durable one-member
# Raft group (every write is appended to the WAL and fsynced before its
# reply); the table has a row for each against redis-server. RAFT_ROWS=0
# leaves the durable group out.
#
# For SET and GET with -c 50 -d 64 -r 100000 at -P 1 and -P 16 it prints the
# median over RUNS runs of requests per second, p50 and p99 latency
# (redis-benchmark --csv), and the server's CPU time per request (utime +
# stime from /proc/PID/stat before and after each run, divided by the
# requests). Then the memory case: RSS growth of each fresh server after
# loading 1,000,000 distinct keys key:%012d with 64-byte values through
# redis-cli --pipe (DBSIZE is checked). Ends with a Markdown table.
#
# Environment: BUILD (build), RAFTCACHE_BIN ($BUILD/raftcache-server),
# REDIS_BIN (/usr/bin/redis-server), RUNS (3), N1 requests per run at -P 1
# (200000), N16 at -P 16 (1000000), KEYS for the memory case (1000000),
# SKIP_MEMORY=1 to leave the memory case out, PIN=1 to run the servers on
# CPU 0 and redis-benchmark on CPU 1 (taskset) for steadier numbers.
set -u
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
RAFTCACHE_BIN="${RAFTCACHE_BIN:-$BUILD/raftcache-server}"
REDIS_BIN="${REDIS_BIN:-/usr/bin/redis-server}"
RUNS="${RUNS:-3}"
N1="${N1:-200000}"
N16="${N16:-1000000}"
KEYS="${KEYS:-1000000}"
SKIP_MEMORY="${SKIP_MEMORY:-0}"
RAFT_ROWS="${RAFT_ROWS:-1}"
PIN="${PIN:-0}"
SERVER_CPU=()
CLIENT_CPU=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then
    SERVER_CPU=(taskset -c 0)
    CLIENT_CPU=(taskset -c 1)
fi
TICKS=$(getconf CLK_TCK)

work=$(mktemp -d "${TMPDIR:-/tmp}/raftcache-bench.XXXXXX")
results="$work/results.tsv"
: >"$results"
declare -A PID PORT
STARTED=()

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME: starts raftcache or redis, records PID[NAME] and PORT[NAME].
start() {
    local name="$1" bin extra=() port i
    if [ "$name" = redis ]; then bin="$REDIS_BIN"; else bin="$RAFTCACHE_BIN"; fi
    case "$(basename "$bin")" in
        redis-server*) extra=(--save '' --appendonly no) ;;
    esac
    # raftcache: standalone in memory; raftcache-raft: the default group
    [ "$name" = raftcache ] && extra=(--cluster-enabled no)
    port=$(free_port)
    mkdir -p "$work/$name"
    "${SERVER_CPU[@]}" "$bin" --port "$port" --bind 127.0.0.1 --dir "$work/$name" "${extra[@]}" \
        >"$work/$name.log" 2>&1 &
    PID[$name]=$!
    PORT[$name]=$port
    STARTED+=("$!")
    for i in $(seq 1 100); do
        [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0
        kill -0 "${PID[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name ($bin) did not start; see $work/$name.log" >&2
    return 1
}

stop() {
    local pid="${PID[$1]:-}"
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    PID[$1]=""
}

cleanup() {
    for pid in "${STARTED[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# bench NAME TEST PIPELINE REQUESTS RUN: one redis-benchmark run, one line
# appended to the results: name test pipeline run rps p50 p99 cpu_us_per_req
bench() {
    local name="$1" test="$2" p="$3" n="$4" run="$5" before after line
    before=$(cpu_ticks "${PID[$name]}")
    line=$("${CLIENT_CPU[@]}" redis-benchmark -p "${PORT[$name]}" -t "$test" -c 50 -d 64 -r 100000 \
        -P "$p" -n "$n" --csv 2>/dev/null | grep -v '^"test"' | tail -n 1)
    after=$(cpu_ticks "${PID[$name]}")
    echo "$line" | awk -F'"' -v name="$name" -v t="$test" -v p="$p" -v run="$run" \
        -v n="$n" -v dt=$((after - before)) -v hz="$TICKS" \
        '{ printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\n", name, t, p, run, $4, $10, $14, dt * 1e6 / hz / n }' \
        >>"$results"
    tail -n 1 "$results" | awk -F'\t' '{ printf "  %-14s %-3s -P %-2s run %s: %10s rps  p50 %s ms  p99 %s ms  cpu %s us/req\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
}

throughput_cases() {
    local run p n test order
    local names="raftcache redis" rev="redis raftcache"
    [ "$RAFT_ROWS" = 1 ] && names="raftcache raftcache-raft redis" &&
        rev="redis raftcache-raft raftcache"
    for name in $names; do
        start "$name" || return 1
        echo "$name pid ${PID[$name]} port ${PORT[$name]}"
    done
    echo "raftcache: standalone (cluster-enabled no, in memory only);" \
        "raftcache-raft: default one-member Raft group (WAL, fsync per write);" \
        "redis: redis-server --save '' --appendonly no"
    for run in $(seq 1 "$RUNS"); do
        # Alternate which server goes first so none always runs warm.
        if [ $((run % 2)) -eq 1 ]; then order="$names"; else order="$rev"; fi
        for p in 1 16; do
            if [ "$p" = 1 ]; then n=$N1; else n=$N16; fi
            for test in set get; do
                for name in $order; do bench "$name" "$test" "$p" "$n" "$run"; done
            done
        done
    done
    for name in $names; do stop "$name"; done
}

# The load: KEYS SETs of key:%012d with a 64-byte value, as RESP.
gen_load() {
    awk -v n="$KEYS" 'BEGIN {
        v = sprintf("%064d", 0); gsub(/0/, "v", v)
        for (i = 0; i < n; i++)
            printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$64\r\n%s\r\n", i, v
    }'
}

memory_case() {
    local name before after keys
    for name in raftcache redis; do
        start "$name" || return 1
        sleep 0.5
        before=$(rss_kib "${PID[$name]}")
        gen_load | redis-cli -p "${PORT[$name]}" --pipe >"$work/$name.pipe" 2>&1
        keys=$(redis-cli -p "${PORT[$name]}" dbsize)
        after=$(rss_kib "${PID[$name]}")
        printf '  %-9s RSS %d KiB -> %d KiB, growth %.1f MiB, dbsize %s\n' \
            "$name" "$before" "$after" "$(echo "($after - $before) / 1024" | bc -l)" "$keys"
        [ "$keys" = "$KEYS" ] || echo "  WARNING: $name holds $keys keys, not $KEYS" >&2
        echo -e "$name\tmem\t-\t1\t$((after - before))\t$keys" >>"$work/memory.tsv"
        stop "$name"
    done
}

echo "== throughput: SET/GET -c 50 -d 64 -r 100000, $RUNS runs each, interleaved"
throughput_cases || exit 1
if [ "$SKIP_MEMORY" != 1 ]; then
    echo "== memory: $KEYS keys key:%012d with 64-byte values"
    memory_case || exit 1
fi

python3 - "$results" "$work/memory.tsv" "$RUNS" "$KEYS" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
med = {}
for name, test, p, run, rps, p50, p99, cpu in rows:
    med.setdefault((test, p, name), []).append((float(rps), float(p50), float(p99), float(cpu)))
def m(key, i):
    vals = [v[i] for v in med.get(key, [])]
    return statistics.median(vals) if vals else float("nan")
def ratio(a, b):
    return a / b if b else float("nan")
print()
print("| case | raftcache rps | redis rps | rps ratio | p50 ms (rc / redis) | p99 ms (rc / redis) | p99 ratio | CPU us/req (rc / redis) | CPU ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
kinds = [("raftcache", "standalone")]
if any(k[2] == "raftcache-raft" for k in med):
    kinds.append(("raftcache-raft", "durable 1-node Raft group"))
for name, kind in kinds:
  for p in ("1", "16"):
    for test in ("set", "get"):
        rc, rd = (test, p, name), (test, p, "redis")
        print("| %s -P %s, %s | %.0f | %.0f | %.2f | %.3f / %.3f | %.3f / %.3f | %.2f | %.2f / %.2f | %.2f |" % (
            test.upper(), p, kind, m(rc, 0), m(rd, 0), ratio(m(rc, 0), m(rd, 0)),
            m(rc, 1), m(rd, 1), m(rc, 2), m(rd, 2), ratio(m(rc, 2), m(rd, 2)),
            m(rc, 3), m(rd, 3), ratio(m(rc, 3), m(rd, 3))))
try:
    mem = {l.split("\t")[0]: int(l.split("\t")[4]) for l in open(sys.argv[2]) if l.strip()}
    if "raftcache" in mem and "redis" in mem:
        print("| RSS growth, %s keys x 64 B, standalone | %.1f MiB | %.1f MiB | %.2f | | | | | |" % (
            format(int(sys.argv[4]), ","), mem["raftcache"] / 1024, mem["redis"] / 1024, ratio(mem["raftcache"], mem["redis"])))
except FileNotFoundError:
    pass
print()
print("raftcache rows: standalone = cluster-enabled no (in memory, like redis-server without persistence); durable 1-node Raft group = the default (WAL fsynced per write).")
print("Medians of %s runs; ratios are raftcache / redis-server (rps: higher is better; latency, CPU and memory: lower is better)." % sys.argv[3])
PY
