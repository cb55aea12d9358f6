/* compose: device dictionary + job context (or job) + env.yaml → argv, cmdline, env, explain.
 *
 * The steps, as LAVA's server and dispatcher take them:
 *   1. read the job input (a context mapping, or a job whose `context:` and deploy images count)
 *   2. render the dictionary (which extends the device-type template) with the context as render
 *      variables plus host_arch and kvm; the dictionary's top-level sets win over the context
 *   3. parse the rendered YAML; take actions.boot.methods.qemu.parameters
 *   4. command, options, extra, image_args (with {label}s substituted), guest -drive → joined by
 *      spaces → split as a POSIX shell splits → argv
 *   5. check argv against QEMU's option grammar, note warnings, build explain and env. */
#include "compose.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "qemuopts.h"
#include "shellwords.h"
#include "yaml.h"

/* Where one argv piece (a string before shell splitting) came from. */
enum piece_layer { PIECE_TEMPLATE, PIECE_IMAGE, PIECE_STORAGE };

struct piece {
	const char *text;
	size_t len;
	size_t offset; /* in the joined string */
	enum piece_layer layer;
	const char *what;        /* "options item 3", "extra item 1", "image_arg of kernel" */
	const struct value *src; /* the YAML value (for its rendered line), or NULL */
	const struct compose_image *image;
};

struct composer {
	const struct compose_input *in;
	struct compose_result *out;
	struct arena *a;
	struct lf_error *err;
	const struct value *context;   /* V_MAP (possibly empty) */
	const struct value *job;       /* V_MAP or NULL */
	struct jinja_render_info info; /* of the dictionary render */
	struct strbuf rendered;
	const char *rendered_name;
	struct piece *pieces;
	size_t npieces, cap;
	bool has_test;
	const char **where; /* per argv item: its origin, for messages */
	struct value *shown; /* variable name -> its value as explain shows it, made once */
};

static const char *str_or(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}

static void warn(struct composer *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct composer *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&c->out->warnings, fmt, ap);
	va_end(ap);
	strbuf_addc(&c->out->warnings, '\n');
}

/* Python str() of a value, shortened for one-line messages. */
static const char *show(struct composer *c, const struct value *v, size_t max)
{
	struct strbuf sb = STRBUF_INIT;
	value_to_str(&sb, v);
	if (sb.len > max) {
		sb.len = max;
		strbuf_adds(&sb, "...");
	}
	const char *r = arena_strndup(c->a, strbuf_str(&sb), sb.len);
	strbuf_release(&sb);
	return r;
}

static const struct value *map_path(const struct value *v, const char *const *keys)
{
	for (; *keys && v; keys++) {
		if (v->kind != V_MAP)
			return NULL;
		v = value_map_gets(v, *keys);
	}
	return v;
}

static bool is_scalar(const struct value *v)
{
	return v->kind == V_STRING || v->kind == V_INT || v->kind == V_FLOAT ||
	       v->kind == V_BOOL || v->kind == V_NONE;
}

/* ---- 1. the job input ---------------------------------------------------------------- */

static int read_yaml_mapping(struct composer *c, const char *name, const char *text, size_t len,
			     const char *what, const struct value **out)
{
	struct value *v = NULL;
	int rc = yaml_parse(c->a, name, text, len, NULL, &v, c->err);
	if (rc < 0)
		return rc;
	if (v->kind == V_NONE) {
		*out = value_map(c->a);
		return 0;
	}
	if (v->kind != V_MAP)
		return lf_error_set(c->err, -EINVAL, name, v->line, 0,
				    "%s must be a YAML mapping (key: value lines), not a %s", what,
				    value_type_name(v) );
	*out = v;
	return 0;
}

/* LAVA job: `actions:` is a list of one-key mappings (deploy, boot, test). */
static int read_job(struct composer *c)
{
	const struct compose_input *in = c->in;
	const char *name = str_or(in->job_name, "job.yaml");
	int rc = read_yaml_mapping(c, name, in->job, in->job_len, "a job definition", &c->job);
	if (rc < 0)
		return rc;
	const struct value *ctx = value_map_gets(c->job, "context");
	if (!ctx || ctx->kind == V_NONE)
		c->context = value_map(c->a);
	else if (ctx->kind != V_MAP)
		return lf_error_set(c->err, -EINVAL, name, ctx->line, 0,
				    "the job's context: must be a mapping, not a %s",
				    value_type_name(ctx));
	else
		c->context = ctx;

	const struct value *tags = value_map_gets(c->job, "tags");
	if (tags && tags->kind == V_LIST) {
		c->out->job_tags = arena_alloc(c->a, sizeof(char *) * (tags->u.list.len + 1));
		for (size_t i = 0; i < tags->u.list.len; i++) {
			const struct value *t = tags->u.list.items[i];
			if (!is_scalar(t))
				return lf_error_set(c->err, -EINVAL, name, t->line, 0,
						    "job tags must be strings");
			c->out->job_tags[c->out->njob_tags++] = show(c, t, 256);
		}
	} else if (tags && tags->kind != V_NONE) {
		return lf_error_set(c->err, -EINVAL, name, tags->line, 0,
				    "the job's tags: must be a list");
	}

	const struct value *actions = value_map_gets(c->job, "actions");
	if (!actions || actions->kind != V_LIST)
		return 0;
	size_t cap = 0;
	for (size_t i = 0; i < actions->u.list.len; i++) {
		const struct value *act = actions->u.list.items[i];
		if (act->kind != V_MAP)
			continue;
		if (value_map_gets(act, "test"))
			c->has_test = true;
		const struct value *deploy = value_map_gets(act, "deploy");
		if (!deploy || deploy->kind != V_MAP)
			continue;
		const struct value *images = value_map_gets(deploy, "images");
		if (!images || images->kind != V_MAP)
			continue;
		for (size_t j = 0; j < images->u.map.len; j++) {
			const struct value *label = images->u.map.keys[j];
			const struct value *img = images->u.map.vals[j];
			if (label->kind != V_STRING || img->kind != V_MAP)
				return lf_error_set(c->err, -EINVAL, name, img->line, 0,
						    "deploy images: each image must be a mapping "
						    "with a url");
			if (c->out->nimages == cap) {
				size_t ncap = cap ? cap * 2 : 4;
				c->out->images = arena_realloc(
					c->a, c->out->images, cap * sizeof(struct compose_image),
					ncap * sizeof(struct compose_image));
				cap = ncap;
			}
			struct compose_image *ci = &c->out->images[c->out->nimages++];
			ci->label = label->u.str.s;
			const char *keys[] = {"url", "image_arg", "compression", "sha256sum",
					      "md5sum", "sha512sum", "format"};
			const char **dst[] = {&ci->url, &ci->image_arg, &ci->compression,
					      &ci->sha256sum, &ci->md5sum, &ci->sha512sum,
					      &ci->format};
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
				const struct value *f = value_map_gets(img, keys[k]);
				if (!f || f->kind == V_NONE)
					continue;
				if (!is_scalar(f))
					return lf_error_set(c->err, -EINVAL, name, f->line, 0,
							    "image %s: %s must be a string",
							    ci->label, keys[k]);
				*dst[k] = show(c, f, 1u << 16);
			}
			if (!ci->url)
				return lf_error_set(c->err, -EINVAL, name, img->line, 0,
						    "image %s has no url", ci->label);
		}
	}
	return 0;
}

/* A job's tags must all be on the device, as LAVA's scheduler requires. */
static int check_tags(struct composer *c)
{
	if (!c->out->njob_tags)
		return 0;
	const char *tags = c->in->tags ? c->in->tags : "";
	struct strbuf have = STRBUF_INIT;
	for (size_t i = 0; i < c->out->njob_tags; i++) {
		const char *want = c->out->job_tags[i];
		bool found = false;
		strbuf_reset(&have);
		const char *p = tags;
		while (*p) {
			const char *e = strchr(p, '\n');
			size_t n = e ? (size_t)(e - p) : strlen(p);
			const char *s = p;
			size_t m = n;
			while (m && isspace((unsigned char)*s))
				s++, m--;
			while (m && isspace((unsigned char)s[m - 1]))
				m--;
			if (m && *s != '#') {
				if (strlen(want) == m && memcmp(s, want, m) == 0)
					found = true;
				if (have.len)
					strbuf_adds(&have, ", ");
				strbuf_add(&have, s, m);
			}
			p += n + (e ? 1 : 0);
		}
		if (!found) {
			int rc = lf_error_set(c->err, -EINVAL, c->in->job_name, 0, 0,
					      "job needs tag %s; device %s has %s", want,
					      str_or(c->in->device, "(this device)"),
					      have.len ? strbuf_str(&have) : "no tags");
			strbuf_release(&have);
			return rc;
		}
	}
	strbuf_release(&have);
	return 0;
}

/* ---- 2. render ------------------------------------------------------------------------ */

static int render(struct composer *c)
{
	const struct compose_input *in = c->in;
	/* The context's keys are already unique: copy them in one go (inserting one by one is
	 * quadratic, and a context of 100000 keys would hold the composition for minutes). */
	struct value *vars = value_map(c->a);
	size_t nctx = c->context->u.map.len;
	vars->u.map.cap = nctx + 2;
	vars->u.map.keys = arena_alloc(c->a, vars->u.map.cap * sizeof(struct value *));
	vars->u.map.vals = arena_alloc(c->a, vars->u.map.cap * sizeof(struct value *));
	if (nctx) {
		memcpy(vars->u.map.keys, c->context->u.map.keys, nctx * sizeof(struct value *));
		memcpy(vars->u.map.vals, c->context->u.map.vals, nctx * sizeof(struct value *));
	}
	vars->u.map.len = nctx;
	/* The worker's facts: a context key of the same name does not override them. */
	const char *facts[] = {"host_arch", "kvm"};
	for (size_t i = 0; i < 2; i++) {
		const struct value *v = value_map_gets(c->context, facts[i]);
		if (v)
			warn(c, "context sets %s=%s; lavafs sets %s from this worker", facts[i],
			     show(c, v, 60), facts[i]);
	}
	value_map_sets(c->a, vars, "host_arch", value_cstr(c->a, str_or(in->host_arch, "x86_64")));
	value_map_sets(c->a, vars, "kvm", value_bool(c->a, in->kvm));

	c->rendered_name = str_or(in->dictionary_name, "dictionary");
	int rc = jinja_render(in->templates, c->rendered_name, in->dictionary, in->dictionary_len,
			      vars, &c->rendered, c->a, &c->info, c->err);
	if (rc < 0)
		return rc;

	/* The mandatory layer made visible: the dictionary's sets beat the context. */
	const struct value *top = c->info.toplevel;
	for (size_t i = 0; top && top->kind == V_MAP && i < c->context->u.map.len; i++) {
		const struct value *k = c->context->u.map.keys[i];
		if (k->kind != V_STRING)
			continue;
		const struct value *fixed = value_map_get(top, k);
		if (fixed && !value_equal(fixed, c->context->u.map.vals[i]))
			warn(c, "context sets %s=%s; the device dictionary fixes %s=%s", k->u.str.s,
			     show(c, c->context->u.map.vals[i], 80), k->u.str.s,
			     show(c, fixed, 80));
	}
	for (size_t i = 0; i < c->info.nloaded; i++) {
		if (strcmp(c->info.loaded[i], c->rendered_name) == 0)
			continue;
		if (!c->out->device_type) {
			const char *t = c->info.loaded[i];
			size_t n = strlen(t);
			if (n > 7 && strcmp(t + n - 7, ".jinja2") == 0)
				n -= 7;
			c->out->device_type = arena_strndup(c->a, t, n);
		}
	}
	c->out->templates = c->info.loaded;
	c->out->ntemplates = c->info.nloaded;
	return 0;
}

/* The template line that produced rendered line `line` (1-based). */
static const struct jinja_origin *origin_of(const struct composer *c, int line)
{
	if (line < 1 || (size_t)line > c->info.nlines || !c->info.lines)
		return NULL;
	return &c->info.lines[line - 1];
}

static const char *rendered_line(struct composer *c, int line)
{
	const char *p = strbuf_str(&c->rendered);
	for (int i = 1; i < line && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p)
		return "";
	const char *e = strchr(p, '\n');
	return arena_strndup(c->a, p, e ? (size_t)(e - p) : strlen(p));
}

/* An error about rendered line `line`: point at the template line that produced it. */
static int rendered_error(struct composer *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int rendered_error(struct composer *c, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const struct jinja_origin *o = origin_of(c, line);
	if (o && o->template)
		return lf_error_set(c->err, -EINVAL, o->template, o->line, 0,
				    "%s\n  rendered line %d: %s", msg, line,
				    rendered_line(c, line));
	return lf_error_set(c->err, -EINVAL, c->rendered_name, 0, 0, "%s", msg);
}

/* ---- 3./4. the device configuration → pieces → argv ------------------------------------- */

static void add_piece(struct composer *c, const char *text, enum piece_layer layer,
		      const char *what, const struct value *src, const struct compose_image *img)
{
	if (c->npieces == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		c->pieces = arena_realloc(c->a, c->pieces, c->cap * sizeof(struct piece),
					  ncap * sizeof(struct piece));
		c->cap = ncap;
	}
	struct piece *p = &c->pieces[c->npieces++];
	p->text = text;
	p->len = strlen(text);
	p->layer = layer;
	p->what = what;
	p->src = src;
	p->image = img;
}

static int add_list(struct composer *c, const struct value *list, const char *key)
{
	if (!list || list->kind == V_NONE)
		return 0;
	if (list->kind != V_LIST) {
		if (strcmp(key, "extra") == 0)
			return rendered_error(c, list->line,
					      "extra_options must be a list (one QEMU option "
					      "or option with its value per item), not a %s: %s",
					      value_type_name(list), show(c, list, 80));
		return rendered_error(c, list->line, "qemu parameters: %s must be a list, not a %s",
				      key, value_type_name(list));
	}
	for (size_t i = 0; i < list->u.list.len; i++) {
		const struct value *it = list->u.list.items[i];
		struct strbuf wb = STRBUF_INIT;
		strbuf_adds(&wb, strcmp(key, "extra") == 0 ? "extra_options" : key);
		strbuf_adds(&wb, " item ");
		strbuf_addu(&wb, i + 1);
		const char *what = arena_strndup(c->a, wb.buf, wb.len);
		strbuf_release(&wb);
		if (!is_scalar(it))
			return rendered_error(c, it->line ? it->line : list->line,
					      "%s is a %s (%s); each item must be a string or "
					      "number, e.g. '-smp 2'",
					      what, value_type_name(it), show(c, it, 80));
		/* "%s" % item, as LAVA formats them */
		add_piece(c, show(c, it, (size_t)1 << 20), PIECE_TEMPLATE, what, it, NULL);
	}
	return 0;
}

/* An image_arg with its {label}s replaced, one image after the other as LAVA replaces them.
 * A path may itself hold "{label}" text (it ends in the URL's file name), so each step can
 * multiply the length: past SUBST_MAX the job is refused instead of filling memory. */
#define SUBST_MAX (1u << 20)

static int substitute(struct composer *c, const struct compose_image *owner, char **out)
{
	struct strbuf sb = STRBUF_INIT, pat = STRBUF_INIT;
	strbuf_adds(&sb, owner->image_arg);
	for (size_t i = 0; i < c->out->nimages; i++) {
		const struct compose_image *img = &c->out->images[i];
		if (!img->path)
			continue;
		strbuf_reset(&pat);
		strbuf_addc(&pat, '{');
		strbuf_adds(&pat, img->label);
		strbuf_addc(&pat, '}');
		const char *p = strbuf_str(&sb), *hit = strstr(p, pat.buf);
		if (!hit)
			continue;
		struct strbuf nb = STRBUF_INIT;
		for (; hit; hit = strstr(p, pat.buf)) {
			strbuf_add(&nb, p, (size_t)(hit - p));
			strbuf_adds(&nb, img->path);
			p = hit + pat.len;
			if (nb.len > SUBST_MAX)
				break;
		}
		strbuf_adds(&nb, p);
		strbuf_release(&sb);
		sb = nb;
		if (sb.len > SUBST_MAX) {
			strbuf_release(&sb);
			strbuf_release(&pat);
			return lf_error_set(c->err, -E2BIG, str_or(c->in->job_name, "job.yaml"), 0, 0,
					    "image_arg of %s is longer than %u bytes once the image "
					    "paths are put in ({label}s in image URLs?)",
					    owner->label, SUBST_MAX);
		}
	}
	*out = arena_strndup(c->a, strbuf_str(&sb), sb.len);
	strbuf_release(&sb);
	strbuf_release(&pat);
	return 0;
}

static int build_pieces(struct composer *c, const struct value *cfg)
{
	const char *qp[] = {"actions", "boot", "methods", "qemu", "parameters", NULL};
	const struct value *params = map_path(cfg, qp);
	if (!params || params->kind != V_MAP)
		return lf_error_set(c->err, -EINVAL, c->rendered_name, 0, 0,
				    "the device configuration has no "
				    "actions.boot.methods.qemu.parameters: is the device type a "
				    "QEMU one (does the dictionary extend qemu.jinja2)?");

	/* arch: as LAVA's qemu boot method validates it */
	const struct value *arch = NULL;
	if (c->info.toplevel && c->info.toplevel->kind == V_MAP)
		arch = value_map_gets(c->info.toplevel, "arch");
	if (!arch || arch->kind == V_UNDEFINED)
		arch = value_map_gets(c->context, "arch");
	const struct value *avail = value_map_gets(cfg, "available_architectures");
	struct strbuf valid = STRBUF_INIT;
	if (avail && avail->kind == V_LIST)
		for (size_t i = 0; i < avail->u.list.len; i++) {
			if (i)
				strbuf_adds(&valid, ", ");
			value_to_str(&valid, avail->u.list.items[i]);
		}
	if (!arch || arch->kind == V_NONE || (arch->kind == V_STRING && arch->u.str.len == 0)) {
		int rc = lf_error_set(c->err, -EINVAL, str_or(c->in->context_name, "context"), 0, 0,
				      "the job context sets no arch: add e.g. 'arch: amd64'%s%s%s",
				      valid.len ? " (valid: " : "", strbuf_str(&valid),
				      valid.len ? ")" : "");
		strbuf_release(&valid);
		return rc;
	}
	if (avail && avail->kind == V_LIST) {
		bool ok = false;
		for (size_t i = 0; i < avail->u.list.len; i++)
			if (value_equal(avail->u.list.items[i], arch))
				ok = true;
		if (!ok) {
			int rc = lf_error_set(c->err, -EINVAL, str_or(c->in->context_name, "context"),
					      arch->line, 0,
					      "arch '%s' is not in this device's "
					      "available_architectures: %s",
					      show(c, arch, 60), strbuf_str(&valid));
			strbuf_release(&valid);
			return rc;
		}
	}
	strbuf_release(&valid);

	/* the context's extra_options: a list of scalars */
	const struct value *xo = value_map_gets(c->context, "extra_options");
	if (xo && xo->kind != V_LIST && xo->kind != V_NONE)
		return lf_error_set(c->err, -EINVAL, str_or(c->in->context_name, "context"),
				    xo->line, 0,
				    "extra_options must be a list (one item per option), not a %s",
				    value_type_name(xo));
	for (size_t i = 0; xo && xo->kind == V_LIST && i < xo->u.list.len; i++)
		if (!is_scalar(xo->u.list.items[i]))
			return lf_error_set(c->err, -EINVAL, str_or(c->in->context_name, "context"),
					    xo->u.list.items[i]->line, 0,
					    "extra_options item %zu is a %s (%s); each item must be "
					    "a string or number, e.g. '-smp 2'",
					    i + 1, value_type_name(xo->u.list.items[i]),
					    show(c, xo->u.list.items[i], 80));

	const struct value *cmd = value_map_gets(params, "command");
	if (!cmd || !is_scalar(cmd) || cmd->kind == V_NONE ||
	    (cmd->kind == V_STRING && cmd->u.str.len == 0))
		return rendered_error(c, params->line,
				      "the device configuration has no qemu command "
				      "(actions.boot.methods.qemu.parameters.command)");
	add_piece(c, show(c, cmd, 4096), PIECE_TEMPLATE, "command", cmd, NULL);
	int rc = add_list(c, value_map_gets(params, "options"), "options");
	if (rc < 0)
		return rc;
	rc = add_list(c, value_map_gets(params, "extra"), "extra");
	if (rc < 0)
		return rc;

	for (size_t i = 0; i < c->out->nimages; i++) {
		const struct compose_image *img = &c->out->images[i];
		if (!img->image_arg)
			continue;
		char *arg = NULL;
		int src = substitute(c, img, &arg);
		if (src < 0)
			return src;
		add_piece(c, arg, PIECE_IMAGE,
			  arena_printf(c->a, "image_arg of %s", img->label), NULL, img);
	}

	const char *gp[] = {"actions", "deploy", "methods", "image", "parameters", "guest", NULL};
	const struct value *guest = map_path(cfg, gp);
	const struct value *g;
	c->out->guestfs_size_mib = 512;
	c->out->guestfs_interface = "virtio";
	c->out->guestfs_driveid = "lavatest";
	if (guest && guest->kind == V_MAP) {
		if ((g = value_map_gets(guest, "size")) && g->kind == V_INT)
			c->out->guestfs_size_mib = (long)g->u.i;
		if ((g = value_map_gets(guest, "interface")) && is_scalar(g))
			c->out->guestfs_interface = show(c, g, 64);
		if ((g = value_map_gets(guest, "driveid")) && is_scalar(g))
			c->out->guestfs_driveid = show(c, g, 64);
	}
	c->out->needs_guest = c->in->has_overlay || c->has_test;
	if (c->out->needs_guest && c->in->guest_image)
		add_piece(c,
			  arena_printf(c->a,
				       "-drive format=qcow2,file=%s,media=disk,if=%s,id=%s,"
				       "snapshot=on",
				       c->in->guest_image, c->out->guestfs_interface,
				       c->out->guestfs_driveid),
			  PIECE_STORAGE, "guest storage", NULL, NULL);
	return 0;
}

static const struct piece *piece_at(const struct composer *c, size_t offset)
{
	const struct piece *best = &c->pieces[0];
	for (size_t i = 0; i < c->npieces; i++)
		if (c->pieces[i].offset <= offset)
			best = &c->pieces[i];
	return best;
}

static int split_argv(struct composer *c, const struct piece ***owner)
{
	struct strbuf joined = STRBUF_INIT;
	for (size_t i = 0; i < c->npieces; i++) {
		if (i)
			strbuf_addc(&joined, ' ');
		c->pieces[i].offset = joined.len;
		strbuf_add(&joined, c->pieces[i].text, c->pieces[i].len);
	}
	struct shellword *words = NULL;
	size_t n = 0;
	struct lf_error serr;
	lf_error_clear(&serr);
	int rc = shellwords_split(c->a, "argv", strbuf_str(&joined), joined.len, &words, &n, &serr);
	if (rc < 0) {
		size_t col = serr.column > 0 ? (size_t)serr.column - 1 : 0;
		const struct piece *p = piece_at(c, col);
		const struct jinja_origin *o = p->src ? origin_of(c, p->src->line) : NULL;
		/* the item on its own gives a column the writer can find in what they wrote */
		struct lf_error ierr;
		lf_error_clear(&ierr);
		struct shellword *iw = NULL;
		size_t in = 0;
		const char *why = serr.msg;
		if (shellwords_split(c->a, p->what, p->text, p->len, &iw, &in, &ierr) < 0)
			why = ierr.msg;
		rc = lf_error_set(c->err, rc, o ? o->template : c->rendered_name, o ? o->line : 0,
				  0, "%s '%s': %s", p->what, p->text, why);
		strbuf_release(&joined);
		return rc;
	}
	strbuf_release(&joined);
	c->out->argv_items = arena_alloc(c->a, sizeof(char *) * (n + 1));
	*owner = arena_alloc(c->a, sizeof(struct piece *) * (n + 1));
	size_t pi = 0;
	for (size_t i = 0; i < n; i++) {
		c->out->argv_items[i] = words[i].s;
		/* words and pieces both run left to right: the owner only moves forward */
		while (pi + 1 < c->npieces && c->pieces[pi + 1].offset <= words[i].offset)
			pi++;
		(*owner)[i] = &c->pieces[pi];
		strbuf_add(&c->out->argv, words[i].s, words[i].len);
		strbuf_addc(&c->out->argv, '\0');
		if (i)
			strbuf_addc(&c->out->cmdline, ' ');
		shellwords_quote(&c->out->cmdline, words[i].s, words[i].len);
	}
	strbuf_addc(&c->out->cmdline, '\n');
	c->out->argc = n;
	return 0;
}

/* ---- 5. explain, checks ----------------------------------------------------------------- */

static bool fixed_by_dictionary(const struct composer *c, const char *var)
{
	return c->info.toplevel && c->info.toplevel->kind == V_MAP &&
	       value_map_gets(c->info.toplevel, var);
}

/* Layer and origin text of a piece that came from the rendered template. */
static const char *template_origin(struct composer *c, const struct piece *p, const char **layer)
{
	const struct jinja_origin *o = p->src ? origin_of(c, p->src->line) : NULL;
	struct strbuf sb = STRBUF_INIT;
	*layer = "mandatory";
	if (o && o->template) {
		strbuf_adds(&sb, o->template);
		strbuf_addc(&sb, ':');
		strbuf_addu(&sb, (unsigned)o->line);
	} else {
		strbuf_adds(&sb, c->rendered_name);
	}
	strbuf_adds(&sb, " (");
	strbuf_adds(&sb, p->what);
	for (size_t i = 0; o && i < o->nvars; i++) {
		const char *var = o->vars[i];
		const struct value *v;
		if (fixed_by_dictionary(c, var)) {
			v = value_map_gets(c->info.toplevel, var);
			strbuf_adds(&sb, "; dictionary ");
		} else if ((v = value_map_gets(c->context, var))) {
			*layer = "specific";
			strbuf_adds(&sb, "; context ");
		} else if (!strcmp(var, "host_arch") || !strcmp(var, "kvm")) {
			strbuf_adds(&sb, "; worker ");
			strbuf_adds(&sb, var);
			strbuf_addc(&sb, '=');
			strbuf_adds(&sb, var[0] == 'k' ? (c->in->kvm ? "True" : "False") :
							 str_or(c->in->host_arch, "x86_64"));
			continue;
		} else {
			continue;
		}
		strbuf_adds(&sb, var);
		strbuf_addc(&sb, '=');
		/* str() of a value is as long as the value: once per variable, not per argv item
		 * (50000 extra_options items would otherwise be shown 50000 times) */
		if (!c->shown)
			c->shown = value_map(c->a);
		const struct value *memo = value_map_gets(c->shown, var);
		if (!memo) {
			memo = value_cstr(c->a, show(c, v, 60));
			value_map_sets(c->a, c->shown, var, (struct value *)memo);
		}
		strbuf_add(&sb, memo->u.str.s, memo->u.str.len);
	}
	strbuf_addc(&sb, ')');
	const char *r = arena_strndup(c->a, strbuf_str(&sb), sb.len);
	strbuf_release(&sb);
	return r;
}

/* explain is one line per item in tab-separated fields: an item or a context value holding
 * a newline, carriage return or tab is shown with that character escaped. */
static void add_one_line(struct strbuf *sb, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '\n':
			strbuf_adds(sb, "\\n");
			break;
		case '\r':
			strbuf_adds(sb, "\\r");
			break;
		case '\t':
			strbuf_adds(sb, "\\t");
			break;
		default:
			strbuf_addc(sb, s[i]);
		}
	}
}

static void build_explain(struct composer *c, const struct piece *const *owner)
{
	struct strbuf field = STRBUF_INIT;
	const char **where = arena_alloc(c->a, sizeof(char *) * (c->out->argc + 1));
	for (size_t i = 0; i < c->out->argc; i++) {
		const struct piece *p = owner[i];
		const char *layer, *origin;
		switch (p->layer) {
		case PIECE_IMAGE:
			layer = "substituted";
			origin = arena_printf(c->a, "%s images.%s.image_arg '%s' (url %s)",
					      str_or(c->in->job_name, "job.yaml"), p->image->label,
					      p->image->image_arg, p->image->url);
			break;
		case PIECE_STORAGE:
			layer = "storage";
			origin = arena_printf(c->a, "lava-guest.qcow2 (%ld MiB, interface %s, "
						    "driveid %s)",
					      c->out->guestfs_size_mib, c->out->guestfs_interface,
					      c->out->guestfs_driveid);
			break;
		default:
			origin = template_origin(c, p, &layer);
		}
		where[i] = origin;
		strbuf_addu(&c->out->explain, i);
		strbuf_addc(&c->out->explain, '\t');
		strbuf_adds(&c->out->explain, layer);
		strbuf_addc(&c->out->explain, '\t');
		strbuf_reset(&field);
		shellwords_quote(&field, c->out->argv_items[i], strlen(c->out->argv_items[i]));
		add_one_line(&c->out->explain, field.buf, field.len);
		strbuf_addc(&c->out->explain, '\t');
		add_one_line(&c->out->explain, origin, strlen(origin));
		strbuf_addc(&c->out->explain, '\n');
	}
	strbuf_release(&field);
	c->where = where;
}

static void collect_macs(struct composer *c)
{
	size_t cap = 0;
	for (size_t i = 0; i < c->out->argc; i++) {
		const char *s = c->out->argv_items[i];
		const char *keys[] = {"macaddr=", "mac="};
		for (size_t k = 0; k < 2; k++) {
			const char *p = s;
			size_t kl = strlen(keys[k]);
			while ((p = strstr(p, keys[k]))) {
				if (p != s && p[-1] != ',') {
					p += kl;
					continue;
				}
				p += kl;
				size_t n = strcspn(p, ",");
				if (c->out->nmacs == cap) {
					size_t ncap = cap ? cap * 2 : 4;
					c->out->macs = arena_realloc(c->a, c->out->macs,
								     cap * sizeof(char *),
								     ncap * sizeof(char *));
					cap = ncap;
				}
				char *mac = arena_strndup(c->a, p, n);
				for (char *q = mac; *q; q++)
					*q = (char)tolower((unsigned char)*q);
				c->out->macs[c->out->nmacs++] = mac;
			}
		}
	}
}

static void check_kvm(struct composer *c)
{
	if (c->in->kvm)
		return;
	for (size_t i = 0; i < c->out->argc; i++) {
		const char *s = c->out->argv_items[i];
		bool accel = strcmp(s, "-enable-kvm") == 0 || strcmp(s, "--enable-kvm") == 0 ||
			     ((i > 0 && (strcmp(c->out->argv_items[i - 1], "-accel") == 0 ||
					 strcmp(c->out->argv_items[i - 1], "-machine") == 0 ||
					 strcmp(c->out->argv_items[i - 1], "-M") == 0)) &&
			      (strncmp(s, "kvm", 3) == 0 || strstr(s, "accel=kvm")));
		if (accel) {
			warn(c, "argv uses KVM (%s) but this worker cannot run KVM guests (/dev/kvm "
				"is missing or cannot create a working VM): QEMU will fail; set "
				"no_kvm: true in the context",
			     s);
			return;
		}
	}
}

/* ---- entry ------------------------------------------------------------------------------ */

int compose_run(const struct compose_input *in, struct compose_result *out, struct lf_error *err)
{
	memset(out, 0, sizeof(*out));
	out->arena = arena_new();
	struct composer c = {.in = in, .out = out, .a = out->arena, .err = err};
	strbuf_init(&c.rendered);
	int rc;

	if (in->job && in->context) {
		rc = lf_error_set(err, -EINVAL, in->job_name, 0, 0,
				  "a device has one job input at a time: context or job.yaml");
		goto fail;
	}
	if (in->job)
		rc = read_job(&c);
	else if (in->context)
		rc = read_yaml_mapping(&c, str_or(in->context_name, "context"), in->context,
				       in->context_len, "the job context", &c.context);
	else
		c.context = value_map(c.a), rc = 0;
	if (rc < 0)
		goto fail;
	if ((rc = check_tags(&c)) < 0)
		goto fail;
	for (size_t i = 0; i < out->nimages && in->image_path; i++)
		out->images[i].path = in->image_path(in->image_path_ctx, &out->images[i]);

	if ((rc = render(&c)) < 0)
		goto fail;
	struct value *cfg = NULL;
	rc = yaml_parse(c.a, c.rendered_name, strbuf_str(&c.rendered), c.rendered.len, NULL, &cfg,
			err);
	if (rc < 0) {
		int line = err->line;
		char msg[LF_ERR_MSG];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		rc = rendered_error(&c, line, "the rendered device configuration is not valid YAML: %s",
				    msg);
		goto fail;
	}
	if (cfg->kind != V_MAP) {
		rc = lf_error_set(err, -EINVAL, c.rendered_name, 0, 0,
				  "the rendered device configuration is a %s, not a mapping",
				  value_type_name(cfg));
		goto fail;
	}
	if ((rc = build_pieces(&c, cfg)) < 0)
		goto fail;
	const struct piece **owner = NULL;
	if ((rc = split_argv(&c, &owner)) < 0)
		goto fail;
	build_explain(&c, owner);
	rc = qemu_argv_check(out->argv_items, out->argc, c.where, &out->warnings, err);
	if (rc < 0)
		goto fail;
	check_kvm(&c);
	collect_macs(&c);
	rc = env_compose(c.a, str_or(in->env_name, "env.yaml"), in->env_yaml ? in->env_yaml : "",
			 in->env_yaml ? in->env_yaml_len : 0, in->environ, &out->env, err);
	if (rc < 0)
		goto fail;
	strbuf_add(&out->device_yaml, c.rendered.buf ? c.rendered.buf : "", c.rendered.len);
	strbuf_release(&c.rendered);
	return 0;
fail:
	strbuf_release(&c.rendered);
	compose_result_free(out);
	out->arena = NULL;
	return rc < 0 ? rc : -EINVAL;
}

void compose_result_free(struct compose_result *out)
{
	arena_free(out->arena);
	strbuf_release(&out->argv);
	strbuf_release(&out->cmdline);
	strbuf_release(&out->env);
	strbuf_release(&out->device_yaml);
	strbuf_release(&out->explain);
	strbuf_release(&out->warnings);
	memset(out, 0, sizeof(*out));
}
