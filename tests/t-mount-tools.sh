#!/bin/bash
# Editors and tools on the mounted tree: vim (swap file, 4913 probe, backup, rename), nano,
# sed -i, cp, cp -r, rsync -a and tar x into an overlay (directories, symlinks stored as
# symlinks, modes, mtimes), chown in an overlay, and a restart that finds all of it again.
set -u
. "$TOP/tests/mountlib.sh"
lf_setup
lf_mount
lf_device qemu01
D=$MNT/devices/qemu01

# vim, in ex mode and then interactively through a pseudo terminal (swap file, 4913 probe,
# writebackup: rename or copy, then a new file)
if command -v vim >/dev/null; then
	printf 'arch: amd64\n' >"$D/context"
	HOME=$LF_TMP timeout 20 vim -u NONE -i NONE -N -n -es -c '%s/amd64/arm64/' -c 'wq' "$D/context" </dev/null ||
		fail "vim -es exited with $?"
	assert_eq 'arch: arm64' "$(cat "$D/context")" "context after vim -es"
	for bc in yes no; do
		(sleep 1; printf ':%%s/arm64/amd64/\r'; sleep 0.3; printf ':wq\r'; sleep 1) |
			TERM=xterm HOME=$LF_TMP timeout 20 script -qec "vim -u NONE -i NONE -N -c 'set backupskip= backupcopy=$bc writebackup backup backupdir=. directory=.' '$D/context'" /dev/null >/dev/null 2>&1
		assert_eq 'arch: amd64' "$(cat "$D/context")" "context after vim (backupcopy=$bc)"
		assert_eq 'arch: arm64' "$(cat "$D/context~")" "vim's backup file (backupcopy=$bc)"
		rm "$D/context~" || fail "rm context~"
		[ -e "$D/4913" ] && fail "vim's probe file left behind"
		[ -e "$D/.context.swp" ] && fail "vim's swap file left behind"
		printf 'arch: arm64\n' >"$D/context"
	done
	HOME=$LF_TMP timeout 20 vim -u NONE -i NONE -N -n -es -c '$put =\"{# edited #}\"' -c 'wq' \
		"$MNT/device-types/qemu.jinja2" </dev/null || fail "vim on a template"
	tail -n 1 "$MNT/device-types/qemu.jinja2" | grep -q 'edited' || fail "template edit lost"
fi

# nano, driven through a pseudo terminal: ^O Enter (write), ^X (exit)
if command -v nano >/dev/null && command -v script >/dev/null; then
	printf 'arch: amd64\n' >"$D/context"
	(sleep 1; printf 'x'; sleep 0.3; printf '\017'; sleep 0.3; printf '\r'; sleep 0.5; printf '\030'; sleep 0.5) |
		TERM=xterm HOME=$LF_TMP timeout 20 script -qec "nano --ignorercfiles '$D/context'" /dev/null >/dev/null 2>&1
	assert_eq 'xarch: amd64' "$(head -n 1 "$D/context")" "context after nano"
fi

# sed -i: a temp file in the device directory, renamed over context
printf 'arch: amd64\n' >"$D/context"
sed -i 's/amd64/arm64/' "$D/context" || fail "sed -i"
assert_eq 'arch: arm64' "$(cat "$D/context")" "context after sed -i"
assert_eq "context dictionary overlay" "$(ls "$D" | grep -v -e '^argv' -e '^cmdline' -e '^env$' -e '^device.yaml' -e '^explain' -e '^status' -e '^health-check' | tr '\n' ' ' | sed 's/ $//')" "device dir after sed -i"

# cp of an input, and of a whole tree into the overlay
printf 'arch: amd64\n' >"$LF_TMP/ctx"
cp "$LF_TMP/ctx" "$D/context" || fail "cp onto context"
assert_eq 'arch: amd64' "$(cat "$D/context")" "context after cp"

SRC=$LF_TMP/src
mkdir -p "$SRC/tests/sub" "$SRC/empty"
echo 'echo hello' >"$SRC/tests/run.sh"
chmod 755 "$SRC/tests/run.sh"
echo data >"$SRC/tests/sub/data.txt"
chmod 640 "$SRC/tests/sub/data.txt"
ln -s run.sh "$SRC/tests/link"
ln -s /etc/passwd "$SRC/tests/abs-link"
touch -d '2001-02-03 04:05:06' "$SRC/tests/run.sh" "$SRC/tests/sub/data.txt"
chown -h 1234:2345 "$SRC/tests/sub/data.txt" 2>/dev/null

tree_sig() { # DIR: names, types, modes, sizes, mtimes, owners, link targets
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %s %u:%g %l\n' | sort &&
		find . -mindepth 1 -not -type d -not -type l -printf '%p %TY-%Tm-%Td %TH:%TM:%.2TS\n' | sort)
}

cp -a "$SRC/." "$D/overlay/cp" 2>/dev/null || cp -r "$SRC/." "$D/overlay/cp" || fail "cp -r"
cp -r "$SRC/." "$D/overlay/cpr" || fail "cp -r"
cmp "$SRC/tests/run.sh" "$D/overlay/cpr/tests/run.sh" || fail "cp -r content"
assert_eq "$(tree_sig "$SRC")" "$(tree_sig "$D/overlay/cp")" "cp -a into the overlay"
rm -rf "$D/overlay/cp" "$D/overlay/cpr" || fail "rm -rf in the overlay"

if command -v rsync >/dev/null; then
	rsync -a "$SRC/" "$D/overlay/" || fail "rsync -a"
	assert_eq "$(tree_sig "$SRC")" "$(tree_sig "$D/overlay")" "rsync -a into the overlay"
	[ -L "$STORE/devices/qemu01/overlay/tests/link" ] || fail "symlink not stored as a symlink"
	assert_eq /etc/passwd "$(readlink "$D/overlay/tests/abs-link")" "absolute symlink target"
	# a second rsync finds nothing to do
	assert_eq "" "$(rsync -a --itemize-changes "$SRC/" "$D/overlay/")" "rsync -a again"
	rm -rf "$D/overlay/"* || fail "emptying the overlay"
fi

tar -C "$SRC" -cf "$LF_TMP/t.tar" . || fail "tar c"
tar -C "$D/overlay" -xpf "$LF_TMP/t.tar" || fail "tar x"
assert_eq "$(tree_sig "$SRC")" "$(tree_sig "$D/overlay")" "tar x into the overlay"

# chown and chmod where permitted, mkdir/rmdir, rename within the overlay
chown 4321:4321 "$D/overlay/tests/run.sh" || fail "chown in the overlay"
assert_eq 4321:4321 "$(stat -c %u:%g "$D/overlay/tests/run.sh")" "owner after chown"
chmod 600 "$D/overlay/tests/run.sh" && assert_eq 600 "$(stat -c %a "$D/overlay/tests/run.sh")" "chmod"
mv "$D/overlay/tests/sub" "$D/overlay/moved" || fail "rename a directory in the overlay"
assert_eq data "$(cat "$D/overlay/moved/data.txt")" "file in a renamed directory"
assert_fails "chmod of an input" chmod 600 "$D/context"
assert_fails "chown of an input" chown 4321 "$D/context"
assert_fails "hard links" ln "$D/context" "$D/context2"
assert_fails "fifos" mkfifo "$D/overlay/fifo"
[ "$(stat -c %h "$D/overlay")" -ge 4 ] || fail "st_nlink of the overlay with subdirectories"

# everything is there again after a restart
before=$(tree_sig "$D/overlay"; cat "$D/context")
lf_umount
lf_mount
assert_eq "$before" "$(tree_sig "$D/overlay"; cat "$D/context")" "overlay and context after a restart"
lf_umount
echo ok
