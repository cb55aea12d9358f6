/* bench_mount: the mount's latencies, measured with plain system calls.
 *
 *   bench_mount roundtrip DEVDIR N   write context (alternating two), close, read argv:
 *                                    prints p50/p99 in microseconds
 *   bench_mount read FILE N          open/read/close FILE N times: prints p50/p99/mean
 *   bench_mount pread FILE N         one open, N preads of the whole file: prints mean
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *t, int n)
{
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += t[i];
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("%s p50_us=%.1f p99_us=%.1f mean_us=%.2f n=%d\n", what, t[n / 2], t[(n * 99) / 100],
	       sum / n, n);
}

static ssize_t read_all(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = 0, r;
	while ((r = read(fd, buf + n, size - (size_t)n)) > 0)
		n += r;
	close(fd);
	return r < 0 ? -1 : n;
}

static int roundtrip(const char *dev, int n)
{
	static const char *ctx[2] = {"arch: amd64\n", "arch: arm64\n"};
	char cpath[4096], apath[4096], buf[65536], first[2][16];
	snprintf(cpath, sizeof(cpath), "%s/context", dev);
	snprintf(apath, sizeof(apath), "%s/argv", dev);
	double *t = calloc((size_t)n, sizeof(*t));
	if (!t)
		return 1;
	for (int i = -10; i < n; i++) {
		int k = (i + 10) & 1;
		double t0 = now_us();
		int fd = open(cpath, O_WRONLY | O_TRUNC | O_CREAT, 0664);
		if (fd < 0 || write(fd, ctx[k], strlen(ctx[k])) < 0 || close(fd) < 0) {
			fprintf(stderr, "bench_mount: write %s: %s\n", cpath, strerror(errno));
			return 1;
		}
		ssize_t r = read_all(apath, buf, sizeof(buf));
		double t1 = now_us();
		if (r <= 0) {
			fprintf(stderr, "bench_mount: read %s: %s\n", apath, strerror(errno));
			return 1;
		}
		/* the argv must be the one of the context just written: the two differ */
		if (i < -8)
			memcpy(first[k], buf, sizeof(first[k]));
		else if (memcmp(first[k], buf, sizeof(first[k])) != 0 || memcmp(first[0], first[1], sizeof(first[0])) == 0) {
			fprintf(stderr, "bench_mount: argv does not follow the context at iteration %d\n", i);
			return 1;
		}
		if (i >= 0)
			t[i] = t1 - t0;
	}
	report("roundtrip", t, n);
	free(t);
	return 0;
}

static int reads(const char *path, int n)
{
	char buf[65536];
	double *t = calloc((size_t)n, sizeof(*t));
	if (!t)
		return 1;
	for (int i = -100; i < n; i++) {
		double t0 = now_us();
		if (read_all(path, buf, sizeof(buf)) < 0) {
			fprintf(stderr, "bench_mount: %s: %s\n", path, strerror(errno));
			return 1;
		}
		if (i >= 0)
			t[i] = now_us() - t0;
	}
	report("read", t, n);
	free(t);
	return 0;
}

static int preads(const char *path, int n)
{
	char buf[65536];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 1;
	double t0 = now_us();
	for (int i = 0; i < n; i++)
		if (pread(fd, buf, sizeof(buf), 0) < 0)
			return 1;
	printf("pread mean_us=%.3f n=%d\n", (now_us() - t0) / n, n);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fputs("usage: bench_mount roundtrip DEVDIR N | read FILE N | pread FILE N\n", stderr);
		return 2;
	}
	int n = atoi(argv[3]);
	if (n <= 0)
		return 2;
	if (!strcmp(argv[1], "roundtrip"))
		return roundtrip(argv[2], n);
	if (!strcmp(argv[1], "read"))
		return reads(argv[2], n);
	if (!strcmp(argv[1], "pread"))
		return preads(argv[2], n);
	return 2;
}
