/* Fuzz target (libFuzzer) for core/compose with the shipped templates: a device dictionary
 * and a job context, as the mount composes them when `dictionary` or `context` is written.
 *
 * The input is up to three parts separated by NUL bytes:
 *   dictionary \0 context YAML \0 env.yaml
 * The templates come from $LAVAFS_TEMPLATES, else ../../templates next to the binary
 * (build/fuzz/fuzz_compose in a source tree).
 *
 * Invariants of a successful composition: argv holds argc NUL-terminated items equal to
 * argv_items; cmdline splits back to the same argv; explain has one line per item; env items
 * are KEY=VALUE. An error has a negative code and a message. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose.h"
#include "shellwords.h"

static char templates[PATH_MAX];

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
		fprintf(stderr, "fuzz_compose: no shipped templates at %s (set LAVAFS_TEMPLATES)\n",
			templates);
		exit(2);
	}
	return 0;
}

/* Checks every output of a successful composition against the others. */
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
	if (!r->cmdline.len || r->cmdline.buf[r->cmdline.len - 1] != '\n')
		abort();
	struct arena *a = arena_new();
	struct shellword *w;
	size_t nw;
	struct lf_error err;
	if (shellwords_split(a, "cmdline", r->cmdline.buf, r->cmdline.len - 1, &w, &nw, &err) != 0 ||
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
}

static const char *image_path(void *ctx, const struct compose_image *img)
{
	struct arena *a = ctx;
	return arena_printf(a, "/srv/out/images/%s/image", img->label);
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
	/* exact-size copies, so reading past a part is caught */
	char *copy[3] = {0};
	for (size_t i = 0; i < np; i++) {
		copy[i] = malloc(plen[i] ? plen[i] : 1);
		if (plen[i])
			memcpy(copy[i], part[i], plen[i]);
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
	static char *base[] = {"PATH=/usr/bin:/bin", "HOME=/root", "LANG=C", NULL};
	struct compose_input in = {
		.templates = env,
		.device = "qemu01",
		.dictionary_name = "devices/qemu01/dictionary",
		.dictionary = copy[0] ? copy[0] : "",
		.dictionary_len = plen[0],
		.context_name = "devices/qemu01/context",
		.context = np > 1 ? copy[1] : NULL,
		.context_len = plen[1],
		.env_name = "env.yaml",
		.env_yaml = np > 2 ? copy[2] : NULL,
		.env_yaml_len = plen[2],
		.environ = base,
		.tags = "kvm\n",
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
