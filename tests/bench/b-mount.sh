#!/bin/bash
# The mount's speed against the reference measured in the same run:
#  - `echo > context` then read argv (open/write/close + open/read/close), p50 and p99 over
#    1000+ iterations, with the store on disk (fsync'ed writes) and on tmpfs;
#  - reading argv through the mount vs the same bytes on tmpfs (/dev/shm): ratio.
# Goals: round trip p50 <= 1 ms; reading argv <= 2x tmpfs.
set -u
: "${LAVAFS:?}" "${TOP:?}"
BUILD=${BUILD:-build}
BENCH=$TOP/$BUILD/bench/bench_mount
[ -x "$BENCH" ] || { echo "b-mount: $BENCH missing (make benchbin)"; exit 1; }
export LAVAFS_HOST_ARCH=x86_64 LAVAFS_KVM=0 LAVAFS_TEMPLATES=$TOP/templates
N=${N:-2000}
SHM=/dev/shm
[ -d "$SHM" ] && [ -w "$SHM" ] || SHM=$(mktemp -d)

TMPS=()
PIDS=()
MNTS=()
cleanup() {
	for m in "${MNTS[@]}"; do mountpoint -q "$m" && fusermount3 -u "$m"; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for d in "${TMPS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

mount_store() { # PARENT_DIR: mounts PARENT/store on PARENT/mnt with one device; echoes MNT
	local dir=$1 i
	mkdir -p "$dir/mnt"
	"$LAVAFS" -f "$dir/store" "$dir/mnt" 2>>"$dir/log" &
	PIDS+=($!)
	MNTS+=("$dir/mnt")
	for i in $(seq 1 200); do mountpoint -q "$dir/mnt" && break; sleep 0.05; done
	mountpoint -q "$dir/mnt" || { echo "b-mount: mount failed"; cat "$dir/log"; exit 1; }
	mkdir "$dir/mnt/devices/qemu01"
	printf "{%% extends 'qemu.jinja2' %%}\n{%% set memory = 1024 %%}\n{%% set mac_addr = '52:54:00:12:34:58' %%}\n" \
		>"$dir/mnt/devices/qemu01/dictionary"
	echo 'arch: amd64' >"$dir/mnt/devices/qemu01/context"
	grep -q '^ready' "$dir/mnt/devices/qemu01/status" || { echo "b-mount: device not ready"; cat "$dir/mnt/devices/qemu01/status"; exit 1; }
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

disk=$(mktemp -d "$TOP/$BUILD/bench-mount.XXXXXX")
TMPS+=("$disk")
mount_store "$disk"
D=$disk/mnt/devices/qemu01
rt_disk=$("$BENCH" roundtrip "$D" "$N") || exit 1
echo "store on disk:  $rt_disk"

mem=$(mktemp -d "$SHM/lavafs-bench.XXXXXX")
TMPS+=("$mem")
mount_store "$mem"
M=$mem/mnt/devices/qemu01
rt_mem=$("$BENCH" roundtrip "$M" "$N") || exit 1
echo "store on tmpfs: $rt_mem"

# reading argv: through the mount vs the same bytes on tmpfs
cp "$M/argv" "$mem/argv.copy"
cmp -s "$M/argv" "$mem/argv.copy" || exit 1
R=$((N * 10))
fuse_read=$("$BENCH" read "$M/argv" "$R") || exit 1
tmpfs_read=$("$BENCH" read "$mem/argv.copy" "$R") || exit 1
fuse_pread=$("$BENCH" pread "$M/argv" "$R") || exit 1
tmpfs_pread=$("$BENCH" pread "$mem/argv.copy" "$R") || exit 1
echo "argv open+read+close: mount $fuse_read"
echo "argv open+read+close: tmpfs $tmpfs_read"
echo "argv pread (cached):  mount $fuse_pread / tmpfs $tmpfs_pread"

p50_disk=$(echo "$rt_disk" | field p50_us)
p50_mem=$(echo "$rt_mem" | field p50_us)
awk -v d="$p50_disk" -v m="$p50_mem" \
	-v fr="$(echo "$fuse_read" | field p50_us)" -v tr="$(echo "$tmpfs_read" | field p50_us)" \
	-v fp="$(echo "$fuse_pread" | field mean_us)" -v tp="$(echo "$tmpfs_pread" | field mean_us)" 'BEGIN {
	printf "roundtrip p50: %.0f us (disk store), %.0f us (tmpfs store); goal <= 1000 us: %s\n", d, m, (d <= 1000 ? "met" : "missed");
	printf "argv read vs tmpfs, open+read+close p50: %.2fx (goal <= 2x: %s)\n", fr / tr, (fr / tr <= 2 ? "met" : "missed");
	printf "argv read vs tmpfs, pread from an open file: %.2fx\n", fp / tp;
}'
