#!/bin/bash
# t-cases: every tests/cases/NAME through `lavafs compose`, compared with what the case
# expects (layout in tests/cases/README). Prints a diff per failing case, then a summary;
# exits 1 when any case fails. CASES="a b" runs only those cases.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
LAVAFS=${LAVAFS:-$TOP/build/asan/lavafs}
CASEDIR=$TOP/tests/cases
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# host.yaml holds two flat keys; read them without a YAML library.
host_key() {
	sed -n "s/^$2:[[:space:]]*//p" "$1" | sed 's/[[:space:]]*#.*//; s/^["'\'']//; s/["'\'']$//' | head -n 1
}

# Each line of $1 must occur (as a fixed string, case-insensitively) in file $2.
lines_in() {
	local want=$1 file=$2 line missing=0
	while IFS= read -r line || [ -n "$line" ]; do
		[ -n "$line" ] || continue
		if ! grep -qiF -- "$line" "$file"; then
			echo "    missing: $line"
			missing=1
		fi
	done <"$want"
	return $missing
}

# expected.env: KEY=VALUE must be an item of the env output; a bare KEY must be absent.
env_matches() {
	local want=$1 envfile=$2 line bad=0
	tr '\0' '\n' <"$envfile" >"$envfile.lines"
	while IFS= read -r line || [ -n "$line" ]; do
		[ -n "$line" ] || continue
		case $line in
		*=*)
			if ! grep -qxF -- "$line" "$envfile.lines"; then
				echo "    env lacks $line (has: $(grep "^${line%%=*}=" "$envfile.lines"))"
				bad=1
			fi
			;;
		*)
			if grep -q "^$line=" "$envfile.lines"; then
				echo "    env still has $(grep "^$line=" "$envfile.lines")"
				bad=1
			fi
			;;
		esac
	done <"$want"
	return $bad
}

run_case() {
	local c=$1 dir=$CASEDIR/$1 out=$tmp/$1 host=x86_64 kvm=0 rc
	mkdir -p "$out"
	out=$(cd "$out" && pwd -P)
	if [ -f "$dir/host.yaml" ]; then
		host=$(host_key "$dir/host.yaml" host_arch)
		host=${host:-x86_64}
		case $(host_key "$dir/host.yaml" kvm) in
		true | True | yes | 1) kvm=1 ;;
		esac
	fi
	local args=()
	[ -d "$dir/templates" ] && args+=(-t "$dir/templates")
	[ -f "$dir/context.yaml" ] && args+=(-c "$dir/context.yaml")
	[ -f "$dir/job.yaml" ] && args+=(-j "$dir/job.yaml")
	[ -f "$dir/env.yaml" ] && args+=(-e "$dir/env.yaml")
	# options before the dictionary: valid whether or not getopt permutes
	args+=(-o "$out" "$dir/dictionary")

	# Two variables env.yaml cases add, replace or drop.
	LAVAFS_CASE_KEEP=kept LAVAFS_CASE_DROP=dropped LAVAFS_HOST_ARCH=$host LAVAFS_KVM=$kvm \
		"$LAVAFS" compose "${args[@]}" >"$tmp/$c.stdout" 2>"$tmp/$c.stderr"
	rc=$?
	# messages name files relative to the case, so no case name can satisfy an expectation
	sed -i "s|$dir/||g" "$tmp/$c.stderr"

	if [ -f "$dir/expected.error" ]; then
		if [ $rc -ne 1 ]; then
			echo "  exit status $rc, expected 1; stderr:"
			sed 's/^/    /' "$tmp/$c.stderr"
			return 1
		fi
		if ! lines_in "$dir/expected.error" "$tmp/$c.stderr"; then
			echo "  stderr was:"
			sed 's/^/    /' "$tmp/$c.stderr"
			return 1
		fi
		return 0
	fi

	if [ $rc -ne 0 ]; then
		echo "  exit status $rc, expected 0; stderr:"
		sed 's/^/    /' "$tmp/$c.stderr"
		return 1
	fi
	if [ ! -f "$out/argv" ]; then
		echo "  no argv in the output directory"
		return 1
	fi
	local ok=0
	tr '\0' '\n' <"$out/argv" | sed "s|$out|@OUTDIR@|g" >"$tmp/$c.argv"
	if ! diff -u "$dir/expected.argv" "$tmp/$c.argv" >"$tmp/$c.diff"; then
		echo "  argv differs (- expected, + lavafs):"
		tail -n +3 "$tmp/$c.diff" | sed 's/^/    /'
		ok=1
	fi
	if [ -f "$dir/expected.warnings" ]; then
		if [ ! -f "$out/status" ] || ! lines_in "$dir/expected.warnings" "$out/status"; then
			echo "  status was:"
			sed 's/^/    /' "$out/status" 2>/dev/null
			ok=1
		fi
	fi
	if [ -f "$dir/expected.env" ]; then
		if [ ! -f "$out/env" ]; then
			echo "  no env in the output directory"
			ok=1
		elif ! env_matches "$dir/expected.env" "$out/env"; then
			ok=1
		fi
	fi
	return $ok
}

if [ ! -x "$LAVAFS" ]; then
	echo "t-cases: $LAVAFS is not built"
	exit 1
fi
pass=0
fail=0
failed=
for dir in "$CASEDIR"/*/; do
	c=$(basename "$dir")
	[ -f "$dir/dictionary" ] || continue
	case " ${CASES:-} " in "  ") ;; *" $c "*) ;; *) continue ;; esac
	if [ ! -f "$dir/expected.error" ] && [ ! -f "$dir/expected.argv" ]; then
		echo "FAIL $c: neither expected.argv nor expected.error"
		fail=$((fail + 1))
		failed="$failed $c"
		continue
	fi
	if report=$(run_case "$c"); then
		pass=$((pass + 1))
	else
		echo "FAIL $c"
		printf '%s\n' "$report"
		fail=$((fail + 1))
		failed="$failed $c"
	fi
done
echo "t-cases: $pass passed, $fail failed${failed:+ (failed:$failed)}"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
