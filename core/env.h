/* env: the QEMU environment from the server-level env.yaml (overrides, removes, purge),
 * applied to a base environment the way LAVA's worker applies it. Jobs never reach it. */
#ifndef LAVAFS_ENV_H
#define LAVAFS_ENV_H

#include <stddef.h>

#include "arena.h"
#include "error.h"
#include "strbuf.h"

/* env.yaml text (may be empty) + base environment (NULL-terminated KEY=VALUE array) →
 * `out` gets KEY=VALUE items each followed by NUL, sorted by key. `name` labels errors. */
int env_compose(struct arena *a, const char *name, const char *yaml, size_t len,
		char *const *base, struct strbuf *out, struct lf_error *err);

#endif
