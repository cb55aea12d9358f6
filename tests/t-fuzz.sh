#!/bin/bash
# Builds the libFuzzer targets (tests/fuzz/fuzz.mk), replays every saved crasher in
# tests/fuzz/regressions/TARGET/ through its target, then fuzzes each target briefly
# (FUZZ_SECONDS, default 6) from its seed corpus. Any crash, leak, sanitizer report, timeout
# or out-of-memory fails the test and names the input that caused it.
set -u
cd "${TOP:?}"
SECS=${FUZZ_SECONDS:-6}
FB=build/fuzz
fail=0
mkdir -p "$FB"

if ! make --no-print-directory -s -f tests/fuzz/fuzz.mk -j2 fuzz-all >"$FB.log" 2>&1; then
	cat "$FB.log" >&2
	echo "t-fuzz: building the fuzz targets failed (clang and libclang-rt-14-dev installed?)" >&2
	exit 1
fi
targets=$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')
[ -n "$targets" ] || { echo "t-fuzz: no targets" >&2; exit 1; }

opts() { # the options every run shares; per-input ceilings make slow or greedy inputs findings
	echo "-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1"
}

# 1. regressions: each file once (libFuzzer runs the files given as arguments and exits)
for d in tests/fuzz/regressions/*/; do
	[ -d "$d" ] || continue
	t=$(basename "$d")
	# NAME.pending: a crasher whose fix is not in yet (run with FUZZ_PENDING=1)
	if [ "${FUZZ_PENDING:-0}" = 1 ]; then
		files=$(find "$d" -maxdepth 1 -type f ! -name 'README*' | sort)
	else
		files=$(find "$d" -maxdepth 1 -type f ! -name 'README*' ! -name '*.pending' | sort)
	fi
	[ -n "$files" ] || continue
	if [ ! -x "$FB/fuzz_$t" ]; then
		echo "t-fuzz: regressions for unknown target $t" >&2
		fail=1
		continue
	fi
	n=0
	for f in $files; do
		n=$((n + 1))
		if ! timeout 60 "$FB/fuzz_$t" $(opts) "$f" >"$FB/replay.log" 2>&1; then
			echo "t-fuzz: regression $f fails again:" >&2
			grep -E 'ERROR|SUMMARY|#[0-9]+ 0x' "$FB/replay.log" | head -20 >&2
			fail=1
		fi
	done
	echo "t-fuzz: $t: $n regression inputs replayed"
done

# 2. a short run of each target, one at a time, with the options `make fuzz` uses
mkdir -p "$FB/crashes"
for t in $targets; do
	before=$(ls "$FB/crashes" | wc -l)
	timeout $((SECS + 60)) make --no-print-directory -s -f tests/fuzz/fuzz.mk "run-$t" \
		FUZZ_SECONDS="$SECS" >"$FB/run-$t.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$FB/run-$t.log")
	if [ $rc -ne 0 ] || [ -z "$execs" ]; then
		echo "t-fuzz: $t failed (exit $rc); new artifacts:" >&2
		ls -t "$FB/crashes" | head -n $(($(ls "$FB/crashes" | wc -l) - before)) >&2
		grep -E 'ERROR|SUMMARY|#[0-9]+ 0x' "$FB/run-$t.log" | head -30 >&2
		fail=1
	else
		echo "t-fuzz: $t: $execs inputs in ${SECS}s, no crash"
	fi
done
exit $fail
