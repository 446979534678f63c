#!/usr/bin/env bash
# Clients against a server started with --requirepass pw on 127.0.0.1:$1:
# redis-cli -a / --user --pass / AUTH, the NOAUTH reply without it, and
# redis-py with a password. Expected output recorded against redis-server 7.0.
set -u
. "$(dirname "$0")/common.sh"
port="$1"
cli() { timeout 10 redis-cli -p "$port" "$@" 2>/dev/null; }

check auth_cli_noauth "NOAUTH Authentication required." "$(cli get a)"
check auth_cli_a "PONG" "$(cli -a pw ping)"
check auth_cli_user_pass "PONG" "$(cli --user default --pass pw ping)"
check auth_cli_wrong "$(printf 'AUTH failed: WRONGPASS invalid username-password pair or user is disabled.\nNOAUTH Authentication required.')" \
    "$(timeout 10 redis-cli -p "$port" -a nope ping 2>&1 | grep -v '^Warning')"
check auth_cli_stdin_auth "$(printf 'OK\nPONG')" "$(printf 'AUTH pw\nPING\n' | cli)"
check auth_cli_resp3 '3# "proto" => (integer) 3' "$(cli -a pw -3 --no-raw hello 3 auth default pw | grep '"proto"')"
if [ -x /usr/bin/python3 ]; then
    py=$(/usr/bin/python3 - "$port" <<'PY' 2>&1
import sys
import redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), password="pw", socket_timeout=10)
r.set("authkey", "v")
print(r.get("authkey").decode())
try:
    redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), socket_timeout=10).ping()
except redis.AuthenticationError as e:
    print("autherror")
PY
)
    check auth_redis_py "$(printf 'v\nautherror')" "$py"
fi
