/* value: the dynamic value tree shared by YAML documents, template contexts and template
 * evaluation. Values live in an arena; Python's semantics (==, truth, str(), repr()) are the
 * reference because LAVA's server is Python. */
#ifndef LAVAFS_VALUE_H
#define LAVAFS_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "strbuf.h"

enum value_kind {
	V_UNDEFINED, /* Jinja2's Undefined: prints empty, is false */
	V_NONE,
	V_BOOL,
	V_INT,
	V_FLOAT,
	V_STRING,
	V_LIST,
	V_TUPLE,
	V_MAP,    /* ordered like a Python 3.7+ dict */
	V_NATIVE, /* engine-private objects (macros, bound methods, loop, ...) */
};

struct value {
	enum value_kind kind;
	int line; /* 1-based source line where the value was read (YAML), 0 if unknown */
	union {
		bool b;
		int64_t i;
		double f;
		struct {
			const char *s; /* UTF-8, NUL-terminated, may contain NUL */
			size_t len;
		} str;
		struct {
			struct value **items;
			size_t len, cap;
		} list; /* V_LIST and V_TUPLE */
		struct {
			struct value **keys, **vals;
			size_t len, cap;
		} map;
		struct {
			int tag;
			void *ptr;
			const char *name; /* the type's name, for messages */
			const char *repr; /* how str() prints it; NULL: <name>; VALUE_REPR_WRAP:
					   * <name REPR-OF-PTR>, ptr being a struct value */
		} native;
		struct {
			const char *name; /* the undefined name, for error messages; may be NULL */
		} undef;
	} u;
};

/* value.line of a V_LIST standing for a dict view (dict.keys(), .values(), .items()):
 * printed as dict_keys([...]) and the like */
#define VALUE_DICT_KEYS (-8)
#define VALUE_DICT_VALUES (-9)
#define VALUE_DICT_ITEMS (-10)

/* How deep printing and comparing go into nested lists and dicts: Python's recursion
 * limit, roughly. value_print_too_deep() says (and forgets) whether this thread's last
 * value_repr/value_to_str stopped there. */
#define VALUE_MAX_DEPTH 900
bool value_print_too_deep(void);
/* whether this thread's last value_equal gave up at VALUE_MAX_DEPTH (and forgets it) */
bool value_compare_too_deep(void);
/* Python's order of two numbers (bool, int, float) or two strings (by code point, which is
 * byte order in UTF-8): -1, 0 or 1 in *cmp; false for any other pair */
bool value_order_scalar(const struct value *a, const struct value *b, int *cmp);

/* a native object whose ptr is a value it shows, as a jinja2 namespace does */
extern const char VALUE_REPR_WRAP[];

struct value *value_new(struct arena *a, enum value_kind kind);
struct value *value_undefined(struct arena *a, const char *name);
struct value *value_none(struct arena *a);
struct value *value_bool(struct arena *a, bool b);
struct value *value_int(struct arena *a, int64_t i);
struct value *value_float(struct arena *a, double f);
struct value *value_str(struct arena *a, const char *s, size_t len); /* copies */
struct value *value_cstr(struct arena *a, const char *s);            /* copies */
/* s must stay alive as long as the value and have a NUL at s[len] */
struct value *value_str_nocopy(struct arena *a, const char *s, size_t len);
struct value *value_list(struct arena *a);
struct value *value_tuple(struct arena *a);
struct value *value_map(struct arena *a);

void value_list_append(struct arena *a, struct value *list, struct value *item);
/* Lookup by Python equality of keys; NULL when absent. */
struct value *value_map_get(const struct value *map, const struct value *key);
struct value *value_map_gets(const struct value *map, const char *key);
/* Insert or replace (an existing key keeps its position, as in a Python dict). */
void value_map_set(struct arena *a, struct value *map, struct value *key, struct value *val);
void value_map_sets(struct arena *a, struct value *map, const char *key, struct value *val);
bool value_map_remove(struct value *map, const struct value *key);

/* Deep copy into another arena (NATIVE values are copied shallowly). */
struct value *value_clone(struct arena *a, const struct value *v);

bool value_is_string(const struct value *v, const char *s);
bool value_truthy(const struct value *v);
/* Python ==, including 1 == 1.0 == True and element-wise containers. */
bool value_equal(const struct value *a, const struct value *b);
/* Python's type name: 'str', 'int', 'dict', ... */
const char *value_type_name(const struct value *v);

/* Python str(v) and repr(v), appended to sb. */
void value_to_str(struct strbuf *sb, const struct value *v);
void value_repr(struct strbuf *sb, const struct value *v);
/* repr() of a float exactly as CPython prints it: 1.0, 1e+16, 1.5e-05, inf, nan. */
void value_float_repr(struct strbuf *sb, double f);
/* repr() of a str: quotes chosen and characters escaped as CPython does. */
void value_str_repr(struct strbuf *sb, const char *s, size_t len);

#endif
