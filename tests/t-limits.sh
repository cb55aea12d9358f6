#!/bin/bash
# Resource limits: every runaway input fails fast (seconds) with an error that names the limit,
# and never crashes or eats the machine's memory. Templates go through `lavafs render` (the
# dictionary path of `lavafs compose` uses the same engine and limits), YAML and job inputs
# through `lavafs compose`. The sanitizer build runs under ASan's hard RSS limit; the optimized
# build (when there is one) under `ulimit -v`.
#
# Cases listed in LIMITS_KNOWN are known failures (reported, fixed by the engine's owner):
# they run and are shown, but only fail the test with LIMITS_STRICT=1.
set -u
: "${LAVAFS:?}" "${TOP:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
PY=/usr/bin/python3
OPT=$TOP/build/lavafs
# Known failures, by case name (none at present: the string builders check max_memory first,
# and conditional-expression chains count towards the parser's nesting limit).
LIMITS_KNOWN=${LIMITS_KNOWN-}
LIMITS_KNOWN=$(echo $LIMITS_KNOWN)
fail=0
known=0
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:hard_rss_limit_mb=1024:allocator_may_return_null=0"

mkdir -p tpl
printf "{%% extends 'qemu.jinja2' %%}\n" >dict

# expect NAME SECONDS REGEX CMD...: CMD must exit 1 within SECONDS with REGEX on stderr, with
# no sanitizer report; then the optimized binary too, under a 2 GiB address-space limit.
expect() {
	name=$1 secs=$2 re=$3
	shift 3
	local ok=1 start end msg
	start=$(date +%s%N)
	timeout "$secs" "$LAVAFS" "$@" >out 2>err
	rc=$?
	end=$(date +%s%N)
	msg=$(grep -m1 'lavafs:' err | cut -c1-200)
	if grep -q 'Sanitizer' err; then
		ok=0
		why="sanitizer report: $(grep -m1 -E 'ERROR|Sanitizer' err | cut -c1-160)"
	elif [ $rc -ne 1 ]; then
		ok=0
		why="exit $rc ($( [ $rc = 124 ] && echo "timeout ${secs}s" || head -c 160 err))"
	elif ! grep -qE "$re" err; then
		ok=0
		why="error does not match /$re/: $msg"
	fi
	if [ $ok = 1 ] && [ -x "$OPT" ]; then
		(ulimit -v 2097152; timeout "$secs" "$OPT" "$@") >out 2>err
		rc=$?
		if [ $rc -ne 1 ] || ! grep -qE "$re" err; then
			ok=0
			why="optimized build: exit $rc: $(head -c 200 err)"
		fi
	fi
	ms=$(((end - start) / 1000000))
	if [ $ok = 1 ]; then
		printf 'ok    %-22s %5d ms  %s\n' "$name" "$ms" "$msg"
	elif case " $LIMITS_KNOWN " in *" $name "*) true ;; *) false ;; esac &&
		[ "${LIMITS_STRICT:-0}" != 1 ]; then
		printf 'KNOWN %-22s %s\n' "$name" "$why"
		known=$((known + 1))
	else
		printf 'FAIL  %-22s %s\n' "$name" "$why"
		fail=1
	fi
}

# render NAME SECONDS REGEX TEMPLATE-TEXT: the text as tpl/NAME.jinja2, rendered
render() {
	printf '%s' "$4" >"tpl/$1.jinja2"
	expect "$1" "$2" "$3" render -t tpl "tpl/$1.jinja2"
}

# ---- template recursion
render macro-recursion 10 'max_depth|recursion' \
	"{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
render self-include 10 'max_depth|recursion' "{% include 'self-include.jinja2' %}"
printf "{%% extends 'cycle-b.jinja2' %%}" >tpl/cycle-a.jinja2
printf "{%% extends 'cycle-a.jinja2' %%}" >tpl/cycle-b.jinja2
expect extends-cycle 10 'max_depth|cycle' render -t tpl tpl/cycle-a.jinja2
printf "{%% include 'inc-b.jinja2' %%}" >tpl/inc-a.jinja2
printf "{%% include 'inc-a.jinja2' %%}" >tpl/inc-b.jinja2
expect include-cycle 10 'max_depth|recursion' render -t tpl tpl/inc-a.jinja2
render import-cycle 10 'max_depth|recursion|cycle' "{% import 'import-cycle.jinja2' as m %}"

# ---- loop iterations
render range-1e9 10 'MAX_RANGE|max_iterations' "{% for i in range(10**9) %}x{% endfor %}"
render nested-loops 10 'max_iterations' \
	"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
render recursive-loop 10 'max_iterations|max_depth|MAX_RANGE|max_memory' \
	"{% for i in [range(100000)] * 100 recursive %}{{ loop(i) if i is iterable }}{% endfor %}"

# ---- output and value size
render repeat-100M 10 'max_output' "{{ 'x' * 100000000 }}"
render loop-output 10 'max_output' "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"
render nested-output 10 'max_output|max_iterations' \
	"{% for i in range(1000) %}{% for j in range(1000) %}{{ 'y' * 100 }}{% endfor %}{% endfor %}"
render list-repeat 10 'max_iterations|max_output' "{{ ([1] * 100000) * 100000 }}"
render string-doubling 10 'max_output|max_memory|size|limit' \
	"{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}"
render list-doubling 10 'max_iterations|max_output|max_memory|size|limit' \
	"{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}"
render center-1e9 10 'max_output|max_memory|size|limit' "{{ 'x'.center(1000000000) | length }}"
render format-width 10 'max_output|max_memory|size|limit' "{{ '%1000000000s' % 'x' }}"
render join-blowup 10 'max_output|max_memory|size|limit' \
	"{% set s = 'x' * 1000000 %}{{ ([s] * 1000) | join | length }}"
render replace-blowup 10 'max_output|max_memory|size|limit' \
	"{% set s = 'x' * 100000 %}{{ s | replace('x', s) | length }}"
render indent-1e9 10 'max_output|max_memory|size|limit' "{{ 'a\nb' | indent(1000000000) }}"
render zfill-1e12 10 'max_memory' "{{ 'x'.zfill(10**12) | length }}"
render expandtabs-1e12 10 'max_memory' "{{ 'a\tb'.expandtabs(10**12) | length }}"
render slice-1e12 10 'max_memory' "{{ [1] | slice(10**12) | list | length }}"
render batch-fill-1e12 10 'max_memory' "{{ [1] | batch(10**12, 'x') | list | length }}"
render repr-1e10 10 'max_output' "{{ [[0] * 100000] * 100000 }}"
render empty-repeat-1e11 10 'max_output' "{{ ([] * 111111111111) ~ ('' * 10**12) ~ ('x' * 10**12) }}"
render str-1e10 10 'max_memory' "{{ ([[0] * 100000] * 100000) ~ '' }}"

# ---- values that hold themselves or nest deeply (printing, comparing and keeping them)
printf "{%% extends 'qemu.jinja2' %%}{%% set l = [] %%}{%% set x = l.append(l) %%}" >tpl/cyclic.jinja2
expect cyclic-toplevel 10 'arch' compose -t tpl tpl/cyclic.jinja2
render nested-5000 10 'recursion depth' \
	"{% set ns = namespace(l=[]) %}{% for i in range(5000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}"
render cyclic-compare 10 'recursion depth' \
	"{% set a = [] %}{% set b = [] %}{% set x = a.append(a) %}{% set y = b.append(b) %}{{ a < b }}"

# ---- nesting depth of template expressions and blocks (the C stack must not overflow)
deep() { $PY -c "import sys; print(sys.argv[1] * int(sys.argv[2]) + sys.argv[3] + sys.argv[4] * int(sys.argv[2]), end='')" "$@"; }
render parens-100k 10 'nest|deep|depth' "{{ $(deep '(' 100000 1 ')') }}"
render brackets-100k 10 'nest|deep|depth' "{{ $(deep '[' 100000 1 ']') }}"
render not-100k 10 'nest|deep|depth' "{{ $(deep 'not ' 100000 1 '') }}"
render minus-100k 10 'nest|deep|depth' "{{ $(deep '-' 100000 1 '') }}"
render ternary-100k 10 'nest|deep|depth' "{{ $(deep '1 if 1 else ' 100000 1 '') }}"
render if-100k 10 'nest|deep|depth' "$(deep '{% if 1 %}' 100000 x '{% endif %}')"
render for-100k 10 'nest|deep|depth' "$(deep '{% for i in [1] %}' 100000 x '{% endfor %}')"
render filters-100k 10 'nest|deep|depth|max_template|ok' "{{ 1$(deep '|abs' 100000 '' '') }}"

# ---- YAML: alias expansion and nesting (contexts are written by test writers)
$PY - <<'EOF'
lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for i in range(1, 10):
    lines.append('a%d: &a%d [%s]' % (i, i, ','.join(['*a%d' % (i - 1)] * 10)))
open('laughs.yaml', 'w').write('arch: amd64\n' + '\n'.join(lines) + '\n')
open('deep-flow.yaml', 'w').write('arch: amd64\nx: ' + '[' * 100000 + ']' * 100000 + '\n')
open('deep-map.yaml', 'w').write('arch: amd64\nx: ' + '{a: ' * 100000 + '1' + '}' * 100000 + '\n')
open('deep-block.yaml', 'w').write('arch: amd64\n' + ''.join(' ' * i + 'a:\n' for i in range(3000)))
open('deep-seq.yaml', 'w').write('arch: amd64\nx:\n' + ''.join(' ' * i + '- \n' for i in range(3000)))
# a whole job whose context aliases the expansion
open('laughs-job.yaml', 'w').write('defs:\n' + ''.join('  ' + l + '\n' for l in lines) +
                                   'context:\n  arch: amd64\n  x: *a9\n')
open('arch.yaml', 'w').write('arch: amd64\n')
EOF
expect yaml-laughs 10 'nodes|alias' compose -c laughs.yaml dict
expect yaml-laughs-job 10 'nodes|alias' compose -j laughs-job.yaml dict
expect yaml-deep-flow 10 'nested deeper|depth' compose -c deep-flow.yaml dict
expect yaml-deep-map 10 'nested deeper|depth' compose -c deep-map.yaml dict
expect yaml-deep-block 10 'nested deeper|depth' compose -c deep-block.yaml dict
expect yaml-deep-seq 10 'nested deeper|depth' compose -c deep-seq.yaml dict
expect env-laughs 10 'nodes|alias' compose -c arch.yaml -e laughs.yaml dict

# ---- breadth: many keys or items must not be quadratic (a test writer's context)
$PY - <<'EOF'
open('wide-map.yaml', 'w').write('arch: amd64\n' + ''.join('k%d: %d\n' % (i, i) for i in range(200000)))
open('wide-extra.yaml', 'w').write('arch: amd64\nextra_options:\n' + '- --no-reboot\n' * 50000)
labels = ['a', 'b', 'c', 'd', 'e', 'f']
imgs = ''
for i, l in enumerate(labels):
    nxt = labels[i + 1] if i + 1 < len(labels) else None
    url = 'http://x/' + ('{%s}' % nxt) * 1000 if nxt else 'http://x/end'
    imgs += '      %s:\n        url: "%s"\n        image_arg: "-x {%s}"\n' % (l, url, l)
open('subst-job.yaml', 'w').write('context:\n  arch: amd64\nactions:\n- deploy:\n    images:\n' + imgs)
EOF
# expect-ok NAME SECONDS CMD...: CMD either succeeds or fails cleanly, within SECONDS
expect_done() {
	name=$1 secs=$2
	shift 2
	start=$(date +%s%N)
	timeout "$secs" "$LAVAFS" "$@" >out 2>err
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	if [ $rc -le 1 ] && ! grep -q Sanitizer err; then
		printf 'ok    %-22s %5d ms  exit %d %s\n' "$name" "$ms" $rc "$(grep -m1 'lavafs:' err | cut -c1-120)"
	elif case " $LIMITS_KNOWN " in *" $name "*) true ;; *) false ;; esac &&
		[ "${LIMITS_STRICT:-0}" != 1 ]; then
		printf 'KNOWN %-22s exit %d after %d ms\n' "$name" $rc "$ms"
		known=$((known + 1))
	else
		printf 'FAIL  %-22s exit %d after %d ms %s\n' "$name" $rc "$ms" "$(grep -m1 -E 'ERROR|lavafs:' err | cut -c1-120)"
		fail=1
	fi
}
expect_done wide-context 20 compose -c wide-map.yaml dict
expect_done wide-extra-options 20 compose -c wide-extra.yaml dict
mkdir -p o
expect image-subst-blowup 20 'image_arg of a is longer than' compose -j subst-job.yaml -o o dict

# ---- the size of a file the CLI reads, and of one template
truncate -s 65M big.yaml
expect file-65M 10 '64 MiB' compose -c big.yaml dict
$PY -c "open('tpl/big.jinja2','w').write('x' * (5 << 20))"
expect template-5M 10 'max_template' render -t tpl tpl/big.jinja2
render include-5M 10 'max_template' "{% include 'big.jinja2' %}"
$PY -c "open('bigdict','w').write(\"{% extends 'qemu.jinja2' %}\n\" + '{# ' + 'x' * (5 << 20) + ' #}')"
expect dictionary-5M 10 'max_template' compose bigdict

# ---- the size of any file written through the mount (max_file_size, max_overlay_file_size)
mount_sizes() {
	. "$TOP/tests/mountlib.sh"
	lf_setup
	lf_mount -o max_file_size=64K,max_overlay_file_size=1M
	lf_device qemu01
	local D=$MNT/devices/qemu01 f before err
	mkdir -p "$MNT/devices/qemu01/overlay"
	echo 'x' >"$D/tags" && echo 'x' >"$D/overlay/small" || fail "small writes"
	head -c 100000 /dev/zero | tr '\0' '#' >"$LF_TMP/big"
	head -c 2000000 /dev/zero >"$LF_TMP/huge"
	for f in "$D/dictionary" "$D/context" "$D/tags" "$MNT/env.yaml" \
		"$MNT/device-types/qemu.jinja2" "$MNT/health-checks/qemu.yaml" \
		"$MNT/device-types/new.jinja2" "$D/overlay/small"; do
		before=$({ md5sum <"$f"; } 2>/dev/null)
		src=$LF_TMP/big
		case $f in */overlay/*) src=$LF_TMP/huge ;; esac
		err=$(timeout 20 cp "$src" "$f" 2>&1) && fail "an oversized ${f#$MNT/} was accepted"
		case $err in *"File too large"* | *"No space"*) ;; *) fail "${f#$MNT/}: not EFBIG: $err" ;; esac
		# a new file may stay behind empty (its create succeeded), an existing one is unchanged
		[ "$({ md5sum <"$f"; } 2>/dev/null)" = "$before" ] || { [ -z "$before" ] && [ ! -s "$f" ]; } ||
			fail "${f#$MNT/} changed by a refused write"
		before=$({ md5sum <"$f"; } 2>/dev/null)
		# a write far past the end (sparse) is refused the same way
		err=$(timeout 20 dd if=/dev/zero of="$f" bs=1 count=1 seek=$((1 << 40)) conv=notrunc status=none 2>&1) &&
			fail "a write at 1 TiB into ${f#$MNT/} was accepted"
		[ "$({ md5sum <"$f"; } 2>/dev/null)" = "$before" ] || fail "${f#$MNT/} changed by a refused sparse write"
		timeout 20 truncate -s 10M "$f" 2>/dev/null && fail "truncate of ${f#$MNT/} to 10M was accepted"
	done
	[ "$(head -n1 "$D/status")" != "" ] || fail "status unreadable after the refused writes"
	lf_umount
	trap - EXIT
	rm -rf "$LF_TMP"
	echo "ok    mount-file-sizes           every input, template and overlay file refuses growth past its limit"
}
if [ "$(id -u)" = 0 ] || [ -w /dev/fuse ]; then
	( mount_sizes ) || fail=1
fi

echo "t-limits: $([ $fail = 0 ] && echo ok || echo FAILED)${known:+, $known known failure(s)}"
exit $fail
