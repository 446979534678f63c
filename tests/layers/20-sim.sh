#!/usr/bin/env bash
# Simulation layer: the linearizability checker's unit tests, >= 500 seeds of
# the deterministic simulator (3, 5 and 7 nodes mixed; two thirds of the
# seeds keep their logs in the real WAL on a fault-injecting mem disk, a
# third in the simulator's disk model; two processes at once), every seed in tests/sim/regressions.txt, and one run per injected
# bug (build/sim-bug-*) that must be caught by a failed check within the
# same seed budget. Counts one per test, seed, regression and bug variant.
# Env: BUILD, FULL=1 (10x the seeds), ASAN=1 (100 seeds: the sanitizer
# build is about 10x slower), SIM_SEEDS, SIM_SEED_START.
set -u
BUILD="${BUILD:-build}"
FULL="${FULL:-0}"
ASAN="${ASAN:-0}"
default_seeds=500
[ "$ASAN" = "1" ] && default_seeds=100
seeds="${SIM_SEEDS:-$default_seeds}"
[ "$FULL" = "1" ] && seeds=$((seeds * 10))
start="${SIM_SEED_START:-1}"
sim="$BUILD/sim"
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. The checker's own tests.
lc="$BUILD/tests/unit/sim/test_lincheck"
if [ -x "$lc" ]; then
    out=$(timeout 120 "$lc" 2>&1)
    p=$(echo "$out" | sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' | head -n1)
    f=$(echo "$out" | sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' | head -n1)
    p=${p:-0}; f=${f:-0}
    [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1
    echo "lincheck unit tests: $p passed, $f failed"
    pass=$((pass + p)); fail=$((fail + f))
else
    echo "missing $lc"; fail=$((fail + 1))
fi

if [ ! -x "$sim" ]; then
    echo "missing $sim"
    echo "sim: $pass passed, $((fail + 1)) failed"
    exit 1
fi

# 2. The seed range, split over two processes.
half=$((seeds / 2))
timeout 600 "$sim" --quiet --seeds "$half" --seed "$start" >"$tmp/a" 2>&1 &
pa=$!
timeout 600 "$sim" --quiet --seeds $((seeds - half)) --seed $((start + half)) >"$tmp/b" 2>&1 &
pb=$!
wait "$pa" "$pb"
for part in a b; do
    grep -E '^(FAIL|  replay)' "$tmp/$part"
    grep -E 'steps/s|^storage:' "$tmp/$part"
    line=$(grep -E '^seeds .*: [0-9]+ run, [0-9]+ failed' "$tmp/$part" | tail -n1)
    r=$(echo "$line" | sed -nE 's/.*: ([0-9]+) run, ([0-9]+) failed/\1/p')
    f=$(echo "$line" | sed -nE 's/.*: ([0-9]+) run, ([0-9]+) failed/\2/p')
    if [ -z "$r" ]; then
        echo "simulator run $part did not finish"; tail -n 5 "$tmp/$part"
        fail=$((fail + 1)); continue
    fi
    pass=$((pass + r - f)); fail=$((fail + f))
done
echo "seeds $start..$((start + seeds - 1)) done"

# 3. Regression seeds.
nreg=0
while read -r line; do
    line="${line%%#*}"
    set -- $line
    [ $# -eq 0 ] && continue
    nreg=$((nreg + 1))
    if out=$(timeout 120 "$sim" --seed "$@" 2>&1); then
        pass=$((pass + 1))
    else
        echo "regression failed: $sim --seed $*"
        echo "$out" | grep -E '^(FAIL|  replay)'
        fail=$((fail + 1))
    fi
done < tests/sim/regressions.txt
echo "regressions: $nreg replayed"

# 4. Each injected bug must be caught by a failed check (not a crash)
#    within the same seed budget.
for bug in COMMIT_OLD_TERM VOTE_NO_LOG_CHECK LEASE_NO_CHECKQUORUM APPLY_BEFORE_PERSIST; do
    bin="$BUILD/sim-bug-$bug"
    if [ ! -x "$bin" ]; then
        echo "bug $bug: missing $bin"; fail=$((fail + 1)); continue
    fi
    out=$(timeout 600 "$bin" --quiet --stop-on-fail --seeds "$seeds" --seed "$start" 2>&1)
    caught=$(echo "$out" | grep -E '^FAIL' | grep -vE 'crashed|hung' | head -n1)
    if [ -n "$caught" ]; then
        echo "bug $bug: caught by ${caught#FAIL }" | cut -c1-240
        pass=$((pass + 1))
    else
        echo "bug $bug: NOT caught in $seeds seeds"
        fail=$((fail + 1))
    fi
done

echo "sim: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
