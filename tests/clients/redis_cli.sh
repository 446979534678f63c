#!/usr/bin/env bash
# redis-cli against the server on 127.0.0.1:$1: replies in --no-raw and raw
# form, RESP3 (-3, which sends HELLO 3 on connect), commands read from
# stdin, --scan, --pipe mass insertion, -r repeats and --stat. Expected
# output was recorded from redis-cli against redis-server 7.0.
set -u
. "$(dirname "$0")/common.sh"
port="$1"
cli() { timeout 10 redis-cli -p "$port" "$@" 2>&1; }

cli flushall >/dev/null
check cli_ping "PONG" "$(cli ping)"
check cli_set "OK" "$(cli set k1 hello)"
check cli_get_raw "hello" "$(cli get k1)"
check cli_get_noraw '"hello"' "$(cli --no-raw get k1)"
check cli_nil_noraw "(nil)" "$(cli --no-raw get nokey)"
check cli_integer_noraw "(integer) 1" "$(cli --no-raw exists k1)"
check cli_error_noraw "(error) ERR value is not an integer or out of range" "$(cli --no-raw incr k1)"
check cli_unknown_noraw "(error) ERR unknown command 'nosuch', with args beginning with: 'x' " "$(cli --no-raw nosuch x)"
cli mset a 1 b 2 >/dev/null
check cli_array_noraw "$(printf '1) "1"\n2) "2"\n3) (nil)')" "$(cli --no-raw mget a b nokey)"
check cli_empty_array_noraw "(empty array)" "$(cli --no-raw keys 'nomatch*')"
check cli_binary_noraw '"a\x00b\r\n"' "$(printf 'a\0b\r\n' | cli -x set bin >/dev/null; cli --no-raw get bin | head -c 200)"
check cli_resp3_nil "(nil)" "$(cli -3 --no-raw get nokey)"
check cli_resp3_map "$(printf '1# "port" => "%s"' "$port")" "$(cli -3 --no-raw config get port)"
check cli_resp3_hello_proto '3# "proto" => (integer) 3' "$(cli -3 --no-raw hello 3 | grep '"proto"')"
# redis-cli adds a "(1.13s)" line after a command that took over 0.5 s.
check cli_stdin_commands "$(printf 'OK\n7\n"7"')" "$(printf 'set s 7\nincrby s 0\nget s\n' | cli --no-raw | sed 's/(integer) //' | grep -Ev '^\([0-9.]+s\)$')"
check cli_scan "$(printf 'scan:1\nscan:2\nscan:3')" "$(cli mset scan:1 a scan:2 b scan:3 c >/dev/null; cli --scan --pattern 'scan:*' | sort)"
check cli_repeat "$(printf 'PONG\nPONG\nPONG')" "$(cli -r 3 ping)"

# --pipe: redis-cli appends an ECHO of a random marker and waits for it.
pipe_out=$(for i in $(seq 1 1000); do printf 'SET pipe:%d %d\r\n' "$i" "$i"; done | cli --pipe)
if echo "$pipe_out" | grep -q 'errors: 0, replies: 1000'; then
    pass cli_pipe
else
    fail cli_pipe "$(echo "$pipe_out" | tr '\n' ' ')"
fi
check cli_pipe_keys "1000" "$(cli --scan --pattern 'pipe:*' | wc -l | tr -d ' ')"

# --stat reads INFO fields every interval; it prints a header and rows.
stat_out=$(timeout 2.5 stdbuf -oL redis-cli -p "$port" --stat -i 1 2>&1 | head -n 4)
if echo "$stat_out" | grep -q '^------- data' && echo "$stat_out" | sed -n 3p | grep -Eq '^[0-9]+ '; then
    pass cli_stat
else
    fail cli_stat "$(echo "$stat_out" | tr '\n' '|')"
fi

# INFO through redis-cli, parsed as redis_exporter does (field:value lines).
check cli_info_port "$port" "$(cli info server | tr -d '\r' | sed -n 's/^tcp_port://p')"
