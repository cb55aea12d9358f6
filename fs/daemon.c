/* daemon: `lavafs [FUSE options] STORE MOUNTPOINT` — mount the tree, serve it, unmount.
 *
 *   $ lavafs -o allow_other,admin_gid=lava-admin,writer_gid=lava /var/lib/lavafs /srv/lavafs
 *   $ grep lavafs /etc/fstab          # the same through mount(8) and mount.fuse3
 *   /var/lib/lavafs /srv/lavafs fuse.lavafs allow_other,writer_gid=120 0 0
 *   $ lavafs -f /var/lib/lavafs /srv/lavafs      # foreground, log on stderr; Ctrl-C unmounts
 *   ^C
 *   $ lavafs /var/lib/lavafs /srv/lavafs
 *   lavafs: /srv/lavafs is already a mount point (busy): unmount it first (fusermount3 -u)
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "host.h"
#include "lavafs.h"

extern char **environ;

void fs_log(struct lavafs *fs, int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (!fs || fs->o.foreground) {
		fputs("lavafs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(prio, fmt, ap);
	}
	va_end(ap);
}

/* What the command line gives (parsed by fuse_opt into this struct). */
struct cmdline {
	char *store;
	int nonopts;
	char *admin_gid, *writer_gid, *admin_uid;
	char *max_file_size, *max_overlay_size;
};

#define OPT(t, field) {t, offsetof(struct cmdline, field), 0}
static const struct fuse_opt own_opts[] = {
	OPT("admin_gid=%s", admin_gid),
	OPT("writer_gid=%s", writer_gid),
	OPT("admin_uid=%s", admin_uid),
	OPT("max_file_size=%s", max_file_size),
	OPT("max_overlay_file_size=%s", max_overlay_size),
	FUSE_OPT_END,
};

/* STORE is the first non-option; the second (MOUNTPOINT) goes on to fuse_parse_cmdline. */
static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct cmdline *c = data;
	if (key == FUSE_OPT_KEY_NONOPT && c->nonopts++ == 0) {
		c->store = strdup(arg);
		return 0;
	}
	return 1;
}

static void usage(FILE *f)
{
	fputs("usage: lavafs [FUSE options] STORE MOUNTPOINT\n"
	      "lavafs options (-o NAME=VALUE):\n"
	      "    admin_gid=GROUP        group that may change dictionaries, device-types,\n"
	      "                           health-checks, env.yaml and create devices\n"
	      "    writer_gid=GROUP       group that may write context, job.yaml, tags, overlay\n"
	      "    admin_uid=USER         owner shown for the tree's fixed files (default: the daemon's)\n"
	      "    max_file_size=N[KMG]   largest input or template file (default 1M)\n"
	      "    max_overlay_file_size=N[KMG]  largest overlay file (default 256M)\n"
	      "See lavafs(5) for the tree and lavafs(8) for the daemon.\n",
	      f);
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end || v == 0)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int parse_gid(const char *s, gid_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s && !*end) {
		*out = (gid_t)v;
		return 0;
	}
	struct group *g = getgrnam(s);
	if (!g)
		return -1;
	*out = g->gr_gid;
	return 0;
}

static int parse_uid(const char *s, uid_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s && !*end) {
		*out = (uid_t)v;
		return 0;
	}
	struct passwd *p = getpwnam(s);
	if (!p)
		return -1;
	*out = p->pw_uid;
	return 0;
}

/* Is path already a mount point? (/proc/self/mountinfo, field 5, octal escapes) */
static bool is_mount_point(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char line[8192];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *field = line;
		for (int i = 0; i < 4 && field; i++) {
			field = strchr(field, ' ');
			if (field)
				field++;
		}
		if (!field)
			continue;
		char mp[PATH_MAX];
		size_t n = 0;
		for (char *p = field; *p && *p != ' ' && n + 1 < sizeof(mp); p++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
				mp[n++] = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
				p += 3;
			} else
				mp[n++] = *p;
		}
		mp[n] = '\0';
		found = strcmp(mp, path) == 0;
	}
	fclose(f);
	return found;
}

/* Say plainly why a mount cannot work, before libfuse says it less plainly. */
static int check_mountpoint(const char *mnt)
{
	struct stat st;
	if (access("/dev/fuse", F_OK) != 0) {
		fprintf(stderr,
			"lavafs: /dev/fuse is missing: load the fuse module (modprobe fuse) or, in a "
			"container, give it the device (--device /dev/fuse)\n");
		return -1;
	}
	if (stat(mnt, &st) < 0) {
		if (errno == ENOTCONN)
			fprintf(stderr, "lavafs: %s is a dead FUSE mount: fusermount3 -u %s\n", mnt, mnt);
		else
			fprintf(stderr, "lavafs: mount point %s: %s\n", mnt, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "lavafs: mount point %s is not a directory\n", mnt);
		return -1;
	}
	char real[PATH_MAX];
	if (realpath(mnt, real) && is_mount_point(real)) {
		fprintf(stderr, "lavafs: %s is already a mount point (busy): unmount it first (fusermount3 -u %s)\n",
			mnt, mnt);
		return -1;
	}
	return 0;
}

static char *absolute(const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	char cwd[PATH_MAX], *out;
	if (!getcwd(cwd, sizeof(cwd)) || asprintf(&out, "%s/%s", cwd, path) < 0)
		return NULL;
	return out;
}

static int options_apply(struct lavafs *fs, const struct cmdline *c)
{
	fs->o.owner_uid = geteuid();
	fs->o.admin_gid = fs->o.writer_gid = getegid();
	fs->o.max_file_size = 1 << 20;
	fs->o.max_overlay_size = (size_t)256 << 20;
	if (c->admin_gid && parse_gid(c->admin_gid, &fs->o.admin_gid) < 0)
		return fprintf(stderr, "lavafs: admin_gid=%s: no such group\n", c->admin_gid), -1;
	fs->o.writer_gid = fs->o.admin_gid;
	if (c->writer_gid && parse_gid(c->writer_gid, &fs->o.writer_gid) < 0)
		return fprintf(stderr, "lavafs: writer_gid=%s: no such group\n", c->writer_gid), -1;
	if (c->admin_uid) {
		if (parse_uid(c->admin_uid, &fs->o.admin_uid) < 0)
			return fprintf(stderr, "lavafs: admin_uid=%s: no such user\n", c->admin_uid), -1;
		fs->o.have_admin_uid = true;
		fs->o.owner_uid = fs->o.admin_uid;
	}
	if (c->max_file_size && parse_size(c->max_file_size, &fs->o.max_file_size) < 0)
		return fprintf(stderr, "lavafs: max_file_size=%s: not a size\n", c->max_file_size), -1;
	if (c->max_overlay_size && parse_size(c->max_overlay_size, &fs->o.max_overlay_size) < 0)
		return fprintf(stderr, "lavafs: max_overlay_file_size=%s: not a size\n", c->max_overlay_size), -1;
	return 0;
}

/* Templates see the worker as it is, unless a test pins it (same as the CLI). */
static void host_facts(struct lavafs *fs)
{
	fs->host_arch = cli_host_arch();
	fs->kvm = cli_host_kvm();
}

static int serve(struct lavafs *fs, struct fuse_args *args, struct fuse_cmdline_opts *opts)
{
	int rc = 1;
	fs->se = fuse_session_new(args, &lavafs_ops, sizeof(lavafs_ops), fs);
	if (!fs->se)
		return 2;
	if (fuse_set_signal_handlers(fs->se) != 0)
		goto out_session;
	if (fuse_session_mount(fs->se, opts->mountpoint) != 0) {
		fprintf(stderr, "lavafs: cannot mount %s\n", opts->mountpoint);
		goto out_signals;
	}
	fs_log(fs, LOG_INFO, "serving %s on %s", fs->store, opts->mountpoint);
	if (fuse_daemonize(opts->foreground) != 0)
		goto out_unmount;
	if (opts->singlethread) {
		rc = fuse_session_loop(fs->se);
	} else {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(cfg, opts->clone_fd);
		if (opts->max_threads && opts->max_threads <= 100000)
			fuse_loop_cfg_set_max_threads(cfg, opts->max_threads);
		if (opts->max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(cfg, opts->max_idle_threads);
		rc = fuse_session_loop_mt(fs->se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	/* a positive value is the signal that ended the loop: a clean unmount, not an error */
	rc = rc < 0 ? 1 : 0;
	fs_log(fs, LOG_INFO, "unmounting %s", opts->mountpoint);
out_unmount:
	fuse_session_unmount(fs->se);
out_signals:
	fuse_remove_signal_handlers(fs->se);
out_session:
	fuse_session_destroy(fs->se);
	fs->se = NULL;
	return rc;
}

int fs_main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct cmdline c = {0};
	struct fuse_cmdline_opts opts = {0};
	struct lavafs fs = {.storefd = -1, .lockfd = -1};
	int rc = 2;

	if (fuse_opt_parse(&args, &c, own_opts, opt_proc) != 0)
		goto out_args;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out_args;
	if (opts.show_help) {
		usage(stdout);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		rc = 0;
		goto out_args;
	}
	if (opts.show_version) {
		printf("lavafs %s (libfuse %s)\n", LAVAFS_VERSION, fuse_pkgversion());
		rc = 0;
		goto out_args;
	}
	if (!c.store || !opts.mountpoint) {
		usage(stderr);
		goto out_args;
	}
	fs.o.foreground = opts.foreground;
	if (options_apply(&fs, &c) < 0)
		goto out_args;
	/* The tree's modes are only protection when the kernel checks them. */
	fuse_opt_add_arg(&args, "-odefault_permissions");
	rc = 1;
	if (check_mountpoint(opts.mountpoint) < 0)
		goto out_args;
	if (!opts.foreground)
		openlog("lavafs", LOG_PID, LOG_DAEMON);
	if (!(fs.store = absolute(c.store)))
		goto out_args;
	pthread_mutex_init(&fs.lock, NULL);
	pthread_mutex_init(&fs.hlock, NULL);
	fs.environ = environ;
	host_facts(&fs);
	if (store_open(&fs, cli_shipped_templates()) < 0)
		goto out_store;
	char types[PATH_MAX];
	snprintf(types, sizeof(types), "%s/device-types", fs.store);
	const char *dirs[] = {types};
	fs.templates = jinja_env_new(dirs, 1, NULL);
	if (!fs.templates || nodes_init(&fs) < 0 || devices_load(&fs) < 0) {
		fs_log(&fs, LOG_ERR, "cannot load the store %s", fs.store);
		goto out_nodes;
	}
	rc = serve(&fs, &args, &opts);
	ops_free_handles(&fs);
out_nodes:
	devices_free(&fs);
	nodes_free(&fs);
	if (fs.templates)
		jinja_env_free(fs.templates);
out_store:
	store_close(&fs);
	pthread_mutex_destroy(&fs.lock);
	pthread_mutex_destroy(&fs.hlock);
	free(fs.store);
out_args:
	free(c.store);
	free(c.admin_gid);
	free(c.writer_gid);
	free(c.admin_uid);
	free(c.max_file_size);
	free(c.max_overlay_size);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return rc;
}
