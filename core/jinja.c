/* jinja: the environment — template directories, limits and the cache of parsed templates.
 * Parsed templates are immutable and reference-counted: a render holds every template it
 * loaded until it ends, so a file edited (or the cache invalidated) mid-render is safe. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jinja_eval.h"

struct cache_entry {
	struct jtemplate *tmpl;
	int refs; /* 1 for the cache itself while cached, +1 per render holding it */
	bool cached;
	struct cache_entry *next;
};

struct jinja_env {
	char **dirs;
	size_t ndirs;
	struct jinja_limits lim;
	pthread_mutex_t lock;
	struct cache_entry *entries;
};

struct jinja_env *jinja_env_new(const char *const *dirs, size_t ndirs,
				const struct jinja_limits *limits)
{
	struct jinja_env *env = calloc(1, sizeof(*env));
	if (!env)
		return NULL;
	env->dirs = calloc(ndirs ? ndirs : 1, sizeof(char *));
	for (size_t i = 0; i < ndirs; i++)
		env->dirs[i] = strdup(dirs[i]);
	env->ndirs = ndirs;
	if (limits)
		env->lim = *limits;
	if (!env->lim.max_depth)
		env->lim.max_depth = 100;
	if (!env->lim.max_iterations)
		env->lim.max_iterations = 1000000;
	if (!env->lim.max_output)
		env->lim.max_output = 16u << 20;
	if (!env->lim.max_template)
		env->lim.max_template = 4u << 20;
	if (!env->lim.max_memory)
		env->lim.max_memory = (size_t)256 << 20;
	pthread_mutex_init(&env->lock, NULL);
	return env;
}

void jinja_template_free(struct jtemplate *t)
{
	if (t)
		arena_free(t->arena);
}

static void entry_unref(struct cache_entry *e)
{
	if (--e->refs == 0) {
		jinja_template_free(e->tmpl);
		free(e);
	}
}

void jinja_env_invalidate(struct jinja_env *env)
{
	pthread_mutex_lock(&env->lock);
	struct cache_entry *e = env->entries;
	env->entries = NULL;
	while (e) {
		struct cache_entry *n = e->next;
		e->cached = false;
		e->next = NULL;
		entry_unref(e);
		e = n;
	}
	pthread_mutex_unlock(&env->lock);
}

void jinja_env_free(struct jinja_env *env)
{
	if (!env)
		return;
	jinja_env_invalidate(env);
	for (size_t i = 0; i < env->ndirs; i++)
		free(env->dirs[i]);
	free(env->dirs);
	pthread_mutex_destroy(&env->lock);
	free(env);
}

const struct jinja_limits *jinja_env_limits(const struct jinja_env *env)
{
	return &env->lim;
}

/* Template names are relative paths inside the template directories; nothing may escape. */
static int check_name(const char *name, struct lf_error *err)
{
	if (!*name)
		return lf_error_set(err, -ENOENT, name, 0, 0, "empty template name");
	if (name[0] == '/')
		return lf_error_set(err, -ENOENT, name, 0, 0,
				    "template name '%s' is absolute; names are relative to the template directories",
				    name);
	if (strchr(name, '\\'))
		return lf_error_set(err, -ENOENT, name, 0, 0,
				    "template name '%s' contains a backslash", name);
	const char *p = name;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return lf_error_set(err, -ENOENT, name, 0, 0,
					    "template name '%s' has a '..' component", name);
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* newlines normalized (\r\n and \r become \n), one trailing newline dropped */
static char *normalize(struct arena *a, const char *src, size_t len, size_t *out_len)
{
	char *buf = arena_alloc(a, len + 1);
	size_t k = 0;
	for (size_t i = 0; i < len; i++) {
		if (src[i] == '\r') {
			buf[k++] = '\n';
			if (i + 1 < len && src[i + 1] == '\n')
				i++;
		} else {
			buf[k++] = src[i];
		}
	}
	if (k && buf[k - 1] == '\n')
		k--;
	buf[k] = '\0';
	*out_len = k;
	return buf;
}

int jinja_template_from_source(const char *name, const char *src, size_t len,
			       struct jtemplate **out, struct lf_error *err)
{
	struct arena *a = arena_new();
	size_t n;
	char *text = normalize(a, src, len, &n);
	int rc = jinja_parse(a, name, text, n, out, err);
	if (rc) {
		arena_free(a);
		return rc;
	}
	return 0;
}

static int read_file(const char *path, const struct jinja_limits *lim, char **buf, size_t *len,
		     struct stat *st, const char *name, struct lf_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lf_error_set(err, -errno, name, 0, 0, "cannot open template: %s", strerror(errno));
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		return lf_error_set(err, -e, name, 0, 0, "cannot stat template: %s", strerror(e));
	}
	if ((size_t)st->st_size > lim->max_template) {
		close(fd);
		return lf_error_set(err, -EFBIG, name, 0, 0,
				    "template is larger than the limit of %zu bytes (max_template)",
				    lim->max_template);
	}
	size_t cap = (size_t)st->st_size + 1, n = 0;
	char *b = malloc(cap + 1);
	if (!b)
		abort();
	for (;;) {
		if (n == cap) {
			if (cap > lim->max_template) {
				free(b);
				close(fd);
				return lf_error_set(err, -EFBIG, name, 0, 0,
						    "template is larger than the limit of %zu bytes (max_template)",
						    lim->max_template);
			}
			cap *= 2;
			char *nb = realloc(b, cap + 1);
			if (!nb)
				abort(); /* out of memory, as everywhere else in lavafs */
			b = nb;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0) {
			int e = errno;
			free(b);
			close(fd);
			return lf_error_set(err, -e, name, 0, 0, "cannot read template: %s", strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = n;
	return 0;
}

static bool same_file(const struct jtemplate *t, const char *path, const struct stat *st)
{
	return t->size == st->st_size && t->ino == (long long)st->st_ino &&
	       t->dev == (long long)st->st_dev &&
	       t->mtime_ns == (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec &&
	       !strcmp(t->path, path);
}

int jinja_env_load(struct jinja_env *env, const char *name, const struct jtemplate **out,
		   struct lf_error *err)
{
	int rc = check_name(name, err);
	if (rc)
		return rc;
	char *path = NULL;
	struct stat st;
	for (size_t i = 0; i < env->ndirs; i++) {
		size_t n = strlen(env->dirs[i]) + strlen(name) + 2;
		char *p = malloc(n);
		snprintf(p, n, "%s/%s", env->dirs[i], name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			path = p;
			break;
		}
		free(p);
	}
	if (!path)
		return lf_error_set(err, -ENOENT, name, 0, 0, "template '%s' not found", name);

	pthread_mutex_lock(&env->lock);
	struct cache_entry **pp = &env->entries;
	for (; *pp; pp = &(*pp)->next) {
		struct cache_entry *e = *pp;
		if (strcmp(e->tmpl->name, name))
			continue;
		if (same_file(e->tmpl, path, &st)) {
			e->refs++;
			*out = e->tmpl;
			pthread_mutex_unlock(&env->lock);
			free(path);
			return 0;
		}
		/* stale: drop it from the cache (renders holding it keep it alive) */
		*pp = e->next;
		e->cached = false;
		entry_unref(e);
		break;
	}
	pthread_mutex_unlock(&env->lock);

	/* parse outside the lock: another thread may parse the same file, the cache keeps one */
	char *buf = NULL;
	size_t len = 0;
	rc = read_file(path, &env->lim, &buf, &len, &st, name, err);
	if (rc) {
		free(path);
		return rc;
	}
	struct jtemplate *t;
	rc = jinja_template_from_source(name, buf, len, &t, err);
	free(buf);
	if (rc) {
		free(path);
		return rc;
	}
	t->path = arena_strdup(t->arena, path);
	free(path);
	t->size = st.st_size;
	t->ino = (long long)st.st_ino;
	t->dev = (long long)st.st_dev;
	t->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;

	struct cache_entry *ne = calloc(1, sizeof(*ne));
	ne->tmpl = t;
	t->owner = ne;
	ne->refs = 2;
	ne->cached = true;
	pthread_mutex_lock(&env->lock);
	for (pp = &env->entries; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->tmpl->name, name)) {
			struct cache_entry *old = *pp;
			*pp = old->next;
			old->cached = false;
			entry_unref(old);
			break;
		}
	ne->next = env->entries;
	env->entries = ne;
	pthread_mutex_unlock(&env->lock);
	*out = t;
	return 0;
}

void jinja_env_release(struct jinja_env *env, const struct jtemplate *t)
{
	pthread_mutex_lock(&env->lock);
	/* find the entry owning t: cached ones are in the list, evicted ones are found through
	 * the back pointer kept in the template's arena */
	struct cache_entry *e = (struct cache_entry *)t->owner;
	entry_unref(e);
	pthread_mutex_unlock(&env->lock);
}

int jinja_render(struct jinja_env *env, const char *name, const char *source, size_t source_len,
		 const struct value *context, struct strbuf *out, struct arena *a,
		 struct jinja_render_info *info, struct lf_error *err)
{
	lf_error_clear(err);
	if (context && context->kind != V_MAP && context->kind != V_NONE)
		return lf_error_set(err, -EINVAL, name, 0, 0, "the render context must be a mapping");
	/* jinja2 takes the context as render(**context): Python refuses keys that are not
	 * strings ("keywords must be strings") and a key named self (render's own parameter) */
	for (size_t i = 0; context && context->kind == V_MAP && i < context->u.map.len; i++) {
		const struct value *k = context->u.map.keys[i];
		if (k->kind != V_STRING) {
			struct strbuf kr = STRBUF_INIT;
			value_repr(&kr, k);
			int rc = lf_error_set(err, -EINVAL, name, 0, 0,
					      "context key %s is not a string: keywords must be strings",
					      kr.buf ? kr.buf : "");
			strbuf_release(&kr);
			return rc;
		}
		if (k->u.str.len == 4 && !memcmp(k->u.str.s, "self", 4))
			return lf_error_set(err, -EINVAL, name, 0, 0,
					    "context key 'self' is not allowed: Template.render() got multiple values for argument 'self'");
	}
	if (source) {
		if (source_len > env->lim.max_template)
			return lf_error_set(err, -EFBIG, name, 0, 0,
					    "template is larger than the limit of %zu bytes (max_template)",
					    env->lim.max_template);
		struct jtemplate *t;
		int rc = jinja_template_from_source(name, source, source_len, &t, err);
		if (rc)
			return rc;
		rc = jinja_eval_render(env, t, context, out, a, info, err);
		jinja_template_free(t);
		return rc;
	}
	const struct jtemplate *t;
	int rc = jinja_env_load(env, name, &t, err);
	if (rc)
		return rc;
	rc = jinja_eval_render(env, t, context, out, a, info, err);
	jinja_env_release(env, t);
	return rc;
}
