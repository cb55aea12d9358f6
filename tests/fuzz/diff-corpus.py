#!/usr/bin/python3
"""diff-corpus.py - hold what the fuzzers found against the Python references.

libFuzzer keeps every input that reached new code; most are odd templates and YAML no test
writer would think of. This renders each of them with lavafs and with the reference (Python's
jinja2 with LAVA's settings, PyYAML's safe_load) and reports where the two disagree.

    tests/fuzz/diff-corpus.py [-l LAVAFS] [-o OUTDIR] jinja|compose|yaml FILE...

  jinja    an input of fuzz_jinja: template \\0 context YAML \\0 base.jinja2 \\0 inc.jinja2
           (the harness's defaults and base context are used as it uses them)
  compose  an input of fuzz_compose: dictionary \\0 context YAML; the dictionary is rendered
           with the shipped templates, as `lavafs render` does
  yaml     one YAML document, read by `lavafs debug yaml`

Inputs whose template is not UTF-8, whose context is not a mapping of string keys, or that
run Python for more than 3 s are skipped. Each disagreement is copied to OUTDIR (default
./diff-corpus) with a .txt beside it holding both results; the summary counts agree
(same output, or both failed), differ, lavafs-only failures and python-only failures.
Known differences that cannot be closed print an address (a bound method, a generator).
"""
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

import importlib.util

import jinja2
import jinja2.sandbox
import yaml

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(TOP, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


jref = load("jinja_reference", "tests/jinja/reference.py")
yref = load("yaml_reference", "tests/yaml/reference.py")

# what tests/fuzz/fuzz_jinja.c writes when a part is missing, and the context it starts from
DEF_BASE = (b"{% block head %}head {{ arch | default('none') }}{% endblock %}\n"
            b"{% block body %}{% endblock %}\n"
            b"{% macro m(x, y=2) %}[{{ x }}:{{ y }}]{% endmacro %}\n")
DEF_INC = b"inc {{ memory | default(0) }} {% for i in items %}{{ i }}{% endfor %}\n"
BASE_CTX = {"arch": "amd64", "memory": 1024, "no_kvm": False, "ratio": 0.5,
            "quote": "it's \"quoted\" $(x)", "items": [0, 1, 2, "-net user"],
            "d": {"a": 1, "b": None}}


class Timeout(Exception):
    pass


def on_alarm(*_):
    raise Timeout()


def utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def python_render(dirs, source, ctx):
    env = jinja2.sandbox.SandboxedEnvironment(loader=jinja2.FileSystemLoader(dirs),
                                              trim_blocks=True, autoescape=False)
    env.filters["shlex_quote"] = shlex.quote
    env.filters["yaml_quote"] = jref.yaml_quote
    env.filters["qemu_guest_fs_interface"] = jref.qemu_guest_fs_interface
    return env.from_string(source).render(**ctx)


def template_case(lavafs, mode, data, work):
    """Returns (python result or None, python error, lavafs result or None, lavafs error),
    or None to skip."""
    parts = data.split(b"\0", 3 if mode == "jinja" else 1)
    if not utf8(parts[0]):
        return None
    ctx = dict(BASE_CTX) if mode == "jinja" else {}
    if len(parts) > 1 and parts[1] and utf8(parts[1]):
        try:
            v = yaml.safe_load(parts[1].decode())
        except Exception:
            v = None
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                return None
            ctx.update(v)
    try:
        ctxtext = yaml.safe_dump(ctx, allow_unicode=True)
    except Exception:
        return None
    with open(os.path.join(work, "root.jinja2"), "wb") as f:
        f.write(parts[0])
    with open(os.path.join(work, "ctx.yaml"), "w") as f:
        f.write(ctxtext)
    dirs = [work]
    if mode == "jinja":
        for i, name, default in ((2, "base.jinja2", DEF_BASE), (3, "inc.jinja2", DEF_INC)):
            text = parts[i] if len(parts) > i and utf8(parts[i]) else default
            with open(os.path.join(work, name), "wb") as f:
                f.write(text)
    else:
        dirs.append(os.path.join(TOP, "templates"))
    py = pyerr = None
    signal.alarm(3)
    try:
        py = python_render(dirs, parts[0].decode(), yaml.safe_load(ctxtext))
    except (Timeout, RecursionError, MemoryError):
        return None
    except Exception as e:
        pyerr = "%s: %s" % (type(e).__name__, e)
    finally:
        signal.alarm(0)
    cmd = [lavafs, "render", "-t", work, os.path.join(work, "root.jinja2"),
           "-c", os.path.join(work, "ctx.yaml")]
    r = subprocess.run(cmd, capture_output=True, timeout=30)
    lf = r.stdout.decode("utf-8", "surrogateescape") if r.returncode == 0 else None
    return py, pyerr, lf, r.stderr.decode("utf-8", "replace"), r.returncode


def yaml_case(lavafs, path):
    with open(path, "rb") as f:
        data = f.read()
    signal.alarm(3)
    try:
        v = yaml.load(data, Loader=yref.Loader)
        yref.check(v, set())
        py, pyerr = repr(v) + "\n", None
    except (Timeout, RecursionError):
        return None
    except Exception as e:
        py, pyerr = None, "%s: %s" % (type(e).__name__, e)
    finally:
        signal.alarm(0)
    r = subprocess.run([lavafs, "debug", "yaml", path], capture_output=True, timeout=30)
    lf = r.stdout.decode("utf-8", "surrogateescape") if r.returncode == 0 else None
    return py, pyerr, lf, r.stderr.decode("utf-8", "replace"), r.returncode


def main(argv):
    lavafs = os.path.join(TOP, "build", "lavafs")
    outdir = "diff-corpus"
    while argv and argv[0] in ("-l", "-o") and len(argv) > 1:
        if argv[0] == "-l":
            lavafs = argv[1]
        else:
            outdir = argv[1]
        argv = argv[2:]
    if not argv or argv[0] not in ("jinja", "compose", "yaml"):
        sys.stderr.write(__doc__)
        return 2
    mode, files = argv[0], argv[1:]
    signal.signal(signal.SIGALRM, on_alarm)
    os.makedirs(outdir, exist_ok=True)
    count = {"agree": 0, "differ": 0, "lavafs-only-failed": 0, "python-only-failed": 0,
             "skipped": 0, "crashed": 0}
    for path in files:
        work = tempfile.mkdtemp(prefix="lavafs-diff-")
        try:
            with open(path, "rb") as f:
                data = f.read()
            res = yaml_case(lavafs, path) if mode == "yaml" else \
                template_case(lavafs, mode, data, work)
        except OSError:
            res = None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if res is None:
            count["skipped"] += 1
            continue
        py, pyerr, lf, lferr, rc = res
        if rc > 1:
            kind = "crashed"
        elif py is None and lf is None:
            kind = "agree"
        elif py is None:
            kind = "python-only-failed"
        elif lf is None:
            kind = "lavafs-only-failed"
        else:
            kind = "agree" if py == lf else "differ"
        count[kind] += 1
        if kind != "agree":
            name = os.path.join(outdir, "%s-%s" % (kind, os.path.basename(path)))
            shutil.copy(path, name)
            with open(name + ".txt", "w") as f:
                f.write("python: %r\npython error: %s\nlavafs: %r\nlavafs error: %s\n" %
                        (py, pyerr, lf, lferr))
    print("diff-corpus %s: %s" % (mode, ", ".join("%d %s" % (v, k) for k, v in count.items())))
    return 1 if count["differ"] or count["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
