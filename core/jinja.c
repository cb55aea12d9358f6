/* placeholder: replaced by the real engine */
#include <errno.h>
#include <stdlib.h>

#include "jinja.h"

struct jinja_env {
	int unused;
};

struct jinja_env *jinja_env_new(const char *const *dirs, size_t ndirs,
				const struct jinja_limits *limits)
{
	return calloc(1, sizeof(struct jinja_env));
}

void jinja_env_free(struct jinja_env *env)
{
	free(env);
}

void jinja_env_invalidate(struct jinja_env *env)
{
}

int jinja_render(struct jinja_env *env, const char *name, const char *source, size_t source_len,
		 const struct value *context, struct strbuf *out, struct arena *a,
		 struct jinja_render_info *info, struct lf_error *err)
{
	return lf_error_set(err, -ENOSYS, name, 0, 0, "template engine not built yet");
}
