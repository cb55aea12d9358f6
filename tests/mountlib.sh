# mountlib.sh: shared helpers for the tests that really mount lavafs (tests/t-mount-*.sh).
# Source it from bash:  . "$TOP/tests/mountlib.sh"; lf_setup; lf_mount; ...
# Every mount is unmounted and every temp dir removed on exit, whatever happens.
# The daemon runs in the foreground (-f) so its exit status (sanitizer reports!) is checked.

: "${LAVAFS:?LAVAFS must point at the lavafs binary}"
: "${TOP:?TOP must point at the source tree}"
export LAVAFS_HOST_ARCH=${LAVAFS_HOST_ARCH:-x86_64}
export LAVAFS_KVM=${LAVAFS_KVM:-0}
export LAVAFS_TEMPLATES=${LAVAFS_TEMPLATES:-$TOP/templates}

LF_PID=
LF_TMP=
LF_MOUNTED=

fail() {
	echo "FAIL: $*" >&2
	[ -n "$LF_TMP" ] && [ -s "$LF_TMP/daemon.log" ] && tail -n 20 "$LF_TMP/daemon.log" >&2
	exit 1
}

lf_cleanup() {
	if [ -n "$LF_MOUNTED" ] && mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null
	fi
	if [ -n "$LF_PID" ] && kill -0 "$LF_PID" 2>/dev/null; then
		kill "$LF_PID" 2>/dev/null
		sleep 0.2
		kill -9 "$LF_PID" 2>/dev/null
	fi
	# LF_KEEP=DIR keeps the daemon's log (sanitizer reports) for a look after a failure
	[ -n "${LF_KEEP:-}" ] && [ -n "$LF_TMP" ] && cp "$LF_TMP/daemon.log" "$LF_KEEP/" 2>/dev/null
	[ -n "$LF_TMP" ] && rm -rf "$LF_TMP"
}

# lf_setup: a fresh temp dir with STORE and MNT (world-traversable, for non-root tests).
lf_setup() {
	LF_TMP=$(mktemp -d /tmp/lavafs-test.XXXXXX) || exit 1
	chmod 755 "$LF_TMP"
	STORE=$LF_TMP/store
	MNT=$LF_TMP/mnt
	mkdir "$MNT"
	trap lf_cleanup EXIT
	trap 'exit 1' INT TERM
}

# lf_wait_mounted [PID]: until MNT is a mount point (10 s at most).
lf_wait_mounted() {
	local i
	for i in $(seq 1 200); do
		mountpoint -q "$MNT" && return 0
		if [ -n "${1:-}" ] && ! kill -0 "$1" 2>/dev/null; then
			fail "lavafs exited before mounting"
		fi
		sleep 0.05
	done
	fail "lavafs did not mount $MNT within 10 s"
}

# lf_mount [FUSE options...]: lavafs -f OPTIONS STORE MNT in the background.
lf_mount() {
	"$LAVAFS" -f "$@" "$STORE" "$MNT" >>"$LF_TMP/daemon.log" 2>&1 &
	LF_PID=$!
	LF_MOUNTED=1
	lf_wait_mounted "$LF_PID"
}

# lf_umount: unmount and check that the daemon exited cleanly (status 0: no sanitizer report).
lf_umount() {
	fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
	local rc=0 i
	for i in $(seq 1 200); do
		kill -0 "$LF_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$LF_PID" 2>/dev/null && fail "lavafs did not exit after unmount"
	wait "$LF_PID" || rc=$?
	LF_PID=
	LF_MOUNTED=
	[ "$rc" -eq 0 ] || fail "lavafs exited with status $rc after unmount"
}

# lf_kill9 [PID...]: the daemon dies on the spot; the kernel mount is left dead and cleared.
# The PIDs (writer loops) are stopped with their children after the daemon dies and before
# the mount is cleared: once cleared, MNT is the bare mountpoint directory, and a writer still
# running would create MNT/env.yaml there and take that write for one the daemon acknowledged.
lf_kill9() {
	local p
	kill -9 "$LF_PID"
	wait "$LF_PID" 2>/dev/null
	LF_PID=
	for p in "$@"; do
		kill -STOP "$p" 2>/dev/null # forks no more children while they are killed
		pkill -9 -P "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	LF_MOUNTED=
}

# lf_device NAME [MAC]: a device with the minimal dictionary (and MAC) and context arch amd64.
lf_device() {
	local d=$MNT/devices/$1
	mkdir "$d" || fail "mkdir $d"
	{
		echo "{% extends 'qemu.jinja2' %}"
		echo "{% set memory = 1024 %}"
		if [ -n "${2:-}" ]; then echo "{% set mac_addr = '$2' %}"; fi
	} >"$d/dictionary" || fail "write $d/dictionary"
	echo 'arch: amd64' >"$d/context" || fail "write $d/context"
}

assert_eq() { # EXPECTED ACTUAL MESSAGE
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

assert_fails() { # MESSAGE COMMAND...
	local msg=$1
	shift
	if "$@" 2>/dev/null; then fail "$msg: '$*' succeeded"; fi
	return 0
}

# status_first DEV: the first line of the device's status.
status_first() { head -n 1 "$MNT/devices/$1/status"; }

# have_composition: true when compose_run works in this build (not the placeholder).
have_composition() {
	! grep -q 'not built yet' "$MNT/devices/$1/status"
}

# argv_words FILE: the NUL-separated items as one line.
argv_words() { tr '\0' ' ' <"$1"; }
