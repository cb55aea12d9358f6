#!/bin/bash
# kill -9 of the daemon in the middle of writes: after a restart every file holds either its
# old or its new complete content, no temp file is left, and the outputs are what a fresh
# composition of the stored inputs gives (the same as before the crash for untouched devices).
set -u
. "$TOP/tests/mountlib.sh"
lf_setup
lf_mount
for i in 1 2 3; do lf_device qemu0$i 52:54:00:12:34:5$i; done
composed=0
have_composition qemu01 && composed=1

pad=$(head -c 20000 /dev/zero | tr '\0' '#')
printf '%s\narch: amd64\n' "$pad" >"$LF_TMP/A"
printf '%s\narch: arm64\n' "$pad" >"$LF_TMP/B"
head -c 300000 /dev/urandom >"$LF_TMP/blob1"
head -c 300000 /dev/urandom >"$LF_TMP/blob2"
cp "$LF_TMP/A" "$MNT/devices/qemu01/context"
cp "$LF_TMP/blob1" "$MNT/devices/qemu01/overlay/blob"
untouched=$(cd "$MNT/devices/qemu02" && cat status; md5sum argv cmdline env explain 2>/dev/null)

for round in 1 2 3; do
	# writers in small chunks, so a kill lands inside a write more often than not
	(
		while :; do
			dd if="$LF_TMP/A" of="$MNT/devices/qemu01/context" bs=1000 status=none 2>/dev/null
			dd if="$LF_TMP/blob2" of="$MNT/devices/qemu01/overlay/blob" bs=4096 status=none 2>/dev/null
			dd if="$LF_TMP/B" of="$MNT/devices/qemu01/context" bs=1000 status=none 2>/dev/null
			dd if="$LF_TMP/blob1" of="$MNT/devices/qemu01/overlay/blob" bs=4096 status=none 2>/dev/null
		done
	) &
	wpid=$!
	sleep 0.$((RANDOM % 7 + 2))
	lf_kill9 "$wpid"

	# the store itself, before any daemon looks at it
	c=$STORE/devices/qemu01/context
	cmp -s "$c" "$LF_TMP/A" || cmp -s "$c" "$LF_TMP/B" || fail "round $round: context is neither old nor new ($(wc -c <"$c") bytes)"
	b=$STORE/devices/qemu01/overlay/blob
	cmp -s "$b" "$LF_TMP/blob1" || cmp -s "$b" "$LF_TMP/blob2" || fail "round $round: overlay blob torn"

	lf_mount
	[ -z "$(ls -A "$STORE/.lavafs/tmp")" ] || fail "round $round: temp files left after restart"
	cmp -s "$MNT/devices/qemu01/context" "$c" || fail "round $round: context through the mount"
	assert_eq "$untouched" "$(cd "$MNT/devices/qemu02" && cat status; md5sum argv cmdline env explain 2>/dev/null)" "round $round: an untouched device"
	if [ "$composed" = 1 ]; then
		expected=$("$LAVAFS" compose -t "$STORE/device-types" "$STORE/devices/qemu01/dictionary" -c "$c" 2>/dev/null)
		assert_eq "$expected" "$(cat "$MNT/devices/qemu01/cmdline")" "round $round: cmdline recomposed at start-up"
	fi
done
lf_umount
echo ok
