/* ops: the FUSE operations of the mounted tree, one function each.
 *
 *   $ cd /srv/lavafs/devices/qemu01
 *   $ echo 'arch: arm64' > context && tr '\0' ' ' < argv; echo
 *   /usr/bin/qemu-system-aarch64 -cpu cortex-a57 -machine virt ...
 *   $ echo x > argv
 *   bash: argv: Permission denied
 *   $ vim context                 # swap file, 4913 probe, backup, rename: all work
 *
 * Why the low-level API: atomic outputs with the page cache on. Every composition gives each
 * output a new inode number (the high-level API keeps one inode per path), so a reader that
 * opened argv keeps reading its generation from its own inode and its own cached pages, and a
 * new open looks the name up again (entry timeout 0 for outputs) and gets the new inode, whose
 * cache starts empty. Nothing stale can be served and nothing needs invalidating: an inode's
 * bytes never change (keep_cache, long attribute timeout), and the kernel drops old inodes when
 * it forgets them. Notifications would also be a deadlock hazard here: a rename of context
 * holds the directory lock while we compose.
 *
 * Writes to store-backed files go to a private working copy (STORE/.lavafs/tmp) and replace
 * the file atomically when the writer closes it (FLUSH is synchronous to close(2); RELEASE is
 * not) or fsyncs it, then compose. So `echo ... > context && cat argv` shows the new result.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include "lavafs.h"

/* Attribute and entry timeouts (seconds). Outputs never change; other files may change
 * under the kernel by a writer's commit, so their attributes are always asked for. */
#define TTL_DIR 1.0
#define TTL_OUTPUT_ATTR 3600.0

struct handle {
	struct node *node;
	struct gen *gen; /* outputs */
	int fd;          /* the committed file as it was at open (or last commit), -1 if none */
	int wfd;         /* working copy, -1 until the first change */
	char wname[PATH_MAX];
	bool writable, dirty, trunc, append, failed;
	bool written; /* write(2) or truncate since the last commit, not just O_TRUNC */
	struct handle *next_writer;
	struct handle *prev_all, *next_all; /* fs->handles */
};

struct dirlist {
	char *buf; /* fuse_add_direntry records for the whole directory */
	size_t len;
};

static struct lavafs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct handle *handle_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

static bool node_is_dir(const struct node *n)
{
	return n->kind != NK_FILE && n->kind != NK_OUTPUT;
}

static bool is_input_name(const char *name)
{
	return !strcmp(name, "dictionary") || !strcmp(name, "context") || !strcmp(name, "job.yaml") ||
	       !strcmp(name, "tags");
}

static bool caller_is_admin(struct lavafs *fs, fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	if (c->uid == 0 || c->uid == fs->o.owner_uid || (fs->o.have_admin_uid && c->uid == fs->o.admin_uid) ||
	    c->gid == fs->o.admin_gid)
		return true;
	gid_t groups[64];
	int n = fuse_req_getgroups(req, 64, groups);
	for (int i = 0; i < n && i < 64; i++)
		if (groups[i] == fs->o.admin_gid)
			return true;
	return false;
}

/* Control characters in names outside an overlay only make trouble in status lines. */
static int check_name(const struct node *dir, const char *name)
{
	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	if (dir->kind == NK_OVERLAY || dir->kind == NK_SUBDIR)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return -EINVAL;
	return 0;
}

static bool valid_device_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

static int child_path(const struct node *dir, const char *name, char *buf, size_t size)
{
	char p[PATH_MAX];
	int rc = node_path(dir, p, sizeof(p));
	if (rc < 0)
		return rc;
	int w = dir->parent ? snprintf(buf, size, "%s/%s", p, name) : snprintf(buf, size, "%s", name);
	return (w < 0 || (size_t)w >= size) ? -ENAMETOOLONG : 0;
}

static struct device *device_of(struct lavafs *fs, struct node *n)
{
	struct node *dd = node_device_dir(n);
	if (!dd || !dd->attached)
		return NULL;
	return device_find(fs, dd->name);
}

static int node_stat(struct lavafs *fs, struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	if (n->kind == NK_OUTPUT) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_uid = fs->o.owner_uid;
		st->st_gid = fs->o.writer_gid;
		st->st_size = n->out_size;
		st->st_blksize = 4096;
		st->st_blocks = (n->out_size + 511) / 512;
		st->st_mtim = st->st_ctim = st->st_atim = n->out_mtime;
	} else {
		char rel[PATH_MAX];
		int rc = node_path(n, rel, sizeof(rel));
		if (rc < 0)
			return rc;
		if (fstatat(fs->storefd, rel, st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		switch (n->kind) {
		case NK_ROOT:
			st->st_nlink = 5;
			/* fall through */
		case NK_TYPES:
		case NK_HCHECKS:
		case NK_DEVICES:
			st->st_mode = S_IFDIR | 0775;
			st->st_uid = fs->o.owner_uid;
			st->st_gid = fs->o.admin_gid;
			break;
		case NK_DEVICE:
			st->st_mode = S_IFDIR | 0775;
			st->st_uid = fs->o.owner_uid;
			st->st_gid = fs->o.writer_gid;
			break;
		case NK_FILE:
			if (node_class(n) != NC_REAL) {
				st->st_mode = (st->st_mode & S_IFMT) | 0664;
				st->st_uid = fs->o.owner_uid;
				st->st_gid = node_class(n) == NC_ADMIN ? fs->o.admin_gid : fs->o.writer_gid;
			}
			break;
		default:
			break;
		}
	}
	st->st_ino = n->ino;
	return 0;
}

static double attr_ttl(const struct node *n)
{
	if (n->kind == NK_OUTPUT)
		return TTL_OUTPUT_ATTR;
	return node_is_dir(n) ? TTL_DIR : 0.0;
}

/* Names the daemon itself may remove or replace get no positive dentry caching. */
static double entry_ttl(const struct node *n)
{
	if (n->kind == NK_OUTPUT || (n->kind == NK_FILE && n->parent && n->parent->kind == NK_DEVICE &&
				     (!strcmp(n->name, "context") || !strcmp(n->name, "job.yaml"))))
		return 0.0;
	return TTL_DIR;
}

static int reply_entry(fuse_req_t req, struct lavafs *fs, struct node *n)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	int rc = node_stat(fs, n, &e.attr);
	if (rc < 0)
		return rc;
	e.ino = n->ino;
	e.attr_timeout = attr_ttl(n);
	e.entry_timeout = entry_ttl(n);
	n->nlookup++;
	if (fuse_reply_entry(req, &e) != 0)
		n->nlookup--;
	return 0;
}

/* The node for `name` in dir, created from the store when the kernel has not seen it yet. */
static int lookup_child(struct lavafs *fs, struct node *dir, const char *name, struct node **out)
{
	struct node *n = NULL;
	char rel[PATH_MAX];
	struct stat st;
	int rc;
	*out = NULL;
	if (!dir->attached && dir != fs->root)
		return -ENOENT;
	switch (dir->kind) {
	case NK_ROOT:
		if (!strcmp(name, ".lavafs"))
			return -ENOENT;
		break;
	case NK_DEVICES:
		if (!device_find(fs, name))
			return -ENOENT;
		break;
	case NK_DEVICE: {
		struct device *d = device_of(fs, dir);
		if (!d)
			return -ENOENT;
		int idx = output_index(name);
		if (idx >= 0) {
			*out = device_output_node(fs, d, dir, idx);
			return *out ? 0 : -ENOENT;
		}
		if (name_is_reserved_in_device(name) && strcmp(name, "overlay") != 0)
			return -ENOENT;
		break;
	}
	case NK_FILE:
	case NK_OUTPUT:
		return -ENOTDIR;
	default:
		break;
	}
	if ((rc = child_path(dir, name, rel, sizeof(rel))) < 0)
		return rc;
	if (fstatat(fs->storefd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	enum node_kind kind;
	if (dir->kind == NK_ROOT && !strcmp(name, "device-types"))
		kind = NK_TYPES;
	else if (dir->kind == NK_ROOT && !strcmp(name, "health-checks"))
		kind = NK_HCHECKS;
	else if (dir->kind == NK_ROOT && !strcmp(name, "devices"))
		kind = NK_DEVICES;
	else if (dir->kind == NK_DEVICES)
		kind = NK_DEVICE;
	else if (dir->kind == NK_DEVICE && !strcmp(name, "overlay"))
		kind = NK_OVERLAY;
	else if (S_ISDIR(st.st_mode) && (dir->kind == NK_OVERLAY || dir->kind == NK_SUBDIR))
		kind = NK_SUBDIR;
	else if (S_ISREG(st.st_mode) || (S_ISLNK(st.st_mode) && node_in_overlay(dir)))
		kind = NK_FILE;
	else
		return -ENOENT;
	if (node_is_dir(&(struct node){.kind = kind}) != !!S_ISDIR(st.st_mode))
		return -ENOENT;
	n = node_child(fs, dir, name);
	if (n && n->kind != kind) {
		node_detach(fs, n);
		n = NULL;
	}
	if (!n)
		n = node_new(fs, dir, name, kind);
	*out = n;
	return 0;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_AUTO_INVAL_DATA);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lavafs *fs = fs_of(req);
	pthread_mutex_lock(&fs->lock);
	struct node *dir = node_by_ino(fs, parent), *n = NULL;
	int rc = dir ? lookup_child(fs, dir, name, &n) : -ENOENT;
	if (!rc)
		rc = reply_entry(req, fs, n);
	pthread_mutex_unlock(&fs->lock);
	if (rc)
		fuse_reply_err(req, -rc);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct lavafs *fs = fs_of(req);
	pthread_mutex_lock(&fs->lock);
	struct node *n = node_by_ino(fs, ino);
	if (n)
		node_forget(fs, n, nlookup);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct lavafs *fs = fs_of(req);
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < count; i++) {
		struct node *n = node_by_ino(fs, forgets[i].ino);
		if (n)
			node_forget(fs, n, forgets[i].nlookup);
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lavafs *fs = fs_of(req);
	struct stat st;
	pthread_mutex_lock(&fs->lock);
	struct node *n = node_by_ino(fs, ino);
	int rc = n ? node_stat(fs, n, &st) : -ENOENT;
	double ttl = n ? attr_ttl(n) : 0;
	pthread_mutex_unlock(&fs->lock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, ttl);
}

static size_t size_limit(struct lavafs *fs, const struct node *n)
{
	return node_in_overlay(n) ? fs->o.max_overlay_size : fs->o.max_file_size;
}

/* The working copy starts as the committed content (or empty after O_TRUNC) and keeps the
 * committed file's mode and, for files that show their own owner, its owner. */
static int handle_begin_change(struct lavafs *fs, struct handle *h)
{
	if (h->wfd >= 0)
		return 0;
	int wfd = store_tmpfile(fs, h->wname, sizeof(h->wname));
	if (wfd < 0)
		return wfd;
	if (h->fd >= 0) {
		store_copy_meta(fs, h->fd, wfd, node_class(h->node) == NC_REAL);
		if (!h->trunc) {
			char buf[65536];
			off_t off = 0;
			ssize_t r;
			while ((r = pread(h->fd, buf, sizeof(buf), off)) > 0) {
				if (pwrite(wfd, buf, (size_t)r, off) != r) {
					int e = -errno;
					close(wfd);
					unlinkat(fs->storefd, h->wname, 0);
					return e ? e : -EIO;
				}
				off += r;
			}
		}
	}
	h->wfd = wfd;
	h->trunc = false;
	return 0;
}

static void handle_discard(struct lavafs *fs, struct handle *h)
{
	if (h->wfd < 0)
		return;
	close(h->wfd);
	unlinkat(fs->storefd, h->wname, 0);
	h->wfd = -1;
	h->dirty = false;
}

/* Remove the other job input of a device (SPEC: one job input at a time). */
static void drop_other_job_input(struct lavafs *fs, struct node *devdir, const char *written)
{
	const char *other = !strcmp(written, "context") ? "job.yaml" : "context";
	char rel[PATH_MAX];
	if (child_path(devdir, other, rel, sizeof(rel)) < 0)
		return;
	if (unlinkat(fs->storefd, rel, 0) == 0)
		store_fsync_parent(fs, rel);
	struct node *n = node_child(fs, devdir, other);
	if (n)
		node_detach(fs, n);
}

/* What depends on a file that changed (its content, or its existence under name). */
static void file_changed(struct lavafs *fs, struct node *dir, const char *name, bool written)
{
	switch (dir->kind) {
	case NK_ROOT:
		if (!strcmp(name, "env.yaml"))
			env_changed(fs);
		break;
	case NK_TYPES:
		templates_changed(fs, name);
		break;
	case NK_HCHECKS:
		health_check_changed(fs, name);
		break;
	case NK_DEVICE: {
		struct device *d = device_of(fs, dir);
		if (!d || !is_input_name(name))
			break;
		if (written && (!strcmp(name, "context") || !strcmp(name, "job.yaml")))
			drop_other_job_input(fs, dir, name);
		device_changed(fs, d);
		break;
	}
	default:
		break;
	}
}

/* Make a handle's changes the file's content: fsync, rename over it, fsync the directory,
 * then recompose whatever depends on it. */
static int handle_commit(struct lavafs *fs, struct handle *h)
{
	if (h->failed) {
		h->failed = false;
		handle_discard(fs, h);
		return -EFBIG;
	}
	if (!h->dirty)
		return 0;
	if (h->wfd < 0) {
		int rc = handle_begin_change(fs, h);
		if (rc < 0)
			return rc;
	}
	struct node *n = h->node;
	if (!n->attached) { /* unlinked while open: its content goes nowhere */
		handle_discard(fs, h);
		return 0;
	}
	char rel[PATH_MAX];
	int rc = node_path(n, rel, sizeof(rel));
	if (!rc && fsync(h->wfd) < 0)
		rc = -errno;
	if (!rc && renameat(fs->storefd, h->wname, fs->storefd, rel) < 0)
		rc = -errno;
	if (!rc)
		rc = store_fsync_parent(fs, rel);
	if (rc < 0) {
		handle_discard(fs, h);
		fs_log(fs, LOG_ERR, "cannot store %s: %s", rel, strerror(-rc));
		return rc;
	}
	if (h->fd >= 0)
		close(h->fd);
	h->fd = h->wfd; /* the working copy is now the committed file: read it, never write it */
	h->wfd = -1;
	h->dirty = h->written = false;
	file_changed(fs, n->parent, n->name, true);
	return 0;
}

/* Setting a mode, owner or times on a file also sets it on every pending working copy, so a
 * commit that follows (cp -p: write, fchmod, futimens, close) keeps it. */
static int apply_meta(struct lavafs *fs, struct node *n, const char *rel, struct stat *attr, int to_set)
{
	bool isreal = node_class(n) == NC_REAL && n->kind != NK_ROOT && n->kind != NK_DEVICE &&
		      n->kind != NK_TYPES && n->kind != NK_HCHECKS && n->kind != NK_DEVICES;
	struct stat cur;
	int rc = node_stat(fs, n, &cur);
	if (rc < 0)
		return rc;
	if (!isreal) {
		if (((to_set & FUSE_SET_ATTR_MODE) && (attr->st_mode & 07777) != (cur.st_mode & 07777)) ||
		    ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != cur.st_uid) ||
		    ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != cur.st_gid))
			return -EPERM;
	} else {
		if ((to_set & FUSE_SET_ATTR_MODE) && !S_ISLNK(cur.st_mode)) {
			if (fchmodat(fs->storefd, rel, attr->st_mode & 07777, 0) < 0)
				return -errno;
			for (struct handle *h = n->writers; h; h = h->next_writer)
				if (h->wfd >= 0)
					fchmod(h->wfd, attr->st_mode & 07777);
		}
		if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
			uid_t u = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
			gid_t g = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
			if (fchownat(fs->storefd, rel, u, g, AT_SYMLINK_NOFOLLOW) < 0)
				return -errno;
			for (struct handle *h = n->writers; h; h = h->next_writer)
				if (h->wfd >= 0 && fchown(h->wfd, u, g) < 0)
					return -errno;
		}
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		      FUSE_SET_ATTR_MTIME_NOW)) {
		struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			ts[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			ts[1] = attr->st_mtim;
		if (utimensat(fs->storefd, rel, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		for (struct handle *h = n->writers; h; h = h->next_writer)
			if (h->wfd >= 0)
				futimens(h->wfd, ts);
	}
	return 0;
}

static void handle_add_writer(struct handle *h)
{
	h->next_writer = h->node->writers;
	h->node->writers = h;
}

static void handle_remove_writer(struct handle *h)
{
	for (struct handle **pp = &h->node->writers; *pp; pp = &(*pp)->next_writer)
		if (*pp == h) {
			*pp = h->next_writer;
			break;
		}
}

static struct handle *handle_new(struct lavafs *fs, struct node *n)
{
	struct handle *h = calloc(1, sizeof(*h));
	if (!h)
		abort();
	h->node = n;
	h->fd = h->wfd = -1;
	n->refs++;
	pthread_mutex_lock(&fs->hlock);
	h->next_all = fs->handles;
	if (fs->handles)
		fs->handles->prev_all = h;
	fs->handles = h;
	pthread_mutex_unlock(&fs->hlock);
	return h;
}

static void handle_free(struct lavafs *fs, struct handle *h)
{
	pthread_mutex_lock(&fs->hlock);
	if (h->prev_all)
		h->prev_all->next_all = h->next_all;
	else
		fs->handles = h->next_all;
	if (h->next_all)
		h->next_all->prev_all = h->prev_all;
	pthread_mutex_unlock(&fs->hlock);
	handle_discard(fs, h);
	if (h->writable)
		handle_remove_writer(h);
	if (h->fd >= 0)
		close(h->fd);
	if (h->gen)
		gen_unref(h->gen);
	node_put(fs, h->node);
	free(h);
}

static int setattr_size(struct lavafs *fs, struct node *n, off_t size, struct fuse_file_info *fi)
{
	if (n->kind != NK_FILE)
		return -EISDIR;
	if ((size_t)size > size_limit(fs, n))
		return -EFBIG;
	struct handle *h = fi ? handle_of(fi) : NULL;
	bool own = !h || !h->writable;
	char rel[PATH_MAX];
	int rc = node_path(n, rel, sizeof(rel));
	if (rc < 0)
		return rc;
	struct stat st;
	if (fstatat(fs->storefd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -EINVAL;
	if (own) { /* truncate(1) by path: a complete write of its own */
		h = handle_new(fs, n);
		h->fd = openat(fs->storefd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		h->writable = true;
		handle_add_writer(h);
	}
	rc = handle_begin_change(fs, h);
	if (!rc && ftruncate(h->wfd, size) < 0)
		rc = -errno;
	if (!rc)
		h->dirty = h->written = true;
	if (own) {
		if (!rc)
			rc = handle_commit(fs, h);
		handle_free(fs, h);
	}
	return rc;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct lavafs *fs = fs_of(req);
	struct stat st;
	char rel[PATH_MAX];
	pthread_mutex_lock(&fs->lock);
	struct node *n = node_by_ino(fs, ino);
	int rc = n ? 0 : -ENOENT;
	if (!rc && n->kind == NK_OUTPUT)
		rc = -EPERM;
	if (!rc)
		rc = node_path(n, rel, sizeof(rel));
	if (!rc && (to_set & FUSE_SET_ATTR_SIZE))
		rc = setattr_size(fs, n, attr->st_size, fi);
	if (!rc)
		rc = apply_meta(fs, n, rel, attr, to_set);
	if (!rc)
		rc = node_stat(fs, n, &st);
	double ttl = n ? attr_ttl(n) : 0;
	pthread_mutex_unlock(&fs->lock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, ttl);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct lavafs *fs = fs_of(req);
	char rel[PATH_MAX], target[PATH_MAX];
	ssize_t len = -1;
	pthread_mutex_lock(&fs->lock);
	struct node *n = node_by_ino(fs, ino);
	int rc = n ? node_path(n, rel, sizeof(rel)) : -ENOENT;
	if (!rc && (len = readlinkat(fs->storefd, rel, target, sizeof(target) - 1)) < 0)
		rc = -errno;
	pthread_mutex_unlock(&fs->lock);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	target[len] = '\0';
	fuse_reply_readlink(req, target);
}

/* Where a new entry may go, and whether this caller may put it there. */
static int may_create(struct lavafs *fs, fuse_req_t req, struct node *dir, const char *name, bool isdir)
{
	int rc = check_name(dir, name);
	if (rc)
		return rc;
	if (!dir->attached && dir != fs->root)
		return -ENOENT;
	switch (dir->kind) {
	case NK_ROOT:
		if (!strcmp(name, ".lavafs") || !strcmp(name, "device-types") ||
		    !strcmp(name, "health-checks") || !strcmp(name, "devices"))
			return -EEXIST;
		return isdir ? -EPERM : 0;
	case NK_TYPES:
	case NK_HCHECKS:
		return isdir ? -EPERM : 0;
	case NK_DEVICES:
		if (!isdir)
			return -EPERM;
		return valid_device_name(name) ? 0 : -EINVAL;
	case NK_DEVICE:
		if (!device_of(fs, dir))
			return -ENOENT;
		if (isdir)
			return -EPERM;
		if (name_is_reserved_in_device(name))
			return -EACCES;
		if (!strcmp(name, "dictionary") && !caller_is_admin(fs, req))
			return -EACCES;
		return 0;
	case NK_OVERLAY:
	case NK_SUBDIR:
		return 0;
	default:
		return -ENOTDIR;
	}
}

static void overlay_touched(struct lavafs *fs, struct node *dir)
{
	if (!node_in_overlay(dir))
		return;
	struct device *d = device_of(fs, dir);
	if (d)
		device_overlay_changed(fs, d);
}

/* Files that show their own owner get the creator's (when the daemon may give it). */
static void give_to_caller(struct lavafs *fs, fuse_req_t req, const char *rel)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	if (geteuid() == 0)
		fchownat(fs->storefd, rel, c->uid, c->gid, AT_SYMLINK_NOFOLLOW);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct lavafs *fs = fs_of(req);
	char rel[PATH_MAX];
	struct node *n = NULL;
	pthread_mutex_lock(&fs->lock);
	struct node *dir = node_by_ino(fs, parent);
	int rc = dir ? may_create(fs, req, dir, name, true) : -ENOENT;
	if (!rc)
		rc = child_path(dir, name, rel, sizeof(rel));
	if (!rc && dir->kind == NK_DEVICES) {
		char ov[PATH_MAX];
		snprintf(ov, sizeof(ov), "%s/overlay", rel);
		if (device_find(fs, name) || mkdirat(fs->storefd, rel, 0775) < 0)
			rc = errno == EEXIST || device_find(fs, name) ? -EEXIST : -errno;
		else if (mkdirat(fs->storefd, ov, 0775) < 0)
			rc = -errno;
		if (!rc) {
			if (geteuid() == 0)
				fchownat(fs->storefd, ov, fs->o.owner_uid, fs->o.writer_gid, 0);
			fchmodat(fs->storefd, ov, 0775, 0);
			/* an empty dictionary, so an admin who may not create files in the device
			 * directory (it belongs to the writers) can still write it */
			char dict[PATH_MAX];
			snprintf(dict, sizeof(dict), "%s/dictionary", rel);
			store_write(fs, dict, "", 0, 0664);
			store_fsync_parent(fs, ov);
			store_fsync_parent(fs, rel);
			device_changed(fs, device_add(fs, name));
			n = node_new(fs, dir, name, NK_DEVICE);
		}
	} else if (!rc) {
		if (mkdirat(fs->storefd, rel, mode & 07777) < 0)
			rc = -errno;
		else {
			give_to_caller(fs, req, rel);
			store_fsync_parent(fs, rel);
			n = node_new(fs, dir, name, NK_SUBDIR);
			overlay_touched(fs, dir);
		}
	}
	if (!rc)
		rc = reply_entry(req, fs, n);
	pthread_mutex_unlock(&fs->lock);
	if (rc)
		fuse_reply_err(req, -rc);
}

/* May this caller remove or replace the entry `name` of dir? */
static int may_remove(struct lavafs *fs, fuse_req_t req, struct node *dir, const char *name)
{
	if (dir->kind == NK_DEVICE) {
		if (name_is_reserved_in_device(name))
			return -EPERM;
		if (!strcmp(name, "dictionary") && !caller_is_admin(fs, req))
			return -EACCES;
	}
	if (dir->kind == NK_ROOT && (!strcmp(name, ".lavafs") || !strcmp(name, "device-types") ||
				     !strcmp(name, "health-checks") || !strcmp(name, "devices")))
		return -EPERM;
	return 0;
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lavafs *fs = fs_of(req);
	char rel[PATH_MAX];
	pthread_mutex_lock(&fs->lock);
	struct node *dir = node_by_ino(fs, parent);
	int rc = dir ? may_remove(fs, req, dir, name) : -ENOENT;
	if (!rc && dir->kind == NK_DEVICES)
		rc = -EISDIR;
	if (!rc)
		rc = child_path(dir, name, rel, sizeof(rel));
	if (!rc && unlinkat(fs->storefd, rel, 0) < 0)
		rc = -errno;
	if (!rc) {
		store_fsync_parent(fs, rel);
		struct node *n = node_child(fs, dir, name);
		if (n)
			node_detach(fs, n);
		file_changed(fs, dir, name, false);
		overlay_touched(fs, dir);
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, -rc);
}

/* A device goes away with its inputs; an overlay with files in it (or a file someone is
 * editing next to the inputs) keeps it. */
static int device_rmdir(struct lavafs *fs, struct node *devices, const char *name)
{
	struct device *d = device_find(fs, name);
	if (!d)
		return -ENOENT;
	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "devices/%s/overlay", name);
	if (!store_dir_empty(fs, rel))
		return -ENOTEMPTY;
	snprintf(rel, sizeof(rel), "devices/%s", name);
	int fd = openat(fs->storefd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -ENOMEM;
	}
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "overlay") &&
		    !is_input_name(e->d_name))
			rc = -ENOTEMPTY;
	closedir(dir);
	if (rc)
		return rc;
	rc = store_remove_tree(fs, rel);
	if (rc)
		return rc;
	struct node *n = node_child(fs, devices, name);
	if (n)
		node_detach(fs, n);
	device_remove(fs, d);
	return 0;
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lavafs *fs = fs_of(req);
	char rel[PATH_MAX];
	pthread_mutex_lock(&fs->lock);
	struct node *dir = node_by_ino(fs, parent);
	int rc = dir ? 0 : -ENOENT;
	if (!rc && dir->kind == NK_DEVICES)
		rc = device_rmdir(fs, dir, name);
	else if (!rc && (dir->kind == NK_OVERLAY || dir->kind == NK_SUBDIR)) {
		rc = child_path(dir, name, rel, sizeof(rel));
		if (!rc && unlinkat(fs->storefd, rel, AT_REMOVEDIR) < 0)
			rc = -errno;
		if (!rc) {
			store_fsync_parent(fs, rel);
			struct node *n = node_child(fs, dir, name);
			if (n)
				node_detach(fs, n);
			overlay_touched(fs, dir);
		}
	} else if (!rc)
		rc = dir->kind == NK_DEVICE && !strcmp(name, "overlay") ? -EPERM : -ENOTDIR;
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, -rc);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct lavafs *fs = fs_of(req);
	char rel[PATH_MAX];
	struct node *n = NULL;
	pthread_mutex_lock(&fs->lock);
	struct node *dir = node_by_ino(fs, parent);
	int rc = dir ? may_create(fs, req, dir, name, false) : -ENOENT;
	if (!rc && dir->kind != NK_OVERLAY && dir->kind != NK_SUBDIR)
		rc = -EPERM; /* symlinks live in overlays only; the daemon never follows them */
	if (!rc)
		rc = child_path(dir, name, rel, sizeof(rel));
	if (!rc && symlinkat(link, fs->storefd, rel) < 0)
		rc = -errno;
	if (!rc) {
		give_to_caller(fs, req, rel);
		store_fsync_parent(fs, rel);
		n = node_new(fs, dir, name, NK_FILE);
		overlay_touched(fs, dir);
		rc = reply_entry(req, fs, n);
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc)
		fuse_reply_err(req, -rc);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct lavafs *fs = fs_of(req);
	char from[PATH_MAX], to[PATH_MAX];
	pthread_mutex_lock(&fs->lock);
	struct node *dir = node_by_ino(fs, parent), *ndir = node_by_ino(fs, newparent);
	int rc = dir && ndir ? 0 : -ENOENT;
	if (!rc && (flags & ~RENAME_NOREPLACE))
		rc = -EINVAL;
	/* within one directory, or within one device's overlay */
	if (!rc && dir != ndir &&
	    !(node_in_overlay(dir) && node_in_overlay(ndir) && node_device_dir(dir) == node_device_dir(ndir)))
		rc = -EXDEV;
	if (!rc && dir->kind == NK_DEVICES)
		rc = -EPERM; /* a device keeps its name: its messages and MAC warnings use it */
	if (!rc)
		rc = may_remove(fs, req, dir, name);
	if (!rc)
		rc = may_remove(fs, req, ndir, newname);
	if (!rc)
		rc = check_name(ndir, newname);
	if (!rc && ndir->kind == NK_ROOT && !strcmp(newname, "env.yaml") && !caller_is_admin(fs, req))
		rc = -EACCES;
	if (!rc)
		rc = child_path(dir, name, from, sizeof(from));
	if (!rc)
		rc = child_path(ndir, newname, to, sizeof(to));
	if (!rc && renameat2(fs->storefd, from, fs->storefd, to, flags) < 0)
		rc = -errno;
	if (!rc) {
		store_fsync_parent(fs, to);
		if (dir != ndir)
			store_fsync_parent(fs, from);
		struct node *target = node_child(fs, ndir, newname), *src = node_child(fs, dir, name);
		if (target && target != src)
			node_detach(fs, target);
		if (src)
			node_move(fs, src, ndir, newname);
		if (strcmp(name, newname) != 0 || dir != ndir) {
			file_changed(fs, dir, name, false);
			file_changed(fs, ndir, newname, true);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, -rc);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EPERM); /* hard links would make an input live under two names */
}

static int open_file(struct lavafs *fs, struct node *n, struct fuse_file_info *fi, struct handle **out)
{
	int acc = fi->flags & O_ACCMODE;
	char rel[PATH_MAX];
	if (n->kind == NK_OUTPUT) {
		if (acc != O_RDONLY || (fi->flags & O_TRUNC))
			return -EACCES;
		if (!n->gen)
			return -ESTALE; /* replaced since the lookup: the kernel looks it up again */
		struct handle *h = handle_new(fs, n);
		h->gen = n->gen;
		gen_ref(h->gen);
		fi->keep_cache = 1;
		fi->noflush = 1;
		*out = h;
		return 0;
	}
	if (n->kind != NK_FILE)
		return -EISDIR;
	int rc = node_path(n, rel, sizeof(rel));
	if (rc < 0)
		return rc;
	int fd = openat(fs->storefd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ELOOP : -errno;
	struct handle *h = handle_new(fs, n);
	h->fd = fd;
	if (acc != O_RDONLY) {
		h->writable = true;
		h->append = fi->flags & O_APPEND;
		handle_add_writer(h);
		if (fi->flags & O_TRUNC) {
			h->trunc = true;
			h->dirty = true;
			rc = handle_begin_change(fs, h);
			if (rc < 0) {
				handle_free(fs, h);
				return rc;
			}
		}
	}
	/* No page cache for stored files: a writer's bytes would land in pages other readers
	 * share before the write is complete, and pages filled from two commits could mix.
	 * Each handle reads its own snapshot (the file as committed when it was opened). */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->noflush = !h->writable;
	*out = h;
	return 0;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lavafs *fs = fs_of(req);
	struct handle *h = NULL;
	pthread_mutex_lock(&fs->lock);
	struct node *n = node_by_ino(fs, ino);
	int rc = n ? open_file(fs, n, fi, &h) : -ENOENT;
	pthread_mutex_unlock(&fs->lock);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) != 0) {
		pthread_mutex_lock(&fs->lock);
		handle_free(fs, h);
		pthread_mutex_unlock(&fs->lock);
	}
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct lavafs *fs = fs_of(req);
	char rel[PATH_MAX];
	struct handle *h = NULL;
	struct node *n = NULL;
	struct fuse_entry_param e;
	pthread_mutex_lock(&fs->lock);
	struct node *dir = node_by_ino(fs, parent);
	int rc = dir ? may_create(fs, req, dir, name, false) : -ENOENT;
	if (!rc)
		rc = child_path(dir, name, rel, sizeof(rel));
	if (!rc) {
		int fd = openat(fs->storefd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
		if (fd < 0)
			rc = -errno;
		else {
			close(fd);
			n = node_new(fs, dir, name, NK_FILE);
			if (node_class(n) == NC_REAL)
				give_to_caller(fs, req, rel);
			else
				fchmodat(fs->storefd, rel, 0664, 0);
			store_fsync_parent(fs, rel);
			overlay_touched(fs, dir);
			fi->flags |= O_TRUNC; /* a new file is written whole: commit it even if empty */
			rc = open_file(fs, n, fi, &h);
		}
	}
	if (!rc) {
		memset(&e, 0, sizeof(e));
		rc = node_stat(fs, n, &e.attr);
		e.ino = n->ino;
		e.attr_timeout = attr_ttl(n);
		e.entry_timeout = entry_ttl(n);
	}
	if (!rc) {
		n->nlookup++;
		fi->fh = (uintptr_t)h;
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (fuse_reply_create(req, &e, fi) != 0) {
		pthread_mutex_lock(&fs->lock);
		n->nlookup--;
		handle_free(fs, h);
		pthread_mutex_unlock(&fs->lock);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct lavafs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	/* Replies go out from a buffer of this thread: once the kernel has the bytes the reader
	 * may close and release the handle while writev(2) is still returning. */
	char stackbuf[16384];
	char *buf = size <= sizeof(stackbuf) ? stackbuf : malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (h->gen) { /* an immutable generation: no lock needed */
		size_t len = h->gen->out[h->node->out].len, n = 0;
		if ((size_t)off < len) {
			n = size < len - (size_t)off ? size : len - (size_t)off;
			memcpy(buf, h->gen->out[h->node->out].data + off, n);
		}
		fuse_reply_buf(req, buf, n);
		if (buf != stackbuf)
			free(buf);
		return;
	}
	if (h->writable)
		pthread_mutex_lock(&fs->lock);
	int fd = h->wfd >= 0 ? h->wfd : h->fd;
	ssize_t r = pread(fd, buf, size, off);
	int e = errno;
	if (h->writable)
		pthread_mutex_unlock(&fs->lock);
	if (r < 0)
		fuse_reply_err(req, e);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	if (buf != stackbuf)
		free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct lavafs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	ssize_t w = 0;
	pthread_mutex_lock(&fs->lock);
	int rc = h->writable ? handle_begin_change(fs, h) : -EBADF;
	if (!rc && h->append) {
		struct stat st;
		off = fstat(h->wfd, &st) == 0 ? st.st_size : off;
	}
	if (!rc && (size_t)off + size > size_limit(fs, h->node)) {
		h->failed = true; /* the old content stays: this handle will not commit */
		rc = -EFBIG;
	}
	if (!rc && (w = pwrite(h->wfd, buf, size, off)) < 0)
		rc = -errno;
	if (!rc)
		h->dirty = h->written = true;
	pthread_mutex_unlock(&fs->lock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, (size_t)w);
}

/* close(2) of any descriptor of the handle. The shell's `echo x > context` opens with
 * O_TRUNC, dup2()s and closes the first descriptor before echo writes: that first FLUSH
 * must not store an empty context. So a FLUSH commits what was written; a truncation by
 * O_TRUNC alone (`: > context`) is committed by fsync or at RELEASE. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lavafs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	int rc = 0;
	if (h->writable) {
		pthread_mutex_lock(&fs->lock);
		if (h->written || h->failed)
			rc = handle_commit(fs, h);
		pthread_mutex_unlock(&fs->lock);
	}
	fuse_reply_err(req, -rc);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct lavafs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	int rc = 0;
	if (h->writable) {
		pthread_mutex_lock(&fs->lock);
		rc = handle_commit(fs, h);
		pthread_mutex_unlock(&fs->lock);
	}
	fuse_reply_err(req, -rc);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lavafs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	pthread_mutex_lock(&fs->lock);
	if (h->writable && h->dirty) /* written through mmap after the last close, say */
		handle_commit(fs, h);
	handle_free(fs, h);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, 0);
}

static void dirlist_add(fuse_req_t req, struct dirlist *dl, const char *name, fuse_ino_t ino, mode_t type)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	st.st_mode = type;
	size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	char *nb = realloc(dl->buf, dl->len + need);
	if (!nb)
		abort();
	dl->buf = nb;
	fuse_add_direntry(req, dl->buf + dl->len, need, name, &st, (off_t)(dl->len + need));
	dl->len += need;
}

static fuse_ino_t known_ino(struct lavafs *fs, struct node *dir, const char *name)
{
	struct node *n = node_child(fs, dir, name);
	return n ? n->ino : 0xffffffffu;
}

static int list_dir(fuse_req_t req, struct lavafs *fs, struct node *dir, struct dirlist *dl)
{
	char rel[PATH_MAX];
	int rc = node_path(dir, rel, sizeof(rel));
	if (rc < 0)
		return rc;
	dirlist_add(req, dl, ".", dir->ino, S_IFDIR);
	dirlist_add(req, dl, "..", dir->parent ? dir->parent->ino : dir->ino, S_IFDIR);
	if (dir->kind == NK_DEVICES) {
		for (struct device *d = fs->devices; d; d = d->next)
			dirlist_add(req, dl, d->name, known_ino(fs, dir, d->name), S_IFDIR);
		return 0;
	}
	struct device *dev = dir->kind == NK_DEVICE ? device_of(fs, dir) : NULL;
	if (dir->kind == NK_DEVICE && !dev)
		return -ENOENT;
	int fd = openat(fs->storefd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *nm = e->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		if (dir->kind == NK_ROOT && !strcmp(nm, ".lavafs"))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		bool show = S_ISREG(st.st_mode);
		if (dir->kind == NK_ROOT)
			show = show || (S_ISDIR(st.st_mode) && (!strcmp(nm, "device-types") ||
								 !strcmp(nm, "health-checks") ||
								 !strcmp(nm, "devices")));
		if (dir->kind == NK_DEVICE)
			show = (show && !name_is_reserved_in_device(nm)) ||
			       (S_ISDIR(st.st_mode) && !strcmp(nm, "overlay"));
		if (dir->kind == NK_OVERLAY || dir->kind == NK_SUBDIR)
			show = S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode);
		if (show)
			dirlist_add(req, dl, nm, known_ino(fs, dir, nm), st.st_mode & S_IFMT);
	}
	closedir(d);
	if (dev && dev->gen)
		for (int i = 0; i < OUT_COUNT; i++)
			if (dev->gen->out[i].present)
				dirlist_add(req, dl, output_names[i],
					    dev->outnode[i] ? dev->outnode[i]->ino : 0xffffffffu, S_IFREG);
	return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lavafs *fs = fs_of(req);
	struct dirlist *dl = calloc(1, sizeof(*dl));
	if (!dl) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	struct node *n = node_by_ino(fs, ino);
	int rc = !n ? -ENOENT : !node_is_dir(n) ? -ENOTDIR : list_dir(req, fs, n, dl);
	pthread_mutex_unlock(&fs->lock);
	if (rc) {
		free(dl->buf);
		free(dl);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)dl;
	if (fuse_reply_open(req, fi) != 0) {
		free(dl->buf);
		free(dl);
	}
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct dirlist *dl = (struct dirlist *)(uintptr_t)fi->fh;
	if ((size_t)off >= dl->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	/* whole records only: walk them until size is reached */
	size_t end = (size_t)off;
	while (end < dl->len) {
		size_t reclen = 24 + ((((size_t)*(uint32_t *)(dl->buf + end + 16)) + 7) & ~(size_t)7);
		if (end + reclen - (size_t)off > size)
			break;
		end += reclen;
	}
	char *copy = malloc(end - (size_t)off + 1); /* see op_read */
	if (!copy) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(copy, dl->buf + off, end - (size_t)off);
	fuse_reply_buf(req, copy, end - (size_t)off);
	free(copy);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirlist *dl = (struct dirlist *)(uintptr_t)fi->fh;
	free(dl->buf);
	free(dl);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0); /* every change already fsynced its directory */
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct lavafs *fs = fs_of(req);
	struct statvfs sv;
	if (fstatvfs(fs->storefd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM); /* no devices, fifos or sockets in the store */
		return;
	}
	struct lavafs *fs = fs_of(req);
	char rel[PATH_MAX];
	pthread_mutex_lock(&fs->lock);
	struct node *dir = node_by_ino(fs, parent), *n = NULL;
	int rc = dir ? may_create(fs, req, dir, name, false) : -ENOENT;
	if (!rc)
		rc = child_path(dir, name, rel, sizeof(rel));
	if (!rc) {
		int fd = openat(fs->storefd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
		if (fd < 0)
			rc = -errno;
		else {
			close(fd);
			store_fsync_parent(fs, rel);
			n = node_new(fs, dir, name, NK_FILE);
			if (node_class(n) == NC_REAL)
				give_to_caller(fs, req, rel);
			file_changed(fs, dir, name, true);
			overlay_touched(fs, dir);
			rc = reply_entry(req, fs, n);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc)
		fuse_reply_err(req, -rc);
}

const struct fuse_lowlevel_ops lavafs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.create = op_create,
};

/* After the session ends: files still open when the filesystem went away (unmount with
 * open descriptors, SIGTERM) never get a RELEASE; their uncommitted changes are dropped. */
void ops_free_handles(struct lavafs *fs)
{
	while (fs->handles)
		handle_free(fs, fs->handles);
}
