#!/usr/bin/env bash
# Installs the Debian packages raftcache needs to build and test.
# Idempotent and quiet when everything is present; non-interactive (CI has
# no standard input). Nothing is vendored: see deps/README.md for the list.
set -euo pipefail

PACKAGES=(
    build-essential pkg-config clang
    libev-dev liburing-dev libxxhash-dev libhiredis-dev libcmocka-dev
    tcl redis-tools redis-server python3 python3-redis
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps/install.sh: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged redis-server starts a system service; the benchmarks start
# their own on a free port, so stop the service rather than compete with it.
if [ -x /etc/init.d/redis-server ]; then
    $SUDO /etc/init.d/redis-server stop >/dev/null 2>&1 || true
fi
exit 0
