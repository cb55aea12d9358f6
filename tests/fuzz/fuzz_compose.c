/* Fuzz target (libFuzzer) for core/compose with the shipped templates: a device dictionary
 * and a job context, as the mount composes them when `dictionary` or `context` is written.
 *
 * The input is up to three parts separated by NUL bytes:
 *   dictionary \0 context YAML \0 env.yaml
 * The templates come from $LAVAFS_TEMPLATES, else ../../templates next to the binary
 * (build/fuzz/fuzz_compose in a source tree); one environment serves the whole run.
 *
 * Invariants of a successful composition: argv holds argc NUL-terminated items equal to
 * argv_items; cmdline splits back to the same argv; explain has one line per item; env items
 * are KEY=VALUE. An error has a negative code and a message. */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_open_templates("fuzz_compose");
	return 0;
}

static const char *image_path(void *ctx, const struct compose_image *img)
{
	struct arena *a = ctx;
	return arena_printf(a, "/srv/out/images/%s/image", img->label);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy[3];
	size_t plen[3];
	size_t np = fuzz_split(data, size, 3, copy, plen);
	struct arena *pa = arena_new();
	static char *base[] = {"PATH=/usr/bin:/bin", "HOME=/root", "LANG=C", NULL};
	struct compose_input in = {
		.templates = fuzz_env,
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
	fuzz_check_composition(rc, &r, &err);
	compose_result_free(&r);
	arena_free(pa);
	for (size_t i = 0; i < 3; i++)
		free(copy[i]);
	return 0;
}
