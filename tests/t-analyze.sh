#!/bin/bash
# Static analysis of core/ and fs/: cppcheck (warnings and portability) and gcc -fanalyzer.
# Each suppression below names the finding and why it is not a bug; anything else fails.
set -u
: "${TOP:?}"
cd "$TOP"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
CC=${CC:-gcc}
PKGCFLAGS=$(pkg-config --cflags fuse3 yaml-0.1 2>/dev/null)

# ---- cppcheck
if ! command -v cppcheck >/dev/null; then
	echo "t-analyze: cppcheck is not installed" >&2
	exit 1
fi
supp=(
	# mk() allocates from the arena, which aborts rather than return NULL: the loops that
	# test e1/l before building a node never see a NULL node
	--suppress=nullPointerRedundantCheck:core/jinja_parse.c
	# an {% include %} after {% extends %} points r->out at a local buffer only while the
	# include runs and restores it before returning
	--suppress=autoVariables:core/jinja_eval.c
	# the render state is never NULL while filters run (jinja_filters.c tests `r &&` anyway)
	--suppress=ctunullpointer:core/jinja_eval.c
	# `if (!(p = realloc(p, n))) abort();`: nothing is leaked when the process ends
	--suppress=memleakOnRealloc:fs/device.c
	--suppress=memleakOnRealloc:fs/store.c
	# node_path: chain[] is read only below the depth that was filled
	--suppress=uninitvar:fs/node.c
	# two variables starting out equal and then diverging (pprint's first-line and other-line
	# widths) are deliberate, not a copy-paste slip
	--suppress=duplicateAssignExpression
)
cppcheck -q --std=c11 --enable=warning,portability --inline-suppr --error-exitcode=1 \
	-D_GNU_SOURCE -DLAVAFS_VERSION='"analyze"' -Icore "${supp[@]}" \
	--template='{file}:{line}: {severity} {id}: {message}' core fs >"$T/cppcheck.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	echo "t-analyze: cppcheck:" >&2
	cat "$T/cppcheck.log" >&2
	fail=1
else
	echo "t-analyze: cppcheck clean ($(ls core/*.c fs/*.c | wc -l) files)"
fi

# ---- gcc -fanalyzer
# Not enabled: leak reports (ownership moves into structs and arenas the analyzer loses track
# of; real leaks are caught by LeakSanitizer and valgrind in t-valgrind and every ASan test)
# and "possibly NULL" after malloc (out of memory is not handled but by aborting).
AFLAGS="-fanalyzer -Wno-analyzer-malloc-leak -Wno-analyzer-file-leak
	-Wno-analyzer-possible-null-dereference -Wno-analyzer-possible-null-argument"
# Known false positives, matched on file and message (line numbers move):
#   value.c: "%.*e" of a finite double always has an 'e' (nan and inf return earlier)
#   ops.c: open_file returns -errno after a failed openat(), never 0 with no handle
allow='^(core/value\.c:[0-9]+:[0-9]+: warning: dereference of NULL .e.|fs/ops\.c:[0-9]+:[0-9]+: warning: dereference of NULL .h.)'
if $CC -fanalyzer -x c -c /dev/null -o /dev/null 2>/dev/null; then
	for f in core/*.c fs/*.c; do
		$CC -std=c11 -D_GNU_SOURCE -DLAVAFS_VERSION='"analyze"' -O1 $AFLAGS $PKGCFLAGS -Icore \
			-c "$f" -o "$T/x.o" 2>>"$T/analyzer.log" || fail=1
	done
	grep -E ': warning: ' "$T/analyzer.log" | grep -vE "$allow" >"$T/analyzer.found"
	if [ -s "$T/analyzer.found" ]; then
		echo "t-analyze: gcc -fanalyzer:" >&2
		cat "$T/analyzer.found" >&2
		fail=1
	else
		echo "t-analyze: gcc -fanalyzer clean ($(grep -cE "$allow" "$T/analyzer.log") known false positives)"
	fi
else
	echo "t-analyze: $CC has no -fanalyzer; skipped that part"
fi
exit $fail
