/* Fuzz target (libFuzzer) for core/jinja: lexer, parser, evaluator and loader.
 *
 * The input is up to four parts separated by NUL bytes:
 *   template source \0 context YAML \0 base.jinja2 \0 inc.jinja2
 * The template renders under the name "root.jinja2"; base.jinja2 and inc.jinja2 are written
 * to a private directory the env loads from, so {% extends %}, {% include %}, {% import %}
 * and blocks are exercised with both sides mutated. Missing parts get a small default.
 * One environment serves the whole run (its cache invalidated when a part is rewritten).
 * Limits are tight so a runaway template fails fast instead of timing out.
 *
 * Invariants: an error has a negative code and a message; a success stays within max_output
 * and, when render info is asked for, has one origin per output line. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jinja.h"
#include "yaml.h"

#define NPARTS 4

static char dir[64];

static const char default_base[] =
	"{% block head %}head {{ arch | default('none') }}{% endblock %}\n"
	"{% block body %}{% endblock %}\n"
	"{% macro m(x, y=2) %}[{{ x }}:{{ y }}]{% endmacro %}\n";
static const char default_inc[] = "inc {{ memory | default(0) }} {% for i in items %}{{ i }}{% endfor %}\n";

static void remove_dir(void)
{
	char p[128];
	const char *names[] = {"base.jinja2", "inc.jinja2"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* What each file holds now: most inputs keep the default parts, and rewriting two files per
 * input would cost more than rendering them. */
struct file_state {
	uint8_t *data;
	size_t len;
	bool valid;
};
static struct file_state written[2];

static struct jinja_env *env;

/* Writes a part where the loader finds it, unless the file already holds it; a rewrite
 * invalidates the env's cache, as the daemon does when a template is written. */
static void write_file(int slot, const char *name, const uint8_t *data, size_t len)
{
	struct file_state *w = &written[slot];
	if (w->valid && w->len == len && (len == 0 || memcmp(w->data, data, len) == 0))
		return;
	jinja_env_invalidate(env);
	char p[128], tmp[160];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		abort();
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	close(fd);
	if (rename(tmp, p) < 0)
		abort();
	free(w->data);
	w->data = malloc(len ? len : 1);
	if (len)
		memcpy(w->data, data, len);
	w->len = len;
	w->valid = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* tmpfs when there is one: files are rewritten often */
	snprintf(dir, sizeof(dir), "%s/lavafs-fuzz-jinja.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		abort();
	atexit(remove_dir);
	static const struct jinja_limits lim = {
		.max_depth = 24,
		.max_iterations = 20000,
		.max_output = 1u << 16,
		.max_template = 1u << 14,
	};
	const char *dirs[] = {dir};
	env = jinja_env_new(dirs, 1, &lim);
	return 0;
}

/* A context every input gets (the fuzzed YAML's keys are added over it). */
static struct value *base_context(struct arena *a)
{
	struct value *ctx = value_map(a);
	value_map_sets(a, ctx, "arch", value_cstr(a, "amd64"));
	value_map_sets(a, ctx, "memory", value_int(a, 1024));
	value_map_sets(a, ctx, "no_kvm", value_bool(a, false));
	value_map_sets(a, ctx, "ratio", value_float(a, 0.5));
	value_map_sets(a, ctx, "quote", value_cstr(a, "it's \"quoted\" $(x)"));
	struct value *items = value_list(a);
	for (int i = 0; i < 3; i++)
		value_list_append(a, items, value_int(a, i));
	value_list_append(a, items, value_cstr(a, "-net user"));
	value_map_sets(a, ctx, "items", items);
	struct value *d = value_map(a);
	value_map_sets(a, d, "a", value_int(a, 1));
	value_map_sets(a, d, "b", value_none(a));
	value_map_sets(a, ctx, "d", d);
	return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *part[NPARTS] = {0};
	size_t plen[NPARTS] = {0};
	size_t np = 0, start = 0;
	for (size_t i = 0; i <= size && np < NPARTS; i++) {
		if (i == size || (data[i] == 0 && np < NPARTS - 1)) {
			part[np] = data + start;
			plen[np++] = i - start;
			start = i + 1;
		}
	}
	if (np > 2)
		write_file(0, "base.jinja2", part[2], plen[2]);
	else
		write_file(0, "base.jinja2", (const uint8_t *)default_base, sizeof(default_base) - 1);
	if (np > 3)
		write_file(1, "inc.jinja2", part[3], plen[3]);
	else
		write_file(1, "inc.jinja2", (const uint8_t *)default_inc, sizeof(default_inc) - 1);

	struct arena *a = arena_new();
	struct value *ctx = base_context(a);
	if (np > 1 && plen[1]) {
		struct yaml_limits yl = {.max_depth = 32, .max_nodes = 2000};
		struct value *v = NULL;
		struct lf_error yerr;
		lf_error_clear(&yerr);
		if (yaml_parse(a, "context.yaml", (const char *)part[1], plen[1], &yl, &v, &yerr) ==
			    0 &&
		    v->kind == V_MAP)
			for (size_t i = 0; i < v->u.map.len; i++)
				value_map_set(a, ctx, v->u.map.keys[i], v->u.map.vals[i]);
	}

	struct strbuf out = STRBUF_INIT;
	struct jinja_render_info info;
	memset(&info, 0, sizeof(info));
	struct lf_error err;
	lf_error_clear(&err);
	/* the root template's text need not be NUL-terminated: give it an exact-size copy */
	char *src = malloc(plen[0] ? plen[0] : 1);
	if (plen[0])
		memcpy(src, part[0], plen[0]);
	/* a template may change the context's lists and dicts (d.pop(), l.append() are allowed
	 * in jinja2's sandbox): the second render gets a copy as it was before the first */
	bool twice = size && (data[size / 2] & 7) == 0;
	struct value *ctx2 = twice ? value_clone(a, ctx) : NULL;
	int rc = jinja_render(env, "root.jinja2", src, plen[0], ctx, &out, a, &info, &err);
	if (rc < 0) {
		if (err.code != rc || !err.msg[0])
			abort();
	} else {
		if (rc != 0 || out.len > (1u << 16))
			abort();
		size_t lines = 0;
		for (size_t i = 0; i < out.len; i++)
			lines += out.buf[i] == '\n';
		if (out.len && out.buf[out.len - 1] != '\n')
			lines++;
		if (info.nlines != lines)
			abort();
	}
	/* the same source again through a warm cache gives the same result; checked for one
	 * input in eight (chosen by the input itself, so a crash replays), as it doubles the
	 * cost of an execution */
	struct strbuf out2 = STRBUF_INIT;
	if (twice) {
		struct lf_error err2;
		lf_error_clear(&err2);
		int rc2 = jinja_render(env, "root.jinja2", src, plen[0], ctx2, &out2, a, NULL, &err2);
		if (rc2 != rc || (rc == 0 && (out2.len != out.len ||
						 (out.len && memcmp(out2.buf, out.buf, out.len)))))
			abort();
	}
	free(src);
	strbuf_release(&out2);
	strbuf_release(&out);
	arena_free(a);
	return 0;
}
