#!/bin/bash
# b-jinja: time one render of a realistic device dictionary (extends a qemu device type that
# extends a base of a few hundred lines) with lavafs's engine and with python3-jinja2's
# SandboxedEnvironment, both with warm template caches, and print the ratio.
set -eu
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
dir=$TOP/tests/bench/jinja
bin=$TOP/$BUILD/bench/bench_jinja
[ -x "$bin" ] || make -C "$TOP" --no-print-directory -j2 benchbin >/dev/null
iters=${JINJA_BENCH_ITERS:-2000}
c_out=$("$bin" "$dir" qemu01.jinja2 "$dir/context.yaml" "$iters")
echo "$c_out" | head -1
c_us=$(echo "$c_out" | sed -n 's/^us_per_render=//p')
py_us=$(/usr/bin/python3 - "$dir" <<'PY'
import sys, timeit, shlex, yaml
import jinja2, jinja2.sandbox
d = sys.argv[1]
env = jinja2.sandbox.SandboxedEnvironment(loader=jinja2.FileSystemLoader([d]), trim_blocks=True, autoescape=False)
env.filters["shlex_quote"] = shlex.quote
env.filters["yaml_quote"] = lambda v: v
env.filters["qemu_guest_fs_interface"] = lambda a, i: i or ("ide" if a in ("amd64", "x86_64", "i386") else "virtio")
ctx = yaml.safe_load(open(d + "/context.yaml"))
def render():
    return env.get_template("qemu01.jinja2").render(**ctx)
render()
n = 200
best = min(timeit.repeat(render, number=n, repeat=3)) / n
print("%.3f" % (best * 1e6))
PY
)
echo "python3-jinja2: $py_us us/render"
awk -v c="$c_us" -v p="$py_us" 'BEGIN { printf "ratio: lavafs is %.1fx faster than python3-jinja2 per render\n", p / c }'
