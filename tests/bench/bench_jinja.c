/* bench_jinja: per-render time of the template engine with a warm template cache.
 *
 *   $ build/bench/bench_jinja tests/bench/jinja qemu01.jinja2 tests/bench/jinja/context.yaml 2000
 *   jinja: 2000 renders of qemu01.jinja2, 9.8 us/render (best of 5 rounds), 4522 bytes
 *
 * Prints the microseconds per render on the last line as "us_per_render=N" for scripts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jinja.h"
#include "yaml.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bench_jinja DIR TEMPLATE CONTEXT.yaml [ITERATIONS]\n");
		return 2;
	}
	long iters = argc > 4 ? atol(argv[4]) : 2000;
	if (iters < 5)
		iters = 5;
	FILE *f = fopen(argv[3], "rb");
	if (!f) {
		perror(argv[3]);
		return 1;
	}
	struct strbuf text = STRBUF_INIT;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&text, buf, n);
	fclose(f);
	struct arena *ca = arena_new();
	struct value *ctx;
	struct lf_error err;
	if (yaml_parse(ca, argv[3], strbuf_str(&text), text.len, NULL, &ctx, &err)) {
		fprintf(stderr, "bench_jinja: %s:%d: %s\n", err.file, err.line, err.msg);
		return 1;
	}
	const char *dirs[] = {argv[1]};
	struct jinja_env *env = jinja_env_new(dirs, 1, NULL);
	struct strbuf out = STRBUF_INIT;
	size_t bytes = 0;
	double us = 1e30;
	/* best of 5 rounds, like python's timeit.repeat: other load on the machine only slows */
	for (int round = 0; round < 5; round++) {
		double t0 = 0;
		for (long i = -50; i < iters / 5; i++) { /* warm-up renders fill the cache */
			if (i == 0)
				t0 = now();
			struct arena *a = arena_new();
			strbuf_reset(&out);
			if (jinja_render(env, argv[2], NULL, 0, ctx, &out, a, NULL, &err)) {
				char msg[4096];
				lf_error_format(&err, msg, sizeof(msg));
				fprintf(stderr, "bench_jinja: %s\n", msg);
				return 1;
			}
			bytes = out.len;
			arena_free(a);
		}
		double r = (now() - t0) * 1e6 / (double)(iters / 5);
		if (r < us)
			us = r;
	}
	printf("jinja: %ld renders of %s, %.1f us/render (best of 5 rounds), %zu bytes\n", iters,
	       argv[2], us, bytes);
	printf("us_per_render=%.3f\n", us);
	strbuf_release(&out);
	strbuf_release(&text);
	jinja_env_free(env);
	arena_free(ca);
	return 0;
}
