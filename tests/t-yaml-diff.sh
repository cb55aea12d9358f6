#!/bin/bash
# Differential test of the YAML reader: for every tests/yaml/cases/*.yaml, `lavafs debug yaml`
# must print exactly what PyYAML's safe_load gives (tests/yaml/reference.py), or both must fail.
# Every document that loads is then written back with `lavafs debug yaml-emit`: both lavafs and
# PyYAML must read that output as the same value (tuples from !!omap/!!pairs come back as lists,
# so those cases skip this step).
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
	elif [ "$got_rc" -eq 0 ]; then
		pass=$((pass + 1))
		case $f in *omap*) continue ;; esac
		if ! "$LAVAFS" debug yaml-emit "$f" >"$tmp/emitted.yaml" 2>"$tmp/emit.err"; then
			echo "FAIL $f: yaml-emit failed"
			cat "$tmp/emit.err"
			fail=$((fail + 1))
			continue
		fi
		"$LAVAFS" debug yaml "$tmp/emitted.yaml" >"$tmp/again" 2>&1
		/usr/bin/python3 tests/yaml/reference.py "$tmp/emitted.yaml" >"$tmp/again.py" 2>&1
		if ! cmp -s "$tmp/got" "$tmp/again" || ! cmp -s "$tmp/got" "$tmp/again.py"; then
			echo "FAIL $f: yaml-emit output does not read back the same"
			cat "$tmp/emitted.yaml"
			diff "$tmp/got" "$tmp/again" | head -5
			diff "$tmp/got" "$tmp/again.py" | head -5
			fail=$((fail + 1))
		fi
	fi
done
echo "yaml-diff: $pass agree, $fail failures"
[ "$fail" -eq 0 ] && [ "$pass" -ge 100 ]
