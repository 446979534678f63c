# Shared by the client checks: start a server on a free loopback port, stop
# exactly that PID, and count checks. Source it; set SERVER_BIN first.
# Each check prints one line "PASS name", "FAIL name: detail" or
# "SKIP name: reason"; the layer counts those lines.

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server DIR [OPTION...]: sets SERVER_PID and SERVER_PORT; 1 when it
# never answers (any reply to PING, NOAUTH included, counts as an answer).
start_server() {
    local dir="$1" extra=() i reply
    shift
    mkdir -p "$dir"
    case "$(basename "$SERVER_BIN")" in
        redis-server*) extra=(--save '' --appendonly no) ;;
    esac
    SERVER_PORT=$(free_port)
    "$SERVER_BIN" --port "$SERVER_PORT" --bind 127.0.0.1 --dir "$dir" \
        "${extra[@]}" "$@" >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    for i in $(seq 1 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        reply=$(redis-cli -p "$SERVER_PORT" ping 2>/dev/null)
        case "$reply" in PONG|NOAUTH*) return 0 ;; esac
        sleep 0.1
    done
    return 1
}

stop_server() {
    [ -n "${SERVER_PID:-}" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }

# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1" "expected [$2] got [$3]"
    fi
}
