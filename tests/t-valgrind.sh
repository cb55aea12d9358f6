#!/bin/bash
# Valgrind over the optimized (non-sanitized) build: every cmocka unit binary, and `lavafs
# render`/`compose` on a few real inputs (plain contexts, a job, env.yaml, errors). No invalid
# access, no use of uninitialised memory, no definite or indirect leak.
# The binaries are built in build/ (`make -j2 all unit`), as the optimized build of `make check`.
set -u
: "${TOP:?}"
cd "$TOP"
command -v valgrind >/dev/null || { echo "t-valgrind: valgrind is not installed" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
if ! make --no-print-directory -s -j2 all unit >"$T/build.log" 2>&1; then
	cat "$T/build.log" >&2
	exit 1
fi
export LAVAFS_HOST_ARCH=x86_64 LAVAFS_KVM=0 LAVAFS_TEMPLATES=$TOP/templates
VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-origins=yes"
fail=0
n=0

# vg NAME EXPECTED-EXIT CMD...: runs CMD under valgrind; 99 means valgrind found something
vg() {
	local name=$1 want=$2 rc
	shift 2
	n=$((n + 1))
	timeout 600 $VG "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc = 99 ] || grep -q '^==[0-9]*== ' "$T/err"; then
		echo "FAIL  $name: valgrind reports" >&2
		grep '^==[0-9]*==' "$T/err" | head -40 >&2
		fail=1
	elif [ "$want" != any ] && [ $rc != "$want" ]; then
		echo "FAIL  $name: exit $rc, expected $want" >&2
		tail -5 "$T/err" >&2
		fail=1
	else
		echo "ok    $name"
	fi
}

for t in build/tests/test_*; do
	[ -x "$t" ] || continue
	vg "unit/$(basename "$t")" 0 "$t"
done

L=build/lavafs
C=tests/cases
vg "render qemu.jinja2" 0 $L render -t templates templates/qemu.jinja2 -c $C/ctx-extra-quoted/context.yaml
for c in seed-vexpress-a9 ctx-extra-quoted ctx-mac-addr env-overrides-removes arch-aarch64; do
	args=(-o "$T/$c")
	[ -f $C/$c/context.yaml ] && args+=(-c $C/$c/context.yaml)
	[ -f $C/$c/job.yaml ] && args+=(-j $C/$c/job.yaml)
	[ -f $C/$c/env.yaml ] && args+=(-e $C/$c/env.yaml)
	vg "compose $c" 0 $L compose "${args[@]}" $C/$c/dictionary
done
for c in err-template-syntax err-extra-unbalanced-quote err-yaml-invalid err-job-needs-tag; do
	args=()
	[ -f $C/$c/context.yaml ] && args+=(-c $C/$c/context.yaml)
	[ -f $C/$c/job.yaml ] && args+=(-j $C/$c/job.yaml)
	vg "compose $c (error)" 1 $L compose "${args[@]}" $C/$c/dictionary
done
printf "{%% macro f(n) %%}{{ f(n + 1) }}{%% endmacro %%}{{ f(0) }}" >"$T/rec.jinja2"
vg "render recursion limit" 1 $L render "$T/rec.jinja2"
printf "{%% for i in range(100000) %%}{%% for j in range(100) %%}{%% endfor %%}{%% endfor %%}" >"$T/loop.jinja2"
vg "render iteration limit" 1 $L render "$T/loop.jinja2"
vg "lavafs --help" 0 $L --help
vg "lavafs compose (usage)" 2 $L compose
# The daemon itself under memcheck: mount, compose through writes of every input kind,
# an error, overlay files, unmount. Its log must stay empty and its exit status 0.
vg_mount() {
	LAVAFS=$TOP/build/lavafs
	. "$TOP/tests/mountlib.sh"
	lf_setup
	local vglog=$LF_TMP/vg.log D
	printf '#!/bin/sh\nexec %s --log-file=%s %s "$@"\n' "$VG" "$vglog" "$TOP/build/lavafs" >"$LF_TMP/vg-lavafs"
	chmod +x "$LF_TMP/vg-lavafs"
	LAVAFS=$LF_TMP/vg-lavafs
	lf_mount
	lf_device qemu01 52:54:00:12:34:59
	D=$MNT/devices/qemu01
	grep -q qemu-system "$D/cmdline" || fail "no composition under valgrind"
	printf 'arch: arm64\nextra_options: ["-smp 2"]\n' >"$D/context"
	printf 'context: {arch: amd64}\nactions: [{test: {}}]\n' >"$D/job.yaml"
	cat "$D/explain" "$D/env" "$D/device.yaml" "$D/health-check" >/dev/null
	printf 'overrides: {A: b}\n' >"$MNT/env.yaml"
	echo '{% broken' >"$D/dictionary"
	case $(head -n 1 "$D/status") in error*) ;; *) fail "a broken dictionary composed" ;; esac
	mkdir "$D/overlay/t" && echo hi >"$D/overlay/t/f" && mv "$D/overlay/t/f" "$D/overlay/g" &&
		rm -r "$D/overlay/t" "$D/overlay/g" || fail "overlay operations"
	rmdir "$D" 2>/dev/null || rm -rf "$D"
	lf_umount
	[ ! -s "$vglog" ] || { cat "$vglog" >&2; fail "valgrind reports in the daemon"; }
}
n=$((n + 1))
if (vg_mount) >"$T/mount.log" 2>&1; then
	echo "ok    the daemon (mount, writes, errors, overlay, unmount)"
else
	echo "FAIL  the daemon under valgrind:" >&2
	tail -40 "$T/mount.log" >&2
	fail=1
fi
echo "t-valgrind: $n runs, $([ $fail = 0 ] && echo clean || echo FAILED)"
exit $fail
