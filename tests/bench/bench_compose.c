/* bench_compose: compositions per second of core/compose (render + YAML + argv + explain),
 * warm template cache, the context YAML parsed every time as the mount does.
 *   usage: bench_compose TEMPLATE_DIR DICTIONARY CONTEXT N  → prints microseconds per compose */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compose.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	struct strbuf sb = STRBUF_INIT;
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	fclose(f);
	return strbuf_detach(&sb, len);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fputs("usage: bench_compose TEMPLATE_DIR DICTIONARY CONTEXT N\n", stderr);
		return 2;
	}
	size_t dlen, clen;
	char *dict = slurp(argv[2], &dlen), *ctx = slurp(argv[3], &clen);
	long n = atol(argv[4]);
	const char *dirs[] = {argv[1]};
	struct jinja_env *env = jinja_env_new(dirs, 1, NULL);
	char *base[] = {"PATH=/usr/bin:/bin", "HOME=/root", NULL};
	struct compose_input in = {
		.templates = env, .device = "bench", .dictionary_name = "bench.jinja2",
		.dictionary = dict, .dictionary_len = dlen, .context_name = "context",
		.context = ctx, .context_len = clen, .environ = base, .host_arch = "x86_64",
		.kvm = true,
	};
	struct compose_result r;
	struct lf_error err;
	for (long i = 0; i < n / 10 + 1; i++) { /* warm up */
		if (compose_run(&in, &r, &err) < 0) {
			fprintf(stderr, "bench_compose: %s:%d: %s\n", err.file, err.line, err.msg);
			return 1;
		}
		compose_result_free(&r);
	}
	double t0 = now();
	for (long i = 0; i < n; i++) {
		compose_run(&in, &r, &err);
		compose_result_free(&r);
	}
	printf("%.2f\n", (now() - t0) * 1e6 / (double)n);
	jinja_env_free(env);
	free(dict);
	free(ctx);
	return 0;
}
