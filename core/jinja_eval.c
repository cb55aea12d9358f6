/* jinja_eval: walks the syntax tree of a template and writes its output, with jinja2 3.x's
 * scoping: a template's top level writes the shared context (so a child's `{% set %}` beats
 * the render variable of the same name in its parent), loops, blocks, macros, with and filter
 * blocks get their own scopes, includes see everything the includer sees. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja_eval.h"

#define MAX_RANGE 100000

struct jscope {
	struct jscope *parent;
	const char **names;
	struct value **vals;
	size_t n, cap;
	const char *inl_names[4]; /* most scopes (a loop's target and `loop`) fit inline */
	struct value *inl_vals[4];
};

struct blockchain {
	const char *name;
	const struct jnode **v; /* most derived first */
	size_t n, cap;
};

struct jctx {
	struct value *vars;          /* top-level assignments of the templates of this context */
	uint32_t *hslots;            /* open-addressing index into vars: slot = position + 1 */
	size_t hcap;
	const struct value *render;  /* render variables (root context only) */
	struct jscope *outer_scope;  /* include: the includer's locals */
	struct jctx *outer;          /* include / import with context: the includer's context */
	struct blockchain *blocks;
	size_t nblocks, capblocks;
	const struct jtemplate *root; /* template this context was made for */
	bool is_root;                /* the render's root context */
};

struct frame {
	struct jctx *ctx;
	struct jscope *scope;
	bool toplevel;
	const struct jtemplate *tmpl;
	const char *block;   /* block being rendered, for super() */
	size_t block_index;
	bool suppress;       /* output after {% extends %} is discarded */
	const struct jtemplate **parent; /* where {% extends %} stores the parent */
	struct jloop *loop;
	bool autoescape; /* inside {% autoescape true %} */
};

struct jloop {
	struct value *items;
	size_t i, n;
	int depth0;
	const struct jnode *node;
	struct frame *frame; /* frame the for statement runs in (for recursion) */
	struct value *last_changed;
};

struct jmacro {
	const struct jnode *node; /* J_MACRO or J_CALLBLOCK */
	struct jctx *ctx;
	struct jscope *scope;
	const struct jtemplate *tmpl;
	struct value *caller; /* for call blocks: the macro being called provides it */
	const char *name;
};

struct jrange {
	struct value list; /* first: the list is the range */
	int64_t start, stop, step;
};

struct jblockref {
	struct jctx *ctx;
	const char *name;
	size_t index;
};

struct origin_acc {
	const char **vars;
	size_t n, cap;
};

struct jrender {
	struct jinja_env *env;
	struct arena *a;
	struct lf_error *err;
	bool failed;
	struct strbuf *out;      /* current output (main or a capture) */
	struct strbuf *main_out;
	size_t out_base;         /* length of main_out before this render */
	const struct jinja_limits *lim;
	size_t depth, iterations;
	const struct jtemplate **loaded;
	size_t nloaded, caploaded;
	const struct jtemplate *root;
	const struct jnode *stmt; /* the statement running: where an error without a node is */
	struct value *toplevel;  /* root template's top-level assignments */
	/* render_info */
	bool track;
	struct jinja_origin *lines;
	size_t nlines, caplines;
	struct origin_acc *accs; /* one per line, same index */
	const char **readv;      /* names read by the current expression */
	size_t nreadv, capreadv;
	const char **condv;      /* names read by enclosing if/for tests */
	size_t ncondv, capcondv;
	/* what each `set` name was computed from (names its value and enclosing tests read,
	 * already expanded): reading a derived name counts as reading those too */
	const char **depname;
	const char ***depv;
	size_t *ndepv;
	size_t ndeps, capdeps;
	int capture;             /* >0 while output goes to a capture buffer */
	size_t mem_base;         /* arena_used() when the render started */
};

/* ---------------------------------------------------------------- errors */

struct value *jr_error(struct jrender *r, const struct jnode *n, int code, const char *fmt, ...)
{
	if (r->failed)
		return NULL;
	r->failed = true;
	if (!n)
		n = r->stmt;
	char msg[LF_ERR_MSG];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lf_error_set(r->err, code, n && n->tmpl ? n->tmpl->name : r->root->name, n ? n->line : 0,
		     n ? n->col : 0, "%s", msg);
	return NULL;
}

struct value *jr_undefined_error(struct jrender *r, const struct jnode *n, const struct value *u)
{
	/* cheap undefineds keep only a name; the message is made when one is used wrongly */
	if (u->line == -1)
		return jr_error(r, n, -EINVAL, "'%s' is undefined", u->u.undef.name);
	if (u->line == -2)
		return jr_error(r, n, -EINVAL, "'dict object' has no attribute '%s'", u->u.undef.name);
	return jr_error(r, n, -EINVAL, "%s", u->u.undef.name ? u->u.undef.name : "undefined value");
}

static struct value *undef_lazy(struct jrender *r, const char *name, int code)
{
	struct value *v = value_new(r->a, V_UNDEFINED);
	v->u.undef.name = name;
	v->line = code;
	return v;
}

struct arena *jr_arena(struct jrender *r)
{
	return r->a;
}

bool jr_failed(struct jrender *r)
{
	return r->failed;
}

static struct value *undef_named(struct jrender *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static struct value *undef_named(struct jrender *r, const char *fmt, ...)
{
	struct value *v = value_new(r->a, V_UNDEFINED);
	va_list ap;
	va_start(ap, fmt);
	v->u.undef.name = arena_vprintf(r->a, fmt, ap);
	va_end(ap);
	return v;
}

/* True and False are shared, immutable results of tests and comparisons */
static struct value jtrue = {.kind = V_BOOL, .u.b = true}, jfalse = {.kind = V_BOOL, .u.b = false};

static struct value *jbool(bool b)
{
	return b ? &jtrue : &jfalse;
}

/* Python truth; generators (lists marked by the filters) are always true */
static bool jtruthy(const struct value *v)
{
	if (v->kind == V_LIST && v->line <= -5 && v->line >= -7)
		return v->line != -6 ? true : v->u.list.len != 0;
	return value_truthy(v);
}

static struct value *native(struct jrender *r, int tag, void *ptr, const char *name)
{
	struct value *v = value_new(r->a, V_NATIVE);
	v->u.native.tag = tag;
	v->u.native.ptr = ptr;
	v->u.native.name = name;
	return v;
}

/* ---------------------------------------------------------------- render_info */

static void note_read_one(struct jrender *r, const char *name)
{
	for (size_t i = 0; i < r->nreadv; i++)
		if (r->readv[i] == name || !strcmp(r->readv[i], name))
			return;
	if (r->nreadv == r->capreadv) {
		size_t cap = r->capreadv ? r->capreadv * 2 : 16;
		r->readv = arena_realloc(r->a, r->readv, r->capreadv * sizeof(char *), cap * sizeof(char *));
		r->capreadv = cap;
	}
	r->readv[r->nreadv++] = name;
}

static long dep_index(const struct jrender *r, const char *name)
{
	for (size_t i = r->ndeps; i-- > 0;)
		if (!strcmp(r->depname[i], name))
			return (long)i;
	return -1;
}

static void note_read(struct jrender *r, const char *name)
{
	note_read_one(r, name);
	long d = r->ndeps ? dep_index(r, name) : -1;
	for (size_t i = 0; d >= 0 && i < r->ndepv[d]; i++)
		note_read_one(r, r->depv[d][i]);
}

/* `name` was just assigned from what readv[mark..] and the enclosing tests read. */
static void note_set(struct jrender *r, const char *name, size_t mark)
{
	size_t n = (r->nreadv > mark ? r->nreadv - mark : 0) + r->ncondv;
	const char **v = arena_alloc(r->a, (n + 1) * sizeof(char *));
	size_t k = 0;
	for (size_t i = mark; i < r->nreadv; i++)
		if (strcmp(r->readv[i], name))
			v[k++] = r->readv[i];
	for (size_t i = 0; i < r->ncondv; i++)
		v[k++] = r->condv[i];
	long d = dep_index(r, name);
	if (d < 0) {
		if (r->ndeps == r->capdeps) {
			size_t cap = r->capdeps ? r->capdeps * 2 : 16;
			r->depname = arena_realloc(r->a, r->depname, r->capdeps * sizeof(char *),
						   cap * sizeof(char *));
			r->depv = arena_realloc(r->a, r->depv, r->capdeps * sizeof(char **),
						cap * sizeof(char **));
			r->ndepv = arena_realloc(r->a, r->ndepv, r->capdeps * sizeof(size_t),
						 cap * sizeof(size_t));
			r->capdeps = cap;
		}
		d = (long)r->ndeps++;
		r->depname[d] = name;
	}
	r->depv[d] = v;
	r->ndepv[d] = k;
}

static void note_set_target(struct jrender *r, const struct jnode *target, size_t mark)
{
	if (target->kind == J_NAME) {
		note_set(r, target->str, mark);
		return;
	}
	if (target->kind == J_NSATTR)
		return;
	for (size_t i = 0; i < target->nkids; i++)
		note_set_target(r, target->kids[i], mark);
}

static void acc_add(struct jrender *r, struct origin_acc *acc, const char *name)
{
	for (size_t i = 0; i < acc->n; i++)
		if (!strcmp(acc->vars[i], name))
			return;
	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 4;
		acc->vars = arena_realloc(r->a, acc->vars, acc->cap * sizeof(char *), cap * sizeof(char *));
		acc->cap = cap;
	}
	acc->vars[acc->n++] = name;
}

/* Attribute main-output bytes [from, to) to (tmpl, line + newlines seen) and the var sets. */
static void track_output(struct jrender *r, const struct jtemplate *tm, int line, const char *s,
			 size_t len, bool is_expr)
{
	const char *buf = r->main_out->buf + r->out_base;
	size_t start = r->main_out->len - r->out_base - len;
	for (size_t i = 0; i < len; i++) {
		size_t pos = start + i;
		bool line_start = pos == 0 || buf[pos - 1] == '\n';
		if (line_start) {
			if (r->nlines == r->caplines) {
				size_t cap = r->caplines ? r->caplines * 2 : 64;
				r->lines = arena_realloc(r->a, r->lines, r->caplines * sizeof(*r->lines),
							 cap * sizeof(*r->lines));
				r->accs = arena_realloc(r->a, r->accs, r->caplines * sizeof(*r->accs),
							cap * sizeof(*r->accs));
				r->caplines = cap;
			}
			struct jinja_origin *o = &r->lines[r->nlines];
			memset(o, 0, sizeof(*o));
			memset(&r->accs[r->nlines], 0, sizeof(r->accs[0]));
			o->template = tm->name;
			o->line = line;
			r->nlines++;
		}
		if (s[i] == '\n' && !is_expr)
			line++;
		/* the vars go to every line this text touches */
		if (line_start || i == 0) {
			struct origin_acc *acc = &r->accs[r->nlines - 1];
			for (size_t k = 0; k < r->ncondv; k++)
				acc_add(r, acc, r->condv[k]);
			if (is_expr)
				for (size_t k = 0; k < r->nreadv; k++)
					acc_add(r, acc, r->readv[k]);
		}
	}
}

size_t jr_max_memory(const struct jrender *r)
{
	return r->lim->max_memory;
}

static int check_output(struct jrender *r, const struct jnode *n)
{
	if (r->out->len > r->lim->max_output) {
		jr_error(r, n, -EFBIG, "output exceeds the limit of %zu bytes (max_output)",
			 r->lim->max_output);
		return -1;
	}
	return 0;
}

static int emit(struct jrender *r, struct frame *f, const struct jnode *n, const char *s,
		size_t len, bool is_expr)
{
	if (f->suppress || len == 0)
		return 0;
	struct strbuf *o = r->out;
	if (o->len + len < o->cap) { /* room left: no call into strbuf */
		memcpy(o->buf + o->len, s, len);
		o->len += len;
		o->buf[o->len] = '\0';
	} else {
		strbuf_add(o, s, len);
	}
	if (r->track && r->out == r->main_out)
		track_output(r, n->tmpl, n->line, s, len, is_expr);
	return check_output(r, n);
}

static void to_str(struct strbuf *sb, const struct value *v);

/* str(v) into sb, bounded by max_memory: a value built to print huge ([[0]*10**5]*10**5)
 * fails instead of filling memory */
static bool to_str_bounded(struct jrender *r, const struct jnode *n, struct strbuf *sb,
			   const struct value *v)
{
	/* printed text beyond max_output fails anyway: stop building it there */
	sb->limit = n && (n->kind == J_PRINT || n->kind == J_FILTERBLOCK || n->kind == J_CALLBLOCK) &&
			    r->lim->max_output < r->lim->max_memory
		? r->lim->max_output + 1
		: r->lim->max_memory;
	size_t limit = sb->limit;
	value_print_too_deep(); /* forget an earlier print's */
	to_str(sb, v);
	sb->limit = 0;
	if (value_print_too_deep()) {
		jr_error(r, n, -ELOOP,
			 "maximum recursion depth exceeded while getting the repr of an object "
			 "(nested deeper than %d)",
			 VALUE_MAX_DEPTH);
		return false;
	}
	if (sb->over && limit == r->lim->max_memory) {
		jr_error(r, n, -ENOMEM,
			 "the result would be larger than the render's memory limit of %zu bytes "
			 "(max_memory)",
			 r->lim->max_memory);
		return false;
	}
	if (sb->over) {
		jr_error(r, n, -EFBIG, "output exceeds the limit of %zu bytes (max_output)",
			 r->lim->max_output);
		return false;
	}
	return true;
}

/* Print a value as {{ }} does: its str(), attributed to the names the expression read. */
static int emit_value(struct jrender *r, struct frame *f, const struct jnode *n,
		      const struct value *v)
{
	if (f->suppress)
		return 0;
	struct strbuf sb = STRBUF_INIT;
	if (!to_str_bounded(r, n, &sb, v)) {
		strbuf_release(&sb);
		return -1;
	}
	if (r->track)
		r->nreadv = 0;
	int rc = emit(r, f, n, sb.buf ? sb.buf : "", sb.len, true);
	strbuf_release(&sb);
	return rc;
}


/* ---------------------------------------------------------------- scopes and names */

/* names from one template are interned (same pointer); others differ early or compare */
static inline bool name_eq(const char *a, const char *b)
{
	return a == b || (a[0] == b[0] && strcmp(a, b) == 0);
}

/* the value of a name a frame has not assigned yet (see jnode.undef); lookups turn it into
 * an Undefined, includes look past it */
static struct value jmissing = {.kind = V_UNDEFINED, .line = -9};

static void scope_set(struct jrender *r, struct jscope *s, const char *name, struct value *v);

static void bind_undef(struct jrender *r, struct jscope *s, const struct jnode *frame)
{
	for (size_t i = 0; i < frame->nundef; i++) {
		const char *name = frame->undef[i];
		bool bound = false;
		for (size_t k = 0; k < s->n && !bound; k++)
			bound = name_eq(s->names[k], name);
		if (!bound)
			scope_set(r, s, name, &jmissing);
	}
}

static struct jscope *scope_new(struct jrender *r, struct jscope *parent)
{
	struct jscope *s = arena_alloc(r->a, sizeof(*s));
	s->parent = parent;
	s->names = s->inl_names;
	s->vals = s->inl_vals;
	s->cap = 4;
	return s;
}

static void scope_set(struct jrender *r, struct jscope *s, const char *name, struct value *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (name_eq(s->names[i], name)) {
			s->vals[i] = v;
			return;
		}
	if (s->n == s->cap) {
		size_t cap = s->cap * 2;
		const char **nn = arena_alloc(r->a, cap * sizeof(char *));
		struct value **nv = arena_alloc(r->a, cap * sizeof(struct value *));
		memcpy(nn, s->names, s->n * sizeof(char *));
		memcpy(nv, s->vals, s->n * sizeof(struct value *));
		s->names = nn;
		s->vals = nv;
		s->cap = cap;
	}
	s->names[s->n] = name;
	s->vals[s->n] = v;
	s->n++;
}

static struct value *map_get_name(const struct value *m, const char *name, size_t len)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->u.map.len; i++) {
		const struct value *k = m->u.map.keys[i];
		if (k->kind == V_STRING && k->u.str.len == len && memcmp(k->u.str.s, name, len) == 0)
			return m->u.map.vals[i];
	}
	return NULL;
}

/* append a key known to be absent (no second scan with Python equality) */
static void map_append(struct jrender *r, struct value *m, struct value *key, struct value *v)
{
	if (m->u.map.len == m->u.map.cap) {
		size_t old = m->u.map.cap, cap = old ? old * 2 : 8;
		m->u.map.keys = arena_realloc(r->a, m->u.map.keys, old * sizeof(struct value *),
					      cap * sizeof(struct value *));
		m->u.map.vals = arena_realloc(r->a, m->u.map.vals, old * sizeof(struct value *),
					      cap * sizeof(struct value *));
		m->u.map.cap = cap;
	}
	m->u.map.keys[m->u.map.len] = key;
	m->u.map.vals[m->u.map.len++] = v;
}

static void map_set_name(struct jrender *r, struct value *m, const char *name, struct value *v)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < m->u.map.len; i++) {
		const struct value *k = m->u.map.keys[i];
		if (k->kind == V_STRING && k->u.str.len == len && memcmp(k->u.str.s, name, len) == 0) {
			m->u.map.vals[i] = v;
			return;
		}
	}
	map_append(r, m, value_str_nocopy(r->a, name, len), v);
}

/* dict lookup/insert: string keys compared as bytes (the common case), others as Python == */
static struct value *map_find(const struct value *m, const struct value *key)
{
	if (key->kind == V_STRING)
		return map_get_name(m, key->u.str.s, key->u.str.len);
	return value_map_get(m, key);
}

static void map_put(struct jrender *r, struct value *m, struct value *key, struct value *v)
{
	if (key->kind == V_STRING) {
		for (size_t i = 0; i < m->u.map.len; i++) {
			const struct value *k = m->u.map.keys[i];
			if (k->kind == V_STRING && k->u.str.len == key->u.str.len &&
			    memcmp(k->u.str.s, key->u.str.s, key->u.str.len) == 0) {
				m->u.map.vals[i] = v;
				return;
			}
		}
		map_append(r, m, key, v);
		return;
	}
	value_map_set(r->a, m, key, v);
}

static uint32_t name_hash(const char *s, size_t len)
{
	return jinja_name_hash(s, len);
}

/* a context's top-level variables: the V_MAP keeps their order, the hash finds them */
static struct value *ctx_var_get(const struct jctx *c, const char *name, size_t len, uint32_t h)
{
	if (!c->hcap)
		return NULL;
	size_t mask = c->hcap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t slot = c->hslots[i];
		if (!slot)
			return NULL;
		const struct value *k = c->vars->u.map.keys[slot - 1];
		if (k->u.str.len == len && memcmp(k->u.str.s, name, len) == 0)
			return c->vars->u.map.vals[slot - 1];
	}
}

static void ctx_rehash(struct jrender *r, struct jctx *c, size_t cap)
{
	c->hslots = arena_alloc(r->a, cap * sizeof(uint32_t));
	c->hcap = cap;
	for (size_t k = 0; k < c->vars->u.map.len; k++) {
		const struct value *key = c->vars->u.map.keys[k];
		size_t i = name_hash(key->u.str.s, key->u.str.len) & (cap - 1);
		while (c->hslots[i])
			i = (i + 1) & (cap - 1);
		c->hslots[i] = (uint32_t)k + 1;
	}
}

static void ctx_var_set(struct jrender *r, struct jctx *c, const char *name, uint32_t h,
			struct value *v)
{
	size_t len = strlen(name);
	if (c->hcap) {
		size_t mask = c->hcap - 1;
		for (size_t i = h & mask;; i = (i + 1) & mask) {
			uint32_t slot = c->hslots[i];
			if (!slot)
				break;
			const struct value *k = c->vars->u.map.keys[slot - 1];
			if (k->u.str.len == len && memcmp(k->u.str.s, name, len) == 0) {
				c->vars->u.map.vals[slot - 1] = v;
				return;
			}
		}
	}
	map_append(r, c->vars, value_str_nocopy(r->a, name, len), v);
	if (c->vars->u.map.len * 2 > c->hcap)
		ctx_rehash(r, c, c->hcap ? c->hcap * 2 : 128);
	else {
		size_t i = h & (c->hcap - 1);
		while (c->hslots[i])
			i = (i + 1) & (c->hcap - 1);
		c->hslots[i] = (uint32_t)c->vars->u.map.len;
	}
}

static const char *const GLOBALS[] = {"range", "dict", "namespace", "lipsum", "cycler", "joiner",
				      NULL};

static struct value *ctx_lookup(struct jrender *r, struct jctx *c, const char *name, size_t len,
				uint32_t h)
{
	for (; c; c = c->outer) {
		struct value *v = ctx_var_get(c, name, len, h);
		if (v) {
			if (r->track)
				note_read(r, name);
			return v;
		}
		for (struct jscope *s = c->outer_scope; s; s = s->parent)
			for (size_t i = s->n; i-- > 0;)
				if (s->vals[i] != &jmissing && name_eq(s->names[i], name))
					return s->vals[i];
		if (c->render) {
			v = map_get_name(c->render, name, len);
			if (v) {
				if (r->track)
					note_read(r, name);
				return v;
			}
		}
	}
	if (strchr("rdnlcj", name[0]))
		for (int i = 0; GLOBALS[i]; i++)
			if (!strcmp(GLOBALS[i], name)) {
				struct value *g = native(r, NT_GLOBAL, (void *)GLOBALS[i], "function");
				/* the classes print as Python prints them; functions show an address */
				static const char *const CLASS[] = {NULL, "<class 'dict'>",
								    "<class 'jinja2.utils.Namespace'>", NULL,
								    "<class 'jinja2.utils.Cycler'>",
								    "<class 'jinja2.utils.Joiner'>"};
				g->u.native.repr = CLASS[i];
				return g;
			}
	return NULL;
}

static struct value *lookup(struct jrender *r, struct frame *f, const char *name, size_t len,
			    uint32_t h)
{
	for (struct jscope *s = f->scope; s; s = s->parent)
		for (size_t i = s->n; i-- > 0;)
			if (name_eq(s->names[i], name)) {
				if (r->track && r->ndeps && dep_index(r, name) >= 0)
					note_read(r, name);
				return s->vals[i] == &jmissing ? undef_lazy(r, name, -1) : s->vals[i];
			}
	struct value *v = ctx_lookup(r, f->ctx, name, len, h);
	if (v)
		return v;
	if (name[0] == 's' && !strcmp(name, "self"))
		return native(r, NT_SELF, f->ctx, "TemplateReference");
	return undef_lazy(r, name, -1);
}

static void assign_h(struct jrender *r, struct frame *f, const char *name, uint32_t h,
		     struct value *v)
{
	if (f->toplevel) {
		ctx_var_set(r, f->ctx, name, h, v);
		/* the template's own frame may hold the name as not-yet-assigned */
		if (f->scope)
			for (size_t i = 0; i < f->scope->n; i++)
				if (name_eq(f->scope->names[i], name))
					f->scope->vals[i] = v;
		if (r->toplevel && f->ctx->is_root && f->tmpl == r->root)
			map_set_name(r, r->toplevel, name, v);
		return;
	}
	scope_set(r, f->scope, name, v);
}

static void assign(struct jrender *r, struct frame *f, const char *name, struct value *v)
{
	assign_h(r, f, name, name_hash(name, strlen(name)), v);
}

/* ---------------------------------------------------------------- conversions */

/* decimal digits of i into buf (at least 24 bytes); returns the length */
static size_t fmt_int(char *buf, int64_t i)
{
	char tmp[24];
	size_t n = 0;
	uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t k = 0;
	if (i < 0)
		buf[k++] = '-';
	while (n)
		buf[k++] = tmp[--n];
	buf[k] = '\0';
	return k;
}

struct value *jr_str(struct jrender *r, const struct value *v)
{
	if (v->kind == V_STRING)
		return (struct value *)v;
	if (v->kind == V_INT) {
		char buf[24];
		size_t n = fmt_int(buf, v->u.i);
		return value_str(r->a, buf, n);
	}
	if (v->kind == V_UNDEFINED)
		return value_str_nocopy(r->a, "", 0);
	struct strbuf sb = STRBUF_INIT;
	if (!to_str_bounded(r, NULL, &sb, v)) /* the render fails; callers go on with "" */
		strbuf_reset(&sb);
	struct value *s = value_str(r->a, sb.buf ? sb.buf : "", sb.len);
	strbuf_release(&sb);
	return s;
}

static void to_str(struct strbuf *sb, const struct value *v)
{
	if (v->kind == V_LIST && v->line <= VALUE_DICT_KEYS && v->line >= VALUE_DICT_ITEMS) {
		value_repr(sb, v); /* dict.keys() & co */
		return;
	}
	if (v->kind == V_LIST && v->line == -6) {
		const struct jrange *rg = (const struct jrange *)v;
		strbuf_addf(sb, "range(%lld, %lld", (long long)rg->start, (long long)rg->stop);
		if (rg->step != 1)
			strbuf_addf(sb, ", %lld", (long long)rg->step);
		strbuf_addc(sb, ')');
		return;
	}
	if (v->kind == V_NATIVE) {
		if (v->u.native.tag == NT_NAMESPACE) {
			strbuf_adds(sb, "<Namespace ");
			value_repr(sb, v->u.native.ptr);
			strbuf_addc(sb, '>');
			return;
		}
		if (v->u.native.tag == NT_MARKUP) {
			value_to_str(sb, v->u.native.ptr);
			return;
		}
		if (v->u.native.tag == NT_LOOP) { /* jinja2's LoopContext repr */
			const struct jloop *lp = v->u.native.ptr;
			strbuf_addf(sb, "<LoopContext %zu/%zu>", lp->i + 1, lp->n);
			return;
		}
	}
	value_to_str(sb, v);
}

struct value *jr_iterable(struct jrender *r, const struct jnode *n, struct value *v)
{
	switch (v->kind) {
	case V_LIST:
		if (v->line == -7) /* a generator over something that cannot be iterated */
			return jr_error(r, n, -EINVAL, "'%s' object is not iterable",
					v->u.list.len ? value_type_name(v->u.list.items[0]) : "object");
		if (v->line == -5) {
			/* a generator: this iteration consumes it */
			struct value *l = value_list(r->a);
			l->u.list.items = v->u.list.items;
			l->u.list.len = l->u.list.cap = v->u.list.len;
			v->u.list.len = 0;
			return l;
		}
		return v;
	case V_TUPLE:
		return v;
	case V_UNDEFINED:
		return value_list(r->a);
	case V_MAP: {
		struct value *l = value_list(r->a);
		l->u.list.items = v->u.map.keys;
		l->u.list.len = l->u.list.cap = v->u.map.len;
		return l;
	}
	case V_STRING: {
		struct value *l = value_list(r->a);
		size_t i = 0;
		while (i < v->u.str.len) {
			uint32_t cp;
			size_t j = jutf8_next(v->u.str.s, v->u.str.len, i, &cp);
			value_list_append(r->a, l, value_str(r->a, v->u.str.s + i, j - i));
			i = j;
		}
		return l;
	}
	case V_NATIVE:
		if (v->u.native.tag == NT_LOOP) {
			struct jloop *lp = v->u.native.ptr;
			return lp->items;
		}
		/* fallthrough */
	default:
		return jr_error(r, n, -EINVAL, "'%s' object is not iterable", value_type_name(v));
	}
}

/* ---------------------------------------------------------------- arithmetic */

static bool is_num(const struct value *v)
{
	return v->kind == V_INT || v->kind == V_FLOAT || v->kind == V_BOOL;
}

static double num_d(const struct value *v)
{
	return v->kind == V_FLOAT ? v->u.f : v->kind == V_INT ? (double)v->u.i : (double)v->u.b;
}

static int64_t num_i(const struct value *v)
{
	return v->kind == V_INT ? v->u.i : (int64_t)v->u.b;
}

static const char *op_sym(int op)
{
	static const char *const s[] = {"", "+", "-", "*", "/", "//", "%", "**", "==", "!=",
					"<", "<=", ">", ">=", "in", "not in"};
	return s[op];
}

static struct value *type_error(struct jrender *r, const struct jnode *n, int op,
				const struct value *a, const struct value *b)
{
	return jr_error(r, n, -EINVAL, "unsupported operand type(s) for %s: '%s' and '%s'",
			op_sym(op), value_type_name(a), value_type_name(b));
}

static struct value *seq_repeat(struct jrender *r, const struct jnode *n, const struct value *s,
				int64_t times)
{
	if (times < 0)
		times = 0;
	/* an empty sequence repeated stays empty: no loop ([] * 10**11 spun for minutes) */
	if (s->kind == V_STRING ? !s->u.str.len : !s->u.list.len)
		times = 0;
	if (s->kind == V_STRING) {
		if (s->u.str.len && (uint64_t)times > r->lim->max_output / s->u.str.len)
			return jr_error(r, n, -EFBIG, "string repetition exceeds max_output");
		struct strbuf sb = STRBUF_INIT;
		for (int64_t k = 0; k < times; k++)
			strbuf_add(&sb, s->u.str.s, s->u.str.len);
		struct value *v = value_str(r->a, sb.buf ? sb.buf : "", sb.len);
		strbuf_release(&sb);
		return v;
	}
	if (s->u.list.len && (uint64_t)times > r->lim->max_iterations / s->u.list.len)
		return jr_error(r, n, -EFBIG, "sequence repetition exceeds max_iterations");
	struct value *l = value_new(r->a, s->kind);
	for (int64_t k = 0; k < times; k++)
		for (size_t i = 0; i < s->u.list.len; i++)
			value_list_append(r->a, l, s->u.list.items[i]);
	return l;
}

struct value *jinja_percent_format(struct jrender *r, const struct jnode *n,
				   const struct value *fmt, struct value *args);

/* "generator" or "range" for the lists that stand for them, else NULL */
static const char *lazy_kind(const struct value *v)
{
	if (v->kind != V_LIST)
		return NULL;
	return v->line == -5 || v->line == -7 ? "generator" : v->line == -6 ? "range" : NULL;
}

static struct value *binop(struct jrender *r, const struct jnode *n, int op, struct value *a,
			   struct value *b)
{
	if (a->kind == V_UNDEFINED)
		return jr_undefined_error(r, n, a);
	/* str % Undefined formats (Undefined has __getitem__, so it passes for a mapping) */
	if (b->kind == V_UNDEFINED && !(op == OP_MOD && a->kind == V_STRING))
		return jr_undefined_error(r, n, b);
	if (is_num(a) && is_num(b)) {
		bool fl = a->kind == V_FLOAT || b->kind == V_FLOAT;
		if (!fl) {
			int64_t x = num_i(a), y = num_i(b), z;
			switch (op) {
			case OP_ADD:
				if (__builtin_add_overflow(x, y, &z))
					goto overflow;
				return value_int(r->a, z);
			case OP_SUB:
				if (__builtin_sub_overflow(x, y, &z))
					goto overflow;
				return value_int(r->a, z);
			case OP_MUL:
				if (__builtin_mul_overflow(x, y, &z))
					goto overflow;
				return value_int(r->a, z);
			case OP_DIV:
				if (y == 0)
					return jr_error(r, n, -EDOM, "division by zero");
				return value_float(r->a, (double)x / (double)y);
			case OP_FLOORDIV:
			case OP_MOD: {
				if (y == 0)
					return jr_error(r, n, -EDOM, "integer division or modulo by zero");
				if (x == INT64_MIN && y == -1)
					goto overflow;
				int64_t q = x / y, m = x % y;
				if (m != 0 && ((m < 0) != (y < 0))) {
					q--;
					m += y;
				}
				return value_int(r->a, op == OP_MOD ? m : q);
			}
			case OP_POW:
				if (y < 0) {
					if (x == 0)
						return jr_error(r, n, -EDOM,
								"0.0 cannot be raised to a negative power");
					return value_float(r->a, pow((double)x, (double)y));
				}
				{
					int64_t res = 1, base = x;
					uint64_t e = (uint64_t)y;
					while (e) {
						if (e & 1)
							if (__builtin_mul_overflow(res, base, &res))
								goto overflow;
						e >>= 1;
						if (e && __builtin_mul_overflow(base, base, &base))
							goto overflow;
					}
					return value_int(r->a, res);
				}
			}
		} else {
			double x = num_d(a), y = num_d(b);
			switch (op) {
			case OP_ADD:
				return value_float(r->a, x + y);
			case OP_SUB:
				return value_float(r->a, x - y);
			case OP_MUL:
				return value_float(r->a, x * y);
			case OP_DIV:
				if (y == 0)
					return jr_error(r, n, -EDOM, "float division by zero");
				return value_float(r->a, x / y);
			case OP_FLOORDIV:
				if (y == 0)
					return jr_error(r, n, -EDOM, "float floor division by zero");
				return value_float(r->a, floor(x / y));
			case OP_MOD: {
				if (y == 0)
					return jr_error(r, n, -EDOM, "float modulo");
				double m = fmod(x, y);
				if (m != 0 && ((m < 0) != (y < 0)))
					m += y;
				else if (m == 0)
					m = copysign(0.0, y);
				return value_float(r->a, m);
			}
			case OP_POW:
				if (x == 0 && y < 0)
					return jr_error(r, n, -EDOM, "0.0 cannot be raised to a negative power");
				if (x < 0 && y != floor(y))
					return jr_error(r, n, -EDOM, "complex results are not supported");
				{
					double p = pow(x, y);
					/* Python's float ** raises where C's pow overflows to inf */
					if (isinf(p) && isfinite(x) && isfinite(y))
						return jr_error(r, n, -ERANGE,
								"(34, 'Numerical result out of range')");
					return value_float(r->a, p);
				}
			}
		}
	}
	/* a generator (a filter's lazy result) or a range neither concatenates nor repeats */
	const char *gen_a = lazy_kind(a), *gen_b = lazy_kind(b);
	if ((op == OP_ADD || op == OP_MUL) && (gen_a || gen_b))
		return jr_error(r, n, -EINVAL, "unsupported operand type(s) for %s: '%s' and '%s'",
				op_sym(op), gen_a ? gen_a : value_type_name(a),
				gen_b ? gen_b : value_type_name(b));
	if (op == OP_ADD) {
		if (a->kind == V_STRING && b->kind == V_STRING) {
			size_t len = a->u.str.len + b->u.str.len;
			if (len > r->lim->max_memory)
				return jr_error(r, n, -ENOMEM, "string larger than max_memory");
			char *s = arena_alloc(r->a, len + 1);
			memcpy(s, a->u.str.s, a->u.str.len);
			memcpy(s + a->u.str.len, b->u.str.s, b->u.str.len);
			return value_str_nocopy(r->a, s, len);
		}
		if ((a->kind == V_LIST || a->kind == V_TUPLE) && a->kind == b->kind) {
			struct value *l = value_new(r->a, a->kind);
			for (size_t i = 0; i < a->u.list.len; i++)
				value_list_append(r->a, l, a->u.list.items[i]);
			for (size_t i = 0; i < b->u.list.len; i++)
				value_list_append(r->a, l, b->u.list.items[i]);
			return l;
		}
		if (a->kind == V_LIST && b->kind == V_TUPLE)
			return jr_error(r, n, -EINVAL, "can only concatenate list (not \"tuple\") to list");
	}
	if (op == OP_MUL) {
		bool seq_a = a->kind == V_STRING || a->kind == V_LIST || a->kind == V_TUPLE;
		bool seq_b = b->kind == V_STRING || b->kind == V_LIST || b->kind == V_TUPLE;
		if (seq_a && (b->kind == V_INT || b->kind == V_BOOL))
			return seq_repeat(r, n, a, num_i(b));
		if (seq_b && (a->kind == V_INT || a->kind == V_BOOL))
			return seq_repeat(r, n, b, num_i(a));
	}
	if (op == OP_MOD && a->kind == V_STRING)
		return jinja_percent_format(r, n, a, b);
	return type_error(r, n, op, a, b);
overflow:
	return jr_error(r, n, -ERANGE, "integer overflow in '%s' (lavafs integers are 64-bit)",
			op_sym(op));
}

struct value *jinja_binop_add(struct jrender *r, const struct jnode *n, struct value *a,
			      struct value *b);
struct value *jinja_binop_add(struct jrender *r, const struct jnode *n, struct value *a,
			      struct value *b)
{
	return binop(r, n, OP_ADD, a, b);
}

static int compare_at(struct jrender *r, const struct jnode *n, const struct value *a,
		      const struct value *b, int depth);

int jr_compare(struct jrender *r, const struct jnode *n, const struct value *a,
	       const struct value *b)
{
	return compare_at(r, n, a, b, 0);
}

/* ordering, as Python's <: two recursive lists fail at VALUE_MAX_DEPTH (RecursionError) */
static int compare_at(struct jrender *r, const struct jnode *n, const struct value *a,
		      const struct value *b, int depth)
{
	if (depth > VALUE_MAX_DEPTH) {
		jr_error(r, n, -ELOOP, "maximum recursion depth exceeded in comparison");
		return 0;
	}
	if (a->kind == V_UNDEFINED) {
		jr_undefined_error(r, n, a);
		return 0;
	}
	if (b->kind == V_UNDEFINED) {
		jr_undefined_error(r, n, b);
		return 0;
	}
	int c;
	if (value_order_scalar(a, b, &c))
		return c;
	if ((a->kind == V_LIST || a->kind == V_TUPLE) && a->kind == b->kind &&
	    (lazy_kind(a) || lazy_kind(b))) { /* ranges and generators have no order */
		jr_error(r, n, -EINVAL, "'<' not supported between instances of '%s' and '%s'",
			 lazy_kind(a) ? lazy_kind(a) : value_type_name(a),
			 lazy_kind(b) ? lazy_kind(b) : value_type_name(b));
		return 0;
	}
	if ((a->kind == V_LIST || a->kind == V_TUPLE) && a->kind == b->kind) {
		size_t m = a->u.list.len < b->u.list.len ? a->u.list.len : b->u.list.len;
		for (size_t i = 0; i < m; i++) {
			if (value_equal(a->u.list.items[i], b->u.list.items[i]))
				continue;
			return compare_at(r, n, a->u.list.items[i], b->u.list.items[i], depth + 1);
		}
		return a->u.list.len < b->u.list.len ? -1 : a->u.list.len > b->u.list.len;
	}
	jr_error(r, n, -EINVAL, "'<' not supported between instances of '%s' and '%s'",
		 value_type_name(a), value_type_name(b));
	return 0;
}

static bool str_contains(const struct value *hay, const struct value *needle)
{
	if (needle->u.str.len == 0)
		return true;
	return memmem(hay->u.str.s, hay->u.str.len, needle->u.str.s, needle->u.str.len) != NULL;
}

/* Python's `a in b`; -1 on error. */
static int contains(struct jrender *r, const struct jnode *n, struct value *a, struct value *b)
{
	switch (b->kind) {
	case V_STRING:
		if (a->kind != V_STRING) {
			jr_error(r, n, -EINVAL, "'in <string>' requires string as left operand, not %s",
				 value_type_name(a));
			return -1;
		}
		return str_contains(b, a);
	case V_LIST:
	case V_TUPLE:
		for (size_t i = 0; i < b->u.list.len; i++)
			if (value_equal(b->u.list.items[i], a))
				return 1;
		return 0;
	case V_MAP:
		if ((a->kind == V_LIST && a->line != -6) || a->kind == V_MAP) { /* a range hashes */
			jr_error(r, n, -EINVAL, "unhashable type: '%s'", value_type_name(a));
			return -1;
		}
		return map_find(b, a) != NULL;
	case V_UNDEFINED:
		return 0;
	default:
		jr_error(r, n, -EINVAL, "argument of type '%s' is not iterable", value_type_name(b));
		return -1;
	}
}

/* ---------------------------------------------------------------- attributes and items */

static const char *const DICT_METHODS[] = {"items", "keys", "values", "get", "copy", "pop",
					   "update", "setdefault", "clear", "popitem", NULL};
static const char *const LIST_METHODS[] = {"index", "count", "copy", "append", "extend",
					   "insert", "pop", "remove", "reverse", "sort", "clear",
					   NULL};
static const char *const STR_METHODS[] = {
	"upper", "lower", "strip", "lstrip", "rstrip", "split", "rsplit", "startswith",
	"endswith", "replace", "join", "format", "title", "capitalize", "count", "find", "rfind",
	"index", "rindex", "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper",
	"isdecimal", "isnumeric", "istitle", "splitlines", "center", "ljust", "rjust", "zfill",
	"partition", "rpartition", "swapcase", "casefold", "removeprefix", "removesuffix",
	"expandtabs", "encode", "isidentifier", "isprintable", "isascii", "format_map", NULL};

static bool in_list(const char *const *l, const char *name)
{
	for (size_t i = 0; l[i]; i++)
		if (l[i][0] == name[0] && !strcmp(l[i], name))
			return true;
	return false;
}

bool jr_has_method(const struct value *obj, const char *name)
{
	switch (obj->kind) {
	case V_MAP:
		return in_list(DICT_METHODS, name);
	case V_LIST:
		return in_list(LIST_METHODS, name);
	case V_TUPLE:
		return !strcmp(name, "index") || !strcmp(name, "count");
	case V_STRING:
		return in_list(STR_METHODS, name);
	default:
		return false;
	}
}

static struct value *method(struct jrender *r, struct value *obj, const char *name)
{
	struct jmethod *m = arena_alloc(r->a, sizeof(*m));
	m->self = obj;
	m->name = name;
	return native(r, NT_METHOD, m, "builtin_function_or_method");
}

static struct value *loop_attr(struct jrender *r, const struct jnode *n, struct jloop *lp,
			       const char *attr)
{
	int64_t i = (int64_t)lp->i, len = (int64_t)lp->n;
	if (!strcmp(attr, "index"))
		return value_int(r->a, i + 1);
	if (!strcmp(attr, "index0"))
		return value_int(r->a, i);
	if (!strcmp(attr, "revindex"))
		return value_int(r->a, len - i);
	if (!strcmp(attr, "revindex0"))
		return value_int(r->a, len - i - 1);
	if (!strcmp(attr, "first"))
		return jbool(i == 0);
	if (!strcmp(attr, "last"))
		return jbool(i == len - 1);
	if (!strcmp(attr, "length"))
		return value_int(r->a, len);
	if (!strcmp(attr, "depth"))
		return value_int(r->a, lp->depth0 + 1);
	if (!strcmp(attr, "depth0"))
		return value_int(r->a, lp->depth0);
	if (!strcmp(attr, "previtem"))
		return i > 0 ? lp->items->u.list.items[i - 1] : undef_named(r, "there is no previous item");
	if (!strcmp(attr, "nextitem"))
		return i + 1 < len ? lp->items->u.list.items[i + 1] : undef_named(r, "there is no next item");
	if (!strcmp(attr, "cycle") || !strcmp(attr, "changed")) {
		struct jmethod *m = arena_alloc(r->a, sizeof(*m));
		m->self = native(r, NT_LOOP, lp, "LoopContext");
		m->name = attr;
		return native(r, NT_METHOD, m, "method");
	}
	return undef_named(r, "'LoopContext object' has no attribute '%s'", attr);
}

struct value *jr_getattr(struct jrender *r, const struct jnode *n, struct value *obj,
			 const char *attr, size_t len)
{
	switch (obj->kind) {
	case V_UNDEFINED:
		return jr_undefined_error(r, n, obj);
	case V_MAP: {
		if (attr[0] == '_' && attr[1] == '_')
			return undef_named(r, "access to attribute '%s' of 'dict' object is unsafe.", attr);
		if (in_list(DICT_METHODS, attr))
			return method(r, obj, attr);
		struct value *v = map_get_name(obj, attr, len);
		return v ? v : undef_lazy(r, attr, -2);
	}
	case V_LIST:
	case V_TUPLE:
	case V_STRING:
		if (obj->kind == V_TUPLE && obj->line == -3 && obj->u.list.len == 2) {
			if (!strcmp(attr, "grouper"))
				return obj->u.list.items[0];
			if (!strcmp(attr, "list"))
				return obj->u.list.items[1];
		}
		if (jr_has_method(obj, attr))
			return method(r, obj, attr);
		return undef_named(r, "'%s object' has no attribute '%s'", value_type_name(obj), attr);
	case V_NATIVE:
		switch (obj->u.native.tag) {
		case NT_LOOP:
			return loop_attr(r, n, obj->u.native.ptr, attr);
		case NT_NAMESPACE: {
			struct value *v = map_get_name(obj->u.native.ptr, attr, len);
			return v ? v : undef_named(r, "'Namespace object' has no attribute '%s'", attr);
		}
		case NT_MODULE: {
			struct value *v = map_get_name(obj->u.native.ptr, attr, len);
			return v ? v : undef_named(r, "'module object' has no attribute '%s'", attr);
		}
		case NT_SELF: {
			struct jctx *c = obj->u.native.ptr;
			for (size_t i = 0; i < c->nblocks; i++)
				if (!strcmp(c->blocks[i].name, attr)) {
					struct jblockref *br = arena_alloc(r->a, sizeof(*br));
					br->ctx = c;
					br->name = c->blocks[i].name;
					br->index = 0;
					return native(r, NT_BLOCKREF, br, "BlockReference");
				}
			return undef_named(r, "'TemplateReference object' has no attribute '%s'", attr);
		}
		case NT_CYCLER:
			if (!strcmp(attr, "next") || !strcmp(attr, "reset"))
				return method(r, obj, attr);
			if (!strcmp(attr, "current")) {
				struct value *cy = obj->u.native.ptr; /* [items..., index] as tuple */
				size_t cnt = cy->u.list.len - 1;
				return cy->u.list.items[cy->u.list.items[cnt]->u.i % (int64_t)cnt];
			}
			break;
		case NT_MACRO: {
			struct jmacro *m = obj->u.native.ptr;
			if (!strcmp(attr, "name"))
				return value_cstr(r->a, m->name);
			break;
		}
		default:
			break;
		}
		return undef_named(r, "'%s object' has no attribute '%s'", value_type_name(obj), attr);
	case V_BOOL:
	case V_INT:
	case V_FLOAT:
		/* the numbers' plain data attributes (int.real is an int, bool's too) */
		if (!strcmp(attr, "real") || (obj->kind != V_FLOAT && !strcmp(attr, "numerator")))
			return obj->kind == V_FLOAT ? obj : value_int(r->a, obj->kind == V_BOOL ? obj->u.b : obj->u.i);
		if (!strcmp(attr, "imag"))
			return obj->kind == V_FLOAT ? value_float(r->a, 0.0) : value_int(r->a, 0);
		if (obj->kind != V_FLOAT && !strcmp(attr, "denominator"))
			return value_int(r->a, 1);
		return undef_named(r, "'%s object' has no attribute '%s'", value_type_name(obj), attr);
	default:
		return undef_named(r, "'%s object' has no attribute '%s'", value_type_name(obj), attr);
	}
}

/* Code point offsets of a string (for indexing and slicing by characters). */
static size_t *cp_offsets(struct jrender *r, const struct value *s, size_t *count)
{
	/* counted with the iterator that fills the array: on invalid UTF-8 a separate length
	 * function could disagree with it and the writes below would run past the end */
	size_t n = 0;
	for (size_t j = 0; j < s->u.str.len; n++) {
		uint32_t cp;
		j = jutf8_next(s->u.str.s, s->u.str.len, j, &cp);
	}
	size_t *off = arena_alloc(r->a, (n + 1) * sizeof(size_t));
	size_t i = 0, k = 0;
	while (i < s->u.str.len) {
		uint32_t cp;
		off[k++] = i;
		i = jutf8_next(s->u.str.s, s->u.str.len, i, &cp);
	}
	*count = k;
	off[k] = s->u.str.len;
	return off;
}

static bool slice_arg(struct jrender *r, const struct jnode *n, struct value *v, int64_t *out,
		      bool *given)
{
	*given = false;
	if (!v || v->kind == V_NONE)
		return true;
	if (v->kind != V_INT && v->kind != V_BOOL) {
		jr_error(r, n, -EINVAL, "slice indices must be integers or None");
		return false;
	}
	*out = num_i(v);
	*given = true;
	return true;
}

/* An expression of literals only, which jinja2's compiler folds to a constant. */
static bool is_literal(const struct jnode *e, int depth)
{
	if (!e || depth > 64)
		return false;
	switch (e->kind) {
	case J_CONST:
		return true;
	case J_NEG:
	case J_POS:
		return is_literal(e->a, depth + 1);
	case J_BINOP:
		return is_literal(e->a, depth + 1) && is_literal(e->b, depth + 1);
	case J_LIST:
	case J_TUPLE:
	case J_DICT:
		for (size_t i = 0; i < e->nkids; i++)
			if (!is_literal(e->kids[i], depth + 1))
				return false;
		for (size_t i = 0; i < e->nkids2; i++)
			if (!is_literal(e->kids2[i], depth + 1))
				return false;
		return true;
	default:
		return false;
	}
}

static struct value *do_slice(struct jrender *r, const struct jnode *n, struct value *obj,
			      struct value *lo, struct value *hi, struct value *st)
{
	int64_t start = 0, stop = 0, step = 1;
	bool gs, ge, gst;
	if (!slice_arg(r, n, lo, &start, &gs) || !slice_arg(r, n, hi, &stop, &ge) ||
	    !slice_arg(r, n, st, &step, &gst))
		return NULL;
	if (step == 0)
		return jr_error(r, n, -EINVAL, "slice step cannot be zero");
	size_t cnt;
	size_t *off = NULL;
	/* jinja2 writes a slice as Python's own subscript, not through the sandbox's getitem:
	 * what cannot be sliced raises. Only a literal in {{ }} is folded at compile time (to
	 * an undefined, which prints empty). */
	bool folded = is_literal(n->a, 0);
	if (obj->kind == V_LIST && (obj->line == -5 || obj->line == -7))
		return jr_error(r, n, -EINVAL, "'generator' object is not subscriptable");
	if (obj->kind == V_STRING)
		off = cp_offsets(r, obj, &cnt);
	else if (obj->kind == V_LIST || obj->kind == V_TUPLE)
		cnt = obj->u.list.len;
	else if (obj->kind == V_UNDEFINED)
		return jr_undefined_error(r, n, obj);
	else if (folded)
		return undef_named(r, "'%s' object is not subscriptable", value_type_name(obj));
	else if (obj->kind == V_MAP)
		return jr_error(r, n, -EINVAL, "unhashable type: 'slice'");
	else
		return jr_error(r, n, -EINVAL, "'%s' object is not subscriptable",
				value_type_name(obj));
	int64_t len = (int64_t)cnt;
	/* CPython's PySlice_AdjustIndices */
	if (!gs)
		start = step < 0 ? len - 1 : 0;
	else if (start < 0) {
		start += len;
		if (start < 0)
			start = step < 0 ? -1 : 0;
	} else if (start >= len)
		start = step < 0 ? len - 1 : len;
	if (!ge)
		stop = step < 0 ? -1 : len;
	else if (stop < 0) {
		stop += len;
		if (stop < 0)
			stop = step < 0 ? -1 : 0;
	} else if (stop >= len)
		stop = step < 0 ? len - 1 : len;
	if (obj->kind == V_STRING) {
		struct strbuf sb = STRBUF_INIT;
		for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
			strbuf_add(&sb, obj->u.str.s + off[i], off[i + 1] - off[i]);
		struct value *v = value_str(r->a, sb.buf ? sb.buf : "", sb.len);
		strbuf_release(&sb);
		return v;
	}
	struct value *l = value_new(r->a, obj->kind);
	for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
		value_list_append(r->a, l, obj->u.list.items[i]);
	return l;
}

struct value *jr_getitem(struct jrender *r, const struct jnode *n, struct value *obj,
			 struct value *key)
{
	switch (obj->kind) {
	case V_UNDEFINED:
		return jr_undefined_error(r, n, obj);
	case V_MAP: {
		struct value *v = map_find(obj, key);
		if (v)
			return v;
		break;
	}
	case V_LIST:
	case V_TUPLE:
	case V_STRING:
		if (obj->line == -5 && obj->kind == V_LIST)
			return undef_named(r, "'generator' object is not subscriptable");
		if (key->kind == V_INT || key->kind == V_BOOL) {
			int64_t i = num_i(key);
			size_t cnt;
			size_t *off = NULL;
			if (obj->kind == V_STRING)
				off = cp_offsets(r, obj, &cnt);
			else
				cnt = obj->u.list.len;
			if (i < 0)
				i += (int64_t)cnt;
			if (i < 0 || i >= (int64_t)cnt)
				return undef_named(r, "'%s object' has no element %lld",
						   value_type_name(obj), (long long)num_i(key));
			if (off)
				return value_str(r->a, obj->u.str.s + off[i], off[i + 1] - off[i]);
			return obj->u.list.items[i];
		}
		break;
	case V_NATIVE:
		if (obj->u.native.tag == NT_LOOP && key->kind == V_STRING)
			break;
		break;
	default:
		break;
	}
	if (key->kind == V_STRING)
		return jr_getattr(r, n, obj, key->u.str.s, key->u.str.len);
	if (obj->kind == V_MAP) {
		struct strbuf sb = STRBUF_INIT;
		value_repr(&sb, key);
		struct value *u = undef_named(r, "'dict object' has no attribute %s", strbuf_str(&sb));
		strbuf_release(&sb);
		return u;
	}
	return undef_named(r, "'%s object' has no element", value_type_name(obj));
}

/* ---------------------------------------------------------------- expressions */

static struct value *eval(struct jrender *r, struct frame *f, const struct jnode *n);
static int exec_body(struct jrender *r, struct frame *f, struct jnode *const *kids, size_t n);
static struct value *call_macro(struct jrender *r, const struct jnode *n, struct jmacro *m,
				struct value **args, size_t nargs, const char **kwn,
				struct value **kwv, size_t nkw, struct value *caller);
static struct value *render_block(struct jrender *r, const struct jnode *n, struct jctx *c,
				  const char *name, size_t index, struct jscope *scope,
				  bool capture);

bool jr_is_callable(const struct value *v)
{
	if (v->kind != V_NATIVE)
		return false;
	switch (v->u.native.tag) {
	case NT_MACRO:
	case NT_METHOD:
	case NT_GLOBAL:
	case NT_LOOP:
	case NT_BLOCKREF:
	case NT_LOOPFN:
		return true;
	default:
		return false;
	}
}

/* Evaluate call arguments, expanding *args and **kwargs. */
static bool eval_args(struct jrender *r, struct frame *f, const struct jnode *n,
		      struct value ***args, size_t *nargs, const char ***kwn, struct value ***kwv,
		      size_t *nkw)
{
	size_t extra_pos = 0, extra_kw = 0;
	struct value *star = NULL, *dstar = NULL;
	if (n->c) {
		star = eval(r, f, n->c);
		if (!star)
			return false;
		star = jr_iterable(r, n, star);
		if (!star)
			return false;
		extra_pos = star->u.list.len;
	}
	if (n->d) {
		dstar = eval(r, f, n->d);
		if (!dstar)
			return false;
		if (dstar->kind != V_MAP) {
			jr_error(r, n, -EINVAL, "argument after ** must be a mapping");
			return false;
		}
		extra_kw = dstar->u.map.len;
	}
	*nargs = n->nkids + extra_pos;
	*args = arena_alloc(r->a, (*nargs + 1) * sizeof(struct value *));
	for (size_t i = 0; i < n->nkids; i++) {
		(*args)[i] = eval(r, f, n->kids[i]);
		if (!(*args)[i])
			return false;
	}
	for (size_t i = 0; i < extra_pos; i++)
		(*args)[n->nkids + i] = star->u.list.items[i];
	*nkw = n->nkids2 + extra_kw;
	*kwn = arena_alloc(r->a, (*nkw + 1) * sizeof(char *));
	*kwv = arena_alloc(r->a, (*nkw + 1) * sizeof(struct value *));
	for (size_t i = 0; i < n->nkids2; i++) {
		(*kwn)[i] = n->names[i];
		(*kwv)[i] = eval(r, f, n->kids2[i]);
		if (!(*kwv)[i])
			return false;
	}
	for (size_t i = 0; i < extra_kw; i++) {
		struct value *k = dstar->u.map.keys[i];
		if (k->kind != V_STRING) {
			jr_error(r, n, -EINVAL, "keywords must be strings");
			return false;
		}
		(*kwn)[n->nkids2 + i] = k->u.str.s;
		(*kwv)[n->nkids2 + i] = dstar->u.map.vals[i];
	}
	return true;
}

static struct value *call_global(struct jrender *r, const struct jnode *n, const char *name,
				 struct value **args, size_t nargs, const char **kwn,
				 struct value **kwv, size_t nkw)
{
	if (!strcmp(name, "range")) {
		if (nkw)
			return jr_error(r, n, -EINVAL, "range() takes no keyword arguments");
		if (nargs < 1 || nargs > 3)
			return jr_error(r, n, -EINVAL, "range expected at most 3 arguments, got %zu", nargs);
		int64_t v[3];
		for (size_t i = 0; i < nargs; i++) {
			if (args[i]->kind == V_UNDEFINED)
				return jr_undefined_error(r, n, args[i]);
			if (args[i]->kind != V_INT && args[i]->kind != V_BOOL)
				return jr_error(r, n, -EINVAL,
						"'%s' object cannot be interpreted as an integer",
						value_type_name(args[i]));
			v[i] = num_i(args[i]);
		}
		int64_t start = nargs == 1 ? 0 : v[0], stop = nargs == 1 ? v[0] : v[1],
			step = nargs == 3 ? v[2] : 1;
		if (step == 0)
			return jr_error(r, n, -EINVAL, "range() arg 3 must not be zero");
		int64_t count = 0;
		if (step > 0 && start < stop)
			count = (stop - start - 1) / step + 1;
		else if (step < 0 && start > stop)
			count = (start - stop - 1) / (-step) + 1;
		if (count > MAX_RANGE)
			return jr_error(r, n, -EFBIG, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
		/* a list that prints as Python's range(...) */
		struct jrange *rg = arena_alloc(r->a, sizeof(*rg));
		rg->start = start;
		rg->stop = stop;
		rg->step = step;
		struct value *l = &rg->list;
		l->kind = V_LIST;
		l->line = -6;
		l->u.list.items = arena_alloc(r->a, (size_t)(count ? count : 1) * sizeof(struct value *));
		l->u.list.cap = (size_t)(count ? count : 1);
		struct value *ints = arena_alloc(r->a, (size_t)(count ? count : 1) * sizeof(struct value));
		for (int64_t i = 0; i < count; i++) {
			ints[i].kind = V_INT;
			ints[i].u.i = start + i * step;
			l->u.list.items[i] = &ints[i];
		}
		l->u.list.len = (size_t)count;
		return l;
	}
	if (!strcmp(name, "dict") || !strcmp(name, "namespace")) {
		struct value *m = value_map(r->a);
		if (nargs > 1)
			return jr_error(r, n, -EINVAL, "%s expected at most 1 argument, got %zu", name, nargs);
		if (nargs == 1) {
			struct value *src = args[0];
			if (src->kind == V_MAP) {
				for (size_t i = 0; i < src->u.map.len; i++)
					value_map_set(r->a, m, src->u.map.keys[i], src->u.map.vals[i]);
			} else {
				struct value *it = jr_iterable(r, n, src);
				if (!it)
					return NULL;
				for (size_t i = 0; i < it->u.list.len; i++) {
					struct value *p = jr_iterable(r, n, it->u.list.items[i]);
					if (!p)
						return NULL;
					if (p->u.list.len != 2)
						return jr_error(r, n, -EINVAL, "dictionary update sequence element #%zu has length %zu; 2 is required", i, p->u.list.len);
					value_map_set(r->a, m, p->u.list.items[0], p->u.list.items[1]);
				}
			}
		}
		for (size_t i = 0; i < nkw; i++)
			map_set_name(r, m, kwn[i], kwv[i]);
		if (!strcmp(name, "namespace")) {
			struct value *ns = native(r, NT_NAMESPACE, m, "Namespace");
			ns->u.native.repr = VALUE_REPR_WRAP;
			return ns;
		}
		return m;
	}
	if (!strcmp(name, "cycler")) {
		if (nargs == 0)
			return jr_error(r, n, -EINVAL, "at least one item has to be provided");
		struct value *cy = value_tuple(r->a);
		for (size_t i = 0; i < nargs; i++)
			value_list_append(r->a, cy, args[i]);
		value_list_append(r->a, cy, value_int(r->a, 0));
		return native(r, NT_CYCLER, cy, "Cycler");
	}
	if (!strcmp(name, "joiner")) {
		struct value *j = value_tuple(r->a);
		value_list_append(r->a, j, nargs ? args[0] : value_cstr(r->a, ", "));
		value_list_append(r->a, j, value_bool(r->a, false));
		struct jmethod *m = arena_alloc(r->a, sizeof(*m));
		m->self = j;
		m->name = "joiner";
		return native(r, NT_METHOD, m, "Joiner");
	}
	return jr_error(r, n, -ENOTSUP, "%s() is not supported by lavafs", name);
}

struct value *jr_call_value(struct jrender *r, const struct jnode *n, struct value *callee,
			    struct value **args, size_t nargs, const char **kwn,
			    struct value **kwv, size_t nkw)
{
	if (callee->kind == V_UNDEFINED)
		return jr_undefined_error(r, n, callee);
	if (callee->kind != V_NATIVE)
		return jr_error(r, n, -EINVAL, "'%s' object is not callable", value_type_name(callee));
	switch (callee->u.native.tag) {
	case NT_MACRO:
		return call_macro(r, n, callee->u.native.ptr, args, nargs, kwn, kwv, nkw, NULL);
	case NT_GLOBAL:
		return call_global(r, n, callee->u.native.ptr, args, nargs, kwn, kwv, nkw);
	case NT_BLOCKREF: {
		struct jblockref *br = callee->u.native.ptr;
		return render_block(r, n, br->ctx, br->name, br->index, NULL, true);
	}
	case NT_METHOD: {
		struct jmethod *m = callee->u.native.ptr;
		if (m->self->kind == V_NATIVE && m->self->u.native.tag == NT_LOOP) {
			struct jloop *lp = m->self->u.native.ptr;
			if (!strcmp(m->name, "cycle")) {
				if (!nargs)
					return jr_error(r, n, -EINVAL, "no items for cycling given");
				return args[lp->i % nargs];
			}
			struct value *t = value_tuple(r->a);
			for (size_t i = 0; i < nargs; i++)
				value_list_append(r->a, t, args[i]);
			if (lp->last_changed && value_equal(lp->last_changed, t))
				return value_bool(r->a, false);
			lp->last_changed = t;
			return value_bool(r->a, true);
		}
		if (m->self->kind == V_NATIVE && m->self->u.native.tag == NT_CYCLER) {
			struct value *cy = m->self->u.native.ptr;
			size_t cnt = cy->u.list.len - 1;
			struct value *idx = cy->u.list.items[cnt];
			if (!strcmp(m->name, "reset")) {
				idx->u.i = 0;
				return value_none(r->a);
			}
			struct value *v = cy->u.list.items[idx->u.i % (int64_t)cnt];
			idx->u.i = (idx->u.i + 1) % (int64_t)cnt;
			return v;
		}
		if (!strcmp(m->name, "joiner") && m->self->kind == V_TUPLE) {
			struct value *used = m->self->u.list.items[1];
			if (!used->u.b) {
				used->u.b = true;
				return value_cstr(r->a, "");
			}
			return m->self->u.list.items[0];
		}
		return jr_call_method(r, n, m->self, m->name, args, nargs, kwn, kwv, nkw);
	}
	case NT_LOOP:
	case NT_LOOPFN: {
		struct jloop *lp = callee->u.native.ptr;
		if (!lp->node->flag)
			return jr_error(r, n, -EINVAL, "Tried to call non recursive loop.  Maybe you forgot the 'recursive' modifier.");
		if (nargs != 1)
			return jr_error(r, n, -EINVAL, "loop() takes exactly one argument");
		extern struct value *jinja_loop_recurse(struct jrender *, struct jloop *,
							struct value *);
		return jinja_loop_recurse(r, lp, args[0]);
	}
	default:
		return jr_error(r, n, -EINVAL, "'%s' object is not callable", value_type_name(callee));
	}
}

static struct value *eval_call(struct jrender *r, struct frame *f, const struct jnode *n)
{
	/* super() inside a block renders the parent's version of the block */
	if (n->a->kind == J_NAME && !strcmp(n->a->str, "super") && f->block) {
		bool shadowed = false;
		for (struct jscope *s = f->scope; s && !shadowed; s = s->parent)
			for (size_t i = 0; i < s->n; i++)
				if (!strcmp(s->names[i], "super"))
					shadowed = true;
		if (!shadowed) {
			struct jctx *c = f->ctx;
			for (size_t i = 0; i < c->nblocks; i++)
				if (!strcmp(c->blocks[i].name, f->block)) {
					if (f->block_index + 1 >= c->blocks[i].n)
						return jr_error(r, n, -EINVAL,
								"there is no parent block called '%s'.",
								f->block);
					return render_block(r, n, c, f->block, f->block_index + 1,
							    NULL, true);
				}
		}
	}
	struct value *callee;
	if (n->a->kind == J_GETATTR) {
		struct value *obj = eval(r, f, n->a->a);
		if (!obj)
			return NULL;
		callee = jr_getattr(r, n->a, obj, n->a->str, n->a->len);
	} else {
		callee = eval(r, f, n->a);
	}
	if (!callee)
		return NULL;
	struct value **args, **kwv;
	const char **kwn;
	size_t nargs, nkw;
	if (!eval_args(r, f, n, &args, &nargs, &kwn, &kwv, &nkw))
		return NULL;
	return jr_call_value(r, n, callee, args, nargs, kwn, kwv, nkw);
}

/* Bind filter/test arguments: positional then keyword, by the function's parameter names. */
static bool bind_args(struct jrender *r, const struct jnode *n, const struct jfunc *fn,
		      struct value **slots, struct value **args, size_t nargs, const char **kwn,
		      struct value **kwv, size_t nkw)
{
	for (int i = 0; i < 6; i++)
		slots[i] = NULL;
	if ((int)nargs > fn->nparams) {
		jr_error(r, n, -EINVAL, "%s() takes at most %d argument(s) (%zu given)", fn->name,
			 fn->nparams + 1, nargs + 1);
		return false;
	}
	for (size_t i = 0; i < nargs; i++)
		slots[i] = args[i];
	for (size_t k = 0; k < nkw; k++) {
		int idx = -1;
		for (int i = 0; i < fn->nparams; i++)
			if (!strcmp(fn->params[i], kwn[k]))
				idx = i;
		if (idx < 0 && fn->varkw) {
			if (!slots[5])
				slots[5] = value_map(r->a);
			map_set_name(r, slots[5], kwn[k], kwv[k]);
			continue;
		}
		if (idx < 0) {
			jr_error(r, n, -EINVAL, "%s() got an unexpected keyword argument '%s'", fn->name,
				 kwn[k]);
			return false;
		}
		if (slots[idx]) {
			jr_error(r, n, -EINVAL, "%s() got multiple values for argument '%s'", fn->name,
				 kwn[k]);
			return false;
		}
		slots[idx] = kwv[k];
	}
	return true;
}

/* keyword arguments given as a dict with string keys, for bind_args */
static const char **kw_names(struct jrender *r, const struct value *kwargs, size_t *nkw)
{
	*nkw = kwargs ? kwargs->u.map.len : 0;
	const char **kwn = *nkw ? arena_alloc(r->a, *nkw * sizeof(*kwn)) : NULL;
	for (size_t k = 0; k < *nkw; k++)
		kwn[k] = kwargs->u.map.keys[k]->u.str.s;
	return kwn;
}

struct value *jr_apply_filter(struct jrender *r, const struct jnode *n, const char *name,
			      struct value *in, struct value **args, size_t nargs,
			      const struct value *kwargs)
{
	const struct jfunc *fn = jinja_filter_find(name);
	if (!fn)
		return jr_error(r, n, -EINVAL, "No filter named '%s'.", name);
	size_t nkw;
	const char **kwn = kw_names(r, kwargs, &nkw);
	struct value *slots[6];
	if (!bind_args(r, n, fn, slots, args, nargs, kwn, nkw ? kwargs->u.map.vals : NULL, nkw))
		return NULL;
	return fn->fn(r, n, in, slots);
}

bool jr_apply_test(struct jrender *r, const struct jnode *n, const char *name, struct value *in,
		   struct value **args, size_t nargs, const struct value *kwargs, bool *ok)
{
	*ok = false;
	const struct jfunc *fn = jinja_test_find(name);
	if (!fn) {
		jr_error(r, n, -EINVAL, "No test named '%s'.", name);
		return false;
	}
	/* keyword arguments, as select("divisibleby", num=3) passes them */
	size_t nkw;
	const char **kwn = kw_names(r, kwargs, &nkw);
	struct value *slots[6];
	if (!bind_args(r, n, fn, slots, args, nargs, kwn, nkw ? kwargs->u.map.vals : NULL, nkw))
		return false;
	struct value *v = fn->fn(r, n, in, slots);
	if (!v)
		return false;
	*ok = true;
	return value_truthy(v);
}

static struct value *eval_filter(struct jrender *r, struct frame *f, const struct jnode *n,
				 struct value *in)
{
	if (!n->fn)
		return jr_error(r, n, -EINVAL, "No %s named '%s' found.",
				n->kind == J_FILTER ? "filter" : "test", n->str);
	if (!n->c && !n->d && !n->nkids2 && n->nkids <= 6) {
		/* the common case: a few positional arguments, no allocation */
		struct value *slots[6] = {NULL};
		if ((int)n->nkids > n->fn->nparams)
			return jr_error(r, n, -EINVAL, "%s() takes at most %d argument(s) (%zu given)",
					n->fn->name, n->fn->nparams + 1, n->nkids + 1);
		for (size_t i = 0; i < n->nkids; i++)
			if (!(slots[i] = eval(r, f, n->kids[i])))
				return NULL;
		return n->fn->fn(r, n, in, slots);
	}
	struct value **args, **kwv;
	const char **kwn;
	size_t nargs, nkw;
	if (!eval_args(r, f, n, &args, &nargs, &kwn, &kwv, &nkw))
		return NULL;
	struct value *slots[6];
	if (!bind_args(r, n, n->fn, slots, args, nargs, kwn, kwv, nkw))
		return NULL;
	return n->fn->fn(r, n, in, slots);
}

static struct value *eval(struct jrender *r, struct frame *f, const struct jnode *n)
{
	switch (n->kind) {
	case J_CONST:
		return n->val;
	case J_NAME:
		return lookup(r, f, n->str, n->len, (uint32_t)n->op);
	case J_LIST:
	case J_TUPLE: {
		struct value *l = value_new(r->a, n->kind == J_LIST ? V_LIST : V_TUPLE);
		if (n->nkids) {
			l->u.list.items = arena_alloc(r->a, n->nkids * sizeof(struct value *));
			l->u.list.cap = n->nkids;
		}
		for (size_t i = 0; i < n->nkids; i++) {
			struct value *v = eval(r, f, n->kids[i]);
			if (!v)
				return NULL;
			l->u.list.items[l->u.list.len++] = v;
		}
		return l;
	}
	case J_DICT: {
		struct value *m = value_map(r->a);
		if (n->nkids) {
			m->u.map.keys = arena_alloc(r->a, n->nkids * sizeof(struct value *));
			m->u.map.vals = arena_alloc(r->a, n->nkids * sizeof(struct value *));
			m->u.map.cap = n->nkids;
		}
		for (size_t i = 0; i < n->nkids; i++) {
			struct value *k = eval(r, f, n->kids[i]);
			if (!k)
				return NULL;
			struct value *v = eval(r, f, n->kids2[i]);
			if (!v)
				return NULL;
			if (k->kind == V_LIST || k->kind == V_MAP)
				return jr_error(r, n, -EINVAL, "unhashable type: '%s'", value_type_name(k));
			map_put(r, m, k, v);
		}
		return m;
	}
	case J_BINOP: {
		struct value *a = eval(r, f, n->a);
		if (!a)
			return NULL;
		struct value *b = eval(r, f, n->b);
		if (!b)
			return NULL;
		return binop(r, n, n->op, a, b);
	}
	case J_NEG:
	case J_POS: {
		struct value *a = eval(r, f, n->a);
		if (!a)
			return NULL;
		if (a->kind == V_UNDEFINED)
			return jr_undefined_error(r, n, a);
		if (a->kind == V_FLOAT)
			return value_float(r->a, n->kind == J_NEG ? -a->u.f : a->u.f);
		if (a->kind == V_INT || a->kind == V_BOOL) {
			int64_t i = num_i(a);
			if (n->kind == J_NEG && i == INT64_MIN)
				return jr_error(r, n, -ERANGE, "integer overflow");
			return value_int(r->a, n->kind == J_NEG ? -i : i);
		}
		return jr_error(r, n, -EINVAL, "bad operand type for unary %s: '%s'",
				n->kind == J_NEG ? "-" : "+", value_type_name(a));
	}
	case J_NOT: {
		struct value *a = eval(r, f, n->a);
		if (!a)
			return NULL;
		return jbool(!jtruthy(a));
	}
	case J_AND:
	case J_OR: {
		struct value *a = eval(r, f, n->a);
		if (!a)
			return NULL;
		bool t = jtruthy(a);
		if (n->kind == J_AND ? !t : t)
			return a;
		return eval(r, f, n->b);
	}
	case J_COMPARE: {
		struct value *l = eval(r, f, n->a);
		if (!l)
			return NULL;
		for (size_t i = 0; i < n->nkids; i++) {
			struct value *rv = eval(r, f, n->kids[i]);
			if (!rv)
				return NULL;
			bool res;
			int op = n->ops[i];
			switch (op) {
			case OP_EQ:
			case OP_NE:
				value_compare_too_deep(); /* forget an earlier comparison's */
				res = value_equal(l, rv) == (op == OP_EQ);
				if (value_compare_too_deep())
					return jr_error(r, n, -ELOOP,
							"maximum recursion depth exceeded in comparison");
				break;
			case OP_IN:
			case OP_NOTIN: {
				int c = contains(r, n, l, rv);
				if (c < 0)
					return NULL;
				res = op == OP_IN ? c : !c;
				break;
			}
			default: {
				if ((l->kind == V_MAP || rv->kind == V_MAP || l->kind == V_NONE ||
				     rv->kind == V_NONE || l->kind != rv->kind) &&
				    !(is_num(l) && is_num(rv)) && l->kind != V_UNDEFINED &&
				    rv->kind != V_UNDEFINED)
					return jr_error(r, n, -EINVAL,
							"'%s' not supported between instances of '%s' and '%s'",
							op_sym(op), value_type_name(l), value_type_name(rv));
				int c = jr_compare(r, n, l, rv);
				if (r->failed)
					return NULL;
				res = op == OP_LT ? c < 0 : op == OP_LE ? c <= 0 : op == OP_GT ? c > 0 : c >= 0;
			}
			}
			if (!res)
				return jbool(false);
			l = rv;
		}
		return jbool(true);
	}
	case J_CONCAT: {
		/* strings first, then one copy into the arena */
		struct value *parts[16], **pv = parts;
		if (n->nkids > 16)
			pv = arena_alloc(r->a, n->nkids * sizeof(*pv));
		size_t total = 0;
		for (size_t i = 0; i < n->nkids; i++) {
			struct value *v = eval(r, f, n->kids[i]);
			if (!v)
				return NULL;
			if (v->kind != V_STRING) {
				if (v->kind == V_NATIVE) {
					struct strbuf sb = STRBUF_INIT;
					bool ok = to_str_bounded(r, n, &sb, v);
					v = value_str(r->a, sb.buf ? sb.buf : "", sb.len);
					strbuf_release(&sb);
					if (!ok)
						return NULL;
				} else {
					v = jr_str(r, v);
				}
			}
			pv[i] = v;
			total += v->u.str.len;
		}
		if (total > r->lim->max_memory)
			return jr_error(r, n, -ENOMEM, "string larger than max_memory");
		char *buf = arena_alloc(r->a, total + 1);
		size_t off = 0;
		for (size_t i = 0; i < n->nkids; i++) {
			memcpy(buf + off, pv[i]->u.str.s, pv[i]->u.str.len);
			off += pv[i]->u.str.len;
		}
		return value_str_nocopy(r->a, buf, total);
	}
	case J_CONDEXPR: {
		struct value *t = eval(r, f, n->a);
		if (!t)
			return NULL;
		if (jtruthy(t))
			return eval(r, f, n->b);
		if (n->c)
			return eval(r, f, n->c);
		return undef_named(r, "the inline if-expression on line %d evaluated to false and no else section was defined.", n->line);
	}
	case J_GETATTR: {
		struct value *o = eval(r, f, n->a);
		if (!o)
			return NULL;
		return jr_getattr(r, n, o, n->str, n->len);
	}
	case J_GETITEM: {
		struct value *o = eval(r, f, n->a);
		if (!o)
			return NULL;
		if (n->b->kind == J_SLICE) {
			struct value *lo = NULL, *hi = NULL, *st = NULL;
			if (n->b->a && !(lo = eval(r, f, n->b->a)))
				return NULL;
			if (n->b->b && !(hi = eval(r, f, n->b->b)))
				return NULL;
			if (n->b->c && !(st = eval(r, f, n->b->c)))
				return NULL;
			return do_slice(r, n, o, lo, hi, st);
		}
		struct value *k = eval(r, f, n->b);
		if (!k)
			return NULL;
		return jr_getitem(r, n, o, k);
	}
	case J_CALL:
		return eval_call(r, f, n);
	case J_FILTER: {
		struct value *in = eval(r, f, n->a);
		if (!in)
			return NULL;
		return eval_filter(r, f, n, in);
	}
	case J_TEST: {
		struct value *in = eval(r, f, n->a);
		if (!in)
			return NULL;
		struct value *v = eval_filter(r, f, n, in);
		if (!v)
			return NULL;
		return jbool(jtruthy(v));
	}
	default:
		return jr_error(r, n, -EINVAL, "unexpected node in expression");
	}
}

/* ---------------------------------------------------------------- statements */

static bool check_memory(struct jrender *r, const struct jnode *n);

static bool enter(struct jrender *r, const struct jnode *n)
{
	if (++r->depth > r->lim->max_depth) {
		jr_error(r, n, -ELOOP, "recursion depth exceeds the limit of %zu (max_depth)",
			 r->lim->max_depth);
		r->depth--;
		return false;
	}
	if (!check_memory(r, n)) {
		r->depth--;
		return false;
	}
	return true;
}

static void leave(struct jrender *r)
{
	r->depth--;
}

static bool check_memory(struct jrender *r, const struct jnode *n)
{
	if (arena_used(r->a) - r->mem_base > r->lim->max_memory) {
		jr_error(r, n, -ENOMEM, "the render allocated more than %zu bytes (max_memory)",
			 r->lim->max_memory);
		return false;
	}
	return true;
}

static bool count_iteration(struct jrender *r, const struct jnode *n)
{
	if (++r->iterations > r->lim->max_iterations) {
		jr_error(r, n, -EFBIG, "loop iterations exceed the limit of %zu (max_iterations)",
			 r->lim->max_iterations);
		return false;
	}
	/* every loop pass and call checks memory: that bounds quadratic string building */
	return check_memory(r, n);
}

static bool unpack(struct jrender *r, struct frame *f, const struct jnode *target,
		   struct value *v, struct jscope *into)
{
	if (target->kind == J_NAME) {
		if (into)
			scope_set(r, into, target->str, v);
		else
			assign_h(r, f, target->str, (uint32_t)target->op, v);
		return true;
	}
	if (target->kind == J_NSATTR) {
		struct value *ns = lookup(r, f, target->str, strlen(target->str),
					  name_hash(target->str, strlen(target->str)));
		if (ns->kind != V_NATIVE || ns->u.native.tag != NT_NAMESPACE) {
			jr_error(r, target, -EINVAL, "can only assign attributes to namespace objects");
			return false;
		}
		map_set_name(r, ns->u.native.ptr, target->names[0], v);
		return true;
	}
	struct value *it = jr_iterable(r, target, v);
	if (!it)
		return false;
	if (it->u.list.len != target->nkids) {
		jr_error(r, target, -EINVAL, it->u.list.len > target->nkids
						     ? "too many values to unpack (expected %zu)"
						     : "not enough values to unpack (expected %zu)",
			 target->nkids);
		return false;
	}
	for (size_t i = 0; i < target->nkids; i++)
		if (!unpack(r, f, target->kids[i], it->u.list.items[i], into))
			return false;
	return true;
}

static void cond_mark_push(struct jrender *r, size_t *mark)
{
	*mark = r->ncondv;
	for (size_t i = 0; i < r->nreadv; i++) {
		if (r->ncondv == r->capcondv) {
			size_t cap = r->capcondv ? r->capcondv * 2 : 16;
			r->condv = arena_realloc(r->a, r->condv, r->capcondv * sizeof(char *),
						 cap * sizeof(char *));
			r->capcondv = cap;
		}
		r->condv[r->ncondv++] = r->readv[i];
	}
}

static int run_for(struct jrender *r, struct frame *f, const struct jnode *n, struct value *iter,
		   int depth0);

struct value *jinja_loop_recurse(struct jrender *r, struct jloop *lp, struct value *iter)
{
	struct strbuf buf = STRBUF_INIT, *saved = r->out;
	r->out = &buf;
	r->capture++;
	int rc = enter(r, lp->node) ? run_for(r, lp->frame, lp->node, iter, lp->depth0 + 1) : -1;
	if (rc == 0)
		leave(r);
	r->capture--;
	r->out = saved;
	struct value *v = rc ? NULL : value_str(r->a, buf.buf ? buf.buf : "", buf.len);
	strbuf_release(&buf);
	return v;
}

static int run_for(struct jrender *r, struct frame *f, const struct jnode *n, struct value *iter,
		   int depth0)
{
	struct value *seq = jr_iterable(r, n, iter);
	if (!seq)
		return -1;
	if (n->c) {
		/* {% for x in y if cond %}: filter first, loop.length counts what is left */
		struct value *kept = value_list(r->a);
		struct jscope *cs = scope_new(r, f->scope);
		struct frame cf = *f;
		cf.scope = cs;
		cf.toplevel = false;
		for (size_t i = 0; i < seq->u.list.len; i++) {
			if (!count_iteration(r, n))
				return -1;
			cs->n = 0;
			if (!unpack(r, &cf, n->a, seq->u.list.items[i], cs))
				return -1;
			struct value *t = eval(r, &cf, n->c);
			if (!t)
				return -1;
			if (jtruthy(t))
				value_list_append(r->a, kept, seq->u.list.items[i]);
		}
		seq = kept;
	}
	struct jloop *lp = arena_alloc(r->a, sizeof(*lp));
	lp->items = seq;
	lp->n = seq->u.list.len;
	lp->depth0 = depth0;
	lp->node = n;
	lp->frame = f;
	struct value *loopv = native(r, NT_LOOP, lp, "LoopContext");
	struct frame bf = *f;
	bf.toplevel = false;
	bf.loop = lp;
	for (size_t i = 0; i < lp->n; i++) {
		if (!count_iteration(r, n))
			return -1;
		lp->i = i;
		struct jscope *s = scope_new(r, f->scope);
		bf.scope = s;
		if (!unpack(r, &bf, n->a, seq->u.list.items[i], s))
			return -1;
		scope_set(r, s, "loop", loopv);
		bind_undef(r, s, n);
		if (exec_body(r, &bf, n->kids, n->nkids))
			return -1;
	}
	if (lp->n == 0 && n->flag2) {
		/* jinja2 runs the else body in an inner frame: what it sets stays there */
		struct frame ef = *f;
		ef.scope = scope_new(r, f->scope);
		ef.toplevel = false;
		if (n->else_frame)
			bind_undef(r, ef.scope, n->else_frame);
		if (exec_body(r, &ef, n->kids2, n->nkids2))
			return -1;
	}
	return 0;
}

/* Runs kids into a string. gated: text and {{ }} stay dropped, as after {% extends %}
 * (a filter block's body); a set block or a macro body captures everything. */
static struct value *capture_body(struct jrender *r, struct frame *f, const struct jnode *n,
				  struct jnode *const *kids, size_t nkids, bool gated)
{
	struct strbuf buf = STRBUF_INIT, *saved = r->out;
	r->out = &buf;
	r->capture++;
	struct frame cf = *f;
	cf.suppress = gated;
	int rc = exec_body(r, &cf, kids, nkids);
	r->capture--;
	r->out = saved;
	struct value *v = rc ? NULL : value_str(r->a, buf.buf ? buf.buf : "", buf.len);
	strbuf_release(&buf);
	return v;
}

static int ctx_add_blocks(struct jrender *r, struct jctx *c, const struct jtemplate *t)
{
	for (size_t k = 0; k < t->nblocks; k++) {
		const struct jnode *b = t->blocks[k];
		struct blockchain *bc = NULL;
		for (size_t i = 0; i < c->nblocks; i++)
			if (!strcmp(c->blocks[i].name, b->str))
				bc = &c->blocks[i];
		if (!bc) {
			if (c->nblocks == c->capblocks) {
				size_t cap = c->capblocks ? c->capblocks * 2 : 16;
				c->blocks = arena_realloc(r->a, c->blocks, c->capblocks * sizeof(*c->blocks),
							  cap * sizeof(*c->blocks));
				c->capblocks = cap;
			}
			bc = &c->blocks[c->nblocks++];
			memset(bc, 0, sizeof(*bc));
			bc->name = b->str;
		}
		if (bc->n == bc->cap) {
			size_t cap = bc->cap ? bc->cap * 2 : 2;
			bc->v = arena_realloc(r->a, bc->v, bc->cap * sizeof(*bc->v), cap * sizeof(*bc->v));
			bc->cap = cap;
		}
		bc->v[bc->n++] = b;
	}
	return 0;
}

static struct jctx *ctx_new(struct jrender *r, const struct jtemplate *t)
{
	struct jctx *c = arena_alloc(r->a, sizeof(*c));
	c->vars = value_map(r->a);
	c->root = t;
	ctx_add_blocks(r, c, t);
	return c;
}

static struct value *render_block(struct jrender *r, const struct jnode *n, struct jctx *c,
				  const char *name, size_t index, struct jscope *scope, bool capture)
{
	struct blockchain *bc = NULL;
	for (size_t i = 0; i < c->nblocks; i++)
		if (!strcmp(c->blocks[i].name, name))
			bc = &c->blocks[i];
	if (!bc || index >= bc->n)
		return jr_error(r, n, -EINVAL, "no block named '%s'", name);
	const struct jnode *b = bc->v[index];
	if (b->flag2 && index == 0 && bc->n > 0) {
		/* a required block must be overridden by a template below it */
		bool overridden = false;
		(void)overridden;
		if (bc->n == 1 || bc->v[0] == b)
			if (bc->n == 1)
				return jr_error(r, b, -EINVAL, "Required block '%s' not found.", name);
	}
	if (!enter(r, n))
		return NULL;
	struct frame bf = {.ctx = c,
			   .scope = scope_new(r, b->flag ? scope : NULL),
			   .toplevel = false,
			   .tmpl = b->tmpl,
			   .block = b->str,
			   .block_index = index};
	bind_undef(r, bf.scope, b);
	struct value *res;
	if (capture) {
		res = capture_body(r, &bf, b, b->kids, b->nkids, false);
	} else {
		res = exec_body(r, &bf, b->kids, b->nkids) ? NULL : value_none(r->a);
	}
	leave(r);
	return res;
}

static int load_template(struct jrender *r, const struct jnode *n, const char *name,
			 const struct jtemplate **out)
{
	struct lf_error e;
	lf_error_clear(&e);
	int rc = jinja_env_load(r->env, name, out, &e);
	if (rc) {
		if (rc == -ENOENT) {
			/* report at the statement that asked for it */
			jr_error(r, n, rc, "%s", e.msg);
		} else {
			r->failed = true;
			if (r->err)
				*r->err = e;
		}
		return rc;
	}
	for (size_t i = 0; i < r->nloaded; i++)
		if (r->loaded[i] == *out) {
			jinja_env_release(r->env, *out);
			return 0;
		}
	if (r->nloaded == r->caploaded) {
		size_t cap = r->caploaded ? r->caploaded * 2 : 8;
		r->loaded = realloc(r->loaded, cap * sizeof(*r->loaded));
		if (!r->loaded)
			abort();
		r->caploaded = cap;
	}
	r->loaded[r->nloaded++] = *out;
	return 0;
}

/* Evaluate an include/import/extends target: a name or a list of names (first found). */
/* The template a statement names. extends, import and from take a name, as jinja2's
 * get_template does; include (select) also takes a list, tuple or dict of names and loads
 * the first that exists, as select_template does: undefined items are skipped, an empty or
 * false value finds nothing, anything else that is not a string is an error. With
 * ignore_missing, finding nothing is no error and *out stays NULL. */
static int load_target(struct jrender *r, struct frame *f, const struct jnode *n,
		       const struct jnode *expr, bool ignore_missing, bool select,
		       const struct jtemplate **out)
{
	struct value *v = eval(r, f, expr);
	if (!v)
		return -1;
	*out = NULL;
	if (v->kind == V_UNDEFINED) {
		jr_undefined_error(r, n, v);
		return -1;
	}
	if (v->kind == V_STRING) {
		if (strlen(v->u.str.s) != v->u.str.len) {
			jr_error(r, n, -EINVAL, "embedded null byte");
			return -1;
		}
		if (ignore_missing) {
			struct lf_error e;
			const struct jtemplate *t;
			int rc = jinja_env_load(r->env, v->u.str.s, &t, &e);
			if (rc == -ENOENT)
				return 0;
			if (rc == 0)
				jinja_env_release(r->env, t);
		}
		return load_template(r, n, v->u.str.s, out) ? -1 : 0;
	}
	if (!select || (v->kind != V_LIST && v->kind != V_TUPLE && v->kind != V_MAP &&
			jtruthy(v))) {
		if (select)
			jr_error(r, n, -EINVAL, "'%s' object is not iterable", value_type_name(v));
		else
			jr_error(r, n, -EINVAL, "template name must be a string, not '%s'",
				 value_type_name(v));
		return -1;
	}
	size_t len = v->kind == V_MAP ? v->u.map.len : jtruthy(v) ? v->u.list.len : 0;
	for (size_t i = 0; i < len; i++) {
		struct value *s = v->kind == V_MAP ? v->u.map.keys[i] : v->u.list.items[i];
		if (s->kind == V_UNDEFINED)
			continue;
		if (s->kind != V_STRING) {
			jr_error(r, n, -EINVAL, "template name must be a string, not '%s'",
				 value_type_name(s));
			return -1;
		}
		if (strlen(s->u.str.s) != s->u.str.len) {
			jr_error(r, n, -EINVAL, "embedded null byte");
			return -1;
		}
		struct lf_error e;
		const struct jtemplate *t;
		int rc = jinja_env_load(r->env, s->u.str.s, &t, &e);
		if (rc == 0) {
			jinja_env_release(r->env, t);
			return load_template(r, n, s->u.str.s, out);
		}
		if (rc != -ENOENT) {
			r->failed = true;
			if (r->err)
				*r->err = e;
			return rc;
		}
	}
	if (ignore_missing)
		return 0;
	if (!len) {
		jr_error(r, n, -ENOENT, "tried to select from an empty list of templates");
		return -1;
	}
	struct strbuf sb = STRBUF_INIT;
	value_repr(&sb, v);
	jr_error(r, n, -ENOENT, "none of the templates given were found: %s", strbuf_str(&sb));
	strbuf_release(&sb);
	return -1;
}

static int run_template(struct jrender *r, struct jctx *c, const struct jtemplate *t,
			const struct jnode *n, bool suppress);

static struct value *make_module(struct jrender *r, struct frame *f, const struct jnode *n,
				 const struct jtemplate *t, bool with_context)
{
	struct jctx *c = ctx_new(r, t);
	if (with_context) {
		c->outer = f->ctx;
		c->outer_scope = f->scope;
	}
	if (!enter(r, n))
		return NULL;
	int rc = run_template(r, c, t, n, true);
	leave(r);
	if (rc)
		return NULL;
	/* a module exports its top-level names, except those starting with an underscore */
	struct value *exports = value_map(r->a);
	for (size_t i = 0; i < c->vars->u.map.len; i++)
		if (c->vars->u.map.keys[i]->u.str.s[0] != '_')
			map_append(r, exports, c->vars->u.map.keys[i], c->vars->u.map.vals[i]);
	return native(r, NT_MODULE, exports, "module");
}

/* The filters whose result jinja2 marks safe (Markup) whatever the autoescape setting. */
bool jr_markup_filter(const char *name)
{
	return !strcmp(name, "safe") || !strcmp(name, "e") || !strcmp(name, "escape") ||
	       !strcmp(name, "forceescape") || !strcmp(name, "tojson");
}

/* Values jinja2 marks safe (Markup): escaping them again would double-escape. */
static bool is_markup_expr(const struct jnode *e)
{
	return e->kind == J_CALL || (e->kind == J_FILTER && jr_markup_filter(e->str));
}

static int exec_stmt(struct jrender *r, struct frame *f, const struct jnode *n)
{
	r->stmt = n;
	switch (n->kind) {
	case J_DATA:
		if (r->track)
			r->nreadv = 0;
		return emit(r, f, n, n->str, n->len, false);
	case J_PRINT: {
		/* after {% extends %} jinja2 does not even evaluate what would be printed */
		if (f->suppress)
			return 0;
		if (r->track)
			r->nreadv = 0;
		struct value *v = eval(r, f, n->a);
		if (!v)
			return -1;
		if (f->suppress)
			return 0;
		if (!f->autoescape) {
			if (v->kind == V_STRING)
				return emit(r, f, n, v->u.str.s, v->u.str.len, true);
			if (v->kind == V_INT) {
				char buf[24];
				size_t len = fmt_int(buf, v->u.i);
				return emit(r, f, n, buf, len, true);
			}
			if (v->kind == V_UNDEFINED)
				return 0;
		}
		struct strbuf sb = STRBUF_INIT;
		if (!to_str_bounded(r, n, &sb, v)) {
			strbuf_release(&sb);
			return -1;
		}
		if (f->autoescape && !is_markup_expr(n->a)) {
			struct strbuf esc = STRBUF_INIT;
			jinja_html_escape(&esc, sb.buf ? sb.buf : "", sb.len);
			strbuf_release(&sb);
			sb = esc;
		}
		int rc = emit(r, f, n, sb.buf ? sb.buf : "", sb.len, true);
		strbuf_release(&sb);
		return rc;
	}
	case J_IF: {
		if (r->track)
			r->nreadv = 0;
		struct value *t = eval(r, f, n->a);
		if (!t)
			return -1;
		size_t mark = 0;
		if (r->track)
			cond_mark_push(r, &mark);
		/* an elif is an if alone in the else branch: the same thing */
		int rc = jtruthy(t) ? exec_body(r, f, n->kids, n->nkids)
					 : exec_body(r, f, n->kids2, n->nkids2);
		if (r->track)
			r->ncondv = mark;
		return rc;
	}
	case J_FOR: {
		if (r->track)
			r->nreadv = 0;
		struct value *it = eval(r, f, n->b);
		if (!it)
			return -1;
		size_t mark = 0;
		if (r->track)
			cond_mark_push(r, &mark);
		int rc = run_for(r, f, n, it, 0);
		if (r->track)
			r->ncondv = mark;
		return rc;
	}
	case J_SET: {
		size_t mark = r->nreadv;
		struct value *v = eval(r, f, n->b);
		if (!v)
			return -1;
		if (r->track) {
			note_set_target(r, n->a, mark);
			r->nreadv = mark;
		}
		return unpack(r, f, n->a, v, NULL) ? 0 : -1;
	}
	case J_SETBLOCK: {
		struct frame cf = *f;
		cf.scope = scope_new(r, f->scope);
		cf.toplevel = false;
		bind_undef(r, cf.scope, n);
		struct value *v = capture_body(r, &cf, n, n->kids, n->nkids, false);
		if (!v)
			return -1;
		if (n->b) {
			/* apply the filter chain: innermost J_FILTER has a == NULL */
			const struct jnode *chain[32];
			size_t k = 0;
			for (const struct jnode *fl = n->b; fl && k < 32; fl = fl->a)
				chain[k++] = fl;
			while (k-- > 0) {
				v = eval_filter(r, f, chain[k], v);
				if (!v)
					return -1;
			}
		}
		return unpack(r, f, n->a, v, NULL) ? 0 : -1;
	}
	case J_FILTERBLOCK: {
		/* after {% extends %} the body's own text is gated (an include in it is not),
		 * the filtered result is written regardless, as jinja2 does */
		struct frame cf = *f;
		cf.scope = scope_new(r, f->scope);
		cf.toplevel = false;
		bind_undef(r, cf.scope, n);
		struct value *v = capture_body(r, &cf, n, n->kids, n->nkids, f->suppress);
		if (!v)
			return -1;
		const struct jnode *chain[32];
		size_t k = 0;
		for (const struct jnode *fl = n->a; fl && k < 32; fl = fl->a)
			chain[k++] = fl;
		while (k-- > 0) {
			v = eval_filter(r, f, chain[k], v);
			if (!v)
				return -1;
		}
		struct frame wf = *f;
		wf.suppress = false;
		return emit_value(r, &wf, n, v);
	}
	case J_BLOCK: {
		/* a block at the top level (in an if too) is the parent's to place; in a for or
		 * with, jinja2 writes it where it stands */
		if (f->suppress && f->toplevel)
			return 0;
		struct value *v = render_block(r, n, f->ctx, n->str, 0, f->scope, false);
		return v ? 0 : -1;
	}
	case J_EXTENDS: {
		if (!f->parent) {
			jr_error(r, n, -EINVAL, "extends is only allowed at the top level of a template");
			return -1;
		}
		if (*f->parent) {
			jr_error(r, n, -EINVAL, "extended multiple times");
			return -1;
		}
		const struct jtemplate *t;
		if (load_target(r, f, n, n->a, false, false, &t))
			return -1;
		ctx_add_blocks(r, f->ctx, t);
		*f->parent = t;
		f->suppress = true;
		return 0;
	}
	case J_INCLUDE: {
		const struct jtemplate *t;
		if (load_target(r, f, n, n->a, n->flag2, true, &t))
			return -1;
		if (!t)
			return 0;
		struct jctx *c = ctx_new(r, t);
		if (n->flag) {
			c->outer = f->ctx;
			c->outer_scope = f->scope;
		}
		if (!enter(r, n))
			return -1;
		/* jinja2 gates only text, {{ }} and top-level blocks after {% extends %}: an
		 * include's output is written even there */
		int rc = run_template(r, c, t, n, false);
		leave(r);
		return rc;
	}
	case J_IMPORT: {
		const struct jtemplate *t;
		if (load_target(r, f, n, n->a, false, false, &t))
			return -1;
		struct value *m = make_module(r, f, n, t, n->flag);
		if (!m)
			return -1;
		assign(r, f, n->str, m);
		return 0;
	}
	case J_FROMIMPORT: {
		const struct jtemplate *t;
		if (load_target(r, f, n, n->a, false, false, &t))
			return -1;
		struct value *m = make_module(r, f, n, t, n->flag);
		if (!m)
			return -1;
		for (size_t i = 0; i < n->nnames; i++) {
			struct value *v = map_get_name(m->u.native.ptr, n->names[i], strlen(n->names[i]));
			if (!v) /* jinja2 binds an undefined that says why when it is used */
				v = undef_named(r,
						"the template '%s' (imported on line %d) does not export "
						"the requested name '%s'",
						t->name, n->line, n->names[i]);
			assign(r, f, n->names2[i], v);
		}
		return 0;
	}
	case J_MACRO: {
		struct jmacro *m = arena_alloc(r->a, sizeof(*m));
		m->node = n;
		m->ctx = f->ctx;
		m->scope = f->scope;
		m->tmpl = f->tmpl;
		m->name = n->str;
		struct value *v = native(r, NT_MACRO, m, "Macro");
		v->u.native.repr = arena_printf(r->a, "<Macro '%s'>", n->str);
		assign(r, f, n->str, v);
		return 0;
	}
	case J_CALLBLOCK: {
		struct jmacro *caller = arena_alloc(r->a, sizeof(*caller));
		caller->node = n;
		caller->ctx = f->ctx;
		caller->scope = f->scope;
		caller->tmpl = f->tmpl;
		caller->name = "caller";
		struct value *cv = native(r, NT_MACRO, caller, "Macro");
		cv->u.native.repr = "<Macro anonymous>";
		const struct jnode *call = n->a;
		struct value *callee;
		if (call->a->kind == J_GETATTR) {
			struct value *obj = eval(r, f, call->a->a);
			if (!obj)
				return -1;
			callee = jr_getattr(r, call->a, obj, call->a->str, call->a->len);
		} else {
			callee = eval(r, f, call->a);
		}
		if (!callee)
			return -1;
		struct value **args, **kwv;
		const char **kwn;
		size_t nargs, nkw;
		if (!eval_args(r, f, call, &args, &nargs, &kwn, &kwv, &nkw))
			return -1;
		struct value *v;
		if (callee->kind == V_NATIVE && callee->u.native.tag == NT_MACRO)
			v = call_macro(r, call, callee->u.native.ptr, args, nargs, kwn, kwv, nkw, cv);
		else
			v = jr_call_value(r, call, callee, args, nargs, kwn, kwv, nkw);
		if (!v)
			return -1;
		struct frame wf = *f; /* a call block's result is written even after extends */
		wf.suppress = false;
		return emit_value(r, &wf, n, v);
	}
	case J_WITH: {
		struct frame wf = *f;
		wf.scope = scope_new(r, f->scope);
		wf.toplevel = false;
		bind_undef(r, wf.scope, n);
		/* every value is computed in the outer scope before any target is bound */
		struct value **vals = arena_alloc(r->a, (n->nkids2 + 1) * sizeof(*vals));
		for (size_t i = 0; i < n->nkids2; i++)
			if (!(vals[i] = eval(r, f, n->c->kids[i])))
				return -1;
		for (size_t i = 0; i < n->nkids2; i++)
			if (!unpack(r, &wf, n->kids2[i], vals[i], wf.scope))
				return -1;
		return exec_body(r, &wf, n->kids, n->nkids);
	}
	case J_SCOPE: {
		struct frame af = *f;
		if (n->a) {
			struct value *on = eval(r, f, n->a);
			if (!on)
				return -1;
			af.autoescape = value_truthy(on);
		}
		int rc = exec_body(r, &af, n->kids, n->nkids);
		f->suppress = af.suppress;
		return rc;
	}
	default:
		jr_error(r, n, -EINVAL, "unexpected node in statement list");
		return -1;
	}
}

static int exec_body(struct jrender *r, struct frame *f, struct jnode *const *kids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (exec_stmt(r, f, kids[i]))
			return -1;
	return 0;
}

static bool body_uses(const struct jnode *n, const char *name, int depth)
{
	if (!n || depth > 200)
		return false;
	if (n->kind == J_NAME && !strcmp(n->str, name))
		return true;
	if (depth > 0 && (n->kind == J_MACRO || n->kind == J_CALLBLOCK))
		return false;
	if (body_uses(n->a, name, depth + 1) || body_uses(n->b, name, depth + 1) ||
	    body_uses(n->c, name, depth + 1) || body_uses(n->d, name, depth + 1))
		return true;
	for (size_t i = 0; i < n->nkids; i++)
		if (body_uses(n->kids[i], name, depth + 1))
			return true;
	for (size_t i = 0; i < n->nkids2; i++)
		if (body_uses(n->kids2[i], name, depth + 1))
			return true;
	return false;
}

static struct value *call_macro(struct jrender *r, const struct jnode *n, struct jmacro *m,
				struct value **args, size_t nargs, const char **kwn,
				struct value **kwv, size_t nkw, struct value *caller)
{
	const struct jnode *mn = m->node;
	/* the macro's body decides whether it takes extra arguments, as jinja2 does */
	bool wants_varargs = false, wants_kwargs = false, wants_caller = false;
	for (size_t i = 0; i < mn->nkids && !(wants_varargs && wants_kwargs && wants_caller); i++) {
		if (!wants_varargs)
			wants_varargs = body_uses(mn->kids[i], "varargs", 1);
		if (!wants_kwargs)
			wants_kwargs = body_uses(mn->kids[i], "kwargs", 1);
		if (!wants_caller)
			wants_caller = body_uses(mn->kids[i], "caller", 1);
	}
	bool named_caller = false; /* {% macro m(caller) %} takes it as a parameter */
	for (size_t i = 0; i < mn->nnames; i++)
		named_caller |= !strcmp(mn->names[i], "caller");
	if (nargs > mn->nnames && !wants_varargs)
		return jr_error(r, n, -EINVAL, "macro '%s' takes not more than %zu argument(s)", m->name,
				mn->nnames);
	if (!enter(r, n))
		return NULL;
	struct jscope *s = scope_new(r, m->scope);
	struct frame mf = {.ctx = m->ctx, .scope = s, .toplevel = false, .tmpl = m->tmpl};
	struct value *extra_kw = value_map(r->a);
	for (size_t k = 0; k < nkw; k++) {
		bool found = false;
		for (size_t i = 0; i < mn->nnames; i++)
			if (!strcmp(mn->names[i], kwn[k])) {
				if (i < nargs) {
					leave(r);
					return jr_error(r, n, -EINVAL, "macro '%s' got multiple values for argument '%s'", m->name, kwn[k]);
				}
				found = true;
			}
		if (!found) {
			if (!strcmp(kwn[k], "caller") && wants_caller) {
				caller = kwv[k];
				continue;
			}
			if (!wants_kwargs) {
				leave(r);
				return jr_error(r, n, -EINVAL, "macro '%s' takes no keyword argument '%s'",
						m->name, kwn[k]);
			}
			map_set_name(r, extra_kw, kwn[k], kwv[k]);
		}
	}
	for (size_t i = 0; i < mn->nnames; i++) {
		struct value *v = NULL;
		if (i < nargs)
			v = args[i];
		for (size_t k = 0; !v && k < nkw; k++)
			if (!strcmp(mn->names[i], kwn[k]))
				v = kwv[k];
		if (!v && caller && !strcmp(mn->names[i], "caller"))
			v = caller;
		if (!v && mn->kids2[i]) {
			v = eval(r, &mf, mn->kids2[i]);
			if (!v) {
				leave(r);
				return NULL;
			}
		}
		if (!v)
			v = undef_named(r, "parameter '%s' was not provided", mn->names[i]);
		scope_set(r, s, mn->names[i], v);
	}
	if (wants_varargs) {
		struct value *va = value_tuple(r->a);
		for (size_t i = mn->nnames; i < nargs; i++)
			value_list_append(r->a, va, args[i]);
		scope_set(r, s, "varargs", va);
	}
	if (caller && !wants_caller && !named_caller) {
		/* {% call %} passes caller=: a macro that neither uses caller nor takes kwargs
		 * refuses it, as jinja2's Macro does */
		if (!wants_kwargs) {
			leave(r);
			return jr_error(r, n, -EINVAL,
					"macro '%s' was invoked with two values for the special caller "
					"argument. This is most likely a bug.",
					m->name);
		}
		map_set_name(r, extra_kw, "caller", caller);
		caller = NULL;
	}
	if (wants_kwargs)
		scope_set(r, s, "kwargs", extra_kw);
	if ((wants_caller && !named_caller) || caller)
		scope_set(r, s, "caller",
			  caller ? caller : undef_named(r, "No caller defined"));
	bind_undef(r, s, mn);
	struct value *res = capture_body(r, &mf, mn, mn->kids, mn->nkids, false);
	leave(r);
	return res;
}

/* Run a template's top level in context c; then its parent's, if it extends one. */
static int run_template(struct jrender *r, struct jctx *c, const struct jtemplate *t,
			const struct jnode *n, bool suppress)
{
	const struct jtemplate *cur = t;
	size_t chain = 0;
	for (;;) {
		const struct jtemplate *parent = NULL;
		struct frame f = {.ctx = c, .toplevel = true, .tmpl = cur, .suppress = suppress,
				  .parent = &parent};
		if (cur->body->nundef) {
			f.scope = scope_new(r, NULL);
			bind_undef(r, f.scope, cur->body);
		}
		if (exec_body(r, &f, cur->body->kids, cur->body->nkids))
			return -1;
		if (!parent)
			return 0;
		if (++chain > r->lim->max_depth) {
			jr_error(r, n ? n : cur->body, -ELOOP,
				 "template inheritance deeper than %zu (max_depth): extends cycle?",
				 r->lim->max_depth);
			return -1;
		}
		cur = parent;
	}
}

int jinja_eval_render(struct jinja_env *env, const struct jtemplate *root,
		      const struct value *context, struct strbuf *out, struct arena *a,
		      struct jinja_render_info *info, struct lf_error *err)
{
	struct jrender r = {.env = env, .a = a, .err = err, .out = out, .main_out = out,
			    .out_base = out->len, .lim = jinja_env_limits(env), .root = root,
			    .track = info != NULL};
	r.mem_base = arena_used(a);
	if (info) {
		memset(info, 0, sizeof(*info));
		r.toplevel = value_map(a);
	}
	struct jctx *c = ctx_new(&r, root);
	c->render = context && context->kind == V_MAP ? context : NULL;
	c->is_root = true;
	int rc = run_template(&r, c, root, NULL, false);
	if (rc == 0 && r.failed)
		rc = -1;
	if (rc)
		rc = err && err->code ? err->code : -EINVAL;
	if (info && rc == 0) {
		info->lines = r.lines;
		info->nlines = r.nlines;
		/* The info outlives the templates (a source template is freed right after the
		 * render, cached ones may be evicted): copy every name and value into `a`. */
		for (size_t i = 0; i < r.nlines; i++) {
			r.lines[i].template = r.lines[i].template ?
						      arena_strdup(a, r.lines[i].template) : NULL;
			r.lines[i].nvars = r.accs[i].n;
			r.lines[i].vars = arena_alloc(a, (r.accs[i].n + 1) * sizeof(char *));
			for (size_t k = 0; k < r.accs[i].n; k++)
				r.lines[i].vars[k] = arena_strdup(a, r.accs[i].vars[k]);
		}
		info->toplevel = r.toplevel ? value_clone(a, r.toplevel) : NULL;
		info->nloaded = r.nloaded + 1;
		info->loaded = arena_alloc(a, info->nloaded * sizeof(char *));
		info->loaded[0] = arena_strdup(a, root->name);
		for (size_t i = 0; i < r.nloaded; i++)
			info->loaded[i + 1] = arena_strdup(a, r.loaded[i]->name);
	}
	for (size_t i = 0; i < r.nloaded; i++)
		jinja_env_release(env, r.loaded[i]);
	free(r.loaded);
	return rc;
}
