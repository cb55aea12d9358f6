#!/bin/sh
# Regenerates the seed corpora in tests/fuzz/corpus/TARGET from the test inputs of the tree
# (tests/cases, tests/yaml/cases, tests/shellwords, tests/jinja/corpus, templates/). The
# hand-written seeds (hand-*) are kept. Multi-part inputs join their parts with NUL bytes, as
# the targets split them. Run from anywhere.
set -eu
TOP=$(cd "$(dirname "$0")/../../.." && pwd)
C=$TOP/tests/fuzz/corpus
mkdir -p "$C/jinja" "$C/yaml" "$C/compose" "$C/job" "$C/shellwords" "$C/env"
find "$C" -mindepth 2 -type f ! -name 'hand-*' -exec rm -f {} +

# name: a seed's file name from its source path (tests/cases/x/context.yaml -> x-context.yaml)
name() { printf '%s' "$1" | sed "s|^$TOP/||; s|^tests/||; s|/|-|g"; }
# join OUT PART...: PART contents separated by NUL bytes ("-" is an empty part)
join() {
	out=$1
	shift
	: >"$out"
	first=1
	for p in "$@"; do
		[ $first = 1 ] || printf '\0' >>"$out"
		first=0
		[ "$p" = - ] || cat "$p" >>"$out"
	done
}

for f in "$TOP"/tests/shellwords/*.in; do cp "$f" "$C/shellwords/$(name "$f")"; done
for f in "$TOP"/tests/yaml/cases/*.yaml "$TOP"/tests/cases/*/context.yaml \
	"$TOP"/tests/cases/*/job.yaml; do
	[ -f "$f" ] && cp "$f" "$C/yaml/$(name "$f")"
done
for f in "$TOP"/tests/cases/*/env.yaml; do [ -f "$f" ] && cp "$f" "$C/env/$(name "$f")"; done

for d in "$TOP"/tests/cases/*/; do
	d=${d%/}
	n=$(basename "$d")
	[ -f "$d/dictionary" ] || continue
	if [ -f "$d/job.yaml" ]; then
		tags=-
		[ -f "$d/tags" ] && tags=$d/tags
		join "$C/job/$n" "$d/job.yaml" "$d/dictionary" "$tags"
	else
		ctx=-
		envy=-
		[ -f "$d/context.yaml" ] && ctx=$d/context.yaml
		[ -f "$d/env.yaml" ] && envy=$d/env.yaml
		if [ "$envy" = - ]; then
			join "$C/compose/$n" "$d/dictionary" "$ctx"
		else
			join "$C/compose/$n" "$d/dictionary" "$ctx" "$envy"
		fi
	fi
done

# Jinja: each template of the tree on its own, and the reproducer cases with their context.
for f in "$TOP"/templates/*.jinja2 "$TOP"/templates/*/*.jinja2 "$TOP"/tests/cases/*/dictionary; do
	[ -f "$f" ] && cp "$f" "$C/jinja/$(name "$f")"
done
# tests/jinja/corpus/CASE/{template,base}.jinja2 + context.yaml: base.jinja2 is the target's
# third part (written where extends finds it).
for d in "$TOP"/tests/jinja/corpus/*/; do
	[ -f "$d/template.jinja2" ] || continue
	ctx=-
	base=-
	[ -f "$d/context.yaml" ] && ctx=$d/context.yaml
	[ -f "$d/base.jinja2" ] && base=$d/base.jinja2
	join "$C/jinja/corpus-$(basename "$d")" "$d/template.jinja2" "$ctx" "$base"
done

for t in jinja yaml compose job shellwords env; do
	printf '%s: %s seeds\n' "$t" "$(ls "$C/$t" | wc -l)"
done
