#!/bin/bash
# The daemon as a system starts it: through mount(8) and mount.fuse3 with an fstab-style
# option list after the positional arguments, in the background; SIGTERM and SIGINT unmount
# cleanly; a missing /dev/fuse is said plainly.
set -u
. "$TOP/tests/mountlib.sh"
lf_setup

# SIGTERM and SIGINT: unmount and exit 0. (A background job of a script starts with SIGINT
# ignored, so the daemon is started with it set back to the default, as a terminal has it.)
for sig in TERM INT; do
	/usr/bin/python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
		"$LAVAFS" -f "$STORE" "$MNT" >>"$LF_TMP/daemon.log" 2>&1 &
	LF_PID=$!
	LF_MOUNTED=1
	lf_wait_mounted "$LF_PID"
	[ -d "$MNT/devices/qemu01" ] || lf_device qemu01
	kill -$sig "$LF_PID"
	for i in $(seq 1 100); do kill -0 "$LF_PID" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$LF_PID" 2>/dev/null && fail "lavafs still running after SIG$sig"
	rc=0
	wait "$LF_PID" || rc=$?
	LF_PID=
	LF_MOUNTED=
	assert_eq 0 "$rc" "exit status after SIG$sig"
	mountpoint -q "$MNT" && fail "still mounted after SIG$sig"
done

[ "$(id -u)" -eq 0 ] || { echo "ok (fstab forms need root)"; exit 0; }
BIN=$LF_TMP/bin
mkdir "$BIN" && ln -s "$LAVAFS" "$BIN/lavafs"

wait_gone() { # until no lavafs serves STORE (the daemon exits after the unmount)
	local i
	for i in $(seq 1 100); do
		[ -z "$(fuser "$STORE/.lavafs/lock" 2>/dev/null)" ] && return 0
		sleep 0.05
	done
	fail "the background daemon did not exit after umount"
}

# mount(8) with an fstab-style line (mount(8) runs helpers with a fixed PATH, so the binary is
# named in the source: "LAVAFS#STORE MNT fuse allow_other,writer_gid=100 0 0")
timeout 20 mount -t fuse -o allow_other,writer_gid=100 "$BIN/lavafs#$STORE" "$MNT" || fail "mount -t fuse"
LF_MOUNTED=1
lf_wait_mounted
grep -q "extends 'qemu.jinja2'" "$MNT/devices/qemu01/dictionary" || fail "store through mount(8)"
assert_eq 100 "$(stat -c %g "$MNT/devices/qemu01/context")" "writer_gid from the fstab options"
grep " $MNT " /proc/self/mounts | grep -q allow_other || grep " $MNT " /proc/self/mounts | grep -q 'fuse.lavafs' || fail "mount options"
umount "$MNT" || fail "umount"
LF_MOUNTED=
wait_gone

# "STORE MNT fuse.lavafs ..." as mount.fuse3 gets it: it runs lavafs STORE MNT -o rw,allow_other,...
PATH=$BIN:$PATH timeout 20 mount.fuse3 "$STORE" "$MNT" -t lavafs -o rw,allow_other,dev,suid,default_permissions || fail "mount.fuse3"
LF_MOUNTED=1
lf_wait_mounted
[ -f "$MNT/devices/qemu01/status" ] || fail "tree through mount.fuse3"
fusermount3 -u "$MNT" || fail "fusermount3 -u"
LF_MOUNTED=
wait_gone
# and the daemon called directly like that
timeout 20 "$LAVAFS" "$STORE" "$MNT" -o rw,allow_other,nosuid,nodev || fail "lavafs STORE MNT -o ..."
LF_MOUNTED=1
lf_wait_mounted
fusermount3 -u "$MNT"
LF_MOUNTED=
wait_gone

# no /dev/fuse (a private mount namespace with an empty /dev)
if command -v unshare >/dev/null; then
	msg=$(unshare -m sh -c "mount -t tmpfs none /dev && timeout 10 '$LAVAFS' -f '$STORE' '$MNT'" 2>&1) && fail "mounted without /dev/fuse"
	echo "$msg" | grep -q '/dev/fuse is missing' || fail "no /dev/fuse message: $msg"
fi
echo ok
