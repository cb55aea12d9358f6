/* yaml: libyaml events in, values out, built the way PyYAML's SafeLoader builds them.
 *
 * Reading happens in two passes, as in PyYAML: compose a node graph from the events (tags
 * resolved, anchors bound, limits checked), then construct values from the nodes (merge keys
 * flattened, scalars converted by tag). Keeping the node pass lets `<<` merges and explicit
 * tags see the raw text and structure exactly as PyYAML's constructor sees them.
 *
 * Deliberate differences from yaml.safe_load, all for lack of a matching value type:
 * timestamps and !!binary stay strings holding the scalar's text (after the same validation
 * PyYAML does), !!set is a mapping whose values are None, integers beyond int64 are an error,
 * and a recursive alias (`&a [*a]`) is an error rather than a self-containing list.
 *
 * The text is scanned by libyaml, not by PyYAML's own scanner. Where PyYAML is the stricter
 * one we check the text ourselves and fail as it does (tabs outside quoted and block scalars
 * and comments, '?' inside a flow plain scalar, a tag running into a flow indicator, a block
 * scalar header without a space before its comment). Where libyaml is the stricter one we
 * fail and PyYAML would not: an empty value right after ':' in a flow collection (`[a:]`,
 * `{a:}`, `[? : x]`), `%YAML 1.3` and later minor versions, and escapes of lone surrogates
 * (`"\ud800"`, which UTF-8 cannot hold anyway). tests/t-yaml-diff.sh keeps the rest equal. */
#include "yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libyaml.h>

#define TAG_PREFIX "tag:yaml.org,2002:"
#define TAG(x) TAG_PREFIX x

enum node_kind { N_SCALAR, N_SEQ, N_MAP };

struct node {
	enum node_kind kind;
	const char *tag;  /* resolved: "tag:yaml.org,2002:str", "!foo", ... */
	const char *text; /* scalar text, NUL-terminated, in the caller's arena */
	size_t len;
	struct node **items; /* sequence items, or key, value, key, value ... */
	size_t n, cap;	     /* entries used in items (a mapping uses two per pair) */
	int line, column;
	size_t weight; /* nodes in the subtree once aliases are expanded */
	size_t height; /* nesting levels in the subtree once aliases are expanded */
	bool open;     /* still being composed: an alias to it would be recursive */
	struct value *built;
};

struct anchor {
	const char *name;
	struct node *node;
};

/* Where a scalar sits in the text, in characters, for the tab check. */
struct span {
	size_t start, end;
	yaml_scalar_style_t style;
};

struct reader {
	struct arena *a;  /* the caller's: values and scalar text */
	struct arena *na; /* ours: nodes, freed when parsing ends */
	const char *name;
	const char *text;
	size_t len;
	size_t max_depth, max_nodes;
	yaml_parser_t parser;
	struct anchor *anchors; /* open addressing, size a power of two */
	size_t nanchors, anchor_cap;
	size_t flow_level;  /* inside [..] or {..} */
	struct span *spans; /* kept only when the text holds a tab */
	size_t nspans, span_cap;
	bool want_spans;
	struct value *nan;     /* PyYAML hands out one nan object for every .nan */
	yaml_mark_t mark;      /* where the latest node or alias starts, for limit errors */
	size_t cur_ci, cur_bi; /* a character index of libyaml's marks and its byte offset */
	struct lf_error *err;
};

static int node_error(struct reader *r, const struct node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int node_error(struct reader *r, const struct node *n, const char *fmt, ...)
{
	char msg[LF_ERR_MSG];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return lf_error_set(r->err, -EINVAL, r->name, n ? n->line : 0, n ? n->column : 0, "%s",
			    msg);
}

static int mark_error(struct reader *r, int code, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int mark_error(struct reader *r, int code, yaml_mark_t m, const char *fmt, ...)
{
	char msg[LF_ERR_MSG];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return lf_error_set(r->err, code, r->name, (int)m.line + 1, (int)m.column + 1, "%s", msg);
}

/* libyaml's reader reports a byte offset instead of a mark: count lines and characters. */
static yaml_mark_t offset_mark(const char *text, size_t len, size_t offset)
{
	yaml_mark_t m = {offset, 0, 0};
	for (size_t i = 0; i < offset && i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n') {
			m.line++;
			m.column = 0;
		} else if ((c & 0xc0) != 0x80) {
			m.column++;
		}
	}
	return m;
}

static int parser_error(struct reader *r)
{
	yaml_parser_t *p = &r->parser;
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return lf_error_set(r->err, -ENOMEM, r->name, 0, 0, "out of memory");
	case YAML_READER_ERROR: {
		yaml_mark_t m = offset_mark(r->text, r->len, p->problem_offset);
		if (p->problem_value >= 0)
			return mark_error(r, -EINVAL, m, "%s (#x%X)", p->problem,
					  (unsigned)p->problem_value);
		return mark_error(r, -EINVAL, m, "%s", p->problem);
	}
	default:
		if (p->context)
			return mark_error(r, -EINVAL, p->problem_mark,
					  "%s (%s at line %zu, column %zu)", p->problem, p->context,
					  p->context_mark.line + 1, p->context_mark.column + 1);
		return mark_error(r, -EINVAL, p->problem_mark, "%s",
				  p->problem ? p->problem : "invalid YAML");
	}
}

static int next_event(struct reader *r, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&r->parser, ev))
		return parser_error(r);
	return 0;
}

/* ---- anchors ---- */

static size_t str_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return (size_t)h;
}

static struct anchor *anchor_slot(struct reader *r, const char *name)
{
	size_t mask = r->anchor_cap - 1, i = str_hash(name, strlen(name)) & mask;
	while (r->anchors[i].name && strcmp(r->anchors[i].name, name) != 0)
		i = (i + 1) & mask;
	return &r->anchors[i];
}

static struct node *anchor_find(struct reader *r, const char *name)
{
	if (!r->anchor_cap)
		return NULL;
	return anchor_slot(r, name)->node;
}

static int anchor_add(struct reader *r, const char *name, struct node *n)
{
	struct node *old = anchor_find(r, name);
	if (old)
		return node_error(r, n,
				  "found duplicate anchor '%s'; first occurrence at line %d, "
				  "column %d",
				  name, old->line, old->column);
	if (2 * (r->nanchors + 1) > r->anchor_cap) {
		struct anchor *old_tab = r->anchors;
		size_t old_cap = r->anchor_cap;
		r->anchor_cap = old_cap ? old_cap * 2 : 16;
		r->anchors = arena_alloc(r->na, r->anchor_cap * sizeof(*r->anchors));
		for (size_t i = 0; i < old_cap; i++)
			if (old_tab[i].name)
				*anchor_slot(r, old_tab[i].name) = old_tab[i];
	}
	struct anchor *slot = anchor_slot(r, name);
	slot->name = arena_strdup(r->na, name);
	slot->node = n;
	r->nanchors++;
	return 0;
}

/* ---- implicit resolution: PyYAML's resolver.py regexes, hand-matched ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool match_bool(const char *s, size_t n)
{
	static const char *const words[] = {"yes",  "Yes",  "YES",  "no",    "No",    "NO",
					    "true", "True", "TRUE", "false", "False", "FALSE",
					    "on",   "On",   "ON",   "off",   "Off",   "OFF"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (eq(s, n, words[i]))
			return true;
	return false;
}

/* (?::[0-5]?[0-9])+ starting at s[*i]. Taking two digits whenever they fit is exact: a
 * group can only be followed by ':', '.' or the end, never by a digit. */
static bool match_sexagesimal(const char *s, size_t n, size_t *i)
{
	size_t groups = 0;
	while (*i < n && s[*i] == ':') {
		size_t j = *i + 1;
		if (j + 1 < n && s[j] >= '0' && s[j] <= '5' && is_digit(s[j + 1]))
			j += 2;
		else if (j < n && is_digit(s[j]))
			j += 1;
		else
			return false;
		*i = j;
		groups++;
	}
	return groups > 0;
}

static size_t span(const char *s, size_t n, size_t i, const char *set)
{
	while (i < n && strchr(set, s[i]) && s[i])
		i++;
	return i;
}

#define DIGITS_ "0123456789_"

/* (?:[eE][-+][0-9]+)? then end */
static bool match_exponent_end(const char *s, size_t n, size_t i)
{
	if (i == n)
		return true;
	if ((s[i] != 'e' && s[i] != 'E') || i + 1 >= n || (s[i + 1] != '-' && s[i + 1] != '+'))
		return false;
	i += 2;
	size_t j = span(s, n, i, "0123456789");
	return j > i && j == n;
}

static bool match_float(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0)
		return false;
	if (s[0] == '.') {
		if (eq(s, n, ".inf") || eq(s, n, ".Inf") || eq(s, n, ".INF") || eq(s, n, ".nan") ||
		    eq(s, n, ".NaN") || eq(s, n, ".NAN"))
			return true;
		if (n < 2 || !is_digit(s[1]))
			return false;
		return match_exponent_end(s, n, span(s, n, 1, DIGITS_));
	}
	if (s[0] == '-' || s[0] == '+') {
		i = 1;
		if (eq(s + 1, n - 1, ".inf") || eq(s + 1, n - 1, ".Inf") ||
		    eq(s + 1, n - 1, ".INF"))
			return true;
	}
	if (i >= n || !is_digit(s[i]))
		return false;
	i = span(s, n, i + 1, DIGITS_);
	if (i < n && s[i] == '.') /* [0-9][0-9_]*\.[0-9_]*(exp)? */
		return match_exponent_end(s, n, span(s, n, i + 1, DIGITS_));
	if (i < n && s[i] == ':' && match_sexagesimal(s, n, &i) && i < n && s[i] == '.')
		return span(s, n, i + 1, DIGITS_) == n;
	return false;
}

static bool match_int(const char *s, size_t n)
{
	size_t i = 0;
	if (n && (s[0] == '-' || s[0] == '+'))
		i = 1;
	if (i >= n || !is_digit(s[i]))
		return false;
	if (s[i] == '0') {
		if (i + 1 == n)
			return true;
		if (s[i + 1] == 'b')
			return i + 2 < n && span(s, n, i + 2, "01_") == n;
		if (s[i + 1] == 'x') {
			size_t j = i + 2;
			while (j < n && (is_hex(s[j]) || s[j] == '_'))
				j++;
			return j > i + 2 && j == n;
		}
		return span(s, n, i + 1, "01234567_") == n;
	}
	i = span(s, n, i + 1, DIGITS_);
	if (i == n)
		return true;
	return s[i] == ':' && match_sexagesimal(s, n, &i) && i == n;
}

static bool match_null(const char *s, size_t n)
{
	return n == 0 || eq(s, n, "~") || eq(s, n, "null") || eq(s, n, "Null") || eq(s, n, "NULL");
}

/* Digits d..d (count between lo and hi) at s[*i]. */
static bool digits(const char *s, size_t n, size_t *i, size_t lo, size_t hi)
{
	size_t k = 0;
	while (*i < n && k < hi && is_digit(s[*i]))
		(*i)++, k++;
	return k >= lo;
}

struct timestamp {
	int year, month, day, hour, minute, second;
	bool has_time, has_tz_offset;
	int tz_hour, tz_minute;
};

static int num(const char *s, size_t a, size_t b)
{
	int v = 0;
	for (size_t i = a; i < b; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* PyYAML's constructor regexp for timestamps: date, then optionally time, fraction and zone.
 * `strict_date` is the resolver's rule: a date alone needs two-digit month and day; with a
 * time (and for an explicit !!timestamp) one digit will do. */
static bool parse_timestamp(const char *s, size_t n, bool strict_date, struct timestamp *t)
{
	size_t i = 0, a;
	memset(t, 0, sizeof(*t));
	if (!digits(s, n, &i, 4, 4) || i >= n || s[i] != '-')
		return false;
	t->year = num(s, 0, 4);
	a = ++i;
	if (!digits(s, n, &i, 1, 2) || i >= n || s[i] != '-')
		return false;
	t->month = num(s, a, i);
	size_t month_len = i - a;
	a = ++i;
	if (!digits(s, n, &i, 1, 2))
		return false;
	t->day = num(s, a, i);
	size_t day_len = i - a;
	if (i == n)
		return !strict_date || (month_len == 2 && day_len == 2);
	t->has_time = true;
	if (s[i] == 'T' || s[i] == 't')
		i++;
	else if (s[i] == ' ' || s[i] == '\t')
		i = span(s, n, i, " \t");
	else
		return false;
	a = i;
	if (!digits(s, n, &i, 1, 2) || i >= n || s[i] != ':')
		return false;
	t->hour = num(s, a, i);
	a = ++i;
	if (!digits(s, n, &i, 2, 2) || i >= n || s[i] != ':')
		return false;
	t->minute = num(s, a, i);
	a = ++i;
	if (!digits(s, n, &i, 2, 2))
		return false;
	t->second = num(s, a, i);
	if (i < n && s[i] == '.')
		i = span(s, n, i + 1, "0123456789");
	if (i == n)
		return true;
	i = span(s, n, i, " \t");
	if (i < n && s[i] == 'Z')
		return i + 1 == n;
	if (i >= n || (s[i] != '-' && s[i] != '+'))
		return false;
	bool neg = s[i] == '-';
	a = ++i;
	if (!digits(s, n, &i, 1, 2))
		return false;
	t->has_tz_offset = true;
	t->tz_hour = num(s, a, i);
	if (i < n && s[i] == ':') {
		a = ++i;
		if (!digits(s, n, &i, 2, 2))
			return false;
		t->tz_minute = num(s, a, i);
	}
	if (neg) {
		t->tz_hour = -t->tz_hour;
		t->tz_minute = -t->tz_minute;
	}
	return i == n;
}

static bool match_timestamp(const char *s, size_t n)
{
	struct timestamp t;
	if (n < 10 || !is_digit(s[0]))
		return false;
	return parse_timestamp(s, n, true, &t);
}

/* Python's re `$` also matches before a final newline (only quoted scalars tagged `!` can
 * end in one): resolvers ignore it, constructors then see the whole text. */
static const char *resolve_scalar(const char *s, size_t n)
{
	if (n && s[0] == '\n')
		return TAG("str"); /* the first character picks the resolvers: none for '\n' */
	if (n && s[n - 1] == '\n')
		n--;
	if (match_bool(s, n))
		return TAG("bool");
	if (match_float(s, n))
		return TAG("float");
	if (match_int(s, n))
		return TAG("int");
	if (eq(s, n, "<<"))
		return TAG("merge");
	if (match_null(s, n))
		return TAG("null");
	if (match_timestamp(s, n))
		return TAG("timestamp");
	if (eq(s, n, "="))
		return TAG("value");
	return TAG("str");
}

/* ---- composing: events to nodes ---- */

static struct node *node_new(struct reader *r, enum node_kind kind, yaml_mark_t m)
{
	struct node *n = arena_alloc(r->na, sizeof(*n));
	n->kind = kind;
	n->line = (int)m.line + 1;
	n->column = (int)m.column + 1;
	n->weight = 1;
	n->height = kind != N_SCALAR; /* nesting counts collections */
	return n;
}

static int node_add(struct reader *r, struct node *parent, struct node *child)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		parent->items = arena_realloc(r->na, parent->items, parent->cap * sizeof(child),
					      cap * sizeof(child));
		parent->cap = cap;
	}
	parent->items[parent->n++] = child;
	parent->weight += child->weight;
	if (child->height + 1 > parent->height)
		parent->height = child->height + 1;
	int line = (int)r->mark.line + 1, column = (int)r->mark.column + 1;
	if (parent->weight > r->max_nodes)
		return lf_error_set(r->err, -E2BIG, r->name, line, column,
				    "document too large: more than %zu nodes once aliases are "
				    "expanded",
				    r->max_nodes);
	if (parent->height > r->max_depth)
		return lf_error_set(r->err, -E2BIG, r->name, line, column,
				    "document nested deeper than %zu levels", r->max_depth);
	return 0;
}

static const char *collection_tag(struct reader *r, const yaml_char_t *tag, const char *dflt)
{
	if (!tag || strcmp((const char *)tag, "!") == 0)
		return dflt;
	return arena_strdup(r->na, (const char *)tag);
}

static int compose_node(struct reader *r, yaml_event_t *ev, size_t depth, struct node **out);

static int compose_children(struct reader *r, struct node *n, yaml_event_type_t end, size_t depth)
{
	for (;;) {
		yaml_event_t ev;
		int rc = next_event(r, &ev);
		if (rc)
			return rc;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return 0;
		}
		struct node *child;
		rc = compose_node(r, &ev, depth + 1, &child);
		if (rc)
			return rc;
		rc = node_add(r, n, child);
		if (rc)
			return rc;
	}
}

/* Where PyYAML's own scanner is stricter than libyaml's, on what one scalar event shows. */
static int scalar_checks(struct reader *r, yaml_event_t *ev, const struct node *n)
{
	int rc = 0;
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && r->flow_level &&
	    memchr(n->text, '?', n->len)) /* PyYAML ends a flow plain scalar at '?' */
		rc = mark_error(r, -EINVAL, ev->start_mark,
				"'?' inside a plain scalar in a flow collection (quote the "
				"scalar)");
	else if (r->want_spans) {
		if (r->nspans == r->span_cap) {
			size_t cap = r->span_cap ? r->span_cap * 2 : 64;
			r->spans = arena_realloc(r->na, r->spans, r->span_cap * sizeof(*r->spans),
						 cap * sizeof(*r->spans));
			r->span_cap = cap;
		}
		r->spans[r->nspans++] =
		    (struct span){ev->start_mark.index, ev->end_mark.index, ev->data.scalar.style};
	}
	if (rc)
		yaml_event_delete(ev);
	return rc;
}

/* PyYAML's scanner takes a tab only inside quoted and block scalars and comments; libyaml
 * also takes one as a separator or inside a plain scalar. Walk the text with the scalars'
 * places (character indexes, as libyaml counts) and reject the tabs PyYAML would. */
static int tab_check(struct reader *r)
{
	const unsigned char *s = (const unsigned char *)r->text;
	size_t i = 0, ci = 0, k = 0, line = 0, col = 0;
	size_t header_k = SIZE_MAX; /* the span whose first line we are on */
	bool comment = false, header = false;
	if (r->len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		i = 3;
	for (; i < r->len; i++) {
		unsigned char c = s[i];
		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte is part of the character before */
		while (k < r->nspans && r->spans[k].end <= ci)
			k++;
		bool inside = k < r->nspans && r->spans[k].start <= ci;
		if (inside && header_k != k) {
			header_k = k;
			header = true;
		}
		if (c == '\n' || c == '\r') {
			comment = false;
			if (inside)
				header = false;
		} else if (c == '#' && (!inside || (header && r->spans[k].style >=
								  YAML_LITERAL_SCALAR_STYLE))) {
			comment = true;
		} else if (c == '\t' && !comment) {
			bool ok = inside && r->spans[k].style != YAML_PLAIN_SCALAR_STYLE &&
				  (r->spans[k].style < YAML_LITERAL_SCALAR_STYLE || !header);
			if (!ok)
				return lf_error_set(
				    r->err, -EINVAL, r->name, (int)line + 1, (int)col + 1,
				    "found character '\\t' that cannot start any "
				    "token (PyYAML takes tabs only in quoted and block "
				    "scalars and comments)");
		}
		if (c == '\n') {
			line++;
			col = 0;
		} else {
			col++;
		}
		ci++;
	}
	return 0;
}

/* The byte offset of libyaml's character index `ci` (marks count characters, a UTF-8 BOM not
 * at all). Nodes come in text order, so one forward cursor serves the whole document. */
static size_t text_offset(struct reader *r, size_t ci)
{
	const unsigned char *s = (const unsigned char *)r->text;
	if (ci < r->cur_ci || r->cur_bi == 0) {
		r->cur_ci = 0;
		r->cur_bi = r->len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf ? 3 : 0;
	}
	while (r->cur_ci < ci && r->cur_bi < r->len) {
		r->cur_bi++;
		while (r->cur_bi < r->len && (s[r->cur_bi] & 0xc0) == 0x80)
			r->cur_bi++;
		r->cur_ci++;
	}
	return r->cur_bi;
}

static bool is_blank_or_break(const char *s, size_t n, size_t i)
{
	return i >= n || s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n';
}

/* PyYAML's scanner reads a tag up to the next blank, where libyaml stops a tag at a flow
 * indicator, and it wants a blank right after a block scalar's indicators. Look at the
 * node's properties and header in the text to fail where PyYAML fails. */
static int source_checks(struct reader *r, const yaml_event_t *ev, bool tagged, bool block)
{
	if (!(tagged || block) || r->parser.encoding != YAML_UTF8_ENCODING)
		return 0;
	const char *s = r->text;
	size_t n = r->len, i = text_offset(r, ev->start_mark.index);
	for (;;) {
		while (i < n && strchr(" \t\r\n", s[i]) && s[i])
			i++;
		if (i < n && s[i] == '#') {
			while (i < n && s[i] != '\n')
				i++;
			continue;
		}
		if (i < n && s[i] == '&') {
			i++;
			while (i < n &&
			       (is_digit(s[i]) || strchr("-_", s[i]) ||
				((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z')) &&
			       s[i])
				i++;
			continue;
		}
		if (i < n && s[i] == '!') {
			size_t start = i;
			bool bad = false;
			if (i + 1 < n && s[i + 1] == '<') {
				while (i < n && s[i] != '>')
					i++;
				i++;
				bad = !is_blank_or_break(s, n, i);
			} else {
				while (!is_blank_or_break(s, n, i)) {
					bad |= strchr(",[]{}", s[i]) && s[i];
					i++;
				}
			}
			if (bad)
				return mark_error(r, -EINVAL, ev->start_mark,
						  "tag '%.*s' runs into what follows it (PyYAML "
						  "reads a tag up to the next space)",
						  (int)(i - start < 64 ? i - start : 64),
						  s + start);
			continue;
		}
		break;
	}
	if (!block || i >= n || (s[i] != '|' && s[i] != '>'))
		return 0;
	i++;
	for (int k = 0; k < 2 && i < n && (strchr("+-", s[i]) || is_digit(s[i])) && s[i]; k++)
		i++;
	if (i < n && s[i] != ' ' && s[i] != '\r' && s[i] != '\n')
		return mark_error(r, -EINVAL, ev->start_mark,
				  "expected chomping or indentation indicators, but found '%c' (a "
				  "block scalar header needs a space before a comment)",
				  s[i]);
	return 0;
}

/* Consumes *ev. */
static int compose_node(struct reader *r, yaml_event_t *ev, size_t depth, struct node **out)
{
	struct node *n = NULL;
	const yaml_char_t *anchor = NULL;
	bool flow = false;
	int rc = 0;
	r->mark = ev->start_mark;

	switch (ev->type) {
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		n = anchor_find(r, name);
		if (!n)
			rc = mark_error(r, -EINVAL, ev->start_mark, "found undefined alias '%s'",
					name);
		else if (n->open)
			rc = mark_error(r, -EINVAL, ev->start_mark,
					"recursive alias '%s' (a collection containing itself) is "
					"not supported",
					name);
		yaml_event_delete(ev);
		*out = n;
		return rc;
	}
	case YAML_SCALAR_EVENT: {
		n = node_new(r, N_SCALAR, ev->start_mark);
		n->len = ev->data.scalar.length;
		n->text = arena_strndup(r->a, (const char *)ev->data.scalar.value, n->len);
		const char *tag = (const char *)ev->data.scalar.tag;
		/* PyYAML resolves a `!` scalar like a plain one, even an empty one */
		if (tag && strcmp(tag, "!") == 0)
			n->tag = resolve_scalar(n->text, n->len);
		else if (!tag)
			n->tag = ev->data.scalar.plain_implicit ? resolve_scalar(n->text, n->len)
								: TAG("str");
		else
			n->tag = arena_strdup(r->na, tag);
		rc = source_checks(r, ev, tag != NULL,
				   ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
				       ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE);
		if (rc) {
			yaml_event_delete(ev);
			return rc;
		}
		anchor = ev->data.scalar.anchor;
		if ((rc = scalar_checks(r, ev, n)))
			return rc;
		break;
	}
	case YAML_SEQUENCE_START_EVENT:
		n = node_new(r, N_SEQ, ev->start_mark);
		flow = ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
		rc = source_checks(r, ev, ev->data.sequence_start.tag != NULL, false);
		n->tag = collection_tag(r, ev->data.sequence_start.tag, TAG("seq"));
		anchor = ev->data.sequence_start.anchor;
		break;
	case YAML_MAPPING_START_EVENT:
		n = node_new(r, N_MAP, ev->start_mark);
		flow = ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE;
		rc = source_checks(r, ev, ev->data.mapping_start.tag != NULL, false);
		n->tag = collection_tag(r, ev->data.mapping_start.tag, TAG("map"));
		anchor = ev->data.mapping_start.anchor;
		break;
	default:
		rc = mark_error(r, -EINVAL, ev->start_mark, "unexpected YAML event %d", ev->type);
		yaml_event_delete(ev);
		return rc;
	}
	if (anchor && !rc)
		rc = anchor_add(r, (const char *)anchor, n);
	yaml_event_type_t type = ev->type;
	yaml_event_delete(ev);
	if (rc)
		return rc;
	*out = n;
	if (type == YAML_SCALAR_EVENT)
		return 0;
	if (depth > r->max_depth)
		return lf_error_set(r->err, -E2BIG, r->name, n->line, n->column,
				    "document nested deeper than %zu levels", r->max_depth);
	n->open = true;
	r->flow_level += flow;
	rc = compose_children(r, n,
			      type == YAML_SEQUENCE_START_EVENT ? YAML_SEQUENCE_END_EVENT
								: YAML_MAPPING_END_EVENT,
			      depth);
	r->flow_level -= flow;
	n->open = false;
	return rc;
}

/* PyYAML's get_single_node: an empty stream is None, a second document is an error. */
static int compose_stream(struct reader *r, struct node **root)
{
	yaml_event_t ev;
	int rc = next_event(r, &ev); /* STREAM-START */
	if (rc)
		return rc;
	yaml_event_delete(&ev);
	*root = NULL;
	if ((rc = next_event(r, &ev)))
		return rc;
	if (ev.type == YAML_DOCUMENT_START_EVENT) {
		yaml_event_delete(&ev);
		if ((rc = next_event(r, &ev)))
			return rc;
		if ((rc = compose_node(r, &ev, 1, root)))
			return rc;
		if ((rc = next_event(r, &ev))) /* DOCUMENT-END */
			return rc;
		yaml_event_delete(&ev);
		if ((rc = next_event(r, &ev)))
			return rc;
	}
	if (ev.type != YAML_STREAM_END_EVENT) {
		rc = mark_error(r, -EINVAL, ev.start_mark,
				"expected a single document in the stream, but found another "
				"document (the first started at line %d)",
				*root ? (*root)->line : 1);
		yaml_event_delete(&ev);
		return rc;
	}
	yaml_event_delete(&ev);
	return 0;
}

/* ---- constructing: nodes to values (PyYAML's SafeConstructor) ---- */

static const char *kind_name(const struct node *n)
{
	return n->kind == N_SCALAR ? "scalar" : n->kind == N_SEQ ? "sequence" : "mapping";
}

/* Python's str.strip() for the ASCII whitespace int() and float() skip. */
static void py_strip(const char **s, size_t *n)
{
	while (*n && (strchr(" \t\n\v\f\r\x1c\x1d\x1e\x1f", **s) && **s))
		(*s)++, (*n)--;
	while (*n && strchr(" \t\n\v\f\r\x1c\x1d\x1e\x1f", (*s)[*n - 1]) && (*s)[*n - 1])
		(*n)--;
}

static int digit_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* Python's int(text, base) for the forms PyYAML hands it (underscores already removed):
 * magnitude and sign; false when Python raises ValueError. ERANGE beyond 2^63. */
static bool py_int(const char *s, size_t n, int base, bool *neg, uint64_t *mag, bool *overflow)
{
	py_strip(&s, &n);
	*neg = false;
	*mag = 0;
	*overflow = false;
	if (n && (s[0] == '-' || s[0] == '+')) {
		*neg = s[0] == '-';
		s++, n--;
	}
	if (n >= 2 && s[0] == '0') {
		char p = (char)(s[1] | 0x20);
		if ((base == 16 && p == 'x') || (base == 8 && p == 'o') || (base == 2 && p == 'b'))
			s += 2, n -= 2;
	}
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		int d = digit_value(s[i]);
		if (d >= base)
			return false;
		if (*mag > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			*overflow = true;
		else
			*mag = *mag * (uint64_t)base + (uint64_t)d;
	}
	return true;
}

/* Python's float(text): strtod after checking the text is one of the forms Python takes. */
static bool py_float(const char *s, size_t n, double *out)
{
	char buf[128];
	py_strip(&s, &n);
	size_t i = 0;
	if (n && (s[0] == '-' || s[0] == '+'))
		i++;
	const char *w = s + i;
	size_t wn = n - i;
	if (eq(w, wn, "inf") || eq(w, wn, "infinity") || eq(w, wn, "nan")) {
		double v = w[0] == 'n' ? NAN : INFINITY;
		*out = s[0] == '-' ? -v : v;
		return true;
	}
	size_t d0 = i;
	i = span(s, n, i, "0123456789");
	size_t mant = i - d0;
	if (i < n && s[i] == '.') {
		size_t j = span(s, n, i + 1, "0123456789");
		mant += j - i - 1;
		i = j;
	}
	if (mant == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		size_t j = span(s, n, i, "0123456789");
		if (j == i)
			return false;
		i = j;
	}
	if (i != n)
		return false;
	char *tmp = n < sizeof(buf) ? buf : malloc(n + 1);
	if (!tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	*out = strtod(tmp, NULL);
	if (tmp != buf)
		free(tmp);
	return true;
}

/* The scalar text with '_' removed and, for floats, lower-cased; in the node arena. */
static char *scalar_clean(struct reader *r, const struct node *n, bool lower, size_t *len)
{
	char *t = arena_alloc(r->na, n->len + 1);
	size_t k = 0;
	for (size_t i = 0; i < n->len; i++) {
		char c = n->text[i];
		if (c == '_')
			continue;
		if (lower && c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		t[k++] = c;
	}
	t[k] = '\0';
	*len = k;
	return t;
}

static int int_error(struct reader *r, const struct node *n, bool overflow)
{
	if (overflow)
		return lf_error_set(r->err, -ERANGE, r->name, n->line, n->column,
				    "integer '%s' does not fit in 64 bits", n->text);
	return node_error(r, n, "invalid literal for int: '%s'", n->text);
}

/* sign * (neg ? -mag : mag) into an int64, or an overflow error. */
static int int_combine(struct reader *r, const struct node *n, int sign, bool neg, uint64_t mag,
		       int64_t *out)
{
	bool negative = (sign < 0) != neg;
	if (mag == 0) {
		*out = 0;
		return 0;
	}
	if (negative ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
		return int_error(r, n, true);
	*out = negative ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

static int construct_int(struct reader *r, const struct node *n, int64_t *out)
{
	size_t len;
	char *t = scalar_clean(r, n, false, &len);
	int sign = 1;
	bool neg, overflow;
	uint64_t mag;
	if (len == 0)
		return int_error(r, n, false);
	if (t[0] == '-')
		sign = -1;
	if (t[0] == '-' || t[0] == '+')
		t++, len--;
	if (eq(t, len, "0")) {
		*out = 0;
		return 0;
	}
	int base = 10;
	if (len >= 2 && t[0] == '0' && t[1] == 'b')
		t += 2, len -= 2, base = 2;
	else if (len >= 2 && t[0] == '0' && t[1] == 'x')
		t += 2, len -= 2, base = 16;
	else if (len && t[0] == '0')
		base = 8;
	else if (memchr(t, ':', len)) {
		/* base 60, least significant part last; Python's ints never overflow, ours
		 * must fit in int64 at the end (parts may be signed in an explicit !!int) */
		__int128 value = 0, place = 1;
		const __int128 limit = (__int128)1 << 100;
		const char *end = t + len;
		for (;;) {
			const char *p = end;
			while (p > t && p[-1] != ':')
				p--;
			if (!py_int(p, (size_t)(end - p), 10, &neg, &mag, &overflow))
				return int_error(r, n, false);
			if (overflow)
				return int_error(r, n, true);
			__int128 d = neg ? -(__int128)mag : (__int128)mag;
			if (d != 0 && place >= limit)
				return int_error(r, n, true);
			value += d * place;
			if (value >= limit || value <= -limit)
				return int_error(r, n, true);
			if (place < limit)
				place *= 60;
			if (p == t)
				break;
			end = p - 1;
		}
		value *= sign;
		if (value > INT64_MAX || value < INT64_MIN)
			return int_error(r, n, true);
		*out = (int64_t)value;
		return 0;
	}
	if (!py_int(t, len, base, &neg, &mag, &overflow))
		return int_error(r, n, false);
	if (overflow)
		return int_error(r, n, true);
	return int_combine(r, n, sign, neg, mag, out);
}

static int construct_float(struct reader *r, const struct node *n, double *out)
{
	size_t len;
	char *t = scalar_clean(r, n, true, &len);
	double sign = 1.0;
	if (len == 0)
		return node_error(r, n, "could not convert string to float: '%s'", n->text);
	if (t[0] == '-')
		sign = -1.0;
	if (t[0] == '-' || t[0] == '+')
		t++, len--;
	if (eq(t, len, ".inf")) {
		*out = sign * INFINITY;
		return 0;
	}
	if (eq(t, len, ".nan")) {
		*out = NAN;
		return 1; /* the caller shares one value, as PyYAML does */
	}
	if (memchr(t, ':', len)) {
		double value = 0.0, place = 1.0;
		const char *end = t + len;
		for (;;) {
			const char *p = end;
			while (p > t && p[-1] != ':')
				p--;
			double d;
			if (!py_float(p, (size_t)(end - p), &d))
				return node_error(r, n, "could not convert string to float: '%s'",
						  n->text);
			value += d * place;
			place *= 60;
			if (p == t)
				break;
			end = p - 1;
		}
		*out = sign * value;
		return 0;
	}
	double d;
	if (!py_float(t, len, &d))
		return node_error(r, n, "could not convert string to float: '%s'", n->text);
	*out = sign * d;
	return 0;
}

static int construct_bool(struct reader *r, const struct node *n, bool *out)
{
	char low[8];
	if (n->len >= sizeof(low))
		goto bad;
	for (size_t i = 0; i <= n->len; i++)
		low[i] =
		    (char)(n->text[i] >= 'A' && n->text[i] <= 'Z' ? n->text[i] + 32 : n->text[i]);
	if (eq(low, n->len, "yes") || eq(low, n->len, "true") || eq(low, n->len, "on")) {
		*out = true;
		return 0;
	}
	if (eq(low, n->len, "no") || eq(low, n->len, "false") || eq(low, n->len, "off")) {
		*out = false;
		return 0;
	}
bad:
	return node_error(r, n, "invalid boolean: '%s'", n->text);
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* PyYAML builds a date or datetime and fails where Python's datetime would. */
static int check_timestamp(struct reader *r, const struct node *n)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct timestamp t;
	size_t len = n->len;
	if (len && n->text[len - 1] == '\n')
		len--;
	if (!parse_timestamp(n->text, len, false, &t))
		return node_error(r, n, "invalid timestamp: '%s'", n->text);
	if (t.year < 1 || t.month < 1 || t.month > 12 || t.day < 1 ||
	    t.day > mdays[t.month - 1] + (t.month == 2 && leap(t.year)))
		return node_error(r, n, "invalid date: '%s'", n->text);
	if (t.has_time && (t.hour > 23 || t.minute > 59 || t.second > 59))
		return node_error(r, n, "invalid time: '%s'", n->text);
	if (t.has_tz_offset && abs(t.tz_hour * 60 + t.tz_minute) >= 24 * 60)
		return node_error(r, n, "invalid time zone offset: '%s'", n->text);
	return 0;
}

/* base64.decodebytes as PyYAML calls it: ASCII only, other characters skipped, and the data
 * must end on a whole quantum or proper padding (binascii.a2b_base64, non-strict). */
static int check_binary(struct reader *r, const struct node *n)
{
	int quad = 0, pads = 0;
	for (size_t i = 0; i < n->len; i++) {
		unsigned char c = (unsigned char)n->text[i];
		if (c >= 0x80)
			return node_error(r, n,
					  "failed to convert base64 data into ascii "
					  "characters");
	}
	for (size_t i = 0; i < n->len; i++) {
		char c = n->text[i];
		if (c == '=') {
			if (quad >= 2 && quad + ++pads >= 4)
				return 0;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '+' ||
		      c == '/'))
			continue;
		pads = 0;
		quad = (quad + 1) % 4;
	}
	if (quad != 0)
		return node_error(r, n, "failed to decode base64 data: %s",
				  quad == 1 ? "number of data characters cannot be 1 more than a "
					      "multiple of 4"
					    : "incorrect padding");
	return 0;
}

static int construct(struct reader *r, struct node *n, struct value **out);

/* PyYAML's flatten_mapping: `<<` pairs are replaced by the merged mappings' pairs, put
 * first (later sources in a list lose to earlier ones, the mapping's own keys win). The
 * node is rewritten in place, as PyYAML does, so an alias sees the flattened form. */
static int flatten_mapping(struct reader *r, struct node *n)
{
	struct node **merge = NULL, **own = NULL;
	size_t nmerge = 0, nown = 0;
	bool merged = false;
	for (size_t i = 0; i < n->n; i += 2) {
		struct node *k = n->items[i], *v = n->items[i + 1];
		if (strcmp(k->tag, TAG("merge")) != 0) {
			if (strcmp(k->tag, TAG("value")) == 0)
				k->tag = TAG("str");
			continue;
		}
		if (!merged) {
			merge = arena_alloc(r->na, sizeof(*merge) * 2);
			merged = true;
		}
		struct node **srcs = &v;
		size_t nsrc = 1;
		if (v->kind == N_SEQ) {
			srcs = v->items;
			nsrc = v->n;
			for (size_t j = 0; j < nsrc; j++)
				if (srcs[j]->kind != N_MAP)
					return node_error(
					    r, srcs[j],
					    "expected a mapping for merging, but found "
					    "%s",
					    kind_name(srcs[j]));
		} else if (v->kind != N_MAP) {
			return node_error(r, v,
					  "expected a mapping or list of mappings for merging, but "
					  "found %s",
					  kind_name(v));
		}
		size_t add = 0;
		for (size_t j = 0; j < nsrc; j++) {
			int rc = flatten_mapping(r, srcs[j]);
			if (rc)
				return rc;
			add += srcs[j]->n;
		}
		merge = arena_realloc(r->na, merge, sizeof(*merge) * (nmerge ? nmerge : 2),
				      sizeof(*merge) * (nmerge + add + 2));
		for (size_t j = nsrc; j-- > 0;) {
			if (srcs[j]->n) /* an empty {} merges nothing (and has no items) */
				memcpy(merge + nmerge, srcs[j]->items, srcs[j]->n * sizeof(*merge));
			nmerge += srcs[j]->n;
		}
		continue;
	}
	if (!merged)
		return 0;
	own = arena_alloc(r->na, sizeof(*own) * n->n);
	for (size_t i = 0; i < n->n; i += 2)
		if (strcmp(n->items[i]->tag, TAG("merge")) != 0) {
			own[nown++] = n->items[i];
			own[nown++] = n->items[i + 1];
		}
	struct node **all = arena_alloc(r->na, sizeof(*all) * (nmerge + nown + 1));
	memcpy(all, merge, nmerge * sizeof(*all));
	memcpy(all + nmerge, own, nown * sizeof(*all));
	n->items = all;
	n->n = n->cap = nmerge + nown;
	return 0;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* Hash consistent with Python equality of hashable keys: 1 == 1.0 == True. */
static uint64_t key_hash(const struct value *k)
{
	switch (k->kind) {
	case V_BOOL:
		return mix((uint64_t)k->u.b);
	case V_INT:
		return mix((uint64_t)k->u.i);
	case V_FLOAT: {
		double f = k->u.f;
		if (f == f && f >= -9.2e18 && f <= 9.2e18 && f == (double)(int64_t)f)
			return mix((uint64_t)(int64_t)f);
		uint64_t bits;
		memcpy(&bits, &f, sizeof(bits));
		return mix(bits);
	}
	case V_STRING:
		return str_hash(k->u.str.s, k->u.str.len);
	default:
		return 7;
	}
}

static bool key_same(const struct value *a, const struct value *b)
{
	return a == b || value_equal(a, b); /* a dict finds the very same nan object */
}

/* Pairs into a fresh dict: a key seen before keeps its place and takes the new value. */
static int construct_pairs(struct reader *r, struct node *n, struct value *map, bool set)
{
	size_t npairs = n->n / 2, tab_size = 0;
	uint32_t *tab = NULL; /* index + 1 into the map's arrays; 0 = empty */
	if (npairs > 8) {
		tab_size = 16;
		while (tab_size < npairs * 2)
			tab_size *= 2;
		tab = arena_alloc(r->na, tab_size * sizeof(*tab));
	}
	if (npairs) {
		map->u.map.keys = arena_alloc(r->a, npairs * sizeof(struct value *));
		map->u.map.vals = arena_alloc(r->a, npairs * sizeof(struct value *));
		map->u.map.cap = npairs;
	}
	for (size_t i = 0; i < n->n; i += 2) {
		struct value *k, *v;
		int rc = construct(r, n->items[i], &k);
		if (rc)
			return rc;
		if (k->kind == V_LIST || k->kind == V_MAP)
			return node_error(r, n->items[i],
					  "found unhashable key (a %s cannot be a mapping key)",
					  k->kind == V_LIST ? "list" : "dict");
		if ((rc = construct(r, n->items[i + 1], &v)))
			return rc;
		if (set) { /* a set keeps the keys only */
			v = value_none(r->a);
			v->line = n->items[i + 1]->line;
		}
		size_t found = SIZE_MAX;
		if (tab) {
			size_t mask = tab_size - 1, h = key_hash(k) & mask;
			while (tab[h]) {
				if (key_same(map->u.map.keys[tab[h] - 1], k)) {
					found = tab[h] - 1;
					break;
				}
				h = (h + 1) & mask;
			}
			if (found == SIZE_MAX)
				tab[h] = (uint32_t)map->u.map.len + 1;
		} else {
			for (size_t j = 0; j < map->u.map.len; j++)
				if (key_same(map->u.map.keys[j], k)) {
					found = j;
					break;
				}
		}
		if (found != SIZE_MAX) {
			map->u.map.vals[found] = v;
		} else {
			map->u.map.keys[map->u.map.len] = k;
			map->u.map.vals[map->u.map.len] = v;
			map->u.map.len++;
		}
	}
	return 0;
}

static int expect_kind(struct reader *r, const struct node *n, enum node_kind kind)
{
	if (n->kind == kind)
		return 0;
	return node_error(r, n, "expected a %s node, but found %s (tag '%s')",
			  kind == N_SCALAR ? "scalar"
			  : kind == N_SEQ  ? "sequence"
					   : "mapping",
			  kind_name(n), n->tag);
}

static int construct_tagged(struct reader *r, struct node *n, struct value **out)
{
	const char *tag = n->tag;
	int rc;
	if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0)
		goto unknown;
	tag += strlen(TAG_PREFIX);
	if (strcmp(tag, "str") == 0 || strcmp(tag, "timestamp") == 0 ||
	    strcmp(tag, "binary") == 0) {
		if ((rc = expect_kind(r, n, N_SCALAR)))
			return rc;
		if (tag[0] == 't' && (rc = check_timestamp(r, n)))
			return rc;
		if (tag[0] == 'b' && (rc = check_binary(r, n)))
			return rc;
		*out = value_str_nocopy(r->a, n->text, n->len);
	} else if (strcmp(tag, "null") == 0) {
		if ((rc = expect_kind(r, n, N_SCALAR)))
			return rc;
		*out = value_none(r->a);
	} else if (strcmp(tag, "bool") == 0) {
		bool b = false;
		if ((rc = expect_kind(r, n, N_SCALAR)) || (rc = construct_bool(r, n, &b)))
			return rc;
		*out = value_bool(r->a, b);
	} else if (strcmp(tag, "int") == 0) {
		int64_t i = 0;
		if ((rc = expect_kind(r, n, N_SCALAR)) || (rc = construct_int(r, n, &i)))
			return rc;
		*out = value_int(r->a, i);
	} else if (strcmp(tag, "float") == 0) {
		double f = 0;
		if ((rc = expect_kind(r, n, N_SCALAR)) || (rc = construct_float(r, n, &f)) < 0)
			return rc;
		if (rc == 1) {
			if (!r->nan) {
				r->nan = value_float(r->a, f);
				r->nan->line = n->line;
			}
			n->built = *out = r->nan;
			return 0;
		}
		*out = value_float(r->a, f);
	} else if (strcmp(tag, "seq") == 0) {
		if ((rc = expect_kind(r, n, N_SEQ)))
			return rc;
		struct value *l = value_list(r->a);
		l->line = n->line;
		n->built = l; /* before the items, as PyYAML yields the list first */
		if (n->n) {
			l->u.list.items = arena_alloc(r->a, n->n * sizeof(struct value *));
			l->u.list.cap = n->n;
		}
		for (size_t i = 0; i < n->n; i++) {
			if ((rc = construct(r, n->items[i], &l->u.list.items[i])))
				return rc;
			l->u.list.len++;
		}
		*out = l;
	} else if (strcmp(tag, "map") == 0 || strcmp(tag, "set") == 0) {
		if ((rc = expect_kind(r, n, N_MAP)) || (rc = flatten_mapping(r, n)))
			return rc;
		struct value *m = value_map(r->a);
		m->line = n->line;
		n->built = m;
		if ((rc = construct_pairs(r, n, m, tag[0] == 's')))
			return rc;
		*out = m;
	} else if (strcmp(tag, "omap") == 0 || strcmp(tag, "pairs") == 0) {
		if (n->kind != N_SEQ)
			return node_error(r, n, "expected a sequence for !!%s, but found %s", tag,
					  kind_name(n));
		struct value *l = value_list(r->a);
		l->line = n->line;
		n->built = l;
		for (size_t i = 0; i < n->n; i++) {
			struct node *item = n->items[i];
			if (item->kind != N_MAP || item->n != 2)
				return node_error(
				    r, item,
				    "expected a mapping of length 1 in !!%s, but found "
				    "%s",
				    tag,
				    item->kind == N_MAP ? "a longer mapping" : kind_name(item));
			struct value *t = value_tuple(r->a), *k, *v;
			t->line = item->line;
			if ((rc = construct(r, item->items[0], &k)) ||
			    (rc = construct(r, item->items[1], &v)))
				return rc;
			value_list_append(r->a, t, k);
			value_list_append(r->a, t, v);
			value_list_append(r->a, l, t);
		}
		*out = l;
	} else {
		goto unknown;
	}
	return 0;
unknown:
	return node_error(r, n, "could not determine a constructor for the tag '%s'", n->tag);
}

static int construct(struct reader *r, struct node *n, struct value **out)
{
	if (n->built) {
		*out = n->built;
		return 0;
	}
	int rc = construct_tagged(r, n, out);
	if (rc)
		return rc;
	if (*out == r->nan)
		return 0;
	(*out)->line = n->line;
	n->built = *out;
	return 0;
}

int yaml_parse(struct arena *a, const char *name, const char *text, size_t len,
	       const struct yaml_limits *limits, struct value **out, struct lf_error *err)
{
	struct reader r = {
	    .a = a,
	    .na = arena_new(),
	    .name = name ? name : "",
	    .text = text,
	    .len = len,
	    .max_depth = limits && limits->max_depth ? limits->max_depth : 256,
	    .max_nodes = limits && limits->max_nodes ? limits->max_nodes : 1000000,
	    .err = err,
	};
	struct node *root = NULL;
	int rc;
	*out = NULL;
	if (!yaml_parser_initialize(&r.parser)) {
		arena_free(r.na);
		return lf_error_set(err, -ENOMEM, r.name, 0, 0, "out of memory");
	}
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
	r.want_spans = memchr(text, '\t', len) != NULL;
	rc = compose_stream(&r, &root);
	if (!rc && r.want_spans && r.parser.encoding == YAML_UTF8_ENCODING)
		rc = tab_check(&r);
	if (!rc && root)
		rc = construct(&r, root, out);
	else if (!rc) {
		*out = value_none(a);
		(*out)->line = 1;
	}
	yaml_parser_delete(&r.parser);
	arena_free(r.na);
	if (rc)
		*out = NULL;
	return rc;
}

/* ---- emitting ---- */

static int emit_write(void *data, unsigned char *buf, size_t size)
{
	strbuf_add(data, buf, size);
	return 1;
}

/* libyaml refuses invalid UTF-8: such bytes become U+FFFD (yaml_parse never makes them). */
static const char *emit_utf8(struct strbuf *tmp, const char *s, size_t *len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = *len, i = 0;
	bool ok = true;
	while (i < n && ok) {
		size_t k = u[i] < 0x80	       ? 1
			   : (u[i] >> 5) == 6  ? 2
			   : (u[i] >> 4) == 14 ? 3
			   : (u[i] >> 3) == 30 ? 4
					       : 0;
		ok = k && i + k <= n;
		for (size_t j = 1; ok && j < k; j++)
			ok = (u[i + j] & 0xc0) == 0x80;
		i += k;
	}
	if (ok)
		return s;
	strbuf_reset(tmp);
	for (i = 0; i < n;) {
		size_t k = u[i] < 0x80	       ? 1
			   : (u[i] >> 5) == 6  ? 2
			   : (u[i] >> 4) == 14 ? 3
			   : (u[i] >> 3) == 30 ? 4
					       : 0;
		bool good = k && i + k <= n;
		for (size_t j = 1; good && j < k; j++)
			good = (u[i + j] & 0xc0) == 0x80;
		if (good) {
			strbuf_add(tmp, u + i, k);
			i += k;
		} else {
			strbuf_adds(tmp, "\xef\xbf\xbd");
			i++;
		}
	}
	*len = tmp->len;
	return tmp->buf;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, size_t len, bool plain_ok,
		       yaml_scalar_style_t style)
{
	yaml_event_t ev;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, plain_ok, 1,
					  style))
		return -ENOMEM;
	return yaml_emitter_emit(e, &ev) ? 0 : -EINVAL;
}

/* A float as PyYAML's representer writes it: repr() with a dot before any exponent so it
 * reads back as a float under YAML 1.1 rules. */
static void emit_float_text(struct strbuf *sb, double f)
{
	if (isnan(f)) {
		strbuf_adds(sb, ".nan");
		return;
	}
	if (isinf(f)) {
		strbuf_adds(sb, f < 0 ? "-.inf" : ".inf");
		return;
	}
	struct strbuf r = STRBUF_INIT;
	value_float_repr(&r, f);
	const char *t = strbuf_str(&r), *e = strchr(t, 'e');
	if (!strchr(t, '.') && e) {
		strbuf_add(sb, t, (size_t)(e - t));
		strbuf_adds(sb, ".0");
		strbuf_adds(sb, e);
	} else {
		strbuf_adds(sb, t);
	}
	strbuf_release(&r);
}

static int emit_value(yaml_emitter_t *e, const struct value *v, int depth)
{
	yaml_event_t ev;
	char num[32];
	int rc = 0;
	if (depth > 1000) /* values from elsewhere may be cyclic; never recurse forever */
		return emit_scalar(e, "null", 4, true, YAML_PLAIN_SCALAR_STYLE);
	switch (v->kind) {
	case V_NONE:
	case V_UNDEFINED:
	case V_NATIVE:
		return emit_scalar(e, "null", 4, true, YAML_PLAIN_SCALAR_STYLE);
	case V_BOOL:
		return emit_scalar(e, v->u.b ? "true" : "false", v->u.b ? 4 : 5, true,
				   YAML_PLAIN_SCALAR_STYLE);
	case V_INT:
		snprintf(num, sizeof(num), "%lld", (long long)v->u.i);
		return emit_scalar(e, num, strlen(num), true, YAML_PLAIN_SCALAR_STYLE);
	case V_FLOAT: {
		struct strbuf t = STRBUF_INIT;
		emit_float_text(&t, v->u.f);
		rc = emit_scalar(e, t.buf, t.len, true, YAML_PLAIN_SCALAR_STYLE);
		strbuf_release(&t);
		return rc;
	}
	case V_STRING: {
		struct strbuf tmp = STRBUF_INIT;
		size_t len = v->u.str.len;
		const char *s = emit_utf8(&tmp, v->u.str.s, &len);
		bool plain = strcmp(resolve_scalar(s, len), TAG("str")) == 0;
		/* multi-line text reads best as a literal block; libyaml falls back to quotes
		 * when a block cannot hold it exactly */
		yaml_scalar_style_t style =
		    memchr(s, '\n', len) ? YAML_LITERAL_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
		rc = emit_scalar(e, s, len, plain, style);
		strbuf_release(&tmp);
		return rc;
	}
	case V_LIST:
	case V_TUPLE:
		if (!yaml_sequence_start_event_initialize(
			&ev, NULL, NULL, 1,
			v->u.list.len ? YAML_BLOCK_SEQUENCE_STYLE : YAML_FLOW_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return -EINVAL;
		for (size_t i = 0; i < v->u.list.len && !rc; i++)
			rc = emit_value(e, v->u.list.items[i], depth + 1);
		if (rc || !yaml_sequence_end_event_initialize(&ev) || !yaml_emitter_emit(e, &ev))
			return rc ? rc : -EINVAL;
		return 0;
	case V_MAP:
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 v->u.map.len ? YAML_BLOCK_MAPPING_STYLE
								      : YAML_FLOW_MAPPING_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return -EINVAL;
		for (size_t i = 0; i < v->u.map.len && !rc; i++) {
			rc = emit_value(e, v->u.map.keys[i], depth + 1);
			if (!rc)
				rc = emit_value(e, v->u.map.vals[i], depth + 1);
		}
		if (rc || !yaml_mapping_end_event_initialize(&ev) || !yaml_emitter_emit(e, &ev))
			return rc ? rc : -EINVAL;
		return 0;
	}
	return -EINVAL;
}

void yaml_emit(struct strbuf *sb, const struct value *v)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	if (!yaml_emitter_initialize(&e))
		return;
	yaml_emitter_set_output(&e, emit_write, sb);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_indent(&e, 2);
	yaml_emitter_set_width(&e, -1); /* long qemu options stay on one line */
	yaml_emitter_set_break(&e, YAML_LN_BREAK);
	bool ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
		  yaml_emitter_emit(&e, &ev) &&
		  yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
		  yaml_emitter_emit(&e, &ev);
	ok = ok && emit_value(&e, v, 0) == 0;
	ok = ok && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
	     yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev);
	(void)ok; /* only an out-of-memory can fail here, and arena allocation aborts on that */
	yaml_emitter_delete(&e);
}
