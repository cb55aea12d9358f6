/* lavafs compose: the mount's composition, offline.
 *
 *   $ lavafs compose qemu01.jinja2 -c context.yaml
 *   qemu-system-x86_64 -cpu host -enable-kvm -nographic -net nic,model=virtio,...
 *   lavafs: warning: argv uses KVM (-enable-kvm) but this worker cannot run KVM guests ...
 *   $ lavafs compose qemu01.jinja2 -j job.yaml -o out/ && ls out/
 *   argv  cmdline  device.yaml  env  explain  status
 *
 * Exit status: 0 composed, 1 composition error (file:line: message on stderr), 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "compose.h"
#include "host.h"
#include "strbuf.h"

extern char **environ;

static const char *const outputs[] = {"argv", "cmdline", "env", "device.yaml", "explain"};

static void usage(void)
{
	fputs("usage: lavafs compose [-t DIR]... DICTIONARY [-c CONTEXT.yaml | -j JOB.yaml]\n"
	      "                      [-e ENV.yaml] [-o OUTDIR]\n",
	      stderr);
}

struct image_dir {
	const char *outdir;
	char *paths[256]; /* what image_path handed out, freed at exit */
	size_t npaths;
};

/* OUTDIR/images/LABEL/FILE, FILE being the URL's last component minus the compression
 * suffix: where the fetched (and decompressed) image lands. */
static const char *image_path(void *ctx, const struct compose_image *img)
{
	const struct image_dir *d = ctx;
	const char *url = img->url;
	const char *q = url + strcspn(url, "?#");
	const char *slash = q;
	while (slash > url && slash[-1] != '/')
		slash--;
	size_t n = (size_t)(q - slash);
	char file[PATH_MAX];
	snprintf(file, sizeof(file), "%.*s", (int)n, slash);
	if (img->compression && *img->compression) {
		size_t fl = strlen(file), cl = strlen(img->compression);
		if (fl > cl + 1 && file[fl - cl - 1] == '.' &&
		    strcmp(file + fl - cl, img->compression) == 0)
			file[fl - cl - 1] = '\0';
		else if (fl > 3 && strcmp(img->compression, "gz") == 0 &&
			 strcmp(file + fl - 3, ".gz") == 0)
			file[fl - 3] = '\0';
	}
	if (!file[0])
		snprintf(file, sizeof(file), "%s", img->label);
	struct image_dir *dd = ctx;
	if (dd->npaths == sizeof(dd->paths) / sizeof(dd->paths[0]))
		return NULL;
	char *path = NULL;
	if (asprintf(&path, "%s/images/%s/%s", d->outdir, img->label, file) < 0)
		return NULL;
	dd->paths[dd->npaths++] = path;
	return path;
}

static int write_outputs(const char *outdir, const struct compose_result *r,
			 const struct lf_error *err, int rc)
{
	if (rc < 0) {
		for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++)
			cli_remove_in(outdir, outputs[i]);
		char msg[LF_ERR_MSG + 512];
		lf_error_format(err, msg, sizeof(msg));
		struct strbuf st = STRBUF_INIT;
		strbuf_addf(&st, "error: %s\n", msg);
		int w = cli_write_in(outdir, "status", st.buf, st.len);
		strbuf_release(&st);
		return w;
	}
	const struct strbuf *bufs[] = {&r->argv, &r->cmdline, &r->env, &r->device_yaml,
				       &r->explain};
	for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++)
		if (cli_write_in(outdir, outputs[i], strbuf_str(bufs[i]), bufs[i]->len) < 0)
			return -1;
	struct strbuf st = STRBUF_INIT;
	strbuf_adds(&st, "ready\n");
	const char *w = strbuf_str(&r->warnings);
	while (*w) {
		const char *e = strchr(w, '\n');
		size_t n = e ? (size_t)(e - w) : strlen(w);
		strbuf_adds(&st, "warning: ");
		strbuf_add(&st, w, n);
		strbuf_addc(&st, '\n');
		w += n + (e ? 1 : 0);
	}
	int wr = cli_write_in(outdir, "status", st.buf, st.len);
	strbuf_release(&st);
	return wr;
}

int cli_compose(int argc, char **argv)
{
	const char *dirs[64];
	size_t ndirs = 0;
	const char *ctx_file = NULL, *job_file = NULL, *env_file = NULL, *outdir = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "t:c:j:e:o:h")) != -1) {
		switch (opt) {
		case 't':
			if (ndirs >= 60) {
				fputs("lavafs: too many -t directories\n", stderr);
				return 2;
			}
			dirs[ndirs++] = optarg;
			break;
		case 'c':
			ctx_file = optarg;
			break;
		case 'j':
			job_file = optarg;
			break;
		case 'e':
			env_file = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc - 1 || (ctx_file && job_file)) {
		usage();
		return 2;
	}
	const char *dict_file = argv[optind];
	/* The device's tags: the store keeps them beside its dictionary (devices/DEV/tags), a
	 * dictionary kept as NAME.jinja2 may have NAME.tags beside it. */
	struct cli_file tags = {0};
	char tags_path[PATH_MAX];
	size_t dl = strlen(dict_file);
	const char *slash = strrchr(dict_file, '/');
	const char *bn = slash ? slash + 1 : dict_file;
	if (strcmp(bn, "dictionary") == 0)
		snprintf(tags_path, sizeof(tags_path), "%.*stags", (int)(bn - dict_file), dict_file);
	else if (dl > 7 && strcmp(dict_file + dl - 7, ".jinja2") == 0)
		snprintf(tags_path, sizeof(tags_path), "%.*s.tags", (int)(dl - 7), dict_file);
	else
		snprintf(tags_path, sizeof(tags_path), "%s.tags", dict_file);
	if (access(tags_path, F_OK) == 0 && cli_read_file(tags_path, &tags) < 0)
		return 1;

	struct cli_file dict = {0}, ctx = {0}, job = {0}, env = {0};
	if (cli_read_file(dict_file, &dict) < 0 || (ctx_file && cli_read_file(ctx_file, &ctx) < 0) ||
	    (job_file && cli_read_file(job_file, &job) < 0) ||
	    (env_file && cli_read_file(env_file, &env) < 0))
		goto fail_files;

	char dictdir[PATH_MAX];
	snprintf(dictdir, sizeof(dictdir), "%s", dict_file);
	dirs[ndirs++] = dirname(dictdir);
	dirs[ndirs++] = cli_shipped_templates();

	if (outdir && mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "lavafs: cannot create %s: %s\n", outdir, strerror(errno));
		goto fail_files;
	}
	char absout[PATH_MAX];
	if (!realpath(outdir ? outdir : ".", absout)) {
		fprintf(stderr, "lavafs: %s: %s\n", outdir ? outdir : ".", strerror(errno));
		goto fail_files;
	}
	struct image_dir idir = {.outdir = absout};
	char guest[PATH_MAX + 32];
	snprintf(guest, sizeof(guest), "%s/lava-guest.qcow2", absout);

	struct jinja_env *tenv = jinja_env_new(dirs, ndirs, NULL);
	struct compose_input in = {
		.templates = tenv,
		.device = NULL,
		.dictionary_name = dict_file,
		.dictionary = dict.data,
		.dictionary_len = dict.len,
		.context_name = ctx_file,
		.context = ctx_file ? ctx.data : NULL,
		.context_len = ctx.len,
		.job_name = job_file,
		.job = job_file ? job.data : NULL,
		.job_len = job.len,
		.env_name = env_file,
		.env_yaml = env_file ? env.data : NULL,
		.env_yaml_len = env.len,
		.environ = environ,
		.tags = tags.data,
		.host_arch = cli_host_arch(),
		.kvm = cli_host_kvm(),
		.image_path = image_path,
		.image_path_ctx = &idir,
		.guest_image = guest,
		.has_overlay = false,
	};
	/* device name: DEV of devices/DEV/dictionary, else the file name without .jinja2 */
	char base[PATH_MAX];
	snprintf(base, sizeof(base), "%s", dict_file);
	if (strcmp(bn, "dictionary") == 0) {
		char *d = dirname(base);
		char *s2 = strrchr(d, '/');
		in.device = s2 ? s2 + 1 : d;
	} else {
		char *b = basename(base);
		size_t n = strlen(b);
		if (n > 7 && strcmp(b + n - 7, ".jinja2") == 0)
			b[n - 7] = '\0';
		in.device = b;
	}

	struct compose_result r;
	struct lf_error err;
	lf_error_clear(&err);
	int rc = compose_run(&in, &r, &err);
	int status = 0;
	if (rc < 0) {
		char msg[LF_ERR_MSG + 512];
		lf_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "lavafs: %s\n", msg);
		status = 1;
	} else {
		const char *w = strbuf_str(&r.warnings);
		while (*w) {
			const char *e = strchr(w, '\n');
			int n = e ? (int)(e - w) : (int)strlen(w);
			fprintf(stderr, "lavafs: warning: %.*s\n", n, w);
			w += n + (e ? 1 : 0);
		}
		if (!outdir)
			fwrite(r.cmdline.buf, 1, r.cmdline.len, stdout);
	}
	if (outdir && write_outputs(outdir, &r, &err, rc) < 0)
		status = 1;
	compose_result_free(&r);
	jinja_env_free(tenv);
	cli_free_file(&dict);
	cli_free_file(&ctx);
	cli_free_file(&job);
	cli_free_file(&env);
	cli_free_file(&tags);
	for (size_t i = 0; i < idir.npaths; i++)
		free(idir.paths[i]);
	return status;
fail_files:
	cli_free_file(&dict);
	cli_free_file(&ctx);
	cli_free_file(&job);
	cli_free_file(&env);
	cli_free_file(&tags);
	return 1;
}
