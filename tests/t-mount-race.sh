#!/bin/bash
# Two writers race on one device while readers read argv: every read of argv is one complete
# composition (of context A or of context B), never a mix; the last complete write wins and
# argv matches it. The contexts are written in many small write(2)s to give a mix a chance.
set -u
. "$TOP/tests/mountlib.sh"
lf_setup
lf_mount
lf_device qemu01
D=$MNT/devices/qemu01
have_composition qemu01 || { echo "skip: composition not built"; lf_umount; exit 0; }

# two contexts of some size: a long comment, then different settings
pad=$(head -c 6000 /dev/zero | tr '\0' '#')
printf '%s\narch: amd64\nmemory: 1024\n' "$pad" >"$LF_TMP/A"
printf '%s\narch: arm64\nmemory: 1024\n' "$pad" >"$LF_TMP/B"
cp "$LF_TMP/A" "$D/context" && cp "$D/argv" "$LF_TMP/argv.A" || fail "context A"
cp "$LF_TMP/B" "$D/context" && cp "$D/argv" "$LF_TMP/argv.B" || fail "context B"
cmp -s "$LF_TMP/argv.A" "$LF_TMP/argv.B" && fail "A and B compose alike"

writer() { # FILE COUNT
	local i
	for i in $(seq 1 "$2"); do
		dd if="$1" of="$D/context" bs=512 status=none || { echo "write failed" >"$LF_TMP/werr"; return; }
	done
}
reader() { # N
	local i
	for i in $(seq 1 "$1"); do
		cat "$D/argv" >"$LF_TMP/r$$" 2>/dev/null || continue
		if ! cmp -s "$LF_TMP/r$$" "$LF_TMP/argv.A" && ! cmp -s "$LF_TMP/r$$" "$LF_TMP/argv.B"; then
			cp "$LF_TMP/r$$" "$LF_TMP/torn"
			return
		fi
	done
}
reader_ctx() { # N: context is always one of the two complete files
	local i
	for i in $(seq 1 "$1"); do
		cat "$D/context" >"$LF_TMP/c$$" 2>/dev/null || continue
		if ! cmp -s "$LF_TMP/c$$" "$LF_TMP/A" && ! cmp -s "$LF_TMP/c$$" "$LF_TMP/B"; then
			cp "$LF_TMP/c$$" "$LF_TMP/mixed"
			return
		fi
	done
}

export -f writer reader reader_ctx
export D LF_TMP
timeout 50 bash -c 'writer "$LF_TMP/A" 150' &
w1=$!
timeout 50 bash -c 'writer "$LF_TMP/B" 150' &
w2=$!
timeout 50 bash -c 'reader 300' &
r1=$!
timeout 50 bash -c 'reader 300' &
r2=$!
timeout 50 bash -c 'reader_ctx 300' &
r3=$!
wait $w1 $w2 $r1 $r2 $r3
[ -e "$LF_TMP/werr" ] && fail "a writer's write failed"
[ -e "$LF_TMP/torn" ] && fail "a torn argv: $(tr '\0' ' ' <"$LF_TMP/torn")"
[ -e "$LF_TMP/mixed" ] && fail "a mixed context was read"

# the last complete write wins: argv matches the context that is there now
if cmp -s "$D/context" "$LF_TMP/A"; then
	cmp -s "$D/argv" "$LF_TMP/argv.A" || fail "argv does not match context A"
elif cmp -s "$D/context" "$LF_TMP/B"; then
	cmp -s "$D/argv" "$LF_TMP/argv.B" || fail "argv does not match context B"
else
	fail "context is neither A nor B"
fi
assert_eq ready "$(status_first qemu01)" "status after the race"
lf_umount
echo ok
