#!/bin/bash
# Permissions as non-root users through -o allow_other: a test writer (writer_gid) can write
# context, job.yaml, tags and the overlay but not a dictionary, a template or env.yaml, and
# cannot create or remove devices; an admin (admin_gid) can; others can only read; outputs
# are read-only for everyone.
set -u
. "$TOP/tests/mountlib.sh"
command -v setpriv >/dev/null || { echo "skip: no setpriv"; exit 0; }
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root to switch users"; exit 0; }
ADMIN_GID=4     # adm
WRITER_GID=100  # users
OTHER_GID=65534 # nogroup
lf_setup
lf_mount -o allow_other,admin_gid=$ADMIN_GID,writer_gid=$WRITER_GID
lf_device qemu01
D=$MNT/devices/qemu01

as() { # GID COMMAND: run a shell command as nobody with only that group
	local gid=$1
	shift
	setpriv --reuid=65534 --regid="$gid" --clear-groups sh -c "$*" 2>/dev/null
}

# what the tree shows
assert_eq "0:$ADMIN_GID 664" "$(stat -c '%u:%g %a' "$D/dictionary")" "dictionary owner and mode"
assert_eq "0:$WRITER_GID 664" "$(stat -c '%u:%g %a' "$D/context")" "context owner and mode"
assert_eq "0:$WRITER_GID 775" "$(stat -c '%u:%g %a' "$D")" "device dir owner and mode"
assert_eq "0:$ADMIN_GID 775" "$(stat -c '%u:%g %a' "$MNT/devices")" "devices/ owner and mode"
assert_eq "0:$ADMIN_GID 664" "$(stat -c '%u:%g %a' "$MNT/env.yaml")" "env.yaml owner and mode"
assert_eq "0:$ADMIN_GID 664" "$(stat -c '%u:%g %a' "$MNT/device-types/qemu.jinja2")" "template owner and mode"
assert_eq 444 "$(stat -c %a "$D/status")" "status mode"

# a test writer
as $WRITER_GID "echo 'arch: amd64' > '$D/context'" || fail "writer cannot write context"
as $WRITER_GID "echo 'kvm' > '$D/tags'" || fail "writer cannot write tags"
as $WRITER_GID "mkdir '$D/overlay/t' && echo hi > '$D/overlay/t/f'" || fail "writer cannot fill the overlay"
assert_eq "65534:$WRITER_GID" "$(stat -c %u:%g "$D/overlay/t/f")" "owner of a writer's overlay file"
as $WRITER_GID "echo x > '$D/.context.swp' && rm '$D/.context.swp'" || fail "writer cannot make scratch files"
as $WRITER_GID "sed -i 's/amd64/arm64/' '$D/context'" || fail "writer cannot sed -i context"
assert_eq 'arch: arm64' "$(cat "$D/context")" "context after the writer's sed -i"
as $WRITER_GID "echo x >> '$D/dictionary'" && fail "writer wrote the dictionary"
as $WRITER_GID "rm -f '$D/dictionary'" && fail "writer removed the dictionary"
as $WRITER_GID "echo x > '$D/dict.new' && mv -f '$D/dict.new' '$D/dictionary'" && fail "writer replaced the dictionary by rename"
as $WRITER_GID "mv '$D/dictionary' '$D/dict.old'" && fail "writer renamed the dictionary away"
rm -f "$D/dict.new"
grep -q "extends 'qemu.jinja2'" "$D/dictionary" || fail "dictionary changed"
as $WRITER_GID "echo x >> '$MNT/env.yaml'" && fail "writer wrote env.yaml"
as $WRITER_GID "echo x >> '$MNT/device-types/qemu.jinja2'" && fail "writer wrote a template"
as $WRITER_GID "echo x > '$MNT/device-types/new.jinja2'" && fail "writer created a template"
as $WRITER_GID "mkdir '$MNT/devices/qemu09'" && fail "writer created a device"
as $WRITER_GID "echo x > '$D/status'" && fail "writer wrote status"

# an admin
as $ADMIN_GID "mkdir '$MNT/devices/qemu02'" || fail "admin cannot create a device"
as $ADMIN_GID "printf \"{%% extends 'qemu.jinja2' %%}\\n\" > '$MNT/devices/qemu02/dictionary'" || fail "admin cannot write a dictionary"
as $ADMIN_GID "echo '# x' > '$MNT/device-types/extra.jinja2'" || fail "admin cannot write a template"
as $ADMIN_GID "echo 'purge: false' > '$MNT/env.yaml'" || fail "admin cannot write env.yaml"
as $ADMIN_GID "rmdir '$MNT/devices/qemu02'" || fail "admin cannot remove a device (with its inputs)"
[ -e "$MNT/devices/qemu02" ] && fail "device still there"

# anybody else reads and nothing more
as $OTHER_GID "cat '$D/status' '$D/context' >/dev/null" || fail "others cannot read"
as $OTHER_GID "echo 'arch: amd64' > '$D/context'" && fail "others wrote context"
as $OTHER_GID "echo x > '$D/overlay/x'" && fail "others wrote the overlay"

lf_umount
echo ok
