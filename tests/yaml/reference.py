#!/usr/bin/python3
"""Reference for the YAML differential test: print repr(yaml.safe_load(FILE)) as PyYAML
(python3-yaml) builds it, adjusted where lavafs documents a difference, so outputs compare
byte for byte with `lavafs debug yaml FILE`:

- timestamps print as the scalar's text (lavafs has no date type), after PyYAML has
  checked them (an invalid date still fails);
- !!binary prints as its base64 text (after PyYAML has decoded it);
- !!set is a dict whose values are None, in document order (a Python set's order is
  per-process random);
- an int outside int64 and a recursive alias (a collection that contains itself) are errors.

Exits 1 with the error on stderr when loading fails, like lavafs does."""
import sys

import yaml


class Loader(yaml.SafeLoader):
    pass


def timestamp_as_text(loader, node):
    yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    return loader.construct_scalar(node)


def binary_as_text(loader, node):
    yaml.SafeLoader.construct_yaml_binary(loader, node)
    return loader.construct_scalar(node)


def set_as_dict(loader, node):
    data = {}
    yield data
    data.update(dict.fromkeys(loader.construct_mapping(node)))


Loader.add_constructor('tag:yaml.org,2002:timestamp', timestamp_as_text)
Loader.add_constructor('tag:yaml.org,2002:binary', binary_as_text)
Loader.add_constructor('tag:yaml.org,2002:set', set_as_dict)


def check(value, path):
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not -2**63 <= value < 2**63:
        raise ValueError('integer %d does not fit in 64 bits' % value)
    if isinstance(value, (list, tuple, dict)):
        if id(value) in path:
            raise ValueError('recursive alias')
        path.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            check(k, path)
            check(v, path)
        path.discard(id(value))


def main():
    with open(sys.argv[1], 'rb') as f:
        data = f.read()
    try:
        value = yaml.load(data, Loader=Loader)
        check(value, set())
    except Exception as e:  # PyYAML lets ValueError etc. from int()/float() through too
        sys.stderr.write('reference: %s: %s: %s\n' % (sys.argv[1], type(e).__name__, e))
        return 1
    sys.stdout.write(repr(value) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
