#!/bin/bash
# Writes compose: every output of a device, the same argv as `lavafs compose`, a failed
# composition (status error, no stale outputs, an open argv keeps its generation), MAC and
# health-check warnings across the tree, env.yaml, and a template edit that recomposes only
# the devices that use it.
set -u
. "$TOP/tests/mountlib.sh"
lf_setup
lf_mount
lf_device qemu01 52:54:00:12:34:58
D=$MNT/devices/qemu01
have_composition qemu01 || { echo "skip: composition not built"; lf_umount; exit 0; }

assert_eq ready "$(status_first qemu01)" "status of a good device"
for f in argv cmdline env device.yaml explain health-check; do
	[ -s "$D/$f" ] || fail "$f missing or empty"
done
grep -q 'warning: .*KVM' "$D/status" || fail "no KVM warning with LAVAFS_KVM=0: $(cat "$D/status")"
cmp -s "$MNT/health-checks/qemu.yaml" "$D/health-check" || fail "health-check is not health-checks/qemu.yaml"
assert_eq "$(tr '\0' '\n' <"$D/argv" | wc -l)" "$(wc -l <"$D/explain")" "one explain line per argv item"
tr '\0' '\n' <"$D/env" | grep -q '^PATH=' || fail "env lacks PATH"

# the mount composes what the CLI composes
expected=$("$LAVAFS" compose -t "$STORE/device-types" "$STORE/devices/qemu01/dictionary" -c "$STORE/devices/qemu01/context" 2>"$LF_TMP/compose.err") ||
	fail "lavafs compose: $(cat "$LF_TMP/compose.err")"
assert_eq "$expected" "$(cat "$D/cmdline")" "cmdline vs lavafs compose"

# every write is visible at once, and a new generation is a new inode
ino=$(stat -c %i "$D/argv")
for i in 1 2 3 4 5 6 7 8 9 10; do
	echo 'arch: arm64' >"$D/context" && argv_words "$D/argv" | grep -q '^qemu-system-aarch64 ' || fail "arm64 argv ($i)"
	echo 'arch: amd64' >"$D/context" && argv_words "$D/argv" | grep -q '^qemu-system-x86_64 ' || fail "amd64 argv ($i)"
done
[ "$ino" != "$(stat -c %i "$D/argv")" ] || fail "argv kept its inode over new compositions"
ino=$(stat -c %i "$D/argv")
echo 'arch: amd64' >"$D/context"
assert_eq "$ino" "$(stat -c %i "$D/argv")" "argv inode after a rewrite with the same result"

# a failed composition: status says why, no output of the old context survives, and a reader
# that opened argv before keeps reading its generation
good=$(argv_words "$D/argv")
exec 7<"$D/argv"
echo 'arch: [' >"$D/context"
status_first qemu01 | grep -q '^error: devices/qemu01/context' || fail "status after a bad context: $(cat "$D/status")"
for f in argv cmdline env device.yaml explain; do
	[ -e "$D/$f" ] && fail "$f survived a failed composition"
done
assert_eq "$good" "$(tr '\0' ' ' <&7)" "argv read through a descriptor opened before"
exec 7<&-
echo 'arch: amd64' >"$D/context"
assert_eq "$good" "$(argv_words "$D/argv")" "argv after the context is fixed"
echo 'arch: amd64
extra_options: ["-bogus"' >"$D/context"
status_first qemu01 | grep -q '^error:' || fail "unbalanced context is no error"
echo 'arch: amd64' >"$D/context"

# two devices with one MAC name each other; the warning goes with the second device
lf_device qemu02 52:54:00:12:34:58
grep -q 'warning: MAC 52:54:00:12:34:58 is also used by device qemu02' "$D/status" || fail "qemu01 status: $(cat "$D/status")"
grep -q 'warning: MAC 52:54:00:12:34:58 is also used by device qemu01' "$MNT/devices/qemu02/status" || fail "qemu02 status"
sed -i 's/34:58/34:59/' "$MNT/devices/qemu02/dictionary"
grep -q 'warning: MAC' "$D/status" && fail "MAC warning after the change: $(cat "$D/status")"
sed -i 's/34:59/34:58/' "$MNT/devices/qemu02/dictionary"
grep -q 'warning: MAC' "$D/status" || fail "MAC warning back"
rm "$MNT/devices/qemu02/context" "$MNT/devices/qemu02/dictionary" && rmdir "$MNT/devices/qemu02" || fail "rmdir qemu02"
grep -q 'warning: MAC' "$D/status" && fail "MAC warning after qemu02 went away"

# a device type without health check
mv "$MNT/health-checks/qemu.yaml" "$MNT/health-checks/qemu.yaml.off" || fail "rename health check"
grep -q 'warning: device-type qemu has no health check' "$D/status" || fail "no health-check warning: $(cat "$D/status")"
[ -e "$D/health-check" ] && fail "health-check shown without a health check"
mv "$MNT/health-checks/qemu.yaml.off" "$MNT/health-checks/qemu.yaml"
grep -q 'health check' "$D/status" && fail "health-check warning stays"
cmp -s "$MNT/health-checks/qemu.yaml" "$D/health-check" || fail "health-check back"

# env.yaml recomposes every device's env
printf 'overrides:\n  LAVAFS_TEST_VAR: hello\n' >"$MNT/env.yaml" || fail "write env.yaml"
tr '\0' '\n' <"$D/env" | grep -q '^LAVAFS_TEST_VAR=hello$' || fail "env.yaml override not in env"
: >"$MNT/env.yaml"
tr '\0' '\n' <"$D/env" | grep -q LAVAFS_TEST_VAR && fail "env keeps a removed override"

# a template edit recomposes exactly its dependents
printf "{%% extends 'qemu.jinja2' %%}\n{%% set memory = 512 %%}\n" >"$MNT/device-types/small.jinja2"
for i in 1 2 3 4 5 6; do
	mkdir "$MNT/devices/small$i" "$MNT/devices/plain$i" || fail "mkdir"
	printf "{%% extends 'small.jinja2' %%}\n" >"$MNT/devices/small$i/dictionary"
	printf "{%% extends 'qemu.jinja2' %%}\n" >"$MNT/devices/plain$i/dictionary"
	echo 'arch: amd64' >"$MNT/devices/small$i/context"
	echo 'arch: amd64' >"$MNT/devices/plain$i/context"
done
argv_words "$MNT/devices/small1/argv" | grep -q -- '-m 512' || fail "small1 argv: $(argv_words "$MNT/devices/small1/argv")"
before=$(for i in 1 2 3 4 5 6; do stat -c %i "$MNT/devices/plain$i/argv" "$MNT/devices/small$i/argv"; done)
sed -i 's/512/768/' "$MNT/device-types/small.jinja2" || fail "edit small.jinja2"
after=$(for i in 1 2 3 4 5 6; do stat -c %i "$MNT/devices/plain$i/argv" "$MNT/devices/small$i/argv"; done)
for i in 1 2 3 4 5 6; do
	argv_words "$MNT/devices/small$i/argv" | grep -q -- '-m 768' || fail "small$i not recomposed"
done
assert_eq "$(echo "$before" | sed -n '1~2p')" "$(echo "$after" | sed -n '1~2p')" "plain devices' argv inodes"
[ "$(echo "$before" | sed -n '2~2p')" != "$(echo "$after" | sed -n '2~2p')" ] || fail "small devices kept their argv"

# a broken template turns its dependents to errors, fixing it brings them back
echo '{% extends' >"$MNT/device-types/small.jinja2"
status_first small3 | grep -q '^error:' || fail "small3 after a broken template: $(cat "$MNT/devices/small3/status")"
assert_eq ready "$(status_first plain3)" "plain3 after small.jinja2 broke"
printf "{%% extends 'qemu.jinja2' %%}\n{%% set memory = 640 %%}\n" >"$MNT/device-types/small.jinja2"
argv_words "$MNT/devices/small3/argv" | grep -q -- '-m 640' || fail "small3 after the fix"

# outputs are the same after a restart
sums=$(cd "$MNT/devices" && md5sum */argv */cmdline */env */device.yaml */explain */status)
lf_umount
lf_mount
assert_eq "$sums" "$(cd "$MNT/devices" && md5sum */argv */cmdline */env */device.yaml */explain */status)" "outputs after a restart"
lf_umount
echo ok
