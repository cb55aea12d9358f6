/* env: the environment QEMU runs with, from the server-level env.yaml.
 *
 * LAVA's worker builds it like this (lava_dispatcher, "_create_environment"): start from
 * its own os.environ, or from {} when `purge` is true; delete every name in `removes` (absent
 * names are fine); then dict.update() with `overrides`. So an override wins over a removal of
 * the same name, whatever the order of the keys in the file. We apply the same order.
 *
 * Where LAVA is loose we are strict, because a mistake here is silent there:
 * - LAVA ignores unknown top-level keys; a typo like `remove:` would then keep a variable the
 *   admin meant to drop, so an unknown key is an error here.
 * - LAVA hands override values to subprocess as they are, which fails for a non-string only
 *   when a job spawns QEMU. We convert scalars the way Python's str() prints them (yes/true
 *   → "True", 1.50 → "1.5"), which is what the admin would see if LAVA converted them; a
 *   null value (`FOO:` with nothing after it) is an error rather than the string "None".
 * - An empty `overrides:` or `removes:` (null) means "none", as an empty mapping/list would.
 */
#include "env.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"
#include "yaml.h"

struct env_var {
	const char *name, *value;
	size_t name_len, value_len;
	size_t seq;   /* later wins among equal names */
	bool removed; /* dropped by `removes` (only base entries can be) */
};

struct env_set {
	struct env_var *v;
	size_t n, cap;
	size_t next_seq; /* grows monotonically, so overrides outrank every base entry */
};

static void env_add(struct arena *a, struct env_set *set, const char *name, size_t name_len,
		    const char *value, size_t value_len)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		set->v = arena_realloc(a, set->v, set->cap * sizeof(*set->v), cap * sizeof(*set->v));
		set->cap = cap;
	}
	set->v[set->n] = (struct env_var){name, value, name_len, value_len, set->next_seq++, false};
	set->n++;
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int var_cmp(const void *pa, const void *pb)
{
	const struct env_var *a = pa, *b = pb;
	int c = name_cmp(a->name, a->name_len, b->name, b->name_len);
	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* A name the kernel's KEY=VALUE format can carry. */
static int check_name(const char *file, const struct value *k, const char *where,
		      struct lf_error *err)
{
	if (k->kind != V_STRING) {
		struct strbuf sb = STRBUF_INIT;
		value_repr(&sb, k);
		int rc = lf_error_set(err, -EINVAL, file, k->line, 0,
				      "%s: variable name %s is a %s, not a string", where,
				      strbuf_str(&sb), value_type_name(k));
		strbuf_release(&sb);
		return rc;
	}
	if (k->u.str.len == 0)
		return lf_error_set(err, -EINVAL, file, k->line, 0, "%s: empty variable name",
				    where);
	if (memchr(k->u.str.s, '=', k->u.str.len) || memchr(k->u.str.s, '\0', k->u.str.len))
		return lf_error_set(err, -EINVAL, file, k->line, 0,
				    "%s: variable name '%s' contains '=' or a NUL byte", where,
				    k->u.str.s);
	return 0;
}

static int apply_removes(const char *file, const struct value *list, struct env_set *set,
			 struct lf_error *err)
{
	if (list->kind == V_NONE)
		return 0;
	if (list->kind != V_LIST)
		return lf_error_set(err, -EINVAL, file, list->line, 0,
				    "removes: must be a list of variable names, not a %s",
				    value_type_name(list));
	for (size_t i = 0; i < list->u.list.len; i++) {
		const struct value *k = list->u.list.items[i];
		int rc = check_name(file, k, "removes", err);
		if (rc)
			return rc;
		/* the base is sorted and unique at this point */
		struct env_var *hit = NULL;
		size_t lo = 0, hi = set->n;
		while (lo < hi && !hit) {
			size_t mid = lo + (hi - lo) / 2;
			int c = name_cmp(set->v[mid].name, set->v[mid].name_len, k->u.str.s,
					 k->u.str.len);
			if (c == 0)
				hit = &set->v[mid];
			else if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (hit)
			hit->removed = true;
	}
	return 0;
}

static int apply_overrides(struct arena *a, const char *file, const struct value *map,
			   struct env_set *set, struct lf_error *err)
{
	if (map->kind == V_NONE)
		return 0;
	if (map->kind != V_MAP)
		return lf_error_set(err, -EINVAL, file, map->line, 0,
				    "overrides: must be a mapping of NAME: value, not a %s",
				    value_type_name(map));
	for (size_t i = 0; i < map->u.map.len; i++) {
		const struct value *k = map->u.map.keys[i], *v = map->u.map.vals[i];
		int rc = check_name(file, k, "overrides", err);
		if (rc)
			return rc;
		const char *name = k->u.str.s;
		switch (v->kind) {
		case V_STRING:
			if (memchr(v->u.str.s, '\0', v->u.str.len))
				return lf_error_set(err, -EINVAL, file, v->line, 0,
						    "overrides: %s: the value contains a NUL byte",
						    name);
			env_add(a, set, name, k->u.str.len, v->u.str.s, v->u.str.len);
			break;
		case V_BOOL:
		case V_INT:
		case V_FLOAT: {
			struct strbuf sb = STRBUF_INIT;
			value_to_str(&sb, v);
			const char *s = arena_strndup(a, strbuf_str(&sb), sb.len);
			env_add(a, set, name, k->u.str.len, s, sb.len);
			strbuf_release(&sb);
			break;
		}
		case V_NONE:
			return lf_error_set(err, -EINVAL, file, v->line ? v->line : k->line, 0,
					    "overrides: %s has no value (write %s: '' for an empty "
					    "one)",
					    name, name);
		default:
			return lf_error_set(err, -EINVAL, file, v->line ? v->line : k->line, 0,
					    "overrides: %s: a %s is not an environment value", name,
					    value_type_name(v));
		}
	}
	return 0;
}

int env_compose(struct arena *a, const char *name, const char *yaml, size_t len,
		char *const *base, struct strbuf *out, struct lf_error *err)
{
	struct value *doc = NULL;
	int rc = yaml_parse(a, name, yaml ? yaml : "", yaml ? len : 0, NULL, &doc, err);
	if (rc)
		return rc;
	const struct value *overrides = NULL, *removes = NULL, *purge = NULL;
	if (doc && doc->kind != V_NONE) {
		if (doc->kind != V_MAP)
			return lf_error_set(err, -EINVAL, name, doc->line, 0,
					    "env.yaml must be a mapping (overrides, removes, purge), "
					    "not a %s",
					    value_type_name(doc));
		for (size_t i = 0; i < doc->u.map.len; i++) {
			const struct value *k = doc->u.map.keys[i], *v = doc->u.map.vals[i];
			if (value_is_string(k, "overrides"))
				overrides = v;
			else if (value_is_string(k, "removes"))
				removes = v;
			else if (value_is_string(k, "purge"))
				purge = v;
			else {
				struct strbuf sb = STRBUF_INIT;
				value_repr(&sb, k);
				rc = lf_error_set(err, -EINVAL, name, k->line, 0,
						  "unknown key %s (env.yaml knows overrides, removes "
						  "and purge)",
						  strbuf_str(&sb));
				strbuf_release(&sb);
				return rc;
			}
		}
	}
	if (purge && purge->kind != V_BOOL && purge->kind != V_NONE)
		return lf_error_set(err, -EINVAL, name, purge->line, 0,
				    "purge: must be true or false, not a %s", value_type_name(purge));

	struct env_set set = {NULL, 0, 0, 0};
	if (!(purge && purge->kind == V_BOOL && purge->u.b) && base) {
		for (char *const *e = base; *e; e++) {
			const char *eq = strchr(*e, '=');
			if (!eq || eq == *e) /* not representable as NAME=VALUE: skip */
				continue;
			env_add(a, &set, *e, (size_t)(eq - *e), eq + 1, strlen(eq + 1));
		}
	}
	/* Like os.environ, the first of duplicate names in the base environment wins. */
	if (set.n > 1)
		qsort(set.v, set.n, sizeof(*set.v), var_cmp);
	size_t u = 0;
	for (size_t i = 0; i < set.n; i++)
		if (u == 0 || name_cmp(set.v[u - 1].name, set.v[u - 1].name_len, set.v[i].name,
				       set.v[i].name_len) != 0)
			set.v[u++] = set.v[i];
	set.n = u;

	if (removes && (rc = apply_removes(name, removes, &set, err)))
		return rc;
	if (overrides && (rc = apply_overrides(a, name, overrides, &set, err)))
		return rc;

	/* Overrides were appended with higher seq: the last of each name is the one that stays. */
	if (set.n > 1)
		qsort(set.v, set.n, sizeof(*set.v), var_cmp);
	for (size_t i = 0; i < set.n; i++) {
		const struct env_var *v = &set.v[i];
		if (i + 1 < set.n &&
		    name_cmp(v->name, v->name_len, set.v[i + 1].name, set.v[i + 1].name_len) == 0)
			continue;
		if (v->removed)
			continue;
		strbuf_add(out, v->name, v->name_len);
		strbuf_addc(out, '=');
		strbuf_add(out, v->value, v->value_len);
		strbuf_addc(out, '\0');
	}
	return 0;
}
