/* lavafs.h: the daemon's state, shared by the files of fs/ (the FUSE adapter, the store, the
 * node table and the devices). One `struct lavafs` holds everything; nothing is global.
 *
 *   $ lavafs /var/lib/lavafs /srv/lavafs
 *   $ ls /srv/lavafs /srv/lavafs/devices/qemu01
 *   device-types  devices  env.yaml  health-checks
 *   argv  cmdline  context  device.yaml  dictionary  env  explain  health-check  overlay  status
 */
#ifndef LAVAFS_FS_LAVAFS_H
#define LAVAFS_FS_LAVAFS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "compose.h"
#include "jinja.h"

/* The read-only files of a device. One composition fills them all at once (a generation). */
enum output {
	OUT_STATUS,
	OUT_ARGV,
	OUT_CMDLINE,
	OUT_ENV,
	OUT_DEVICE_YAML,
	OUT_EXPLAIN,
	OUT_HEALTH_CHECK,
	OUT_COUNT
};
extern const char *const output_names[OUT_COUNT];
/* Names a device directory keeps for itself: outputs (also those a later issue adds) and
 * "overlay". Nothing may be created under these names. */
bool name_is_reserved_in_device(const char *name);
int output_index(const char *name); /* -1 when not an output */

/* One immutable set of outputs. Readers hold a reference for as long as their file is open. */
struct gen {
	atomic_int refs;
	struct timespec mtime;
	struct {
		char *data;
		size_t len;
		bool present;
	} out[OUT_COUNT];
};
void gen_ref(struct gen *g);
void gen_unref(struct gen *g);

enum node_kind {
	NK_ROOT,
	NK_TYPES,    /* device-types/ */
	NK_HCHECKS,  /* health-checks/ */
	NK_DEVICES,  /* devices/ */
	NK_DEVICE,   /* devices/DEV/ */
	NK_OVERLAY,  /* devices/DEV/overlay/ */
	NK_SUBDIR,   /* a directory below an overlay */
	NK_FILE,     /* a regular file or symlink kept in the store */
	NK_OUTPUT,   /* argv, status, ... of one generation */
};

/* How a store-backed entry reports owner and mode (see lavafs(5), "Permissions"). */
enum node_class {
	NC_REAL,   /* scratch files and overlay contents: the store's own metadata */
	NC_ADMIN,  /* env.yaml, templates, health checks, dictionary: owner:admin_gid 0664 */
	NC_WRITER, /* context, job.yaml, tags: owner:writer_gid 0664 */
};

struct handle;

/* An inode the kernel knows. Store-backed nodes are found again by (parent, name); an output
 * node belongs to one generation: a new composition gives argv a new inode, so the kernel's
 * page cache of the old one can never be served for the new one. */
struct node {
	fuse_ino_t ino;
	enum node_kind kind;
	struct node *parent; /* holds a reference on the parent (children count) */
	char *name;
	bool attached;       /* reachable by (parent, name); false once unlinked or replaced */
	uint64_t nlookup;    /* kernel references */
	unsigned refs;       /* open handles */
	unsigned children;   /* nodes whose parent is this */
	struct node *next_ino, *next_name;
	/* outputs */
	int out;
	struct gen *gen;     /* its generation, kept after a newer one replaced it */
	off_t out_size;
	struct timespec out_mtime;
	/* open handles that may write (store-backed files) */
	struct handle *writers;
};

/* A device: its name, its last composition and what it depends on. */
struct device {
	char *name;
	struct device *next;
	struct gen *gen;                  /* current outputs, never NULL after the first compose */
	struct node *outnode[OUT_COUNT];  /* nodes of the current generation's outputs */
	bool composed_ok;
	char *error;                      /* "error: ..." status text (with details), or NULL */
	char *warnings;                   /* compose warnings, one per line (no prefix) */
	char *device_type;
	char **templates;
	size_t ntemplates;
	char **macs;
	size_t nmacs;
	bool has_overlay;
	char *blob[OUT_COUNT];            /* last composition's outputs (argv..explain) */
	size_t bloblen[OUT_COUNT];
	bool blobok[OUT_COUNT];
};

struct lavafs_opts {
	uid_t owner_uid;
	gid_t admin_gid, writer_gid;
	bool have_admin_uid;
	uid_t admin_uid;
	size_t max_file_size;    /* inputs, templates, scratch files */
	size_t max_overlay_size; /* one file of an overlay */
	bool foreground;
};

struct lavafs {
	pthread_mutex_t lock; /* node table, devices, store changes, compositions */
	pthread_mutex_t hlock;   /* the list of open handles below */
	struct handle *handles; /* every open file handle: freed at exit if never released */
	struct lavafs_opts o;
	char *store;          /* absolute path of STORE */
	int storefd;
	int lockfd;
	struct fuse_session *se;
	struct jinja_env *templates;
	char *env_yaml;       /* STORE/env.yaml text */
	size_t env_yaml_len;
	char **environ;       /* the daemon's environment at start */
	const char *host_arch;
	bool kvm;
	/* node table */
	struct node *root;
	struct node **by_ino, **by_name;
	size_t nbuckets, nnodes;
	fuse_ino_t next_ino;
	struct device *devices;
	unsigned long tmp_serial;
};

/* daemon.c */
void fs_log(struct lavafs *fs, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* node.c */
int nodes_init(struct lavafs *fs);
void nodes_free(struct lavafs *fs);
/* ops.c: free the file handles the kernel never released (called after the session ends). */
void ops_free_handles(struct lavafs *fs);
struct node *node_by_ino(struct lavafs *fs, fuse_ino_t ino);
struct node *node_child(struct lavafs *fs, struct node *dir, const char *name);
struct node *node_new(struct lavafs *fs, struct node *parent, const char *name, enum node_kind kind);
void node_detach(struct lavafs *fs, struct node *n);
void node_move(struct lavafs *fs, struct node *n, struct node *newparent, const char *newname);
void node_forget(struct lavafs *fs, struct node *n, uint64_t nlookup);
void node_put(struct lavafs *fs, struct node *n); /* drop a handle reference */
/* Path of a store-backed node relative to STORE ("devices/qemu01/context"); "." for root. */
int node_path(const struct node *n, char *buf, size_t size);
struct node *node_device_dir(struct node *n); /* the NK_DEVICE above n (or n), or NULL */
enum node_class node_class(const struct node *n);
bool node_in_overlay(const struct node *n);

/* store.c */
int store_open(struct lavafs *fs, const char *shipped_templates);
void store_close(struct lavafs *fs);
/* Whole file into a malloc'd NUL-terminated buffer; -ENOENT when absent. */
int store_read(struct lavafs *fs, const char *rel, char **data, size_t *len);
/* Atomically replace rel with data (temp + fsync + rename + fsync of the directory). */
int store_write(struct lavafs *fs, const char *rel, const void *data, size_t len, mode_t mode);
/* A new empty file in STORE/.lavafs/tmp; its name goes into name (relative to STORE). */
int store_tmpfile(struct lavafs *fs, char *name, size_t size);
int store_fsync_parent(struct lavafs *fs, const char *rel);
/* Remove a directory tree atomically: rename into the trash first, then delete. */
int store_remove_tree(struct lavafs *fs, const char *rel);
bool store_dir_empty(struct lavafs *fs, const char *rel);
int store_copy_meta(struct lavafs *fs, int from_fd, int to_fd, bool real);

/* device.c */
int devices_load(struct lavafs *fs);
void devices_free(struct lavafs *fs);
struct device *device_find(struct lavafs *fs, const char *name);
struct device *device_add(struct lavafs *fs, const char *name);
void device_remove(struct lavafs *fs, struct device *d);
/* Recompose one device (after its dictionary, tags, context, job.yaml or overlay changed)
 * and refresh the status of the devices whose cross-tree checks it may change. */
void device_changed(struct lavafs *fs, struct device *d);
/* A file of device-types/, health-checks/ or env.yaml changed (name is the store path). */
void templates_changed(struct lavafs *fs, const char *name);
void health_check_changed(struct lavafs *fs, const char *name);
void env_changed(struct lavafs *fs);
/* After an overlay change: recompose when the overlay went from empty to not or back. */
void device_overlay_changed(struct lavafs *fs, struct device *d);
/* Node of the current generation's output idx (created on first lookup). */
struct node *device_output_node(struct lavafs *fs, struct device *d, struct node *dir, int idx);

/* ops.c */
extern const struct fuse_lowlevel_ops lavafs_ops;

#endif
