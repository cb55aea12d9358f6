#!/bin/sh
# Regenerates tests/cases/*/expected.argv with the Python reference (tests/ref/compose.py)
# for every case that is not an error case. With LAVA_TEMPLATES=DIR (a copy of LAVA's own
# device-types directory), also renders each case with LAVA's templates and prints the
# cases whose argv differ from ours, with the diff: the cross-check tests/cases/README
# describes. Usage: sh tests/ref/regen.sh [CASE...]
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
cd "$TOP/tests/cases" || exit 1
[ $# -gt 0 ] || set -- *
status=0
for c in "$@"; do
	[ -f "$c/dictionary" ] || continue
	[ -f "$c/expected.error" ] && continue
	host=x86_64
	kvm=0
	if [ -f "$c/host.yaml" ]; then
		host=$($PY -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1])).get("host_arch", "x86_64"))' "$c/host.yaml")
		kvm=$($PY -c 'import sys, yaml; print(int(bool(yaml.safe_load(open(sys.argv[1])).get("kvm"))))' "$c/host.yaml")
	fi
	set -- --host-arch "$host" --kvm "$kvm"
	[ -f "$c/context.yaml" ] && set -- "$@" -c "$c/context.yaml"
	[ -f "$c/job.yaml" ] && set -- "$@" -j "$c/job.yaml"
	tdir=
	[ -d "$c/templates" ] && tdir="-t $c/templates"
	# shellcheck disable=SC2086
	if ! $PY "$TOP/tests/ref/compose.py" $tdir "$c/dictionary" "$@" > "$c/expected.argv.new"; then
		echo "regen: $c failed" >&2
		rm -f "$c/expected.argv.new"
		status=1
		continue
	fi
	mv "$c/expected.argv.new" "$c/expected.argv"
	if [ -n "${LAVA_TEMPLATES:-}" ]; then
		# shellcheck disable=SC2086
		if $PY "$TOP/tests/ref/compose.py" $tdir -t "$LAVA_TEMPLATES" "$c/dictionary" "$@" > "/tmp/lava-$$.argv" 2> "/tmp/lava-$$.err"; then
			if ! diff -u "$c/expected.argv" "/tmp/lava-$$.argv" > "/tmp/lava-$$.diff"; then
				echo "=== $c differs from LAVA's templates (- ours, + LAVA's)"
				tail -n +3 "/tmp/lava-$$.diff" | grep '^[-+]'
			fi
		else
			echo "=== $c: LAVA's templates refuse it: $(cat "/tmp/lava-$$.err")"
		fi
		rm -f "/tmp/lava-$$.argv" "/tmp/lava-$$.err" "/tmp/lava-$$.diff"
	fi
done
exit $status
