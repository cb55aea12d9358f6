/* Unit tests for core/yaml: PyYAML safe_load semantics, limits, errors, emit round trips.
 * The expected reprs are what python3-yaml's yaml.safe_load gives (tests/yaml/ compares the
 * two on whole documents). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "yaml.h"

static struct value *parse_lim(struct arena *a, const char *text, const struct yaml_limits *l,
			       struct lf_error *err)
{
	struct value *v = NULL;
	lf_error_clear(err);
	int rc = yaml_parse(a, "t.yaml", text, strlen(text), l, &v, err);
	if (rc) {
		assert_null(v);
		assert_true(rc < 0);
		assert_int_equal(err->code, rc);
		return NULL;
	}
	assert_non_null(v);
	return v;
}

/* repr(yaml.safe_load(text)) */
static void check(const char *text, const char *want)
{
	struct arena *a = arena_new();
	struct lf_error err;
	struct value *v = parse_lim(a, text, NULL, &err);
	if (!v)
		fail_msg("%s: %d:%d: %s", text, err.line, err.column, err.msg);
	struct strbuf sb = STRBUF_INIT;
	value_repr(&sb, v);
	if (strcmp(strbuf_str(&sb), want) != 0)
		fail_msg("%s\n  got  %s\n  want %s", text, strbuf_str(&sb), want);
	strbuf_release(&sb);
	arena_free(a);
}

/* Parsing fails at line:col with a message containing `msg`. */
static void check_error(const char *text, int line, int col, const char *msg)
{
	struct arena *a = arena_new();
	struct lf_error err;
	struct value *v = parse_lim(a, text, NULL, &err);
	if (v)
		fail_msg("%s: parsed but should fail with '%s'", text, msg);
	assert_string_equal(err.file, "t.yaml");
	if (err.line != line || err.column != col || !strstr(err.msg, msg))
		fail_msg("%s: got %d:%d: %s; want %d:%d: ...%s...", text, err.line, err.column,
			 err.msg, line, col, msg);
	arena_free(a);
}

static void test_bool_null(void **state)
{
	check("[yes, Yes, YES, no, No, NO, true, True, TRUE, false, False, FALSE]",
	      "[True, True, True, False, False, False, True, True, True, False, False, False]");
	check("[on, On, ON, off, Off, OFF]", "[True, True, True, False, False, False]");
	check("[yEs, y, n, 'yes', \"no\", tRUE]", "['yEs', 'y', 'n', 'yes', 'no', 'tRUE']");
	check("[~, null, Null, NULL, nULL, '', \"~\"]",
	      "[None, None, None, None, 'nULL', '', '~']");
	check("a:\nb: ", "{'a': None, 'b': None}");
}

static void test_ints(void **state)
{
	check("[0, 7, -7, +7, 1_000, -0, 1__2]", "[0, 7, -7, 7, 1000, 0, 12]");
	check("[017, -017, 00, 08, 019, 0o17]", "[15, -15, 0, '08', '019', '0o17']");
	check("[0x1F, -0x10, 0x_f, 0X1F, 0b1010, -0b11, 0b102]",
	      "[31, -16, 15, '0X1F', 10, -3, '0b102']");
	check("[1:20, 190:20:30, -1:20, 1:60, 1:5, 0:20]", "[80, 685230, -80, '1:60', 65, '0:20']");
	check("[9223372036854775807, -9223372036854775808]",
	      "[9223372036854775807, -9223372036854775808]");
	check("[!!int 0o17, !!int '42', !!int ' 7 ', !!int -0b11]", "[15, 42, 7, -3]");
	check_error("a: 9223372036854775808", 1, 4, "64 bits");
	check_error("a: -9223372036854775809", 1, 4, "64 bits");
	check_error("a: 0x10000000000000000", 1, 4, "64 bits");
	check_error("a: !!int abc", 1, 4, "invalid literal");
	check_error("a: 0b_", 1, 4, "invalid literal"); /* the regex takes it, int() does not */
}

static void test_floats(void **state)
{
	check("[1.5, 1., .5, +1.5, 1.0e+3, 1.0E-3, 1_000.5, -0.0]",
	      "[1.5, 1.0, 0.5, 1.5, 1000.0, 0.001, 1000.5, -0.0]");
	check("[-.5, 1.0e3, 1e3, 1e+3, .inf1]", "['-.5', '1.0e3', '1e3', '1e+3', '.inf1']");
	check("[.inf, -.Inf, +.INF, .nan, .NaN, -.nan, .iNf]",
	      "[inf, -inf, inf, nan, nan, '-.nan', '.iNf']");
	check("[1:20.5, -1:30.0, 190:20:30.15]", "[80.5, -90.0, 685230.15]");
	check("[!!float 1, !!float '1e3', !!float inf, !!float -1_0]", "[1.0, 1000.0, inf, -10.0]");
	check_error("- !!float 0x10", 1, 3, "float");
}

static void test_strings_and_quotes(void **state)
{
	check("[hello world, '123', \"1.5\", 'it''s', \"tab\\there\", 0o17, 1.2.3]",
	      "['hello world', '123', '1.5', \"it's\", 'tab\\there', '0o17', '1.2.3']");
	check("mac: 52:54:00:12:34:56", "{'mac': 41135085296}"); /* YAML 1.1 base 60 */
	check("mac: 52:54:00:ab:cd:ef", "{'mac': '52:54:00:ab:cd:ef'}");
	check("\"nul\\0byte\"", "'nul\\x00byte'");
	check("a: |\n  x\n  y\n\nb: >-\n  p\n  q\n", "{'a': 'x\\ny\\n', 'b': 'p q'}");
	check("a: |+\n  x\n\n", "{'a': 'x\\n\\n'}");
	check("[! 12, ! '12', ! yes]", "[12, 12, True]"); /* PyYAML resolves `!` scalars */
	check("café: 日本", "{'café': '日本'}");
	/* repr() escapes what str.isprintable() rejects: unassigned, private use, format */
	check("\"\\u09d9 \\ueded \\u202e \\u00ad \\U0010fffd \\u00e9\"",
	      "'\\u09d9 \\ueded \\u202e \\xad \\U0010fffd é'");
}

static void test_timestamps_binary(void **state)
{
	/* no date type: the text stays, after the checks datetime() would make */
	check("[2001-12-14, 2001-12-14t21:59:43.10-05:00, 2002-1-1]",
	      "['2001-12-14', '2001-12-14t21:59:43.10-05:00', '2002-1-1']");
	check("2000-02-29", "'2000-02-29'");
	check_error("a: 2001-02-29", 1, 4, "invalid date");
	check_error("a: 2001-12-14 21:59:60", 1, 4, "invalid time");
	check_error("a: 2001-12-14 21:59:43 +24", 1, 4, "time zone");
	check("!!binary aGVsbG8=", "'aGVsbG8='");
	check_error("- !!binary aGVsbG8", 1, 3, "base64");
}

static void test_tags(void **state)
{
	check("{a: !!seq [1], b: !!map {c: d}, c: !!str 1, d: !!null x, e: !!bool OFF}",
	      "{'a': [1], 'b': {'c': 'd'}, 'c': '1', 'd': None, 'e': False}");
	check("!!omap [a: 1, b: 2, a: 3]", "[('a', 1), ('b', 2), ('a', 3)]");
	check("!!pairs [x: [1]]", "[('x', [1])]");
	check("!!set {a, b, 1, a}", "{'a': None, 'b': None, 1: None}");
	check("%TAG !y! tag:yaml.org,2002:\n--- !y!int '5'", "5");
	check("!<tag:yaml.org,2002:str> 12", "'12'");
	check_error("a: !foo bar", 1, 4, "could not determine a constructor for the tag '!foo'");
	check_error("a: !!python/object:os.system ls", 1, 4, "tag:yaml.org,2002:python/object");
	check_error("a: !!seq abc", 1, 4, "expected a sequence node");
	check_error("a: !!str {b: c}", 1, 4, "expected a scalar node");
	check_error("!!omap [{a: 1, b: 2}]", 1, 9, "length 1");
	check_error("a: <<", 1, 4, "tag:yaml.org,2002:merge");
	check_error("a: =", 1, 4, "tag:yaml.org,2002:value");
	check("= : eq", "{'=': 'eq'}");
}

static void test_keys(void **state)
{
	check("{a: 1, b: 2, a: 3}", "{'a': 3, 'b': 2}");
	check("{1: a, true: b, 1.0: c, 0: d, false: e}", "{1: 'c', 0: 'e'}");
	check("{.nan: a, .nan: b}", "{nan: 'b'}"); /* PyYAML returns one nan object */
	check("{\"1\": s, 1: i}", "{'1': 's', 1: 'i'}");
	check_error("? [a]\n: v", 1, 3, "unhashable");
	check_error("? {a: b}\n: v", 1, 3, "unhashable");
	/* many keys take the hashed path; duplicates still collapse in place */
	struct strbuf sb = STRBUF_INIT, want = STRBUF_INIT;
	strbuf_adds(&want, "{");
	for (int i = 0; i < 100; i++) {
		strbuf_addf(&sb, "k%d: %d\n", i, i);
		strbuf_addf(&want, "%s'k%d': %d", i ? ", " : "", i, i == 7 ? -1 : i);
	}
	strbuf_adds(&sb, "k7: -1\n");
	strbuf_adds(&want, "}");
	check(strbuf_str(&sb), strbuf_str(&want));
	strbuf_release(&sb);
	strbuf_release(&want);
}

static void test_anchors_merge(void **state)
{
	check("a: &x 42\nb: *x\nc: [*x]", "{'a': 42, 'b': 42, 'c': [42]}");
	check("base: &b {a: 1, b: 2}\nc:\n  <<: *b\n  b: 3\n",
	      "{'base': {'a': 1, 'b': 2}, 'c': {'a': 1, 'b': 3}}");
	check("o: &o {a: 1, b: 1}\nt: &t {b: 2, c: 2}\nm:\n  <<: [*o, *t]\n  d: 4\n",
	      "{'o': {'a': 1, 'b': 1}, 't': {'b': 2, 'c': 2}, 'm': {'b': 1, 'c': 2, 'a': 1, 'd': "
	      "4}}");
	check("x: &x {a: 1}\ny: &y {a: 2, b: 2}\nz:\n  <<: *x\n  <<: *y\n",
	      "{'x': {'a': 1}, 'y': {'a': 2, 'b': 2}, 'z': {'a': 2, 'b': 2}}");
	check("'<<': not a merge", "{'<<': 'not a merge'}");
	check_error("a:\n  <<: 5\n", 2, 7, "expected a mapping or list of mappings");
	check_error("a:\n  <<: [{x: 1}, 2]\n", 2, 16, "expected a mapping for merging");
	check_error("a: *nope", 1, 4, "undefined alias 'nope'");
	check_error("a: &x 1\nb: &x 2", 2, 4, "duplicate anchor 'x'");
	check_error("a: &x [1, *x]", 1, 11, "recursive alias");

	/* aliases share structure */
	struct arena *a = arena_new();
	struct lf_error err;
	struct value *v = parse_lim(a, "a: &l [1, 2]\nb: *l\n", NULL, &err);
	assert_non_null(v);
	assert_ptr_equal(value_map_gets(v, "a"), value_map_gets(v, "b"));
	arena_free(a);
}

static void test_limits(void **state)
{
	struct arena *a = arena_new();
	struct lf_error err;
	/* billion laughs: nine levels of ten aliases */
	const char *lol = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
			  "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			  "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			  "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			  "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			  "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
			  "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
			  "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
			  "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	assert_null(parse_lim(a, lol, NULL, &err));
	assert_int_equal(err.code, -E2BIG);
	assert_non_null(strstr(err.msg, "more than 1000000 nodes"));
	assert_int_equal(err.line, 6); /* f: the first alias that goes over */

	struct yaml_limits small = {.max_depth = 3, .max_nodes = 10};
	assert_non_null(parse_lim(a, "[[[1]]]", &small, &err));
	assert_null(parse_lim(a, "[[[[1]]]]", &small, &err));
	assert_int_equal(err.code, -E2BIG);
	assert_non_null(strstr(err.msg, "deeper than 3"));
	/* depth through an alias counts too */
	assert_null(parse_lim(a, "a: &x [[1]]\nb: [[*x]]", &small, &err));
	assert_null(parse_lim(a, "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", &small, &err));
	assert_non_null(strstr(err.msg, "more than 10 nodes"));

	/* the default depth limit stops a deep document cleanly */
	struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < 100000; i++)
		strbuf_addc(&sb, '[');
	assert_null(parse_lim(a, strbuf_str(&sb), NULL, &err));
	assert_non_null(strstr(err.msg, "deeper than 256"));
	strbuf_release(&sb);
	arena_free(a);
}

static void test_errors(void **state)
{
	check_error("a: b: c", 1, 5, "mapping values are not allowed in this context");
	check_error("a:\n  b: 1\n c: 2\n", 3, 2, "did not find expected key");
	check_error("a: \"never", 1, 10, "found unexpected end of stream");
	check_error("a: 1\n---\nb: 2\n", 2, 1, "expected a single document");
	check_error("a: 1\nb: \x01\n", 2, 4, "control characters are not allowed");
	check_error("a: \xff\n", 1, 4, "invalid leading UTF-8 octet");
	check_error("a:\tb", 1, 3, "found character '\\t'");
	check_error("a: x\ty", 1, 5, "found character '\\t'");
	check_error("[a?b]", 1, 2, "'?'");
	check("a: \"x\ty\" # c\tc", "{'a': 'x\\ty'}");

	struct arena *a = arena_new();
	struct lf_error err;
	struct value *v = NULL;
	/* NUL bytes are rejected like any control character */
	assert_int_equal(yaml_parse(a, "n", "a: x\0y", 6, NULL, &v, &err), -EINVAL);
	assert_int_equal(err.line, 1);
	assert_int_equal(err.column, 5);
	/* empty and comment-only input is None */
	assert_int_equal(yaml_parse(a, "e", "", 0, NULL, &v, &err), 0);
	assert_int_equal(v->kind, V_NONE);
	assert_int_equal(yaml_parse(a, "e", "# hi\n  # there\n", 15, NULL, &v, &err), 0);
	assert_int_equal(v->kind, V_NONE);
	arena_free(a);
}

static void test_lines(void **state)
{
	struct arena *a = arena_new();
	struct lf_error err;
	const char *text =
	    "# ctx\narch: amd64\nopts:\n  - -smp 2\n  - x: 1\n\nmem: &m 1024\nm2: *m\n";
	struct value *v = parse_lim(a, text, NULL, &err);
	assert_non_null(v);
	assert_int_equal(v->line, 2);
	assert_int_equal(v->u.map.keys[0]->line, 2);
	assert_int_equal(value_map_gets(v, "arch")->line, 2);
	struct value *opts = value_map_gets(v, "opts");
	assert_int_equal(opts->line, 4);
	assert_int_equal(opts->u.list.items[0]->line, 4);
	assert_int_equal(opts->u.list.items[1]->line, 5);
	assert_int_equal(value_map_gets(v, "mem")->line, 7);
	assert_int_equal(value_map_gets(v, "m2")->line, 7); /* shared with its anchor */
	arena_free(a);
}

/* yaml_parse(yaml_emit(v)) == v, and the text is what we expect for simple cases */
static void round_trip(const char *text, const char *want_yaml)
{
	struct arena *a = arena_new();
	struct lf_error err;
	struct value *v = parse_lim(a, text, NULL, &err), *w;
	assert_non_null(v);
	struct strbuf out = STRBUF_INIT, r1 = STRBUF_INIT, r2 = STRBUF_INIT;
	yaml_emit(&out, v);
	if (want_yaml && strcmp(strbuf_str(&out), want_yaml) != 0)
		fail_msg("emit %s\n got:\n%s\nwant:\n%s", text, strbuf_str(&out), want_yaml);
	w = parse_lim(a, strbuf_str(&out), NULL, &err);
	if (!w)
		fail_msg("emitted text does not parse: %s\n%s", err.msg, strbuf_str(&out));
	value_repr(&r1, v);
	value_repr(&r2, w);
	assert_string_equal(strbuf_str(&r1), strbuf_str(&r2));
	strbuf_release(&out);
	strbuf_release(&r1);
	strbuf_release(&r2);
	arena_free(a);
}

static void test_emit(void **state)
{
	round_trip("a: 1\nb: [x, 'y z']\nc: {}\nd: []\ne: ~\nf: true\ng: 1.5\n",
		   "a: 1\nb:\n- x\n- y z\nc: {}\nd: []\ne: null\nf: true\ng: 1.5\n");
	round_trip(
	    "['1', 'yes', '~', '', '0x1F', '1:20', '2001-12-14', '=', '<<', '1.5', '.nan']",
	    "- '1'\n- 'yes'\n- '~'\n- ''\n- '0x1F'\n- '1:20'\n- '2001-12-14'\n- '='\n- '<<'\n"
	    "- '1.5'\n- '.nan'\n");
	round_trip("[1.0e+16, 1.5e-05, .inf, -.inf, .nan, -0.0]",
		   "- 1.0e+16\n- 1.5e-05\n- .inf\n- -.inf\n- .nan\n- -0.0\n");
	round_trip("{1: a, ~: b, 2.5: c, false: d}", "1: a\nnull: b\n2.5: c\nfalse: d\n");
	round_trip("script: \"set -e\\necho hi\\n\"", "script: |\n  set -e\n  echo hi\n");
	round_trip("[\"tab\\tx\", \"nul\\0\", \" lead\", \"trail \", \"a: b\", \"- x\", \"#c\"]",
		   NULL);
	round_trip("[\"\\n\\nx\\n\\n\", \"x\\r\\ny\", \"\\u2028\", \"é\"]", NULL);
	round_trip("{a: {b: {c: [[1, [2]], {}]}}}", NULL);
	round_trip("42", NULL);
	round_trip("", NULL);

	/* values that did not come from YAML: tuples become lists, bad UTF-8 is replaced */
	struct arena *a = arena_new();
	struct value *m = value_map(a), *t = value_tuple(a);
	value_list_append(a, t, value_int(a, 1));
	value_map_sets(a, m, "t", t);
	value_map_sets(a, m, "bad", value_str(a, "a\xff", 2));
	value_map_sets(a, m, "u", value_undefined(a, "x"));
	struct strbuf out = STRBUF_INIT;
	yaml_emit(&out, m);
	assert_string_equal(strbuf_str(&out), "t:\n- 1\nbad: a\xef\xbf\xbd\nu: null\n");
	strbuf_release(&out);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bool_null),
	    cmocka_unit_test(test_ints),
	    cmocka_unit_test(test_floats),
	    cmocka_unit_test(test_strings_and_quotes),
	    cmocka_unit_test(test_timestamps_binary),
	    cmocka_unit_test(test_tags),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_anchors_merge),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_emit),
	};
	return cmocka_run_group_tests_name("yaml", tests, NULL, NULL);
}
