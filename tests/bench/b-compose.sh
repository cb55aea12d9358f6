#!/bin/bash
# Composition (render + YAML + argv) per operation: lavafs's core vs the same steps done with
# python3-jinja2 + PyYAML (tests/ref/compose.py, its compiled templates cached), same inputs,
# same run. Goal: ratio >= 100.
set -euo pipefail
cd "$TOP"
N=${BENCH_N:-20000}
D=tests/bench/compose
c_us=$("$BUILD/bench/bench_compose" templates "$D/dictionary.jinja2" "$D/context.yaml" "$N")
py_us=$(/usr/bin/python3 - "$D" <<'PY'
import functools, sys, time
sys.path.insert(0, "tests/ref")
import compose as ref, yaml
d = sys.argv[1]
env = ref.make_env(["templates"], d)
env.from_string = functools.lru_cache(maxsize=None)(env.from_string)  # warm, like LAVA's loader
dictionary = open(d + "/dictionary.jinja2").read()
ctx_text = open(d + "/context.yaml").read()
def once():
    ctx = yaml.safe_load(ctx_text)
    return ref.compose(env, dictionary, ctx, [], False, "x86_64", True, "/tmp")
for _ in range(50):
    once()
n = 500
t = time.perf_counter()
for _ in range(n):
    once()
print("%.2f" % ((time.perf_counter() - t) * 1e6 / n))
PY
)
ratio=$(awk -v p="$py_us" -v c="$c_us" 'BEGIN { printf "%.1f", p / c }')
echo "compose: lavafs ${c_us} us/op, python3-jinja2+PyYAML ${py_us} us/op, ratio ${ratio}x (goal >= 100x)"
