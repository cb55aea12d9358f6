/* compose: the three layers of a LAVA QEMU device into one command line.
 *   mandatory   device-type template + device dictionary (the dictionary's top-level sets win)
 *   specific    the job context (a YAML mapping, or the `context:` of a whole job.yaml)
 *   substituted image paths put in place of the {label}s of the job's image_args
 * and the guest -drive when guest storage is prepared. The result holds every output file
 * of a device (argv, cmdline, env, device.yaml, explain) plus what the caller needs to know
 * to keep them current (the templates it read, the MACs it uses, the images it wants). */
#ifndef LAVAFS_COMPOSE_H
#define LAVAFS_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "error.h"
#include "jinja.h"
#include "strbuf.h"
#include "value.h"

/* One image of the job's deploy action. */
struct compose_image {
	const char *label;       /* key under deploy.images ("kernel", "rootfs") */
	const char *url;         /* image url as written in the job */
	const char *image_arg;   /* "-kernel {kernel}"; NULL when the job gives none */
	const char *compression; /* "gz", "xz", ... or NULL */
	const char *sha256sum;   /* or NULL (also md5sum/sha512sum below) */
	const char *md5sum;
	const char *sha512sum;
	const char *format;      /* "qcow2", ... or NULL */
	const char *path;        /* filled by the caller via image_path(): the final local path */
};

struct compose_input {
	struct jinja_env *templates; /* where the dictionary's extends/includes resolve */
	const char *device;          /* device name, for messages ("qemu01") */
	const char *dictionary_name; /* file name used in errors ("devices/qemu01/dictionary") */
	const char *dictionary;
	size_t dictionary_len;
	const char *context_name; /* "devices/qemu01/context" */
	const char *context;      /* YAML mapping text, or NULL */
	size_t context_len;
	const char *job_name;     /* "devices/qemu01/job.yaml" */
	const char *job;          /* whole LAVA job YAML, or NULL (at most one of context/job) */
	size_t job_len;
	const char *env_name;     /* "env.yaml" */
	const char *env_yaml;     /* may be NULL: empty */
	size_t env_yaml_len;
	char *const *environ;     /* base environment for env.yaml (the daemon's own) */
	const char *tags;         /* the device's tags file (one per line), or NULL */
	const char *host_arch;    /* `uname -m` of this worker */
	bool kvm;                 /* /dev/kvm can really run a guest here */
	/* Final local path of an image (after download/decompression); NULL keeps "{label}". */
	const char *(*image_path)(void *ctx, const struct compose_image *img);
	void *image_path_ctx;
	/* Absolute path where the prepared lava-guest.qcow2 is (or will be), or NULL. The -drive
	 * is added only when guest storage is needed (overlay has files or the job tests). */
	const char *guest_image;
	bool has_overlay;         /* the device's overlay holds files */
};

struct compose_result {
	struct arena *arena;        /* owns everything below */
	struct strbuf argv;         /* items each followed by NUL */
	struct strbuf cmdline;      /* one shell-quoted line + "\n" */
	struct strbuf env;          /* KEY=VALUE each followed by NUL */
	struct strbuf device_yaml;  /* the rendered device configuration */
	struct strbuf explain;      /* one line per argv item */
	struct strbuf warnings;     /* one line per warning (no "warning: " prefix), may be empty */
	const char **argv_items;    /* argv as an array (argc items) */
	size_t argc;
	const char *device_type;    /* the template the dictionary extends, minus ".jinja2" */
	const char **templates;     /* every template name the render loaded */
	size_t ntemplates;
	const char **macs;          /* MAC addresses the argv carries (macaddr=, mac=) */
	size_t nmacs;
	struct compose_image *images; /* the job's deploy images, in the job's order */
	size_t nimages;
	bool needs_guest;           /* overlay has files or the job has a test action */
	long guestfs_size_mib;      /* from deploy...guest.size (default 512) */
	const char *guestfs_interface;
	const char *guestfs_driveid;
	const char **job_tags;      /* tags: of the job */
	size_t njob_tags;
};

/* 0 on success (result filled; warnings may be non-empty), negative on error (err filled,
 * result empty). Always call compose_result_free afterwards. */
int compose_run(const struct compose_input *in, struct compose_result *out, struct lf_error *err);
void compose_result_free(struct compose_result *out);

#endif
