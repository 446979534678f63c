#!/usr/bin/env bash
# Runs every test layer in tests/layers/ (in name order) and adds up their
# counts. Each layer script ends its output with a line "N passed, N failed";
# a layer that prints no such line, or exits non-zero with no failure
# counted, counts as one failure. Environment: BUILD (build directory),
# FULL=1 for the slow tiers, ASAN=1 under the sanitizer build.
set -u
cd "$(dirname "$0")/.."
export BUILD="${BUILD:-build}" FULL="${FULL:-0}" ASAN="${ASAN:-0}"

total_pass=0
total_fail=0
summary=()
logdir="$BUILD/test-logs"
mkdir -p "$logdir"

for layer in tests/layers/*.sh; do
    [ -e "$layer" ] || continue
    name=$(basename "$layer" .sh)
    echo "=== layer $name"
    log="$logdir/$name.log"
    bash "$layer" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        p=0; f=1
    else
        p=$(echo "$line" | sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2/')
        f=$(echo "$line" | sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\3/')
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    summary+=("$(printf '  %-14s %6d passed, %d failed' "$name" "$p" "$f")")
done

echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
