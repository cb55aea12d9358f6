/* What fuzz_compose and fuzz_job share: finding the shipped templates, one template
 * environment for the whole run (its cache stays warm, as in the daemon, so each input pays
 * for its own parts only), and the checks every successful composition must pass. */
#ifndef LAVAFS_FUZZ_COMMON_H
#define LAVAFS_FUZZ_COMMON_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose.h"
#include "shellwords.h"

static struct jinja_env *fuzz_env;

/* The templates come from $LAVAFS_TEMPLATES, else templates/ two levels above the binary
 * (build/fuzz/fuzz_TARGET in a source tree). Limits are tight so a runaway input fails fast. */
static void fuzz_open_templates(const char *target)
{
	static char templates[PATH_MAX];
	const char *envdir = getenv("LAVAFS_TEMPLATES");
	if (envdir && *envdir) {
		snprintf(templates, sizeof(templates), "%s", envdir);
	} else {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			abort();
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(templates, sizeof(templates), "%s/../../templates", exe);
	}
	char probe[PATH_MAX + 16];
	snprintf(probe, sizeof(probe), "%s/qemu.jinja2", templates);
	if (access(probe, R_OK) != 0) {
		fprintf(stderr, "%s: no shipped templates at %s (set LAVAFS_TEMPLATES)\n", target,
			templates);
		exit(2);
	}
	static const struct jinja_limits lim = {
		.max_depth = 32,
		.max_iterations = 50000,
		.max_output = 1u << 18,
		.max_template = 1u << 16,
	};
	const char *dirs[] = {templates};
	fuzz_env = jinja_env_new(dirs, 1, &lim);
}

/* Splits data into up to max parts at NUL bytes (the last part keeps any further NULs) and
 * gives each an exact-size heap copy, so reading past a part is caught. */
static size_t fuzz_split(const uint8_t *data, size_t size, size_t max, char **copy, size_t *len)
{
	size_t np = 0, start = 0;
	for (size_t i = 0; i <= size && np < max; i++)
		if (i == size || (data[i] == 0 && np < max - 1)) {
			len[np] = i - start;
			copy[np] = malloc(len[np] ? len[np] : 1);
			if (len[np])
				memcpy(copy[np], data + start, len[np]);
			np++;
			start = i + 1;
		}
	for (size_t i = np; i < max; i++) {
		copy[i] = NULL;
		len[i] = 0;
	}
	return np;
}

/* Every output of a successful composition agrees with the others: argv holds argc
 * NUL-terminated items equal to argv_items; cmdline is one line that splits back to the
 * same argv; explain has one line per item; env items are KEY=VALUE; images have a label
 * and a url. An error has a negative code, a message and no argv. */
static void fuzz_check_composition(int rc, const struct compose_result *r,
				   const struct lf_error *err)
{
	if (rc < 0) {
		if (err->code != rc || !err->msg[0] || r->argc)
			abort();
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < r->argv.len; i++)
		if (r->argv.buf[i] == '\0')
			n++;
	if (n != r->argc || (r->argv.len && r->argv.buf[r->argv.len - 1] != '\0'))
		abort();
	const char *p = r->argv.buf;
	for (size_t i = 0; i < r->argc; i++) {
		if (strcmp(p, r->argv_items[i]) != 0)
			abort();
		p += strlen(p) + 1;
	}
	if (!r->cmdline.len || r->cmdline.buf[r->cmdline.len - 1] != '\n')
		abort();
	struct arena *a = arena_new();
	struct shellword *w;
	size_t nw;
	struct lf_error serr;
	if (shellwords_split(a, "cmdline", r->cmdline.buf, r->cmdline.len - 1, &w, &nw, &serr) !=
		    0 ||
	    nw != r->argc)
		abort();
	for (size_t i = 0; i < nw; i++)
		if (strcmp(w[i].s, r->argv_items[i]) != 0)
			abort();
	arena_free(a);
	size_t lines = 0;
	for (size_t i = 0; i < r->explain.len; i++)
		lines += r->explain.buf[i] == '\n';
	if (lines != r->argc)
		abort();
	for (size_t i = 0; i < r->env.len;) {
		const char *item = r->env.buf + i;
		const char *eq = strchr(item, '=');
		if (!eq || eq == item)
			abort();
		i += strlen(item) + 1;
	}
	for (size_t i = 0; i < r->nimages; i++)
		if (!r->images[i].label || !r->images[i].url)
			abort();
}

#endif
