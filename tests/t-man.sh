#!/bin/bash
# The manual pages: man/lavafs.8 and man/lavafs.5 render without a single groff or man
# warning, and together they name everything the contract fixes (commands, options, files
# of the tree, env.yaml keys, status words, layers, variables, environment). When the
# binary and the mount option table exist, the pages also name what they really offer.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$TOP" || exit 1
fail=0
ok() { printf 'ok   %s\n' "$1"; }
bad() { printf 'FAIL %s\n' "$1"; fail=1; }

for tool in groff man; do
	command -v "$tool" >/dev/null || { echo "FAIL $tool is not installed (groff-base, man-db)"; exit 1; }
done

pages="man/lavafs.8 man/lavafs.5"
for p in $pages; do
	[ -f "$p" ] || { bad "$p exists"; continue; }

	# groff itself, every warning category on
	out=$(groff -man -Tutf8 -ww -z "$p" 2>&1)
	[ -z "$out" ] && ok "$p: groff -ww is silent" || bad "$p: groff warnings:
$out"

	# man-db the way a reader gets it, at a common and at a narrow width
	for width in 80 60; do
		out=$(LC_ALL=C.UTF-8 MANWIDTH=$width MAN_KEEP_FORMATTING= \
			man --warnings=w -E UTF-8 -l "$p" 2>&1 >/dev/null)
		[ -z "$out" ] && ok "$p: man -l at width $width is silent" ||
			bad "$p: man -l at width $width:
$out"
	done

	# the header names the page it is
	name=$(basename "$p")
	sect=${name##*.}
	grep -q "^\.TH LAVAFS $sect " "$p" && ok "$p: .TH LAVAFS $sect" || bad "$p: .TH LAVAFS $sect"
done

# Plain text of a page on one very long line per paragraph: no hyphenation, no wrapping,
# so names can be searched for as they are.
text() { groff -man -Tascii -rLL=5000n -rHY=0 -P-cbou "$1" 2>/dev/null; }
text8=$(text man/lavafs.8)
text5=$(text man/lavafs.5)
both="$text8
$text5"

# need WHERE WHAT NAME...: every NAME appears in the text WHERE
need() {
	local where=$1 what=$2 missing=""
	shift 2
	for n in "$@"; do
		grep -qF -- "$n" <<<"$where" || missing="$missing $n"
	done
	[ -z "$missing" ] && ok "$what" || bad "$what: missing$missing"
}

syn8=$(sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' <<<"$text8")
need "$syn8" "lavafs(8) SYNOPSIS has every form" \
	"lavafs [FUSE options] STORE MOUNTPOINT" \
	"lavafs render [-t DIR]... FILE [-c CONTEXT.yaml]" \
	"lavafs compose [-t DIR]... DICTIONARY [-c CONTEXT.yaml | -j JOB.yaml] [-e ENV.yaml] [-o OUTDIR]" \
	"lavafs run DEVICEDIR" "lavafs --help | --version"
need "$text8" "lavafs(8) has its sections" \
	DESCRIPTION COMMANDS OPTIONS "TEMPLATE SEARCH PATH" "TEMPLATE VARIABLES" "KVM PROBE" \
	ENVIRONMENT "EXIT STATUS" SIGNALS FILES EXAMPLES "SEE ALSO"
need "$text8" "lavafs(8) describes the mount options" \
	-f -d -s allow_other default_permissions admin_gid= writer_gid= max_file_size= \
	fuse.lavafs mount.fuse3
need "$text8" "lavafs(8) describes rendering and assembly" \
	mandatory specific substituted trim_blocks sandbox qemu_guest_fs_interface shlex_quote \
	yaml_quote actions.boot.methods.qemu.parameters command options extra image_arg \
	snapshot=on actions.deploy.methods.image.parameters.guest
need "$text8" "lavafs(8) names the environment and worker facts" \
	LAVAFS_TEMPLATES LAVAFS_HOST_ARCH LAVAFS_KVM host_arch kvm /dev/kvm -enable-kvm
need "$text8" "lavafs(8) names the exit statuses" 0 1 2 126 127
need "$text8" "lavafs(8) names the signals" SIGTERM SIGINT
need "$text8" "lavafs(8) names compose's outputs" \
	argv cmdline env device.yaml explain status OUTDIR/images/LABEL/FILE OUTDIR/lava-guest.qcow2
need "$text8" "lavafs(8) SEE ALSO" "lavafs(5)" "mount.fuse3(8)" "qemu(1)"

need "$text5" "lavafs(5) has every file of the tree" \
	env.yaml device-types/ NAME.jinja2 health-checks/ NAME.yaml devices/ dictionary tags \
	context job.yaml overlay/ status argv cmdline env device.yaml explain health-check \
	lava-guest.qcow2 guest-uuid mkdir rmdir
need "$text5" "lavafs(5) has every env.yaml key" overrides removes purge
need "$text5" "lavafs(5) has every status word" \
	ready composing "preparing-image N%" "downloading N%" "error: MESSAGE" "warning: "
need "$text5" "lavafs(5) has every explain layer" mandatory specific substituted storage
need "$text5" "lavafs(5) has the job.yaml keys" \
	context: tags: images: url image_arg compression sha256sum md5sum sha512sum test
need "$text5" "lavafs(5) has the checks" \
	"is also used by device" "has no health check" "-enable-kvm" \
	"context sets memory=8192; the device dictionary fixes memory=1024" \
	"job needs tag kvm-arm; device qemu03 has kvm_x86_64"
need "$text5" "lavafs(5) has the guest storage" \
	guestfs_size guestfs_interface guestfs_driveid LAVA ext2 libguestfs snapshot=on lavatest
need "$text5" "lavafs(5) has the shipped templates" \
	base.jinja2 qemu.jinja2 qemu-aarch64.jinja2 "-cpu host -enable-kvm" cortex-a57 host_arch
need "$text5" "lavafs(5) has its sections" \
	"THE TREE" CHECKS ATOMICITY PERMISSIONS PERSISTENCE "EDITORS AND TOOLS" \
	"THE SHIPPED TEMPLATES" EXAMPLES "SEE ALSO"
need "$text5" "lavafs(5) describes how the mount behaves" \
	"Inodes and caching" keep_cache ESTALE ENOTEMPTY EXDEV EFBIG EPERM direct \
	".lavafs/tmp" O_TRUNC max_file_size max_overlay_file_size writer_gid admin_gid
need "$text8" "lavafs(8) says which LAVAFS_KVM values mean no KVM" \
	"0, false, no and off"
need "$both" "the pages name the context variables" \
	arch machine cpu netdevice model vga serial monitor no_kvm no_network extra_options \
	guestfs_size guestfs_interface guestfs_driveid
need "$text5" "lavafs(5) lists every architecture of qemu.jinja2" \
	$(sed -n "/^{% for name in \[/,/%}\$/p;/qemu_misc_architectures = \[/,/\] %}/p" \
		templates/qemu.jinja2 | grep -o "'[a-z0-9_]*'" | tr -d "'")

# What the code really offers must be in the pages too.
if [ -n "${LAVAFS:-}" ] && [ -x "$LAVAFS" ]; then
	words=$("$LAVAFS" --help 2>/dev/null | grep -oE -- '(^| |\[)(-[a-zA-Z]|--[a-z-]+|render|compose|run)\b' |
		tr -d '[ ' | sort -u)
	[ -n "$words" ] && need "$syn8" "lavafs(8) SYNOPSIS has every word of lavafs --help" $words
	ver=$("$LAVAFS" --version 2>/dev/null | awk '{print $2}')
	[ -n "$ver" ] && need "$(head -c 300 man/lavafs.8)" "lavafs(8) .TH carries version $ver" "$ver"
fi
# Mount options the daemon parses (fuse_opt templates such as "admin_gid=%u").
opts=$(grep -ho '"[a-z_]*=%[a-z]*"' fs/*.c 2>/dev/null | grep -o '[a-z_]*=' | sort -u)
[ -n "$opts" ] && need "$text8" "lavafs(8) describes every mount option fs/ parses" $opts

exit $fail
