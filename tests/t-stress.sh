#!/bin/bash
# Concurrency, two ways:
# 1. Through the mount (the sanitizer build): writers replace the contexts of several devices,
#    many readers read argv, and an admin keeps editing the device-type template (every device
#    recomposes) for STRESS_SECONDS (default 25). Every argv read must be the composition of
#    one complete context that was written (all expected argvs are computed beforehand with
#    `lavafs compose`); nothing may hang (every file operation has a timeout: a timeout is a
#    deadlock); the daemon must exit cleanly afterwards.
#    The same storm then runs for STRESS_TSAN_SECONDS (default 8) with the daemon built
#    with ThreadSanitizer (`make tsan`): a data race makes its exit status fail. In between,
#    the fuzz seeds (and inputs a fuzz run found) are written as one device's inputs: the
#    daemon must survive each with a readable status.
# 2. The core under ThreadSanitizer: tests/stress/stress_core.c, many threads composing with
#    one shared jinja_env while templates are replaced and invalidated.
set -u
. "$TOP/tests/mountlib.sh"
SECS=${STRESS_SECONDS:-25}
TSAN_SECS=${STRESS_TSAN_SECONDS:-8}
DEVS="s1 s2 s3"
NREADERS=6
lf_setup
R=$LF_TMP/res
mkdir -p "$R"

# ---- the context variants and what each device must show for each
mkdir -p "$LF_TMP/ctx"
printf 'arch: amd64\n' >"$LF_TMP/ctx/0"
printf 'arch: amd64\nno_kvm: true\nextra_options: ["-smp 2"]\n' >"$LF_TMP/ctx/1"
printf 'arch: arm64\nmachine: virt\ncpu: cortex-a57\n' >"$LF_TMP/ctx/2"
printf 'arch: i386\nnetdevice: tap\nmodel: e1000\nextra_options: ["-append \\"console=ttyS0 root=/dev/vda\\""]\n' >"$LF_TMP/ctx/3"
# padding makes a context write span several write(2) calls
for i in 0 1 2 3; do head -c 6000 /dev/zero | tr '\0' '#' >>"$LF_TMP/ctx/$i"; echo >>"$LF_TMP/ctx/$i"; done

# storm LABEL SECONDS: a fresh store, the writers, readers and template edits, the checks
storm() {
	local SECS=$2
	rm -rf "$STORE" "$R" "$LF_TMP"/expected-* "$LF_TMP"/exp-* "$LF_TMP/stop"
	mkdir -p "$R"
	lf_mount
	n=0
	for d in $DEVS; do
		n=$((n + 1))
		lf_device "$d" "52:54:00:00:00:0$n"
		have_composition "$d" || fail "the mount does not compose"
		for i in 0 1 2 3; do
			"$LAVAFS" compose -t "$MNT/device-types" "$MNT/devices/$d/dictionary" -c "$LF_TMP/ctx/$i" \
				-o "$LF_TMP/exp-$d-$i" 2>/dev/null || fail "compose $d with context $i"
			md5sum <"$LF_TMP/exp-$d-$i/argv" | cut -c1-32 >>"$LF_TMP/expected-$d"
		done
		[ "$(sort -u "$LF_TMP/expected-$d" | wc -l)" -eq 4 ] || fail "the context variants do not give 4 different argvs"
	done

	stop=$LF_TMP/stop
	writer() { # DEV: replaces the device's context with random variants
		local d=$1 k=0
		while [ ! -e "$stop" ]; do
			timeout 20 cp "$LF_TMP/ctx/$((RANDOM % 4))" "$MNT/devices/$d/context" ||
				echo "writer $d: cp failed or hung ($?)" >>"$R/errors"
			k=$((k + 1))
		done
		echo "$k" >"$R/writes-$d"
	}
	reader() { # ID: reads argv of random devices and checks each against the expected set
		local id=$1 k=0 d sum
		set -- $DEVS
		while [ ! -e "$stop" ]; do
			d=${*:$((RANDOM % $# + 1)):1}
			sum=$(timeout 20 cat "$MNT/devices/$d/argv" | md5sum | cut -c1-32)
			[ "${PIPESTATUS[0]}" = 0 ] || echo "reader $id: reading $d/argv failed or hung" >>"$R/errors"
			grep -qx "$sum" "$LF_TMP/expected-$d" ||
				echo "reader $id: $d/argv is no complete composition ($(timeout 5 head -n1 "$MNT/devices/$d/status"))" >>"$R/errors"
			k=$((k + 1))
		done
		echo "$k" >"$R/reads-$id"
	}
	admin() { # edits qemu.jinja2 (a comment: the argvs stay the same), every device recomposes
		local k=0 orig=$LF_TMP/qemu.orig
		cp "$MNT/device-types/qemu.jinja2" "$orig"
		while [ ! -e "$stop" ]; do
			k=$((k + 1))
			{ cat "$orig"; echo "{# edit $k #}"; } >"$LF_TMP/qemu.new"
			timeout 20 cp "$LF_TMP/qemu.new" "$MNT/device-types/qemu.jinja2" ||
				echo "admin: template write failed or hung" >>"$R/errors"
			sleep 0.2
		done
		echo "$k" >"$R/edits"
	}

	pids=""
	for d in $DEVS; do writer "$d" & pids="$pids $!"; done
	for i in $(seq $NREADERS); do reader "$i" & pids="$pids $!"; done
	admin & pids="$pids $!"
	sleep "$SECS"
	touch "$stop"
	for p in $pids; do
		# a worker stuck past its own timeouts means a hung daemon
		timeout 60 tail --pid="$p" -f /dev/null || fail "a worker did not stop: deadlock?"
	done
	if [ -s "$R/errors" ]; then
		sort "$R/errors" | uniq -c | sort -rn | head -20 >&2
		fail "$(wc -l <"$R/errors") bad reads or writes"
	fi
	writes=$(cat "$R"/writes-* | awk '{ s += $1 } END { print s + 0 }')
	reads=$(cat "$R"/reads-* | awk '{ s += $1 } END { print s + 0 }')
	edits=$(cat "$R/edits")
	[ "$writes" -gt 10 ] && [ "$reads" -gt 50 ] && [ "$edits" -gt 3 ] ||
		fail "too little happened: $writes writes, $reads reads, $edits template edits"

	# after the storm, each device shows the composition of its stored context
	for d in $DEVS; do
		for i in 0 1 2 3; do cmp -s "$LF_TMP/ctx/$i" "$MNT/devices/$d/context" && break; done
		cmp -s "$LF_TMP/exp-$d-$i/argv" "$MNT/devices/$d/argv" || fail "$d: argv is not that of its context $i"
	done
	lf_umount
	echo "t-stress: mount ($1): $writes context writes, $reads argv reads, $edits template edits in ${SECS}s, all consistent"
}

storm asan "$SECS"

# ---- garbage through the mount: the fuzz seeds (dictionary, context, job, env.yaml parts)
# written as a device's inputs. Every write must leave the daemon alive and a status readable
# that says ready or error; the sanitizer build reports any memory error at unmount.
garbage() {
	rm -rf "$STORE"
	lf_mount
	lf_device g1
	local D=$MNT/devices/g1 f k=0 st
	# plus up to 150 inputs the fuzzer found, when a fuzz run left some in build/fuzz/corpus
	local found=""
	[ -d "$TOP/build/fuzz/corpus/compose" ] &&
		found=$(find "$TOP/build/fuzz/corpus/compose" -type f | shuf -n 150)
	for f in "$TOP"/tests/fuzz/corpus/compose/* "$TOP"/tests/fuzz/corpus/job/* $found; do
		k=$((k + 1))
		case $f in
		*/corpus/job/*)
			tr '\0' '\n' <"$f" | sed -n '1,/^{%/p' | grep -v '^{%' >"$LF_TMP/g.job"
			timeout 20 cp "$LF_TMP/g.job" "$D/job.yaml" 2>/dev/null
			;;
		*)
			# part 1 (up to the first NUL) is the dictionary, part 2 the context
			awk 'BEGIN { RS = "\0" } NR == 1 { printf "%s", $0 > "'"$LF_TMP/g.dict"'" }
			     NR == 2 { printf "%s", $0 > "'"$LF_TMP/g.ctx"'" }' "$f"
			[ -f "$LF_TMP/g.ctx" ] || : >"$LF_TMP/g.ctx"
			timeout 20 cp "$LF_TMP/g.dict" "$D/dictionary" 2>/dev/null
			timeout 20 cp "$LF_TMP/g.ctx" "$D/context" 2>/dev/null
			rm -f "$LF_TMP/g.dict" "$LF_TMP/g.ctx"
			;;
		esac
		kill -0 "$LF_PID" 2>/dev/null || fail "the daemon died on $f"
		st=$(timeout 20 head -n 1 "$D/status") || fail "status unreadable after $f"
		case $st in ready* | error* | warning*) ;; *) fail "status after $f: '$st'" ;; esac
	done
	lf_umount
	echo "t-stress: $k fuzz seeds written as device inputs through the mount, daemon fine"
}
garbage

# ---- the same storm with the daemon under ThreadSanitizer (a race report fails its exit)
cd "$TOP"
make --no-print-directory -s tsan >"$LF_TMP/tsan-build.log" 2>&1 || { cat "$LF_TMP/tsan-build.log" >&2; fail "make tsan"; }
ASAN_LAVAFS=$LAVAFS
LAVAFS=$TOP/build/tsan/lavafs
TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1" storm tsan "$TSAN_SECS"
LAVAFS=$ASAN_LAVAFS

# ---- ThreadSanitizer over the core
TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
	timeout $((TSAN_SECS + 120)) build/tsan/stress_core templates "$TSAN_SECS" 6 >"$LF_TMP/tsan.log" 2>&1
rc=$?
cat "$LF_TMP/tsan.log" | grep -v '^$' | head -40
[ $rc -eq 0 ] || fail "stress_core under TSan: exit $rc"
grep -q 'all as expected' "$LF_TMP/tsan.log" || fail "stress_core did not finish"
