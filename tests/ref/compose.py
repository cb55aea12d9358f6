#!/usr/bin/python3
"""compose.py - the reference composition, in Python, of a LAVA QEMU command line.

    compose.py [-t DIR]... DICTIONARY [-c CONTEXT.yaml | -j JOB.yaml]
               [--host-arch A] [--kvm 0|1] [--outdir OUTDIR] [--bench N]

Renders the device dictionary as LAVA's server does (Debian's python3-jinja2, sandboxed,
trim_blocks, no autoescape, LAVA's three filters), reads the QEMU boot method's command,
options and extra from the result, appends the job's image_args with every {label} replaced
by OUTDIR/images/LABEL/FILENAME and, when the job has a test action, the guest -drive; then
splits the whole line as a POSIX shell would and prints one argv item per line.

It is what tests/cases/*/expected.argv are generated from, and what the benchmark compares
`lavafs compose` against (--bench N prints microseconds per composition, warm).
Run it with /usr/bin/python3 (Debian's python3-jinja2 and python3-yaml).
"""

import argparse
import os
import posixpath
import shlex
import sys
import time
from urllib.parse import urlparse

import jinja2
import jinja2.sandbox
import yaml

# LAVA reads YAML with libyaml's loader when PyYAML has it, as we do.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
X86_ARCHS = ("amd64", "x86_64", "i386")


class ComposeError(Exception):
    pass


# LAVA's filters, with LAVA's meaning.
def qemu_guest_fs_interface(arch, guestfs_interface):
    """The bus of the guest test disk: what the context asks for, else the one the machine
    surely has (only x86 PCs have IDE)."""
    if guestfs_interface:
        return guestfs_interface
    return "ide" if arch in X86_ARCHS else "virtio"


def yaml_quote(value):
    """A string as one double-quoted YAML scalar."""
    text = yaml.safe_dump(str(value), default_style='"', width=float("inf"), allow_unicode=True)
    return text.rstrip("\n")


def make_env(template_dirs, dictionary_dir):
    dirs = list(template_dirs) + [dictionary_dir, os.path.join(TOP, "templates")]
    env = jinja2.sandbox.SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(dirs), trim_blocks=True, autoescape=False
    )
    env.filters["qemu_guest_fs_interface"] = qemu_guest_fs_interface
    env.filters["shlex_quote"] = shlex.quote
    env.filters["yaml_quote"] = yaml_quote
    return env


def load_yaml(path, what):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        data = yaml.load(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        raise ComposeError("%s: %s" % (path, exc))
    return data


def job_inputs(job):
    """(context, [(label, image)...] in job order, has_test) of a whole LAVA job."""
    if not isinstance(job, dict):
        raise ComposeError("job is not a mapping")
    context = job.get("context") or {}
    images = []
    has_test = False
    for action in job.get("actions") or []:
        if not isinstance(action, dict):
            continue
        for kind, params in action.items():
            if kind == "test":
                has_test = True
            if kind == "deploy" and isinstance(params, dict):
                for label, image in (params.get("images") or {}).items():
                    images.append((label, image or {}))
    return context, images, has_test


def image_filename(image):
    name = posixpath.basename(urlparse(str(image.get("url", ""))).path)
    compression = image.get("compression")
    if compression and name.endswith("." + str(compression)):
        name = name[: -len(str(compression)) - 1]
    return name


def compose(env, dictionary, context, images, has_test, host_arch, kvm, outdir):
    variables = dict(context)
    variables["host_arch"] = host_arch
    variables["kvm"] = kvm
    rendered = env.from_string(dictionary).render(**variables)
    try:
        device = yaml.load(rendered, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        raise ComposeError("rendered device configuration is not YAML: %s" % exc)

    arch = context.get("arch")
    if arch is None:
        raise ComposeError("the job context must set arch")
    available = device.get("available_architectures") or []
    if arch not in available:
        raise ComposeError("arch %s is not one of %s" % (arch, ", ".join(map(str, available))))

    params = device["actions"]["boot"]["methods"]["qemu"]["parameters"]
    if not params.get("command"):
        raise ComposeError("the device configuration has no QEMU command")
    extra = params.get("extra") or []
    if not isinstance(extra, list) or any(isinstance(x, (list, dict)) for x in extra):
        raise ComposeError("extra_options must be a list of strings or numbers")
    words = [params["command"]] + list(params.get("options") or [])
    words += ["%s" % item for item in extra]

    paths = {}
    for label, image in images:
        paths["{%s}" % label] = posixpath.join(outdir, "images", label, image_filename(image))
    for label, image in images:
        arg = image.get("image_arg")
        if not arg:
            continue
        for key, path in paths.items():
            arg = arg.replace(key, path)
        words.append(arg)

    if has_test:
        guest = device["actions"]["deploy"]["methods"]["image"]["parameters"]["guest"]
        words.append(
            "-drive format=qcow2,file=%s,media=disk,if=%s,id=%s,snapshot=on"
            % (posixpath.join(outdir, "lava-guest.qcow2"), guest["interface"], guest["driveid"])
        )
    try:
        return shlex.split(" ".join(str(w) for w in words))
    except ValueError as exc:
        raise ComposeError("argv does not split: %s" % exc)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-t", dest="templates", action="append", default=[])
    p.add_argument("dictionary")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-c", dest="context")
    g.add_argument("-j", dest="job")
    p.add_argument("--host-arch", default="x86_64")
    p.add_argument("--kvm", type=int, choices=(0, 1), default=0)
    p.add_argument("--outdir", default="@OUTDIR@")
    p.add_argument("--bench", type=int, default=0)
    a = p.parse_args()

    try:
        with open(a.dictionary, encoding="utf-8") as f:
            dictionary = f.read()
        context, images, has_test = {}, [], False
        if a.context:
            context = load_yaml(a.context, "context")
            if context is None:
                context = {}
            if not isinstance(context, dict):
                raise ComposeError("%s: the context is not a mapping" % a.context)
        elif a.job:
            context, images, has_test = job_inputs(load_yaml(a.job, "job"))
        env = make_env(a.templates, os.path.dirname(os.path.abspath(a.dictionary)))
        args = (env, dictionary, context, images, has_test, a.host_arch, bool(a.kvm), a.outdir)
        argv = compose(*args)
        if a.bench > 0:
            start = time.perf_counter()
            for _ in range(a.bench):
                compose(*args)
            print("%.1f" % ((time.perf_counter() - start) * 1e6 / a.bench))
            return 0
    except (ComposeError, jinja2.TemplateError) as exc:
        print("compose.py: %s" % exc, file=sys.stderr)
        return 1
    for item in argv:
        print(item)
    return 0


if __name__ == "__main__":
    sys.exit(main())
