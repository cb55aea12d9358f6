#!/usr/bin/python3
"""Writes the matrix cases of tests/jinja/cases: every filter (flt-matrix-NAME), every str,
list and dict method (meth-matrix-TYPE) and every test (tst-matrix) applied to a spread of
inputs with a spread of arguments, and every binary operator between them (op-matrix), one
line per combination that python3-jinja2 renders.

    /usr/bin/python3 tests/jinja/gen-matrix.py [LAVAFS]

Combinations Python refuses are left out (each would end its template). With LAVAFS given
(build/lavafs), each line is also rendered by it and the lines it renders differently are
left out too and printed: what stays is what t-jinja-diff then holds lavafs to. Lines
dropped today: the Python-only integers beyond 64 bits, generator filters given keyword
arguments they only pass on (select(reverse=true) on an empty input), batch() with a
linecount that is no integer, pprint of a range, wordwrap with a float width, Markup methods
(("x"|safe|upper) is escaped), complex powers.
"""
import os
import shlex
import subprocess
import sys

import jinja2
import jinja2.sandbox

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "jinja"))
import reference as jref  # noqa: E402

FILTERS = ["abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort",
           "e", "escape", "filesizeformat", "first", "float", "forceescape", "format", "groupby",
           "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max",
           "min", "pprint", "reject", "rejectattr", "replace", "reverse", "round", "safe",
           "select", "selectattr", "slice", "sort", "string", "striptags", "sum", "title",
           "tojson", "trim", "truncate", "unique", "upper", "urlencode", "wordcount", "wordwrap",
           "xmlattr", "shlex_quote", "yaml_quote", "qemu_guest_fs_interface"]
INPUTS = ['0', '-3', '7', '2.5', '-0.5', '1e20', '""', '"abc"', '"Hello World foo bar"',
          '" a b "', '"<b>x</b> &amp; y"', '"ÄÖü ß"', '"x\\ny"', '[]', '[3,1,2]',
          '["b","a","C"]', '[1,"a"]', '[[1,2],[3]]', '[{"a":2,"b":"x"},{"a":1,"b":"y"}]', '{}',
          '{"b":1,"a":2}', '{"k":[1,2]}', 'none', 'true', 'false', 'undef_v', '(1,2)',
          '"1,234"', '"42"', '"0x1F"', '" 12 "', '"3.7"', 'range(3)']
ARGS = ['', '()', '(2)', '(true)', '("a")', '(0)', '(-1)', '(3, "x")', '("a", "b")',
        '(attribute="a")', '(reverse=true)', '("%s-%s", 1)', '(1.5)', '(none)', '("e")']

STR_M = ["capitalize", "casefold", "center", "count", "endswith", "expandtabs", "find", "format",
         "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier",
         "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust",
         "lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind",
         "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines",
         "startswith", "strip", "swapcase", "title", "upper", "zfill"]
LIST_M = ["count", "index", "copy", "append", "pop", "reverse", "sort", "insert", "extend",
          "remove", "clear"]
DICT_M = ["get", "items", "keys", "values", "copy", "pop", "popitem", "setdefault", "update",
          "clear"]
SINP = ['""', '"abc"', '"a,b,,c"', '" x y  "', '"Hello World"', '"a\\tb"', '"123"',
        '"x\\ny\\r\\nz"', '"ÄÖü"', '"-5"', '"a_b1"', '"%s-%s"', '"{} {}"', '"{0}{a}"']
LINP = ['[]', '[3,1,2]', '["b","a"]', '[1,"a",1]']
DINP = ['{}', '{"b":1,"a":2}', '{"k":[1,2]}']
SARGS = ['()', '(",")', '("a")', '(1)', '(2, "*")', '("a","b")', '("a","b",1)', '(" ")',
         '(none)', '(10)', '(-1)', '(none, 1)', '(",", 1)', '("x", 0, 2)', '(["a","b"])',
         '(a=1)', '(1,2)']
LARGS = ['()', '(1)', '(0)', '(-1)', '("a")', '(1, 2)', '([9])', '(reverse=true)', '(key=none)']
DARGS = ['()', '("a")', '("a", 5)', '("z")', '("z", 5)', '({"c":3})', '(c=3)']


TESTS = ["!=", "<", "<=", "==", ">", ">=", "boolean", "callable", "defined", "divisibleby", "eq",
         "equalto", "escaped", "even", "false", "filter", "float", "ge", "greaterthan", "gt",
         "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none",
         "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper"]
VALS = ['0', '1', '-3', '2.5', '0.0', '1e300', '""', '"ab"', '"5"', '[]', '[1,2]', '(1,)', '{}',
        '{"a":1}', 'none', 'true', 'false', 'undef_v', 'range(3)', '"A"', '"ab"|upper',
        '"<b>"|e', '"x"|safe']
TARGS = ['', '(2)', '("a")', '(none)', '(1.5)', '([1,2])', '("ab")']
OPS = ['+', '-', '*', '/', '//', '%', '**', '==', '!=', '<', '<=', '>', '>=', 'in', 'not in',
       '~', 'and', 'or']


def groups():
    g = {}
    for t in TESTS:
        for v in VALS:
            for a in TARGS:
                g.setdefault("tst-matrix", []).append(
                    "{%% raw %%}%s is %s%s{%% endraw %%} = {{ (%s) is %s%s }}" % (v, t, a, v, t, a))
    for op in OPS:
        for a in VALS:
            for b in VALS:
                g.setdefault("op-matrix", []).append(
                    "{%% raw %%}%s %s %s{%% endraw %%} = {{ (%s) %s (%s) }}" % (a, op, b, a, op, b))
    for inp, ms, args, name in ((SINP, STR_M, SARGS, "str"), (LINP, LIST_M, LARGS, "list"),
                                (DINP, DICT_M, DARGS, "dict")):
        for i in inp:
            for m in ms:
                for a in args:
                    label = "%s.%s%s" % (i, m, a)
                    g.setdefault("meth-matrix-" + name, []).append(
                        "{%% set v = %s %%}{%% raw %%}%s{%% endraw %%} = {{ v.%s%s }}|{{ v }}"
                        % (i, label, m, a))
    for f in FILTERS:
        for i in INPUTS:
            for a in ARGS:
                e = "((%s)|%s%s)" % (i, f, a)
                # generators print their address: iterate what can be iterated
                g.setdefault("flt-matrix-" + f, []).append(
                    "{%% raw %%}%s|%s%s{%% endraw %%} = {{ %s|list if %s is iterable and not %s "
                    "is string and not %s is mapping else %s }}" % (i, f, a, e, e, e, e, e))
    return g


def main():
    lavafs = sys.argv[1] if len(sys.argv) > 1 else None
    env = jinja2.sandbox.SandboxedEnvironment(trim_blocks=True)
    env.filters["shlex_quote"] = shlex.quote
    env.filters["yaml_quote"] = jref.yaml_quote
    env.filters["qemu_guest_fs_interface"] = jref.qemu_guest_fs_interface
    one = os.path.join(TOP, "build", "gen-matrix.jinja2")
    total = dropped = 0
    for name, lines in groups().items():
        keep = []
        for line in lines:
            try:
                want = env.from_string(line).render()
            except Exception:
                continue
            if " at 0x" in want:
                continue
            if lavafs:
                with open(one, "w") as f:
                    f.write(line)
                r = subprocess.run([lavafs, "render", one], capture_output=True)
                if r.returncode != 0 or r.stdout.decode("utf-8", "replace") != want:
                    print("dropped %s: %s" % (name, line.split("{% endraw %}")[0][9:]))
                    dropped += 1
                    continue
            keep.append(line)
        d = os.path.join(TOP, "tests", "jinja", "cases", name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "template.jinja2"), "w") as f:
            f.write("\n".join(keep) + "\n")
        total += len(keep)
    print("%d lines written, %d dropped" % (total, dropped))


main()
