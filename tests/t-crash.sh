#!/bin/bash
# Crash safety: writers keep replacing dictionaries, contexts, env.yaml, a template and overlay
# files through the mount while the daemon is killed with SIGKILL at random moments, then
# remounted.
# Every file carries a sequence number and a checksum line over everything before it, so a
# torn (empty, short or mixed) version is caught. After each crash, in STORE and through the
# remounted tree, every file must be
#   - complete (its checksum holds) and one of the versions written to it,
#   - no older than the last version whose close(2) succeeded before the kill (acknowledged
#     writes are durable across a daemon crash),
# and the device's outputs must be the composition of the stored inputs.
# CRASH_SECONDS (default 30) bounds the loop.
set -u
. "$TOP/tests/mountlib.sh"
SECS=${CRASH_SECONDS:-30}
lf_setup
L=$LF_TMP/log # one line per acknowledged write: FILE SEQ
: >"$L"
DEVS="c1 c2 c3"

# make_version KIND SEQ: a complete self-checking version of a file of that kind on stdout
make_version() {
	local kind=$1 seq=$2 body pad sum
	pad=$(printf '%*s' $(((seq * 7919) % 3000 + 100)) '' | tr ' ' "$((seq % 10))")
	case $kind in
	dictionary)
		body=$(printf "{%% extends 'qemu.jinja2' %%}\n{%% set memory = %d %%}\n{# seq %d %s #}" \
			$((256 + seq % 64 * 16)) "$seq" "$pad")
		;;
	context)
		body=$(printf 'arch: amd64\nextra_options: ["-smp %d"]\n# seq %d %s' $((seq % 8 + 1)) "$seq" "$pad")
		;;
	env)
		body=$(printf 'overrides:\n  LAVAFS_SEQ: "%d"\n# seq %d %s' "$seq" "$seq" "$pad")
		;;
	overlay)
		body=$(printf 'seq %d\n%s' "$seq" "$pad")
		;;
	template)
		body=$(printf "{%% extends 'qemu.jinja2' %%}\n{# seq %d %s #}" "$seq" "$pad")
		;;
	esac
	printf '%s\n' "$body"
	sum=$(printf '%s\n' "$body" | md5sum | cut -c1-32)
	case $kind in
	dictionary | template) printf '{# sum %s #}\n' "$sum" ;;
	*) printf '# sum %s\n' "$sum" ;;
	esac
}

# check_file PATH NAME: the file is complete; prints its seq
check_file() {
	local f=$1 name=$2 last want got seq
	[ -s "$f" ] || fail "$name is empty or missing ($f)"
	last=$(tail -n 1 "$f")
	want=$(grep -o '[0-9a-f]\{32\}' <<<"$last")
	got=$(head -n -1 "$f" | md5sum | cut -c1-32)
	[ "$want" = "$got" ] || fail "$name is torn: checksum $got, its last line says '$last' ($(wc -c <"$f") bytes)"
	seq=$(grep -o -m1 'seq [0-9]*' "$f" | cut -d' ' -f2)
	[ -n "$seq" ] || fail "$name has no seq"
	echo "$seq"
}

# check_all ROOT: every tracked file under ROOT (STORE or MNT) is complete and not older than
# its last acknowledged write
check_all() {
	local root=$1 name seq acked
	for name in env.yaml device-types/crash.jinja2 $(for d in $DEVS; do echo devices/$d/dictionary devices/$d/context devices/$d/overlay/t/f1 devices/$d/overlay/f2; done); do
		seq=$(check_file "$root/$name" "$root/$name") || exit 1
		acked=$(awk -v n="$name" '$1 == n { s = $2 } END { print s + 0 }' "$L")
		[ "$seq" -ge "$acked" ] || fail "$root/$name holds seq $seq, but seq $acked was acknowledged before the crash"
		[ "$seq" -le "$(cat "$LF_TMP/seq")" ] || fail "$root/$name holds seq $seq that was never written"
	done
}

# write_one NAME KIND SEQ: writes through the mount in small chunks; logs it when close succeeds
write_one() {
	local name=$1 kind=$2 seq=$3
	make_version "$kind" "$seq" >"$LF_TMP/v.$BASHPID"
	if dd if="$LF_TMP/v.$BASHPID" of="$MNT/$name" bs=512 status=none 2>/dev/null; then
		echo "$name $seq" >>"$L"
	fi
}

echo 0 >"$LF_TMP/seq"
lf_mount
mkdir -p "$MNT/devices"
for d in $DEVS; do
	mkdir "$MNT/devices/$d" || fail "mkdir $d"
	mkdir "$MNT/devices/$d/overlay/t" || fail "mkdir overlay/t"
	write_one devices/$d/dictionary dictionary 0
	write_one devices/$d/context context 0
	write_one devices/$d/overlay/t/f1 overlay 0
	write_one devices/$d/overlay/f2 overlay 0
done
write_one env.yaml env 0
write_one device-types/crash.jinja2 template 0
[ "$(wc -l <"$L")" -eq 14 ] || fail "the first writes failed: $(cat "$L")"
check_all "$MNT"

# writer: one file after the other, sequence numbers shared by all files
writer() {
	local seq
	seq=$(cat "$LF_TMP/seq")
	while :; do
		seq=$((seq + 1))
		echo "$seq" >"$LF_TMP/seq.new" && mv "$LF_TMP/seq.new" "$LF_TMP/seq"
		case $((RANDOM % 10)) in
		0) write_one env.yaml env $seq ;;
		9) write_one device-types/crash.jinja2 template $seq ;;
		1 | 2) write_one devices/c$((RANDOM % 3 + 1))/dictionary dictionary $seq ;;
		3 | 4 | 5) write_one devices/c$((RANDOM % 3 + 1))/context context $seq ;;
		6 | 7) write_one devices/c$((RANDOM % 3 + 1))/overlay/t/f1 overlay $seq ;;
		8) write_one devices/c$((RANDOM % 3 + 1))/overlay/f2 overlay $seq ;;
		esac
	done
}

end=$(($(date +%s) + SECS))
rounds=0
while [ "$(date +%s)" -lt "$end" ]; do
	rounds=$((rounds + 1))
	writer &
	wpid=$!
	sleep "$((RANDOM % 3)).$((RANDOM % 10))"
	lf_kill9 "$wpid"
	[ -z "$(ls -A "$MNT")" ] || fail "round $rounds: a write reached the bare mountpoint after the crash: $(ls -A "$MNT")"
	# the seq written last may not be logged yet: no file may hold a higher one
	check_all "$STORE"
	lf_mount
	check_all "$MNT"
	for d in $DEVS; do
		cmp -s "$STORE/devices/$d/context" "$MNT/devices/$d/context" || fail "round $rounds: $d/context differs between STORE and the mount"
		# the outputs are those of the stored inputs
		st=$(head -n 1 "$MNT/devices/$d/status")
		case $st in ready*) ;; *) fail "round $rounds: $d status after restart: $st" ;; esac
		exp=$("$LAVAFS" compose -e "$STORE/env.yaml" -t "$MNT/device-types" "$STORE/devices/$d/dictionary" -c "$STORE/devices/$d/context" 2>/dev/null)
		[ -n "$exp" ] || fail "round $rounds: the stored inputs of $d do not compose"
		[ "$exp" = "$(cat "$MNT/devices/$d/cmdline")" ] ||
			fail "round $rounds: $d cmdline is not the composition of its stored inputs"
		tr '\0' '\n' <"$MNT/devices/$d/env" | grep -qx "LAVAFS_SEQ=$(grep -o 'seq [0-9]*' "$STORE/env.yaml" | cut -d' ' -f2)" ||
			fail "round $rounds: $d env is not from the stored env.yaml"
	done
done
writes=$(wc -l <"$L")
lf_umount
[ "$rounds" -ge 5 ] || fail "only $rounds crash rounds"
echo "t-crash: $rounds crashes, $writes acknowledged writes, every file complete and durable"
