/* Shared by the subcommands: where the shipped templates are, file helpers, host facts. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "host.h"
#include "strbuf.h"

#ifndef LAVAFS_DATADIR
#define LAVAFS_DATADIR "/usr/local/share/lavafs"
#endif

static int is_dir_with(const char *dir, const char *file)
{
	char p[PATH_MAX];
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, file) >= sizeof(p))
		return 0;
	return access(p, R_OK) == 0;
}

const char *cli_shipped_templates(void)
{
	static char found[PATH_MAX];
	const char *envdir = getenv("LAVAFS_TEMPLATES");
	if (envdir && *envdir)
		return envdir;
	/* build/lavafs or build/asan/lavafs inside a source tree: look upwards for templates/ */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 0; up < 4; up++) {
			char *slash = strrchr(exe, '/');
			if (!slash)
				break;
			*slash = '\0';
			snprintf(found, sizeof(found), "%s/templates", exe);
			if (is_dir_with(found, "qemu.jinja2"))
				return found;
		}
	}
	snprintf(found, sizeof(found), "%s/templates", LAVAFS_DATADIR);
	return found;
}

int cli_read_file(const char *path, struct cli_file *f)
{
	f->data = NULL;
	f->len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "lavafs: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct strbuf sb = STRBUF_INIT;
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "lavafs: %s: %s\n", path, strerror(errno));
			close(fd);
			strbuf_release(&sb);
			return -1;
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > (64u << 20)) {
			fprintf(stderr, "lavafs: %s: larger than 64 MiB\n", path);
			close(fd);
			strbuf_release(&sb);
			return -1;
		}
		strbuf_add(&sb, buf, (size_t)n);
	}
	close(fd);
	f->data = strbuf_detach(&sb, &f->len);
	return 0;
}

void cli_free_file(struct cli_file *f)
{
	free(f->data);
	f->data = NULL;
	f->len = 0;
}

int cli_write_in(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%d", dir, name, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			unlink(tmp);
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "lavafs: %s: %s\n", path, strerror(errno));
	return -1;
}

void cli_remove_in(const char *dir, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

const char *cli_host_arch(void)
{
	const char *a = getenv("LAVAFS_HOST_ARCH");
	return a && *a ? a : host_arch();
}

bool cli_host_kvm(void)
{
	/* 0, false, no, off (any case) say no KVM; any other value says KVM */
	const char *k = getenv("LAVAFS_KVM");
	if (k && *k)
		return strcmp(k, "0") != 0 && strcasecmp(k, "false") != 0 && strcasecmp(k, "no") != 0 &&
		       strcasecmp(k, "off") != 0;
	return host_kvm_usable();
}
