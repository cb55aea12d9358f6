/* jinja: a Jinja2 template engine whose output is byte-identical to Python's jinja2 3.x
 * SandboxedEnvironment with LAVA's settings: trim_blocks=True, lstrip_blocks=False, no
 * autoescape, keep_trailing_newline=False, plus LAVA's filters qemu_guest_fs_interface,
 * shlex_quote and yaml_quote. Templates load only from the configured directories. */
#ifndef LAVAFS_JINJA_H
#define LAVAFS_JINJA_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "error.h"
#include "strbuf.h"
#include "value.h"

struct jinja_env;

struct jinja_limits {
	size_t max_depth;       /* nested calls/includes/extends/blocks; 0 = default (100) */
	size_t max_iterations;  /* loop iterations over a whole render; 0 = default (1e6) */
	size_t max_output;      /* bytes of output; 0 = default (16 MiB) */
	size_t max_template;    /* bytes of one template source; 0 = default (4 MiB) */
	size_t max_memory;      /* bytes one render may allocate; 0 = default (256 MiB) */
};

/* Where one line of output came from: the template line that produced its first byte, and
 * the names of render variables (context keys) read by the expressions that produced text on
 * it or by the if/for tests enclosing that text. A name counts when it was found at context
 * level: a render variable, or a template's top-level `{% set %}` (compare with `toplevel`
 * to tell the dictionary's values from the job context's). Loop variables, macro arguments
 * and other locals are not listed. Text printed by a macro call or a filter block is
 * attributed to the call. */
struct jinja_origin {
	const char *template; /* template name as loaded ("qemu.jinja2") */
	int line;
	const char **vars;
	size_t nvars;
};

/* Optional details of one render, allocated in the arena given to jinja_render. */
struct jinja_render_info {
	struct jinja_origin *lines; /* one per output line (a final line without '\n' counts) */
	size_t nlines;
	struct value *toplevel;     /* map: names the root template sets at its top level
				       (a device dictionary's `{% set memory = 1024 %}`) */
	const char **loaded;        /* every template name loaded (root, parents, includes) */
	size_t nloaded;
};

/* dirs: searched in order. The env caches parsed templates and is safe to use from several
 * threads at once; jinja_env_invalidate drops the cache (a template file changed). */
struct jinja_env *jinja_env_new(const char *const *dirs, size_t ndirs,
				const struct jinja_limits *limits);
void jinja_env_free(struct jinja_env *env);
void jinja_env_invalidate(struct jinja_env *env);

/* Render the template `name` found in the env's directories, or, when `source` is non-NULL,
 * the given source text under the name `name` (its extends/includes still load from the
 * directories). `context` is a V_MAP (or NULL). Output is appended to `out`. */
int jinja_render(struct jinja_env *env, const char *name, const char *source, size_t source_len,
		 const struct value *context, struct strbuf *out, struct arena *a,
		 struct jinja_render_info *info, struct lf_error *err);

#endif
