#!/bin/sh
# demo.sh LAVAFS_BINARY: what `make run` does. A demo store in build/demo/store (made once,
# with a device qemu01), mounted on build/demo/mnt in the foreground until Ctrl-C.
set -u
LAVAFS=${1:-build/lavafs}
TOP=$(cd "$(dirname "$0")/.." && pwd)
DEMO=build/demo
STORE=$DEMO/store
MNT=$DEMO/mnt
[ -x "$LAVAFS" ] || { echo "demo: $LAVAFS is not built (make)"; exit 2; }
export LAVAFS_TEMPLATES=${LAVAFS_TEMPLATES:-$TOP/templates}

mkdir -p "$MNT"
if mountpoint -q "$MNT"; then
	echo "demo: $MNT is already mounted (fusermount3 -u $MNT)"
	exit 1
fi

# a store with one device: the store is plain files, so it can be made without the mount
if [ ! -d "$STORE/devices/qemu01" ]; then
	"$LAVAFS" -f "$STORE" "$MNT" &
	pid=$!
	i=0
	while ! mountpoint -q "$MNT" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	mkdir "$MNT/devices/qemu01"
	printf "{%% extends 'qemu.jinja2' %%}\n{%% set memory = 1024 %%}\n{%% set mac_addr = '52:54:00:12:34:58' %%}\n" \
		>"$MNT/devices/qemu01/dictionary"
	echo 'arch: amd64' >"$MNT/devices/qemu01/context"
	fusermount3 -u "$MNT"
	wait $pid
fi

cat <<EOF
lavafs demo: $STORE mounted on $MNT until Ctrl-C. In another terminal, try:

  cat $MNT/devices/qemu01/status
  cat $MNT/devices/qemu01/cmdline
  echo 'arch: arm64' > $MNT/devices/qemu01/context && cat $MNT/devices/qemu01/cmdline
  cat $MNT/devices/qemu01/explain
  echo 'arch: [' > $MNT/devices/qemu01/context; cat $MNT/devices/qemu01/status; ls $MNT/devices/qemu01
  mkdir $MNT/devices/qemu02 && cp $MNT/devices/qemu01/dictionary $MNT/devices/qemu02/ &&
    echo 'arch: amd64' > $MNT/devices/qemu02/context && cat $MNT/devices/qemu0?/status
  vim $MNT/device-types/qemu.jinja2        # every device using it is recomposed on :w

EOF
# -f: the daemon stays in front; Ctrl-C (SIGINT) unmounts it cleanly
exec "$LAVAFS" -f "$STORE" "$MNT"
