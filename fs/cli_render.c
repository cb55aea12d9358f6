/* lavafs render: one template rendered exactly as LAVA's server renders it.
 *
 *   $ lavafs render -t device-types devices/qemu01.jinja2 -c context.yaml
 *   device_type: qemu
 *   ...
 *   $ lavafs render broken.jinja2
 *   lavafs: broken.jinja2:3:4: Encountered unknown tag 'endfor'.
 *
 * Template search path: every -t DIR in order, then FILE's own directory, then the shipped
 * templates. The output is printed as it is (no newline added). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "jinja.h"
#include "yaml.h"

static int usage(void)
{
	fputs("usage: lavafs render [-t DIR]... FILE [-c CONTEXT.yaml]\n", stderr);
	return 2;
}

static int fail(const struct lf_error *err)
{
	char buf[LF_ERR_MSG + 512];
	lf_error_format(err, buf, sizeof(buf));
	fprintf(stderr, "lavafs: %s\n", buf);
	return 1;
}

static int slurp(const char *path, char **out, size_t *len, struct lf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return lf_error_set(err, -errno, path, 0, 0, "%s", strerror(errno));
	struct strbuf sb = STRBUF_INIT;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		strbuf_release(&sb);
		return lf_error_set(err, -EIO, path, 0, 0, "read error");
	}
	*out = strbuf_detach(&sb, len);
	return 0;
}

int cli_render(int argc, char **argv)
{
	const char **dirs = calloc((size_t)argc + 3, sizeof(char *));
	size_t ndirs = 0;
	const char *file = NULL, *ctxfile = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-t") || !strcmp(a, "-c")) {
			if (i + 1 >= argc) {
				free(dirs);
				return usage();
			}
			if (a[1] == 't')
				dirs[ndirs++] = argv[++i];
			else if (ctxfile) {
				free(dirs);
				return usage();
			} else
				ctxfile = argv[++i];
		} else if (!strncmp(a, "-t", 2) && a[2]) {
			dirs[ndirs++] = a + 2;
		} else if (!strncmp(a, "-c", 2) && a[2] && !ctxfile) {
			ctxfile = a + 2;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			free(dirs);
			fputs("usage: lavafs render [-t DIR]... FILE [-c CONTEXT.yaml]\n", stdout);
			return 0;
		} else if (a[0] == '-' && a[1]) {
			free(dirs);
			return usage();
		} else if (!file) {
			file = a;
		} else {
			free(dirs);
			return usage();
		}
	}
	if (!file) {
		free(dirs);
		return usage();
	}
	/* FILE's own directory, then the shipped templates */
	char *own = strdup(file);
	char *slash = strrchr(own, '/');
	const char *base = file;
	if (slash) {
		*slash = '\0';
		base = file + (slash - own) + 1;
		dirs[ndirs++] = *own ? own : "/";
	} else {
		dirs[ndirs++] = ".";
	}
	dirs[ndirs++] = cli_shipped_templates();

	struct lf_error err;
	lf_error_clear(&err);
	struct arena *a = arena_new();
	int rc = 1;
	struct value *ctx = NULL;
	char *src = NULL, *ctext = NULL;
	size_t srclen = 0, clen = 0;
	struct jinja_env *env = NULL;
	struct strbuf out = STRBUF_INIT;
	if (ctxfile) {
		if (slurp(ctxfile, &ctext, &clen, &err)) {
			fail(&err);
			goto done;
		}
		if (yaml_parse(a, ctxfile, ctext, clen, NULL, &ctx, &err)) {
			fail(&err);
			goto done;
		}
		if (ctx->kind == V_NONE) {
			ctx = NULL;
		} else if (ctx->kind != V_MAP) {
			lf_error_set(&err, -EINVAL, ctxfile, ctx->line, 0,
				     "the context must be a YAML mapping, not %s", value_type_name(ctx));
			fail(&err);
			goto done;
		}
	}
	if (slurp(file, &src, &srclen, &err)) {
		fail(&err);
		goto done;
	}
	env = jinja_env_new(dirs, ndirs, NULL);
	/* rendered from the file's text under its base name, so errors name the file the user
	 * gave while {% extends %} and {% include %} search the directories */
	if (jinja_render(env, base, src, srclen, ctx, &out, a, NULL, &err)) {
		if (!strcmp(err.file, base))
			snprintf(err.file, sizeof(err.file), "%s", file);
		fail(&err);
		goto done;
	}
	if (out.len && fwrite(out.buf, 1, out.len, stdout) != out.len) {
		perror("lavafs: write");
		goto done;
	}
	if (fflush(stdout)) {
		perror("lavafs: write");
		goto done;
	}
	rc = 0;
done:
	strbuf_release(&out);
	jinja_env_free(env);
	free(src);
	free(ctext);
	arena_free(a);
	free(own);
	free(dirs);
	return rc;
}
