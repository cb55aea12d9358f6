/* lavafs run DEVICEDIR: exec QEMU with exactly the composed argv and environment.
 *
 *   $ cat /mnt/lavafs/devices/qemu01/status
 *   composing
 *   $ lavafs run /mnt/lavafs/devices/qemu01
 *   lavafs: qemu01 is not ready: composing
 *   $ lavafs run /mnt/lavafs/devices/qemu01       # a moment later
 *   (qemu-system-x86_64 runs in place of lavafs, argv = DEVICEDIR/argv, environ = DEVICEDIR/env)
 *
 * No shell is ever involved: the argv items are passed to execve() as they are, and the
 * binary is looked up in the PATH of the composed environment, not the caller's. DEVICEDIR
 * may be a device in the mount or an OUTDIR written by `lavafs compose -o`: both are read with
 * plain open()/read(). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Far above any real QEMU command line, far below what could hurt the caller. */
#define RUN_MAX_FILE (4u << 20)
#define RUN_MAX_ITEMS 65536
#define RUN_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

struct run_file {
	const char *name;
	int fd;
	char *buf;
	size_t len;
};

static int run_open(const char *dir, struct run_file *f)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, f->name) >= sizeof(path)) {
		fprintf(stderr, "lavafs: run: path too long: %s/%s\n", dir, f->name);
		return -1;
	}
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		fprintf(stderr, "lavafs: run: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Read to EOF: st_size is not trusted (FUSE files may report 0 or change). */
static int run_read(const char *dir, struct run_file *f)
{
	size_t cap = 4096;
	f->buf = malloc(cap + 1);
	f->len = 0;
	if (!f->buf)
		return -1;
	for (;;) {
		if (f->len == cap) {
			if (cap >= RUN_MAX_FILE) {
				fprintf(stderr, "lavafs: run: %s/%s is larger than %u bytes\n", dir,
					f->name, RUN_MAX_FILE);
				return -1;
			}
			cap *= 2;
			char *nb = realloc(f->buf, cap + 1);
			if (!nb)
				return -1;
			f->buf = nb;
		}
		ssize_t n = read(f->fd, f->buf + f->len, cap - f->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "lavafs: run: cannot read %s/%s: %s\n", dir, f->name,
				strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		f->len += (size_t)n;
	}
	f->buf[f->len] = '\0';
	return 0;
}

/* Split "a\0b\0" into a NULL-terminated vector pointing into buf. Every item must be followed
 * by its NUL: a missing last NUL means a truncated or foreign file. */
static char **run_items(const char *dir, const struct run_file *f, size_t *count)
{
	size_t n = 0;
	if (f->len && f->buf[f->len - 1] != '\0') {
		fprintf(stderr, "lavafs: run: %s/%s: last item is not followed by NUL\n", dir,
			f->name);
		return NULL;
	}
	for (size_t i = 0; i < f->len; i++)
		n += f->buf[i] == '\0';
	if (n > RUN_MAX_ITEMS) {
		fprintf(stderr, "lavafs: run: %s/%s has more than %d items\n", dir, f->name,
			RUN_MAX_ITEMS);
		return NULL;
	}
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < f->len; i += strlen(f->buf + i) + 1)
		v[k++] = f->buf + i;
	*count = n;
	return v;
}

/* The device's name for messages: the last component of DEVICEDIR. */
static const char *run_device_name(char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	const char *slash = strrchr(dir, '/');
	return slash && slash[1] ? slash + 1 : dir;
}

/* 126 when something was found but could not be run, 127 when nothing was found. */
static int run_exec_failed(const char *what, int err)
{
	if (err == ENOENT || err == ENOTDIR) {
		fprintf(stderr, "lavafs: run: %s: not found\n", what);
		return 127;
	}
	if (err == ENOEXEC)
		fprintf(stderr, "lavafs: run: %s: not an executable format (lavafs runs no shell)\n",
			what);
	else
		fprintf(stderr, "lavafs: run: %s: cannot execute: %s\n", what, strerror(err));
	return 126;
}

/* execvp() would search the caller's PATH and fall back to /bin/sh on ENOEXEC; neither is
 * wanted, so the search is done here over the composed environment's PATH. Empty PATH
 * entries are skipped rather than meaning "the current directory". */
static int run_exec(char **argv, char **envp)
{
	const char *prog = argv[0];
	if (strchr(prog, '/')) {
		execve(prog, argv, envp);
		return run_exec_failed(prog, errno);
	}
	const char *path = RUN_DEFAULT_PATH;
	for (char **e = envp; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	int denied = 0;
	char full[4096];
	for (const char *p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);
		if (dlen > 0 && dlen + 1 + strlen(prog) < sizeof(full)) {
			snprintf(full, sizeof(full), "%.*s/%s", (int)dlen, p, prog);
			execve(full, argv, envp);
			int err = errno;
			if (err == EACCES)
				denied = err; /* keep looking, like execvp, but remember it */
			else if (err != ENOENT && err != ENOTDIR && err != ENAMETOOLONG &&
				 err != ELOOP)
				return run_exec_failed(full, err);
		}
		if (!end)
			break;
		p = end;
	}
	if (denied)
		return run_exec_failed(prog, denied);
	fprintf(stderr, "lavafs: run: %s: not found in PATH=%s\n", prog, path);
	return 127;
}

static int run_usage(FILE *to)
{
	fputs("usage: lavafs run DEVICEDIR\n"
	      "  exec the composed QEMU command: DEVICEDIR/argv with exactly DEVICEDIR/env,\n"
	      "  no shell; refuses unless the first line of DEVICEDIR/status is 'ready'\n",
	      to);
	return to == stdout ? 0 : 2;
}

int cli_run(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
		return run_usage(stdout);
	int arg = 1;
	if (argc == 3 && strcmp(argv[1], "--") == 0)
		arg = 2; /* `lavafs run -- -odd-name` */
	else if (argc != 2 || argv[1][0] == '-')
		return run_usage(stderr);
	if (argv[arg][0] == '\0')
		return run_usage(stderr);
	char *dir = argv[arg];
	const char *device = run_device_name(dir);

	/* Open all three before reading any: a mounted device swaps its outputs as a whole, and
	 * open handles keep the generation they were opened on. */
	struct run_file files[3] = {
	    {"status", -1, NULL, 0}, {"argv", -1, NULL, 0}, {"env", -1, NULL, 0}};
	int rc = 1;
	char **qargv = NULL, **qenv = NULL;
	for (int i = 0; i < 3; i++)
		if (run_open(dir, &files[i]) < 0)
			goto out;
	for (int i = 0; i < 3; i++)
		if (run_read(dir, &files[i]) < 0)
			goto out;

	struct run_file *status = &files[0];
	char *nl = memchr(status->buf, '\n', status->len);
	size_t first = nl ? (size_t)(nl - status->buf) : status->len;
	if (first != 5 || memcmp(status->buf, "ready", 5) != 0) {
		size_t len = status->len;
		while (len && (status->buf[len - 1] == '\n' || status->buf[len - 1] == '\0'))
			len--;
		fprintf(stderr, "lavafs: %s is not ready: %.*s\n", device, (int)len,
			len ? status->buf : "(empty status)");
		goto out;
	}
	/* Warnings after "ready" still deserve to be seen by whoever starts QEMU. */
	if (nl && nl[1])
		fprintf(stderr, "lavafs: %s: %s%s", device, nl + 1,
			status->buf[status->len - 1] == '\n' ? "" : "\n");

	size_t nargs, nenv;
	qargv = run_items(dir, &files[1], &nargs);
	qenv = run_items(dir, &files[2], &nenv);
	if (!qargv || !qenv)
		goto out;
	if (nargs == 0 || qargv[0][0] == '\0') {
		fprintf(stderr, "lavafs: run: %s/argv has no command\n", dir);
		goto out;
	}
	for (size_t i = 0; i < nenv; i++) {
		if (qenv[i][0] == '=' || !strchr(qenv[i], '=')) {
			fprintf(stderr, "lavafs: run: %s/env item %zu is not KEY=VALUE: %s\n", dir,
				i + 1, qenv[i]);
			goto out;
		}
	}
	for (int i = 0; i < 3; i++) {
		close(files[i].fd);
		files[i].fd = -1;
	}
	fflush(stdout);
	fflush(stderr);
	rc = run_exec(qargv, qenv);
out:
	for (int i = 0; i < 3; i++) {
		if (files[i].fd >= 0)
			close(files[i].fd);
		free(files[i].buf);
	}
	free(qargv);
	free(qenv);
	return rc;
}
