#include "value.h"
#include "value_printable.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char VALUE_REPR_WRAP[] = "";

struct value *value_new(struct arena *a, enum value_kind kind)
{
	struct value *v = arena_alloc(a, sizeof(*v));
	v->kind = kind;
	return v;
}

struct value *value_undefined(struct arena *a, const char *name)
{
	struct value *v = value_new(a, V_UNDEFINED);
	v->u.undef.name = name ? arena_strdup(a, name) : NULL;
	return v;
}

struct value *value_none(struct arena *a)
{
	return value_new(a, V_NONE);
}

struct value *value_bool(struct arena *a, bool b)
{
	struct value *v = value_new(a, V_BOOL);
	v->u.b = b;
	return v;
}

struct value *value_int(struct arena *a, int64_t i)
{
	struct value *v = value_new(a, V_INT);
	v->u.i = i;
	return v;
}

struct value *value_float(struct arena *a, double f)
{
	struct value *v = value_new(a, V_FLOAT);
	v->u.f = f;
	return v;
}

struct value *value_str_nocopy(struct arena *a, const char *s, size_t len)
{
	struct value *v = value_new(a, V_STRING);
	v->u.str.s = s;
	v->u.str.len = len;
	return v;
}

struct value *value_str(struct arena *a, const char *s, size_t len)
{
	return value_str_nocopy(a, arena_strndup(a, s, len), len);
}

struct value *value_cstr(struct arena *a, const char *s)
{
	return value_str(a, s, strlen(s));
}

struct value *value_list(struct arena *a)
{
	return value_new(a, V_LIST);
}

struct value *value_tuple(struct arena *a)
{
	return value_new(a, V_TUPLE);
}

struct value *value_map(struct arena *a)
{
	return value_new(a, V_MAP);
}

void value_list_append(struct arena *a, struct value *list, struct value *item)
{
	if (list->u.list.len == list->u.list.cap) {
		size_t cap = list->u.list.cap ? list->u.list.cap * 2 : 4;
		list->u.list.items = arena_realloc(a, list->u.list.items,
						   list->u.list.cap * sizeof(struct value *),
						   cap * sizeof(struct value *));
		list->u.list.cap = cap;
	}
	list->u.list.items[list->u.list.len++] = item;
}

static long map_index(const struct value *map, const struct value *key)
{
	for (size_t i = 0; i < map->u.map.len; i++)
		if (value_equal(map->u.map.keys[i], key))
			return (long)i;
	return -1;
}

struct value *value_map_get(const struct value *map, const struct value *key)
{
	long i = map_index(map, key);
	return i < 0 ? NULL : map->u.map.vals[i];
}

struct value *value_map_gets(const struct value *map, const char *key)
{
	size_t n = strlen(key);
	for (size_t i = 0; i < map->u.map.len; i++) {
		const struct value *k = map->u.map.keys[i];
		if (k->kind == V_STRING && k->u.str.len == n && memcmp(k->u.str.s, key, n) == 0)
			return map->u.map.vals[i];
	}
	return NULL;
}

void value_map_set(struct arena *a, struct value *map, struct value *key, struct value *val)
{
	long i = map_index(map, key);
	if (i >= 0) {
		map->u.map.vals[i] = val;
		return;
	}
	if (map->u.map.len == map->u.map.cap) {
		size_t old = map->u.map.cap, cap = old ? old * 2 : 4;
		map->u.map.keys = arena_realloc(a, map->u.map.keys, old * sizeof(struct value *),
						cap * sizeof(struct value *));
		map->u.map.vals = arena_realloc(a, map->u.map.vals, old * sizeof(struct value *),
						cap * sizeof(struct value *));
		map->u.map.cap = cap;
	}
	map->u.map.keys[map->u.map.len] = key;
	map->u.map.vals[map->u.map.len] = val;
	map->u.map.len++;
}

void value_map_sets(struct arena *a, struct value *map, const char *key, struct value *val)
{
	value_map_set(a, map, value_cstr(a, key), val);
}

bool value_map_remove(struct value *map, const struct value *key)
{
	long i = map_index(map, key);
	if (i < 0)
		return false;
	size_t rest = map->u.map.len - (size_t)i - 1;
	memmove(&map->u.map.keys[i], &map->u.map.keys[i + 1], rest * sizeof(struct value *));
	memmove(&map->u.map.vals[i], &map->u.map.vals[i + 1], rest * sizeof(struct value *));
	map->u.map.len--;
	return true;
}

/* The containers a clone or a print is inside, innermost first (with their copies, when
 * cloning): a container met again is a value that holds itself. */
struct value_up {
	const struct value *v;
	struct value *copy;
	const struct value_up *up;
	int depth;
};

static const struct value_up *up_find(const struct value_up *up, const struct value *v)
{
	for (; up; up = up->up)
		if (up->v == v)
			return up;
	return NULL;
}

static int up_depth(const struct value_up *up)
{
	return up ? up->depth : 0;
}

static struct value *clone_at(struct arena *a, const struct value *v, const struct value_up *up);

struct value *value_clone(struct arena *a, const struct value *v)
{
	return clone_at(a, v, NULL);
}

/* a container met again (a list that holds itself) gets its copy: the clone has the cycle */
static struct value *clone_at(struct arena *a, const struct value *v, const struct value_up *up)
{
	if (v->kind == V_LIST || v->kind == V_TUPLE || v->kind == V_MAP) {
		const struct value_up *seen = up_find(up, v);
		if (seen)
			return seen->copy;
		if (up_depth(up) >= VALUE_MAX_DEPTH) /* deeper is not kept */
			return value_new(a, V_NONE);
	}
	struct value *c = value_new(a, v->kind);
	*c = *v;
	struct value_up me = {v, c, up, up_depth(up) + 1};
	switch (v->kind) {
	case V_STRING:
		c->u.str.s = arena_strndup(a, v->u.str.s, v->u.str.len);
		break;
	case V_UNDEFINED:
		c->u.undef.name = v->u.undef.name ? arena_strdup(a, v->u.undef.name) : NULL;
		break;
	case V_NATIVE: /* the object stays shared; its name must outlive the original's arena */
		c->u.native.name = v->u.native.name ? arena_strdup(a, v->u.native.name) : NULL;
		c->u.native.repr = v->u.native.repr && v->u.native.repr != VALUE_REPR_WRAP
					   ? arena_strdup(a, v->u.native.repr)
					   : v->u.native.repr;
		break;
	case V_LIST:
	case V_TUPLE:
		c->u.list.items = NULL;
		c->u.list.len = c->u.list.cap = 0;
		for (size_t i = 0; i < v->u.list.len; i++)
			value_list_append(a, c, clone_at(a, v->u.list.items[i], &me));
		break;
	case V_MAP:
		c->u.map.keys = c->u.map.vals = NULL;
		c->u.map.len = c->u.map.cap = 0;
		for (size_t i = 0; i < v->u.map.len; i++)
			value_map_set(a, c, clone_at(a, v->u.map.keys[i], &me),
				      clone_at(a, v->u.map.vals[i], &me));
		break;
	default:
		break;
	}
	return c;
}

bool value_is_string(const struct value *v, const char *s)
{
	return v && v->kind == V_STRING && strlen(s) == v->u.str.len &&
	       memcmp(v->u.str.s, s, v->u.str.len) == 0;
}

bool value_truthy(const struct value *v)
{
	switch (v->kind) {
	case V_UNDEFINED:
	case V_NONE:
		return false;
	case V_BOOL:
		return v->u.b;
	case V_INT:
		return v->u.i != 0;
	case V_FLOAT:
		return v->u.f != 0.0;
	case V_STRING:
		return v->u.str.len != 0;
	case V_LIST:
	case V_TUPLE:
		return v->u.list.len != 0;
	case V_MAP:
		return v->u.map.len != 0;
	case V_NATIVE:
		return true;
	}
	return false;
}

static bool is_number(const struct value *v)
{
	return v->kind == V_BOOL || v->kind == V_INT || v->kind == V_FLOAT;
}

static double as_double(const struct value *v)
{
	return v->kind == V_FLOAT ? v->u.f : v->kind == V_INT ? (double)v->u.i : (double)v->u.b;
}

static int64_t as_int(const struct value *v)
{
	return v->kind == V_INT ? v->u.i : (int64_t)v->u.b;
}

bool value_order_scalar(const struct value *a, const struct value *b, int *cmp)
{
	if (is_number(a) && is_number(b)) {
		if (a->kind != V_FLOAT && b->kind != V_FLOAT) {
			int64_t x = as_int(a), y = as_int(b);
			*cmp = x < y ? -1 : x > y;
		} else {
			double x = as_double(a), y = as_double(b);
			*cmp = x < y ? -1 : x > y;
		}
		return true;
	}
	if (a->kind == V_STRING && b->kind == V_STRING) {
		size_t m = a->u.str.len < b->u.str.len ? a->u.str.len : b->u.str.len;
		int c = memcmp(a->u.str.s, b->u.str.s, m);
		*cmp = c ? (c < 0 ? -1 : 1)
			 : a->u.str.len < b->u.str.len ? -1 : a->u.str.len > b->u.str.len;
		return true;
	}
	return false;
}

static bool equal_at(const struct value *a, const struct value *b, int depth);

bool value_equal(const struct value *a, const struct value *b)
{
	return equal_at(a, b, 0);
}

static _Thread_local bool compare_too_deep;

bool value_compare_too_deep(void)
{
	bool deep = compare_too_deep;
	compare_too_deep = false;
	return deep;
}

/* beyond VALUE_MAX_DEPTH (two different recursive lists) the answer is no, and marked */
static bool equal_at(const struct value *a, const struct value *b, int depth)
{
	if (depth > VALUE_MAX_DEPTH) {
		compare_too_deep = true;
		return false;
	}
	if (a == b)
		return a->kind != V_FLOAT || !isnan(a->u.f);
	if (is_number(a) && is_number(b)) {
		if (a->kind == V_FLOAT || b->kind == V_FLOAT)
			return as_double(a) == as_double(b);
		return as_int(a) == as_int(b);
	}
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case V_UNDEFINED:
	case V_NONE:
		return true;
	case V_STRING:
		return a->u.str.len == b->u.str.len &&
		       memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
	case V_LIST:
	case V_TUPLE:
		if (a->u.list.len != b->u.list.len)
			return false;
		for (size_t i = 0; i < a->u.list.len; i++)
			if (!equal_at(a->u.list.items[i], b->u.list.items[i], depth + 1))
				return false;
		return true;
	case V_MAP:
		if (a->u.map.len != b->u.map.len)
			return false;
		for (size_t i = 0; i < a->u.map.len; i++) {
			const struct value *o = value_map_get(b, a->u.map.keys[i]);
			if (!o || !equal_at(a->u.map.vals[i], o, depth + 1))
				return false;
		}
		return true;
	case V_NATIVE:
		return a->u.native.ptr == b->u.native.ptr && a->u.native.tag == b->u.native.tag;
	default:
		return false;
	}
}

const char *value_type_name(const struct value *v)
{
	switch (v->kind) {
	case V_UNDEFINED:
		return "Undefined";
	case V_NONE:
		return "NoneType";
	case V_BOOL:
		return "bool";
	case V_INT:
		return "int";
	case V_FLOAT:
		return "float";
	case V_STRING:
		return "str";
	case V_LIST:
		return "list";
	case V_TUPLE:
		return "tuple";
	case V_MAP:
		return "dict";
	case V_NATIVE:
		return v->u.native.name ? v->u.native.name : "object";
	}
	return "object";
}

void value_float_repr(struct strbuf *sb, double f)
{
	if (isnan(f)) {
		strbuf_adds(sb, "nan");
		return;
	}
	if (isinf(f)) {
		strbuf_adds(sb, f < 0 ? "-inf" : "inf");
		return;
	}
	/* Shortest digit string that round-trips, then CPython's layout rule:
	 * scientific when the decimal exponent is < -4 or >= 16. */
	char tmp[64];
	int prec;
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	char *e = strchr(tmp, 'e');
	int exp10 = atoi(e + 1);
	*e = '\0';
	char digits[32];
	size_t nd = 0;
	bool neg = false;
	for (char *p = tmp; *p; p++) {
		if (*p == '-')
			neg = true;
		else if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	}
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	if (neg)
		strbuf_addc(sb, '-');
	if (exp10 < -4 || exp10 >= 16) {
		strbuf_addc(sb, digits[0]);
		if (nd > 1) {
			strbuf_addc(sb, '.');
			strbuf_add(sb, digits + 1, nd - 1);
		}
		strbuf_addf(sb, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	} else if (exp10 < 0) {
		strbuf_adds(sb, "0.");
		for (int i = -1; i > exp10; i--)
			strbuf_addc(sb, '0');
		strbuf_add(sb, digits, nd);
	} else {
		for (int i = 0; i <= exp10; i++)
			strbuf_addc(sb, (size_t)i < nd ? digits[i] : '0');
		strbuf_addc(sb, '.');
		if ((size_t)exp10 + 1 < nd)
			strbuf_add(sb, digits + exp10 + 1, nd - (size_t)exp10 - 1);
		else
			strbuf_addc(sb, '0');
	}
}

/* Decode one UTF-8 sequence; invalid bytes decode as themselves (U+DC80.. in Python). */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
	if (n == 0 || n > len) {
		*cp = c;
		return 1;
	}
	uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = c;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3f);
	}
	*cp = v;
	return n;
}

/* CPython's str.isprintable(), which decides what repr() escapes: a binary search of the
 * non-printable runs (unassigned, private use, format, separators, ...). */
static bool py_printable(uint32_t cp)
{
	if (cp >= 0x20 && cp < 0x7f)
		return true;
	size_t lo = 0, hi = sizeof(value_nonprintable) / sizeof(value_nonprintable[0]);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp < value_nonprintable[mid][0])
			hi = mid;
		else if (cp > value_nonprintable[mid][1])
			lo = mid + 1;
		else
			return false;
	}
	return true;
}

void value_str_repr(struct strbuf *sb, const char *s, size_t len)
{
	bool has_sq = memchr(s, '\'', len) != NULL, has_dq = memchr(s, '"', len) != NULL;
	char q = (has_sq && !has_dq) ? '"' : '\'';
	strbuf_addc(sb, q);
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(p + i, len - i, &cp);
		if (cp == (uint32_t)q || cp == '\\') {
			strbuf_addc(sb, '\\');
			strbuf_addc(sb, (char)cp);
		} else if (cp == '\n') {
			strbuf_adds(sb, "\\n");
		} else if (cp == '\r') {
			strbuf_adds(sb, "\\r");
		} else if (cp == '\t') {
			strbuf_adds(sb, "\\t");
		} else if (n == 1 && cp >= 0x80) {
			strbuf_addf(sb, "\\udc%02x", cp); /* surrogateescape'd byte */
		} else if (!py_printable(cp)) {
			if (cp < 0x100)
				strbuf_addf(sb, "\\x%02x", cp);
			else if (cp < 0x10000)
				strbuf_addf(sb, "\\u%04x", cp);
			else
				strbuf_addf(sb, "\\U%08x", cp);
		} else {
			strbuf_add(sb, p + i, n);
		}
		i += n;
	}
	strbuf_addc(sb, q);
}

/* Printing: a container met again prints as Python prints a recursive container ([...],
 * {...}), and nesting deeper than VALUE_MAX_DEPTH stops the printing and marks this thread's
 * print as failed (Python's RecursionError). */
static _Thread_local bool print_too_deep;

bool value_print_too_deep(void)
{
	bool deep = print_too_deep;
	print_too_deep = false;
	return deep;
}

static void repr_at(struct strbuf *sb, const struct value *v, const struct value_up *up);
static void str_at(struct strbuf *sb, const struct value *v, const struct value_up *up);

/* enters container v: false (with its recursion mark printed) when it is already open */
static bool enter(struct strbuf *sb, const struct value *v, const struct value_up *up,
		  struct value_up *me, const char *mark)
{
	if (up_find(up, v)) {
		strbuf_adds(sb, mark);
		return false;
	}
	*me = (struct value_up){v, NULL, up, up_depth(up) + 1};
	if (me->depth > VALUE_MAX_DEPTH) {
		print_too_deep = true;
		sb->over = true; /* stops every loop above */
		return false;
	}
	return true;
}

static void repr_seq(struct strbuf *sb, const struct value *v, char open, char close,
		     const struct value_up *up)
{
	struct value_up me;
	const char *mark = v->kind == V_TUPLE ? "(...)" : "[...]";
	if (!enter(sb, v, up, &me, mark))
		return;
	strbuf_addc(sb, open);
	for (size_t i = 0; i < v->u.list.len && !sb->over; i++) {
		if (i)
			strbuf_adds(sb, ", ");
		repr_at(sb, v->u.list.items[i], &me);
	}
	if (v->kind == V_TUPLE && v->u.list.len == 1)
		strbuf_addc(sb, ',');
	strbuf_addc(sb, close);
}

static void repr_at(struct strbuf *sb, const struct value *v, const struct value_up *up)
{
	switch (v->kind) {
	case V_STRING:
		value_str_repr(sb, v->u.str.s, v->u.str.len);
		break;
	case V_UNDEFINED:
		strbuf_adds(sb, "Undefined");
		break;
	case V_LIST:
		if (v->line <= VALUE_DICT_KEYS && v->line >= VALUE_DICT_ITEMS) {
			static const char *const view[] = {"dict_keys(", "dict_values(",
							   "dict_items("};
			strbuf_adds(sb, view[VALUE_DICT_KEYS - v->line]);
			repr_seq(sb, v, '[', ']', up);
			strbuf_addc(sb, ')');
			break;
		}
		repr_seq(sb, v, '[', ']', up);
		break;
	case V_TUPLE:
		repr_seq(sb, v, '(', ')', up);
		break;
	case V_MAP: {
		struct value_up me;
		if (!enter(sb, v, up, &me, "{...}"))
			break;
		strbuf_addc(sb, '{');
		for (size_t i = 0; i < v->u.map.len && !sb->over; i++) {
			if (i)
				strbuf_adds(sb, ", ");
			repr_at(sb, v->u.map.keys[i], &me);
			strbuf_adds(sb, ": ");
			repr_at(sb, v->u.map.vals[i], &me);
		}
		strbuf_addc(sb, '}');
		break;
	}
	default:
		str_at(sb, v, up);
	}
}

static void str_at(struct strbuf *sb, const struct value *v, const struct value_up *up)
{
	switch (v->kind) {
	case V_UNDEFINED:
		break;
	case V_NONE:
		strbuf_adds(sb, "None");
		break;
	case V_BOOL:
		strbuf_adds(sb, v->u.b ? "True" : "False");
		break;
	case V_INT:
		if (v->u.i < 0)
			strbuf_addc(sb, '-');
		strbuf_addu(sb, v->u.i < 0 ? (unsigned long long)0 - (unsigned long long)v->u.i
					   : (unsigned long long)v->u.i);
		break;
	case V_FLOAT:
		value_float_repr(sb, v->u.f);
		break;
	case V_STRING:
		strbuf_add(sb, v->u.str.s, v->u.str.len);
		break;
	case V_NATIVE:
		if (v->u.native.repr == VALUE_REPR_WRAP) {
			strbuf_addf(sb, "<%s ", value_type_name(v));
			repr_at(sb, v->u.native.ptr, up);
			strbuf_addc(sb, '>');
		} else if (v->u.native.repr) {
			strbuf_adds(sb, v->u.native.repr);
		} else {
			strbuf_addf(sb, "<%s>", value_type_name(v));
		}
		break;
	default:
		repr_at(sb, v, up);
	}
}

void value_repr(struct strbuf *sb, const struct value *v)
{
	repr_at(sb, v, NULL);
}

void value_to_str(struct strbuf *sb, const struct value *v)
{
	str_at(sb, v, NULL);
}
