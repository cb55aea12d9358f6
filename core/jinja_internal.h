/* jinja_internal: what the lexer, parser, evaluator and filters of core/jinja share. A parsed
 * template is an immutable tree of `struct jnode` in its own arena, so one parse can serve
 * many renders on many threads at once. */
#ifndef LAVAFS_JINJA_INTERNAL_H
#define LAVAFS_JINJA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "error.h"
#include "jinja.h"
#include "strbuf.h"
#include "value.h"

/* ---- lexer ---- */

enum jtok_kind {
	T_EOF,
	T_DATA,       /* template text between tags */
	T_VAR_BEGIN,  /* {{ */
	T_VAR_END,    /* }} */
	T_BLOCK_BEGIN,
	T_BLOCK_END,
	T_NAME,
	T_STRING,     /* value already unescaped */
	T_INT,
	T_FLOAT,
	T_OP,         /* operator, text in s/len */
};

struct jtok {
	enum jtok_kind kind;
	int line, col;
	const char *s; /* data/name/op/string text (arena, NUL-terminated) */
	size_t len;
	int64_t i;
	double f;
};

struct jtoks {
	struct jtok *v;
	size_t n;
};

/* Tokenize a whole template (newlines already normalized by the caller). */
int jinja_lex(struct arena *a, const char *name, const char *src, size_t len, struct jtoks *out,
	      struct lf_error *err);

/* ---- syntax tree ---- */

enum jnode_kind {
	/* statements */
	J_DATA,
	J_PRINT,
	J_IF,
	J_FOR,
	J_SET,
	J_SETBLOCK,
	J_BLOCK,
	J_EXTENDS,
	J_INCLUDE,
	J_IMPORT,
	J_FROMIMPORT,
	J_MACRO,
	J_CALLBLOCK,
	J_FILTERBLOCK,
	J_WITH,
	J_SCOPE, /* autoescape: just its body */
	/* expressions */
	J_CONST,
	J_NAME,
	J_NSATTR, /* assignment target ns.attr */
	J_LIST,
	J_TUPLE,
	J_DICT,
	J_BINOP,
	J_NEG,
	J_POS,
	J_NOT,
	J_AND,
	J_OR,
	J_COMPARE,
	J_CONCAT,
	J_CONDEXPR,
	J_GETATTR,
	J_GETITEM,
	J_SLICE,
	J_CALL,
	J_FILTER,
	J_TEST,
};

enum jop {
	OP_ADD = 1,
	OP_SUB,
	OP_MUL,
	OP_DIV,
	OP_FLOORDIV,
	OP_MOD,
	OP_POW,
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_IN,
	OP_NOTIN,
};

struct jtemplate;
struct jrender;
struct jnode;

typedef struct value *(*jfilter_fn)(struct jrender *r, const struct jnode *n, struct value *in,
				    struct value **args);

struct jfunc {
	const char *name;
	jfilter_fn fn;
	const char *params[6]; /* parameter names after the input, for keyword binding */
	int nparams;
	bool varkw; /* **kwargs: other keyword arguments arrive as a dict in slot 5 */
};

struct jnode {
	enum jnode_kind kind;
	int line, col;
	int op;
	bool flag;  /* recursive / scoped / ignore missing / with context / negated test */
	bool flag2; /* for: has else; include: with context given */
	struct jnode *a, *b, *c, *d;
	struct jnode **kids; /* body / elements / positional args / compare operands */
	size_t nkids;
	struct jnode **kids2; /* else body / dict values / keyword args / macro defaults */
	size_t nkids2;
	const char **names; /* keyword names / macro params / import names */
	const char **names2; /* import aliases */
	size_t nnames;
	const char *str; /* name / attribute / filter / block name; data text */
	size_t len;
	int *ops;  /* compare operators */
	struct value *val;
	const struct jfunc *fn; /* resolved filter or test (NULL: unknown, fails when run) */
	const struct jtemplate *tmpl;
	/* frames (template body, block, macro, call, for, with, filter and set blocks): names the
	 * frame assigns before anything in it reads them and no enclosing frame knows; jinja2
	 * starts such a name as undefined in the frame, hiding the context's value from nested
	 * frames that run before the assignment */
	const char **undef;
	size_t nundef;
	/* for: the else body is a frame of its own (its undef list; NULL without else) */
	struct jnode *else_frame;
};

struct jtemplate {
	struct arena *arena;
	const char *name;
	struct jnode *body;     /* J_SCOPE-like list in kids */
	struct jnode **blocks;  /* every {% block %} of the template, any depth */
	size_t nblocks;
	bool has_extends;
	/* cache validation */
	long long mtime_ns, size, ino, dev;
	const char *path;
	void *owner; /* the cache entry holding it (jinja.c) */
};

int jinja_parse(struct arena *a, const char *name, const char *src, size_t len,
		struct jtemplate **out, struct lf_error *err);

/* ---- filters, tests, methods (jinja_filters.c) ---- */

const struct jfunc *jinja_filter_find(const char *name);
const struct jfunc *jinja_test_find(const char *name);

/* ---- evaluator services used by the filters ---- */

struct value *jr_error(struct jrender *r, const struct jnode *n, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
struct value *jr_undefined_error(struct jrender *r, const struct jnode *n, const struct value *u);
struct arena *jr_arena(struct jrender *r);
bool jr_failed(struct jrender *r);
struct value *jr_str(struct jrender *r, const struct value *v); /* str(v) as a V_STRING */
/* Iterate v as Python would: list/tuple items, dict keys, string characters, undefined = [].
 * Returns a V_LIST/V_TUPLE (possibly v itself) or NULL (error set: not iterable). */
struct value *jr_iterable(struct jrender *r, const struct jnode *n, struct value *v);
/* The render's max_memory: filters check the size of what they are about to build. */
size_t jr_max_memory(const struct jrender *r);
struct value *jr_getattr(struct jrender *r, const struct jnode *n, struct value *obj,
			 const char *attr, size_t len);
struct value *jr_getitem(struct jrender *r, const struct jnode *n, struct value *obj,
			 struct value *key);
/* Python ordering; sets an error on incomparable types and returns 0. */
int jr_compare(struct jrender *r, const struct jnode *n, const struct value *a,
	       const struct value *b);
struct value *jr_call_value(struct jrender *r, const struct jnode *n, struct value *callee,
			    struct value **args, size_t nargs, const char **kwn,
			    struct value **kwv, size_t nkw);
struct value *jr_apply_filter(struct jrender *r, const struct jnode *n, const char *name,
			      struct value *in, struct value **args, size_t nargs,
			      const struct value *kwargs);
bool jr_markup_filter(const char *name);
bool jr_apply_test(struct jrender *r, const struct jnode *n, const char *name, struct value *in,
		   struct value **args, size_t nargs, const struct value *kwargs, bool *ok);
bool jr_is_callable(const struct value *v);
/* Python's str methods etc.: obj.name(args). *handled false when obj has no such method. */
struct value *jr_call_method(struct jrender *r, const struct jnode *n, struct value *obj,
			     const char *name, struct value **args, size_t nargs, const char **kwn,
			     struct value **kwv, size_t nkw);
bool jr_has_method(const struct value *obj, const char *name);

/* Native object tags (value.u.native.tag). */
enum {
	NT_MACRO = 1,
	NT_METHOD,   /* bound method: ptr -> struct jmethod */
	NT_LOOP,
	NT_NAMESPACE, /* ptr -> V_MAP */
	NT_BLOCKREF,  /* self.NAME / super */
	NT_SELF,
	NT_GLOBAL,    /* range, dict, namespace, lipsum, cycler, joiner */
	NT_MODULE,    /* imported template: ptr -> V_MAP of exports */
	NT_LOOPFN,    /* loop(...) in a recursive for */
	NT_CYCLER,
	NT_JOINER,
	NT_MARKUP,
};

struct jmethod {
	struct value *self;
	const char *name;
};

/* shlex.quote and LAVA's yaml_quote, for the CLI too */
void jinja_html_escape(struct strbuf *sb, const char *s, size_t len);
void jinja_shlex_quote(struct strbuf *sb, const char *s, size_t len);

/* FNV-1a of a variable name: the parser stores it in J_NAME nodes (jnode.op), the
 * evaluator's context index uses the same function. */
static inline uint32_t jinja_name_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* UTF-8 helpers */
size_t jutf8_len(const char *s, size_t len); /* code points */
size_t jutf8_next(const char *s, size_t len, size_t i, uint32_t *cp);
void jutf8_put(struct strbuf *sb, uint32_t cp);

#endif
