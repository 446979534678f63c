#!/usr/bin/env bash
# WAL layer: the crash test with real processes. A writer appends and
# reports what is durable; it is killed with SIGKILL at random moments and
# restarted; every acknowledged entry must come back intact. Run once per
# backend (io_uring, plain syscalls on a thread and inline) and once with raft-fsync off (a killed
# process loses nothing the kernel already has). The cmocka tests of the wal
# room run in the unit layer. Budget: well under 90 s.
set -u
BUILD="${BUILD:-build}"
pass=0
fail=0
kills=20
[ "${FULL:-0}" = 1 ] && kills=50
seed=${WAL_CRASH_SEED:-$(date +%s)}
tmp=$(mktemp -d /tmp/raftcache-wal-crash.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

run() {
    local name=$1 io=$2 fsync=$3
    local out
    out=$(timeout 80 "$BUILD/tests/wal/crash_test" "$BUILD/tests/wal/crash_writer" \
        "$tmp/$name" "$kills" "$seed" "$io" "$fsync" 2>"$tmp/$name.err")
    local rc=$?
    echo "$out" | grep -E '^(FAIL|crash_test:)' | sed "s/^/  $name: /"
    if [ "$rc" -eq 0 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "  $name: FAILED (exit $rc, seed $seed); last lines:"
        echo "$out" | tail -n 5
        tail -n 5 "$tmp/$name.err"
    fi
}

if "$BUILD/tests/wal/crash_writer" --probe-uring; then
    run crash-uring uring always
else
    echo "  crash-uring: skipped, io_uring is not available here"
fi
run crash-sync sync always
run crash-sync-inline inline always
run crash-fsync-off auto off
echo "wal: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
