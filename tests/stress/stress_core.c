/* stress_core: many threads composing at once with one shared jinja_env, while another thread
 * keeps replacing a template file and invalidating the env's cache. Built with ThreadSanitizer
 * (`make tsan`), run by tests/t-stress.sh:
 *
 *   $ build/tsan/stress_core TEMPLATES_DIR [SECONDS] [THREADS]
 *   stress_core: 8 threads, 5 s: 41210 compositions, 212 template replacements, all as expected
 *
 * TEMPLATES_DIR is copied to a private directory first. The replacements add a comment to
 * qemu.jinja2 (the composition must not change) and rewrite a small device-type template that
 * extends it with a generation number the output must carry. Every composition is checked
 * against the one computed single-threaded beforehand for the same context, so a torn cache
 * entry, a use after free or a mixed-up render shows as a wrong argv, not only as a TSan
 * report. Exit status 0 when all is as expected. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compose.h"

#define NCTX 6
#define MAX_THREADS 64

static const char *const contexts[NCTX] = {
	"arch: amd64\n",
	"arch: arm64\nmachine: virt\ncpu: cortex-a57\n",
	"arch: amd64\nno_kvm: true\nextra_options: ['-smp 2', \"-append 'console=ttyS0 root=/dev/vda'\"]\n",
	"arch: i386\nnetdevice: tap\nmodel: e1000\n",
	"arch: riscv64\nno_network: true\n",
	"arch: ppc64le\nmemory: 4096\nvga: std\n",
};

static const char dictionary[] = "{% extends 'stress.jinja2' %}\n"
				 "{% set memory = 1024 %}\n"
				 "{% set mac_addr = '52:54:00:12:34:59' %}\n";

struct shared {
	char dir[256];
	struct jinja_env *env;
	char *expected[NCTX]; /* cmdline per context, generation-independent part */
	atomic_bool stop;
	atomic_long compositions, replacements, failures;
	atomic_int generation; /* the newest stress.jinja2 written */
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct strbuf sb = STRBUF_INIT;
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	fclose(f);
	return strbuf_detach(&sb, len);
}

static int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
	char path[512], tmp[540];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	close(fd);
	return rename(tmp, path);
}

/* stress.jinja2 of generation G: qemu.jinja2 with -name stress-G added to the options. */
static int write_generation(struct shared *s, int g)
{
	char text[512];
	int n = snprintf(text, sizeof(text),
			 "{%% extends 'qemu.jinja2' %%}\n"
			 "{%% set extra_options = (extra_options | default([])) + ['-name stress-%d'] %%}\n",
			 g);
	return write_atomic(s->dir, "stress.jinja2", text, (size_t)n);
}

static int copy_dir(const char *from, const char *to)
{
	DIR *d = opendir(from);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strstr(e->d_name, ".jinja2"))
			continue;
		char p[1024];
		snprintf(p, sizeof(p), "%s/%s", from, e->d_name);
		size_t len;
		char *data = slurp(p, &len);
		if (!data || write_atomic(to, e->d_name, data, len) < 0) {
			free(data);
			closedir(d);
			return -1;
		}
		free(data);
	}
	closedir(d);
	return 0;
}

static int compose_ctx(struct shared *s, int i, struct compose_result *r, struct lf_error *err)
{
	static char *base[] = {"PATH=/usr/bin:/bin", "HOME=/root", NULL};
	struct compose_input in = {
		.templates = s->env,
		.device = "stress",
		.dictionary_name = "devices/stress/dictionary",
		.dictionary = dictionary,
		.dictionary_len = sizeof(dictionary) - 1,
		.context_name = "devices/stress/context",
		.context = contexts[i],
		.context_len = strlen(contexts[i]),
		.env_yaml = "overrides: {QEMU_AUDIO_DRV: none}\n",
		.env_yaml_len = 34,
		.environ = base,
		.host_arch = "x86_64",
		.kvm = i % 2,
	};
	lf_error_clear(err);
	return compose_run(&in, r, err);
}

/* The cmdline without its "-name stress-G" item, and G (or -1). */
static char *strip_generation(const char *cmdline, int *gen)
{
	const char *p = strstr(cmdline, " -name stress-");
	*gen = -1;
	if (!p)
		return strdup(cmdline);
	const char *num = p + strlen(" -name stress-");
	char *end;
	*gen = (int)strtol(num, &end, 10);
	size_t head = (size_t)(p - cmdline);
	char *out = malloc(strlen(cmdline) + 1);
	memcpy(out, cmdline, head);
	strcpy(out + head, end);
	return out;
}

static void *composer(void *arg)
{
	struct shared *s = arg;
	unsigned seed = (unsigned)(uintptr_t)pthread_self();
	while (!atomic_load(&s->stop)) {
		int i = (int)(rand_r(&seed) % NCTX);
		int before = atomic_load(&s->generation);
		struct compose_result r;
		struct lf_error err;
		int rc = compose_ctx(s, i, &r, &err);
		int after = atomic_load(&s->generation);
		if (rc < 0) {
			fprintf(stderr, "stress_core: context %d failed: %s\n", i, err.msg);
			atomic_fetch_add(&s->failures, 1);
		} else {
			int gen;
			char *got = strip_generation(strbuf_str(&r.cmdline), &gen);
			/* the template read must be one written during this composition, or the one
			 * before it (a render may have started on the older file) */
			if (strcmp(got, s->expected[i]) != 0 || gen < before - 1 || gen > after) {
				fprintf(stderr,
					"stress_core: context %d: generation %d (written %d..%d)\n"
					"  got      %s  expected %s",
					i, gen, before, after, got, s->expected[i]);
				atomic_fetch_add(&s->failures, 1);
			}
			free(got);
		}
		compose_result_free(&r);
		atomic_fetch_add(&s->compositions, 1);
	}
	return NULL;
}

static void *replacer(void *arg)
{
	struct shared *s = arg;
	char qpath[512];
	snprintf(qpath, sizeof(qpath), "%s/qemu.jinja2", s->dir);
	size_t qlen;
	char *q = slurp(qpath, &qlen);
	if (!q) {
		atomic_fetch_add(&s->failures, 1);
		return NULL;
	}
	struct strbuf sb = STRBUF_INIT;
	for (int g = 1; !atomic_load(&s->stop); g++) {
		/* the generation is announced before the file exists, so a reader's window holds it */
		atomic_store(&s->generation, g);
		if (write_generation(s, g) < 0) {
			atomic_fetch_add(&s->failures, 1);
			break;
		}
		strbuf_reset(&sb);
		strbuf_add(&sb, q, qlen);
		strbuf_addf(&sb, "{# replaced %d #}\n", g);
		if (write_atomic(s->dir, "qemu.jinja2", sb.buf, sb.len) < 0) {
			atomic_fetch_add(&s->failures, 1);
			break;
		}
		if (g % 3 == 0)
			jinja_env_invalidate(s->env);
		atomic_fetch_add(&s->replacements, 1);
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	strbuf_release(&sb);
	free(q);
	return NULL;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[1024];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: stress_core TEMPLATES_DIR [SECONDS] [THREADS]\n", stderr);
		return 2;
	}
	int secs = argc > 2 ? atoi(argv[2]) : 5;
	int nthreads = argc > 3 ? atoi(argv[3]) : 8;
	if (nthreads < 1 || nthreads > MAX_THREADS)
		nthreads = 8;
	static struct shared s;
	snprintf(s.dir, sizeof(s.dir), "/tmp/lavafs-stress.XXXXXX");
	if (!mkdtemp(s.dir) || copy_dir(argv[1], s.dir) < 0) {
		fprintf(stderr, "stress_core: cannot copy %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	int status = 1;
	if (write_generation(&s, 0) < 0)
		goto out;
	const char *dirs[] = {s.dir};
	s.env = jinja_env_new(dirs, 1, NULL);

	/* the expected compositions, one thread, before anything changes */
	for (int i = 0; i < NCTX; i++) {
		struct compose_result r;
		struct lf_error err;
		if (compose_ctx(&s, i, &r, &err) < 0) {
			fprintf(stderr, "stress_core: context %d does not compose: %s\n", i, err.msg);
			compose_result_free(&r);
			goto out;
		}
		int gen;
		s.expected[i] = strip_generation(strbuf_str(&r.cmdline), &gen);
		compose_result_free(&r);
		if (gen != 0) {
			fprintf(stderr, "stress_core: context %d: no '-name stress-0' in %s", i,
				s.expected[i]);
			goto out;
		}
	}

	pthread_t th[MAX_THREADS + 1];
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, composer, &s);
	pthread_create(&th[nthreads], NULL, replacer, &s);
	sleep((unsigned)secs);
	atomic_store(&s.stop, true);
	for (int i = 0; i <= nthreads; i++)
		pthread_join(th[i], NULL);

	long fails = atomic_load(&s.failures);
	printf("stress_core: %d threads, %d s: %ld compositions, %ld template replacements, %s\n",
	       nthreads, secs, atomic_load(&s.compositions), atomic_load(&s.replacements),
	       fails ? "FAILURES" : "all as expected");
	status = fails || atomic_load(&s.compositions) < nthreads ? 1 : 0;
out:
	for (int i = 0; i < NCTX; i++)
		free(s.expected[i]);
	jinja_env_free(s.env);
	remove_dir(s.dir);
	return status;
}
