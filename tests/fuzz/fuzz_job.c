/* Fuzz target (libFuzzer) for core/compose with a whole LAVA job as the job input, as the
 * mount composes it when `job.yaml` is written: its context:, tags: and deploy images:.
 *
 * The input is up to three parts separated by NUL bytes:
 *   job.yaml \0 dictionary \0 the device's tags file
 * A missing dictionary is "{% extends 'qemu.jinja2' %}" with a memory and a MAC set. Image
 * paths are made the way `lavafs compose -j` makes them: OUTDIR/images/LABEL/ + the URL's
 * last component (so a URL can carry {label} text into the substitution).
 *
 * Invariants: as fuzz_compose (argv, cmdline, explain agree), plus: every image has a label
 * and a url. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose.h"
#include "shellwords.h"

static char templates[PATH_MAX];

static const char default_dictionary[] = "{% extends 'qemu.jinja2' %}\n"
					 "{% set memory = 1024 %}\n"
					 "{% set mac_addr = '52:54:00:12:34:59' %}\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *env = getenv("LAVAFS_TEMPLATES");
	if (env && *env) {
		snprintf(templates, sizeof(templates), "%s", env);
		return 0;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		abort();
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(templates, sizeof(templates), "%s/../../templates", exe);
	char probe[PATH_MAX + 16];
	snprintf(probe, sizeof(probe), "%s/qemu.jinja2", templates);
	if (access(probe, R_OK) != 0) {
		fprintf(stderr, "fuzz_job: no shipped templates at %s (set LAVAFS_TEMPLATES)\n",
			templates);
		exit(2);
	}
	return 0;
}

static const char *image_path(void *ctx, const struct compose_image *img)
{
	struct arena *a = ctx;
	const char *url = img->url;
	const char *q = url + strcspn(url, "?#");
	const char *slash = q;
	while (slash > url && slash[-1] != '/')
		slash--;
	int n = (int)(q - slash);
	if (n > 255)
		n = 255;
	return arena_printf(a, "/srv/out/images/%s/%.*s", img->label, n, slash);
}

static void check_result(const struct compose_result *r)
{
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
	struct arena *a = arena_new();
	struct shellword *w;
	size_t nw;
	struct lf_error err;
	if (!r->cmdline.len ||
	    shellwords_split(a, "cmdline", r->cmdline.buf, r->cmdline.len - 1, &w, &nw, &err) != 0 ||
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
	for (size_t i = 0; i < r->nimages; i++) {
		const struct compose_image *img = &r->images[i];
		if (!img->label || !img->url)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *part[3] = {0};
	size_t plen[3] = {0};
	size_t np = 0, start = 0;
	for (size_t i = 0; i <= size && np < 3; i++)
		if (i == size || (data[i] == 0 && np < 2)) {
			part[np] = (const char *)data + start;
			plen[np++] = i - start;
			start = i + 1;
		}
	char *copy[3] = {0};
	for (size_t i = 0; i < np; i++) {
		copy[i] = malloc(plen[i] + 1);
		memcpy(copy[i], part[i], plen[i]);
		copy[i][plen[i]] = '\0'; /* the tags file is a C string */
	}

	const struct jinja_limits lim = {
		.max_depth = 32,
		.max_iterations = 50000,
		.max_output = 1u << 18,
		.max_template = 1u << 16,
	};
	const char *dirs[] = {templates};
	struct jinja_env *env = jinja_env_new(dirs, 1, &lim);
	struct arena *pa = arena_new();
	static char *base[] = {"PATH=/usr/bin:/bin", "HOME=/root", NULL};
	bool dict = np > 1 && plen[1];
	struct compose_input in = {
		.templates = env,
		.device = "qemu01",
		.dictionary_name = "devices/qemu01/dictionary",
		.dictionary = dict ? copy[1] : default_dictionary,
		.dictionary_len = dict ? plen[1] : sizeof(default_dictionary) - 1,
		.job_name = "devices/qemu01/job.yaml",
		.job = copy[0],
		.job_len = plen[0],
		.environ = base,
		.tags = np > 2 ? copy[2] : NULL,
		.host_arch = size & 1 ? "aarch64" : "x86_64",
		.kvm = size & 2,
		.image_path = image_path,
		.image_path_ctx = pa,
		.guest_image = "/srv/out/lava-guest.qcow2",
		.has_overlay = size & 4,
	};
	struct compose_result r;
	struct lf_error err;
	lf_error_clear(&err);
	int rc = compose_run(&in, &r, &err);
	if (rc < 0) {
		if (err.code != rc || !err.msg[0] || r.argc)
			abort();
	} else {
		check_result(&r);
	}
	compose_result_free(&r);
	arena_free(pa);
	jinja_env_free(env);
	for (size_t i = 0; i < 3; i++)
		free(copy[i]);
	return 0;
}
