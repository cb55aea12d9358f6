#!/bin/sh
# Runs every benchmark script tests/bench/b-*.sh with BUILD (optimized build dir) and LAVAFS set.
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
export TOP BUILD LAVAFS="$TOP/$BUILD/lavafs"
rc=0
for b in tests/bench/b-*.sh; do
	[ -f "$b" ] || continue
	echo "=== $(basename "$b" .sh)"
	bash "$b" || rc=1
done
exit $rc
