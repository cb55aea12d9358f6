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
#include <stdint.h>

#include "fuzz_common.h"

static const char default_dictionary[] = "{% extends 'qemu.jinja2' %}\n"
					 "{% set memory = 1024 %}\n"
					 "{% set mac_addr = '52:54:00:12:34:59' %}\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_open_templates("fuzz_job");
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy[3];
	size_t plen[3];
	size_t np = fuzz_split(data, size, 3, copy, plen);
	/* the tags file is a C string */
	char *tags = np > 2 ? strndup(copy[2], plen[2]) : NULL;
	struct arena *pa = arena_new();
	static char *base[] = {"PATH=/usr/bin:/bin", "HOME=/root", NULL};
	bool dict = np > 1 && plen[1];
	struct compose_input in = {
		.templates = fuzz_env,
		.device = "qemu01",
		.dictionary_name = "devices/qemu01/dictionary",
		.dictionary = dict ? copy[1] : default_dictionary,
		.dictionary_len = dict ? plen[1] : sizeof(default_dictionary) - 1,
		.job_name = "devices/qemu01/job.yaml",
		.job = copy[0],
		.job_len = plen[0],
		.environ = base,
		.tags = tags,
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
	fuzz_check_composition(rc, &r, &err);
	compose_result_free(&r);
	arena_free(pa);
	free(tags);
	for (size_t i = 0; i < 3; i++)
		free(copy[i]);
	return 0;
}
