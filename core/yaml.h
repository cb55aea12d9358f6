/* yaml: libyaml in and out. Scalars resolve exactly as PyYAML's safe_load resolves them
 * (YAML 1.1 core: bools in all their spellings, null, 0x/0o/leading-zero ints, base-60,
 * floats with .inf/.nan); anchors and aliases; errors carry line and column. */
#ifndef LAVAFS_YAML_H
#define LAVAFS_YAML_H

#include <stddef.h>

#include "arena.h"
#include "error.h"
#include "strbuf.h"
#include "value.h"

struct yaml_limits {
	size_t max_depth;   /* nesting of collections; 0 = default (256) */
	size_t max_nodes;   /* nodes after alias expansion ("billion laughs"); 0 = default (1e6) */
};

/* Parse the one document of `text` as yaml.safe_load does: an empty stream (or only comments)
 * is None, a second document is an error ("expected a single document in the stream").
 * `name` is the file name used in errors, which carry 1-based line and column. Every value
 * gets the 1-based line it starts on in value->line; aliases share the anchored value.
 * Errors: -EINVAL (syntax, unknown tag, bad scalar for its tag), -ERANGE (int beyond int64),
 * -E2BIG (a limit), -ENOMEM. Timestamps and !!binary stay strings (their text); !!set is a
 * mapping to None; !!omap/!!pairs are lists of 2-tuples. */
int yaml_parse(struct arena *a, const char *name, const char *text, size_t len,
	       const struct yaml_limits *limits, struct value **out, struct lf_error *err);

/* Emit `v` as a block-style YAML document (mappings keep their order), quoting strings that
 * would otherwise resolve to another type, so yaml_parse(yaml_emit(v)) == v. Tuples are
 * written as sequences, Undefined and engine objects as null; shared values are written out
 * in full at each place (no anchors). */
void yaml_emit(struct strbuf *sb, const struct value *v);

#endif
