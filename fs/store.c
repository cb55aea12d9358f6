/* store: everything the mount shows that people wrote, kept as plain files under STORE.
 *
 *   $ lavafs /var/lib/lavafs /srv/lavafs       # STORE is created and seeded if missing
 *   $ ls -A /var/lib/lavafs /var/lib/lavafs/devices/qemu01
 *   .lavafs  device-types  devices  env.yaml  health-checks
 *   context  dictionary  overlay  tags
 *
 * Layout: STORE/env.yaml, STORE/device-types/NAME.jinja2, STORE/health-checks/NAME.yaml,
 * STORE/devices/DEV/{dictionary,tags,context|job.yaml,overlay/,scratch files}, and the
 * daemon's own STORE/.lavafs/{version,lock,tmp/,trash/}. Outputs are never stored: they are
 * composed again at start-up, and a composition is a pure function of the stored inputs.
 * A file is only ever replaced by rename(2) of a complete, fsync'ed temp file, followed by an
 * fsync of its directory, so a crash leaves either the old or the new content.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "lavafs.h"

#define STORE_VERSION "lavafs-store 1\n"

static int full_write(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int store_fsync_parent(struct lavafs *fs, const char *rel)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", rel);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	int fd = openat(fs->storefd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int store_tmpfile(struct lavafs *fs, char *name, size_t size)
{
	for (int tries = 0; tries < 100; tries++) {
		snprintf(name, size, ".lavafs/tmp/%ld-%lu", (long)getpid(), ++fs->tmp_serial);
		int fd = openat(fs->storefd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

int store_read(struct lavafs *fs, const char *rel, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	int fd = openat(fs->storefd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			if (!(buf = realloc(buf, cap)))
				abort();
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = -errno;
			free(buf);
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int store_write(struct lavafs *fs, const char *rel, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int fd = store_tmpfile(fs, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	int rc = full_write(fd, data, len);
	if (!rc && fchmod(fd, mode) < 0)
		rc = -errno;
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (!rc && renameat(fs->storefd, tmp, fs->storefd, rel) < 0)
		rc = -errno;
	if (rc) {
		unlinkat(fs->storefd, tmp, 0);
		return rc;
	}
	return store_fsync_parent(fs, rel);
}

int store_copy_meta(struct lavafs *fs, int from_fd, int to_fd, bool real)
{
	struct stat st;
	if (fstat(from_fd, &st) < 0)
		return -errno;
	if (real && geteuid() == 0 && fchown(to_fd, st.st_uid, st.st_gid) < 0)
		return -errno;
	if (fchmod(to_fd, st.st_mode & 07777) < 0)
		return -errno;
	(void)fs;
	return 0;
}

/* Delete a tree below dirfd/name (no symlink is ever followed). */
static int remove_tree_at(int at, const char *name)
{
	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			remove_tree_at(dirfd(d), e->d_name);
	closedir(d);
	return unlinkat(at, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int store_remove_tree(struct lavafs *fs, const char *rel)
{
	char trash[PATH_MAX];
	snprintf(trash, sizeof(trash), ".lavafs/trash/%ld-%lu", (long)getpid(), ++fs->tmp_serial);
	if (renameat(fs->storefd, rel, fs->storefd, trash) < 0)
		return -errno;
	int rc = store_fsync_parent(fs, rel);
	remove_tree_at(fs->storefd, trash);
	return rc;
}

bool store_dir_empty(struct lavafs *fs, const char *rel)
{
	int fd = openat(fs->storefd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return true;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return true;
	}
	bool empty = true;
	struct dirent *e;
	while (empty && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

static void empty_dir(int storefd, const char *rel)
{
	int fd = openat(storefd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			remove_tree_at(dirfd(d), e->d_name);
	closedir(d);
}

/* Copy every regular file of src whose name ends with suffix into STORE/dst (when missing). */
static void seed_dir(struct lavafs *fs, const char *src, const char *dst, const char *suffix)
{
	DIR *d = opendir(src);
	if (!d) {
		fs_log(fs, LOG_WARNING, "no shipped templates in %s: %s", src, strerror(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name), s = strlen(suffix);
		if (e->d_name[0] == '.' || n <= s || strcmp(e->d_name + n - s, suffix) != 0)
			continue;
		char from[PATH_MAX], to[PATH_MAX];
		snprintf(from, sizeof(from), "%s/%s", src, e->d_name);
		snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
		if (faccessat(fs->storefd, to, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		int fd = open(from, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct stat st;
		char *buf = NULL;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (buf = malloc((size_t)st.st_size + 1))) {
			ssize_t r = read(fd, buf, (size_t)st.st_size);
			if (r == st.st_size)
				store_write(fs, to, buf, (size_t)r, 0664);
		}
		free(buf);
		close(fd);
	}
	closedir(d);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST)
				return -errno;
			*s = '/';
		}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int store_open(struct lavafs *fs, const char *shipped)
{
	struct stat st;
	if (lstat(fs->store, &st) < 0) {
		int rc = mkdir_p(fs->store, 0755);
		if (rc < 0) {
			fs_log(fs, LOG_ERR, "cannot create store %s: %s", fs->store, strerror(-rc));
			return rc;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		fs_log(fs, LOG_ERR, "store %s is not a directory", fs->store);
		return -ENOTDIR;
	} else if (st.st_uid != geteuid()) {
		fs_log(fs, LOG_ERR, "store %s belongs to uid %u, not to this lavafs (uid %u)", fs->store,
		       (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	fs->storefd = open(fs->store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->storefd < 0)
		return -errno;
	/* Only the daemon goes in: the store keeps writers' overlay files with their owners and
	 * modes, and a set-user-ID file a writer left there must not run for other local users
	 * (the mount itself is nosuid). Everyone reaches the files through the mount. */
	if (fchmod(fs->storefd, 0700) < 0)
		fs_log(fs, LOG_WARNING, "cannot make store %s private: %s", fs->store, strerror(errno));
	bool owned = faccessat(fs->storefd, ".lavafs", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if (!owned && !store_dir_empty(fs, ".")) {
		fs_log(fs, LOG_ERR,
		       "%s is not empty and is not a lavafs store (no .lavafs in it); "
		       "give lavafs an empty or missing directory",
		       fs->store);
		return -EEXIST;
	}
	mkdirat(fs->storefd, ".lavafs", 0700);
	mkdirat(fs->storefd, ".lavafs/tmp", 0700);
	mkdirat(fs->storefd, ".lavafs/trash", 0700);
	fs->lockfd = openat(fs->storefd, ".lavafs/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fs->lockfd < 0 || flock(fs->lockfd, LOCK_EX | LOCK_NB) < 0) {
		fs_log(fs, LOG_ERR, "store %s is in use by another lavafs", fs->store);
		return -EBUSY;
	}
	/* what a crash may have left behind: unfinished writes and half-removed devices */
	empty_dir(fs->storefd, ".lavafs/tmp");
	empty_dir(fs->storefd, ".lavafs/trash");
	if (faccessat(fs->storefd, ".lavafs/version", F_OK, 0) != 0) {
		char hc[PATH_MAX];
		mkdirat(fs->storefd, "device-types", 0775);
		mkdirat(fs->storefd, "health-checks", 0775);
		mkdirat(fs->storefd, "devices", 0775);
		seed_dir(fs, shipped, "device-types", ".jinja2");
		snprintf(hc, sizeof(hc), "%s/health-checks", shipped);
		seed_dir(fs, hc, "health-checks", ".yaml");
		if (faccessat(fs->storefd, "env.yaml", F_OK, 0) != 0)
			store_write(fs, "env.yaml", "", 0, 0664);
		int rc = store_write(fs, ".lavafs/version", STORE_VERSION, strlen(STORE_VERSION), 0600);
		if (rc < 0)
			return rc;
		store_fsync_parent(fs, "device-types/x");
	}
	/* a store missing a top-level directory (removed by hand) gets it back empty */
	mkdirat(fs->storefd, "device-types", 0775);
	mkdirat(fs->storefd, "health-checks", 0775);
	mkdirat(fs->storefd, "devices", 0775);
	if (store_read(fs, "env.yaml", &fs->env_yaml, &fs->env_yaml_len) < 0)
		fs->env_yaml = NULL;
	return 0;
}

void store_close(struct lavafs *fs)
{
	if (fs->lockfd >= 0)
		close(fs->lockfd);
	if (fs->storefd >= 0)
		close(fs->storefd);
	free(fs->env_yaml);
	fs->env_yaml = NULL;
}
