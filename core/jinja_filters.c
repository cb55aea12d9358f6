/* jinja_filters: jinja2's builtin filters and tests, the Python str/dict/list methods templates
 * call, '%' formatting, and LAVA's own filters (qemu_guest_fs_interface, shlex_quote,
 * yaml_quote). Each mirrors the Python function it stands for, quirks included, because the
 * output is compared byte for byte with LAVA's server. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja_case.h"
#include "jinja_internal.h"

#define A (jr_arena(r))
struct value *jinja_binop_add(struct jrender *r, const struct jnode *n, struct value *a,
			      struct value *b);
#define FN(name) static struct value *name(struct jrender *r, const struct jnode *n, struct value *in, struct value **args)

/* Lists standing for Python generators (what map, select, unique, batch... return): no len(),
 * not a sequence, consumed by the first iteration. value.line carries the mark. */
#define LAZY_MARK (-5)

static struct value *lazy(struct value *v)
{
	if (v)
		v->line = LAZY_MARK;
	return v;
}

static bool is_lazy(const struct value *v)
{
	return v->kind == V_LIST && (v->line == LAZY_MARK || v->line == -7);
}

/* Python's truth, where a generator is always true */
static bool truthy(const struct value *v)
{
	return is_lazy(v) || value_truthy(v);
}

/* The input of a generator filter: jinja2 only iterates it when the result is consumed, so a
 * value that cannot be iterated gives a generator that fails then (mark -7, the value kept
 * for the message). Returns NULL with *poison set in that case. */
static bool iterable_kind(const struct value *v)
{
	return v->kind == V_LIST || v->kind == V_TUPLE || v->kind == V_MAP ||
	       v->kind == V_STRING || v->kind == V_UNDEFINED ||
	       (v->kind == V_NATIVE && v->u.native.tag == NT_LOOP);
}

static struct value *poisoned(struct jrender *r, struct value *in)
{
	struct value *g = value_list(A);
	value_list_append(A, g, in);
	g->line = -7;
	return g;
}

static struct value *sval(struct jrender *r, struct strbuf *sb)
{
	struct value *v = value_str(A, sb->buf ? sb->buf : "", sb->len);
	strbuf_release(sb);
	return v;
}

static bool is_intlike(const struct value *v)
{
	return v->kind == V_INT || v->kind == V_BOOL;
}

static int64_t ival(const struct value *v)
{
	return v->kind == V_INT ? v->u.i : v->kind == V_BOOL ? v->u.b : (int64_t)v->u.f;
}

static bool arg_true(struct value *v, bool dflt)
{
	return v ? truthy(v) : dflt;
}

static struct value *need_str(struct jrender *r, struct value *v)
{
	return jr_str(r, v);
}

static bool need_int(struct jrender *r, const struct jnode *n, struct value *v, int64_t *out,
		     const char *what)
{
	if (v->kind == V_UNDEFINED) {
		jr_undefined_error(r, n, v);
		return false;
	}
	if (!is_intlike(v)) {
		jr_error(r, n, -EINVAL, "'%s' object cannot be interpreted as an integer (%s)",
			 value_type_name(v), what);
		return false;
	}
	*out = ival(v);
	return true;
}

/* ------------------------------------------------------------ string helpers */

static bool py_space(uint32_t c)
{
	return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f) || c == 0x85 ||
	       c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
	       c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* previous code point start */
static size_t utf8_prev(const char *s, size_t i)
{
	do
		i--;
	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80);
	return i;
}

static bool in_chars(uint32_t c, const struct value *chars)
{
	size_t i = 0;
	while (i < chars->u.str.len) {
		uint32_t d;
		i = jutf8_next(chars->u.str.s, chars->u.str.len, i, &d);
		if (c == d)
			return true;
	}
	return false;
}

static struct value *strip(struct jrender *r, const struct value *s, const struct value *chars,
			   bool left, bool right)
{
	size_t b = 0, e = s->u.str.len;
	if (left)
		while (b < e) {
			uint32_t c;
			size_t nx = jutf8_next(s->u.str.s, e, b, &c);
			if (chars ? !in_chars(c, chars) : !py_space(c))
				break;
			b = nx;
		}
	if (right)
		while (e > b) {
			size_t pv = utf8_prev(s->u.str.s, e);
			/* on invalid UTF-8 a run of continuation bytes can step back past b */
			if (pv < b)
				break;
			uint32_t c;
			jutf8_next(s->u.str.s, s->u.str.len, pv, &c);
			if (chars ? !in_chars(c, chars) : !py_space(c))
				break;
			e = pv;
		}
	/* a string value ends in a NUL: only a tail can share the original's bytes */
	if (e == s->u.str.len)
		return value_str_nocopy(A, s->u.str.s + b, e - b);
	return value_str(A, s->u.str.s + b, e - b);
}

/* Python's case mappings, from core/jinja_case.h (tests/jinja/gen-case.py) */
static const struct jcase_range *case_range(const struct jcase_range *t, size_t n, uint32_t c)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t[mid].end < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && t[lo].start <= c && (c - t[lo].start) % t[lo].stride == 0)
		return &t[lo];
	return NULL;
}

static const char *case_full(const struct jcase_full *t, size_t n, uint32_t c)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t[mid].cp < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && t[lo].cp == c && c ? t[lo].to : NULL;
}

#define CASE_N(t) (sizeof(t) / sizeof((t)[0]))

/* the one-character mappings: what a character is tested against */
static uint32_t case_map(const struct jcase_range *t, size_t n, uint32_t c)
{
	const struct jcase_range *m = case_range(t, n, c);
	return m ? (uint32_t)((int32_t)c + m->delta) : c;
}

static uint32_t cp_lower(uint32_t c)
{
	return case_map(JCASE_LOWER, CASE_N(JCASE_LOWER), c);
}

static uint32_t cp_upper(uint32_t c)
{
	return case_map(JCASE_UPPER, CASE_N(JCASE_UPPER), c);
}

static bool cp_isupper(uint32_t c)
{
	return case_range(JCASE_ISUPPER, CASE_N(JCASE_ISUPPER), c) != NULL;
}

static bool cp_islower(uint32_t c)
{
	return case_range(JCASE_ISLOWER, CASE_N(JCASE_ISLOWER), c) != NULL;
}

/* Python's cased characters: upper, lower or title case */
static bool cp_cased(uint32_t c)
{
	return cp_isupper(c) || cp_islower(c) ||
	       case_range(JCASE_ISTITLE, CASE_N(JCASE_ISTITLE), c) != NULL;
}

static bool cp_ignorable(uint32_t c)
{
	return case_range(JCASE_IGNORABLE, CASE_N(JCASE_IGNORABLE), c) != NULL;
}

/* Python's Final_Sigma: the capital sigma at [at, after) of s[lo, hi) follows a cased
 * letter and precedes none (case-ignorable characters skipped both ways) */
static bool final_sigma(const char *s, size_t lo, size_t hi, size_t at, size_t after)
{
	uint32_t c = 0;
	size_t j = at;
	bool found = false;
	while (j > lo) {
		j = utf8_prev(s, j);
		jutf8_next(s, hi, j, &c);
		if (!cp_ignorable(c)) {
			found = true;
			break;
		}
	}
	if (!found || !cp_cased(c))
		return false;
	for (j = after; j < hi;) {
		j = jutf8_next(s, hi, j, &c);
		if (!cp_ignorable(c))
			return !cp_cased(c);
	}
	return true;
}

enum cmap { M_UPPER, M_LOWER, M_TITLE };

/* appends what Python's str.upper/lower/title makes of c, several characters if need be */
static void put_case(struct strbuf *sb, uint32_t c, enum cmap m)
{
	const char *full = NULL;
	if (m == M_TITLE) {
		full = case_full(JCASE_TITLE_FULL, CASE_N(JCASE_TITLE_FULL), c);
		if (!full && case_range(JCASE_TITLE, CASE_N(JCASE_TITLE), c)) {
			jutf8_put(sb, case_map(JCASE_TITLE, CASE_N(JCASE_TITLE), c));
			return;
		}
		if (!full)
			m = M_UPPER;
	}
	if (m == M_UPPER)
		full = case_full(JCASE_UPPER_FULL, CASE_N(JCASE_UPPER_FULL), c);
	else if (m == M_LOWER)
		full = case_full(JCASE_LOWER_FULL, CASE_N(JCASE_LOWER_FULL), c);
	if (full)
		strbuf_adds(sb, full);
	else
		jutf8_put(sb, m == M_LOWER ? cp_lower(c) : m == M_UPPER ? cp_upper(c) : c);
}

/* lower case of the character at [at, after) of s[lo, hi), final sigma included */
static void put_lower(struct strbuf *sb, const char *s, size_t lo, size_t hi, size_t at,
		      size_t after, uint32_t c)
{
	if (c == 0x3a3 && final_sigma(s, lo, hi, at, after))
		jutf8_put(sb, 0x3c2);
	else
		put_case(sb, c, M_LOWER);
}

static bool cp_alpha(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= 0xc0 && c != 0xd7 && c != 0xf7 && c < 0x2000);
}

static bool cp_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

static bool cp_word(uint32_t c)
{
	return cp_alpha(c) || cp_digit(c) || c == '_';
}

enum casemode { C_LOWER, C_UPPER, C_SWAP };

static struct value *map_case(struct jrender *r, const struct value *s, enum casemode m)
{
	/* ASCII strings that would not change are returned as they are */
	bool ascii = true, changes = false;
	for (size_t i = 0; i < s->u.str.len && ascii; i++) {
		unsigned char c = (unsigned char)s->u.str.s[i];
		if (c >= 0x80)
			ascii = false;
		else if ((m != C_UPPER && c >= 'A' && c <= 'Z') || (m != C_LOWER && c >= 'a' && c <= 'z'))
			changes = true;
	}
	if (ascii && !changes)
		return (struct value *)s;
	struct strbuf sb = STRBUF_INIT;
	size_t i = 0;
	const char *p = s->u.str.s;
	size_t len = s->u.str.len;
	while (i < len) {
		uint32_t c;
		size_t at = i;
		i = jutf8_next(p, len, i, &c);
		if (m == C_LOWER)
			put_lower(&sb, p, 0, len, at, i, c);
		else if (m == C_UPPER)
			put_case(&sb, c, M_UPPER);
		else if (cp_isupper(c)) /* str.swapcase */
			put_lower(&sb, p, 0, len, at, i, c);
		else if (cp_islower(c))
			put_case(&sb, c, M_UPPER);
		else
			jutf8_put(&sb, c);
	}
	return sval(r, &sb);
}

static struct value *capitalize(struct jrender *r, const struct value *s)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i = 0;
	bool first = true;
	while (i < s->u.str.len) {
		uint32_t c;
		size_t at = i;
		i = jutf8_next(s->u.str.s, s->u.str.len, i, &c);
		if (first) /* Python 3.8+: title case first */
			put_case(&sb, c, M_TITLE);
		else
			put_lower(&sb, s->u.str.s, 0, s->u.str.len, at, i, c);
		first = false;
	}
	return sval(r, &sb);
}

/* Python's str.title(): a letter after a non-letter is upper, others lower. */
static struct value *py_title(struct jrender *r, const struct value *s)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i = 0;
	bool prev_cased = false;
	while (i < s->u.str.len) {
		uint32_t c;
		size_t at = i;
		i = jutf8_next(s->u.str.s, s->u.str.len, i, &c);
		bool cased = cp_cased(c);
		if (cased && prev_cased)
			put_lower(&sb, s->u.str.s, 0, s->u.str.len, at, i, c);
		else if (cased)
			put_case(&sb, c, M_TITLE);
		else
			jutf8_put(&sb, c);
		prev_cased = cased;
	}
	return sval(r, &sb);
}

static size_t cp_count(const struct value *s)
{
	return jutf8_len(s->u.str.s, s->u.str.len);
}

/* str.split(sep, maxsplit) / rsplit */
static struct value *split(struct jrender *r, const struct jnode *n, const struct value *s,
			   const struct value *sep, int64_t maxsplit, bool from_right)
{
	struct value *l = value_list(A);
	const char *p = s->u.str.s;
	size_t len = s->u.str.len;
	if (!sep || sep->kind == V_NONE) {
		/* whitespace runs */
		struct value *parts = value_list(A);
		size_t i = 0;
		if (!from_right) {
			int64_t splits = 0;
			while (i < len) {
				uint32_t c;
				size_t nx = jutf8_next(p, len, i, &c);
				if (py_space(c)) {
					i = nx;
					continue;
				}
				if (maxsplit >= 0 && splits >= maxsplit) {
					/* the rest as it is, trailing whitespace included */
					value_list_append(A, l, value_str(A, p + i, len - i));
					break;
				}
				size_t st = i;
				while (i < len) {
					nx = jutf8_next(p, len, i, &c);
					if (py_space(c))
						break;
					i = nx;
				}
				value_list_append(A, l, value_str(A, p + st, i - st));
				splits++;
			}
			return l;
		}
		size_t e = len;
		int64_t splits = 0;
		while (e > 0) {
			size_t pv = utf8_prev(p, e);
			uint32_t c;
			jutf8_next(p, len, pv, &c);
			if (py_space(c)) {
				e = pv;
				continue;
			}
			if (maxsplit >= 0 && splits >= maxsplit) {
				/* the rest as it is, leading whitespace included */
				value_list_append(A, parts, value_str(A, p, e));
				break;
			}
			size_t en = e;
			while (e > 0) {
				pv = utf8_prev(p, e);
				jutf8_next(p, len, pv, &c);
				if (py_space(c))
					break;
				e = pv;
			}
			value_list_append(A, parts, value_str(A, p + e, en - e));
			splits++;
		}
		for (size_t k = parts->u.list.len; k-- > 0;)
			value_list_append(A, l, parts->u.list.items[k]);
		return l;
	}
	if (sep->kind != V_STRING)
		return jr_error(r, n, -EINVAL, "must be str or None, not %s", value_type_name(sep));
	if (sep->u.str.len == 0)
		return jr_error(r, n, -EINVAL, "empty separator");
	size_t sl = sep->u.str.len;
	if (!from_right) {
		size_t st = 0;
		int64_t splits = 0;
		for (;;) {
			const char *hit = (maxsplit < 0 || splits < maxsplit)
						  ? memmem(p + st, len - st, sep->u.str.s, sl)
						  : NULL;
			if (!hit) {
				value_list_append(A, l, value_str(A, p + st, len - st));
				return l;
			}
			size_t h = (size_t)(hit - p);
			value_list_append(A, l, value_str(A, p + st, h - st));
			st = h + sl;
			splits++;
		}
	}
	struct value *parts = value_list(A);
	size_t e = len;
	int64_t splits = 0;
	for (;;) {
		size_t found = (size_t)-1;
		if ((maxsplit < 0 || splits < maxsplit) && e >= sl)
			for (size_t k = e - sl + 1; k-- > 0;)
				if (!memcmp(p + k, sep->u.str.s, sl)) {
					found = k;
					break;
				}
		if (found == (size_t)-1) {
			value_list_append(A, parts, value_str(A, p, e));
			break;
		}
		value_list_append(A, parts, value_str(A, p + found + sl, e - found - sl));
		e = found;
		splits++;
	}
	for (size_t k = parts->u.list.len; k-- > 0;)
		value_list_append(A, l, parts->u.list.items[k]);
	return l;
}

/* A string the render is about to build would exceed max_memory: fail before allocating. */
#define WIDTH_MAX 100000000 /* digits of a format width/precision are capped here */
static struct value *too_big(struct jrender *r, const struct jnode *n)
{
	return jr_error(r, n, -ENOMEM,
			"the result would be larger than the render's memory limit of %zu bytes "
			"(max_memory)",
			jr_max_memory(r));
}
#define SB_GUARD(sb)                                                                       \
	do {                                                                               \
		if ((sb).len > jr_max_memory(r)) {                                       \
			strbuf_release(&(sb));                                             \
			return too_big(r, n);                                              \
		}                                                                          \
	} while (0)

static struct value *str_replace(struct jrender *r, const struct jnode *n, const struct value *s,
				 const struct value *old, const struct value *new, int64_t count)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = s->u.str.s;
	size_t len = s->u.str.len, ol = old->u.str.len;
	int64_t done = 0;
	if (ol == 0) {
		/* inserts `new` before every character and at the end */
		size_t i = 0;
		while (i <= len) {
			if (count < 0 || done < count) {
				strbuf_add(&sb, new->u.str.s, new->u.str.len);
				done++;
				SB_GUARD(sb);
			}
			if (i == len)
				break;
			uint32_t c;
			size_t nx = jutf8_next(p, len, i, &c);
			strbuf_add(&sb, p + i, nx - i);
			i = nx;
		}
		return sval(r, &sb);
	}
	size_t i = 0;
	while (i < len) {
		const char *hit = (count < 0 || done < count) ? memmem(p + i, len - i, old->u.str.s, ol)
							       : NULL;
		if (!hit)
			break;
		strbuf_add(&sb, p + i, (size_t)(hit - p) - i);
		strbuf_add(&sb, new->u.str.s, new->u.str.len);
		i = (size_t)(hit - p) + ol;
		done++;
		SB_GUARD(sb);
	}
	strbuf_add(&sb, p + i, len - i);
	return sval(r, &sb);
}

/* Python str.splitlines() boundaries */
static size_t line_break(const char *s, size_t len, size_t i, size_t *brk_len)
{
	uint32_t c;
	size_t nx = jutf8_next(s, len, i, &c);
	if (c == '\r' && nx < len && s[nx] == '\n') {
		*brk_len = 2;
		return 1;
	}
	if (c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d ||
	    c == 0x1e || c == 0x85 || c == 0x2028 || c == 0x2029) {
		*brk_len = nx - i;
		return 1;
	}
	return 0;
}

static struct value *splitlines(struct jrender *r, const struct value *s, bool keepends)
{
	struct value *l = value_list(A);
	const char *p = s->u.str.s;
	size_t len = s->u.str.len, st = 0, i = 0;
	while (i < len) {
		size_t bl;
		if (line_break(p, len, i, &bl)) {
			value_list_append(A, l, value_str(A, p + st, (keepends ? i + bl : i) - st));
			i += bl;
			st = i;
			continue;
		}
		uint32_t c;
		i = jutf8_next(p, len, i, &c);
	}
	if (st < len)
		value_list_append(A, l, value_str(A, p + st, len - st));
	return l;
}

static struct value *pad(struct jrender *r, const struct jnode *n, const struct value *s,
			 int64_t width, char align, const char *fill, size_t fill_len)
{
	int64_t len = (int64_t)cp_count(s);
	if (width <= len)
		return (struct value *)s;
	if ((uint64_t)width > jr_max_memory(r) / (fill_len ? fill_len : 1))
		return too_big(r, n);
	int64_t marg = width - len, left;
	if (align == '<')
		left = 0;
	else if (align == '>')
		left = marg;
	else
		left = marg / 2 + (marg & width & 1);
	struct strbuf sb = STRBUF_INIT;
	for (int64_t k = 0; k < left; k++)
		strbuf_add(&sb, fill, fill_len);
	strbuf_add(&sb, s->u.str.s, s->u.str.len);
	for (int64_t k = left; k < marg; k++)
		strbuf_add(&sb, fill, fill_len);
	return sval(r, &sb);
}

/* ------------------------------------------------------------ '%' and str.format */

static bool parse_int_str(const char *s, size_t len, int base, int64_t *out);
static bool parse_float_str(const char *s, size_t len, double *out);

static void fmt_number(struct strbuf *sb, const char *flags, int width, int prec, char type,
		       const struct value *v)
{
	char f[64];
	int k = 0;
	f[k++] = '%';
	for (const char *p = flags; *p && k < 40; p++)
		f[k++] = *p;
	f[k] = '\0';
	char tmp[32];
	if (width >= 0) {
		snprintf(tmp, sizeof(tmp), "%d", width);
		strcat(f, tmp);
	}
	if (prec >= 0) {
		snprintf(tmp, sizeof(tmp), ".%d", prec);
		strcat(f, tmp);
	}
	size_t fl = strlen(f);
	if (strchr("diu", type)) {
		f[fl] = 'l';
		f[fl + 1] = 'l';
		f[fl + 2] = 'd';
		f[fl + 3] = '\0';
		strbuf_addf(sb, f, (long long)ival(v));
	} else if (strchr("xXo", type)) {
		long long x = ival(v);
		bool neg = x < 0;
		f[fl] = 'l';
		f[fl + 1] = 'l';
		f[fl + 2] = type;
		f[fl + 3] = '\0';
		if (neg) {
			/* Python prints -0x1f, C prints the two's complement */
			struct strbuf t = STRBUF_INIT;
			strbuf_addf(&t, f, (unsigned long long)(-x));
			strbuf_addc(sb, '-');
			strbuf_add(sb, t.buf, t.len);
			strbuf_release(&t);
		} else {
			strbuf_addf(sb, f, (unsigned long long)x);
		}
	} else {
		double d = v->kind == V_FLOAT ? v->u.f : (double)ival(v);
		if (isinf(d) || isnan(d)) {
			const char *s = isnan(d) ? "nan" : d < 0 ? "-inf" : "inf";
			if (type == 'F' || type == 'E' || type == 'G')
				s = isnan(d) ? "NAN" : d < 0 ? "-INF" : "INF";
			int pw = width - (int)strlen(s);
			bool left = strchr(flags, '-') != NULL;
			for (int i = 0; !left && i < pw; i++)
				strbuf_addc(sb, ' ');
			strbuf_adds(sb, s);
			for (int i = 0; left && i < pw; i++)
				strbuf_addc(sb, ' ');
			return;
		}
		f[fl] = type;
		f[fl + 1] = '\0';
		strbuf_addf(sb, f, d);
	}
}

static void pad_str(struct strbuf *sb, const struct value *s, int width, int prec, bool left)
{
	size_t n = s->u.str.len;
	if (prec >= 0) {
		/* precision counts characters */
		size_t i = 0;
		int k = 0;
		while (i < n && k < prec) {
			uint32_t c;
			i = jutf8_next(s->u.str.s, n, i, &c);
			k++;
		}
		n = i;
	}
	int len = (int)jutf8_len(s->u.str.s, n);
	for (int i = len; !left && i < width; i++)
		strbuf_addc(sb, ' ');
	strbuf_add(sb, s->u.str.s, n);
	for (int i = len; left && i < width; i++)
		strbuf_addc(sb, ' ');
}

struct value *jinja_percent_format(struct jrender *r, const struct jnode *n,
				   const struct value *fmt, struct value *args);

struct value *jinja_percent_format(struct jrender *r, const struct jnode *n,
				   const struct value *fmt, struct value *args)
{
	struct value **items;
	size_t nitems, used = 0;
	struct value *single[1];
	if (args->kind == V_TUPLE) {
		items = args->u.list.items;
		nitems = args->u.list.len;
	} else {
		single[0] = args;
		items = single;
		nitems = 1;
	}
	bool mapping = args->kind == V_MAP;
	bool undef = args->kind == V_UNDEFINED; /* passes for a mapping, fails when read */
	bool used_map = false;
	struct strbuf sb = STRBUF_INIT;
	const char *p = fmt->u.str.s, *end = p + fmt->u.str.len;
	while (p < end) {
		const char *pc = memchr(p, '%', (size_t)(end - p));
		if (!pc) {
			strbuf_add(&sb, p, (size_t)(end - p));
			break;
		}
		strbuf_add(&sb, p, (size_t)(pc - p));
		p = pc + 1;
		struct value *arg = NULL;
		if (p < end && *p == '(' && undef) {
			strbuf_release(&sb);
			return jr_undefined_error(r, n, args);
		}
		if (p < end && *p == '(') {
			const char *e = memchr(p, ')', (size_t)(end - p));
			if (!e || !mapping) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, e ? "format requires a mapping"
							      : "incomplete format key");
			}
			struct value *key = value_str(A, p + 1, (size_t)(e - p - 1));
			arg = value_map_get(args, key);
			if (!arg) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "KeyError: '%s'", key->u.str.s);
			}
			used_map = true;
			p = e + 1;
		}
		char flags[8];
		int nf = 0;
		while (p < end && strchr("-+ #0", *p) && nf < 7)
			flags[nf++] = *p++;
		flags[nf] = '\0';
		int width = -1, prec = -1;
		if (p < end && *p == '*') {
			if (used >= nitems || !is_intlike(items[used])) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "* wants int");
			}
			width = (int)ival(items[used++]);
			p++;
		}
		while (p < end && *p >= '0' && *p <= '9') {
			width = (width < 0 ? 0 : width) * 10 + (*p++ - '0');
			if (width > WIDTH_MAX) {
				strbuf_release(&sb);
				return too_big(r, n);
			}
		}
		if (p < end && *p == '.') {
			p++;
			prec = 0;
			while (p < end && *p >= '0' && *p <= '9') {
				prec = prec * 10 + (*p++ - '0');
				if (prec > WIDTH_MAX) {
					strbuf_release(&sb);
					return too_big(r, n);
				}
			}
		}
		while (p < end && strchr("hlL", *p))
			p++;
		if (p >= end) {
			strbuf_release(&sb);
			return jr_error(r, n, -EINVAL, "incomplete format");
		}
		char type = *p++;
		if (type == '%') {
			strbuf_addc(&sb, '%');
			continue;
		}
		if (!arg) {
			if (mapping && nitems == 1 && args->kind == V_MAP) {
				arg = args;
				used = 1;
			} else if (used >= nitems) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "not enough arguments for format string");
			} else {
				arg = items[used++];
			}
		}
		bool left = strchr(flags, '-') != NULL;
		switch (type) {
		case 's':
		case 'r':
		case 'a': {
			if (arg->kind == V_UNDEFINED && type != 's') {
				strbuf_release(&sb);
				return jr_undefined_error(r, n, arg);
			}
			struct strbuf t = STRBUF_INIT;
			if (type == 's')
				value_to_str(&t, arg);
			else
				value_repr(&t, arg);
			struct value *sv = value_str(A, t.buf ? t.buf : "", t.len);
			strbuf_release(&t);
			pad_str(&sb, sv, width, prec, left);
			break;
		}
		case 'c': {
			struct value *sv = arg;
			if (is_intlike(arg)) {
				struct strbuf t = STRBUF_INIT;
				jutf8_put(&t, (uint32_t)ival(arg));
				sv = sval(r, &t);
			} else if (arg->kind != V_STRING || cp_count(arg) != 1) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "%%c requires int or char");
			}
			pad_str(&sb, sv, width, -1, left);
			break;
		}
		case 'd': case 'i': case 'u': case 'x': case 'X': case 'o':
		case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
			if (arg->kind == V_UNDEFINED) {
				strbuf_release(&sb);
				return jr_undefined_error(r, n, arg);
			}
			if (arg->kind != V_INT && arg->kind != V_BOOL && arg->kind != V_FLOAT) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "%%%c format: a real number is required, not %s",
						type, value_type_name(arg));
			}
			if (strchr("xXo", type) && arg->kind == V_FLOAT) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "%%%c format: an integer is required, not float", type);
			}
			struct value iv = *arg;
			if (strchr("diu", type) && arg->kind == V_FLOAT) {
				if (isnan(arg->u.f) || isinf(arg->u.f)) {
					strbuf_release(&sb);
					return jr_error(r, n, -EINVAL, "cannot convert float to integer");
				}
				iv.kind = V_INT;
				iv.u.i = (int64_t)arg->u.f;
			}
			if (type == 'u')
				type = 'd';
			if (strchr("xXo", type) && strchr(flags, '#')) {
				/* Python's alternate forms are 0x / 0o */
				char fl2[8];
				int k = 0;
				for (int i = 0; flags[i]; i++)
					if (flags[i] != '#')
						fl2[k++] = flags[i];
				fl2[k] = '\0';
				struct strbuf t = STRBUF_INIT;
				fmt_number(&t, fl2, -1, prec, type, &iv);
				const char *pre = type == 'o' ? "0o" : type == 'x' ? "0x" : "0X";
				struct strbuf u = STRBUF_INIT;
				if (t.buf[0] == '-') {
					strbuf_addc(&u, '-');
					strbuf_adds(&u, pre);
					strbuf_adds(&u, t.buf + 1);
				} else {
					strbuf_adds(&u, pre);
					strbuf_adds(&u, t.buf);
				}
				strbuf_release(&t);
				struct value *sv = sval(r, &u);
				pad_str(&sb, sv, width, -1, left);
				break;
			}
			fmt_number(&sb, flags, width, prec, type, &iv);
			break;
		}
		default:
			strbuf_release(&sb);
			return jr_error(r, n, -EINVAL, "unsupported format character '%c'", type);
		}
	}
	/* Python skips this check for any argument with __getitem__ but a tuple or a str (lists
	 * too, not generators) */
	bool getitem = mapping || undef || (args->kind == V_LIST && !is_lazy(args));
	if (!used_map && used < nitems && !getitem) {
		strbuf_release(&sb);
		return jr_error(r, n, -EINVAL, "not all arguments converted during string formatting");
	}
	return sval(r, &sb);
}

/* One replacement field's format spec, for str.format. */
static bool format_spec(struct jrender *r, const struct jnode *n, struct strbuf *sb,
			struct value *v, const char *spec, size_t slen)
{
	const char *p = spec, *e = spec + slen;
	char fill[5] = " ";
	size_t fill_len = 1;
	char align = 0, sign = 0, type = 0;
	bool alt = false, zero = false, comma = false;
	int width = -1, prec = -1;
	if (p < e) {
		uint32_t c;
		size_t nx = jutf8_next(p, (size_t)(e - p), 0, &c);
		if (p + nx < e && strchr("<>^=", p[nx])) {
			memcpy(fill, p, nx);
			fill_len = nx;
			align = p[nx];
			p += nx + 1;
		} else if (strchr("<>^=", *p)) {
			align = *p++;
		}
	}
	if (p < e && strchr("+- ", *p))
		sign = *p++;
	if (p < e && *p == '#') {
		alt = true;
		p++;
	}
	if (p < e && *p == '0') {
		zero = true;
		p++;
	}
	while (p < e && *p >= '0' && *p <= '9') {
		width = (width < 0 ? 0 : width) * 10 + (*p++ - '0');
		if (width > WIDTH_MAX || (size_t)width > jr_max_memory(r)) {
			too_big(r, n);
			return false;
		}
	}
	if (p < e && (*p == ',' || *p == '_')) {
		comma = true;
		p++;
	}
	if (p < e && *p == '.') {
		p++;
		prec = 0;
		while (p < e && *p >= '0' && *p <= '9') {
			prec = prec * 10 + (*p++ - '0');
			if (prec > WIDTH_MAX) {
				too_big(r, n);
				return false;
			}
		}
	}
	if (p < e)
		type = *p++;
	if (p != e || comma) {
		jr_error(r, n, -EINVAL, "unsupported format specifier '%.*s'", (int)slen, spec);
		return false;
	}
	struct value *s;
	bool numeric = v->kind == V_INT || v->kind == V_BOOL || v->kind == V_FLOAT;
	if (v->kind == V_STRING || (!numeric && !type)) {
		if (type && type != 's') {
			jr_error(r, n, -EINVAL, "Unknown format code '%c' for object of type '%s'", type,
				 value_type_name(v));
			return false;
		}
		s = jr_str(r, v);
		if (prec >= 0) {
			struct strbuf t = STRBUF_INIT;
			pad_str(&t, s, -1, prec, false);
			s = sval(r, &t);
		}
		if (!align)
			align = '<';
	} else if (numeric) {
		struct strbuf t = STRBUF_INIT;
		char flags[4] = {0};
		int k = 0;
		if (sign == '+' || sign == ' ')
			flags[k++] = sign;
		if (alt)
			flags[k++] = '#';
		if (!type && v->kind == V_FLOAT) {
			if (prec < 0) {
				if (sign == '+' && v->u.f >= 0)
					strbuf_addc(&t, '+');
				value_float_repr(&t, v->u.f);
			} else {
				fmt_number(&t, flags, -1, prec ? prec : 1, 'g', v);
			}
		} else if (!type || type == 'd' || type == 'n') {
			if (v->kind == V_FLOAT) {
				strbuf_release(&t);
				jr_error(r, n, -EINVAL, "Unknown format code 'd' for object of type 'float'");
				return false;
			}
			fmt_number(&t, flags, -1, -1, 'd', v);
		} else if (strchr("xXob", type)) {
			if (v->kind == V_FLOAT) {
				strbuf_release(&t);
				jr_error(r, n, -EINVAL, "Unknown format code '%c' for object of type 'float'", type);
				return false;
			}
			if (type == 'b') {
				int64_t x = ival(v);
				uint64_t ux = x < 0 ? (uint64_t)(-x) : (uint64_t)x;
				char bits[70];
				int bn = 0;
				do {
					bits[bn++] = (char)('0' + (ux & 1));
					ux >>= 1;
				} while (ux);
				if (x < 0)
					strbuf_addc(&t, '-');
				else if (sign == '+')
					strbuf_addc(&t, '+');
				if (alt)
					strbuf_adds(&t, "0b");
				while (bn--)
					strbuf_addc(&t, bits[bn]);
			} else {
				struct value iv = *v;
				fmt_number(&t, "", -1, -1, type, &iv);
				if (alt) {
					struct strbuf u = STRBUF_INIT;
					bool neg = t.buf[0] == '-';
					if (neg)
						strbuf_addc(&u, '-');
					strbuf_adds(&u, type == 'o' ? "0o" : type == 'x' ? "0x" : "0X");
					strbuf_adds(&u, t.buf + neg);
					strbuf_release(&t);
					t = u;
				}
			}
		} else if (strchr("fFeEgG%", type)) {
			struct value fv = *v;
			if (fv.kind != V_FLOAT) {
				fv.u.f = (double)ival(v);
				fv.kind = V_FLOAT;
			}
			if (type == '%') {
				fv.u.f *= 100;
				fmt_number(&t, flags, -1, prec < 0 ? 6 : prec, 'f', &fv);
				strbuf_addc(&t, '%');
			} else {
				fmt_number(&t, flags, -1, prec < 0 ? 6 : prec, type, &fv);
			}
		} else if (type == 's') {
			strbuf_release(&t);
			jr_error(r, n, -EINVAL, "Unknown format code 's' for object of type '%s'",
				 value_type_name(v));
			return false;
		} else {
			strbuf_release(&t);
			jr_error(r, n, -EINVAL, "Unknown format code '%c'", type);
			return false;
		}
		s = sval(r, &t);
		if (zero && !align) {
			/* zero padding goes after the sign */
			int64_t len = (int64_t)cp_count(s);
			if (width > len) {
				struct strbuf u = STRBUF_INIT;
				const char *q = s->u.str.s;
				if (*q == '-' || *q == '+' || *q == ' ')
					strbuf_addc(&u, *q++);
				for (int64_t k2 = len; k2 < width; k2++)
					strbuf_addc(&u, '0');
				strbuf_adds(&u, q);
				s = sval(r, &u);
			}
		}
		if (!align)
			align = '>';
	} else {
		jr_error(r, n, -EINVAL, "unsupported format string passed to %s.__format__",
			 value_type_name(v));
		return false;
	}
	if (align == '=')
		align = '>';
	struct value *padded = pad(r, n, s, width, align, fill, fill_len);
	strbuf_add(sb, padded->u.str.s, padded->u.str.len);
	return true;
}

static struct value *str_format(struct jrender *r, const struct jnode *n, const struct value *fmt,
				struct value **args, size_t nargs, const char **kwn,
				struct value **kwv, size_t nkw)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = fmt->u.str.s, *end = p + fmt->u.str.len;
	size_t autoidx = 0;
	while (p < end) {
		char c = *p;
		if (c == '}') {
			if (p + 1 < end && p[1] == '}') {
				strbuf_addc(&sb, '}');
				p += 2;
				continue;
			}
			strbuf_release(&sb);
			return jr_error(r, n, -EINVAL, "Single '}' encountered in format string");
		}
		if (c != '{') {
			strbuf_addc(&sb, c);
			p++;
			continue;
		}
		if (p + 1 < end && p[1] == '{') {
			strbuf_addc(&sb, '{');
			p += 2;
			continue;
		}
		const char *q = p + 1;
		int depth = 1;
		while (q < end && depth) {
			if (*q == '{')
				depth++;
			else if (*q == '}')
				depth--;
			if (depth)
				q++;
		}
		if (q >= end) {
			strbuf_release(&sb);
			return jr_error(r, n, -EINVAL, "expected '}' before end of string");
		}
		/* field [!conv] [:spec] */
		const char *f = p + 1, *fe = f;
		while (fe < q && *fe != '!' && *fe != ':' && *fe != '.' && *fe != '[')
			fe++;
		struct value *v;
		if (fe == f) {
			if (autoidx >= nargs) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "Replacement index %zu out of range for positional args tuple", autoidx);
			}
			v = args[autoidx++];
		} else if (*f >= '0' && *f <= '9') {
			size_t idx = (size_t)strtoul(f, NULL, 10);
			if (idx >= nargs) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "Replacement index %zu out of range for positional args tuple", idx);
			}
			v = args[idx];
		} else {
			v = NULL;
			for (size_t k = 0; k < nkw; k++)
				if (strlen(kwn[k]) == (size_t)(fe - f) && !memcmp(kwn[k], f, (size_t)(fe - f)))
					v = kwv[k];
			if (!v) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "KeyError: '%.*s'", (int)(fe - f), f);
			}
		}
		while (fe < q && (*fe == '.' || *fe == '[')) {
			/* the sandbox's getattr/getitem give an Undefined for a missing or unsafe
			 * attribute; only going further into it fails */
			if (v->kind == V_UNDEFINED) {
				strbuf_release(&sb);
				return jr_undefined_error(r, n, v);
			}
			if (*fe == '.') {
				const char *a0 = ++fe;
				while (fe < q && *fe != '!' && *fe != ':' && *fe != '.' && *fe != '[')
					fe++;
				char *attr = arena_strndup(A, a0, (size_t)(fe - a0));
				v = jr_getattr(r, n, v, attr, strlen(attr));
			} else {
				const char *a0 = ++fe;
				while (fe < q && *fe != ']')
					fe++;
				char *key = arena_strndup(A, a0, (size_t)(fe - a0));
				fe++;
				char *endp;
				long long iv = strtoll(key, &endp, 10);
				v = jr_getitem(r, n, v, *key && !*endp ? value_int(A, iv) : value_cstr(A, key));
			}
			if (!v) {
				strbuf_release(&sb);
				return NULL;
			}
		}
		char conv = 0;
		if (fe < q && *fe == '!') {
			conv = fe[1];
			fe += 2;
		}
		const char *spec = fe < q && *fe == ':' ? fe + 1 : q;
		if (v->kind == V_UNDEFINED && conv != 'r' && conv != 'a') {
			/* object.__format__: str() for an empty spec, else a TypeError */
			if (spec != q) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "unsupported format string passed to Undefined.__format__");
			}
			p = q + 1;
			continue;
		}
		if (conv == 'r' || conv == 'a') {
			struct strbuf t = STRBUF_INIT;
			value_repr(&t, v);
			v = sval(r, &t);
		} else if (conv == 's') {
			v = jr_str(r, v);
		}
		if (!format_spec(r, n, &sb, v, spec, (size_t)(q - spec))) {
			strbuf_release(&sb);
			return NULL;
		}
		p = q + 1;
	}
	return sval(r, &sb);
}

/* ------------------------------------------------------------ methods */

static struct value *tuple2(struct jrender *r, struct value *a, struct value *b)
{
	struct value *t = value_tuple(A);
	value_list_append(A, t, a);
	value_list_append(A, t, b);
	return t;
}

static bool str_arg(struct jrender *r, const struct jnode *n, struct value *v, const char *what)
{
	if (!v || v->kind != V_STRING) {
		jr_error(r, n, -EINVAL, "%s: must be str, not %s", what, v ? value_type_name(v) : "nothing");
		return false;
	}
	return true;
}

/* index range [start, end) for str.find/count/startswith with optional start/end args */
static void str_range(struct jrender *r, const struct value *s, struct value **args, size_t nargs,
		      size_t first, size_t *b, size_t *e)
{
	size_t cnt;
	size_t len = s->u.str.len;
	*b = 0;
	*e = len;
	if (nargs <= first)
		return;
	cnt = cp_count(s);
	int64_t st = 0, en = (int64_t)cnt;
	if (nargs > first && is_intlike(args[first]))
		st = ival(args[first]);
	if (nargs > first + 1 && is_intlike(args[first + 1]))
		en = ival(args[first + 1]);
	if (st < 0)
		st += (int64_t)cnt;
	if (en < 0)
		en += (int64_t)cnt;
	if (st < 0)
		st = 0;
	if (en > (int64_t)cnt)
		en = (int64_t)cnt;
	/* convert code point indexes to byte offsets */
	size_t i = 0, k = 0;
	*b = len;
	*e = len;
	while (true) {
		if ((int64_t)k == st)
			*b = i;
		if ((int64_t)k == en)
			*e = i;
		if (i >= len)
			break;
		uint32_t c;
		i = jutf8_next(s->u.str.s, len, i, &c);
		k++;
	}
	if (en < st)
		*e = *b;
	(void)r;
}

static int64_t cp_index_of(const struct value *s, size_t byte)
{
	return (int64_t)jutf8_len(s->u.str.s, byte);
}

static struct value *str_method(struct jrender *r, const struct jnode *n, struct value *s,
				const char *m, struct value **args, size_t nargs, const char **kwn,
				struct value **kwv, size_t nkw)
{
	struct value *a0 = nargs > 0 ? args[0] : NULL, *a1 = nargs > 1 ? args[1] : NULL;
	if (!strcmp(m, "format"))
		return str_format(r, n, s, args, nargs, kwn, kwv, nkw);
	if (!strcmp(m, "format_map")) {
		/* the sandbox's wrapper: one mapping, no keywords, fields looked up in it */
		if (nkw)
			return jr_error(r, n, -EINVAL, "format_map() takes no keyword arguments");
		if (nargs != 1)
			return jr_error(r, n, -EINVAL, "format_map() takes exactly one argument (%zu given)", nargs);
		if (a0->kind != V_MAP)
			return jr_error(r, n, -EINVAL, "'%s' object is not subscriptable", value_type_name(a0));
		size_t cnt = a0->u.map.len;
		const char **names = arena_alloc(A, (cnt ? cnt : 1) * sizeof(*names));
		struct value **vals = arena_alloc(A, (cnt ? cnt : 1) * sizeof(*vals));
		size_t k = 0;
		for (size_t i = 0; i < cnt; i++) {
			const struct value *key = a0->u.map.keys[i];
			if (key->kind != V_STRING || memchr(key->u.str.s, 0, key->u.str.len))
				continue;
			names[k] = key->u.str.s;
			vals[k++] = a0->u.map.vals[i];
		}
		return str_format(r, n, s, NULL, 0, names, vals, k);
	}
	for (size_t k = 0; k < nkw; k++) {
		if (!strcmp(kwn[k], "sep") && !a0)
			a0 = kwv[k];
		else if (!strcmp(kwn[k], "maxsplit") && !a1)
			a1 = kwv[k];
		else if (!strcmp(kwn[k], "keepends") && !a0)
			a0 = kwv[k];
		else
			return jr_error(r, n, -EINVAL, "%s() got an unexpected keyword argument '%s'", m,
					kwn[k]);
	}
	/* the start and end of startswith, find, count, index...: integers or None */
	static const char *const RANGED[] = {"startswith", "endswith", "count", "find", "rfind",
					     "index", "rindex", NULL};
	for (size_t i = 0; RANGED[i]; i++)
		if (!strcmp(m, RANGED[i]))
			for (size_t k = 1; k < nargs; k++)
				if (!is_intlike(args[k]) && args[k]->kind != V_NONE)
					return jr_error(r, n, -EINVAL,
							"slice indices must be integers or None or "
							"have an __index__ method");
	if (!strcmp(m, "splitlines") && a0 && !is_intlike(a0))
		return jr_error(r, n, -EINVAL, "'%s' object cannot be interpreted as an integer",
				value_type_name(a0));
	if (!strcmp(m, "upper"))
		return map_case(r, s, C_UPPER);
	if (!strcmp(m, "lower") || !strcmp(m, "casefold"))
		return map_case(r, s, C_LOWER);
	if (!strcmp(m, "swapcase"))
		return map_case(r, s, C_SWAP);
	if (!strcmp(m, "title"))
		return py_title(r, s);
	if (!strcmp(m, "capitalize"))
		return capitalize(r, s);
	if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip")) {
		if (a0 && a0->kind != V_NONE && !str_arg(r, n, a0, m))
			return NULL;
		return strip(r, s, a0 && a0->kind == V_STRING ? a0 : NULL, m[0] != 'r', m[0] != 'l');
	}
	if (!strcmp(m, "split") || !strcmp(m, "rsplit")) {
		int64_t maxsplit = -1;
		if (a1 && !need_int(r, n, a1, &maxsplit, "maxsplit"))
			return NULL;
		return split(r, n, s, a0, maxsplit, m[0] == 'r');
	}
	if (!strcmp(m, "splitlines"))
		return splitlines(r, s, a0 && value_truthy(a0));
	if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) {
		if (!a0)
			return jr_error(r, n, -EINVAL, "%s() takes at least 1 argument", m);
		size_t b, e;
		str_range(r, s, args, nargs, 1, &b, &e);
		struct value *single[1] = {a0};
		struct value **cands = single;
		size_t nc = 1;
		if (a0->kind == V_TUPLE) {
			cands = a0->u.list.items;
			nc = a0->u.list.len;
		}
		for (size_t k = 0; k < nc; k++) {
			struct value *c = cands[k];
			if (c->kind != V_STRING)
				return jr_error(r, n, -EINVAL, "%s first arg must be str or a tuple of str, not %s",
						m, value_type_name(c));
			size_t cl = c->u.str.len;
			if (cl > e - b)
				continue;
			const char *at = m[0] == 's' ? s->u.str.s + b : s->u.str.s + e - cl;
			if (!memcmp(at, c->u.str.s, cl))
				return value_bool(A, true);
		}
		return value_bool(A, false);
	}
	if (!strcmp(m, "replace")) {
		if (!str_arg(r, n, a0, m) || !str_arg(r, n, a1, m))
			return NULL;
		int64_t cnt = -1;
		if (nargs > 2 && !need_int(r, n, args[2], &cnt, "count"))
			return NULL;
		return str_replace(r, n, s, a0, a1, cnt);
	}
	if (!strcmp(m, "join")) {
		if (!a0)
			return jr_error(r, n, -EINVAL, "join() takes exactly one argument");
		struct value *it = jr_iterable(r, n, a0);
		if (!it)
			return NULL;
		struct strbuf sb = STRBUF_INIT;
		for (size_t i = 0; i < it->u.list.len; i++) {
			struct value *x = it->u.list.items[i];
			if (x->kind != V_STRING) {
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "sequence item %zu: expected str instance, %s found", i,
						value_type_name(x));
			}
			if (i)
				strbuf_add(&sb, s->u.str.s, s->u.str.len);
			strbuf_add(&sb, x->u.str.s, x->u.str.len);
			SB_GUARD(sb);
		}
		return sval(r, &sb);
	}
	if (!strcmp(m, "count") || !strcmp(m, "find") || !strcmp(m, "rfind") ||
	    !strcmp(m, "index") || !strcmp(m, "rindex")) {
		if (!str_arg(r, n, a0, m))
			return NULL;
		size_t b, e;
		str_range(r, s, args, nargs, 1, &b, &e);
		const char *base = s->u.str.s;
		size_t nl = a0->u.str.len;
		if (!strcmp(m, "count")) {
			int64_t c = 0;
			if (nl == 0)
				return value_int(A, (int64_t)jutf8_len(base + b, e - b) + 1);
			size_t i = b;
			while (i + nl <= e) {
				const char *h = memmem(base + i, e - i, a0->u.str.s, nl);
				if (!h)
					break;
				c++;
				i = (size_t)(h - base) + nl;
			}
			return value_int(A, c);
		}
		int64_t found = -1;
		if (m[0] != 'r') {
			if (nl <= e - b) {
				const char *h = nl ? memmem(base + b, e - b, a0->u.str.s, nl) : base + b;
				if (h)
					found = cp_index_of(s, (size_t)(h - base));
			}
		} else if (nl <= e - b) {
			for (size_t k = e - nl + 1; k-- > b;)
				if (!memcmp(base + k, a0->u.str.s, nl)) {
					found = cp_index_of(s, k);
					break;
				}
		}
		if (found < 0 && strstr(m, "index"))
			return jr_error(r, n, -EINVAL, "substring not found");
		return value_int(A, found);
	}
	if (!strncmp(m, "is", 2)) {
		size_t i = 0, len = s->u.str.len;
		if (!strcmp(m, "isascii")) {
			for (i = 0; i < len; i++)
				if ((unsigned char)s->u.str.s[i] >= 0x80)
					return value_bool(A, false);
			return value_bool(A, true);
		}
		if (len == 0)
			return value_bool(A, !strcmp(m, "isprintable"));
		bool any_cased = false, ok = true, prev_cased = false, title_ok = true;
		while (i < len && ok) {
			uint32_t c;
			i = jutf8_next(s->u.str.s, len, i, &c);
			bool lower = cp_upper(c) != c, upper = cp_lower(c) != c;
			if (!strcmp(m, "isdigit") || !strcmp(m, "isdecimal") || !strcmp(m, "isnumeric"))
				ok = cp_digit(c);
			else if (!strcmp(m, "isalpha"))
				ok = cp_alpha(c);
			else if (!strcmp(m, "isalnum"))
				ok = cp_alpha(c) || cp_digit(c);
			else if (!strcmp(m, "isspace"))
				ok = py_space(c);
			else if (!strcmp(m, "islower"))
				ok = !upper;
			else if (!strcmp(m, "isupper"))
				ok = !lower;
			else if (!strcmp(m, "isidentifier"))
				ok = cp_word(c) && !(i == 1 && cp_digit(c));
			else if (!strcmp(m, "isprintable"))
				ok = c >= 0x20 && c != 0x7f;
			else if (!strcmp(m, "istitle")) {
				if (upper && prev_cased)
					title_ok = false;
				if (lower && !prev_cased)
					title_ok = false;
				prev_cased = upper || lower;
			}
			any_cased |= lower || upper;
		}
		if (!strcmp(m, "islower") || !strcmp(m, "isupper"))
			ok = ok && any_cased;
		if (!strcmp(m, "istitle"))
			ok = title_ok && any_cased;
		return value_bool(A, ok);
	}
	if (!strcmp(m, "center") || !strcmp(m, "ljust") || !strcmp(m, "rjust")) {
		int64_t w;
		if (!a0 || !need_int(r, n, a0, &w, "width"))
			return a0 ? NULL : jr_error(r, n, -EINVAL, "%s() takes at least 1 argument", m);
		const char *fill = " ";
		size_t fl = 1;
		if (a1) {
			if (a1->kind != V_STRING || cp_count(a1) != 1)
				return jr_error(r, n, -EINVAL, "The fill character must be exactly one character long");
			fill = a1->u.str.s;
			fl = a1->u.str.len;
		}
		return pad(r, n, s, w, m[0] == 'c' ? '^' : m[0] == 'l' ? '<' : '>', fill, fl);
	}
	if (!strcmp(m, "zfill")) {
		int64_t w;
		if (!a0 || !need_int(r, n, a0, &w, "width"))
			return a0 ? NULL : jr_error(r, n, -EINVAL, "zfill() takes exactly one argument");
		int64_t len = (int64_t)cp_count(s);
		if (w <= len)
			return s;
		if ((uint64_t)w > jr_max_memory(r))
			return too_big(r, n);
		struct strbuf sb = STRBUF_INIT;
		const char *q = s->u.str.s;
		size_t ql = s->u.str.len;
		if (ql && (*q == '-' || *q == '+')) {
			strbuf_addc(&sb, *q++);
			ql--;
		}
		for (int64_t k = len; k < w; k++)
			strbuf_addc(&sb, '0');
		strbuf_add(&sb, q, ql);
		return sval(r, &sb);
	}
	if (!strcmp(m, "partition") || !strcmp(m, "rpartition")) {
		if (!str_arg(r, n, a0, m))
			return NULL;
		if (!a0->u.str.len)
			return jr_error(r, n, -EINVAL, "empty separator");
		const char *base = s->u.str.s;
		size_t len = s->u.str.len, nl = a0->u.str.len;
		const char *h = NULL;
		if (m[0] == 'p') {
			h = memmem(base, len, a0->u.str.s, nl);
		} else if (nl <= len) {
			for (size_t k = len - nl + 1; k-- > 0;)
				if (!memcmp(base + k, a0->u.str.s, nl)) {
					h = base + k;
					break;
				}
		}
		struct value *t = value_tuple(A);
		struct value *empty = value_str(A, "", 0);
		if (!h) {
			if (m[0] == 'p') {
				value_list_append(A, t, s);
				value_list_append(A, t, empty);
				value_list_append(A, t, empty);
			} else {
				value_list_append(A, t, empty);
				value_list_append(A, t, empty);
				value_list_append(A, t, s);
			}
			return t;
		}
		value_list_append(A, t, value_str(A, base, (size_t)(h - base)));
		value_list_append(A, t, a0);
		value_list_append(A, t, value_str(A, h + nl, len - (size_t)(h - base) - nl));
		return t;
	}
	if (!strcmp(m, "removeprefix") || !strcmp(m, "removesuffix")) {
		if (!str_arg(r, n, a0, m))
			return NULL;
		size_t nl = a0->u.str.len, len = s->u.str.len;
		if (nl <= len) {
			if (m[6] == 'p' && !memcmp(s->u.str.s, a0->u.str.s, nl))
				return value_str(A, s->u.str.s + nl, len - nl);
			if (m[6] == 's' && !memcmp(s->u.str.s + len - nl, a0->u.str.s, nl))
				return value_str(A, s->u.str.s, len - nl);
		}
		return s;
	}
	if (!strcmp(m, "expandtabs")) {
		int64_t ts = 8;
		if (a0 && !need_int(r, n, a0, &ts, "tabsize"))
			return NULL;
		struct strbuf sb = STRBUF_INIT;
		int64_t col = 0;
		size_t i = 0;
		while (i < s->u.str.len) {
			uint32_t c;
			size_t nx = jutf8_next(s->u.str.s, s->u.str.len, i, &c);
			if (c == '\t') {
				if (ts > 0) {
					int64_t sp = ts - col % ts;
					if ((uint64_t)sp > jr_max_memory(r) - sb.len) {
						strbuf_release(&sb);
						return too_big(r, n);
					}
					for (int64_t k = 0; k < sp; k++)
						strbuf_addc(&sb, ' ');
					col += sp;
				}
			} else {
				strbuf_add(&sb, s->u.str.s + i, nx - i);
				col = (c == '\n' || c == '\r') ? 0 : col + 1;
			}
			i = nx;
		}
		return sval(r, &sb);
	}
	return jr_error(r, n, -ENOTSUP, "str.%s() is not supported by lavafs", m);
}

/* ------------------------------------------------------------ sorting */

struct sort_ctx {
	struct jrender *r;
	const struct jnode *n;
	bool reverse;
};

static int cmp_keys(struct sort_ctx *sc, struct value *a, struct value *b)
{
	/* keys jinja2 could not look up are Undefined, and two of them are equal; an
	 * Undefined against a value fails in jr_compare */
	if (a->kind == V_UNDEFINED && b->kind == V_UNDEFINED)
		return 0;
	int c = jr_compare(sc->r, sc->n, a, b);
	return sc->reverse ? -c : c;
}

/* stable merge sort of items by keys (parallel arrays) */
static bool merge_sort(struct sort_ctx *sc, struct value **items, struct value **keys, size_t n)
{
	if (n < 2)
		return true;
	struct jrender *r = sc->r;
	struct value **ti = arena_alloc(A, n * sizeof(*ti)), **tk = arena_alloc(A, n * sizeof(*tk));
	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi) {
				int c = cmp_keys(sc, keys[j], keys[i]);
				if (jr_failed(r))
					return false;
				if (c < 0) {
					ti[k] = items[j];
					tk[k++] = keys[j++];
				} else {
					ti[k] = items[i];
					tk[k++] = keys[i++];
				}
			}
			while (i < mid) {
				ti[k] = items[i];
				tk[k++] = keys[i++];
			}
			while (j < hi) {
				ti[k] = items[j];
				tk[k++] = keys[j++];
			}
		}
		memcpy(items, ti, n * sizeof(*ti));
		memcpy(keys, tk, n * sizeof(*tk));
	}
	return true;
}

/* How many positional arguments Python's str, list and dict methods take, and which
 * keywords ("*" any): a call outside that is Python's TypeError. */
struct method_sig {
	char type; /* s str, l list (and tuple), d dict */
	const char *name;
	unsigned char min, max;
	const char *kw[3];
};

static const struct method_sig METHOD_SIGS[] = {
	{'s', "upper", 0, 0, {0}}, {'s', "lower", 0, 0, {0}}, {'s', "casefold", 0, 0, {0}},
	{'s', "swapcase", 0, 0, {0}}, {'s', "title", 0, 0, {0}}, {'s', "capitalize", 0, 0, {0}},
	{'s', "isalnum", 0, 0, {0}}, {'s', "isalpha", 0, 0, {0}}, {'s', "isascii", 0, 0, {0}},
	{'s', "isdecimal", 0, 0, {0}}, {'s', "isdigit", 0, 0, {0}},
	{'s', "isidentifier", 0, 0, {0}}, {'s', "islower", 0, 0, {0}},
	{'s', "isnumeric", 0, 0, {0}}, {'s', "isprintable", 0, 0, {0}},
	{'s', "isspace", 0, 0, {0}}, {'s', "istitle", 0, 0, {0}}, {'s', "isupper", 0, 0, {0}},
	{'s', "strip", 0, 1, {0}}, {'s', "lstrip", 0, 1, {0}}, {'s', "rstrip", 0, 1, {0}},
	{'s', "split", 0, 2, {"sep", "maxsplit"}}, {'s', "rsplit", 0, 2, {"sep", "maxsplit"}},
	{'s', "splitlines", 0, 1, {"keepends"}},
	{'s', "startswith", 1, 3, {0}}, {'s', "endswith", 1, 3, {0}},
	{'s', "count", 1, 3, {0}}, {'s', "find", 1, 3, {0}}, {'s', "rfind", 1, 3, {0}},
	{'s', "index", 1, 3, {0}}, {'s', "rindex", 1, 3, {0}}, {'s', "replace", 2, 3, {0}},
	{'s', "join", 1, 1, {0}}, {'s', "zfill", 1, 1, {0}}, {'s', "partition", 1, 1, {0}},
	{'s', "rpartition", 1, 1, {0}}, {'s', "removeprefix", 1, 1, {0}},
	{'s', "removesuffix", 1, 1, {0}}, {'s', "center", 1, 2, {0}}, {'s', "ljust", 1, 2, {0}},
	{'s', "rjust", 1, 2, {0}}, {'s', "expandtabs", 0, 1, {"tabsize"}},
	{'s', "encode", 0, 2, {"encoding", "errors"}},
	{'l', "index", 1, 3, {0}}, {'l', "count", 1, 1, {0}}, {'l', "copy", 0, 0, {0}},
	{'l', "clear", 0, 0, {0}}, {'l', "reverse", 0, 0, {0}}, {'l', "append", 1, 1, {0}},
	{'l', "extend", 1, 1, {0}}, {'l', "insert", 2, 2, {0}}, {'l', "pop", 0, 1, {0}},
	{'l', "remove", 1, 1, {0}}, {'l', "sort", 0, 0, {"key", "reverse"}},
	{'d', "items", 0, 0, {0}}, {'d', "keys", 0, 0, {0}}, {'d', "values", 0, 0, {0}},
	{'d', "copy", 0, 0, {0}}, {'d', "clear", 0, 0, {0}}, {'d', "popitem", 0, 0, {0}},
	{'d', "get", 1, 2, {0}}, {'d', "pop", 1, 2, {0}}, {'d', "setdefault", 1, 2, {0}},
	{'d', "update", 0, 1, {"*"}},
};

static bool method_args_ok(struct jrender *r, const struct jnode *n, const struct value *obj,
			   const char *m, size_t nargs, const char **kwn, size_t nkw)
{
	char type = obj->kind == V_STRING ? 's' : obj->kind == V_MAP ? 'd' : 'l';
	for (size_t i = 0; i < sizeof(METHOD_SIGS) / sizeof(METHOD_SIGS[0]); i++) {
		const struct method_sig *sig = &METHOD_SIGS[i];
		if (sig->type != type || strcmp(sig->name, m))
			continue;
		for (size_t k = 0; k < nkw; k++) {
			bool ok = false;
			for (int j = 0; j < 3 && sig->kw[j] && !ok; j++)
				ok = !strcmp(sig->kw[j], "*") || !strcmp(sig->kw[j], kwn[k]);
			if (!ok) {
				jr_error(r, n, -EINVAL, "%s() takes no keyword argument '%s'", m, kwn[k]);
				return false;
			}
		}
		if (nargs < sig->min || nargs > sig->max) {
			jr_error(r, n, -EINVAL, "%s() takes %s %u argument%s (%zu given)", m,
				 nargs < sig->min ? "at least" : "at most",
				 nargs < sig->min ? sig->min : sig->max,
				 (nargs < sig->min ? sig->min : sig->max) == 1 ? "" : "s", nargs);
			return false;
		}
		return true;
	}
	return true; /* format, format_map: their own checks */
}

struct value *jr_call_method(struct jrender *r, const struct jnode *n, struct value *obj,
			     const char *m, struct value **args, size_t nargs, const char **kwn,
			     struct value **kwv, size_t nkw)
{
	if (!method_args_ok(r, n, obj, m, nargs, kwn, nkw))
		return NULL;
	if (obj->kind == V_STRING)
		return str_method(r, n, obj, m, args, nargs, kwn, kwv, nkw);
	if (obj->kind == V_MAP) {
		if (!strcmp(m, "items") || !strcmp(m, "keys") || !strcmp(m, "values")) {
			if (nargs)
				return jr_error(r, n, -EINVAL, "%s() takes no arguments", m);
			struct value *l = value_list(A);
			for (size_t i = 0; i < obj->u.map.len; i++)
				value_list_append(A, l, m[0] == 'i' ? tuple2(r, obj->u.map.keys[i], obj->u.map.vals[i])
								    : m[0] == 'k' ? obj->u.map.keys[i]
										  : obj->u.map.vals[i]);
			/* a view: prints as dict_keys([...]) and the like (see to_str) */
			l->line = m[0] == 'k' ? VALUE_DICT_KEYS : m[0] == 'v' ? VALUE_DICT_VALUES : VALUE_DICT_ITEMS;
			return l;
		}
		if (!strcmp(m, "get") || !strcmp(m, "pop") || !strcmp(m, "setdefault")) {
			if (nargs < 1 || nargs > 2)
				return jr_error(r, n, -EINVAL, "%s expected 1 or 2 arguments, got %zu", m, nargs);
			if (args[0]->kind == V_LIST || args[0]->kind == V_MAP)
				return jr_error(r, n, -EINVAL, "unhashable type: '%s'", value_type_name(args[0]));
			struct value *v = value_map_get(obj, args[0]);
			if (!strcmp(m, "pop")) {
				if (!v) {
					if (nargs == 2)
						return args[1];
					struct strbuf sb = STRBUF_INIT;
					value_repr(&sb, args[0]);
					struct value *e = jr_error(r, n, -EINVAL, "KeyError: %s", strbuf_str(&sb));
					strbuf_release(&sb);
					return e;
				}
				value_map_remove(obj, args[0]);
				return v;
			}
			if (!strcmp(m, "setdefault") && !v) {
				v = nargs == 2 ? args[1] : value_none(A);
				value_map_set(A, obj, args[0], v);
			}
			return v ? v : nargs == 2 ? args[1] : value_none(A);
		}
		if (!strcmp(m, "copy")) {
			struct value *c = value_map(A);
			for (size_t i = 0; i < obj->u.map.len; i++)
				value_map_set(A, c, obj->u.map.keys[i], obj->u.map.vals[i]);
			return c;
		}
		if (!strcmp(m, "update")) {
			for (size_t i = 0; i < nargs; i++) {
				if (args[i]->kind != V_MAP)
					return jr_error(r, n, -EINVAL, "dict.update() needs a mapping");
				for (size_t k = 0; k < args[i]->u.map.len; k++)
					value_map_set(A, obj, args[i]->u.map.keys[k], args[i]->u.map.vals[k]);
			}
			for (size_t k = 0; k < nkw; k++)
				value_map_set(A, obj, value_cstr(A, kwn[k]), kwv[k]);
			return value_none(A);
		}
		if (!strcmp(m, "clear")) {
			obj->u.map.len = 0;
			return value_none(A);
		}
		if (!strcmp(m, "popitem")) { /* the last item, as a (key, value) tuple */
			if (!obj->u.map.len)
				return jr_error(r, n, -EINVAL, "'popitem(): dictionary is empty'");
			size_t last = --obj->u.map.len;
			return tuple2(r, obj->u.map.keys[last], obj->u.map.vals[last]);
		}
		return jr_error(r, n, -ENOTSUP, "dict.%s() is not supported by lavafs", m);
	}
	if (obj->kind == V_LIST || obj->kind == V_TUPLE) {
		if (!strcmp(m, "index") || !strcmp(m, "count")) {
			/* index(x, start, end): the bounds clamp as a slice's do */
			int64_t len = (int64_t)obj->u.list.len, lo = 0, hi = len;
			if (nargs > 1 && !need_int(r, n, args[1], &lo, "start"))
				return NULL;
			if (nargs > 2 && !need_int(r, n, args[2], &hi, "stop"))
				return NULL;
			if (lo < 0)
				lo = lo + len < 0 ? 0 : lo + len;
			if (hi < 0)
				hi = hi + len < 0 ? 0 : hi + len;
			if (hi > len)
				hi = len;
			int64_t c = 0;
			for (int64_t i = lo; i < hi; i++)
				if (value_equal(obj->u.list.items[i], args[0])) {
					if (m[0] == 'i')
						return value_int(A, (int64_t)i);
					c++;
				}
			if (m[0] == 'i')
				return jr_error(r, n, -EINVAL, "value is not in list");
			return value_int(A, c);
		}
		if (!strcmp(m, "copy")) {
			struct value *c = value_list(A);
			for (size_t i = 0; i < obj->u.list.len; i++)
				value_list_append(A, c, obj->u.list.items[i]);
			return c;
		}
		if (!strcmp(m, "append")) {
			if (nargs != 1)
				return jr_error(r, n, -EINVAL, "append() takes exactly one argument");
			value_list_append(A, obj, args[0]);
			return value_none(A);
		}
		if (!strcmp(m, "extend")) {
			if (nargs != 1)
				return jr_error(r, n, -EINVAL, "extend() takes exactly one argument");
			struct value *it = jr_iterable(r, n, args[0]);
			if (!it)
				return NULL;
			size_t cnt = it->u.list.len;
			for (size_t i = 0; i < cnt; i++)
				value_list_append(A, obj, it->u.list.items[i]);
			return value_none(A);
		}
		if (!strcmp(m, "insert")) {
			int64_t idx;
			if (nargs != 2 || !need_int(r, n, args[0], &idx, "index"))
				return r && jr_failed(r) ? NULL : jr_error(r, n, -EINVAL, "insert expected 2 arguments");
			int64_t len = (int64_t)obj->u.list.len;
			if (idx < 0)
				idx += len;
			if (idx < 0)
				idx = 0;
			if (idx > len)
				idx = len;
			value_list_append(A, obj, args[1]);
			memmove(&obj->u.list.items[idx + 1], &obj->u.list.items[idx],
				(size_t)(len - idx) * sizeof(struct value *));
			obj->u.list.items[idx] = args[1];
			return value_none(A);
		}
		if (!strcmp(m, "pop")) {
			int64_t len = (int64_t)obj->u.list.len, idx = len - 1;
			if (nargs && !need_int(r, n, args[0], &idx, "index"))
				return NULL;
			if (idx < 0)
				idx += len;
			if (idx < 0 || idx >= len)
				return jr_error(r, n, -EINVAL, len ? "pop index out of range" : "pop from empty list");
			struct value *v = obj->u.list.items[idx];
			memmove(&obj->u.list.items[idx], &obj->u.list.items[idx + 1],
				(size_t)(len - idx - 1) * sizeof(struct value *));
			obj->u.list.len--;
			return v;
		}
		if (!strcmp(m, "remove")) {
			for (size_t i = 0; nargs == 1 && i < obj->u.list.len; i++)
				if (value_equal(obj->u.list.items[i], args[0])) {
					memmove(&obj->u.list.items[i], &obj->u.list.items[i + 1],
						(obj->u.list.len - i - 1) * sizeof(struct value *));
					obj->u.list.len--;
					return value_none(A);
				}
			return jr_error(r, n, -EINVAL, "list.remove(x): x not in list");
		}
		if (!strcmp(m, "reverse")) {
			for (size_t i = 0, j = obj->u.list.len; i + 1 < j; i++, j--) {
				struct value *t = obj->u.list.items[i];
				obj->u.list.items[i] = obj->u.list.items[j - 1];
				obj->u.list.items[j - 1] = t;
			}
			return value_none(A);
		}
		if (!strcmp(m, "clear")) {
			obj->u.list.len = 0;
			return value_none(A);
		}
		if (!strcmp(m, "sort") && obj->kind == V_LIST) {
			/* in place, stable; key= must be None (no Python callables here) */
			bool reverse = false;
			for (size_t k = 0; k < nkw; k++) {
				if (!strcmp(kwn[k], "key") && kwv[k]->kind != V_NONE)
					return jr_error(r, n, -ENOTSUP, "sort(key=...) is not supported by lavafs");
				if (!strcmp(kwn[k], "reverse")) {
					if (kwv[k]->kind != V_BOOL && kwv[k]->kind != V_INT)
						return jr_error(r, n, -EINVAL, "'%s' object cannot be interpreted as an integer", value_type_name(kwv[k]));
					reverse = value_truthy(kwv[k]);
				}
			}
			size_t cnt = obj->u.list.len;
			struct value **keys = arena_alloc(A, (cnt ? cnt : 1) * sizeof(*keys));
			if (cnt)
				memcpy(keys, obj->u.list.items, cnt * sizeof(*keys));
			struct sort_ctx sc = {r, n, reverse};
			if (!merge_sort(&sc, obj->u.list.items, keys, cnt))
				return NULL;
			return value_none(A);
		}
		return jr_error(r, n, -ENOTSUP, "list.%s() is not supported by lavafs", m);
	}
	return jr_error(r, n, -ENOTSUP, "%s.%s() is not supported", value_type_name(obj), m);
}


/* make_attrgetter: "a.b.0" paths, then lower-casing strings unless case-sensitive */
static struct value *attr_get(struct jrender *r, const struct jnode *n, struct value *item,
			      struct value *attribute, struct value *dflt)
{
	if (!attribute || attribute->kind == V_NONE)
		return item;
	if (dflt && dflt->kind == V_NONE) /* jinja2: default=None is no default */
		dflt = NULL;
	if (attribute->kind != V_STRING) { /* an index (or any other key): one lookup */
		item = jr_getitem(r, n, item, attribute);
		return item && item->kind == V_UNDEFINED && dflt ? dflt : item;
	}
	struct value *s = jr_str(r, attribute);
	const char *p = s->u.str.s, *end = p + s->u.str.len;
	while (item) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
		char *part = arena_strndup(A, p, len);
		char *e;
		long long iv = strtoll(part, &e, 10);
		struct value *key = (*part && !*e) ? value_int(A, iv) : value_str_nocopy(A, part, len);
		item = jr_getitem(r, n, item, key);
		if (item && item->kind == V_UNDEFINED && dflt)
			item = dflt;
		if (!dot)
			break;
		p = dot + 1;
	}
	return item;
}

static struct value *ignore_case(struct jrender *r, struct value *v, bool cs)
{
	if (!cs && v && v->kind == V_STRING)
		return map_case(r, v, C_LOWER);
	return v;
}

static struct value *list_of(struct jrender *r, const struct jnode *n, struct value *v)
{
	struct value *it = jr_iterable(r, n, v);
	if (!it)
		return NULL;
	struct value *l = value_list(A);
	for (size_t i = 0; i < it->u.list.len; i++)
		value_list_append(A, l, it->u.list.items[i]);
	return l;
}

/* ------------------------------------------------------------ filters */

FN(f_default)
{
	struct value *dv = args[0] ? args[0] : value_str(A, "", 0);
	if (in->kind == V_UNDEFINED || (arg_true(args[1], false) && !truthy(in)))
		return dv;
	return in;
}

FN(f_join)
{
	struct value *it = jr_iterable(r, n, in);
	if (!it)
		return NULL;
	struct value *sep = args[0] ? jr_str(r, args[0]) : value_str(A, "", 0);
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < it->u.list.len; i++) {
		struct value *x = it->u.list.items[i];
		if (args[1]) {
			x = attr_get(r, n, x, args[1], NULL);
			if (!x) {
				strbuf_release(&sb);
				return NULL;
			}
		}
		if (i)
			strbuf_add(&sb, sep->u.str.s, sep->u.str.len);
		value_to_str(&sb, x);
		SB_GUARD(sb);
	}
	return sval(r, &sb);
}

FN(f_replace)
{
	struct value *s = need_str(r, in);
	if (!args[0] || !args[1])
		return jr_error(r, n, -EINVAL, "replace() missing required arguments");
	int64_t cnt = -1;
	if (args[2] && args[2]->kind != V_NONE && !need_int(r, n, args[2], &cnt, "count"))
		return NULL;
	return str_replace(r, n, s, jr_str(r, args[0]), jr_str(r, args[1]), cnt);
}

FN(f_string)
{
	return jr_str(r, in);
}

FN(f_upper)
{
	return map_case(r, jr_str(r, in), C_UPPER);
}

FN(f_lower)
{
	return map_case(r, jr_str(r, in), C_LOWER);
}

FN(f_capitalize)
{
	return capitalize(r, jr_str(r, in));
}

FN(f_title)
{
	/* jinja2's own: words start after runs of -, whitespace and opening brackets */
	struct value *s = jr_str(r, in);
	struct strbuf sb = STRBUF_INIT;
	size_t i = 0, rest = 0; /* rest: where the word's item[1:] begins */
	bool start = true;
	while (i < s->u.str.len) {
		uint32_t c;
		size_t at = i;
		i = jutf8_next(s->u.str.s, s->u.str.len, i, &c);
		bool sep = c == '-' || py_space(c) || c == '(' || c == '{' || c == '[' || c == '<';
		if (sep) {
			jutf8_put(&sb, c);
			start = true;
			continue;
		}
		if (start) {
			put_case(&sb, c, M_UPPER);
			rest = i;
		} else {
			put_lower(&sb, s->u.str.s, rest, s->u.str.len, at, i, c);
		}
		start = false;
	}
	return sval(r, &sb);
}

FN(f_trim)
{
	struct value *s = jr_str(r, in);
	if (args[0] && args[0]->kind != V_NONE && args[0]->kind != V_STRING)
		return jr_error(r, n, -EINVAL, "strip arg must be None or str");
	if (args[0] && args[0]->kind != V_NONE)
		return strip(r, s, args[0], true, true);
	return strip(r, s, NULL, true, true);
}

FN(f_indent)
{
	/* jinja2 appends "\n" to the value itself: only strings survive that */
	if (in->kind == V_UNDEFINED)
		return jr_undefined_error(r, n, in);
	if (in->kind != V_STRING)
		return jr_error(r, n, -EINVAL, "unsupported operand type(s) for +=: '%s' and 'str'",
				value_type_name(in));
	struct value *s = in;
	struct strbuf ind = STRBUF_INIT;
	if (args[0] && args[0]->kind == V_STRING) {
		strbuf_add(&ind, args[0]->u.str.s, args[0]->u.str.len);
	} else {
		int64_t w = 4;
		if (args[0] && !need_int(r, n, args[0], &w, "width")) {
			strbuf_release(&ind);
			return NULL;
		}
		if (w > 0 && (uint64_t)w > jr_max_memory(r)) {
			strbuf_release(&ind);
			return too_big(r, n);
		}
		for (int64_t k = 0; k < w; k++)
			strbuf_addc(&ind, ' ');
	}
	bool first = arg_true(args[1], false), blank = arg_true(args[2], false);
	struct strbuf src = STRBUF_INIT;
	strbuf_add(&src, s->u.str.s, s->u.str.len);
	strbuf_addc(&src, '\n');
	struct value *lines = splitlines(r, value_str(A, src.buf, src.len), false);
	strbuf_release(&src);
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < lines->u.list.len; i++) {
		struct value *l = lines->u.list.items[i];
		if (i)
			strbuf_addc(&sb, '\n');
		/* jinja2: the first line only with first=True (even empty), the others
		 * when not blank or with blank=True */
		if (i == 0 ? first : (blank || l->u.str.len))
			strbuf_add(&sb, ind.buf ? ind.buf : "", ind.len);
		strbuf_add(&sb, l->u.str.s, l->u.str.len);
		if (sb.len > jr_max_memory(r)) {
			strbuf_release(&sb);
			strbuf_release(&ind);
			return too_big(r, n);
		}
	}
	strbuf_release(&ind);
	return sval(r, &sb);
}

static struct value *length_of(struct jrender *r, const struct jnode *n, struct value *in)
{
	if (is_lazy(in))
		return jr_error(r, n, -EINVAL, "object of type 'generator' has no len()");
	switch (in->kind) {
	case V_UNDEFINED:
		return value_int(A, 0);
	case V_STRING:
		return value_int(A, (int64_t)cp_count(in));
	case V_LIST:
	case V_TUPLE:
		return value_int(A, (int64_t)in->u.list.len);
	case V_MAP:
		return value_int(A, (int64_t)in->u.map.len);
	case V_NATIVE:
		if (in->u.native.tag == NT_NAMESPACE)
			break;
		if (in->u.native.tag == NT_LOOP) {
			struct value *it = jr_iterable(r, n, in);
			return it ? value_int(A, (int64_t)it->u.list.len) : NULL;
		}
		break;
	default:
		break;
	}
	return jr_error(r, n, -EINVAL, "object of type '%s' has no len()", value_type_name(in));
}

FN(f_length)
{
	return length_of(r, n, in);
}

FN(f_list)
{
	return list_of(r, n, in);
}

static bool parse_int_str(const char *s, size_t len, int base, int64_t *out)
{
	/* Python int(str, base): surrounding whitespace, sign, underscores between digits,
	 * 0x/0o/0b prefixes when they match the base (or base 0) */
	size_t i = 0;
	while (i < len && py_space((unsigned char)s[i]))
		i++;
	while (len > i && py_space((unsigned char)s[len - 1]))
		len--;
	bool neg = false;
	if (i < len && (s[i] == '+' || s[i] == '-')) {
		neg = s[i] == '-';
		i++;
	}
	if (i + 1 < len && s[i] == '0') {
		char p = (char)(s[i + 1] | 0x20);
		int pb = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
		if (pb && (base == pb || base == 0)) {
			base = pb;
			i += 2;
			if (i < len && s[i] == '_')
				i++;
		}
	}
	if (base == 0)
		base = 10;
	if (i >= len)
		return false;
	uint64_t v = 0;
	bool prev_us = true;
	for (; i < len; i++) {
		char c = s[i];
		if (c == '_') {
			if (prev_us)
				return false;
			prev_us = true;
			continue;
		}
		int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? (c | 0x20) - 'a' + 10 : 99;
		if (d >= base)
			return false;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
		prev_us = false;
	}
	if (prev_us)
		return false;
	if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static bool parse_float_str(const char *s, size_t len, double *out)
{
	size_t i = 0;
	while (i < len && py_space((unsigned char)s[i]))
		i++;
	while (len > i && py_space((unsigned char)s[len - 1]))
		len--;
	if (i >= len || len - i > 200)
		return false;
	char buf[256];
	size_t k = 0;
	for (size_t j = i; j < len; j++) {
		if (s[j] == '_') {
			if (j == i || j + 1 >= len || !(s[j - 1] >= '0' && s[j - 1] <= '9') ||
			    !(s[j + 1] >= '0' && s[j + 1] <= '9'))
				return false;
			continue;
		}
		buf[k++] = s[j];
	}
	buf[k] = '\0';
	/* strtod accepts hex floats and "infinity"/"nan(...)" forms Python handles differently */
	const char *b = buf + (buf[0] == '+' || buf[0] == '-');
	if ((b[0] == '0' && (b[1] | 0x20) == 'x'))
		return false;
	if (!strcasecmp(b, "inf") || !strcasecmp(b, "infinity") || !strcasecmp(b, "nan")) {
		double v = (b[0] | 0x20) == 'n' ? NAN : INFINITY;
		*out = buf[0] == '-' ? -v : v;
		return true;
	}
	for (const char *p = b; *p; p++)
		if (!strchr("0123456789.eE+-", *p))
			return false;
	char *e;
	double v = strtod(buf, &e);
	if (*e || e == buf)
		return false;
	*out = v;
	return true;
}

FN(f_int)
{
	struct value *dflt = args[0] ? args[0] : value_int(A, 0);
	/* jinja2 catches the TypeError of a base that is no int: the value is then read as a
	 * float, else it is the default */
	int64_t base = 10;
	bool base_ok = true;
	if (args[1]) {
		base_ok = is_intlike(args[1]);
		if (base_ok)
			base = ival(args[1]);
	}
	switch (in->kind) {
	case V_UNDEFINED:
		return jr_undefined_error(r, n, in);
	case V_INT:
		return in;
	case V_BOOL:
		return value_int(A, in->u.b);
	case V_FLOAT:
		if (isnan(in->u.f))
			return dflt;
		if (isinf(in->u.f))
			return jr_error(r, n, -ERANGE, "cannot convert float infinity to integer");
		if (in->u.f >= 9.2233720368547758e18 || in->u.f < -9.2233720368547758e18)
			return jr_error(r, n, -ERANGE, "integer too large for lavafs (64-bit)");
		return value_int(A, (int64_t)in->u.f);
	case V_STRING: {
		int64_t v;
		if (base_ok && base >= INT_MIN && base <= INT_MAX &&
		    parse_int_str(in->u.str.s, in->u.str.len, (int)base, &v))
			return value_int(A, v);
		double d;
		if (parse_float_str(in->u.str.s, in->u.str.len, &d)) {
			if (isnan(d))
				return dflt;
			if (isinf(d))
				return jr_error(r, n, -ERANGE, "cannot convert float infinity to integer");
			if (d >= 9.2233720368547758e18 || d < -9.2233720368547758e18)
				return jr_error(r, n, -ERANGE, "integer too large for lavafs (64-bit)");
			return value_int(A, (int64_t)d);
		}
		return dflt;
	}
	default:
		return dflt;
	}
}

FN(f_float)
{
	struct value *dflt = args[0] ? args[0] : value_float(A, 0.0);
	switch (in->kind) {
	case V_UNDEFINED:
		return jr_undefined_error(r, n, in);
	case V_FLOAT:
		return in;
	case V_INT:
	case V_BOOL:
		return value_float(A, (double)ival(in));
	case V_STRING: {
		double d;
		if (parse_float_str(in->u.str.s, in->u.str.len, &d))
			return value_float(A, d);
		return dflt;
	}
	default:
		return dflt;
	}
}

static void json_str(struct strbuf *sb, const char *s, size_t len)
{
	strbuf_addc(sb, '"');
	size_t i = 0;
	while (i < len) {
		uint32_t c;
		size_t nx = jutf8_next(s, len, i, &c);
		switch (c) {
		case '"':
			strbuf_adds(sb, "\\\"");
			break;
		case '\\':
			strbuf_adds(sb, "\\\\");
			break;
		case '\n':
			strbuf_adds(sb, "\\n");
			break;
		case '\r':
			strbuf_adds(sb, "\\r");
			break;
		case '\t':
			strbuf_adds(sb, "\\t");
			break;
		case '\b':
			strbuf_adds(sb, "\\b");
			break;
		case '\f':
			strbuf_adds(sb, "\\f");
			break;
		case '<':
			strbuf_adds(sb, "\\u003c");
			break;
		case '>':
			strbuf_adds(sb, "\\u003e");
			break;
		case '&':
			strbuf_adds(sb, "\\u0026");
			break;
		case '\'':
			strbuf_adds(sb, "\\u0027");
			break;
		default:
			if (c < 0x20 || c >= 0x7f) {
				if (nx - i == 1 && c >= 0x80)
					c = 0xdc00 + c; /* surrogateescape */
				if (c >= 0x10000) {
					uint32_t v = c - 0x10000;
					strbuf_addf(sb, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
				} else {
					strbuf_addf(sb, "\\u%04x", c);
				}
			} else {
				strbuf_addc(sb, (char)c);
			}
		}
		i = nx;
	}
	strbuf_addc(sb, '"');
}

/* a newline and the indentation of level; false (with the error set) past max_memory */
static bool json_newline(struct jrender *r, const struct jnode *n, struct strbuf *sb,
			 const char *ind, int level)
{
	strbuf_addc(sb, '\n');
	for (int k = 0; k < level; k++) {
		strbuf_adds(sb, ind);
		if (sb->len > jr_max_memory(r)) {
			too_big(r, n);
			return false;
		}
	}
	return true;
}

/* json.dumps(sort_keys=True) as jinja2's tojson calls it: ind NULL is compact (", " and
 * ": "), else a newline and ind once per level before each item (",", ": "). */
static bool json_dump(struct jrender *r, const struct jnode *n, struct strbuf *sb,
		      const struct value *v, const char *ind, int level, int depth)
{
	if (depth > 200) {
		jr_error(r, n, -ELOOP, "tojson: nesting too deep");
		return false;
	}
	switch (v->kind) {
	case V_NONE:
		strbuf_adds(sb, "null");
		return true;
	case V_BOOL:
		strbuf_adds(sb, v->u.b ? "true" : "false");
		return true;
	case V_INT:
		strbuf_addf(sb, "%lld", (long long)v->u.i);
		return true;
	case V_FLOAT:
		if (isnan(v->u.f))
			strbuf_adds(sb, "NaN");
		else if (isinf(v->u.f))
			strbuf_adds(sb, v->u.f < 0 ? "-Infinity" : "Infinity");
		else
			value_float_repr(sb, v->u.f);
		return true;
	case V_STRING:
		json_str(sb, v->u.str.s, v->u.str.len);
		return true;
	case V_LIST:
	case V_TUPLE:
		if (is_lazy(v) || v->line == -6 ||
		    (v->line <= VALUE_DICT_KEYS && v->line >= VALUE_DICT_ITEMS)) {
			static const char *const view[] = {"dict_keys", "dict_values", "dict_items"};
			jr_error(r, n, -EINVAL, "Object of type %s is not JSON serializable",
				 v->line == -6 ? "range" : is_lazy(v) ? "generator"
					       : view[VALUE_DICT_KEYS - v->line]);
			return false;
		}
		if (!v->u.list.len) {
			strbuf_adds(sb, "[]");
			return true;
		}
		strbuf_addc(sb, '[');
		for (size_t i = 0; i < v->u.list.len; i++) {
			if (i)
				strbuf_adds(sb, ind ? "," : ", ");
			if (ind && !json_newline(r, n, sb, ind, level + 1))
				return false;
			if (!json_dump(r, n, sb, v->u.list.items[i], ind, level + 1, depth + 1))
				return false;
		}
		if (ind && !json_newline(r, n, sb, ind, level))
			return false;
		strbuf_addc(sb, ']');
		return true;
	case V_MAP: {
		if (!v->u.map.len) {
			strbuf_adds(sb, "{}");
			return true;
		}
		/* sort_keys=True: keys become strings, sorted */
		size_t cnt = v->u.map.len;
		struct value **keys = arena_alloc(A, cnt * sizeof(*keys));
		struct value **vals = arena_alloc(A, cnt * sizeof(*vals));
		struct value **skeys = arena_alloc(A, cnt * sizeof(*skeys));
		for (size_t i = 0; i < cnt; i++) {
			struct value *k = v->u.map.keys[i];
			if (k->kind == V_STRING) {
				skeys[i] = k;
			} else if (k->kind == V_INT || k->kind == V_FLOAT) {
				skeys[i] = jr_str(r, k);
			} else if (k->kind == V_BOOL) {
				skeys[i] = value_cstr(A, k->u.b ? "true" : "false");
			} else if (k->kind == V_NONE) {
				skeys[i] = value_cstr(A, "null");
			} else {
				jr_error(r, n, -EINVAL, "keys must be str, int, float, bool or None, not %s",
					 value_type_name(k));
				return false;
			}
			keys[i] = k;
			vals[i] = v->u.map.vals[i];
		}
		/* sort by the original keys (Python sorts before converting) */
		struct sort_ctx sc = {r, n, false};
		struct value **order = arena_alloc(A, cnt * sizeof(*order));
		for (size_t i = 0; i < cnt; i++) {
			struct value *t = value_tuple(A);
			value_list_append(A, t, skeys[i]);
			value_list_append(A, t, vals[i]);
			order[i] = t;
		}
		if (!merge_sort(&sc, order, keys, cnt))
			return false;
		strbuf_addc(sb, '{');
		for (size_t i = 0; i < cnt; i++) {
			if (i)
				strbuf_adds(sb, ind ? "," : ", ");
			if (ind && !json_newline(r, n, sb, ind, level + 1))
				return false;
			struct value *kk = order[i]->u.list.items[0];
			json_str(sb, kk->u.str.s, kk->u.str.len);
			strbuf_adds(sb, ": ");
			if (!json_dump(r, n, sb, order[i]->u.list.items[1], ind, level + 1, depth + 1))
				return false;
		}
		if (ind && !json_newline(r, n, sb, ind, level))
			return false;
		strbuf_addc(sb, '}');
		return true;
	}
	case V_UNDEFINED:
		jr_error(r, n, -EINVAL, "Object of type Undefined is not JSON serializable");
		return false;
	default:
		jr_error(r, n, -EINVAL, "Object of type %s is not JSON serializable", value_type_name(v));
		return false;
	}
}

FN(f_tojson)
{
	/* json's indent: a string is the indentation itself, an int that many spaces (none
	 * when it is 0 or less, but still a newline per item) */
	const char *ind = NULL;
	if (args[0] && args[0]->kind == V_STRING) {
		ind = args[0]->u.str.s;
	} else if (args[0] && args[0]->kind != V_NONE && !is_intlike(args[0])) {
		/* json multiplies the indent by the level: only a value without items
		 * survives an indent that is neither an int nor a string */
		bool items = (in->kind == V_LIST || in->kind == V_TUPLE) ? in->u.list.len > 0
			     : in->kind == V_MAP				  ? in->u.map.len > 0
										  : false;
		if (items)
			return jr_error(r, n, -EINVAL, "can't multiply sequence by non-int of type '%s'",
					value_type_name(args[0]));
		ind = "";
	} else if (args[0] && args[0]->kind != V_NONE) {
		int64_t indent;
		if (!need_int(r, n, args[0], &indent, "indent"))
			return NULL;
		if (indent > 0 && (uint64_t)indent > jr_max_memory(r))
			return too_big(r, n);
		char *sp = arena_alloc(A, (size_t)(indent > 0 ? indent : 0) + 1);
		for (int64_t k = 0; k < indent; k++)
			sp[k] = ' ';
		ind = sp;
	}
	struct strbuf sb = STRBUF_INIT;
	if (!json_dump(r, n, &sb, in, ind, 0, 0)) {
		strbuf_release(&sb);
		return NULL;
	}
	if (sb.len > jr_max_memory(r)) {
		strbuf_release(&sb);
		return too_big(r, n);
	}
	return sval(r, &sb);
}

FN(f_first)
{
	if (in->kind == V_UNDEFINED)
		return value_undefined(A, "No first item, sequence was empty.");
	struct value *it = jr_iterable(r, n, in);
	if (!it)
		return NULL;
	if (!it->u.list.len)
		return value_undefined(A, "No first item, sequence was empty.");
	return it->u.list.items[0];
}

FN(f_last)
{
	if (in->kind == V_UNDEFINED)
		return value_undefined(A, "No last item, sequence was empty.");
	if (is_lazy(in))
		return jr_error(r, n, -EINVAL, "'generator' object is not reversible");
	struct value *it = jr_iterable(r, n, in);
	if (!it)
		return NULL;
	if (!it->u.list.len)
		return value_undefined(A, "No last item, sequence was empty.");
	return it->u.list.items[it->u.list.len - 1];
}

static struct value *sorted(struct jrender *r, const struct jnode *n, struct value *in,
			    bool reverse, bool cs, struct value *attribute)
{
	struct value *l = list_of(r, n, in);
	if (!l)
		return NULL;
	size_t cnt = l->u.list.len;
	struct value **keys = arena_alloc(A, (cnt ? cnt : 1) * sizeof(*keys));
	for (size_t i = 0; i < cnt; i++) {
		keys[i] = ignore_case(r, attr_get(r, n, l->u.list.items[i], attribute, NULL), cs);
		if (!keys[i])
			return NULL;
	}
	struct sort_ctx sc = {r, n, reverse};
	if (!merge_sort(&sc, l->u.list.items, keys, cnt))
		return NULL;
	return l;
}

FN(f_sort)
{
	/* sorted(reverse=...) takes an integer only */
	if (args[0] && args[0]->kind != V_BOOL && args[0]->kind != V_INT)
		return jr_error(r, n, -EINVAL, "'%s' object cannot be interpreted as an integer",
				value_type_name(args[0]));
	return sorted(r, n, in, arg_true(args[0], false), arg_true(args[1], false), args[2]);
}

FN(f_unique)
{
	if (!iterable_kind(in))
		return poisoned(r, in);
	struct value *it = jr_iterable(r, n, in);
	if (!it)
		return NULL;
	bool cs = arg_true(args[0], false);
	struct value *out = value_list(A), *seen = value_list(A);
	for (size_t i = 0; i < it->u.list.len; i++) {
		struct value *k = ignore_case(r, attr_get(r, n, it->u.list.items[i], args[1], NULL), cs);
		if (!k)
			return NULL;
		if (k->kind == V_LIST || k->kind == V_MAP) /* jinja2 keeps the keys in a set */
			return jr_error(r, n, -EINVAL, "unhashable type: '%s'", value_type_name(k));
		bool dup = false;
		for (size_t j = 0; j < seen->u.list.len && !dup; j++)
			dup = value_equal(seen->u.list.items[j], k);
		if (!dup) {
			value_list_append(A, seen, k);
			value_list_append(A, out, it->u.list.items[i]);
		}
	}
	return lazy(out);
}

FN(f_reverse)
{
	if (in->kind == V_STRING) {
		struct value *chars = jr_iterable(r, n, in);
		struct strbuf sb = STRBUF_INIT;
		for (size_t i = chars->u.list.len; i-- > 0;)
			strbuf_add(&sb, chars->u.list.items[i]->u.str.s, chars->u.list.items[i]->u.str.len);
		return sval(r, &sb);
	}
	struct value *it = jr_iterable(r, n, in);
	if (!it)
		return NULL;
	struct value *l = value_list(A);
	for (size_t i = it->u.list.len; i-- > 0;)
		value_list_append(A, l, it->u.list.items[i]);
	return lazy(l); /* reversed() is an iterator */
}

FN(f_dictsort)
{
	if (in->kind != V_MAP)
		return jr_error(r, n, -EINVAL, "dictsort: expected a mapping, got %s", value_type_name(in));
	bool cs = arg_true(args[0], false);
	int pos = 0;
	if (args[1]) {
		if (value_is_string(args[1], "value"))
			pos = 1;
		else if (!value_is_string(args[1], "key"))
			return jr_error(r, n, -EINVAL, "You can only sort by either \"key\" or \"value\"");
	}
	size_t cnt = in->u.map.len;
	struct value *l = value_list(A);
	struct value **keys = arena_alloc(A, (cnt ? cnt : 1) * sizeof(*keys));
	for (size_t i = 0; i < cnt; i++) {
		value_list_append(A, l, tuple2(r, in->u.map.keys[i], in->u.map.vals[i]));
		keys[i] = ignore_case(r, pos ? in->u.map.vals[i] : in->u.map.keys[i], cs);
	}
	struct sort_ctx sc = {r, n, arg_true(args[2], false)};
	if (!merge_sort(&sc, l->u.list.items, keys, cnt))
		return NULL;
	return l;
}

FN(f_items)
{
	if (in->kind == V_UNDEFINED)
		return value_list(A);
	if (in->kind != V_MAP)
		return poisoned(r, in); /* a generator: fails when iterated */
	return lazy(jr_call_method(r, n, in, "items", NULL, 0, NULL, NULL, 0));
}

/* map/select/reject take (filter or test name, *args) or attribute= keyword */
/* jinja2's map, select and reject start with `if value:`: a false input (None, False, 0,
 * 0.0) gives an empty generator before anything checks that it can be iterated */
static bool falsy_scalar(const struct value *v)
{
	return (v->kind == V_NONE || v->kind == V_BOOL || v->kind == V_INT ||
		v->kind == V_FLOAT) && !value_truthy(v);
}

static struct value *f_map_impl(struct jrender *r, const struct jnode *n, struct value *in,
				struct value **args)
{
	if (falsy_scalar(in))
		return lazy(value_list(A));
	if (!iterable_kind(in))
		return poisoned(r, in);
	struct value *it = jr_iterable(r, n, in);
	if (!it)
		return NULL;
	struct value *out = value_list(A);
	if (!it->u.list.len) /* jinja2 looks at its arguments only for a first item */
		return lazy(out);
	/* map(attribute=..., default=...) without a filter; else map(NAME, args..., kw=...)
	 * with the keywords passed to the filter (args[5]: the keyword arguments) */
	struct value *kw = args[5];
	bool by_attribute = false;
	for (size_t k = 0; kw && k < kw->u.map.len; k++)
		by_attribute |= !strcmp(kw->u.map.keys[k]->u.str.s, "attribute");
	if (!args[0] && by_attribute) {
		struct value *attribute = NULL, *dflt = NULL;
		for (size_t k = 0; k < kw->u.map.len; k++) {
			const char *key = kw->u.map.keys[k]->u.str.s;
			if (!strcmp(key, "attribute"))
				attribute = kw->u.map.vals[k];
			else if (!strcmp(key, "default"))
				dflt = kw->u.map.vals[k];
			else
				return jr_error(r, n, -EINVAL, "Unexpected keyword argument '%s'", key);
		}
		for (size_t i = 0; i < it->u.list.len; i++) {
			struct value *v = attr_get(r, n, it->u.list.items[i], attribute, dflt);
			if (!v)
				return NULL;
			value_list_append(A, out, v);
		}
		return lazy(out);
	}
	if (!args[0])
		return jr_error(r, n, -EINVAL, "map requires a filter argument");
	struct value *name = args[0];
	if (name->kind != V_STRING)
		return jr_error(r, n, -EINVAL, "map: filter name must be a string");
	struct value *fa[4];
	size_t nfa = 0;
	for (int k = 1; k < 5 && args[k]; k++)
		fa[nfa++] = args[k];
	for (size_t i = 0; i < it->u.list.len; i++) {
		struct value *v = jr_apply_filter(r, n, name->u.str.s, it->u.list.items[i], fa, nfa, kw);
		if (!v)
			return NULL;
		value_list_append(A, out, v);
	}
	return lazy(out);
}

FN(f_map)
{
	return f_map_impl(r, n, in, args);
}

static struct value *select_impl(struct jrender *r, const struct jnode *n, struct value *in,
				 struct value **args, bool attr, bool want)
{
	if (falsy_scalar(in))
		return lazy(value_list(A));
	if (!iterable_kind(in))
		return poisoned(r, in);
	struct value *it = jr_iterable(r, n, in);
	if (!it)
		return NULL;
	struct value *out = value_list(A);
	if (!it->u.list.len) /* jinja2 looks at its arguments only for a first item */
		return lazy(out);
	int off = attr ? 1 : 0;
	if (attr && !args[0])
		return jr_error(r, n, -EINVAL, "selectattr requires an attribute");
	struct value *test = args[off];
	struct value *ta[4];
	size_t nta = 0;
	for (int k = off + 1; k < 5 && args[k]; k++)
		ta[nta++] = args[k];
	/* keyword arguments go to the test; without a test they are not looked at (args[5]) */
	for (size_t i = 0; i < it->u.list.len; i++) {
		struct value *item = it->u.list.items[i];
		struct value *v = attr ? attr_get(r, n, item, args[0], NULL) : item;
		if (!v)
			return NULL;
		bool res;
		if (test) {
			if (test->kind != V_STRING)
				return jr_error(r, n, -EINVAL, "test name must be a string");
			bool ok;
			res = jr_apply_test(r, n, test->u.str.s, v, ta, nta, args[5], &ok);
			if (!ok)
				return NULL;
		} else {
			res = truthy(v);
		}
		if (res == want)
			value_list_append(A, out, item);
	}
	return lazy(out);
}

FN(f_select)
{
	return select_impl(r, n, in, args, false, true);
}

FN(f_reject)
{
	return select_impl(r, n, in, args, false, false);
}

FN(f_selectattr)
{
	return select_impl(r, n, in, args, true, true);
}

FN(f_rejectattr)
{
	return select_impl(r, n, in, args, true, false);
}

FN(f_batch)
{
	if (!args[0]) /* a missing argument fails at the call, before any iteration */
		return jr_error(r, n, -EINVAL, "batch() missing linecount");
	if (!iterable_kind(in))
		return poisoned(r, in);
	/* jinja2 compares len(tmp) == linecount: a linecount that is no integer never matches
	 * and everything is one batch; only filling it up needs a number */
	bool counted = is_intlike(args[0]);
	int64_t cnt = counted ? ival(args[0]) : -1;
	struct value *it = jr_iterable(r, n, in);
	if (!it)
		return NULL;
	struct value *out = value_list(A), *tmp = value_list(A);
	for (size_t i = 0; i < it->u.list.len; i++) {
		if ((int64_t)tmp->u.list.len == cnt) {
			value_list_append(A, out, tmp);
			tmp = value_list(A);
		}
		value_list_append(A, tmp, it->u.list.items[i]);
	}
	if (tmp->u.list.len) {
		if (args[1] && args[1]->kind != V_NONE) {
			if (!counted)
				return jr_error(r, n, -EINVAL,
						"'<' not supported between instances of 'int' and '%s'",
						value_type_name(args[0]));
			if (cnt > 0 && (uint64_t)cnt > jr_max_memory(r) / sizeof(struct value *))
				return too_big(r, n);
			while ((int64_t)tmp->u.list.len < cnt)
				value_list_append(A, tmp, args[1]);
		}
		value_list_append(A, out, tmp);
	}
	return lazy(out);
}

FN(f_slice)
{
	if (!args[0]) /* a missing argument fails at the call, before any iteration */
		return jr_error(r, n, -EINVAL, "slice() missing slices");
	if (!iterable_kind(in))
		return poisoned(r, in);
	int64_t slices;
	if (!args[0] || !need_int(r, n, args[0], &slices, "slices"))
		return args[0] ? NULL : jr_error(r, n, -EINVAL, "slice() missing slices");
	struct value *seq = jr_iterable(r, n, in);
	if (!seq)
		return NULL;
	if (slices <= 0)
		return slices == 0 ? jr_error(r, n, -EDOM, "integer division or modulo by zero") : value_list(A);
	/* every slice is a list of its own, however short the input */
	if ((uint64_t)slices > jr_max_memory(r) / (sizeof(struct value) + sizeof(struct value *)))
		return too_big(r, n);
	int64_t length = (int64_t)seq->u.list.len, per = length / slices, extra = length % slices,
		offset = 0;
	struct value *out = value_list(A);
	for (int64_t k = 0; k < slices; k++) {
		int64_t start = offset + k * per;
		if (k < extra)
			offset++;
		int64_t end = offset + (k + 1) * per;
		struct value *tmp = value_list(A);
		for (int64_t i = start; i < end && i < length; i++)
			value_list_append(A, tmp, seq->u.list.items[i]);
		if (args[1] && args[1]->kind != V_NONE && k >= extra)
			value_list_append(A, tmp, args[1]);
		value_list_append(A, out, tmp);
	}
	return lazy(out);
}

FN(f_sum)
{
	struct value *it = jr_iterable(r, n, in);
	if (!it)
		return NULL;
	struct value *acc = args[1] ? args[1] : value_int(A, 0);
	if (acc->kind == V_STRING)
		return jr_error(r, n, -EINVAL, "sum() can't sum strings [use ''.join(seq) instead]");
	for (size_t i = 0; i < it->u.list.len; i++) {
		struct value *v = attr_get(r, n, it->u.list.items[i], args[0], NULL);
		if (!v)
			return NULL;
		if (acc->kind == V_STRING || v->kind == V_STRING)
			return jr_error(r, n, -EINVAL, "unsupported operand type(s) for +: '%s' and '%s'",
					value_type_name(acc), value_type_name(v));
		acc = jinja_binop_add(r, n, acc, v);
		if (!acc)
			return NULL;
	}
	return acc;
}

static struct value *min_max(struct jrender *r, const struct jnode *n, struct value *in,
			     struct value **args, bool max)
{
	struct value *it = jr_iterable(r, n, in);
	if (!it)
		return NULL;
	if (!it->u.list.len)
		return value_undefined(A, "No aggregated item, sequence was empty.");
	bool cs = arg_true(args[0], false);
	struct value *best = it->u.list.items[0];
	struct value *bk = ignore_case(r, attr_get(r, n, best, args[1], NULL), cs);
	if (!bk)
		return NULL;
	for (size_t i = 1; i < it->u.list.len; i++) {
		struct value *k = ignore_case(r, attr_get(r, n, it->u.list.items[i], args[1], NULL), cs);
		if (!k)
			return NULL;
		int c = jr_compare(r, n, k, bk);
		if (jr_failed(r))
			return NULL;
		if (max ? c > 0 : c < 0) {
			best = it->u.list.items[i];
			bk = k;
		}
	}
	return best;
}

FN(f_min)
{
	return min_max(r, n, in, args, false);
}

FN(f_max)
{
	return min_max(r, n, in, args, true);
}

FN(f_abs)
{
	if (in->kind == V_INT)
		return in->u.i < 0 ? value_int(A, -in->u.i) : in;
	if (in->kind == V_BOOL)
		return value_int(A, in->u.b);
	if (in->kind == V_FLOAT)
		return value_float(A, fabs(in->u.f));
	if (in->kind == V_UNDEFINED)
		return jr_undefined_error(r, n, in);
	return jr_error(r, n, -EINVAL, "bad operand type for abs(): '%s'", value_type_name(in));
}

/* Python's round(x, ndigits): correctly rounded, ties to even */
static double py_round(double x, int64_t nd)
{
	if (!isfinite(x))
		return x;
	if (nd > 300)
		return x;
	if (nd < -300)
		return copysign(0.0, x);
	char buf[512];
	if (nd >= 0) {
		snprintf(buf, sizeof(buf), "%.*f", (int)nd, x); /* glibc rounds exactly, ties even */
		return strtod(buf, NULL);
	}
	double p = pow(10.0, (double)-nd);
	double y = x / p;
	double z = nearbyint(y);
	return z * p;
}

FN(f_round)
{
	int64_t prec = 0;
	const char *method = args[1] && args[1]->kind == V_STRING ? args[1]->u.str.s : "common";
	if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
		return jr_error(r, n, -EINVAL, "method must be common, ceil or floor");
	if (args[0] && args[0]->kind == V_NONE && !strcmp(method, "common") && (in->kind == V_INT || in->kind == V_FLOAT || in->kind == V_BOOL)) {
		/* round(x, None) is round(x): an int, halves to even */
		if (in->kind != V_FLOAT)
			return value_int(A, ival(in));
		if (!isfinite(in->u.f))
			return jr_error(r, n, -ERANGE, "cannot convert float %s to integer",
					isnan(in->u.f) ? "NaN" : "infinity");
		double v = nearbyint(in->u.f);
		if (v >= 9.2233720368547758e18 || v < -9.2233720368547758e18)
			return jr_error(r, n, -ERANGE, "integer too large for lavafs (64-bit)");
		return value_int(A, (int64_t)v);
	}
	if (args[0] && !need_int(r, n, args[0], &prec, "precision"))
		return NULL;
	if (in->kind == V_UNDEFINED)
		return jr_undefined_error(r, n, in);
	if (in->kind != V_INT && in->kind != V_FLOAT && in->kind != V_BOOL)
		return jr_error(r, n, -EINVAL, "type %s doesn't define __round__ method", value_type_name(in));
	if (!strcmp(method, "common")) {
		if (in->kind != V_FLOAT) {
			if (prec >= 0)
				return value_int(A, ival(in));
			double p = pow(10.0, (double)-prec);
			return value_int(A, (int64_t)(nearbyint((double)ival(in) / p) * p));
		}
		return value_float(A, py_round(in->u.f, prec));
	}
	double p = pow(10.0, (double)prec);
	double x = in->kind == V_FLOAT ? in->u.f : (double)ival(in);
	double v = method[0] == 'c' ? ceil(x * p) : floor(x * p);
	return value_float(A, v / p);
}

FN(f_center)
{
	int64_t w = 80;
	if (args[0] && !need_int(r, n, args[0], &w, "width"))
		return NULL;
	return pad(r, n, jr_str(r, in), w, '^', " ", 1);
}

/* ---- wordwrap: textwrap.wrap (expand_tabs and replace_whitespace off) per line ---- */

static bool tw_ws(uint32_t c) /* textwrap's whitespace: '\t\n\x0b\x0c\r ' */
{
	return c == ' ' || (c >= 0x09 && c <= 0x0d);
}

static bool tw_word(uint32_t c) /* \w */
{
	return cp_word(c);
}

static bool tw_letter(uint32_t c) /* [^\d\W] */
{
	return cp_word(c) && !cp_digit(c);
}

static bool tw_punct(uint32_t c) /* [\w!"'&.,?] */
{
	return tw_word(c) || (c && strchr("!\"'&.,?", (int)c));
}

/* (?=-{2,}\w) at i */
static bool tw_emdash_ahead(const uint32_t *t, size_t n, size_t i)
{
	size_t j = i;
	while (j < n && t[j] == '-')
		j++;
	return j - i >= 2 && j < n && tw_word(t[j]);
}

/* the end of textwrap's wordsep_re match starting at i (never empty) */
static size_t tw_match(const uint32_t *t, size_t n, size_t i)
{
	if (tw_ws(t[i])) {
		while (i < n && tw_ws(t[i]))
			i++;
		return i;
	}
	/* (?<=wp) -{2,} (?=\w) */
	if (i > 0 && tw_punct(t[i - 1]) && t[i] == '-' && tw_emdash_ahead(t, n, i)) {
		size_t j = i;
		while (j < n && t[j] == '-')
			j++;
		return j;
	}
	/* nws+? then: a hyphen ending a hyphenated part, the end of the word, or an em-dash */
	for (size_t k = i + 1; k <= n; k++) {
		if (tw_ws(t[k - 1]))
			break; /* cannot happen: the loop stops at the word's end */
		size_t h = k; /* a hyphen at h */
		if (h < n && t[h] == '-') {
			bool behind = (h >= 2 && tw_letter(t[h - 2]) && tw_letter(t[h - 1])) ||
				      (h >= 3 && tw_letter(t[h - 3]) && t[h - 2] == '-' &&
				       tw_letter(t[h - 1]));
			size_t a = h + 1;
			bool ahead = a < n && tw_letter(t[a]) &&
				     ((a + 1 < n && tw_letter(t[a + 1])) ||
				      (a + 2 < n && t[a + 1] == '-' && tw_letter(t[a + 2])));
			if (behind && ahead)
				return h + 1;
		}
		if (k == n || tw_ws(t[k]))
			return k;
		if (tw_punct(t[k - 1]) && tw_emdash_ahead(t, n, k))
			return k;
	}
	return n;
}

static bool tw_blank(const uint32_t *t, size_t st, size_t en) /* chunk.strip() == '' */
{
	for (size_t i = st; i < en; i++)
		if (!py_space(t[i]))
			return false;
	return true;
}

struct tw_chunk {
	size_t st, en;
};

static void tw_wrap(struct jrender *r, struct strbuf *sb, const struct value *line, int64_t width,
		    bool break_long, bool hyphens, const struct value *wrapstring, bool *first)
{
	size_t n = 0, cap = line->u.str.len + 1;
	uint32_t *t = arena_alloc(A, cap * sizeof(*t));
	size_t *off = arena_alloc(A, (cap + 1) * sizeof(*off));
	for (size_t i = 0; i < line->u.str.len;) {
		off[n] = i;
		i = jutf8_next(line->u.str.s, line->u.str.len, i, &t[n]);
		n++;
	}
	off[n] = line->u.str.len;
	/* chunks, kept reversed as textwrap does (the next chunk is the last) */
	struct tw_chunk *ch = arena_alloc(A, (n + 1) * sizeof(*ch));
	size_t nch = 0;
	for (size_t i = 0; i < n;) {
		size_t e;
		if (hyphens) {
			e = tw_match(t, n, i);
		} else { /* (\s+) splits */
			e = i + 1;
			bool ws = tw_ws(t[i]);
			while (e < n && tw_ws(t[e]) == ws)
				e++;
		}
		ch[nch++] = (struct tw_chunk){i, e};
		i = e;
	}
	for (size_t i = 0; i < nch / 2; i++) {
		struct tw_chunk x = ch[i];
		ch[i] = ch[nch - 1 - i];
		ch[nch - 1 - i] = x;
	}
	struct tw_chunk *cur = arena_alloc(A, (nch + 1) * sizeof(*cur));
	bool any_line = false;
	while (nch) {
		size_t ncur = 0;
		int64_t cur_len = 0;
		if (tw_blank(t, ch[nch - 1].st, ch[nch - 1].en) && any_line)
			nch--;
		while (nch) {
			int64_t l = (int64_t)(ch[nch - 1].en - ch[nch - 1].st);
			if (cur_len + l > width)
				break;
			cur[ncur++] = ch[--nch];
			cur_len += l;
		}
		if (nch && (int64_t)(ch[nch - 1].en - ch[nch - 1].st) > width) {
			/* _handle_long_word */
			int64_t space_left = width < 1 ? 1 : width - cur_len;
			struct tw_chunk *c = &ch[nch - 1];
			if (break_long) {
				int64_t end = space_left;
				int64_t clen = (int64_t)(c->en - c->st);
				if (hyphens && clen > space_left) {
					int64_t hy = -1;
					for (int64_t j = (space_left < clen ? space_left : clen) - 1; j >= 0; j--)
						if (t[c->st + (size_t)j] == '-') {
							hy = j;
							break;
						}
					bool nondash = false;
					for (int64_t j = 0; j < hy; j++)
						nondash |= t[c->st + (size_t)j] != '-';
					if (hy > 0 && nondash)
						end = hy + 1;
				}
				if (end > clen)
					end = clen;
				if (end < 0)
					end = 0;
				cur[ncur++] = (struct tw_chunk){c->st, c->st + (size_t)end};
				c->st += (size_t)end;
			} else if (!ncur) {
				cur[ncur++] = ch[--nch];
			}
		}
		if (ncur && tw_blank(t, cur[ncur - 1].st, cur[ncur - 1].en))
			ncur--;
		if (ncur) {
			if (!*first)
				strbuf_add(sb, wrapstring->u.str.s, wrapstring->u.str.len);
			*first = false;
			any_line = true;
			for (size_t i = 0; i < ncur; i++)
				strbuf_add(sb, line->u.str.s + off[cur[i].st], off[cur[i].en] - off[cur[i].st]);
		}
	}
}

FN(f_wordwrap)
{
	if (in->kind == V_UNDEFINED)
		return jr_undefined_error(r, n, in);
	if (in->kind != V_STRING)
		return jr_error(r, n, -EINVAL, "'%s' object has no attribute 'splitlines'", value_type_name(in));
	/* jinja2 wraps line by line: a value without lines never reaches textwrap */
	if (!in->u.str.len)
		return in;
	int64_t width = 79;
	if (args[0] && !need_int(r, n, args[0], &width, "width"))
		return NULL;
	if (width <= 0)
		return jr_error(r, n, -EINVAL, "invalid width %lld (must be > 0)", (long long)width);
	bool break_long = arg_true(args[1], true);
	struct value *ws = args[2] && args[2]->kind != V_NONE ? args[2] : value_cstr(A, "\n");
	if (ws->kind != V_STRING)
		return jr_error(r, n, -EINVAL, "wordwrap: wrapstring must be a string");
	bool hyphens = arg_true(args[3], true);
	struct value *lines = splitlines(r, in, false);
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < lines->u.list.len; i++) {
		if (i)
			strbuf_add(&sb, ws->u.str.s, ws->u.str.len);
		bool first = true;
		tw_wrap(r, &sb, lines->u.list.items[i], width, break_long, hyphens, ws, &first);
	}
	return sval(r, &sb);
}

FN(f_wordcount)
{
	struct value *s = jr_str(r, in);
	int64_t c = 0;
	bool inword = false;
	size_t i = 0;
	while (i < s->u.str.len) {
		uint32_t ch;
		i = jutf8_next(s->u.str.s, s->u.str.len, i, &ch);
		bool w = cp_word(ch);
		if (w && !inword)
			c++;
		inword = w;
	}
	return value_int(A, c);
}

FN(f_truncate)
{
	int64_t length = 255, leeway = 5;
	if (args[0] && !need_int(r, n, args[0], &length, "length"))
		return NULL;
	bool killwords = arg_true(args[1], false);
	struct value *end = args[2] ? jr_str(r, args[2]) : value_cstr(A, "...");
	if (args[3] && args[3]->kind != V_NONE && !need_int(r, n, args[3], &leeway, "leeway"))
		return NULL;
	int64_t endlen = (int64_t)cp_count(end);
	if (length < endlen)
		return jr_error(r, n, -EINVAL, "expected length >= %lld, got %lld", (long long)endlen,
				(long long)length);
	if (leeway < 0)
		return jr_error(r, n, -EINVAL, "expected leeway >= 0, got %lld", (long long)leeway);
	/* jinja2 measures the value itself: short non-strings come back unchanged */
	if (in->kind != V_STRING) {
		struct value *len = length_of(r, n, in);
		if (!len)
			return NULL;
		if (len->u.i <= length + leeway)
			return in;
		return jr_error(r, n, -EINVAL, "truncate: cannot cut a %s", value_type_name(in));
	}
	struct value *s = in;
	int64_t len = (int64_t)cp_count(s);
	if (len <= length + leeway)
		return s;
	struct value *head = jr_getitem(r, n, s, value_int(A, 0)); /* ensure string */
	(void)head;
	struct strbuf sb = STRBUF_INIT;
	size_t i = 0;
	int64_t k = 0;
	while (i < s->u.str.len && k < length - endlen) {
		uint32_t c;
		i = jutf8_next(s->u.str.s, s->u.str.len, i, &c);
		k++;
	}
	struct value *pre = value_str(A, s->u.str.s, i);
	if (!killwords) {
		const char *sp = NULL;
		for (size_t j = pre->u.str.len; j-- > 0;)
			if (pre->u.str.s[j] == ' ') {
				sp = pre->u.str.s + j;
				break;
			}
		if (sp)
			pre = value_str(A, pre->u.str.s, (size_t)(sp - pre->u.str.s));
	}
	strbuf_add(&sb, pre->u.str.s, pre->u.str.len);
	strbuf_add(&sb, end->u.str.s, end->u.str.len);
	return sval(r, &sb);
}

FN(f_format)
{
	/* value % args, or value % kwargs: positional args arrive in args[0..4], keyword ones
	 * as a dict in args[5] */
	if (args[5]) {
		if (args[0])
			return jr_error(r, n, -EINVAL,
					"can't handle positional and keyword arguments at the same time");
		return jinja_percent_format(r, n, jr_str(r, in), args[5]);
	}
	struct value *t = value_tuple(A);
	for (int k = 0; k < 5 && args[k]; k++)
		value_list_append(A, t, args[k]);
	return jinja_percent_format(r, n, jr_str(r, in), t);
}

static void html_escape(struct strbuf *sb, const struct value *s)
{
	jinja_html_escape(sb, s->u.str.s, s->u.str.len);
}

void jinja_html_escape(struct strbuf *sb, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		switch (c) {
		case '&':
			strbuf_adds(sb, "&amp;");
			break;
		case '<':
			strbuf_adds(sb, "&lt;");
			break;
		case '>':
			strbuf_adds(sb, "&gt;");
			break;
		case '"':
			strbuf_adds(sb, "&#34;");
			break;
		case '\'':
			strbuf_adds(sb, "&#39;");
			break;
		default:
			strbuf_addc(sb, c);
		}
	}
}

FN(f_escape)
{
	if (in->kind == V_NONE && 0)
		return in;
	struct strbuf sb = STRBUF_INIT;
	html_escape(&sb, jr_str(r, in));
	return sval(r, &sb);
}

FN(f_safe)
{
	return jr_str(r, in);
}

FN(f_striptags)
{
	struct value *s = jr_str(r, in);
	struct strbuf a = STRBUF_INIT;
	const char *p = s->u.str.s, *e = p + s->u.str.len;
	while (p < e) {
		if (p + 4 <= e && !memcmp(p, "<!--", 4)) {
			const char *c = memmem(p + 4, (size_t)(e - p - 4), "-->", 3);
			if (c) {
				p = c + 3;
				continue;
			}
		}
		if (*p == '<') {
			const char *c = memchr(p + 1, '>', (size_t)(e - p - 1));
			if (c) {
				p = c + 1;
				continue;
			}
		}
		strbuf_addc(&a, *p++);
	}
	/* collapse whitespace, then unescape entities */
	struct value *joined;
	{
		struct value *words = split(r, n, value_str(A, a.buf ? a.buf : "", a.len), NULL, -1, false);
		strbuf_release(&a);
		struct strbuf b = STRBUF_INIT;
		for (size_t i = 0; i < words->u.list.len; i++) {
			if (i)
				strbuf_addc(&b, ' ');
			strbuf_add(&b, words->u.list.items[i]->u.str.s, words->u.list.items[i]->u.str.len);
		}
		joined = sval(r, &b);
	}
	static const struct {
		const char *ent;
		const char *txt;
	} ents[] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"},
		    {"&#34;", "\""}, {"&apos;", "'"}, {"&nbsp;", "\xc2\xa0"}, {NULL, NULL}};
	struct strbuf c = STRBUF_INIT;
	p = joined->u.str.s;
	e = p + joined->u.str.len;
	while (p < e) {
		if (*p == '&') {
			bool done = false;
			for (int k = 0; ents[k].ent && !done; k++) {
				size_t l = strlen(ents[k].ent);
				if ((size_t)(e - p) >= l && !memcmp(p, ents[k].ent, l)) {
					strbuf_adds(&c, ents[k].txt);
					p += l;
					done = true;
				}
			}
			if (!done && p + 2 < e && p[1] == '#') {
				char *end;
				bool hex = (p[2] | 0x20) == 'x';
				unsigned long v = strtoul(p + 2 + hex, &end, hex ? 16 : 10);
				if (end > p + 2 + hex && end < e && *end == ';' && v < 0x110000) {
					jutf8_put(&c, (uint32_t)v);
					p = end + 1;
					done = true;
				}
			}
			if (done)
				continue;
		}
		strbuf_addc(&c, *p++);
	}
	return sval(r, &c);
}

static void url_quote(struct strbuf *sb, const struct value *s, bool for_qs)
{
	for (size_t i = 0; i < s->u.str.len; i++) {
		unsigned char c = (unsigned char)s->u.str.s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("_.-~", c) || (!for_qs && c == '/'))
			strbuf_addc(sb, (char)c);
		else if (for_qs && c == ' ')
			strbuf_addc(sb, '+');
		else
			strbuf_addf(sb, "%%%02X", c);
	}
}

FN(f_urlencode)
{
	struct strbuf sb = STRBUF_INIT;
	if (in->kind == V_STRING || (in->kind != V_MAP && in->kind != V_LIST && in->kind != V_TUPLE)) {
		url_quote(&sb, jr_str(r, in), false);
		return sval(r, &sb);
	}
	struct value *pairs = in->kind == V_MAP ? jr_call_method(r, n, in, "items", NULL, 0, NULL, NULL, 0) : in;
	for (size_t i = 0; i < pairs->u.list.len; i++) {
		struct value *p = jr_iterable(r, n, pairs->u.list.items[i]);
		if (!p || p->u.list.len != 2) {
			strbuf_release(&sb);
			return p ? jr_error(r, n, -EINVAL, "urlencode: expected pairs") : NULL;
		}
		if (i)
			strbuf_addc(&sb, '&');
		url_quote(&sb, jr_str(r, p->u.list.items[0]), true);
		strbuf_addc(&sb, '=');
		url_quote(&sb, jr_str(r, p->u.list.items[1]), true);
	}
	return sval(r, &sb);
}

/* ---- pprint: Python's pprint.pformat (width 80, indent 1, dict keys sorted) ---- */

static const char *pp_type(const struct value *v)
{
	return v->kind == V_NONE ? "<class 'NoneType'>" : v->kind == V_BOOL ? "<class 'bool'>" :
	       v->kind == V_INT ? "<class 'int'>" : v->kind == V_FLOAT ? "<class 'float'>" :
	       v->kind == V_STRING ? "<class 'str'>" : v->kind == V_TUPLE ? "<class 'tuple'>" :
	       "<class 'object'>";
}

/* pprint's _safe_key: a < b when Python can order them, else by type name */
static int pp_cmp(const struct value *a, const struct value *b, int depth)
{
	int c;
	if (value_order_scalar(a, b, &c))
		return c;
	if (a->kind == V_TUPLE && b->kind == V_TUPLE && depth < 50) {
		for (size_t i = 0; i < a->u.list.len && i < b->u.list.len; i++) {
			c = pp_cmp(a->u.list.items[i], b->u.list.items[i], depth + 1);
			if (c)
				return c;
		}
		return a->u.list.len < b->u.list.len ? -1 : a->u.list.len > b->u.list.len;
	}
	c = strcmp(pp_type(a), pp_type(b));
	return c < 0 ? -1 : c > 0;
}

/* the map's entry indexes in sorted key order (stable) */
static size_t *pp_sorted(struct jrender *r, const struct value *m)
{
	size_t cnt = m->u.map.len;
	size_t *ix = arena_alloc(A, (cnt ? cnt : 1) * sizeof(*ix));
	for (size_t i = 0; i < cnt; i++) {
		size_t j = i;
		while (j > 0 && pp_cmp(m->u.map.keys[ix[j - 1]], m->u.map.keys[i], 0) > 0) {
			ix[j] = ix[j - 1];
			j--;
		}
		ix[j] = i;
	}
	return ix;
}

/* _safe_repr: repr with dict keys sorted at every depth */
static void pp_repr(struct jrender *r, struct strbuf *sb, const struct value *v, int depth)
{
	if (depth > 200 || (v->kind == V_LIST && is_lazy(v))) {
		value_repr(sb, v);
		return;
	}
	if (v->kind == V_LIST || v->kind == V_TUPLE) {
		strbuf_addc(sb, v->kind == V_LIST ? '[' : '(');
		for (size_t i = 0; i < v->u.list.len; i++) {
			if (i)
				strbuf_adds(sb, ", ");
			pp_repr(r, sb, v->u.list.items[i], depth + 1);
		}
		if (v->kind == V_TUPLE && v->u.list.len == 1)
			strbuf_addc(sb, ',');
		strbuf_addc(sb, v->kind == V_LIST ? ']' : ')');
		return;
	}
	if (v->kind == V_MAP) {
		size_t *ix = pp_sorted(r, v);
		strbuf_addc(sb, '{');
		for (size_t i = 0; i < v->u.map.len; i++) {
			if (i)
				strbuf_adds(sb, ", ");
			pp_repr(r, sb, v->u.map.keys[ix[i]], depth + 1);
			strbuf_adds(sb, ": ");
			pp_repr(r, sb, v->u.map.vals[ix[i]], depth + 1);
		}
		strbuf_addc(sb, '}');
		return;
	}
	value_repr(sb, v);
}

static size_t pp_repr_len(struct jrender *r, const struct value *v)
{
	struct strbuf t = STRBUF_INIT;
	pp_repr(r, &t, v, 0);
	size_t l = jutf8_len(t.buf ? t.buf : "", t.len);
	strbuf_release(&t);
	return l;
}

static void pp_spaces(struct strbuf *sb, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		strbuf_addc(sb, ' ');
}

static void pp_format(struct jrender *r, struct strbuf *sb, const struct value *v, int64_t indent,
		      int64_t allowance, int level);

static void pp_str(struct jrender *r, struct strbuf *sb, const struct value *v, int64_t indent,
		   int64_t allowance, int level)
{
	if (!v->u.str.len) {
		value_repr(sb, v);
		return;
	}
	struct value *lines = splitlines(r, v, true);
	if (level == 1) {
		indent++;
		allowance++;
	}
	int64_t max_width1 = 80 - indent, max_width = 80 - indent;
	struct value *chunks = value_list(A);
	for (size_t i = 0; i < lines->u.list.len; i++) {
		struct value *line = lines->u.list.items[i];
		bool lastline = i + 1 == lines->u.list.len;
		if (lastline)
			max_width1 -= allowance;
		if ((int64_t)pp_repr_len(r, line) <= max_width1) {
			value_list_append(A, chunks, line);
			continue;
		}
		/* re.findall(r'\S*\s*', line) without the final empty match */
		const char *p = line->u.str.s;
		size_t len = line->u.str.len, pos = 0;
		int64_t max_width2 = max_width;
		size_t cur_st = 0, cur_en = 0; /* current = p[cur_st..cur_en) */
		while (pos < len) {
			size_t st = pos;
			uint32_t c;
			while (pos < len) {
				size_t nx = jutf8_next(p, len, pos, &c);
				if (py_space(c))
					break;
				pos = nx;
			}
			while (pos < len) {
				size_t nx = jutf8_next(p, len, pos, &c);
				if (!py_space(c))
					break;
				pos = nx;
			}
			bool lastpart = pos >= len;
			if (lastpart && lastline)
				max_width2 -= allowance;
			struct value *cand = value_str(A, p + cur_st, pos - cur_st);
			if ((int64_t)pp_repr_len(r, cand) > max_width2) {
				if (cur_en > cur_st)
					value_list_append(A, chunks, value_str(A, p + cur_st, cur_en - cur_st));
				cur_st = st;
			}
			cur_en = pos;
		}
		if (cur_en > cur_st)
			value_list_append(A, chunks, value_str(A, p + cur_st, cur_en - cur_st));
	}
	if (chunks->u.list.len == 1) {
		/* python writes the last line's repr here */
		value_repr(sb, lines->u.list.items[lines->u.list.len - 1]);
		return;
	}
	if (level == 1)
		strbuf_addc(sb, '(');
	for (size_t i = 0; i < chunks->u.list.len; i++) {
		if (i) {
			strbuf_addc(sb, '\n');
			pp_spaces(sb, indent);
		}
		value_repr(sb, chunks->u.list.items[i]);
	}
	if (level == 1)
		strbuf_addc(sb, ')');
}

static void pp_items(struct jrender *r, struct strbuf *sb, const struct value *v, int64_t indent,
		     int64_t allowance, int level)
{
	indent += 1;
	for (size_t i = 0; i < v->u.list.len; i++) {
		bool last = i + 1 == v->u.list.len;
		if (i) {
			strbuf_adds(sb, ",\n");
			pp_spaces(sb, indent);
		}
		pp_format(r, sb, v->u.list.items[i], indent, last ? allowance : 1, level);
	}
}

static void pp_format(struct jrender *r, struct strbuf *sb, const struct value *v, int64_t indent,
		      int64_t allowance, int level)
{
	struct strbuf rep = STRBUF_INIT;
	pp_repr(r, &rep, v, 0);
	int64_t len = (int64_t)jutf8_len(rep.buf ? rep.buf : "", rep.len);
	bool dispatch = v->kind == V_MAP || v->kind == V_TUPLE || v->kind == V_STRING ||
			(v->kind == V_LIST && !is_lazy(v));
	if (len <= 80 - indent - allowance || !dispatch || level > 200) {
		strbuf_add(sb, rep.buf ? rep.buf : "", rep.len);
		strbuf_release(&rep);
		return;
	}
	strbuf_release(&rep);
	level++;
	if (v->kind == V_MAP) {
		strbuf_addc(sb, '{');
		size_t *ix = pp_sorted(r, v);
		int64_t ind = indent + 1;
		for (size_t i = 0; i < v->u.map.len; i++) {
			bool last = i + 1 == v->u.map.len;
			struct strbuf k = STRBUF_INIT;
			pp_repr(r, &k, v->u.map.keys[ix[i]], 0);
			int64_t klen = (int64_t)jutf8_len(k.buf ? k.buf : "", k.len);
			strbuf_add(sb, k.buf ? k.buf : "", k.len);
			strbuf_release(&k);
			strbuf_adds(sb, ": ");
			pp_format(r, sb, v->u.map.vals[ix[i]], ind + klen + 2, last ? allowance + 1 : 1,
				  level);
			if (!last) {
				strbuf_adds(sb, ",\n");
				pp_spaces(sb, ind);
			}
		}
		strbuf_addc(sb, '}');
	} else if (v->kind == V_LIST) {
		strbuf_addc(sb, '[');
		pp_items(r, sb, v, indent, allowance + 1, level);
		strbuf_addc(sb, ']');
	} else if (v->kind == V_TUPLE) {
		bool one = v->u.list.len == 1;
		strbuf_addc(sb, '(');
		pp_items(r, sb, v, indent, allowance + (one ? 2 : 1), level);
		strbuf_adds(sb, one ? ",)" : ")");
	} else {
		pp_str(r, sb, v, indent, allowance, level);
	}
}

FN(f_pprint)
{
	struct strbuf sb = STRBUF_INIT;
	pp_format(r, &sb, in, 0, 0, 0);
	return sval(r, &sb);
}

FN(f_xmlattr)
{
	if (in->kind != V_MAP) {
		if (in->kind == V_UNDEFINED)
			return jr_undefined_error(r, n, in);
		return jr_error(r, n, -EINVAL, "'%s' object has no attribute 'items'", value_type_name(in));
	}
	struct strbuf sb = STRBUF_INIT;
	bool first = true;
	for (size_t i = 0; i < in->u.map.len; i++) {
		struct value *k = in->u.map.keys[i], *v = in->u.map.vals[i];
		if (v->kind == V_NONE || v->kind == V_UNDEFINED)
			continue;
		if (k->kind != V_STRING) {
			strbuf_release(&sb);
			return jr_error(r, n, -EINVAL, "expected string or bytes-like object");
		}
		for (size_t j = 0; j < k->u.str.len; j++) {
			unsigned char c = (unsigned char)k->u.str.s[j];
			/* [\s/>=] with re.ASCII */
			if (c == ' ' || (c >= '\t' && c <= '\r') || c == '/' || c == '>' || c == '=') {
				struct strbuf t = STRBUF_INIT;
				value_repr(&t, k);
				struct value *rk = sval(r, &t);
				strbuf_release(&sb);
				return jr_error(r, n, -EINVAL, "Invalid character in attribute name: %s", rk->u.str.s);
			}
		}
		if (!first || arg_true(args[0], true))
			strbuf_addc(&sb, ' ');
		first = false;
		html_escape(&sb, k);
		strbuf_add(&sb, "=\"", 2);
		html_escape(&sb, jr_str(r, v));
		strbuf_addc(&sb, '"');
	}
	return sval(r, &sb);
}

FN(f_attr)
{
	if (!args[0])
		return jr_error(r, n, -EINVAL, "attr() missing name");
	struct value *name = jr_str(r, args[0]);
	if (in->kind == V_UNDEFINED)
		return jr_undefined_error(r, n, in);
	/* attribute lookup only: dict keys are not attributes */
	if (in->kind == V_MAP || in->kind == V_LIST || in->kind == V_TUPLE || in->kind == V_STRING) {
		if (jr_has_method(in, name->u.str.s))
			return jr_getattr(r, n, in, name->u.str.s, name->u.str.len);
		return value_undefined(A, NULL);
	}
	return jr_getattr(r, n, in, name->u.str.s, name->u.str.len);
}

FN(f_groupby)
{
	if (!args[0])
		return jr_error(r, n, -EINVAL, "groupby() missing attribute");
	bool cs = arg_true(args[2], false);
	struct value *l = list_of(r, n, in);
	if (!l)
		return NULL;
	size_t cnt = l->u.list.len;
	struct value **keys = arena_alloc(A, (cnt ? cnt : 1) * sizeof(*keys));
	for (size_t i = 0; i < cnt; i++) {
		keys[i] = ignore_case(r, attr_get(r, n, l->u.list.items[i], args[0], args[1]), cs);
		if (!keys[i])
			return NULL;
	}
	struct sort_ctx sc = {r, n, false};
	if (!merge_sort(&sc, l->u.list.items, keys, cnt))
		return NULL;
	struct value *out = value_list(A);
	for (size_t i = 0; i < cnt;) {
		struct value *grp = value_list(A);
		size_t j = i;
		while (j < cnt && value_equal(keys[j], keys[i]))
			value_list_append(A, grp, l->u.list.items[j++]);
		struct value *g = keys[i];
		if (!cs) /* the grouper is the original value of the first item */
			g = attr_get(r, n, l->u.list.items[i], args[0], args[1]);
		struct value *gt = tuple2(r, g, grp);
		gt->line = -3; /* a _GroupTuple: .grouper and .list name its items */
		value_list_append(A, out, gt);
		i = j;
	}
	return out;
}

FN(f_filesizeformat)
{
	double bytes;
	if (in->kind == V_FLOAT)
		bytes = in->u.f;
	else if (is_intlike(in))
		bytes = (double)ival(in);
	else if (in->kind == V_STRING && parse_float_str(in->u.str.s, in->u.str.len, &bytes))
		;
	else
		return jr_error(r, n, -EINVAL, "filesizeformat: not a number");
	bool binary = arg_true(args[0], false);
	double base = binary ? 1024 : 1000;
	static const char *const dec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
	static const char *const bin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
	struct strbuf sb = STRBUF_INIT;
	if (bytes == 1) {
		strbuf_adds(&sb, "1 Byte");
	} else if (bytes < base) {
		strbuf_addf(&sb, "%d Bytes", (int)bytes);
	} else {
		for (int i = 0; i < 8; i++) {
			double unit = pow(base, i + 2);
			if (bytes < unit || i == 7) {
				strbuf_addf(&sb, "%.1f %s", base * bytes / unit, binary ? bin[i] : dec[i]);
				break;
			}
		}
	}
	return sval(r, &sb);
}

/* ------------------------------------------------------------ LAVA's filters */

FN(f_qemu_guest_fs_interface)
{
	if (!args[0])
		return jr_error(r, n, -EINVAL,
				"qemu_guest_fs_interface() missing 1 required positional argument: 'guestfs_interface'");
	if (value_truthy(args[0]))
		return args[0];
	static const char *const x86[] = {"amd64", "x86_64", "i386", NULL};
	for (int i = 0; x86[i]; i++)
		if (value_is_string(in, x86[i]))
			return value_cstr(A, "ide");
	return value_cstr(A, "virtio");
}

void jinja_shlex_quote(struct strbuf *sb, const char *s, size_t len)
{
	if (len == 0) {
		strbuf_adds(sb, "''");
		return;
	}
	bool safe = true;
	for (size_t i = 0; i < len && safe; i++) {
		unsigned char c = (unsigned char)s[i];
		safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		       strchr("_@%+=:,./-", c);
	}
	if (safe) {
		strbuf_add(sb, s, len);
		return;
	}
	strbuf_addc(sb, '\'');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\'')
			strbuf_adds(sb, "'\"'\"'");
		else
			strbuf_addc(sb, s[i]);
	}
	strbuf_addc(sb, '\'');
}

FN(f_shlex_quote)
{
	if (in->kind == V_UNDEFINED || (!truthy(in) && in->kind != V_STRING))
		return value_cstr(A, "''");
	if (in->kind != V_STRING)
		return jr_error(r, n, -EINVAL, "expected string or bytes-like object, got '%s'",
				is_lazy(in) ? "generator" : value_type_name(in));
	struct strbuf sb = STRBUF_INIT;
	jinja_shlex_quote(&sb, in->u.str.s, in->u.str.len);
	return sval(r, &sb);
}

static void yaml_dq(struct strbuf *sb, const char *s, size_t len)
{
	strbuf_addc(sb, '"');
	size_t i = 0;
	while (i < len) {
		uint32_t c;
		size_t nx = jutf8_next(s, len, i, &c);
		const char *esc = NULL;
		switch (c) {
		case 0: esc = "0"; break;
		case 7: esc = "a"; break;
		case 8: esc = "b"; break;
		case 9: esc = "t"; break;
		case 10: esc = "n"; break;
		case 11: esc = "v"; break;
		case 12: esc = "f"; break;
		case 13: esc = "r"; break;
		case 27: esc = "e"; break;
		case '"': esc = "\""; break;
		case '\\': esc = "\\"; break;
		case 0x85: esc = "N"; break;
		case 0xa0: esc = "_"; break;
		case 0x2028: esc = "L"; break;
		case 0x2029: esc = "P"; break;
		default: break;
		}
		if (esc) {
			strbuf_addc(sb, '\\');
			strbuf_adds(sb, esc);
		} else if (c >= 0x20 && c <= 0x7e) {
			strbuf_addc(sb, (char)c);
		} else if (c < 0x100) {
			strbuf_addf(sb, "\\x%02X", c);
		} else if (c < 0x10000) {
			strbuf_addf(sb, "\\u%04X", c);
		} else {
			strbuf_addf(sb, "\\U%08X", c);
		}
		i = nx;
	}
	strbuf_addc(sb, '"');
}

static bool yaml_quote_value(struct jrender *r, const struct jnode *n, struct strbuf *sb,
			     const struct value *v, int depth)
{
	if (depth > 100) {
		jr_error(r, n, -ELOOP, "yaml_quote: nesting too deep");
		return false;
	}
	switch (v->kind) {
	case V_STRING:
		yaml_dq(sb, v->u.str.s, v->u.str.len);
		return true;
	case V_NONE:
		strbuf_adds(sb, "!!null \"null\"");
		return true;
	case V_BOOL:
		strbuf_adds(sb, v->u.b ? "!!bool \"true\"" : "!!bool \"false\"");
		return true;
	case V_INT:
		strbuf_addf(sb, "!!int \"%lld\"", (long long)v->u.i);
		return true;
	case V_FLOAT: {
		strbuf_adds(sb, "!!float \"");
		if (isnan(v->u.f)) {
			strbuf_adds(sb, ".nan");
		} else if (isinf(v->u.f)) {
			strbuf_adds(sb, v->u.f < 0 ? "-.inf" : ".inf");
		} else {
			struct strbuf t = STRBUF_INIT;
			value_float_repr(&t, v->u.f);
			char *e = strchr(t.buf, 'e');
			if (e && !strchr(t.buf, '.')) {
				strbuf_add(sb, t.buf, (size_t)(e - t.buf));
				strbuf_adds(sb, ".0");
				strbuf_adds(sb, e);
			} else {
				strbuf_adds(sb, t.buf);
			}
			strbuf_release(&t);
		}
		strbuf_addc(sb, '"');
		return true;
	}
	case V_LIST:
	case V_TUPLE:
		/* SafeDumper writes a tuple as a sequence; a generator it cannot represent */
		if (is_lazy(v)) {
			jr_error(r, n, -EINVAL, "yaml_quote: cannot represent a generator");
			return false;
		}
		strbuf_addc(sb, '[');
		for (size_t i = 0; i < v->u.list.len; i++) {
			if (i)
				strbuf_adds(sb, ", ");
			if (!yaml_quote_value(r, n, sb, v->u.list.items[i], depth + 1))
				return false;
		}
		strbuf_addc(sb, ']');
		return true;
	case V_MAP: {
		size_t cnt = v->u.map.len;
		struct value **items = arena_alloc(A, (cnt ? cnt : 1) * sizeof(*items));
		struct value **keys = arena_alloc(A, (cnt ? cnt : 1) * sizeof(*keys));
		for (size_t i = 0; i < cnt; i++) {
			items[i] = tuple2(r, v->u.map.keys[i], v->u.map.vals[i]);
			keys[i] = v->u.map.keys[i];
		}
		struct sort_ctx sc = {r, n, false};
		if (!merge_sort(&sc, items, keys, cnt))
			return false;
		strbuf_addc(sb, '{');
		for (size_t i = 0; i < cnt; i++) {
			if (i)
				strbuf_adds(sb, ", ");
			if (!yaml_quote_value(r, n, sb, items[i]->u.list.items[0], depth + 1))
				return false;
			strbuf_adds(sb, ": ");
			if (!yaml_quote_value(r, n, sb, items[i]->u.list.items[1], depth + 1))
				return false;
		}
		strbuf_addc(sb, '}');
		return true;
	}
	default:
		jr_error(r, n, -EINVAL, "cannot represent an object: %s", value_type_name(v));
		return false;
	}
}

FN(f_yaml_quote)
{
	struct strbuf sb = STRBUF_INIT;
	if (!yaml_quote_value(r, n, &sb, in, 0)) {
		strbuf_release(&sb);
		return NULL;
	}
	return sval(r, &sb);
}

/* ------------------------------------------------------------ tests */

#define TEST(name) FN(name)
#define B(x) value_bool(A, (x))

TEST(t_defined)
{
	return B(in->kind != V_UNDEFINED);
}
TEST(t_undefined)
{
	return B(in->kind == V_UNDEFINED);
}
TEST(t_none)
{
	return B(in->kind == V_NONE);
}
TEST(t_boolean)
{
	return B(in->kind == V_BOOL);
}
TEST(t_false)
{
	return B(in->kind == V_BOOL && !in->u.b);
}
TEST(t_true)
{
	return B(in->kind == V_BOOL && in->u.b);
}
TEST(t_integer)
{
	return B(in->kind == V_INT);
}
TEST(t_float)
{
	return B(in->kind == V_FLOAT);
}
TEST(t_number)
{
	return B(in->kind == V_INT || in->kind == V_FLOAT || in->kind == V_BOOL);
}
TEST(t_string)
{
	return B(in->kind == V_STRING);
}
TEST(t_mapping)
{
	return B(in->kind == V_MAP);
}
TEST(t_iterable)
{
	return B(in->kind == V_STRING || in->kind == V_LIST || in->kind == V_TUPLE ||
		 in->kind == V_MAP || in->kind == V_UNDEFINED ||
		 (in->kind == V_NATIVE && in->u.native.tag == NT_LOOP));
}
TEST(t_sequence)
{
	if (is_lazy(in))
		return B(false);
	return B(in->kind == V_STRING || in->kind == V_LIST || in->kind == V_TUPLE ||
		 in->kind == V_MAP || in->kind == V_UNDEFINED);
}
TEST(t_callable)
{
	/* Undefined defines __call__ (to fail), so Python's callable() says yes */
	return B(jr_is_callable(in) || in->kind == V_UNDEFINED);
}
TEST(t_sameas)
{
	if (!args[0])
		return jr_error(r, n, -EINVAL, "sameas() missing argument");
	struct value *o = args[0];
	if (in == o)
		return B(true);
	/* None, True, False and small ints are singletons in CPython */
	if (in->kind == V_NONE || in->kind == V_BOOL)
		return B(in->kind == o->kind && (in->kind == V_NONE || in->u.b == o->u.b));
	if (in->kind == V_INT && o->kind == V_INT && in->u.i == o->u.i && in->u.i >= -5 && in->u.i <= 256)
		return B(true);
	return B(false);
}
TEST(t_escaped)
{
	/* Markup has __html__: lavafs keeps Markup as plain strings, so the expression tells
	 * (the filters that return Markup whatever the autoescape setting) */
	return B(n->a && n->a->kind == J_FILTER && jr_markup_filter(n->a->str));
}
TEST(t_lower)
{
	if (in->kind != V_STRING)
		in = jr_str(r, in);
	struct value *v = str_method(r, n, in, "islower", NULL, 0, NULL, NULL, 0);
	return v;
}
TEST(t_upper)
{
	if (in->kind != V_STRING)
		in = jr_str(r, in);
	return str_method(r, n, in, "isupper", NULL, 0, NULL, NULL, 0);
}
TEST(t_odd)
{
	if (in->kind == V_UNDEFINED)
		return jr_undefined_error(r, n, in);
	if (!is_intlike(in) && in->kind != V_FLOAT)
		return jr_error(r, n, -EINVAL, "unsupported operand type(s) for %%: '%s' and 'int'", value_type_name(in));
	if (in->kind == V_FLOAT)
		return B(fmod(fabs(in->u.f), 2.0) == 1.0);
	return B((ival(in) & 1) == 1);
}
TEST(t_even)
{
	if (in->kind == V_UNDEFINED)
		return jr_undefined_error(r, n, in);
	if (!is_intlike(in) && in->kind != V_FLOAT)
		return jr_error(r, n, -EINVAL, "unsupported operand type(s) for %%: '%s' and 'int'", value_type_name(in));
	if (in->kind == V_FLOAT)
		return B(fmod(fabs(in->u.f), 2.0) == 0.0);
	return B((ival(in) & 1) == 0);
}
TEST(t_divisibleby)
{
	if (!args[0])
		return jr_error(r, n, -EINVAL, "divisibleby() missing argument");
	if (in->kind == V_UNDEFINED)
		return jr_undefined_error(r, n, in);
	struct value *d = args[0];
	if (in->kind == V_STRING) { /* value % num formats the string: never equal to 0 */
		struct value *f = jinja_percent_format(r, n, in, d);
		return f ? B(false) : NULL;
	}
	if ((!is_intlike(in) && in->kind != V_FLOAT) || (!is_intlike(d) && d->kind != V_FLOAT))
		return jr_error(r, n, -EINVAL, "unsupported operand type(s) for %%");
	if (in->kind == V_FLOAT || d->kind == V_FLOAT) {
		double y = d->kind == V_FLOAT ? d->u.f : (double)ival(d);
		if (y == 0)
			return jr_error(r, n, -EDOM, "float modulo");
		double x = in->kind == V_FLOAT ? in->u.f : (double)ival(in);
		return B(fmod(x, y) == 0);
	}
	if (ival(d) == 0)
		return jr_error(r, n, -EDOM, "integer division or modulo by zero");
	return B(ival(in) % ival(d) == 0);
}

static struct value *cmp_test(struct jrender *r, const struct jnode *n, struct value *in,
			      struct value *o, int op)
{
	if (!o)
		return jr_error(r, n, -EINVAL, "test missing argument");
	if (op == 0)
		return B(value_equal(in, o));
	if (op == 1)
		return B(!value_equal(in, o));
	int c = jr_compare(r, n, in, o);
	if (jr_failed(r))
		return NULL;
	return B(op == 2 ? c < 0 : op == 3 ? c <= 0 : op == 4 ? c > 0 : c >= 0);
}
TEST(t_eq)
{
	return cmp_test(r, n, in, args[0], 0);
}
TEST(t_ne)
{
	return cmp_test(r, n, in, args[0], 1);
}
TEST(t_lt)
{
	return cmp_test(r, n, in, args[0], 2);
}
TEST(t_le)
{
	return cmp_test(r, n, in, args[0], 3);
}
TEST(t_gt)
{
	return cmp_test(r, n, in, args[0], 4);
}
TEST(t_ge)
{
	return cmp_test(r, n, in, args[0], 5);
}
TEST(t_in)
{
	if (!args[0])
		return jr_error(r, n, -EINVAL, "in() missing argument");
	struct value *seq = args[0];
	switch (seq->kind) {
	case V_STRING:
		if (in->kind != V_STRING)
			return jr_error(r, n, -EINVAL, "'in <string>' requires string as left operand");
		return B(in->u.str.len == 0 || memmem(seq->u.str.s, seq->u.str.len, in->u.str.s, in->u.str.len));
	case V_LIST:
	case V_TUPLE:
		for (size_t i = 0; i < seq->u.list.len; i++)
			if (value_equal(seq->u.list.items[i], in))
				return B(true);
		return B(false);
	case V_MAP:
		return B(value_map_get(seq, in) != NULL);
	case V_UNDEFINED:
		return B(false);
	default:
		return jr_error(r, n, -EINVAL, "argument of type '%s' is not iterable", value_type_name(seq));
	}
}
/* `value in environment.filters`: a list or dict cannot even be looked up */
static bool hashable(struct jrender *r, const struct jnode *n, const struct value *v)
{
	if ((v->kind == V_LIST && v->line != -6) || v->kind == V_MAP) {
		jr_error(r, n, -EINVAL, "unhashable type: '%s'", value_type_name(v));
		return false;
	}
	return true;
}
TEST(t_filter)
{
	if (!hashable(r, n, in))
		return NULL;
	return B(in->kind == V_STRING && jinja_filter_find(in->u.str.s));
}
TEST(t_test)
{
	if (!hashable(r, n, in))
		return NULL;
	return B(in->kind == V_STRING && jinja_test_find(in->u.str.s));
}

/* ------------------------------------------------------------ tables */

static const struct jfunc FILTERS[] = {
	{"abs", f_abs, {0}, 0, false},
	{"attr", f_attr, {"name"}, 1, false},
	{"batch", f_batch, {"linecount", "fill_with"}, 2, false},
	{"capitalize", f_capitalize, {0}, 0, false},
	{"center", f_center, {"width"}, 1, false},
	{"count", f_length, {0}, 0, false},
	{"d", f_default, {"default_value", "boolean"}, 2, false},
	{"default", f_default, {"default_value", "boolean"}, 2, false},
	{"dictsort", f_dictsort, {"case_sensitive", "by", "reverse"}, 3, false},
	{"e", f_escape, {0}, 0, false},
	{"escape", f_escape, {0}, 0, false},
	{"filesizeformat", f_filesizeformat, {"binary"}, 1, false},
	{"first", f_first, {0}, 0, false},
	{"float", f_float, {"default"}, 1, false},
	{"forceescape", f_escape, {0}, 0, false},
	{"format", f_format, {"a1", "a2", "a3", "a4", "a5"}, 5, true},
	{"groupby", f_groupby, {"attribute", "default", "case_sensitive"}, 3, false},
	{"indent", f_indent, {"width", "first", "blank"}, 3, false},
	{"int", f_int, {"default", "base"}, 2, false},
	{"items", f_items, {0}, 0, false},
	{"join", f_join, {"d", "attribute"}, 2, false},
	{"last", f_last, {0}, 0, false},
	{"length", f_length, {0}, 0, false},
	{"list", f_list, {0}, 0, false},
	{"lower", f_lower, {0}, 0, false},
	{"map", f_map, {"a1", "a2", "a3", "a4", "a5"}, 5, true},
	{"max", f_max, {"case_sensitive", "attribute"}, 2, false},
	{"min", f_min, {"case_sensitive", "attribute"}, 2, false},
	{"pprint", f_pprint, {0}, 0, false},
	{"xmlattr", f_xmlattr, {"autospace"}, 1, false},
	{"qemu_guest_fs_interface", f_qemu_guest_fs_interface, {"guestfs_interface"}, 1, false},
	{"reject", f_reject, {"a1", "a2", "a3", "a4", "a5"}, 5, true},
	{"rejectattr", f_rejectattr, {"a1", "a2", "a3", "a4", "a5"}, 5, true},
	{"replace", f_replace, {"old", "new", "count"}, 3, false},
	{"reverse", f_reverse, {0}, 0, false},
	{"round", f_round, {"precision", "method"}, 2, false},
	{"safe", f_safe, {0}, 0, false},
	{"select", f_select, {"a1", "a2", "a3", "a4", "a5"}, 5, true},
	{"selectattr", f_selectattr, {"a1", "a2", "a3", "a4", "a5"}, 5, true},
	{"shlex_quote", f_shlex_quote, {0}, 0, false},
	{"slice", f_slice, {"slices", "fill_with"}, 2, false},
	{"sort", f_sort, {"reverse", "case_sensitive", "attribute"}, 3, false},
	{"string", f_string, {0}, 0, false},
	{"striptags", f_striptags, {0}, 0, false},
	{"sum", f_sum, {"attribute", "start"}, 2, false},
	{"title", f_title, {0}, 0, false},
	{"tojson", f_tojson, {"indent"}, 1, false},
	{"trim", f_trim, {"chars"}, 1, false},
	{"truncate", f_truncate, {"length", "killwords", "end", "leeway"}, 4, false},
	{"unique", f_unique, {"case_sensitive", "attribute"}, 2, false},
	{"upper", f_upper, {0}, 0, false},
	{"urlencode", f_urlencode, {0}, 0, false},
	{"wordcount", f_wordcount, {0}, 0, false},
	{"wordwrap", f_wordwrap, {"width", "break_long_words", "wrapstring", "break_on_hyphens"}, 4, false},
	{"yaml_quote", f_yaml_quote, {0}, 0, false},
	{NULL, NULL, {0}, 0, false},
};

static const struct jfunc TESTS[] = {
	{"boolean", t_boolean, {0}, 0, false},
	{"callable", t_callable, {0}, 0, false},
	{"defined", t_defined, {0}, 0, false},
	{"divisibleby", t_divisibleby, {"num"}, 1, false},
	{"eq", t_eq, {"other"}, 1, false},
	{"equalto", t_eq, {"other"}, 1, false},
	{"escaped", t_escaped, {0}, 0, false},
	{"even", t_even, {0}, 0, false},
	{"false", t_false, {0}, 0, false},
	{"filter", t_filter, {0}, 0, false},
	{"float", t_float, {0}, 0, false},
	{"ge", t_ge, {"other"}, 1, false},
	{"greaterthan", t_gt, {"other"}, 1, false},
	{"gt", t_gt, {"other"}, 1, false},
	{"in", t_in, {"seq"}, 1, false},
	{"integer", t_integer, {0}, 0, false},
	{"iterable", t_iterable, {0}, 0, false},
	{"le", t_le, {"other"}, 1, false},
	{"lessthan", t_lt, {"other"}, 1, false},
	{"lower", t_lower, {0}, 0, false},
	{"lt", t_lt, {"other"}, 1, false},
	{"mapping", t_mapping, {0}, 0, false},
	{"ne", t_ne, {"other"}, 1, false},
	{"none", t_none, {0}, 0, false},
	{"number", t_number, {0}, 0, false},
	{"odd", t_odd, {0}, 0, false},
	{"sameas", t_sameas, {"other"}, 1, false},
	{"sequence", t_sequence, {0}, 0, false},
	{"string", t_string, {0}, 0, false},
	{"test", t_test, {0}, 0, false},
	{"true", t_true, {0}, 0, false},
	{"undefined", t_undefined, {0}, 0, false},
	{"upper", t_upper, {0}, 0, false},
	{NULL, NULL, {0}, 0, false},
};

static const struct jfunc *find(const struct jfunc *tab, const char *name)
{
	for (size_t i = 0; tab[i].name; i++)
		if (!strcmp(tab[i].name, name))
			return &tab[i];
	return NULL;
}

const struct jfunc *jinja_filter_find(const char *name)
{
	return find(FILTERS, name);
}

const struct jfunc *jinja_test_find(const char *name)
{
	return find(TESTS, name);
}
