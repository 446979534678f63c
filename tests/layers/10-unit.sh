#!/usr/bin/env bash
# Unit layer: every cmocka binary under $BUILD/tests/unit, one per source
# file in tests/unit/<room>/. Counts cmocka's own PASSED/FAILED lines; a
# binary that crashes before reporting counts as one failure.
set -u
BUILD="${BUILD:-build}"
pass=0
fail=0
for bin in $(find "$BUILD/tests/unit" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort); do
    out=$(timeout 300 "$bin" 2>&1)
    rc=$?
    echo "$out" | grep -E '^\[  (FAILED|ERROR) ' || true
    p=$(echo "$out" | sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    f=$(echo "$out" | sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "$out" | tail -n 20
    fi
    printf '%-50s %4d passed, %d failed\n' "${bin#$BUILD/tests/unit/}" "$p" "$f"
    pass=$((pass + p))
    fail=$((fail + f))
done
echo "unit: $pass passed, $fail failed"
