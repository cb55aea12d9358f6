/* jinja_parse: tokens to an immutable syntax tree, with jinja2's grammar and precedence
 * (filters bind tighter than unary minus's operand, `is` tests sit with filters, `**` is
 * left-associative). Unknown filters and tests fail here, except inside if/conditional
 * expressions where jinja2 defers the error to when they run. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jinja_internal.h"

/* deeper input is refused: recursion in the parser and evaluator follows the tree */
#define MAX_NESTING 400

struct parser {
	struct arena *a;
	const char *name;
	struct jtok *t;
	size_t i, n;
	struct lf_error *err;
	struct jtemplate *tmpl;
	int soft;
	int depth; /* nesting of expressions and statements: deep input must not exhaust the stack */
	bool failed;
	struct jnode **blocks;
	size_t nblocks, capblocks;
	int in_macro;
	/* unknown filters/tests outside soft frames: reported when parsing ends, unless a
	 * conditional expression turns out to hold them (jinja2 decides that at compile time) */
	struct pending {
		int line, col;
		char msg[160];
	} pending[8];
	size_t npending;
};

static void add_pending(struct parser *p, const struct jtok *t, const char *kind, const char *name)
{
	if (p->npending < sizeof(p->pending) / sizeof(p->pending[0])) {
		struct pending *e = &p->pending[p->npending];
		e->line = t->line;
		e->col = t->col;
		snprintf(e->msg, sizeof(e->msg), "No %s named '%s'.", kind, name);
	}
	p->npending++;
}

struct nodevec {
	struct jnode **v;
	size_t n, cap;
};

static void vec_push(struct arena *a, struct nodevec *vec, struct jnode *n)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 4;
		vec->v = arena_realloc(a, vec->v, vec->cap * sizeof(*vec->v), cap * sizeof(*vec->v));
		vec->cap = cap;
	}
	vec->v[vec->n++] = n;
}

static struct jtok *cur(struct parser *p)
{
	return &p->t[p->i];
}

static struct jtok *peek(struct parser *p, size_t k)
{
	return p->i + k < p->n ? &p->t[p->i + k] : &p->t[p->n - 1];
}

static void next(struct parser *p)
{
	if (p->i + 1 < p->n)
		p->i++;
}

static bool tok_is_op(const struct jtok *t, const char *op)
{
	return t->kind == T_OP && strcmp(t->s, op) == 0;
}

static bool tok_is_name(const struct jtok *t, const char *name)
{
	return t->kind == T_NAME && strcmp(t->s, name) == 0;
}

static const char *tok_desc(const struct jtok *t)
{
	switch (t->kind) {
	case T_EOF:
		return "end of template";
	case T_DATA:
		return "template data";
	case T_VAR_BEGIN:
		return "begin of print statement";
	case T_VAR_END:
		return "end of print statement";
	case T_BLOCK_BEGIN:
		return "begin of statement block";
	case T_BLOCK_END:
		return "end of statement block";
	case T_STRING:
		return "string";
	case T_INT:
		return "integer";
	case T_FLOAT:
		return "float";
	default:
		return t->s;
	}
}

static void *perr_at(struct parser *p, const struct jtok *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void *perr_at(struct parser *p, const struct jtok *t, const char *fmt, ...)
{
	if (p->failed)
		return NULL;
	p->failed = true;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lf_error_set(p->err, -EINVAL, p->name, t->line, t->col, "%s", msg);
	return NULL;
}

static struct jnode *mk(struct parser *p, enum jnode_kind kind, const struct jtok *t)
{
	struct jnode *n = arena_alloc(p->a, sizeof(*n));
	n->kind = kind;
	n->line = t->line;
	n->col = t->col;
	n->tmpl = (const struct jtemplate *)p->tmpl;
	return n;
}

static bool expect_op(struct parser *p, const char *op)
{
	if (!tok_is_op(cur(p), op)) {
		perr_at(p, cur(p), "expected token '%s', got '%s'", op, tok_desc(cur(p)));
		return false;
	}
	next(p);
	return true;
}

static bool expect_name_kw(struct parser *p, const char *kw)
{
	if (!tok_is_name(cur(p), kw)) {
		perr_at(p, cur(p), "expected token '%s', got '%s'", kw, tok_desc(cur(p)));
		return false;
	}
	next(p);
	return true;
}

static bool expect_block_end(struct parser *p)
{
	if (cur(p)->kind != T_BLOCK_END) {
		perr_at(p, cur(p), "expected token 'end of statement block', got '%s'",
			tok_desc(cur(p)));
		return false;
	}
	next(p);
	return true;
}

static struct jnode *parse_expression(struct parser *p, bool with_condexpr);
static struct jnode *parse_tuple(struct parser *p, bool simplified, bool with_condexpr,
				 const char *const *extra_end, bool explicit_parens);
static struct jnode *parse_unary(struct parser *p, bool with_filter);
static struct jnode *parse_primary(struct parser *p);
static struct jnode *parse_postfix(struct parser *p, struct jnode *node);
static struct jnode *parse_filter_expr(struct parser *p, struct jnode *node);
static struct jnode *parse_filter(struct parser *p, struct jnode *node, bool start_inline);

static struct jnode *parse_or(struct parser *p);

static struct jnode *parse_condexpr(struct parser *p)
{
	struct jtok *t0 = cur(p);
	size_t pending0 = p->npending;
	struct jnode *e1 = parse_or(p);
	while (e1 && tok_is_name(cur(p), "if")) {
		next(p);
		p->npending = pending0; /* every part of a conditional expression is soft */
		p->soft++;
		struct jnode *e2 = parse_or(p);
		struct jnode *e3 = NULL;
		if (e2 && tok_is_name(cur(p), "else")) {
			next(p);
			if (++p->depth > MAX_NESTING) {
				p->depth--;
				p->soft--;
				return perr_at(p, cur(p), "expression nested too deeply");
			}
			e3 = parse_condexpr(p);
			p->depth--;
			if (!e3) {
				p->soft--;
				return NULL;
			}
		}
		p->soft--;
		if (!e2)
			return NULL;
		struct jnode *n = mk(p, J_CONDEXPR, t0);
		n->a = e2; /* test */
		n->b = e1; /* then */
		n->c = e3; /* else, may be NULL */
		e1 = n;
	}
	return e1;
}

static struct jnode *parse_expression(struct parser *p, bool with_condexpr)
{
	return with_condexpr ? parse_condexpr(p) : parse_or(p);
}

static struct jnode *parse_not(struct parser *p);

static struct jnode *parse_and(struct parser *p)
{
	struct jtok *t0 = cur(p);
	struct jnode *l = parse_not(p);
	int chain = 0;
	while (l && tok_is_name(cur(p), "and")) {
		if (++chain > MAX_NESTING)
			return perr_at(p, cur(p), "expression nested too deeply");
		next(p);
		struct jnode *r = parse_not(p);
		if (!r)
			return NULL;
		struct jnode *n = mk(p, J_AND, t0);
		n->a = l;
		n->b = r;
		l = n;
	}
	return l;
}

static struct jnode *parse_or(struct parser *p)
{
	struct jtok *t0 = cur(p);
	struct jnode *l = parse_and(p);
	int chain = 0;
	while (l && tok_is_name(cur(p), "or")) {
		if (++chain > MAX_NESTING)
			return perr_at(p, cur(p), "expression nested too deeply");
		next(p);
		struct jnode *r = parse_and(p);
		if (!r)
			return NULL;
		struct jnode *n = mk(p, J_OR, t0);
		n->a = l;
		n->b = r;
		l = n;
	}
	return l;
}

static struct jnode *parse_math1(struct parser *p);

static struct jnode *parse_compare(struct parser *p)
{
	struct jtok *t0 = cur(p);
	struct jnode *expr = parse_math1(p);
	if (!expr)
		return NULL;
	struct nodevec operands = {0};
	int ops[64];
	size_t nops = 0;
	for (;;) {
		struct jtok *t = cur(p);
		int op = 0;
		if (t->kind == T_OP) {
			if (!strcmp(t->s, "=="))
				op = OP_EQ;
			else if (!strcmp(t->s, "!="))
				op = OP_NE;
			else if (!strcmp(t->s, "<"))
				op = OP_LT;
			else if (!strcmp(t->s, "<="))
				op = OP_LE;
			else if (!strcmp(t->s, ">"))
				op = OP_GT;
			else if (!strcmp(t->s, ">="))
				op = OP_GE;
			if (op)
				next(p);
		} else if (tok_is_name(t, "in")) {
			op = OP_IN;
			next(p);
		} else if (tok_is_name(t, "not") && tok_is_name(peek(p, 1), "in")) {
			op = OP_NOTIN;
			next(p);
			next(p);
		}
		if (!op)
			break;
		if (nops == 64)
			return perr_at(p, t, "comparison chain too long");
		struct jnode *r = parse_math1(p);
		if (!r)
			return NULL;
		ops[nops++] = op;
		vec_push(p->a, &operands, r);
	}
	if (!nops)
		return expr;
	struct jnode *n = mk(p, J_COMPARE, t0);
	n->a = expr;
	n->kids = operands.v;
	n->nkids = operands.n;
	n->ops = arena_alloc(p->a, nops * sizeof(int));
	memcpy(n->ops, ops, nops * sizeof(int));
	return n;
}

static struct jnode *parse_not(struct parser *p)
{
	if (tok_is_name(cur(p), "not")) {
		if (p->depth + 1 > MAX_NESTING)
			return perr_at(p, cur(p), "expression nested too deeply");
		p->depth++;
		struct jtok *t0 = cur(p);
		next(p);
		struct jnode *e = parse_not(p);
		p->depth--;
		if (!e)
			return NULL;
		struct jnode *n = mk(p, J_NOT, t0);
		n->a = e;
		return n;
	}
	return parse_compare(p);
}

static struct jnode *binop(struct parser *p, const struct jtok *t, int op, struct jnode *l,
			   struct jnode *r)
{
	struct jnode *n = mk(p, J_BINOP, t);
	n->op = op;
	n->a = l;
	n->b = r;
	return n;
}

static struct jnode *parse_pow(struct parser *p)
{
	struct jtok *t0 = cur(p);
	struct jnode *l = parse_unary(p, true);
	int chain = 0;
	while (l && tok_is_op(cur(p), "**")) {
		if (++chain > MAX_NESTING)
			return perr_at(p, cur(p), "expression nested too deeply");
		next(p);
		struct jnode *r = parse_unary(p, true);
		if (!r)
			return NULL;
		l = binop(p, t0, OP_POW, l, r);
	}
	return l;
}

static struct jnode *parse_math2(struct parser *p)
{
	struct jtok *t0 = cur(p);
	struct jnode *l = parse_pow(p);
	int chain = 0;
	while (l) {
		struct jtok *t = cur(p);
		if (++chain > MAX_NESTING)
			return perr_at(p, t, "expression nested too deeply");
		int op = tok_is_op(t, "*")	? OP_MUL
			 : tok_is_op(t, "/")	? OP_DIV
			 : tok_is_op(t, "//") ? OP_FLOORDIV
			 : tok_is_op(t, "%")	? OP_MOD
						: 0;
		if (!op)
			break;
		next(p);
		struct jnode *r = parse_pow(p);
		if (!r)
			return NULL;
		l = binop(p, t0, op, l, r);
	}
	return l;
}

static struct jnode *parse_concat(struct parser *p)
{
	struct jtok *t0 = cur(p);
	struct jnode *l = parse_math2(p);
	if (!l || !tok_is_op(cur(p), "~"))
		return l;
	struct nodevec v = {0};
	vec_push(p->a, &v, l);
	while (tok_is_op(cur(p), "~")) {
		next(p);
		struct jnode *r = parse_math2(p);
		if (!r)
			return NULL;
		vec_push(p->a, &v, r);
	}
	struct jnode *n = mk(p, J_CONCAT, t0);
	n->kids = v.v;
	n->nkids = v.n;
	return n;
}

static struct jnode *parse_math1(struct parser *p)
{
	struct jtok *t0 = cur(p);
	struct jnode *l = parse_concat(p);
	int chain = 0;
	while (l) {
		struct jtok *t = cur(p);
		if (++chain > MAX_NESTING)
			return perr_at(p, t, "expression nested too deeply");
		int op = tok_is_op(t, "+") ? OP_ADD : tok_is_op(t, "-") ? OP_SUB : 0;
		if (!op)
			break;
		next(p);
		struct jnode *r = parse_concat(p);
		if (!r)
			return NULL;
		l = binop(p, t0, op, l, r);
	}
	return l;
}

static struct jnode *parse_unary_inner(struct parser *p, bool with_filter);

static struct jnode *parse_unary(struct parser *p, bool with_filter)
{
	if (++p->depth > MAX_NESTING) {
		p->depth--;
		return perr_at(p, cur(p), "expression nested too deeply");
	}
	struct jnode *n = parse_unary_inner(p, with_filter);
	p->depth--;
	return n;
}

static struct jnode *parse_unary_inner(struct parser *p, bool with_filter)
{
	struct jtok *t = cur(p);
	struct jnode *node;
	if (tok_is_op(t, "-") || tok_is_op(t, "+")) {
		next(p);
		struct jnode *e = parse_unary(p, false);
		if (!e)
			return NULL;
		node = mk(p, tok_is_op(t, "-") ? J_NEG : J_POS, t);
		node->a = e;
	} else {
		node = parse_primary(p);
	}
	if (!node)
		return NULL;
	node = parse_postfix(p, node);
	if (node && with_filter)
		node = parse_filter_expr(p, node);
	return node;
}

static struct jnode *constant(struct parser *p, const struct jtok *t, struct value *v)
{
	struct jnode *n = mk(p, J_CONST, t);
	n->val = v;
	return n;
}

static struct jnode *parse_primary(struct parser *p)
{
	struct jtok *t = cur(p);
	switch (t->kind) {
	case T_NAME:
		next(p);
		if (!strcmp(t->s, "true") || !strcmp(t->s, "True"))
			return constant(p, t, value_bool(p->a, true));
		if (!strcmp(t->s, "false") || !strcmp(t->s, "False"))
			return constant(p, t, value_bool(p->a, false));
		if (!strcmp(t->s, "none") || !strcmp(t->s, "None"))
			return constant(p, t, value_none(p->a));
		{
			struct jnode *n = mk(p, J_NAME, t);
			n->str = t->s;
			n->len = t->len;
			n->op = (int)jinja_name_hash(t->s, t->len);
			return n;
		}
	case T_STRING: {
		/* adjacent string literals concatenate, as in Python */
		struct strbuf sb = STRBUF_INIT;
		strbuf_add(&sb, t->s, t->len);
		next(p);
		while (cur(p)->kind == T_STRING) {
			strbuf_add(&sb, cur(p)->s, cur(p)->len);
			next(p);
		}
		struct value *v = value_str(p->a, sb.buf, sb.len);
		strbuf_release(&sb);
		return constant(p, t, v);
	}
	case T_INT:
		next(p);
		return constant(p, t, value_int(p->a, t->i));
	case T_FLOAT:
		next(p);
		return constant(p, t, value_float(p->a, t->f));
	case T_OP:
		if (!strcmp(t->s, "(")) {
			next(p);
			struct jnode *e = parse_tuple(p, false, true, NULL, true);
			if (!e || !expect_op(p, ")"))
				return NULL;
			return e;
		}
		if (!strcmp(t->s, "[")) {
			next(p);
			struct nodevec v = {0};
			while (!tok_is_op(cur(p), "]")) {
				if (v.n && !expect_op(p, ","))
					return NULL;
				if (tok_is_op(cur(p), "]"))
					break;
				struct jnode *e = parse_expression(p, true);
				if (!e)
					return NULL;
				vec_push(p->a, &v, e);
			}
			next(p);
			struct jnode *n = mk(p, J_LIST, t);
			n->kids = v.v;
			n->nkids = v.n;
			return n;
		}
		if (!strcmp(t->s, "{")) {
			next(p);
			struct nodevec k = {0}, v = {0};
			while (!tok_is_op(cur(p), "}")) {
				if (k.n && !expect_op(p, ","))
					return NULL;
				if (tok_is_op(cur(p), "}"))
					break;
				struct jnode *key = parse_expression(p, true);
				if (!key || !expect_op(p, ":"))
					return NULL;
				struct jnode *val = parse_expression(p, true);
				if (!val)
					return NULL;
				vec_push(p->a, &k, key);
				vec_push(p->a, &v, val);
			}
			next(p);
			struct jnode *n = mk(p, J_DICT, t);
			n->kids = k.v;
			n->nkids = k.n;
			n->kids2 = v.v;
			n->nkids2 = v.n;
			return n;
		}
		break;
	default:
		break;
	}
	return perr_at(p, t, "unexpected '%s'", tok_desc(t));
}

static bool is_tuple_end(struct parser *p, const char *const *extra_end)
{
	struct jtok *t = cur(p);
	if (t->kind == T_VAR_END || t->kind == T_BLOCK_END || t->kind == T_EOF)
		return true;
	if (extra_end)
		for (size_t k = 0; extra_end[k]; k++) {
			const char *e = extra_end[k];
			if (!strncmp(e, "name:", 5) && tok_is_name(t, e + 5))
				return true;
			if (tok_is_op(t, e))
				return true;
		}
	return false;
}

static struct jnode *parse_tuple(struct parser *p, bool simplified, bool with_condexpr,
				 const char *const *extra_end, bool explicit_parens)
{
	struct jtok *t0 = cur(p);
	struct nodevec v = {0};
	bool is_tuple = false;
	for (;;) {
		if (v.n) {
			if (!tok_is_op(cur(p), ","))
				break;
			next(p);
		}
		if (is_tuple_end(p, extra_end) || (explicit_parens && tok_is_op(cur(p), ")")))
			break;
		struct jnode *e = simplified ? parse_primary(p) : parse_expression(p, with_condexpr);
		if (!e)
			return NULL;
		vec_push(p->a, &v, e);
		if (tok_is_op(cur(p), ","))
			is_tuple = true;
		else
			break;
	}
	if (!is_tuple) {
		if (v.n)
			return v.v[0];
		if (!explicit_parens)
			return perr_at(p, cur(p), "Expected an expression, got '%s'", tok_desc(cur(p)));
	}
	struct jnode *n = mk(p, J_TUPLE, t0);
	n->kids = v.v;
	n->nkids = v.n;
	return n;
}

/* Call arguments after '(' : positional, name=value, *args, **kwargs. */
static bool parse_call_args(struct parser *p, struct jnode *n)
{
	if (!expect_op(p, "("))
		return false;
	struct nodevec args = {0}, kwv = {0};
	const char **kwn = NULL;
	size_t nkw = 0, capkw = 0;
	bool first = true;
	while (!tok_is_op(cur(p), ")")) {
		if (!first && !expect_op(p, ","))
			return false;
		first = false;
		if (tok_is_op(cur(p), ")"))
			break;
		if (tok_is_op(cur(p), "*") || tok_is_op(cur(p), "**")) {
			bool dstar = tok_is_op(cur(p), "**");
			next(p);
			struct jnode *e = parse_expression(p, true);
			if (!e)
				return false;
			if (dstar)
				n->d = e;
			else
				n->c = e;
			continue;
		}
		if (cur(p)->kind == T_NAME && tok_is_op(peek(p, 1), "=")) {
			const char *key = cur(p)->s;
			next(p);
			next(p);
			struct jnode *e = parse_expression(p, true);
			if (!e)
				return false;
			if (nkw == capkw) {
				size_t cap = capkw ? capkw * 2 : 4;
				kwn = arena_realloc(p->a, kwn, capkw * sizeof(*kwn), cap * sizeof(*kwn));
				capkw = cap;
			}
			kwn[nkw++] = key;
			vec_push(p->a, &kwv, e);
			continue;
		}
		if (nkw) {
			perr_at(p, cur(p), "positional argument follows keyword argument");
			return false;
		}
		struct jnode *e = parse_expression(p, true);
		if (!e)
			return false;
		vec_push(p->a, &args, e);
	}
	next(p);
	n->kids = args.v;
	n->nkids = args.n;
	n->kids2 = kwv.v;
	n->nkids2 = kwv.n;
	n->names = kwn;
	n->nnames = nkw;
	return true;
}

static struct jnode *parse_subscript(struct parser *p, struct jnode *node)
{
	struct jtok *t = cur(p);
	if (tok_is_op(t, ".")) {
		next(p);
		struct jtok *a = cur(p);
		if (a->kind == T_NAME) {
			next(p);
			struct jnode *n = mk(p, J_GETATTR, a);
			n->a = node;
			n->str = a->s;
			n->len = a->len;
			return n;
		}
		if (a->kind == T_INT) {
			next(p);
			struct jnode *n = mk(p, J_GETITEM, a);
			n->a = node;
			n->b = constant(p, a, value_int(p->a, a->i));
			return n;
		}
		return perr_at(p, a, "expected name or number");
	}
	/* '[' subscript or slices */
	next(p);
	struct nodevec v = {0};
	while (!tok_is_op(cur(p), "]")) {
		if (v.n && !expect_op(p, ","))
			return NULL;
		struct jtok *st = cur(p);
		struct jnode *e = NULL;
		/* subscribed: expr | [expr]:[expr][:[expr]] */
		if (!tok_is_op(st, ":")) {
			e = parse_expression(p, true);
			if (!e)
				return NULL;
			if (!tok_is_op(cur(p), ":")) {
				vec_push(p->a, &v, e);
				continue;
			}
		}
		struct jnode *sl = mk(p, J_SLICE, st);
		sl->a = e;
		next(p); /* ':' */
		if (!tok_is_op(cur(p), "]") && !tok_is_op(cur(p), ",") && !tok_is_op(cur(p), ":")) {
			sl->b = parse_expression(p, true);
			if (!sl->b)
				return NULL;
		}
		if (tok_is_op(cur(p), ":")) {
			next(p);
			if (!tok_is_op(cur(p), "]") && !tok_is_op(cur(p), ",")) {
				sl->c = parse_expression(p, true);
				if (!sl->c)
					return NULL;
			}
		}
		vec_push(p->a, &v, sl);
	}
	next(p);
	if (v.n == 0)
		return perr_at(p, t, "expected subscript expression");
	struct jnode *n = mk(p, J_GETITEM, t);
	n->a = node;
	if (v.n == 1) {
		n->b = v.v[0];
	} else {
		struct jnode *tu = mk(p, J_TUPLE, t);
		tu->kids = v.v;
		tu->nkids = v.n;
		n->b = tu;
	}
	return n;
}

static struct jnode *parse_postfix(struct parser *p, struct jnode *node)
{
	int chain = 0;
	while (node) {
		struct jtok *t = cur(p);
		if (++chain > MAX_NESTING)
			return perr_at(p, t, "expression nested too deeply");
		if (tok_is_op(t, ".") || tok_is_op(t, "[")) {
			node = parse_subscript(p, node);
		} else if (tok_is_op(t, "(")) {
			struct jnode *n = mk(p, J_CALL, t);
			n->a = node;
			if (!parse_call_args(p, n))
				return NULL;
			node = n;
		} else {
			break;
		}
	}
	return node;
}

/* filter/test name: NAME(.NAME)* */
static const char *dotted_name(struct parser *p)
{
	if (cur(p)->kind != T_NAME)
		return perr_at(p, cur(p), "expected token 'name', got '%s'", tok_desc(cur(p)));
	struct strbuf sb = STRBUF_INIT;
	strbuf_adds(&sb, cur(p)->s);
	next(p);
	while (tok_is_op(cur(p), ".") && peek(p, 1)->kind == T_NAME) {
		next(p);
		strbuf_addc(&sb, '.');
		strbuf_adds(&sb, cur(p)->s);
		next(p);
	}
	char *s = arena_strdup(p->a, sb.buf);
	strbuf_release(&sb);
	return s;
}

static struct jnode *parse_filter(struct parser *p, struct jnode *node, bool start_inline)
{
	int chain = 0;
	while (tok_is_op(cur(p), "|") || start_inline) {
		if (++chain > MAX_NESTING)
			return perr_at(p, cur(p), "expression nested too deeply");
		if (!start_inline)
			next(p);
		start_inline = false;
		struct jtok *t = cur(p);
		const char *name = dotted_name(p);
		if (!name)
			return NULL;
		struct jnode *n = mk(p, J_FILTER, t);
		n->a = node;
		n->str = name;
		n->fn = jinja_filter_find(name);
		if (!n->fn && !p->soft)
			add_pending(p, t, "filter", name);
		if (tok_is_op(cur(p), "(") && !parse_call_args(p, n))
			return NULL;
		node = n;
	}
	return node;
}

static struct jnode *parse_test(struct parser *p, struct jnode *node)
{
	struct jtok *t0 = cur(p);
	next(p); /* is */
	bool negated = false;
	if (tok_is_name(cur(p), "not")) {
		next(p);
		negated = true;
	}
	struct jtok *t = cur(p);
	const char *name = dotted_name(p);
	if (!name)
		return NULL;
	struct jnode *n = mk(p, J_TEST, t);
	n->a = node;
	n->str = name;
	n->fn = jinja_test_find(name);
	if (!n->fn && !p->soft)
		add_pending(p, t, "test", name);
	struct jtok *c = cur(p);
	if (tok_is_op(c, "(")) {
		if (!parse_call_args(p, n))
			return NULL;
	} else if ((c->kind == T_NAME || c->kind == T_STRING || c->kind == T_INT ||
		    c->kind == T_FLOAT || tok_is_op(c, "(") || tok_is_op(c, "[") ||
		    tok_is_op(c, "{")) &&
		   !tok_is_name(c, "else") && !tok_is_name(c, "or") && !tok_is_name(c, "and")) {
		if (tok_is_name(c, "is"))
			return perr_at(p, c, "You cannot chain multiple tests with is");
		struct jnode *arg = parse_primary(p);
		if (arg)
			arg = parse_postfix(p, arg);
		if (!arg)
			return NULL;
		n->kids = arena_alloc(p->a, sizeof(*n->kids));
		n->kids[0] = arg;
		n->nkids = 1;
	}
	if (negated) {
		struct jnode *no = mk(p, J_NOT, t0);
		no->a = n;
		return no;
	}
	return n;
}

static struct jnode *parse_filter_expr(struct parser *p, struct jnode *node)
{
	int chain = 0;
	while (node) {
		struct jtok *t = cur(p);
		if (++chain > MAX_NESTING)
			return perr_at(p, t, "expression nested too deeply");
		if (tok_is_op(t, "|")) {
			node = parse_filter(p, node, false);
		} else if (tok_is_name(t, "is")) {
			node = parse_test(p, node);
		} else if (tok_is_op(t, "(")) {
			struct jnode *n = mk(p, J_CALL, t);
			n->a = node;
			if (!parse_call_args(p, n))
				return NULL;
			node = n;
		} else {
			break;
		}
	}
	return node;
}

/* ---- statements ---- */

static struct jnode *parse_statement(struct parser *p);

/* Parse template data and tags until a block tag whose name is in `ends` (left unconsumed:
 * cur is that name). */
static struct jnode **parse_body(struct parser *p, const char *const *ends, size_t *n_out,
				 const struct jtok *opener)
{
	struct nodevec v = {0};
	for (;;) {
		struct jtok *t = cur(p);
		if (t->kind == T_EOF) {
			if (ends) {
				struct strbuf sb = STRBUF_INIT;
				for (size_t k = 0; ends[k]; k++)
					strbuf_addf(&sb, "%s'%s'", k ? " or " : "", ends[k]);
				perr_at(p, t,
					"Unexpected end of template. Jinja was looking for the following tags: %s. The innermost block that needs to be closed is '%s' (line %d).",
					sb.buf, opener ? opener->s : "?", opener ? opener->line : 0);
				strbuf_release(&sb);
				return NULL;
			}
			break;
		}
		if (t->kind == T_DATA) {
			struct jnode *n = mk(p, J_DATA, t);
			n->str = t->s;
			n->len = t->len;
			vec_push(p->a, &v, n);
			next(p);
		} else if (t->kind == T_VAR_BEGIN) {
			next(p);
			struct jnode *e = parse_tuple(p, false, true, NULL, false);
			if (!e)
				return NULL;
			if (cur(p)->kind != T_VAR_END)
				return perr_at(p, cur(p), "expected token 'end of print statement', got '%s'",
					       tok_desc(cur(p)));
			next(p);
			struct jnode *n = mk(p, J_PRINT, t);
			n->a = e;
			vec_push(p->a, &v, n);
		} else if (t->kind == T_BLOCK_BEGIN) {
			struct jtok *nt = peek(p, 1);
			if (ends && nt->kind == T_NAME)
				for (size_t k = 0; ends[k]; k++)
					if (!strcmp(nt->s, ends[k])) {
						next(p);
						*n_out = v.n;
						return v.v ? v.v : arena_alloc(p->a, sizeof(struct jnode *));
					}
			next(p);
			struct jnode *s = parse_statement(p);
			if (!s)
				return NULL;
			vec_push(p->a, &v, s);
		} else {
			return perr_at(p, t, "unexpected '%s'", tok_desc(t));
		}
	}
	*n_out = v.n;
	return v.v ? v.v : arena_alloc(p->a, sizeof(struct jnode *));
}

/* assignment target: name | ns.attr | a, b (tuple of names) */
static struct jnode *parse_assign_target(struct parser *p, bool with_namespace,
					 const char *const *extra_end)
{
	struct jtok *t = cur(p);
	if (with_namespace && t->kind == T_NAME && tok_is_op(peek(p, 1), ".") &&
	    peek(p, 2)->kind == T_NAME) {
		next(p);
		next(p);
		struct jnode *n = mk(p, J_NSATTR, t);
		n->str = t->s;
		n->names = arena_alloc(p->a, sizeof(char *));
		n->names[0] = cur(p)->s;
		next(p);
		return n;
	}
	struct jnode *target = parse_tuple(p, true, true, extra_end, false);
	if (!target)
		return NULL;
	if (target->kind == J_NAME) {
		if (!strcmp(target->str, "true") || !strcmp(target->str, "false") ||
		    !strcmp(target->str, "none"))
			return perr_at(p, t, "can't assign to '%s'", target->str);
		return target;
	}
	if (target->kind == J_TUPLE) {
		for (size_t k = 0; k < target->nkids; k++)
			if (target->kids[k]->kind != J_NAME)
				return perr_at(p, t, "can't assign to '%s'", "tuple element");
		return target;
	}
	return perr_at(p, t, "can't assign to '%s'", "expression");
}

static const char *const END_FOR[] = {"endfor", "else", NULL};
static const char *const END_FOR2[] = {"endfor", NULL};
static const char *const END_IF[] = {"elif", "else", "endif", NULL};
static const char *const END_IF2[] = {"endif", NULL};
static const char *const END_SET[] = {"endset", NULL};
static const char *const END_BLOCK[] = {"endblock", NULL};
static const char *const END_MACRO[] = {"endmacro", NULL};
static const char *const END_CALL[] = {"endcall", NULL};
static const char *const END_FILTER[] = {"endfilter", NULL};
static const char *const END_WITH[] = {"endwith", NULL};
static const char *const END_AUTOESCAPE[] = {"endautoescape", NULL};
static const char *const IN_END[] = {"name:in", NULL};
static const char *const RECURSIVE_END[] = {"name:recursive", NULL};

static struct jnode *parse_for(struct parser *p, struct jtok *t)
{
	struct jnode *n = mk(p, J_FOR, t);
	/* the iterable belongs to the enclosing frame (soft inside an if), the rest to the loop */
	n->a = parse_assign_target(p, false, IN_END);
	if (!n->a || !expect_name_kw(p, "in"))
		return NULL;
	n->b = parse_tuple(p, false, false, RECURSIVE_END, false);
	if (!n->b)
		return NULL;
	int soft = p->soft;
	p->soft = 0;
	if (tok_is_name(cur(p), "if")) {
		next(p);
		n->c = parse_expression(p, true);
		if (!n->c)
			return NULL;
	}
	if (tok_is_name(cur(p), "recursive")) {
		next(p);
		n->flag = true;
	}
	if (!expect_block_end(p))
		return NULL;
	n->kids = parse_body(p, END_FOR, &n->nkids, t);
	if (!n->kids)
		return NULL;
	if (tok_is_name(cur(p), "else")) {
		next(p);
		if (!expect_block_end(p))
			return NULL;
		n->flag2 = true;
		n->kids2 = parse_body(p, END_FOR2, &n->nkids2, t);
		if (!n->kids2)
			return NULL;
	}
	next(p); /* endfor */
	p->soft = soft;
	return expect_block_end(p) ? n : NULL;
}

static struct jnode *parse_if(struct parser *p, struct jtok *t)
{
	struct jnode *n = mk(p, J_IF, t);
	struct jnode *top = n;
	p->soft++;
	for (;;) {
		n->a = parse_tuple(p, false, false, NULL, false);
		if (!n->a || !expect_block_end(p))
			return NULL;
		n->kids = parse_body(p, END_IF, &n->nkids, t);
		if (!n->kids)
			return NULL;
		struct jtok *e = cur(p);
		next(p);
		if (!strcmp(e->s, "elif")) {
			struct jnode *el = mk(p, J_IF, e);
			el->flag = true; /* an elif, not an if inside an else */
			n->kids2 = arena_alloc(p->a, sizeof(struct jnode *));
			n->kids2[0] = el;
			n->nkids2 = 1;
			n = el;
			continue;
		}
		if (!strcmp(e->s, "else")) {
			if (!expect_block_end(p))
				return NULL;
			n->kids2 = parse_body(p, END_IF2, &n->nkids2, t);
			if (!n->kids2)
				return NULL;
			next(p);
		}
		break;
	}
	p->soft--;
	return expect_block_end(p) ? top : NULL;
}

static struct jnode *parse_set(struct parser *p, struct jtok *t)
{
	struct jnode *target = parse_assign_target(p, true, NULL);
	if (!target)
		return NULL;
	if (tok_is_op(cur(p), "=")) {
		next(p);
		struct jnode *n = mk(p, J_SET, t);
		n->a = target;
		n->b = parse_tuple(p, false, true, NULL, false);
		if (!n->b)
			return NULL;
		return expect_block_end(p) ? n : NULL;
	}
	struct jnode *n = mk(p, J_SETBLOCK, t);
	n->a = target;
	int soft = p->soft;
	p->soft = 0; /* the block's body and filters are a frame of their own */
	if (tok_is_op(cur(p), "|")) {
		n->b = parse_filter(p, NULL, false);
		if (!n->b)
			return NULL;
	}
	if (!expect_block_end(p))
		return NULL;
	n->kids = parse_body(p, END_SET, &n->nkids, t);
	if (!n->kids)
		return NULL;
	p->soft = soft;
	next(p);
	return expect_block_end(p) ? n : NULL;
}

static struct jnode *parse_block(struct parser *p, struct jtok *t)
{
	struct jnode *n = mk(p, J_BLOCK, t);
	if (cur(p)->kind != T_NAME)
		return perr_at(p, cur(p), "expected token 'name', got '%s'", tok_desc(cur(p)));
	n->str = cur(p)->s;
	next(p);
	for (size_t k = 0; k < p->nblocks; k++)
		if (!strcmp(p->blocks[k]->str, n->str))
			return perr_at(p, t, "block '%s' defined twice", n->str);
	if (p->nblocks == p->capblocks) {
		size_t cap = p->capblocks ? p->capblocks * 2 : 8;
		p->blocks = arena_realloc(p->a, p->blocks, p->capblocks * sizeof(*p->blocks),
					  cap * sizeof(*p->blocks));
		p->capblocks = cap;
	}
	p->blocks[p->nblocks++] = n;
	if (tok_is_name(cur(p), "scoped")) {
		next(p);
		n->flag = true;
	}
	if (tok_is_name(cur(p), "required")) {
		next(p);
		n->flag2 = true;
	}
	if (tok_is_op(cur(p), "-"))
		return perr_at(p, cur(p), "Use an underscore instead");
	if (!expect_block_end(p))
		return NULL;
	int soft = p->soft;
	p->soft = 0;
	n->kids = parse_body(p, END_BLOCK, &n->nkids, t);
	p->soft = soft;
	if (!n->kids)
		return NULL;
	next(p);
	if (cur(p)->kind == T_NAME) {
		if (strcmp(cur(p)->s, n->str))
			return perr_at(p, cur(p), "'%s' is not the name of the block being closed ('%s')",
				       cur(p)->s, n->str);
		next(p);
	}
	if (n->flag2) {
		/* required blocks may hold only whitespace and comments */
		for (size_t k = 0; k < n->nkids; k++) {
			struct jnode *c = n->kids[k];
			bool blank = c->kind == J_DATA;
			for (size_t j = 0; blank && j < c->len; j++)
				if (!strchr(" \t\n\r\f\v", c->str[j]))
					blank = false;
			if (!blank)
				return perr_at(p, t, "Required blocks can only contain comments or whitespace");
		}
	}
	return expect_block_end(p) ? n : NULL;
}

/* `with context` / `without context` after import/include */
static bool parse_context_mod(struct parser *p, struct jnode *n, bool dflt)
{
	n->flag = dflt;
	if ((tok_is_name(cur(p), "with") || tok_is_name(cur(p), "without")) &&
	    tok_is_name(peek(p, 1), "context")) {
		n->flag = tok_is_name(cur(p), "with");
		next(p);
		next(p);
		return true;
	}
	return false;
}

static struct jnode *parse_macro_sig(struct parser *p, struct jnode *n)
{
	if (!expect_op(p, "("))
		return NULL;
	struct nodevec defs = {0};
	const char **names = NULL;
	size_t nn = 0, cap = 0;
	while (!tok_is_op(cur(p), ")")) {
		if (nn && !expect_op(p, ","))
			return NULL;
		if (cur(p)->kind != T_NAME)
			return perr_at(p, cur(p), "expected token 'name', got '%s'", tok_desc(cur(p)));
		if (nn == cap) {
			size_t c2 = cap ? cap * 2 : 4;
			names = arena_realloc(p->a, names, cap * sizeof(*names), c2 * sizeof(*names));
			defs.v = arena_realloc(p->a, defs.v, cap * sizeof(*defs.v), c2 * sizeof(*defs.v));
			cap = c2;
		}
		names[nn] = cur(p)->s;
		next(p);
		struct jnode *d = NULL;
		if (tok_is_op(cur(p), "=")) {
			next(p);
			d = parse_expression(p, true);
			if (!d)
				return NULL;
		} else if (defs.n && defs.v[defs.n - 1]) {
			return perr_at(p, cur(p), "non-default argument follows default argument");
		}
		if (!d && !strcmp(names[nn], "caller"))
			return perr_at(p, cur(p),
				       "When defining macros or call blocks the special \"caller\" "
				       "argument must be omitted or be given a default.");
		defs.v[defs.n++] = d;
		nn++;
	}
	next(p);
	n->names = names;
	n->nnames = nn;
	n->kids2 = defs.v;
	n->nkids2 = defs.n;
	return n;
}

static struct jnode *parse_statement_inner(struct parser *p);

static struct jnode *parse_statement(struct parser *p)
{
	if (++p->depth > MAX_NESTING) {
		p->depth--;
		return perr_at(p, cur(p), "statements nested too deeply");
	}
	struct jnode *n = parse_statement_inner(p);
	p->depth--;
	return n;
}

static struct jnode *parse_statement_inner(struct parser *p)
{
	struct jtok *t = cur(p);
	if (t->kind != T_NAME)
		return perr_at(p, t, "tag name expected");
	next(p);
	const char *k = t->s;
	if (!strcmp(k, "for"))
		return parse_for(p, t);
	if (!strcmp(k, "if"))
		return parse_if(p, t);
	if (!strcmp(k, "set"))
		return parse_set(p, t);
	if (!strcmp(k, "block"))
		return parse_block(p, t);
	if (!strcmp(k, "extends")) {
		struct jnode *n = mk(p, J_EXTENDS, t);
		n->a = parse_expression(p, true);
		if (!n->a)
			return NULL;
		p->tmpl->has_extends = true;
		return expect_block_end(p) ? n : NULL;
	}
	if (!strcmp(k, "include")) {
		struct jnode *n = mk(p, J_INCLUDE, t);
		n->a = parse_expression(p, true);
		if (!n->a)
			return NULL;
		if (tok_is_name(cur(p), "ignore") && tok_is_name(peek(p, 1), "missing")) {
			next(p);
			next(p);
			n->flag2 = true;
		}
		parse_context_mod(p, n, true);
		return expect_block_end(p) ? n : NULL;
	}
	if (!strcmp(k, "import")) {
		struct jnode *n = mk(p, J_IMPORT, t);
		n->a = parse_expression(p, true);
		if (!n->a || !expect_name_kw(p, "as"))
			return NULL;
		if (cur(p)->kind != T_NAME)
			return perr_at(p, cur(p), "expected token 'name', got '%s'", tok_desc(cur(p)));
		n->str = cur(p)->s;
		next(p);
		parse_context_mod(p, n, false);
		return expect_block_end(p) ? n : NULL;
	}
	if (!strcmp(k, "from")) {
		struct jnode *n = mk(p, J_FROMIMPORT, t);
		n->a = parse_expression(p, true);
		if (!n->a || !expect_name_kw(p, "import"))
			return NULL;
		size_t cap = 0;
		for (;;) {
			if (n->nnames) {
				if (!tok_is_op(cur(p), ","))
					break;
				next(p);
			}
			if (parse_context_mod(p, n, false))
				break;
			if (cur(p)->kind != T_NAME)
				return perr_at(p, cur(p), "expected token 'name', got '%s'",
					       tok_desc(cur(p)));
			if (cur(p)->s[0] == '_')
				return perr_at(p, cur(p), "names starting with an underline can not be imported");
			if (n->nnames == cap) {
				size_t c2 = cap ? cap * 2 : 4;
				n->names = arena_realloc(p->a, n->names, cap * sizeof(char *),
							 c2 * sizeof(char *));
				n->names2 = arena_realloc(p->a, n->names2, cap * sizeof(char *),
							  c2 * sizeof(char *));
				cap = c2;
			}
			n->names[n->nnames] = cur(p)->s;
			n->names2[n->nnames] = cur(p)->s;
			next(p);
			if (tok_is_name(cur(p), "as")) {
				next(p);
				if (cur(p)->kind != T_NAME)
					return perr_at(p, cur(p), "expected token 'name', got '%s'",
						       tok_desc(cur(p)));
				n->names2[n->nnames] = cur(p)->s;
				next(p);
			}
			n->nnames++;
			if (parse_context_mod(p, n, false))
				break;
		}
		return expect_block_end(p) ? n : NULL;
	}
	if (!strcmp(k, "macro")) {
		struct jnode *n = mk(p, J_MACRO, t);
		if (cur(p)->kind != T_NAME)
			return perr_at(p, cur(p), "expected token 'name', got '%s'", tok_desc(cur(p)));
		n->str = cur(p)->s;
		next(p);
		if (!parse_macro_sig(p, n) || !expect_block_end(p))
			return NULL;
		int soft = p->soft;
		p->soft = 0;
		n->kids = parse_body(p, END_MACRO, &n->nkids, t);
		p->soft = soft;
		if (!n->kids)
			return NULL;
		next(p);
		return expect_block_end(p) ? n : NULL;
	}
	if (!strcmp(k, "call")) {
		struct jnode *n = mk(p, J_CALLBLOCK, t);
		if (tok_is_op(cur(p), "(")) {
			if (!parse_macro_sig(p, n))
				return NULL;
		}
		n->a = parse_expression(p, true);
		if (!n->a)
			return NULL;
		if (n->a->kind != J_CALL)
			return perr_at(p, t, "expected call");
		if (!expect_block_end(p))
			return NULL;
		int soft = p->soft;
		p->soft = 0;
		n->kids = parse_body(p, END_CALL, &n->nkids, t);
		p->soft = soft;
		if (!n->kids)
			return NULL;
		next(p);
		return expect_block_end(p) ? n : NULL;
	}
	if (!strcmp(k, "filter")) {
		/* a filter block is a frame of its own: never soft, even inside an if */
		struct jnode *n = mk(p, J_FILTERBLOCK, t);
		int soft = p->soft;
		p->soft = 0;
		n->a = parse_filter(p, NULL, true);
		if (!n->a || !expect_block_end(p))
			return NULL;
		n->kids = parse_body(p, END_FILTER, &n->nkids, t);
		if (!n->kids)
			return NULL;
		p->soft = soft;
		next(p);
		return expect_block_end(p) ? n : NULL;
	}
	if (!strcmp(k, "with")) {
		struct jnode *n = mk(p, J_WITH, t);
		struct nodevec targets = {0}, vals = {0};
		while (cur(p)->kind != T_BLOCK_END) {
			if (targets.n && !expect_op(p, ","))
				return NULL;
			struct jnode *tg = parse_assign_target(p, false, NULL);
			if (!tg || !expect_op(p, "="))
				return NULL;
			struct jnode *v = parse_expression(p, true);
			if (!v)
				return NULL;
			vec_push(p->a, &targets, tg);
			vec_push(p->a, &vals, v);
		}
		next(p);
		n->kids2 = targets.v;
		n->nkids2 = targets.n;
		n->c = arena_alloc(p->a, sizeof(struct jnode));
		n->c->kids = vals.v;
		n->c->nkids = vals.n;
		int soft = p->soft;
		p->soft = 0;
		n->kids = parse_body(p, END_WITH, &n->nkids, t);
		p->soft = soft;
		if (!n->kids)
			return NULL;
		next(p);
		return expect_block_end(p) ? n : NULL;
	}
	if (!strcmp(k, "autoescape")) {
		struct jnode *n = mk(p, J_SCOPE, t);
		n->a = parse_expression(p, true);
		if (!n->a || !expect_block_end(p))
			return NULL;
		n->kids = parse_body(p, END_AUTOESCAPE, &n->nkids, t);
		if (!n->kids)
			return NULL;
		next(p);
		return expect_block_end(p) ? n : NULL;
	}
	p->i--;
	return perr_at(p, t, "Encountered unknown tag '%s'.", k);
}

/* ---- frame analysis: jinja2's symbol tracking (idtracking.py), reduced to what changes
 * output: which names a frame starts as undefined ---- */

enum { SYM_RESOLVE = 1, SYM_UNDEF, SYM_ALIAS, SYM_PARAM };

struct sym {
	const char *name;
	int state;
	bool stored;
};

/* a nested frame, analyzed once its enclosing frame is complete: jinja2 analyzes a nested
 * frame when it generates its code, with every name of the enclosing frame known */
struct pending_frame {
	struct jnode *frame;
	struct jnode **stmts;
	size_t n;
	const char **params;
	size_t nparams;
	int depth;
	bool root; /* a block: no parent frame */
	struct pending_frame *next;
};

struct symtab {
	struct sym *v;
	size_t n, cap;
	const struct symtab *parent;
	struct arena *a;
	struct pending_frame **pending; /* shared by if-branch copies */
};

static struct sym *sym_own(const struct symtab *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, name))
			return &t->v[i];
	return NULL;
}

static bool sym_find(const struct symtab *t, const char *name)
{
	for (; t; t = t->parent)
		if (sym_own(t, name))
			return true;
	return false;
}

static struct sym *sym_add(struct symtab *t, const char *name, int state)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		t->v = arena_realloc(t->a, t->v, t->cap * sizeof(*t->v), cap * sizeof(*t->v));
		t->cap = cap;
	}
	struct sym *s = &t->v[t->n++];
	s->name = name;
	s->state = state;
	s->stored = false;
	return s;
}

static void sym_load(struct symtab *t, const char *name)
{
	if (!sym_find(t, name))
		sym_add(t, name, SYM_RESOLVE);
}

static void sym_store(struct symtab *t, const char *name)
{
	struct sym *s = sym_own(t, name);
	if (!s)
		s = sym_add(t, name, t->parent && sym_find(t->parent, name) ? SYM_ALIAS : SYM_UNDEF);
	s->stored = true;
}

static void visit_expr(struct symtab *t, const struct jnode *n, int depth)
{
	if (!n || depth > 500)
		return;
	if (n->kind == J_NAME) {
		sym_load(t, n->str);
		return;
	}
	if (n->kind == J_NSATTR) {
		sym_load(t, n->str);
		return;
	}
	visit_expr(t, n->a, depth + 1);
	visit_expr(t, n->b, depth + 1);
	visit_expr(t, n->c, depth + 1);
	visit_expr(t, n->d, depth + 1);
	for (size_t i = 0; i < n->nkids; i++)
		visit_expr(t, n->kids[i], depth + 1);
	for (size_t i = 0; i < n->nkids2; i++)
		visit_expr(t, n->kids2[i], depth + 1);
}

static void store_target(struct symtab *t, const struct jnode *target)
{
	if (target->kind == J_NAME)
		sym_store(t, target->str);
	else if (target->kind == J_NSATTR)
		sym_load(t, target->str);
	else
		for (size_t i = 0; i < target->nkids; i++)
			store_target(t, target->kids[i]);
}

static void analyze_frame(struct arena *a, struct jnode *frame, struct jnode **stmts, size_t n,
			  const struct symtab *parent, const char **params, size_t nparams,
			  int depth);

static void visit_stmts(struct arena *a, struct symtab *t, struct jnode **stmts, size_t n,
			int depth);

static void defer_frame(struct symtab *t, struct jnode *frame, struct jnode **stmts, size_t n,
			const char **params, size_t nparams, int depth, bool root)
{
	struct pending_frame *pf = arena_alloc(t->a, sizeof(*pf));
	pf->frame = frame;
	pf->stmts = stmts;
	pf->n = n;
	pf->nparams = nparams;
	if (nparams) {
		pf->params = arena_alloc(t->a, nparams * sizeof(char *));
		memcpy(pf->params, params, nparams * sizeof(char *));
	}
	pf->depth = depth;
	pf->root = root;
	pf->next = NULL;
	struct pending_frame **tail = t->pending;
	while (*tail)
		tail = &(*tail)->next;
	*tail = pf;
}

static void visit_if_parts(struct arena *a, struct symtab *t, const struct jnode *test,
			   struct jnode **body, size_t nbody, struct jnode **elifs, size_t nelif,
			   struct jnode **els, size_t nelse, int depth);

/* jinja2 visits an if as three branches (body, all elifs, else) over copies of the frame's
 * symbols; a name stored in only some of them is resolved at runtime */
static void branch(struct arena *a, struct symtab *t, struct symtab *copy)
{
	*copy = *t;
	copy->v = arena_alloc(a, (t->n + 1) * sizeof(struct sym));
	if (t->n)
		memcpy(copy->v, t->v, t->n * sizeof(struct sym));
	copy->cap = t->n + 1;
}

static void visit_if_parts(struct arena *a, struct symtab *t, const struct jnode *test,
			   struct jnode **body, size_t nbody, struct jnode **elifs, size_t nelif,
			   struct jnode **els, size_t nelse, int depth)
{
	visit_expr(t, test, 0);
	struct symtab br[3];
	branch(a, t, &br[0]);
	visit_stmts(a, &br[0], body, nbody, depth + 1);
	branch(a, t, &br[1]);
	for (size_t i = 0; i < nelif; i++)
		visit_if_parts(a, &br[1], elifs[i]->a, elifs[i]->kids, elifs[i]->nkids, NULL, 0,
			       NULL, 0, depth + 1);
	branch(a, t, &br[2]);
	visit_stmts(a, &br[2], els, nelse, depth + 1);
	size_t base = t->n;
	for (int b = 0; b < 3; b++)
		for (size_t i = 0; i < br[b].n; i++) {
			struct sym *s = &br[b].v[i];
			struct sym *own = sym_own(t, s->name);
			if (!own)
				own = sym_add(t, s->name, s->state);
			else if ((size_t)(own - t->v) >= base)
				own->state = s->state; /* the later branch's view wins, as in jinja2 */
			own->stored |= s->stored;
		}
	for (size_t i = base; i < t->n; i++) {
		struct sym *s = &t->v[i];
		if (!s->stored)
			continue;
		int count = 0;
		for (int b = 0; b < 3; b++) {
			struct sym *bs = sym_own(&br[b], s->name);
			if (bs && bs->stored)
				count++;
		}
		if (count < 3 && s->state == SYM_UNDEF)
			s->state = SYM_RESOLVE;
	}
}

static void visit_if(struct arena *a, struct symtab *t, struct jnode *n, int depth)
{
	/* elif nodes hang alone in the else list, marked by the parser */
	struct jnode *elifs[64];
	size_t nelif = 0;
	struct jnode *cur = n;
	while (cur->nkids2 == 1 && cur->kids2[0]->kind == J_IF && cur->kids2[0]->flag && nelif < 64) {
		cur = cur->kids2[0];
		elifs[nelif++] = cur;
	}
	bool has_else = !(cur->nkids2 == 1 && cur->kids2[0]->kind == J_IF && cur->kids2[0]->flag);
	visit_if_parts(a, t, n->a, n->kids, n->nkids, elifs, nelif, has_else ? cur->kids2 : NULL,
		       has_else ? cur->nkids2 : 0, depth);
}

static void visit_stmts(struct arena *a, struct symtab *t, struct jnode **stmts, size_t n,
			int depth)
{
	if (depth > 200)
		return;
	for (size_t i = 0; i < n; i++) {
		struct jnode *s = stmts[i];
		switch (s->kind) {
		case J_PRINT:
		case J_EXTENDS:
		case J_INCLUDE:
			visit_expr(t, s->a, 0);
			break;
		case J_SET:
			visit_expr(t, s->b, 0);
			store_target(t, s->a);
			break;
		case J_SETBLOCK:
			defer_frame(t, s, s->kids, s->nkids, NULL, 0, depth + 1, false);
			visit_expr(t, s->b, 0);
			store_target(t, s->a);
			break;
		case J_IF:
			visit_if(a, t, s, depth);
			break;
		case J_FOR: {
			visit_expr(t, s->b, 0);
			/* the body is a frame of its own with the targets as parameters */
			const char *params[16];
			size_t np = 0;
			const struct jnode *tg = s->a;
			if (tg->kind == J_NAME)
				params[np++] = tg->str;
			else
				for (size_t k = 0; k < tg->nkids && np < 15; k++)
					if (tg->kids[k]->kind == J_NAME)
						params[np++] = tg->kids[k]->str;
			params[np++] = "loop";
			defer_frame(t, s, s->kids, s->nkids, params, np, depth + 1, false);
			if (s->flag2) {
				/* the else body runs in an inner frame of the enclosing one */
				s->else_frame = arena_alloc(a, sizeof(struct jnode));
				s->else_frame->kind = J_SCOPE;
				s->else_frame->line = s->line;
				s->else_frame->col = s->col;
				s->else_frame->tmpl = s->tmpl;
				defer_frame(t, s->else_frame, s->kids2, s->nkids2, NULL, 0, depth + 1,
					    false);
			}
			break;
		}
		case J_MACRO:
			defer_frame(t, s, s->kids, s->nkids, s->names, s->nnames, depth + 1, false);
			sym_store(t, s->str);
			break;
		case J_CALLBLOCK:
			visit_expr(t, s->a, 0);
			defer_frame(t, s, s->kids, s->nkids, s->names, s->nnames, depth + 1, false);
			break;
		case J_FILTERBLOCK:
			visit_expr(t, s->a, 0);
			defer_frame(t, s, s->kids, s->nkids, NULL, 0, depth + 1, false);
			break;
		case J_WITH: {
			for (size_t k = 0; k < s->c->nkids; k++)
				visit_expr(t, s->c->kids[k], 0);
			defer_frame(t, s, s->kids, s->nkids, NULL, 0, depth + 1, false);
			break;
		}
		case J_BLOCK:
			/* a block is a function of its own, it starts from the context */
			defer_frame(t, s, s->kids, s->nkids, NULL, 0, depth + 1, true);
			break;
		case J_IMPORT:
			visit_expr(t, s->a, 0);
			sym_store(t, s->str);
			break;
		case J_FROMIMPORT:
			visit_expr(t, s->a, 0);
			for (size_t k = 0; k < s->nnames; k++)
				sym_store(t, s->names2[k]);
			break;
		case J_SCOPE:
			visit_expr(t, s->a, 0);
			visit_stmts(a, t, s->kids, s->nkids, depth + 1);
			break;
		default:
			break;
		}
	}
}

static void analyze_frame(struct arena *a, struct jnode *frame, struct jnode **stmts, size_t n,
			  const struct symtab *parent, const char **params, size_t nparams,
			  int depth)
{
	struct pending_frame *pending = NULL;
	struct symtab t = {.parent = parent, .a = a, .pending = &pending};
	for (size_t i = 0; i < nparams; i++)
		sym_add(&t, params[i], SYM_PARAM);
	visit_stmts(a, &t, stmts, n, depth);
	for (struct pending_frame *pf = pending; pf; pf = pf->next)
		analyze_frame(a, pf->frame, pf->stmts, pf->n, pf->root ? NULL : &t, pf->params,
			      pf->nparams, pf->depth);
	size_t cnt = 0;
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i].state == SYM_UNDEF)
			cnt++;
	if (!cnt)
		return;
	frame->undef = arena_alloc(a, cnt * sizeof(char *));
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i].state == SYM_UNDEF)
			frame->undef[frame->nundef++] = t.v[i].name;
}

int jinja_parse(struct arena *a, const char *name, const char *src, size_t len,
		struct jtemplate **out, struct lf_error *err)
{
	struct jtoks toks;
	int rc = jinja_lex(a, name, src, len, &toks, err);
	if (rc)
		return rc;
	struct jtemplate *tm = arena_alloc(a, sizeof(*tm));
	tm->arena = a;
	tm->name = arena_strdup(a, name);
	struct parser p = {.a = a, .name = tm->name, .t = toks.v, .n = toks.n, .err = err, .tmpl = tm};
	struct jtok start = {.line = 1, .col = 1};
	struct jnode *body = mk(&p, J_SCOPE, &start);
	body->kids = parse_body(&p, NULL, &body->nkids, NULL);
	if (!body->kids)
		return err ? err->code : -EINVAL;
	if (p.npending)
		return lf_error_set(err, -EINVAL, tm->name, p.pending[0].line, p.pending[0].col, "%s",
				    p.pending[0].msg);
	analyze_frame(a, body, body->kids, body->nkids, NULL, NULL, 0, 0);
	tm->body = body;
	tm->blocks = p.blocks;
	tm->nblocks = p.nblocks;
	*out = tm;
	return 0;
}
