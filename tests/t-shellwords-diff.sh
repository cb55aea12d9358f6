#!/bin/bash
# Differential test of core/shellwords against a real POSIX shell (dash, globbing off) and
# against Python's shlex.split, over every tests/shellwords/*.in input:
#   NNN-*.in    compared with sh (no unquoted expansion or operator characters)
#   x-NNN-*.in  not given to sh (they hold $, ;, |, newlines ... that a shell would act on)
# Every input is also compared with shlex.split unless it holds one of the few things where
# shlex and sh differ (\r, or a backslash before $ ` or a newline). Each input must meet at
# least one reference; a split error must match a reference error.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BUILD:-build/asan}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# A small driver linked against the library under test (with its sanitizers, if any).
san=
if nm "$BUILD/libcore.a" 2>/dev/null | grep -q __asan_init; then
	san="-fsanitize=address,undefined"
fi
cc -std=c11 -D_GNU_SOURCE $san -I"$TOP/core" -o "$tmp/split" "$TOP/tests/shellwords/split.c" \
	"$BUILD/libcore.a" || { echo "cannot build the split driver"; exit 1; }

# shlex reference for all inputs in one run: NAME.py (words + NUL), NAME.pyerr, or NAME.pyskip.
"$PY" - "$TOP/tests/shellwords" "$tmp" <<'PYEOF' || { echo "python reference failed"; exit 1; }
import os, re, shlex, sys
src, out = sys.argv[1], sys.argv[2]
for f in sorted(os.listdir(src)):
    if not f.endswith(".in"):
        continue
    text = open(os.path.join(src, f), encoding="utf-8", newline="").read()
    base = os.path.join(out, f[:-3])
    if "\r" in text or re.search(r"\\[$`\n]", text):
        open(base + ".pyskip", "w").close()
        continue
    try:
        words = shlex.split(text)
    except ValueError as e:
        open(base + ".pyerr", "w").write(str(e))
        continue
    with open(base + ".py", "wb") as o:
        for w in words:
            o.write(w.encode("utf-8") + b"\0")
PYEOF

show() { od -c "$1" | head -5; }
n=0
for in in "$TOP"/tests/shellwords/*.in; do
	name=$(basename "$in" .in)
	n=$((n + 1))
	refs=0
	"$tmp/split" <"$in" >"$tmp/ours" 2>"$tmp/ours.err"
	ours_rc=$?
	if [ $ours_rc -gt 1 ]; then
		echo "FAIL $name: driver crashed (rc $ours_rc)"; cat "$tmp/ours.err"; fail=1; continue
	fi
	case $name in
	x-*) ;;
	*)
		refs=$((refs + 1))
		{
			printf '%s' 'set -f; f() { for a in "$@"; do printf "%s\0" "$a"; done; }; f '
			cat "$in"
			printf '\n'
		} >"$tmp/script.sh"
		sh "$tmp/script.sh" >"$tmp/sh" 2>"$tmp/sh.err"
		sh_rc=$?
		if [ $ours_rc -ne 0 ]; then
			if [ $sh_rc -eq 0 ]; then
				echo "FAIL $name: we fail ($(cat "$tmp/ours.err")), sh accepts"; fail=1
			fi
		elif [ $sh_rc -ne 0 ]; then
			echo "FAIL $name: sh fails ($(cat "$tmp/sh.err")), we accept"; fail=1
		elif ! cmp -s "$tmp/ours" "$tmp/sh"; then
			echo "FAIL $name: differs from sh"; echo "ours:"; show "$tmp/ours"
			echo "sh:"; show "$tmp/sh"; fail=1
		fi
		;;
	esac
	if [ -e "$tmp/$name.pyerr" ]; then
		refs=$((refs + 1))
		if [ $ours_rc -eq 0 ]; then
			echo "FAIL $name: shlex fails ($(cat "$tmp/$name.pyerr")), we accept"; fail=1
		fi
	elif [ -e "$tmp/$name.py" ]; then
		refs=$((refs + 1))
		if [ $ours_rc -ne 0 ]; then
			echo "FAIL $name: we fail ($(cat "$tmp/ours.err")), shlex accepts"; fail=1
		elif ! cmp -s "$tmp/ours" "$tmp/$name.py"; then
			echo "FAIL $name: differs from shlex"; echo "ours:"; show "$tmp/ours"
			echo "shlex:"; show "$tmp/$name.py"; fail=1
		fi
	fi
	if [ $refs -eq 0 ]; then
		echo "FAIL $name: no reference can judge this input"; fail=1
	fi
done
[ $n -ge 100 ] || { echo "FAIL: only $n inputs"; fail=1; }
echo "$n inputs compared"
exit $fail
