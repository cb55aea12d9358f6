#!/usr/bin/python3
"""The reference for `lavafs render`: the same command line, rendered by Python's jinja2 the
way LAVA's server renders device templates (SandboxedEnvironment, trim_blocks, no autoescape,
LAVA's filters qemu_guest_fs_interface, shlex_quote and yaml_quote).

    reference.py [-t DIR]... FILE [-c CONTEXT.yaml]

Search path: the -t dirs in order, FILE's own directory, then the shipped templates
($LAVAFS_TEMPLATES, else templates/ of this source tree). Prints the output as it is; any
exception exits 1 with its message on stderr; usage errors exit 2.
"""
import io
import os
import shlex
import sys

import jinja2
import jinja2.sandbox
import yaml

X86_ARCHS = ("amd64", "x86_64", "i386")


def qemu_guest_fs_interface(arch, guestfs_interface):
    # An explicit interface wins; else only x86 PC machines have an IDE controller.
    if guestfs_interface:
        return guestfs_interface
    return "ide" if arch in X86_ARCHS else "virtio"


def yaml_quote(obj):
    # One flow-style, double-quoted YAML scalar/collection, without the document marker.
    stream = io.StringIO()
    dumper = yaml.SafeDumper(
        stream,
        default_flow_style=True,
        width=2**31 - 1,
        default_style='"',
        explicit_start=True,
        explicit_end=False,
    )
    dumper.open()
    dumper.represent(obj)
    return stream.getvalue()[4:-1]


def parse_args(argv):
    dirs, file, ctx = [], None, None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-t", "-c"):
            if i + 1 >= len(argv):
                return None
            if a == "-t":
                dirs.append(argv[i + 1])
            elif ctx is None:
                ctx = argv[i + 1]
            else:
                return None
            i += 2
            continue
        if a.startswith("-") and a != "-":
            return None
        if file is not None:
            return None
        file = a
        i += 1
    if file is None:
        return None
    return dirs, file, ctx


def main():
    parsed = parse_args(sys.argv[1:])
    if parsed is None:
        sys.stderr.write("usage: reference.py [-t DIR]... FILE [-c CONTEXT.yaml]\n")
        return 2
    dirs, file, ctxfile = parsed
    own = os.path.dirname(file) or "."
    shipped = os.environ.get("LAVAFS_TEMPLATES") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "templates"
    )
    try:
        ctx = {}
        if ctxfile is not None:
            with open(ctxfile, encoding="utf-8") as f:
                data = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            if data is not None:
                if not isinstance(data, dict):
                    raise ValueError("the context must be a YAML mapping")
                ctx = data
        env = jinja2.sandbox.SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(dirs + [own, shipped]),
            trim_blocks=True,
            autoescape=False,
        )
        env.filters["shlex_quote"] = shlex.quote
        env.filters["yaml_quote"] = yaml_quote
        env.filters["qemu_guest_fs_interface"] = qemu_guest_fs_interface
        with open(file, encoding="utf-8") as f:
            source = f.read()
        out = env.from_string(source).render(**ctx)
    except Exception as e:  # every failure is a render failure, as lavafs reports it
        sys.stderr.write("reference: %s: %s\n" % (type(e).__name__, e))
        return 1
    sys.stdout.write(out)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
