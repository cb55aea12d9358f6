/* device: one directory of devices/, its composition and its generations of outputs.
 *
 *   $ cd /srv/lavafs/devices/qemu01
 *   $ echo 'arch: arm64' > context && head -c 40 cmdline; echo; cat status
 *   /usr/bin/qemu-system-aarch64 -cpu cortex
 *   ready
 *   warning: MAC 52:54:00:12:34:58 is also used by device qemu02
 *   $ echo 'arch: [' > context; cat status; ls
 *   error: devices/qemu01/context:1:7: ...
 *   context  dictionary  overlay  status
 *
 * A composition fills every output at once into a new generation; a generation is never
 * changed, only replaced, and a reader keeps the one it opened.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lavafs.h"

const char *const output_names[OUT_COUNT] = {
	[OUT_STATUS] = "status",   [OUT_ARGV] = "argv",       [OUT_CMDLINE] = "cmdline",
	[OUT_ENV] = "env",         [OUT_DEVICE_YAML] = "device.yaml", [OUT_EXPLAIN] = "explain",
	[OUT_HEALTH_CHECK] = "health-check",
};

int output_index(const char *name)
{
	for (int i = 0; i < OUT_COUNT; i++)
		if (strcmp(name, output_names[i]) == 0)
			return i;
	return -1;
}

bool name_is_reserved_in_device(const char *name)
{
	return output_index(name) >= 0 || strcmp(name, "overlay") == 0 ||
	       strcmp(name, "lava-guest.qcow2") == 0 || strcmp(name, "guest-uuid") == 0;
}

void gen_ref(struct gen *g)
{
	atomic_fetch_add(&g->refs, 1);
}

void gen_unref(struct gen *g)
{
	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	for (int i = 0; i < OUT_COUNT; i++)
		free(g->out[i].data);
	free(g);
}

static void gen_set(struct gen *g, int idx, const char *data, size_t len)
{
	g->out[idx].data = malloc(len + 1);
	if (!g->out[idx].data)
		abort();
	memcpy(g->out[idx].data, data, len);
	g->out[idx].data[len] = '\0';
	g->out[idx].len = len;
	g->out[idx].present = true;
}

static bool gen_same(const struct gen *a, const struct gen *b)
{
	for (int i = 0; i < OUT_COUNT; i++) {
		if (a->out[i].present != b->out[i].present || a->out[i].len != b->out[i].len)
			return false;
		if (a->out[i].present && memcmp(a->out[i].data, b->out[i].data, a->out[i].len) != 0)
			return false;
	}
	return true;
}

struct device *device_find(struct lavafs *fs, const char *name)
{
	for (struct device *d = fs->devices; d; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char **strv_dup(const char **v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));
	if (!out)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!(out[i] = strdup(v[i] ? v[i] : "")))
			abort();
	return out;
}

static void outcome_clear(struct device *d)
{
	free(d->error);
	free(d->warnings);
	free(d->device_type);
	strv_free(d->templates, d->ntemplates);
	strv_free(d->macs, d->nmacs);
	for (int i = 0; i < OUT_COUNT; i++) {
		free(d->blob[i]);
		d->blob[i] = NULL;
		d->bloblen[i] = 0;
		d->blobok[i] = false;
	}
	d->error = d->warnings = d->device_type = NULL;
	d->templates = d->macs = NULL;
	d->ntemplates = d->nmacs = 0;
	d->composed_ok = false;
}

static void blob_take(struct device *d, int idx, struct strbuf *sb)
{
	d->blob[idx] = strbuf_detach(sb, &d->bloblen[idx]);
	d->blobok[idx] = true;
}

/* Read the device's inputs from the store and compose them. Only the device changes. */
static void device_compose(struct lavafs *fs, struct device *d)
{
	char rel[PATH_MAX], dict_name[PATH_MAX], ctx_name[PATH_MAX], job_name[PATH_MAX];
	char *dict = NULL, *ctx = NULL, *job = NULL, *tags = NULL;
	size_t dict_len = 0, ctx_len = 0, job_len = 0, tags_len = 0;

	outcome_clear(d);
	snprintf(dict_name, sizeof(dict_name), "devices/%s/dictionary", d->name);
	snprintf(ctx_name, sizeof(ctx_name), "devices/%s/context", d->name);
	snprintf(job_name, sizeof(job_name), "devices/%s/job.yaml", d->name);
	snprintf(rel, sizeof(rel), "devices/%s/overlay", d->name);
	d->has_overlay = !store_dir_empty(fs, rel);

	bool missing = store_read(fs, dict_name, &dict, &dict_len) < 0;
	if (missing || strspn(dict, " \t\r\n") == dict_len) {
		char msg[PATH_MAX + 200];
		snprintf(msg, sizeof(msg),
			 "error: %s is %s\n"
			 "write the device dictionary there, e.g. {%% extends 'qemu.jinja2' %%}\n",
			 dict_name, missing ? "missing" : "empty");
		d->error = strdup(msg);
		free(dict);
		return;
	}
	store_read(fs, ctx_name, &ctx, &ctx_len);
	store_read(fs, job_name, &job, &job_len);
	snprintf(rel, sizeof(rel), "devices/%s/tags", d->name);
	store_read(fs, rel, &tags, &tags_len);

	struct compose_input in = {
		.templates = fs->templates,
		.device = d->name,
		.dictionary_name = dict_name,
		.dictionary = dict,
		.dictionary_len = dict_len,
		.context_name = ctx_name,
		.context = job ? NULL : ctx,
		.context_len = job ? 0 : ctx_len,
		.job_name = job_name,
		.job = job,
		.job_len = job_len,
		.env_name = "env.yaml",
		.env_yaml = fs->env_yaml,
		.env_yaml_len = fs->env_yaml_len,
		.environ = fs->environ,
		.tags = tags,
		.host_arch = fs->host_arch,
		.kvm = fs->kvm,
		.has_overlay = d->has_overlay,
	};
	struct compose_result res;
	struct lf_error err;
	lf_error_clear(&err);
	memset(&res, 0, sizeof(res));
	int rc = compose_run(&in, &res, &err);
	if (rc < 0) {
		char msg[LF_ERR_MSG + 400];
		if (!err.msg[0])
			snprintf(err.msg, sizeof(err.msg), "%s", strerror(-rc));
		lf_error_format(&err, msg, sizeof(msg));
		size_t n = strlen(msg);
		while (n && msg[n - 1] == '\n')
			msg[--n] = '\0';
		size_t cap = n + 16;
		d->error = malloc(cap);
		if (!d->error)
			abort();
		snprintf(d->error, cap, "error: %s\n", msg);
	} else {
		d->composed_ok = true;
		blob_take(d, OUT_ARGV, &res.argv);
		blob_take(d, OUT_CMDLINE, &res.cmdline);
		blob_take(d, OUT_ENV, &res.env);
		blob_take(d, OUT_DEVICE_YAML, &res.device_yaml);
		blob_take(d, OUT_EXPLAIN, &res.explain);
		d->warnings = strbuf_detach(&res.warnings, NULL);
		d->device_type = res.device_type ? strdup(res.device_type) : NULL;
		d->templates = strv_dup(res.templates, res.ntemplates);
		d->ntemplates = res.ntemplates;
		d->macs = strv_dup(res.macs, res.nmacs);
		d->nmacs = res.nmacs;
	}
	compose_result_free(&res);
	free(dict);
	free(ctx);
	free(job);
	free(tags);
}

static bool shares_mac(const struct device *a, const struct device *b)
{
	for (size_t i = 0; i < a->nmacs; i++)
		for (size_t j = 0; j < b->nmacs; j++)
			if (strcasecmp(a->macs[i], b->macs[j]) == 0)
				return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The status file: the first line says where the device is, the rest are warnings. */
static void status_build(struct lavafs *fs, struct device *d, struct strbuf *sb)
{
	if (d->error) {
		strbuf_adds(sb, d->error);
		return;
	}
	strbuf_adds(sb, "ready\n");
	for (const char *w = d->warnings; w && *w;) {
		const char *nl = strchr(w, '\n');
		size_t n = nl ? (size_t)(nl - w) : strlen(w);
		if (n)
			strbuf_addf(sb, "warning: %.*s\n", (int)n, w);
		w += n + (nl ? 1 : 0);
	}
	for (size_t i = 0; i < d->nmacs; i++) {
		/* the other devices in name order, so the status is the same after a restart */
		const char **names = NULL;
		size_t n = 0;
		for (struct device *e = fs->devices; e; e = e->next) {
			if (e == d || !e->composed_ok)
				continue;
			for (size_t j = 0; j < e->nmacs; j++)
				if (strcasecmp(d->macs[i], e->macs[j]) == 0) {
					if (!(names = realloc(names, (n + 1) * sizeof(*names))))
						abort();
					names[n++] = e->name;
					break;
				}
		}
		if (n)
			qsort(names, n, sizeof(*names), cmp_str);
		for (size_t k = 0; k < n; k++)
			strbuf_addf(sb, "warning: MAC %s is also used by device %s\n", d->macs[i], names[k]);
		free(names);
	}
	if (d->device_type) {
		char rel[PATH_MAX];
		snprintf(rel, sizeof(rel), "health-checks/%s.yaml", d->device_type);
		if (faccessat(fs->storefd, rel, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
			strbuf_addf(sb, "warning: device-type %s has no health check (health-checks/%s.yaml)\n",
				    d->device_type, d->device_type);
	}
}

static void outputs_retire(struct lavafs *fs, struct device *d)
{
	for (int i = 0; i < OUT_COUNT; i++) {
		struct node *n = d->outnode[i];
		if (!n)
			continue;
		d->outnode[i] = NULL;
		/* The node keeps its generation until the kernel forgets it: a reader whose lookup
		 * came just before the replacement still opens a complete (if older) composition.
		 * ESTALE would be retried once by the kernel, and fail under steady recomposition. */
		node_put(fs, n);
	}
}

/* Make the device's current outputs reflect its last composition and the rest of the tree.
 * A generation equal to the current one is dropped: readers keep their cached pages. */
static void device_publish(struct lavafs *fs, struct device *d)
{
	struct gen *g = calloc(1, sizeof(*g));
	if (!g)
		abort();
	atomic_init(&g->refs, 1);
	clock_gettime(CLOCK_REALTIME, &g->mtime);
	struct strbuf sb = STRBUF_INIT;
	status_build(fs, d, &sb);
	gen_set(g, OUT_STATUS, strbuf_str(&sb), sb.len);
	strbuf_release(&sb);
	for (int i = 0; i < OUT_COUNT; i++)
		if (d->blobok[i])
			gen_set(g, i, d->blob[i], d->bloblen[i]);
	if (d->composed_ok && d->device_type) {
		char rel[PATH_MAX], *hc;
		size_t len;
		snprintf(rel, sizeof(rel), "health-checks/%s.yaml", d->device_type);
		if (store_read(fs, rel, &hc, &len) == 0) {
			gen_set(g, OUT_HEALTH_CHECK, hc, len);
			free(hc);
		}
	}
	if (d->gen && gen_same(d->gen, g)) {
		gen_unref(g);
		return;
	}
	outputs_retire(fs, d);
	gen_unref(d->gen);
	d->gen = g;
}

struct node *device_output_node(struct lavafs *fs, struct device *d, struct node *dir, int idx)
{
	if (!d->gen || !d->gen->out[idx].present)
		return NULL;
	if (!d->outnode[idx]) {
		struct node *n = node_new(fs, dir, output_names[idx], NK_OUTPUT);
		n->out = idx;
		n->gen = d->gen;
		gen_ref(d->gen);
		n->out_size = (off_t)d->gen->out[idx].len;
		n->out_mtime = d->gen->mtime;
		n->refs = 1; /* held while current, so outnode never dangles */
		d->outnode[idx] = n;
	}
	return d->outnode[idx];
}

struct device *device_add(struct lavafs *fs, const char *name)
{
	struct device *d = calloc(1, sizeof(*d));
	if (!d || !(d->name = strdup(name)))
		abort();
	d->next = fs->devices;
	fs->devices = d;
	return d;
}

static void device_free(struct lavafs *fs, struct device *d)
{
	outputs_retire(fs, d);
	gen_unref(d->gen);
	outcome_clear(d);
	free(d->name);
	free(d);
}

void device_remove(struct lavafs *fs, struct device *d)
{
	char **macs = d->macs;
	size_t nmacs = d->nmacs;
	for (struct device **pp = &fs->devices; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	/* devices that shared a MAC with it lose their warning */
	for (struct device *e = fs->devices; e; e = e->next) {
		struct device probe = {.macs = macs, .nmacs = nmacs};
		if (shares_mac(&probe, e))
			device_publish(fs, e);
	}
	device_free(fs, d);
}

void device_changed(struct lavafs *fs, struct device *d)
{
	char **oldmacs = d->macs;
	size_t noldmacs = d->nmacs;
	d->macs = NULL;
	d->nmacs = 0;
	device_compose(fs, d);
	device_publish(fs, d);
	struct device old = {.macs = oldmacs, .nmacs = noldmacs};
	for (struct device *e = fs->devices; e; e = e->next)
		if (e != d && (shares_mac(&old, e) || shares_mac(d, e)))
			device_publish(fs, e);
	strv_free(oldmacs, noldmacs);
}

static bool is_scratch_name(const char *name)
{
	size_t n = strlen(name);
	return name[0] == '.' || (n && name[n - 1] == '~') || strcmp(name, "4913") == 0 ||
	       (n > 4 && strcmp(name + n - 4, ".swp") == 0);
}

void templates_changed(struct lavafs *fs, const char *name)
{
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	bool scratch = is_scratch_name(base);
	bool any = false;
	jinja_env_invalidate(fs->templates);
	for (struct device *d = fs->devices; d; d = d->next) {
		bool dep = !d->composed_ok && !scratch;
		for (size_t i = 0; !dep && i < d->ntemplates; i++)
			dep = strcmp(d->templates[i], base) == 0;
		if (dep) {
			device_compose(fs, d);
			any = true;
		}
	}
	if (any)
		for (struct device *d = fs->devices; d; d = d->next)
			device_publish(fs, d);
}

void health_check_changed(struct lavafs *fs, const char *name)
{
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	size_t n = strlen(base);
	if (n <= 5 || strcmp(base + n - 5, ".yaml") != 0)
		return;
	for (struct device *d = fs->devices; d; d = d->next)
		if (d->device_type && strlen(d->device_type) == n - 5 &&
		    strncmp(d->device_type, base, n - 5) == 0)
			device_publish(fs, d);
}

void env_changed(struct lavafs *fs)
{
	free(fs->env_yaml);
	if (store_read(fs, "env.yaml", &fs->env_yaml, &fs->env_yaml_len) < 0) {
		fs->env_yaml = NULL;
		fs->env_yaml_len = 0;
	}
	for (struct device *d = fs->devices; d; d = d->next)
		device_compose(fs, d);
	for (struct device *d = fs->devices; d; d = d->next)
		device_publish(fs, d);
}

void device_overlay_changed(struct lavafs *fs, struct device *d)
{
	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "devices/%s/overlay", d->name);
	if (d->has_overlay != !store_dir_empty(fs, rel))
		device_changed(fs, d);
}

/* A crash between writing job.yaml and removing context (or the other way) leaves both:
 * the newer one is the one that was being written. */
static void resolve_job_inputs(struct lavafs *fs, const char *dev)
{
	char ctx[PATH_MAX], job[PATH_MAX];
	struct stat sc, sj;
	snprintf(ctx, sizeof(ctx), "devices/%s/context", dev);
	snprintf(job, sizeof(job), "devices/%s/job.yaml", dev);
	if (fstatat(fs->storefd, ctx, &sc, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fstatat(fs->storefd, job, &sj, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	bool job_newer = sj.st_mtim.tv_sec > sc.st_mtim.tv_sec ||
			 (sj.st_mtim.tv_sec == sc.st_mtim.tv_sec && sj.st_mtim.tv_nsec >= sc.st_mtim.tv_nsec);
	unlinkat(fs->storefd, job_newer ? ctx : job, 0);
	store_fsync_parent(fs, ctx);
}

int devices_load(struct lavafs *fs)
{
	int fd = openat(fs->storefd, "devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	struct dirent *e;
	while ((e = readdir(dir))) {
		struct stat st;
		if (e->d_name[0] == '.' || fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		char ov[PATH_MAX];
		snprintf(ov, sizeof(ov), "devices/%s/overlay", e->d_name);
		mkdirat(fs->storefd, ov, 0775);
		resolve_job_inputs(fs, e->d_name);
		device_add(fs, e->d_name);
	}
	closedir(dir);
	for (struct device *d = fs->devices; d; d = d->next)
		device_compose(fs, d);
	for (struct device *d = fs->devices; d; d = d->next)
		device_publish(fs, d);
	return 0;
}

void devices_free(struct lavafs *fs)
{
	while (fs->devices) {
		struct device *d = fs->devices;
		fs->devices = d->next;
		device_free(fs, d);
	}
}
