#!/usr/bin/env bash
# Cluster benchmark: the raftcache 3-node cluster against Debian's
# redis-server, all on free loopback ports, measured by redis-benchmark in
# the same run, interleaved. Not a test: nothing is asserted and `make test`
# does not run it.
#
# Systems (SYSTEMS picks a subset, space separated):
#   rc-lin   raftcache, 3 nodes, raft-fsync always, read-consistency linearizable
#   rc-lease raftcache, 3 nodes, raft-fsync always, read-consistency lease
#   R0       redis-server without persistence
#   R1       redis-server, appendonly yes, appendfsync always
#   R2       redis-server master with 2 replicas (asynchronous), no persistence
# For SET and GET with -c 50 -d 64 -r 100000 at -P 1 and -P 16, sent to the
# leader / master, it prints the median over RUNS runs of requests per
# second, p50 and p99 (redis-benchmark --csv), the server CPU time per
# request summed over every process of the system (utime + stime from
# /proc/PID/stat before and after each run), and for raftcache the entries
# per Raft batch during the run (deltas of raft_entries / raft_batches from
# INFO raft; raft_avg_batch_entries at the end). Ends with a Markdown table
# with ratios against R0, R1 and R2. A system that does not start is left
# out with a note (the raftcache rows need the replicated server).
#
# Environment: BUILD (build), RAFTCACHE_BIN ($BUILD/raftcache-server),
# REDIS_BIN (/usr/bin/redis-server), RUNS (3), N1 requests per run at -P 1
# (200000), N16 at -P 16 (1000000), SYSTEMS (all five), ELECTION_TIMEOUT
# for the raftcache nodes (1000).
set -u
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
RAFTCACHE_BIN="${RAFTCACHE_BIN:-$BUILD/raftcache-server}"
REDIS_BIN="${REDIS_BIN:-/usr/bin/redis-server}"
RUNS="${RUNS:-3}"
N1="${N1:-200000}"
N16="${N16:-1000000}"
SYSTEMS="${SYSTEMS:-rc-lin rc-lease R0 R1 R2}"
ELECTION_TIMEOUT="${ELECTION_TIMEOUT:-1000}"
TICKS=$(getconf CLK_TCK)

work=$(mktemp -d "${TMPDIR:-/tmp}/raftcache-bench-cluster.XXXXXX")
results="$work/results.tsv"
: >"$results"
declare -A PIDS PORT BASE
STARTED=()
UP=()

# A base port B with B..B+2 and B+10000..B+10002 all free.
free_base() { python3 tests/free_base.py; }

wait_pong() {
    local port="$1" pid="$2" i
    for i in $(seq 1 100); do
        [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# redis_start NAME PORT ARGS...: one redis-server; its PID joins PIDS[NAME].
redis_start() {
    local name="$1" port="$2" dir="$work/$1.$2"
    mkdir -p "$dir"
    "$REDIS_BIN" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
        "${@:3}" >"$dir/log" 2>&1 &
    STARTED+=("$!")
    PIDS[$name]="${PIDS[$name]:-} $!"
    wait_pong "$port" "$!" || { echo "$name: redis-server on $port did not start (see $dir/log)" >&2; return 1; }
}

start_redis_system() {
    local name="$1" base port r
    base=$(free_base)
    PORT[$name]=$base
    case "$name" in
        R0) redis_start R0 "$base" --appendonly no ;;
        R1) redis_start R1 "$base" --appendonly yes --appendfsync always ;;
        R2)
            redis_start R2 "$base" --appendonly no || return 1
            for r in 1 2; do
                port=$((base + r))
                redis_start R2 "$port" --appendonly no --replicaof 127.0.0.1 "$base" || return 1
            done
            for _ in $(seq 1 100); do
                [ "$(redis-cli -p "$base" info replication | tr -d '\r' | grep -c '^slave[0-9]*:.*state=online')" = 2 ] && return 0
                sleep 0.1
            done
            echo "R2: replicas never came online" >&2
            return 1 ;;
    esac
}

cs() {
    BASE_PORT="${BASE[$1]}" DATA_DIR="$work/$1" BIN="$RAFTCACHE_BIN" \
        ELECTION_TIMEOUT="$ELECTION_TIMEOUT" CLUSTER_ARGS="$2" \
        timeout -k 5 90 bash tests/cluster.sh "${@:3}"
}

start_raftcache_system() {
    local name="$1" mode args leader f
    mode=linearizable
    [ "$name" = rc-lease ] && mode=lease
    args="--raft-fsync always --read-consistency $mode"
    BASE[$name]=$(free_base)
    if ! cs "$name" "$args" start >"$work/$name.start" 2>&1; then
        echo "$name: the cluster did not start: $(tail -n 2 "$work/$name.start" | tr '\n' ' ')" >&2
        cs "$name" "$args" stop >/dev/null 2>&1
        return 1
    fi
    leader=$(cs "$name" "$args" leader 10) || return 1
    PORT[$name]=$leader
    for f in "$work/$name"/node*.pid; do PIDS[$name]="${PIDS[$name]:-} $(cat "$f")"; done
}

stop_all() {
    local name pid
    for name in rc-lin rc-lease; do
        [ -n "${BASE[$name]:-}" ] && cs "$name" "" stop >/dev/null 2>&1
    done
    for pid in "${STARTED[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
    done
    wait 2>/dev/null
}
cleanup() { stop_all; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() {
    local pid sum=0 t
    for pid in $1; do
        t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null)
        sum=$((sum + ${t:-0}))
    done
    echo "$sum"
}

raft_stat() {
    redis-cli -p "$1" info raft 2>/dev/null | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

# bench NAME TEST PIPELINE REQUESTS RUN: one redis-benchmark run; appends
# name test pipeline run rps p50 p99 cpu_us_per_req batch
bench() {
    local name="$1" test="$2" p="$3" n="$4" run="$5" before after line e0=0 b0=0 e1=0 b1=0 batch=-
    local port log="$work/bench.$name.$test.$p.$run.out" err
    # Leadership may have moved since the last run (elections under load).
    if [[ $name == rc-* ]]; then PORT[$name]=$(cs "$name" "" leader 10) || PORT[$name]=0; fi
    port="${PORT[$name]}"
    if [[ $name == rc-* ]]; then e0=$(raft_stat "$port" raft_entries); b0=$(raft_stat "$port" raft_batches); fi
    before=$(cpu_ticks "${PIDS[$name]}")
    redis-benchmark -p "$port" -t "$test" -c 50 -d 64 -r 100000 \
        -P "$p" -n "$n" --csv >"$log" 2>&1
    after=$(cpu_ticks "${PIDS[$name]}")
    line=$(grep -a '^"[A-Z]' "$log" | tail -n 1)
    err=$(tr '\r' '\n' <"$log" | grep -a -m 1 -iE 'error|moved|clusterdown')
    [ -n "$err" ] && echo "  $name $test -P $p run $run: $err (run left out)"
    [ -n "$err" ] && line=""
    if [[ $name == rc-* ]]; then
        e1=$(raft_stat "$port" raft_entries); b1=$(raft_stat "$port" raft_batches)
        if [ -n "$e1" ] && [ -n "$b1" ] && [ "$((${b1:-0} - ${b0:-0}))" -gt 0 ]; then
            batch=$(awk -v e=$((e1 - e0)) -v b=$((b1 - b0)) 'BEGIN { printf "%.1f", e / b }')
        fi
    fi
    [ -n "$line" ] || line='"x","0","0","0","0","0","0","0"'
    echo "$line" | awk -F'"' -v name="$name" -v t="$test" -v p="$p" -v run="$run" \
        -v n="$n" -v dt=$((after - before)) -v hz="$TICKS" -v batch="$batch" \
        '{ printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%s\n", name, t, p, run, $4, $10, $14, dt * 1e6 / hz / n, batch }' \
        >>"$results"
    tail -n 1 "$results" | awk -F'\t' '{ printf "  %-8s %-3s -P %-2s run %s: %10s rps  p50 %s ms  p99 %s ms  cpu %s us/req  batch %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }'
}

for name in $SYSTEMS; do
    case "$name" in
        rc-*) start_raftcache_system "$name" && UP+=("$name") ;;
        R0|R1|R2) start_redis_system "$name" && UP+=("$name") ;;
        *) echo "unknown system $name" >&2 ;;
    esac
done
[ "${#UP[@]}" -gt 0 ] || { echo "nothing started" >&2; exit 1; }
for name in "${UP[@]}"; do echo "$name: port ${PORT[$name]}, pids${PIDS[$name]}"; done

echo "== SET/GET -c 50 -d 64 -r 100000, $RUNS runs each, interleaved"
for run in $(seq 1 "$RUNS"); do
    # Rotate the order so no system always runs first or last.
    order=("${UP[@]:$(( (run - 1) % ${#UP[@]} ))}" "${UP[@]:0:$(( (run - 1) % ${#UP[@]} ))}")
    for p in 1 16; do
        if [ "$p" = 1 ]; then n=$N1; else n=$N16; fi
        for test in set get; do
            for name in "${order[@]}"; do bench "$name" "$test" "$p" "$n" "$run"; done
        done
    done
done

for name in "${UP[@]}"; do
    [[ $name == rc-* ]] || continue
    echo "$name: raft_avg_batch_entries $(raft_stat "${PORT[$name]}" raft_avg_batch_entries)," \
        "raft_fsyncs $(raft_stat "${PORT[$name]}" raft_fsyncs), raft_batches $(raft_stat "${PORT[$name]}" raft_batches)"
done

python3 - "$results" "$RUNS" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
data = {}
failed = {}
for name, test, p, run, rps, p50, p99, cpu, batch in rows:
    if float(rps) == 0:
        failed[(name, test, p)] = failed.get((name, test, p), 0) + 1
        continue
    data.setdefault((name, test, p), []).append((float(rps), float(p50), float(p99), float(cpu), batch))
def med(key, i):
    v = [r[i] for r in data.get(key, [])]
    return statistics.median(v) if v else None
def fmt(x, f="%.0f"):
    return "n/a" if x is None else f % x
def ratio(a, b):
    return "n/a" if a is None or not b else "%.2f" % (a / b)
def batches(key):
    b = [float(r[4]) for r in data.get(key, []) if r[4] != "-"]
    return "%.1f" % statistics.median(b) if b else "-"
names = [n for n in ("rc-lin", "rc-lease", "R0", "R1", "R2") if any(k[0] == n for k in data)]
print()
print("| case | system | rps | p50 ms | p99 ms | CPU us/req | rps / R0 | rps / R1 | rps / R2 | p99 / R0 | p99 / R1 | CPU / R2 | entries/batch |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for p in ("1", "16"):
    for test in ("set", "get"):
        for n in names:
            k = (n, test, p)
            if k not in data:
                continue
            rps, p99, cpu = med(k, 0), med(k, 2), med(k, 3)
            print("| %s -P %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                test.upper(), p, n, fmt(rps), fmt(med(k, 1), "%.3f"), fmt(p99, "%.3f"), fmt(cpu, "%.2f"),
                ratio(rps, med(("R0", test, p), 0)), ratio(rps, med(("R1", test, p), 0)),
                ratio(rps, med(("R2", test, p), 0)), ratio(p99, med(("R0", test, p), 2)),
                ratio(p99, med(("R1", test, p), 2)), ratio(cpu, med(("R2", test, p), 3)), batches(k)))
for k, v in sorted(failed.items()):
    print("%s %s -P %s: %d run(s) failed (redis-benchmark error), left out of the medians" % (k[0], k[1].upper(), k[2], v))
print()
print("Medians of %s runs. rc-lin / rc-lease: raftcache 3 nodes, raft-fsync always, linearizable / lease reads; "
      "R0 redis-server no persistence; R1 appendonly + appendfsync always; R2 master + 2 async replicas. "
      "CPU is summed over every process of the system." % sys.argv[2])
PY
