#!/bin/bash
# The tree, the store behind it and the plain file operations: a new store is seeded, devices
# come and go with mkdir/rmdir, outputs refuse writes even from root, inputs take truncate,
# O_APPEND, rename, unlink, oversized writes fail with EFBIG keeping the old content, and
# job.yaml and context replace each other.
set -u
. "$TOP/tests/mountlib.sh"
lf_setup
lf_mount

# a new store: seeded templates, health checks, empty env.yaml, no devices
for f in env.yaml device-types/qemu.jinja2 device-types/base.jinja2 health-checks/qemu.yaml; do
	[ -f "$MNT/$f" ] || fail "new store lacks $f"
done
assert_eq "" "$(cat "$MNT/env.yaml")" "env.yaml of a new store"
assert_eq "" "$(ls "$MNT/devices")" "devices of a new store"
assert_eq "device-types devices env.yaml health-checks" "$(ls "$MNT" | tr '\n' ' ' | sed 's/ $//')" "top level"
cmp -s "$TOP/templates/qemu.jinja2" "$MNT/device-types/qemu.jinja2" || fail "seeded qemu.jinja2 differs"
[ -d "$STORE/.lavafs" ] || fail "store has no .lavafs"
assert_fails "the daemon's own dir is visible" ls "$MNT/.lavafs"

# a device without dictionary says what is missing
mkdir "$MNT/devices/qemu01" || fail "mkdir device"
[ -d "$STORE/devices/qemu01/overlay" ] || fail "device not in the store"
grep -q '^error: .*dictionary is empty' "$MNT/devices/qemu01/status" || fail "status of an empty device: $(cat "$MNT/devices/qemu01/status")"
assert_fails "mkdir of an existing device" mkdir "$MNT/devices/qemu01"
assert_fails "a device named with a space" mkdir "$MNT/devices/bad name"
assert_fails "a device named with a dot first" mkdir "$MNT/devices/.hidden"
assert_fails "a directory in device-types" mkdir "$MNT/device-types/sub"
assert_fails "a plain file in devices/" touch "$MNT/devices/file"
assert_fails "a subdirectory in a device" mkdir "$MNT/devices/qemu01/sub"
assert_eq 3 "$(stat -c %h "$MNT/devices/qemu01")" "st_nlink of a device dir"
assert_eq 3 "$(stat -c %h "$MNT/devices")" "st_nlink of devices/ with one device"

D=$MNT/devices/qemu01
printf "{%% extends 'qemu.jinja2' %%}\n{%% set memory = 1024 %%}\n" >"$D/dictionary" || fail "write dictionary"
echo 'arch: amd64' >"$D/context" || fail "write context"
assert_eq 'arch: amd64' "$(cat "$D/context")" "context read back"
assert_eq 'arch: amd64' "$(cat "$STORE/devices/qemu01/context")" "context in the store"
assert_eq 12 "$(stat -c %s "$D/context")" "st_size of context"
grep -q 'dictionary is empty' "$D/status" && fail "status still says the dictionary is missing"

# outputs are read-only for everyone, root included
for f in status; do
	assert_fails "writing $f as root" sh -c "echo x > '$D/$f'"
	assert_fails "appending to $f" sh -c "echo x >> '$D/$f'"
	assert_fails "chmod $f" chmod 666 "$D/$f"
	assert_fails "touch $f" touch "$D/$f"
	assert_fails "rm $f" rm -f "$D/$f"
	assert_fails "rename onto $f" mv "$D/context" "$D/$f"
	assert_eq "r--r--r--" "$(stat -c %A "$D/$f" | cut -c2-)" "mode of $f"
done
[ -f "$D/context" ] || fail "context lost by a refused rename"
assert_fails "creating a reserved name" touch "$D/lava-guest.qcow2"
assert_fails "creating a file called overlay" sh -c "rm -rf '$D/overlay' && touch '$D/overlay'"
assert_fails "rmdir overlay" rmdir "$D/overlay"

# mtime moves with a write; truncate; O_APPEND
m1=$(stat -c %Y.%y "$D/context")
sleep 1.1
echo 'arch: amd64' >>"$D/context" || fail "append"
assert_eq 2 "$(grep -c arch "$D/context")" "appended line"
[ "$(stat -c %Y.%y "$D/context")" != "$m1" ] || fail "mtime did not change"
truncate -s 5 "$D/context" || fail "truncate"
assert_eq 'arch:' "$(cat "$D/context")" "truncated context"
assert_eq 5 "$(stat -c %s "$D/context")" "st_size after truncate"
printf 'arch: amd64\n' >"$D/context"

# job.yaml replaces context and the other way round
printf 'job_name: x\n' >"$D/job.yaml" || fail "write job.yaml"
[ -e "$D/context" ] && fail "writing job.yaml left context"
[ -e "$STORE/devices/qemu01/context" ] && fail "context still in the store"
echo 'arch: amd64' >"$D/context"
[ -e "$D/job.yaml" ] && fail "writing context left job.yaml"

# rename within a device: a scratch file over context is a write of context
echo 'arch: arm64' >"$D/ctx.new" || fail "scratch file"
mv "$D/ctx.new" "$D/context" || fail "rename over context"
assert_eq 'arch: arm64' "$(cat "$D/context")" "renamed context"
mkdir "$MNT/devices/qemu02" || fail "mkdir qemu02"
err=$(/usr/bin/python3 -c 'import os,sys; os.rename(sys.argv[1], sys.argv[2])' "$D/context" "$MNT/devices/qemu02/context" 2>&1) && fail "rename(2) across devices"
echo "$err" | grep -q 'Invalid cross-device link' || fail "rename across devices: $err"
[ -f "$D/context" ] || fail "context lost in a refused rename"
rmdir "$MNT/devices/qemu02" || fail "rmdir of a fresh device"

# oversized writes fail with EFBIG and keep the old content
head -c 2000000 /dev/zero | tr '\0' x >"$LF_TMP/big"
assert_fails "a 2 MB context" cp "$LF_TMP/big" "$D/context"
assert_eq 'arch: arm64' "$(cat "$D/context")" "context after EFBIG"
assert_fails "truncate beyond the limit" truncate -s 3M "$D/context"
assert_eq 'arch: arm64' "$(cat "$D/context")" "context after a refused truncate"
cp "$LF_TMP/big" "$D/overlay/big" || fail "a 2 MB overlay file"
cmp -s "$LF_TMP/big" "$D/overlay/big" || fail "overlay file content"

# unlink of inputs, rmdir refuses a non-empty overlay and removes a device with its inputs
rm "$D/tags" 2>/dev/null
echo kvm >"$D/tags" && rm "$D/tags" || fail "unlink tags"
assert_fails "rmdir with files in the overlay" rmdir "$D"
rm "$D/overlay/big"
echo scratch >"$D/.context.swp"
assert_fails "rmdir while someone edits" rmdir "$D"
rm "$D/.context.swp"
rmdir "$D" || fail "rmdir device"
[ -e "$STORE/devices/qemu01" ] && fail "device still in the store"
assert_eq "" "$(ls "$MNT/devices")" "devices after rmdir"

# statfs reports the store's filesystem
assert_eq "$(stat -f -c %b "$STORE")" "$(stat -f -c %b "$MNT")" "statfs blocks"

# scratch files at the top and in device-types behave like files
echo hi >"$MNT/.env.yaml.swp" && assert_eq hi "$(cat "$MNT/.env.yaml.swp")" "top-level scratch"
rm "$MNT/.env.yaml.swp" || fail "rm scratch"
assert_fails "creating .lavafs" touch "$MNT/.lavafs"

# a second daemon on the same store, a busy mount point, a file as mount point
mkdir "$LF_TMP/mnt2"
assert_fails "a second daemon on one store" timeout 10 "$LAVAFS" -f "$STORE" "$LF_TMP/mnt2"
msg=$(timeout 10 "$LAVAFS" -f "$LF_TMP/other" "$MNT" 2>&1) && fail "mounting on a busy mount point"
echo "$msg" | grep -q 'busy' || fail "busy message: $msg"
touch "$LF_TMP/file"
msg=$(timeout 10 "$LAVAFS" -f "$LF_TMP/other" "$LF_TMP/file" 2>&1) && fail "mounting on a file"
echo "$msg" | grep -q 'not a directory' || fail "not-a-directory message: $msg"
mkdir -p "$LF_TMP/notstore" && touch "$LF_TMP/notstore/x"
msg=$(timeout 10 "$LAVAFS" -f "$LF_TMP/notstore" "$LF_TMP/mnt2" 2>&1) && fail "a foreign non-empty store"
echo "$msg" | grep -q 'not a lavafs store' || fail "foreign store message: $msg"

lf_umount
echo "ok"
