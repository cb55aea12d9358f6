#!/bin/bash
# Differential test of the template engine: every case directory D under tests/jinja/cases and
# tests/jinja/corpus is rendered with
#     $LAVAFS render -t D D/template.jinja2 [-c D/context.yaml]
# and with tests/jinja/reference.py (Python's jinja2). When python succeeds, the two stdouts
# must be byte-identical; when python fails, lavafs must fail too (non-zero exit).
# JINJA_CASES="name1 name2" restricts the run to those case names.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
LAVAFS=${LAVAFS:-$TOP/build/asan/lavafs}
PY=/usr/bin/python3
REF=$TOP/tests/jinja/reference.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass=0
fail=0
failed=""
for base in "$TOP/tests/jinja/cases" "$TOP/tests/jinja/corpus"; do
	[ -d "$base" ] || continue
	for d in "$base"/*/; do
		d=${d%/}
		name=$(basename "$d")
		[ -f "$d/template.jinja2" ] || continue
		if [ -n "${JINJA_CASES:-}" ]; then
			case " $JINJA_CASES " in *" $name "*) ;; *) continue ;; esac
		fi
		args=(-t "$d" "$d/template.jinja2")
		[ -f "$d/context.yaml" ] && args+=(-c "$d/context.yaml")
		"$PY" "$REF" "${args[@]}" >"$tmp/want" 2>"$tmp/want.err"
		prc=$?
		"$LAVAFS" render "${args[@]}" >"$tmp/got" 2>"$tmp/got.err"
		lrc=$?
		if [ $lrc -gt 1 ]; then
			echo "FAIL $name: lavafs exited $lrc (crash or usage error)"
			sed 's/^/    /' "$tmp/got.err" | head -20
			fail=$((fail + 1))
			failed="$failed $name"
		elif [ $prc -ne 0 ]; then
			if [ $lrc -eq 0 ]; then
				echo "FAIL $name: python failed but lavafs rendered"
				sed 's/^/    python: /' "$tmp/want.err" | tail -3
				fail=$((fail + 1))
				failed="$failed $name"
			else
				pass=$((pass + 1))
			fi
		elif [ $lrc -ne 0 ]; then
			echo "FAIL $name: lavafs failed, python rendered"
			sed 's/^/    lavafs: /' "$tmp/got.err" | head -5
			fail=$((fail + 1))
			failed="$failed $name"
		elif ! cmp -s "$tmp/want" "$tmp/got"; then
			echo "FAIL $name: output differs (--- python, +++ lavafs)"
			diff -u "$tmp/want" "$tmp/got" | sed 1,2d | head -30
			fail=$((fail + 1))
			failed="$failed $name"
		else
			pass=$((pass + 1))
		fi
	done
done
echo "jinja-diff: $pass agree, $fail differ${failed:+:$failed}"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
