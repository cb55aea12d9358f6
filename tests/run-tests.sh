#!/bin/sh
# Runs every test: the cmocka unit binaries in BUILD/tests, then every tests/t-*.sh script
# (each gets LAVAFS, BUILD and TOP in its environment). Prints "N passed, N failed" last.
BUILD=${1:-build/asan}
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
export TOP BUILD LAVAFS="$TOP/$BUILD/lavafs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pass=0
fail=0
failed=""
run() {
	name=$1
	shift
	printf '=== %s\n' "$name"
	start=$(date +%s)
	if "$@"; then
		pass=$((pass + 1))
		printf -- '--- ok   %s (%ss)\n' "$name" $(($(date +%s) - start))
	else
		fail=$((fail + 1))
		failed="$failed $name"
		printf -- '--- FAIL %s\n' "$name"
	fi
}
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	run "unit/$(basename "$t")" "$t"
done
for t in tests/t-*.sh; do
	[ -f "$t" ] || continue
	case " ${TESTS:-} " in "  ") ;; *" $(basename "$t" .sh) "*) ;; *) continue ;; esac
	run "$(basename "$t" .sh)" bash "$t"
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
