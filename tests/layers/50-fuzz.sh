#!/usr/bin/env bash
# Fuzz layer: the libFuzzer targets of tests/fuzz/ (built with clang; see
# tests/fuzz/rules.mk). Each target starts from its seed corpus (written
# by the target itself with FUZZ_WRITE_SEEDS, or below for RESP) plus the
# inputs that once crashed it (tests/fuzz/regress/<target>/, always run).
#   quick tier (make test): -seed=1 and a fixed number of runs per target,
#     so the run is deterministic and all targets take well under a minute
#     on two cores; the corpus starts afresh each time.
#   FULL=1 (make test-full): FUZZ_SECONDS (default 60) per target, with a
#     corpus kept in $BUILD/fuzz-corpus/ between runs.
# A crash, a sanitizer report, a leak, an out-of-memory or a timeout fails
# the target. One count per target; without clang nothing is built and the
# layer reports 0 passed, 0 failed.
set -u
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
FULL="${FULL:-0}"
logdir="$BUILD/test-logs"
mkdir -p "$logdir"

# target:quick-runs:max-len
targets="resp:300000:4096 raft_msg:300000:4096 raft_step:30000:4096 \
peer_frame:300000:4096 wal:30000:16384 repl:300000:4096 \
store_load:150000:4096"

seed_resp() {
    printf '\x05*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n' >"$1/set"
    printf '\x07PING\r\nset a "b\\x41" '"'"'c'"'"'\r\n' >"$1/inline"
    printf '\x03*1\r\n$100\r\nab' >"$1/partial"
    printf '\x09*0\r\n*-1\r\n\r\n*1\r\n$0\r\n\r\n' >"$1/empty"
}

# Fills corpus dir $2 with the seeds of target $1.
seed() {
    if [ "$1" = resp ]; then
        seed_resp "$2"
    else
        FUZZ_WRITE_SEEDS="$2" "$BUILD/tests/fuzz/fuzz_$1"
    fi
}

pass=0
fail=0
for spec in $targets; do
    IFS=: read -r t runs maxlen <<<"$spec"
    bin="$BUILD/tests/fuzz/fuzz_$t"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin not built (clang missing?)"
        continue
    fi
    if [ "$FULL" = 1 ]; then
        corpus="$BUILD/fuzz-corpus/$t"
        mkdir -p "$corpus"
        secs="${FUZZ_SECONDS:-60}"
        args=(-max_total_time="$secs")
        limit=$((secs + 120))
    else
        corpus="$BUILD/fuzz-quick/$t"
        rm -rf "$corpus"
        mkdir -p "$corpus"
        args=(-seed=1 -runs="$runs")
        limit=300
    fi
    if ! seed "$t" "$corpus"; then
        echo "fuzz: $t: cannot write its seeds"
        fail=$((fail + 1))
        continue
    fi
    dirs=("$corpus")
    [ -d "tests/fuzz/regress/$t" ] && dirs+=("tests/fuzz/regress/$t")
    log="$logdir/fuzz-$t.log"
    start=$SECONDS
    # New inputs go to the first directory only: regress/ stays as it is.
    # Crash artifacts land in the log directory.
    if timeout "$limit" "$bin" "${args[@]}" -max_len="$maxlen" \
            -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$logdir/fuzz-$t-" "${dirs[@]}" >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz: $t ok: ${execs:-?} runs in $((SECONDS - start)) s"
        pass=$((pass + 1))
    else
        tail -n 40 "$log"
        echo "fuzz: $t FAILED (log: $log)"
        fail=$((fail + 1))
    fi
done
echo "fuzz: $pass passed, $fail failed"
