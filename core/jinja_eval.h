/* jinja_eval: the evaluator's view of the environment (template loading with cache) and the
 * render state shared with the filters. Private to core/jinja*.c. */
#ifndef LAVAFS_JINJA_EVAL_H
#define LAVAFS_JINJA_EVAL_H

#include "jinja_internal.h"

/* Load (or reuse from the cache) the template `name`; the reference is held until
 * jinja_env_release. -ENOENT when no directory has it. */
int jinja_env_load(struct jinja_env *env, const char *name, const struct jtemplate **out,
		   struct lf_error *err);
void jinja_env_release(struct jinja_env *env, const struct jtemplate *t);
const struct jinja_limits *jinja_env_limits(const struct jinja_env *env);
/* Parse a template from memory (newline-normalized copy kept in the template's arena). */
int jinja_template_from_source(const char *name, const char *src, size_t len,
			       struct jtemplate **out, struct lf_error *err);
void jinja_template_free(struct jtemplate *t);

int jinja_eval_render(struct jinja_env *env, const struct jtemplate *root,
		      const struct value *context, struct strbuf *out, struct arena *a,
		      struct jinja_render_info *info, struct lf_error *err);

#endif
