#!/bin/bash
# Differential test of the YAML reader: for every tests/yaml/cases/*.yaml, `lavafs debug yaml`
# must print exactly what PyYAML's safe_load gives (tests/yaml/reference.py), or both must fail.
set -u
cd "$TOP" || exit 1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
for f in tests/yaml/cases/*.yaml; do
	/usr/bin/python3 tests/yaml/reference.py "$f" >"$tmp/want" 2>"$tmp/want.err"
	want_rc=$?
	"$LAVAFS" debug yaml "$f" >"$tmp/got" 2>"$tmp/got.err"
	got_rc=$?
	if [ "$got_rc" -gt 1 ]; then
		echo "FAIL $f: lavafs exited $got_rc"
		cat "$tmp/got.err"
		fail=$((fail + 1))
	elif [ "$want_rc" -ne 0 ] && [ "$got_rc" -ne 0 ]; then
		# both reject it; ours must say where
		if grep -Eq '^lavafs: .+:[0-9]+(:[0-9]+)?: .' "$tmp/got.err"; then
			pass=$((pass + 1))
		else
			echo "FAIL $f: error without file:line:"
			cat "$tmp/got.err"
			fail=$((fail + 1))
		fi
	elif [ "$want_rc" -ne "$got_rc" ]; then
		echo "FAIL $f: reference exit $want_rc, lavafs exit $got_rc"
		cat "$tmp/want.err" "$tmp/got.err"
		head -c 600 "$tmp/want" "$tmp/got"
		fail=$((fail + 1))
	elif ! cmp -s "$tmp/want" "$tmp/got"; then
		echo "FAIL $f: output differs"
		diff "$tmp/want" "$tmp/got" | head -10
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
done
echo "yaml-diff: $pass agree, $fail differ"
[ "$fail" -eq 0 ] && [ "$pass" -ge 100 ]
