/* jinja_lex: the tokenizer. It follows jinja2's lexer rule for rule (the order its regular
 * expressions are tried in), because whitespace handling is where engines differ: `-` on a tag
 * strips the whitespace next to it, trim_blocks eats the newline after `%}` and `#}`. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja_internal.h"

struct lexer {
	struct arena *a;
	/* names interned per template: equal names share one pointer, which the evaluator's
	 * scope lookups compare first */
	const char **names;
	size_t nnames_cap, nnames;
	const char *name, *src;
	size_t len, pos;
	int line;
	size_t line_start;
	struct jtok *v;
	size_t n, cap;
	struct lf_error *err;
};

static void advance(struct lexer *lx, size_t to)
{
	for (size_t i = lx->pos; i < to; i++)
		if (lx->src[i] == '\n') {
			lx->line++;
			lx->line_start = i + 1;
		}
	lx->pos = to;
}

static const char *intern(struct lexer *lx, const char *s, size_t len)
{
	if (lx->nnames * 2 >= lx->nnames_cap) {
		size_t cap = lx->nnames_cap ? lx->nnames_cap * 2 : 256;
		const char **t = arena_alloc(lx->a, cap * sizeof(char *));
		for (size_t i = 0; i < lx->nnames_cap; i++)
			if (lx->names[i]) {
				size_t h = jinja_name_hash(lx->names[i], strlen(lx->names[i])) & (cap - 1);
				while (t[h])
					h = (h + 1) & (cap - 1);
				t[h] = lx->names[i];
			}
		lx->names = t;
		lx->nnames_cap = cap;
	}
	size_t h = jinja_name_hash(s, len) & (lx->nnames_cap - 1);
	while (lx->names[h]) {
		if (strlen(lx->names[h]) == len && !memcmp(lx->names[h], s, len))
			return lx->names[h];
		h = (h + 1) & (lx->nnames_cap - 1);
	}
	const char *c = arena_strndup(lx->a, s, len);
	lx->names[h] = c;
	lx->nnames++;
	return c;
}

static struct jtok *push(struct lexer *lx, enum jtok_kind kind, size_t at)
{
	if (lx->n == lx->cap) {
		size_t cap = lx->cap ? lx->cap * 2 : 256;
		lx->v = arena_realloc(lx->a, lx->v, lx->cap * sizeof(*lx->v), cap * sizeof(*lx->v));
		lx->cap = cap;
	}
	struct jtok *t = &lx->v[lx->n++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	/* line/col of `at`, which is at or after lx->pos */
	int line = lx->line;
	size_t ls = lx->line_start;
	for (size_t i = lx->pos; i < at; i++)
		if (lx->src[i] == '\n') {
			line++;
			ls = i + 1;
		}
	t->line = line;
	t->col = (int)(at - ls) + 1;
	return t;
}

static int fail(struct lexer *lx, size_t at, const char *msg)
{
	int line = lx->line;
	size_t ls = lx->line_start;
	for (size_t i = lx->pos; i < at && i < lx->len; i++)
		if (lx->src[i] == '\n') {
			line++;
			ls = i + 1;
		}
	return lf_error_set(lx->err, -EINVAL, lx->name, line, (int)(at - ls) + 1, "%s", msg);
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t skip_ws(const struct lexer *lx, size_t p)
{
	while (p < lx->len && is_ws(lx->src[p]))
		p++;
	return p;
}

static bool at(const struct lexer *lx, size_t p, const char *s)
{
	size_t n = strlen(s);
	return p + n <= lx->len && memcmp(lx->src + p, s, n) == 0;
}

/* `{%[-+]?\s*WORD\s*` followed by `%}` or `-%}`; returns the end of the whole tag including
 * what the closing consumes, or 0. `eat_nl`: trim_blocks applies to this closing. */
static size_t match_word_tag(const struct lexer *lx, size_t p, const char *word, bool *strip_before,
			     bool eat_nl)
{
	if (!at(lx, p, "{%"))
		return 0;
	size_t q = p + 2;
	*strip_before = false;
	if (q < lx->len && (lx->src[q] == '-' || lx->src[q] == '+')) {
		*strip_before = lx->src[q] == '-';
		q++;
	}
	q = skip_ws(lx, q);
	if (!at(lx, q, word))
		return 0;
	q += strlen(word);
	size_t w = skip_ws(lx, q);
	if (w == q && q < lx->len && (isalnum((unsigned char)lx->src[q]) || lx->src[q] == '_'))
		return 0;
	q = w;
	if (eat_nl && at(lx, q, "+%}"))
		return q + 3;
	if (at(lx, q, "-%}"))
		return skip_ws(lx, q + 3);
	if (at(lx, q, "%}")) {
		q += 2;
		if (eat_nl && q < lx->len && lx->src[q] == '\n')
			q++;
		return q;
	}
	return 0;
}

static void emit_data(struct lexer *lx, size_t from, size_t to, bool rstrip)
{
	if (rstrip)
		while (to > from && is_ws(lx->src[to - 1]))
			to--;
	if (to > from) {
		struct jtok *t = push(lx, T_DATA, from);
		t->s = lx->src + from; /* points into the template's own copy of its source */
		t->len = to - from;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Python's unicode-escape decoding of a string literal's body. */
static int unescape(struct lexer *lx, size_t at_pos, const char *s, size_t n, struct jtok *t)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_grow(&sb, n);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c != '\\' || i + 1 >= n) {
			strbuf_addc(&sb, c);
			continue;
		}
		char e = s[++i];
		switch (e) {
		case '\n':
			break;
		case '\\':
		case '\'':
		case '"':
			strbuf_addc(&sb, e);
			break;
		case 'a':
			strbuf_addc(&sb, '\a');
			break;
		case 'b':
			strbuf_addc(&sb, '\b');
			break;
		case 'f':
			strbuf_addc(&sb, '\f');
			break;
		case 'n':
			strbuf_addc(&sb, '\n');
			break;
		case 'r':
			strbuf_addc(&sb, '\r');
			break;
		case 't':
			strbuf_addc(&sb, '\t');
			break;
		case 'v':
			strbuf_addc(&sb, '\v');
			break;
		case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
			uint32_t v = 0;
			int k = 0;
			while (k < 3 && i < n && s[i] >= '0' && s[i] <= '7') {
				v = v * 8 + (uint32_t)(s[i] - '0');
				i++;
				k++;
			}
			i--;
			jutf8_put(&sb, v);
			break;
		}
		case 'x':
		case 'u':
		case 'U': {
			int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
			uint32_t v = 0;
			for (int k = 0; k < digits; k++) {
				int h = i + 1 + (size_t)k < n ? hexval(s[i + 1 + k]) : -1;
				if (h < 0) {
					strbuf_release(&sb);
					return fail(lx, at_pos, "invalid escape sequence in string literal");
				}
				v = v * 16 + (uint32_t)h;
			}
			i += (size_t)digits;
			if (v > 0x10ffff) {
				strbuf_release(&sb);
				return fail(lx, at_pos, "invalid \\U escape in string literal");
			}
			jutf8_put(&sb, v);
			break;
		}
		case 'N':
			strbuf_release(&sb);
			return fail(lx, at_pos, "\\N{...} escapes are not supported");
		default:
			strbuf_addc(&sb, '\\');
			strbuf_addc(&sb, e);
		}
	}
	t->s = arena_strndup(lx->a, sb.buf ? sb.buf : "", sb.len);
	t->len = sb.len;
	strbuf_release(&sb);
	return 0;
}

static bool digit_run(const struct lexer *lx, size_t *p)
{
	/* (\d+_)*\d+ */
	size_t q = *p;
	if (q >= lx->len || !isdigit((unsigned char)lx->src[q]))
		return false;
	for (;;) {
		while (q < lx->len && isdigit((unsigned char)lx->src[q]))
			q++;
		if (q + 1 < lx->len && lx->src[q] == '_' && isdigit((unsigned char)lx->src[q + 1]))
			q++;
		else
			break;
	}
	*p = q;
	return true;
}

static size_t match_float(const struct lexer *lx, size_t p)
{
	if (p > 0 && lx->src[p - 1] == '.')
		return 0;
	size_t q = p;
	if (!digit_run(lx, &q))
		return 0;
	size_t r = q;
	bool frac = false;
	if (r < lx->len && lx->src[r] == '.') {
		size_t s = r + 1;
		if (digit_run(lx, &s)) {
			r = s;
			frac = true;
		}
	}
	if (r < lx->len && (lx->src[r] == 'e' || lx->src[r] == 'E')) {
		size_t s = r + 1;
		if (s < lx->len && (lx->src[s] == '+' || lx->src[s] == '-'))
			s++;
		if (digit_run(lx, &s))
			return s;
	}
	return frac ? r : 0;
}

static size_t match_int(const struct lexer *lx, size_t p, int *base)
{
	const char *s = lx->src;
	size_t q = p;
	*base = 10;
	if (s[q] == '0' && q + 1 < lx->len && strchr("bBoOxX", s[q + 1])) {
		char k = (char)tolower((unsigned char)s[q + 1]);
		*base = k == 'b' ? 2 : k == 'o' ? 8 : 16;
		q += 2;
		size_t start = q;
		for (;;) {
			size_t r = q;
			if (r < lx->len && s[r] == '_')
				r++;
			if (r < lx->len && hexval(s[r]) >= 0 && hexval(s[r]) < *base)
				q = r + 1;
			else
				break;
		}
		if (q > start)
			return q;
		*base = 10;
		q = p;
	}
	if (s[q] >= '1' && s[q] <= '9') {
		q++;
		for (;;) {
			size_t r = q;
			if (r < lx->len && s[r] == '_')
				r++;
			if (r < lx->len && isdigit((unsigned char)s[r]))
				q = r + 1;
			else
				break;
		}
		return q;
	}
	if (s[q] == '0') {
		q++;
		for (;;) {
			size_t r = q;
			if (r < lx->len && s[r] == '_')
				r++;
			if (r < lx->len && s[r] == '0')
				q = r + 1;
			else
				break;
		}
		return q;
	}
	return 0;
}

static char *strip_underscores(struct arena *a, const char *s, size_t n)
{
	char *o = arena_alloc(a, n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			o[k++] = s[i];
	o[k] = '\0';
	return o;
}

static const char *const ops2[] = {"//", "**", "==", "!=", ">=", "<=", NULL};
static const char ops1[] = "+-/*%~[](){}><=.:|,;";

/* Inside {{ }} or {% %}: tokens until the matching end. */
static int lex_tag(struct lexer *lx, bool block)
{
	char stack[256];
	size_t depth = 0;
	for (;;) {
		size_t p = lx->pos;
		if (p >= lx->len)
			return fail(lx, p, block ? "unexpected end of template, expected end of statement block ('%}')"
						 : "unexpected end of template, expected end of print statement ('}}')");
		if (depth == 0) {
			if (block) {
				if (at(lx, p, "+%}")) {
					push(lx, T_BLOCK_END, p);
					advance(lx, p + 3);
					return 0;
				}
				if (at(lx, p, "-%}")) {
					push(lx, T_BLOCK_END, p);
					advance(lx, skip_ws(lx, p + 3));
					return 0;
				}
				if (at(lx, p, "%}")) {
					push(lx, T_BLOCK_END, p);
					size_t q = p + 2;
					if (q < lx->len && lx->src[q] == '\n')
						q++;
					advance(lx, q);
					return 0;
				}
			} else {
				if (at(lx, p, "-}}")) {
					push(lx, T_VAR_END, p);
					advance(lx, skip_ws(lx, p + 3));
					return 0;
				}
				if (at(lx, p, "}}")) {
					push(lx, T_VAR_END, p);
					advance(lx, p + 2);
					return 0;
				}
			}
		}
		char c = lx->src[p];
		if (is_ws(c)) {
			advance(lx, skip_ws(lx, p));
			continue;
		}
		size_t q;
		int base;
		if ((q = match_float(lx, p)) != 0) {
			struct jtok *t = push(lx, T_FLOAT, p);
			t->f = strtod(strip_underscores(lx->a, lx->src + p, q - p), NULL);
			advance(lx, q);
			continue;
		}
		if (isdigit((unsigned char)c) && (q = match_int(lx, p, &base)) != 0) {
			struct jtok *t = push(lx, T_INT, p);
			const char *digits = strip_underscores(lx->a, lx->src + p + (base != 10 ? 2 : 0),
							       q - p - (base != 10 ? 2 : 0));
			errno = 0;
			unsigned long long u = strtoull(digits, NULL, base);
			if (errno || u > INT64_MAX)
				return fail(lx, p, "integer literal too large");
			t->i = (int64_t)u;
			advance(lx, q);
			continue;
		}
		if (isalpha((unsigned char)c) || c == '_') {
			q = p;
			while (q < lx->len && (isalnum((unsigned char)lx->src[q]) || lx->src[q] == '_'))
				q++;
			struct jtok *t = push(lx, T_NAME, p);
			t->s = intern(lx, lx->src + p, q - p);
			t->len = q - p;
			advance(lx, q);
			continue;
		}
		if (c == '\'' || c == '"') {
			q = p + 1;
			while (q < lx->len && lx->src[q] != c) {
				if (lx->src[q] == '\\')
					q++;
				q++;
			}
			if (q >= lx->len)
				return fail(lx, p, "unexpected char '\\'' (unterminated string)");
			struct jtok *t = push(lx, T_STRING, p);
			int rc = unescape(lx, p, lx->src + p + 1, q - p - 1, t);
			if (rc)
				return rc;
			advance(lx, q + 1);
			continue;
		}
		size_t oplen = 0;
		for (int k = 0; ops2[k]; k++)
			if (at(lx, p, ops2[k]))
				oplen = 2;
		if (!oplen && strchr(ops1, c))
			oplen = 1;
		if (!oplen) {
			char msg[64];
			snprintf(msg, sizeof(msg), "unexpected char '%c'", c);
			return fail(lx, p, msg);
		}
		if (c == '(' || c == '[' || c == '{') {
			if (depth == sizeof(stack))
				return fail(lx, p, "brackets nested too deeply");
			stack[depth++] = c == '(' ? ')' : c == '[' ? ']' : '}';
		} else if (c == ')' || c == ']' || c == '}') {
			if (depth == 0) {
				char msg[64];
				snprintf(msg, sizeof(msg), "unexpected '%c'", c);
				return fail(lx, p, msg);
			}
			if (stack[depth - 1] != c) {
				char msg[64];
				snprintf(msg, sizeof(msg), "unexpected '%c', expected '%c'", c,
					 stack[depth - 1]);
				return fail(lx, p, msg);
			}
			depth--;
		}
		struct jtok *t = push(lx, T_OP, p);
		t->s = arena_strndup(lx->a, lx->src + p, oplen);
		t->len = oplen;
		advance(lx, p + oplen);
	}
}

int jinja_lex(struct arena *a, const char *name, const char *src, size_t len, struct jtoks *out,
	      struct lf_error *err)
{
	struct lexer lx = {.a = a, .name = name, .src = src, .len = len, .line = 1, .err = err};
	while (lx.pos < lx.len) {
		/* find the next tag start */
		size_t p = lx.pos;
		const char *s = src;
		size_t tag = len;
		while (p + 1 < len) {
			const char *hit = memchr(s + p, '{', len - p - 1);
			if (!hit)
				break;
			size_t h = (size_t)(hit - s);
			char n = s[h + 1];
			if (n == '{' || n == '%' || n == '#') {
				tag = h;
				break;
			}
			p = h + 1;
		}
		if (tag == len) {
			emit_data(&lx, lx.pos, len, false);
			advance(&lx, len);
			break;
		}
		char kind = s[tag + 1];
		bool strip = tag + 2 < len && s[tag + 2] == '-';
		bool mod = tag + 2 < len && (s[tag + 2] == '-' || s[tag + 2] == '+');
		if (kind == '%') {
			bool sb;
			size_t end = match_word_tag(&lx, tag, "raw", &sb, false);
			if (end) {
				emit_data(&lx, lx.pos, tag, sb);
				advance(&lx, end);
				/* find {% endraw %} */
				size_t q = lx.pos, e = 0, body_end = 0;
				bool sb2 = false;
				for (; q + 1 < len; q++) {
					if (s[q] == '{' && s[q + 1] == '%' &&
					    (e = match_word_tag(&lx, q, "endraw", &sb2, true)) != 0) {
						body_end = q;
						break;
					}
				}
				if (!e && lx.pos < len)
					return fail(&lx, tag, "Missing end of raw directive");
				if (!e) { /* opened at the very end: as for a comment, see above */
					advance(&lx, len);
					break;
				}
				emit_data(&lx, lx.pos, body_end, sb2);
				advance(&lx, e);
				continue;
			}
		}
		emit_data(&lx, lx.pos, tag, strip);
		size_t body = tag + 2 + (mod ? 1 : 0);
		if (kind == '#') {
			size_t q = body, e = 0;
			for (; q + 1 < len; q++) {
				if (s[q] == '+' && at(&lx, q + 1, "#}")) {
					e = q + 3;
					break;
				}
				if (s[q] == '-' && at(&lx, q + 1, "#}")) {
					e = skip_ws(&lx, q + 3);
					break;
				}
				if (s[q] == '#' && s[q + 1] == '}') {
					e = q + 2;
					if (e < len && s[e] == '\n')
						e++;
					break;
				}
			}
			if (!e) {
				/* a comment opened at the very end (the source's final newline is
				 * already dropped) finds nothing to fail on in jinja2's lexer: the
				 * text just ends */
				if (body < len)
					return fail(&lx, tag, "Missing end of comment tag");
				e = len;
			}
			advance(&lx, e);
			continue;
		}
		push(&lx, kind == '{' ? T_VAR_BEGIN : T_BLOCK_BEGIN, tag);
		advance(&lx, body);
		int rc = lex_tag(&lx, kind == '%');
		if (rc)
			return rc;
	}
	push(&lx, T_EOF, lx.pos);
	out->v = lx.v;
	out->n = lx.n;
	return 0;
}

/* ---- UTF-8 helpers shared by the engine ---- */

size_t jutf8_next(const char *s, size_t len, size_t i, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s + i;
	size_t rem = len - i;
	unsigned char c = p[0];
	size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
	if (n > rem)
		n = 1;
	uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1fu) : n == 3 ? (c & 0x0fu) : (c & 0x07u);
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80) {
			*cp = c;
			return i + 1;
		}
		v = (v << 6) | (p[k] & 0x3fu);
	}
	*cp = v;
	return i + n;
}

size_t jutf8_len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

void jutf8_put(struct strbuf *sb, uint32_t cp)
{
	char b[4];
	if (cp < 0x80) {
		strbuf_addc(sb, (char)cp);
		return;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(sb, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(sb, b, 3);
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(sb, b, 4);
	}
}
