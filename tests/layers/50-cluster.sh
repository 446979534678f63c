#!/usr/bin/env bash
# Cluster layer: real 3-node raftcache clusters on free loopback ports.
# First tests/cluster.sh itself (start, status, kill, restart, stop), a
# 30-second chaos run (tests/chaos/chaos.py; 180 s with FULL=1), then
# the scenarios of tcl-tests/integration/ (formation, replication, kill -9
# of the leader under load, restarts, catch-up by log and snapshot,
# partitions, membership changes, expiry, eviction, follower reads, real
# clients), with 300 ms election timeouts. Builds the small hiredis client it needs into
# $BUILD/tests/cluster/. Every step is bounded in time (about 5 minutes in
# all); failing tests are listed in $BUILD/test-logs/cluster-failures.md.
# Ends "cluster: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
bin="$BUILD/raftcache-server"
logs="$BUILD/test-logs"
mkdir -p "$logs" "$BUILD/tests/cluster"
out="$logs/cluster-checks.out"
rm -f "$logs/cluster-failures.md"
: >"$out"
pass() { echo "PASS $1" | tee -a "$out"; }
fail() { echo "FAIL $1: $2" | tee -a "$out"; }

if [ ! -x "$bin" ]; then
    echo "no server binary at $bin"
    echo "cluster: 0 passed, 1 failed"
    exit 1
fi

# The hiredis client that follows -MOVED (used by integration/clients.tcl).
hm="$BUILD/tests/cluster/hiredis_moved"
hm_src=tcl-tests/integration/clients/hiredis_moved.c
if [ ! -x "$hm" ] || [ "$hm_src" -nt "$hm" ]; then
    ${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -o "$hm" "$hm_src" \
        $(pkg-config --libs hiredis) >"$logs/hiredis_moved.cc.log" 2>&1 \
        || fail hiredis_moved_build "cc failed: $(head -c 300 "$logs/hiredis_moved.cc.log")"
fi
case "$hm" in /*) export HIREDIS_MOVED="$hm" ;; *) export HIREDIS_MOVED="$PWD/$hm" ;; esac

# A base port B with B..B+2 and B+10000..B+10002 all free.
free_base() { python3 tests/free_base.py; }

# tests/cluster.sh: the script people and `make run` use.
cluster_script_checks() {
    local data base cs leader st
    data=$(mktemp -d "${TMPDIR:-/tmp}/raftcache-cluster.XXXXXX")
    base=$(free_base)
    cs() { BASE_PORT=$base DATA_DIR=$data BIN=$bin ELECTION_TIMEOUT=300 \
           START_WAIT=10 LEADER_WAIT=10 timeout -k 5 60 bash tests/cluster.sh "$@"; }
    if cs start >"$logs/cluster-sh-start.out" 2>&1 \
        && grep -q "^leader: 127.0.0.1:" "$logs/cluster-sh-start.out"; then
        pass cluster_sh_start_prints_leader
    else
        fail cluster_sh_start_prints_leader "$(tail -n 3 "$logs/cluster-sh-start.out" | tr '\n' ' ')"
    fi
    st=$(cs status 2>&1)
    if [ "$(echo "$st" | grep -c ' pid ')" = 3 ] && echo "$st" | grep -q leader; then
        pass cluster_sh_status_three_nodes
    else
        fail cluster_sh_status_three_nodes "$(echo "$st" | tr '\n' ' ')"
    fi
    leader=$(cs leader 2 2>/dev/null)
    if [ -n "$leader" ] && [ "$(redis-cli -p "$leader" set sh:k v 2>&1)" = OK ]; then
        pass cluster_sh_leader_accepts_writes
    else
        fail cluster_sh_leader_accepts_writes "leader port '$leader'"
    fi
    cs kill 1 >/dev/null 2>&1
    if ! redis-cli -p "$base" ping >/dev/null 2>&1 && cs restart 1 >/dev/null 2>&1 \
        && [ "$(redis-cli -p "$base" ping 2>&1)" = PONG ]; then
        pass cluster_sh_kill_and_restart
    else
        fail cluster_sh_kill_and_restart "node 1 on port $base"
    fi
    leader=$(cs leader 10 2>/dev/null)
    if [ -n "$leader" ] && [ "$(redis-cli -p "$leader" get sh:k 2>&1)" = v ]; then
        pass cluster_sh_data_survives_restart
    else
        fail cluster_sh_data_survives_restart "leader port '$leader'"
    fi
    cs stop >/dev/null 2>&1
    if ls "$data"/node*.pid >/dev/null 2>&1 || redis-cli -p "$base" ping >/dev/null 2>&1; then
        fail cluster_sh_stop "a node is still up or a pid file remains"
    else
        pass cluster_sh_stop
    fi
    cs stop >/dev/null 2>&1
    rm -rf "$data"
}
cluster_script_checks

# Random faults under writes (tests/chaos/chaos.py, seed 1: the same fault
# schedule each time): kill -9 of the leader or a follower, a follower
# behind when the leader dies, full disks, paused and isolated nodes; no
# acknowledged write may be lost, no read may go back, and every node must
# hold the same data.
chaos_secs=30
[ "${FULL:-0}" = "1" ] && chaos_secs=180
# Small snapshot thresholds: nodes brought back behind catch up by snapshot.
if timeout -k 5 $((chaos_secs + 180)) /usr/bin/python3 tests/chaos/chaos.py \
    --bin "$bin" --seconds "$chaos_secs" --seed 1 --args "--raft-snapshot-min-log-size \
    1mb --raft-snapshot-entries 5000 --raft-log-retry-interval 200" >"$logs/chaos.out" 2>&1; then
    pass chaos_no_acknowledged_write_lost
else
    fail chaos_no_acknowledged_write_lost "$(grep '^chaos: ' "$logs/chaos.out" | tail -n 4 | tr '\n' ' ')"
fi

tout="$logs/cluster-suite.out"
slow=()
[ "${FULL:-0}" = "1" ] && slow=(--slow)
timeout -k 5 300 tclsh tcl-tests/integration/run.tcl --server-bin "$bin" \
    --election-timeout 300 --failures "$logs/cluster-failures.md" "${slow[@]}" 2>&1 | tee "$tout"
rc=${PIPESTATUS[0]}
line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$tout" | tail -n 1)
if [ -z "$line" ]; then
    # Killed before the summary: count what was seen, plus one.
    tp=$(grep -ac '^\[ok\]' "$tout")
    tf=$(( $(grep -ac '^\[err\]' "$tout") + 1 ))
    echo "integration suite did not finish (exit $rc)"
else
    tp=$(echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/')
    tf=$(echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/')
fi
grep '^FAIL ' "$out" | sed 's/^FAIL \([^:]*\): \(.*\)/- **tests\/cluster.sh: \1**\n  - \2/' \
    >>"$logs/cluster-failures.md"

p=$(( $(grep -c '^PASS ' "$out") + tp ))
f=$(( $(grep -c '^FAIL ' "$out") + tf ))
echo "cluster: $p passed, $f failed"
[ "$f" -eq 0 ]
