#!/usr/bin/env bash
# redis-benchmark smoke against 127.0.0.1:$1: the runs complete, every test
# reports a rate, and the keys it wrote are really there. Without -r the
# keys keep their literal "__rand_int__" names, so the counts are exact.
set -u
. "$(dirname "$0")/common.sh"
port="$1"
cli() { timeout 10 redis-cli -p "$port" "$@" 2>&1; }

bench_check() {
    local name="$1" out rc
    shift
    out=$(timeout 60 redis-benchmark -p "$port" "$@" 2>&1)
    rc=$?
    local rates
    rates=$(echo "$out" | tr '\r' '\n' | grep -c 'requests per second')
    if [ "$rc" -eq 0 ] && [ "$rates" -eq 4 ]; then
        pass "$name"
    else
        fail "$name" "exit $rc, $rates rates: $(echo "$out" | tr '\r\n' '  ' | tail -c 300)"
    fi
}

cli flushall >/dev/null
bench_check benchmark_set_get_incr_mset -t set,get,incr,mset -n 20000 -q
check benchmark_counter_after_incr "20000" "$(cli get counter:__rand_int__)"
check benchmark_value_written "3" "$(cli strlen key:__rand_int__)"
bench_check benchmark_pipelined_p16 -t set,get,incr,mset -n 20000 -q -P 16
check benchmark_counter_after_pipelined_incr "40000" "$(cli get counter:__rand_int__)"
timeout 60 redis-benchmark -p "$port" -t set -n 20000 -r 1000 -d 64 -P 16 -q >/dev/null 2>&1
n=$(cli dbsize)
if [ "${n:-0}" -ge 900 ] 2>/dev/null && [ "$n" -le 1002 ]; then
    pass benchmark_random_keys_present
else
    fail benchmark_random_keys_present "dbsize $n after 20000 SETs over 1000 random keys"
fi
check benchmark_random_value_size "64" "$(cli strlen "$(cli --scan --pattern 'key:0*' | head -n 1)")"
