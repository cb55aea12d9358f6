#!/bin/bash
# lava-compat.sh - differential check of lavafs's Jinja engine against Python's jinja2 on a
# directory of real-world device-type templates (and, optionally, device dictionaries).
#
#   tests/jinja/lava-compat.sh [-q] [-c CTXNAME]... [-o OUTDIR] DEVICE_TYPES_DIR [DEVICES_DIR]
#   tests/jinja/lava-compat.sh [-q] --corpus [CORPUS_DIR]
#
# Every *.jinja2 in DEVICE_TYPES_DIR (and every *.jinja2 in DEVICES_DIR, whose
# `{% extends 'x.jinja2' %}` resolves in DEVICE_TYPES_DIR) is rendered with
#     $LAVAFS render -t DEVICE_TYPES_DIR FILE [-c CONTEXT.yaml]
# and with the Python reference (same command line), once per job context below, and the two
# outputs are compared byte for byte. One line per render:
#     identical        FILE [context]
#     DIFFERS          FILE [context]   followed by the first lines of a unified diff
#     LAVAFS-FAILED    FILE [context]   python rendered it, lavafs exited non-zero
#     PYTHON-FAILED    FILE [context]   lavafs rendered it, python raised
#     both-failed      FILE [context]   both refused it (counted as agreement)
# then a summary: renders that agree, and files whose every render agrees, for templates and
# dictionaries separately.
#
#   -q          print only the renders that disagree, and the summary
#   -c NAME     only this context (repeatable): empty, amd64, arm64-rich, x86-rich
#   -o OUTDIR   keep both outputs and the full diff of every disagreement in OUTDIR
#   -j N        renders at once (default 2)
#   -r N        also N random contexts per file (rand1..randN): every variable the file and
#               the templates it extends read gets, or does not get, a value drawn from a
#               pool of strings (quotes, backslashes, newlines, non-ASCII), numbers, booleans,
#               null, lists and mappings; deterministic for a given -s SEED (default 1)
#
# Environment:
#   LAVAFS      the binary under test (default: build/lavafs of this checkout)
#   REFERENCE   the Python reference (default: tests/jinja/reference.py of this checkout)
#   PYTHON      interpreter for the reference (default: /usr/bin/python3)
#   LAVA_COMPAT_CACHE  where reference outputs are cached (default: $TMPDIR/lava-compat-cache);
#               the key covers the reference script, the file, the context and every template
#               in DEVICE_TYPES_DIR, so a cached output is never stale.
#   DIFF_LINES  lines of diff shown per disagreement (default 12)
#
# --corpus checks the reproducer cases of tests/jinja/corpus/ (or CORPUS_DIR) instead: each case
# CASE/ renders CASE/template.jinja2 with -t CASE [-c CASE/context.yaml]; the templates it
# extends or includes sit beside it.
#
# Exit status: 0 when every render agrees, 1 when one disagrees, 2 on usage errors.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

LAVAFS=${LAVAFS:-$top/build/lavafs}
REFERENCE=${REFERENCE:-$top/tests/jinja/reference.py}
PYTHON=${PYTHON:-/usr/bin/python3}
DIFF_LINES=${DIFF_LINES:-12}
cache=${LAVA_COMPAT_CACHE:-${TMPDIR:-/tmp}/lava-compat-cache}

corpus_mode=0
if [ "${1:-}" = --corpus ] || [ "${2:-}" = --corpus ]; then
	corpus_mode=1
	[ "${1:-}" = -q ] && quiet_corpus=1 || quiet_corpus=0
	shift $(( ${quiet_corpus} + 1 ))
fi
quiet=0
outdir=
jobs=2
nrand=0
seed=1
only_ctx=()
usage() {
	sed -n '2,/^# Exit status/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
while getopts "qc:o:j:r:s:h" opt; do
	case $opt in
	q) quiet=1 ;;
	c) only_ctx+=("$OPTARG") ;;
	o) outdir=$OPTARG ;;
	j) jobs=$OPTARG ;;
	r) nrand=$OPTARG ;;
	s) seed=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
if [ $corpus_mode = 1 ]; then
	corpus=${1:-$here/corpus}
	[ -d "$corpus" ] || { echo "lava-compat: no corpus directory $corpus" >&2; exit 2; }
	[ -x "$LAVAFS" ] || { echo "lava-compat: $LAVAFS is not built (make -j2)" >&2; exit 2; }
	[ -f "$REFERENCE" ] || { echo "lava-compat: no reference at $REFERENCE (set REFERENCE=)" >&2; exit 2; }
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/lava-compat.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	cp "$LAVAFS" "$tmp/lavafs" || exit 2
	LAVAFS=$tmp/lavafs
	ok=0 total=0 fail=0
	for case_dir in "$corpus"/*/; do
		case_dir=${case_dir%/}
		name=$(basename "$case_dir")
		[ -f "$case_dir/template.jinja2" ] || continue
		cargs=()
		[ -f "$case_dir/context.yaml" ] && cargs=(-c "$case_dir/context.yaml")
		total=$((total + 1))
		"$PYTHON" "$REFERENCE" -t "$case_dir" "$case_dir/template.jinja2" "${cargs[@]}" >"$tmp/py" 2>"$tmp/py.err"
		py_rc=$?
		timeout 20 "$LAVAFS" render -t "$case_dir" "$case_dir/template.jinja2" "${cargs[@]}" >"$tmp/lv" 2>"$tmp/lv.err"
		lv_rc=$?
		if [ $py_rc = 0 ] && [ $lv_rc = 0 ]; then
			if cmp -s "$tmp/py" "$tmp/lv"; then status=identical; else status=DIFFERS; fi
		elif [ $py_rc = 0 ]; then status=LAVAFS-FAILED
		elif [ $lv_rc = 0 ]; then status=PYTHON-FAILED
		else status=both-failed; fi
		case $status in identical | both-failed) ok=$((ok + 1)) ;; *) fail=1 ;; esac
		if [ $quiet_corpus = 1 ] && { [ $status = identical ] || [ $status = both-failed ]; }; then continue; fi
		printf '%-14s %s\n' "$status" "$name"
		case $status in
		DIFFERS) diff -u --label python --label lavafs "$tmp/py" "$tmp/lv" | head -n "$DIFF_LINES" | sed 's/^/    /' ;;
		LAVAFS-FAILED) head -c 400 "$tmp/lv.err" | sed 's/^/    /' ;;
		PYTHON-FAILED) head -c 400 "$tmp/py.err" | sed 's/^/    /' ;;
		esac
	done
	echo
	echo "corpus: $ok/$total cases agree"
	exit $fail
fi
[ $# -ge 1 ] && [ $# -le 2 ] || usage
dt_dir=$(cd "$1" 2>/dev/null && pwd) || { echo "lava-compat: no directory $1" >&2; exit 2; }
dev_dir=
if [ $# -eq 2 ]; then
	dev_dir=$(cd "$2" 2>/dev/null && pwd) || { echo "lava-compat: no directory $2" >&2; exit 2; }
fi
[ -x "$LAVAFS" ] || { echo "lava-compat: $LAVAFS is not built (make -j2)" >&2; exit 2; }
[ -f "$REFERENCE" ] || { echo "lava-compat: no reference at $REFERENCE (set REFERENCE=)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/lava-compat.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache" "$work/ctx" "$work/res"
# A private copy, so that a concurrent `make` relinking the binary cannot fail renders midway.
cp "$LAVAFS" "$work/lavafs" || exit 2
LAVAFS=$work/lavafs
[ -n "$outdir" ] && mkdir -p "$outdir"

# ---- job contexts --------------------------------------------------------------------------
# "empty" renders without -c. The others are written here so that the tool is self-contained.
cat >"$work/ctx/amd64.yaml" <<'EOF'
arch: amd64
EOF
# Many of the keys a LAVA job context commonly carries, on an arm64 guest, with values of
# every YAML type a context can hold (ints, booleans, null, a float, lists, a mapping) and
# strings that stress Python's repr (quotes, a backslash, non-ASCII).
cat >"$work/ctx/arm64-rich.yaml" <<'EOF'
arch: arm64
machine: virt,gic-version=3
cpu: cortex-a72
memory: 2048
netdevice: tap
model: model=virtio-net-pci
vga: -vga none
serial: -serial stdio
monitor: stdio
no_kvm: true
no_network: false
extra_options:
  - -smp 4
  - "-append 'console=ttyAMA0 root=/dev/vda rw'"
  - -global virtio-blk-device.scsi=off
guestfs_size: 1024
guestfs_interface: virtio
guestfs_driveid: lavatest2
boot_character_delay: 10
test_character_delay: 5
console_device: ttyAMA0
baud_rate: 115200
extra_kernel_args: "quiet loglevel=3"
extra_nfsroot_args: ",vers=3"
kernel_start_message: "Linux version"
lava_test_results_dir: /lava-%s
bootloader_prompt: "=>"
interrupt_char: ""
boot_root: /dev/vda1
boot_console: ttyAMA0,38400
mac_addr: "52:54:00:12:34:99"
tftp_mac: "52:54:00:12:34:98"
uboot_extra_error_message: "Bad CRC"
uboot_error_messages: ["Resetting CPU", "it's \"quoted\" \\ here"]
fastboot_options: ["-S", "256M"]
device_info: [{board_id: "0123456789", wait_device_board_id: false}]
static_info: [{board_id: "S_N0123456"}]
user_commands: {power: {do: /bin/true, undo: /bin/false}}
flash_cmds_order: [boot, system, userdata]
ratio: 1.5
nothing: null
unicode_text: "ünïcödé ✓"
EOF
cat >"$work/ctx/x86-rich.yaml" <<'EOF'
arch: x86_64
cpu: qemu64
memory: 4096
no_kvm: false
netdevice: user
model: model=e1000
extra_options: ["-smp 2", "-device virtio-rng-pci"]
guestfs_size: 2048
boot_character_delay: 0
test_character_delay: 30
console_device: ttyS0
baud_rate: 9600
base_kernel_args: "console=ttyS0"
static_ip: 10.0.0.2
static_gateway: 10.0.0.1
static_netmask: 255.255.255.0
static_dns: 10.0.0.1
connection_list: [uart0]
connection_commands: {uart0: "telnet localhost 7000"}
connection_tags: {uart0: [primary, telnet]}
hard_reset_command: ["pdu reboot 1", "sleep 5"]
power_off_command: "pdu off 1"
power_on_command: "pdu on 1"
sata_label: ST500
sata_uuid: ata-ST500
usb_label: SanDisk
usb_uuid: usb-SanDisk-0:0
usb_device_id: 0
EOF
contexts=(empty amd64 arm64-rich x86-rich)
if [ ${#only_ctx[@]} -gt 0 ]; then
	for c in "${only_ctx[@]}"; do
		case " ${contexts[*]} " in *" $c "*) ;; *) echo "lava-compat: unknown context $c" >&2; exit 2 ;; esac
	done
	contexts=("${only_ctx[@]}")
fi

# ---- the renders ---------------------------------------------------------------------------
dt_hash=$(cd "$dt_dir" && find . -type f -name '*.jinja2' -print0 | LC_ALL=C sort -z |
	xargs -0 sha256sum | sha256sum | cut -c1-64)
ref_hash=$( { cat "$REFERENCE"; echo "$PYTHON"; } | sha256sum | cut -c1-64)

# One render of FILE in context CTX; writes "STATUS\tKIND\tFILE\tCTX" to $work/res/N and the
# disagreement details beside it.
render_one() {
	local n=$1 kind=$2 file=$3 ctx=$4
	local cargs=() ctxfile=
	case $ctx in
	empty) ;;
	rand*) ctxfile=$work/ctx/rand/$kind.$(basename "$file" .jinja2).${ctx#rand}.yaml ;;
	*) ctxfile=$work/ctx/$ctx.yaml ;;
	esac
	[ -n "$ctxfile" ] && cargs=(-c "$ctxfile")
	local key
	key=$( { echo "$ref_hash $dt_hash $ctx"; cat "$file"; [ -n "$ctxfile" ] && cat "$ctxfile"; } |
		sha256sum | cut -c1-64)
	local py_out=$cache/$key.out py_rc_f=$cache/$key.rc py_err=$cache/$key.err
	if [ ! -f "$py_rc_f" ]; then
		"$PYTHON" "$REFERENCE" -t "$dt_dir" "$file" "${cargs[@]}" >"$py_out.$$" 2>"$py_err.$$"
		echo $? >"$py_rc_f.$$"
		mv "$py_out.$$" "$py_out" && mv "$py_err.$$" "$py_err" && mv "$py_rc_f.$$" "$py_rc_f"
	fi
	local py_rc
	py_rc=$(cat "$py_rc_f")
	local lv_out=$work/res/$n.lavafs lv_err=$work/res/$n.lavafs.err
	timeout 20 "$LAVAFS" render -t "$dt_dir" "$file" "${cargs[@]}" >"$lv_out" 2>"$lv_err"
	local lv_rc=$?
	local status
	if [ "$py_rc" = 0 ] && [ "$lv_rc" = 0 ]; then
		if cmp -s "$py_out" "$lv_out"; then status=identical; else status=DIFFERS; fi
	elif [ "$py_rc" = 0 ]; then
		status=LAVAFS-FAILED
	elif [ "$lv_rc" = 0 ]; then
		status=PYTHON-FAILED
	else
		status=both-failed
	fi
	printf '%s\t%s\t%s\t%s\n' "$status" "$kind" "$file" "$ctx" >"$work/res/$n"
	local base
	base=$(basename "$file" .jinja2)
	case $status in
	DIFFERS)
		diff -u --label "python $base [$ctx]" --label "lavafs $base [$ctx]" "$py_out" "$lv_out" \
			>"$work/res/$n.diff"
		;;
	LAVAFS-FAILED)
		{ echo "lavafs exit $lv_rc:"; head -c 600 "$lv_err"; } >"$work/res/$n.diff"
		;;
	PYTHON-FAILED)
		{ echo "python:"; head -c 600 "$py_err"; } >"$work/res/$n.diff"
		;;
	esac
	if [ -n "$outdir" ] && [ "$status" != identical ] && [ "$status" != both-failed ]; then
		cp "$py_out" "$outdir/$kind.$base.$ctx.python"
		cp "$lv_out" "$outdir/$kind.$base.$ctx.lavafs"
		cp "$lv_err" "$outdir/$kind.$base.$ctx.lavafs.err"
		cp "$work/res/$n.diff" "$outdir/$kind.$base.$ctx.diff"
	fi
	rm -f "$lv_out" "$lv_err"
}
export -f render_one
export work cache ref_hash dt_hash dt_dir LAVAFS REFERENCE PYTHON outdir

list=$work/list
n=0
: >"$list"
add_files() {
	local kind=$1 dir=$2 f c
	while IFS= read -r -d '' f; do
		for c in "${contexts[@]}"; do
			n=$((n + 1))
			printf '%s\0%s\0%s\0%s\0' "$n" "$kind" "$f" "$c" >>"$list"
		done
	done < <(find "$dir" -maxdepth 1 -type f -name '*.jinja2' -print0 | LC_ALL=C sort -z)
}
for ((k = 1; k <= nrand; k++)); do contexts+=("rand$k"); done
add_files template "$dt_dir"
[ -n "$dev_dir" ] && add_files dictionary "$dev_dir"

if [ "$nrand" -gt 0 ]; then
	mkdir -p "$work/ctx/rand"
	cat >"$work/gen.py" <<'EOF'
import importlib.util, os, random, sys
import jinja2, jinja2.meta, jinja2.sandbox, yaml
seed, nrand, dt_dir, outdir, reference = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
# The reference's filters, so that a context can be tried before it is kept.
spec = importlib.util.spec_from_file_location("reference", reference)
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)
STRINGS = ["ttyS0", "it's", 'say "hi"', "back\\slash", "ünïcödé ✓", "two\nlines", "", " ",
           "0x80000000", "{KERNEL}", "%s", "- item", "a: b", "#hash", "  padded  ",
           "tab\there", "true", "None", "1.5", "=>", "telnet host 7000", "[x]", "{y}"]
def value(rng, other, depth=0):
    # other: the chance of anything but a string
    if rng.random() >= other:
        return rng.choice(STRINGS)
    r = rng.random()
    if r < 0.30: return rng.choice([0, 1, -1, 7, 115200, 2**40])
    if r < 0.40: return rng.choice([0.0, 1.5, -2.25, 1e-05, 1e16])
    if r < 0.60: return rng.choice([True, False])
    if r < 0.70: return None
    if depth > 1: return rng.choice(STRINGS)
    if r < 0.90: return [value(rng, other, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(STRINGS) or "k": value(rng, other, depth + 1) for _ in range(rng.randint(0, 3))}
plain = jinja2.Environment(loader=jinja2.FileSystemLoader([dt_dir]))
def names(src, seen, out):
    ast = plain.parse(src)
    out |= jinja2.meta.find_undeclared_variables(ast)
    for name in jinja2.meta.find_referenced_templates(ast):
        if name and name not in seen:
            seen.add(name)
            try:
                names(plain.loader.get_source(plain, name)[0], seen, out)
            except Exception:
                pass
for item in sys.stdin.read().split("\0"):
    if not item:
        continue
    kind, path = item.split("\t", 1)
    base = os.path.basename(path)[:-len(".jinja2")]
    try:
        src = open(path, encoding="utf-8").read()
        vs = set()
        names(src, set(), vs)
    except Exception:
        src, vs = "", set()
    vs = sorted(vs)
    env = jinja2.sandbox.SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([dt_dir, os.path.dirname(path)]), trim_blocks=True, autoescape=False)
    env.filters.update(shlex_quote=ref.shlex.quote, yaml_quote=ref.yaml_quote,
                       qemu_guest_fs_interface=ref.qemu_guest_fs_interface)
    for k in range(1, nrand + 1):
        rng = random.Random("%s/%s/%s/%d" % (seed, kind, base, k))
        # Retry with fewer variables and fewer non-strings until Python renders it, so that most renders compare
        # output rather than agree on a TypeError.
        for attempt in range(12):
            other = 0.5 * 0.6 ** attempt
            ctx = {v: value(rng, other) for v in vs if rng.random() < 0.6 * 0.8 ** attempt}
            try:
                env.from_string(src).render(**ctx)
                break
            except Exception:
                continue
        with open(os.path.join(outdir, "%s.%s.%d.yaml" % (kind, base, k)), "w", encoding="utf-8") as f:
            yaml.safe_dump(ctx, f, allow_unicode=True, default_flow_style=False)
EOF
	{
		find "$dt_dir" -maxdepth 1 -type f -name '*.jinja2' -printf 'template\t%p\0'
		[ -n "$dev_dir" ] && find "$dev_dir" -maxdepth 1 -type f -name '*.jinja2' -printf 'dictionary\t%p\0'
	} | "$PYTHON" "$work/gen.py" "$seed" "$nrand" "$dt_dir" "$work/ctx/rand" "$REFERENCE" ||
		{ echo "lava-compat: cannot generate random contexts" >&2; exit 2; }
fi

xargs -0 -n 4 -P "$jobs" bash -c 'render_one "$@"' _ <"$list"

# ---- the report ----------------------------------------------------------------------------
fail=0
for i in $(seq 1 "$n"); do
	[ -f "$work/res/$i" ] || { printf 'LAVAFS-FAILED\t?\t(render %s did not finish)\t?\n' "$i"; fail=1; continue; }
	IFS=$'\t' read -r status kind file ctx <"$work/res/$i"
	case $status in identical | both-failed) ;; *) fail=1 ;; esac
	if [ $quiet = 1 ] && { [ "$status" = identical ] || [ "$status" = both-failed ]; }; then
		continue
	fi
	printf '%-14s %s [%s]\n' "$status" "${file#"$top"/}" "$ctx"
	if [ -f "$work/res/$i.diff" ]; then
		head -n "$DIFF_LINES" "$work/res/$i.diff" | sed 's/^/    /'
	fi
done

for i in $(seq 1 "$n"); do [ -f "$work/res/$i" ] && cat "$work/res/$i"; done | awk -F'\t' '
{
	agree = ($1 == "identical" || $1 == "both-failed")
	r[$2]++; if (agree) ra[$2]++
	c[$1]++
	key = $2 SUBSEP $3
	if (!(key in fok)) { fok[key] = 1; files[$2]++ }
	if (!agree) fok[key] = 0
}
END {
	print ""
	print "summary:"
	for (k in c) printf "  %-14s %d renders\n", k, c[k]
	split("template dictionary", kinds, " "); split("templates dictionaries", plural, " ")
	for (i = 1; i <= 2; i++) {
		k = kinds[i]
		if (!(k in r)) continue
		ok = 0
		for (key in fok) { split(key, p, SUBSEP); if (p[1] == k && fok[key]) ok++ }
		printf "  %s: %d/%d files identical in every context; %d/%d renders agree\n", plural[i], ok, files[k], ra[k] + 0, r[k]
	}
}'
exit $fail
