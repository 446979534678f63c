#!/usr/bin/env bash
# A local raftcache cluster of 3 nodes on loopback, for people and tests.
#
#   tests/cluster.sh start [--foreground]   start the nodes that are not running,
#                                           wait for a leader, print it and how
#                                           to connect; --foreground stays and
#                                           stops all of them on Ctrl-C
#   tests/cluster.sh stop                   stop the nodes this script started
#   tests/cluster.sh status                 one line per node (pid, role, term...)
#   tests/cluster.sh kill N                 kill -9 node N (1..3)
#   tests/cluster.sh restart N              stop node N (SIGTERM) and start it again
#   tests/cluster.sh leader                 print the leader's client port (exit 1: none)
#
# Node N serves clients on BASE_PORT+N-1 and peers on that port + 10000 (the
# server's default cluster-port); its data lives in DATA_DIR/nodeN (created
# on first start, reused after), its log in DATA_DIR/nodeN.log and its PID
# in DATA_DIR/nodeN.pid. Only PIDs recorded there, and still running BIN on
# that port, are ever signalled. Every wait is bounded.
#
# Environment: BASE_PORT (7001), DATA_DIR (./data), BIN
# (build/raftcache-server), NODES (3), CLUSTER_SECRET (a fixed local one),
# ELECTION_TIMEOUT (ms; the server's default when unset), CLUSTER_ARGS
# (more `--name value` options for every node), START_WAIT (seconds to wait
# for a node to answer PING, 15), LEADER_WAIT (seconds to wait for a leader, 20).
set -u
BASE_PORT="${BASE_PORT:-7001}"
DATA_DIR="${DATA_DIR:-./data}"
BIN="${BIN:-build/raftcache-server}"
NODES="${NODES:-3}"
CLUSTER_SECRET="${CLUSTER_SECRET:-raftcache-local-cluster}"
ELECTION_TIMEOUT="${ELECTION_TIMEOUT:-}"
CLUSTER_ARGS="${CLUSTER_ARGS:-}"
START_WAIT="${START_WAIT:-15}"
LEADER_WAIT="${LEADER_WAIT:-20}"

die() { echo "cluster.sh: $*" >&2; exit 1; }
usage() { die "usage: $0 start [--foreground] | stop | status | kill N | restart N | leader"; }

node_port() { echo $((BASE_PORT + $1 - 1)); }
node_dir() { echo "$DATA_DIR/node$1"; }
pid_file() { echo "$DATA_DIR/node$1.pid"; }
log_file() { echo "$DATA_DIR/node$1.log"; }

check_node() {
    case "$1" in ''|*[!0-9]*) usage ;; esac
    [ "$1" -ge 1 ] && [ "$1" -le "$NODES" ] || die "node must be 1..$NODES"
}

# The recorded PID of node N, printed only when that process still runs
# our binary on node N's port (a reused PID is never taken for ours).
node_pid() {
    local f pid cmd
    f=$(pid_file "$1")
    [ -r "$f" ] || return 1
    pid=$(cat "$f" 2>/dev/null)
    case "$pid" in ''|*[!0-9]*) return 1 ;; esac
    [ -r "/proc/$pid/cmdline" ] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
    case "$cmd" in *"$(basename "$BIN")"*"--port $(node_port "$1") "*) ;; *) return 1 ;; esac
    # A zombie is no longer running.
    [ "$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
    echo "$pid"
}

cli() { timeout 3 redis-cli -h 127.0.0.1 -p "$1" "${@:2}" 2>/dev/null; }

# raft_field PORT NAME: one INFO raft field of the node on PORT.
raft_field() {
    cli "$1" info raft | tr -d '\r' | awk -F: -v f="$2" '$1 == f { sub(/^[^:]*:/, ""); print; exit }'
}

peers_of() {
    local n="$1" i list=""
    for i in $(seq 1 "$NODES"); do
        [ "$i" = "$n" ] && continue
        list="${list:+$list,}127.0.0.1:$(node_port "$i")"
    done
    echo "$list"
}

# Launch node N in its own session (so a terminal's Ctrl-C reaches only this
# script, which then stops the nodes in order), and record its PID.
launch_node() {
    local n="$1" port dir args
    port=$(node_port "$n")
    dir=$(node_dir "$n")
    mkdir -p "$dir"
    args=(--port "$port" --bind 127.0.0.1 --dir "$(cd "$dir" && pwd)"
          --cluster-secret "$CLUSTER_SECRET" --cluster-peers "$(peers_of "$n")"
          --enable-debug-command local)
    [ -n "$ELECTION_TIMEOUT" ] && args+=(--raft-election-timeout "$ELECTION_TIMEOUT")
    # shellcheck disable=SC2206
    [ -n "$CLUSTER_ARGS" ] && args+=($CLUSTER_ARGS)
    setsid "$BIN" "${args[@]}" >>"$(log_file "$n")" 2>&1 </dev/null &
    echo $! >"$(pid_file "$n")"
}

# Wait (bounded) until node N answers PING; 1 when it exits or never answers.
wait_ping() {
    local n="$1" port deadline
    port=$(node_port "$n")
    deadline=$((SECONDS + START_WAIT))
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ "$(cli "$port" ping)" = PONG ] && return 0
        node_pid "$n" >/dev/null || break
        sleep 0.1
    done
    echo "node $n (port $port) did not come up; last lines of $(log_file "$n"):" >&2
    tail -n 5 "$(log_file "$n")" >&2 2>/dev/null
    return 1
}

start_node() {
    local n="$1"
    if node_pid "$n" >/dev/null; then
        echo "node $n already running (pid $(node_pid "$n"))"
        return 0
    fi
    [ -x "$BIN" ] || die "no server binary at $BIN (run make first)"
    launch_node "$n"
    wait_ping "$n"
}

# The client port of the node all running nodes agree leads; bounded wait.
find_leader() {
    local wait="${1:-$LEADER_WAIT}" deadline i port
    deadline=$((SECONDS + wait))
    while :; do
        for i in $(seq 1 "$NODES"); do
            node_pid "$i" >/dev/null || continue
            port=$(node_port "$i")
            if [ "$(raft_field "$port" raft_role)" = leader ]; then
                echo "$port"
                return 0
            fi
        done
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

stop_node() {
    local n="$1" pid i
    pid=$(node_pid "$n") || { rm -f "$(pid_file "$n")"; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        node_pid "$n" >/dev/null || break
        sleep 0.1
    done
    if node_pid "$n" >/dev/null; then
        echo "node $n (pid $pid) ignored SIGTERM for 10 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null
        sleep 0.2
    fi
    rm -f "$(pid_file "$n")"
    echo "node $n stopped (pid $pid)"
}

cmd_stop() {
    local i
    for i in $(seq 1 "$NODES"); do stop_node "$i"; done
}

cmd_status() {
    local i port pid role
    for i in $(seq 1 "$NODES"); do
        port=$(node_port "$i")
        if pid=$(node_pid "$i"); then
            role=$(raft_field "$port" raft_role)
            printf 'node %d  port %d  pid %-7s %-10s id=%s term=%s leader=%s commit=%s applied=%s\n' \
                "$i" "$port" "$pid" "${role:-?}" "$(raft_field "$port" raft_node_id)" \
                "$(raft_field "$port" raft_term)" "$(raft_field "$port" raft_leader_addr)" \
                "$(raft_field "$port" raft_commit_index)" "$(raft_field "$port" raft_applied_index)"
        else
            printf 'node %d  port %d  not running\n' "$i" "$port"
        fi
    done
}

cmd_start() {
    local i ok=1 leader
    mkdir -p "$DATA_DIR" || die "cannot create $DATA_DIR"
    for i in $(seq 1 "$NODES"); do
        node_pid "$i" >/dev/null && continue
        [ -x "$BIN" ] || die "no server binary at $BIN (run make first)"
        launch_node "$i"
    done
    for i in $(seq 1 "$NODES"); do wait_ping "$i" || ok=0; done
    if [ "$ok" = 0 ]; then
        cmd_stop >/dev/null
        die "the cluster did not start"
    fi
    if leader=$(find_leader); then
        echo "cluster up: $NODES nodes on 127.0.0.1:$BASE_PORT-$(node_port "$NODES"), data in $DATA_DIR"
        echo "leader: 127.0.0.1:$leader (node $((leader - BASE_PORT + 1)))"
        echo "connect: redis-cli -h 127.0.0.1 -p $leader"
    else
        echo "cluster.sh: no leader after ${LEADER_WAIT}s; nodes are left running (tests/cluster.sh status)" >&2
        return 1
    fi
}

# Foreground: stay until Ctrl-C (or a node exits on its own), then stop all.
# The trap only raises a flag: the loop between signals runs builtins only,
# so the interrupt never lands inside a command substitution.
cmd_foreground() {
    local rc=0 i pids=() stop=""
    trap 'stop=signal' INT TERM
    cmd_start || rc=$?
    for i in $(seq 1 "$NODES"); do pids+=("$(node_pid "$i")"); done
    if [ -z "${pids[0]}" ]; then cmd_stop; exit "${rc:-1}"; fi
    echo "Ctrl-C stops all $NODES nodes; logs in $DATA_DIR/node*.log"
    while [ -z "$stop" ]; do
        sleep 1 &
        wait $! 2>/dev/null
        for i in "${!pids[@]}"; do
            [ -n "$stop" ] && break
            if ! kill -0 "${pids[$i]}" 2>/dev/null; then
                echo "node $((i + 1)) exited; see $(log_file $((i + 1)))" >&2
                stop=exit
            fi
        done
    done
    trap '' INT TERM
    echo
    echo "stopping the cluster"
    cmd_stop
    [ "$stop" = signal ]
}

case "${1:-}" in
    start)
        if [ "${2:-}" = --foreground ]; then cmd_foreground; else cmd_start; fi ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    leader) find_leader "${2:-0}" ;;
    kill)
        check_node "${2:-}"
        if pid=$(node_pid "$2"); then
            kill -KILL "$pid"
            rm -f "$(pid_file "$2")"
            echo "node $2 killed (pid $pid)"
        else
            echo "node $2 not running"
        fi ;;
    restart)
        check_node "${2:-}"
        stop_node "$2" >/dev/null
        start_node "$2" && echo "node $2 restarted (pid $(node_pid "$2"), port $(node_port "$2"))" ;;
    *) usage ;;
esac
