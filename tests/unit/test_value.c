/* Unit tests for core/value: Python's str()/repr()/== semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "value.h"

static void check_float(double f, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	value_float_repr(&sb, f);
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_release(&sb);
}

static void test_float_repr(void **state)
{
	check_float(1.0, "1.0");
	check_float(0.1, "0.1");
	check_float(-2.5, "-2.5");
	check_float(1e16, "1e+16");
	check_float(1e15, "1000000000000000.0");
	check_float(1.5e-5, "1.5e-05");
	check_float(0.0001, "0.0001");
	check_float(123456789.125, "123456789.125");
	check_float(1.0 / 3, "0.3333333333333333");
	check_float(INFINITY, "inf");
	check_float(-INFINITY, "-inf");
	check_float(NAN, "nan");
	check_float(2.5e100, "2.5e+100");
	check_float(-0.0, "-0.0");
}

static void check_repr(struct value *v, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	value_repr(&sb, v);
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_release(&sb);
}

static void test_repr(void **state)
{
	struct arena *a = arena_new();
	struct value *l = value_list(a);
	value_list_append(a, l, value_cstr(a, "-smp"));
	value_list_append(a, l, value_int(a, 1));
	value_list_append(a, l, value_bool(a, true));
	value_list_append(a, l, value_none(a));
	value_list_append(a, l, value_float(a, 2.0));
	check_repr(l, "['-smp', 1, True, None, 2.0]");
	check_repr(value_cstr(a, "it's"), "\"it's\"");
	check_repr(value_cstr(a, "a\"b'c"), "'a\"b\\'c'");
	check_repr(value_cstr(a, "tab\there\n"), "'tab\\there\\n'");
	check_repr(value_cstr(a, "caf\xc3\xa9"), "'caf\xc3\xa9'");
	check_repr(value_cstr(a, "\x01"), "'\\x01'");
	struct value *t = value_tuple(a);
	value_list_append(a, t, value_int(a, 1));
	check_repr(t, "(1,)");
	struct value *m = value_map(a);
	value_map_sets(a, m, "a", value_cstr(a, "b"));
	value_map_sets(a, m, "n", value_int(a, 2));
	check_repr(m, "{'a': 'b', 'n': 2}");
	value_map_sets(a, m, "a", value_cstr(a, "c"));
	check_repr(m, "{'a': 'c', 'n': 2}");
	arena_free(a);
}

static void test_equal_truth(void **state)
{
	struct arena *a = arena_new();
	assert_true(value_equal(value_int(a, 1), value_float(a, 1.0)));
	assert_true(value_equal(value_int(a, 1), value_bool(a, true)));
	assert_false(value_equal(value_int(a, 1), value_cstr(a, "1")));
	assert_false(value_truthy(value_cstr(a, "")));
	assert_true(value_truthy(value_cstr(a, "0")));
	assert_false(value_truthy(value_list(a)));
	assert_false(value_truthy(value_undefined(a, "x")));
	struct value *m = value_map(a);
	value_map_set(a, m, value_int(a, 1), value_cstr(a, "one"));
	assert_non_null(value_map_get(m, value_bool(a, true)));
	assert_true(value_map_remove(m, value_float(a, 1.0)));
	assert_int_equal(m->u.map.len, 0);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_float_repr),
		cmocka_unit_test(test_repr),
		cmocka_unit_test(test_equal_truth),
	};
	return cmocka_run_group_tests_name("value", tests, NULL, NULL);
}
