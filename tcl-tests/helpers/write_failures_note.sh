#!/usr/bin/env bash
# Writes the current failure list for the server developers: runs the tcl
# suite and the clients layer against BUILD's raftcache-server and turns
# their results into one Markdown file OUT.
# Usage: BUILD=build-x bash tcl-tests/helpers/write_failures_note.sh OUT
set -u
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
out="${1:?usage: write_failures_note.sh OUT.md}"
bash tests/layers/30-tcl.sh >"$BUILD/test-logs/note-tcl.out" 2>&1
bash tests/layers/40-clients.sh >"$BUILD/test-logs/note-clients.out" 2>&1
{
    echo "# tcl-tests failures against raftcache-server ($(date -u +%H:%M) UTC, branch server @ $(git rev-parse --short HEAD))"
    echo
    echo "Expected replies were recorded from redis-server 7.0 (the whole suite passes there)."
    echo "Reproduce: \`make BUILD=build-x && tclsh tcl-tests/test_helper.tcl --server-bin build-x/raftcache-server --single FILE --only 'NAME*'\`"
    echo "(FILE = the unit/FILE.tcl named below). Reply-bytes cases come from tcl-tests/helpers/reply_cases.txt."
    echo
    echo "- $(tail -n 1 "$BUILD/test-logs/note-tcl.out")"
    echo "- $(tail -n 1 "$BUILD/test-logs/note-clients.out")"
    echo
    echo "## tcl suite"
    echo
    if [ -s "$BUILD/test-logs/tcl-failures.md" ]; then cat "$BUILD/test-logs/tcl-failures.md"; else echo "(none)"; fi
    echo
    echo "## clients layer"
    echo
    if grep -q '^FAIL ' "$BUILD/test-logs/note-clients.out"; then
        grep '^FAIL ' "$BUILD/test-logs/note-clients.out" | sed 's/^/- /'
    else
        echo "(none)"
    fi
} >"$out.tmp" && mv "$out.tmp" "$out"
echo "wrote $out"
