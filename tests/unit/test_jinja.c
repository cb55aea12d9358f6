/* Unit tests for core/jinja: lexer, parser, evaluator, scoping, errors with positions,
 * limits, the loader's confinement, the template cache, render_info and threads. The
 * differential suite (tests/t-jinja-diff.sh) checks output against python3-jinja2; these
 * check what it cannot see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jinja.h"
#include "jinja_internal.h"

static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_jinja.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Render `src` with `ctx`; returns the rc and leaves output/error in out/err. */
static int render_src(struct jinja_env *env, const char *src, struct value *ctx,
		      struct strbuf *out, struct arena *a, struct jinja_render_info *info,
		      struct lf_error *err)
{
	strbuf_reset(out);
	return jinja_render(env, "t.jinja2", src, strlen(src), ctx, out, a, info, err);
}

static void check(const char *src, struct value *ctx, const char *want)
{
	const char *dirs[] = {tmpdir};
	struct jinja_env *env = jinja_env_new(dirs, 1, NULL);
	struct arena *a = arena_new();
	struct strbuf out = STRBUF_INIT;
	struct lf_error err;
	int rc = render_src(env, src, ctx, &out, a, NULL, &err);
	if (rc)
		fail_msg("render of %s failed: %s", src, err.msg);
	assert_string_equal(strbuf_str(&out), want);
	strbuf_release(&out);
	arena_free(a);
	jinja_env_free(env);
}

static struct lf_error check_fails(const char *src, struct value *ctx)
{
	const char *dirs[] = {tmpdir};
	struct jinja_limits lim = {.max_depth = 20, .max_iterations = 1000, .max_output = 4096,
				   .max_template = 100000, .max_memory = 4u << 20};
	struct jinja_env *env = jinja_env_new(dirs, 1, &lim);
	struct arena *a = arena_new();
	struct strbuf out = STRBUF_INIT;
	struct lf_error err;
	int rc = render_src(env, src, ctx, &out, a, NULL, &err);
	if (rc == 0)
		fail_msg("render of %s should fail, printed %s", src, strbuf_str(&out));
	assert_true(rc < 0);
	assert_int_equal(err.code, rc);
	strbuf_release(&out);
	arena_free(a);
	jinja_env_free(env);
	return err;
}

static void test_lexer(void **state)
{
	struct arena *a = arena_new();
	struct jtoks toks;
	struct lf_error err;
	const char *src = "a {{- x|f(1.5, 'q\\n') -}}  b\n{% if y %}\nc{# no #}\n";
	assert_int_equal(jinja_lex(a, "t", src, strlen(src), &toks, &err), 0);
	enum jtok_kind want[] = {T_DATA, T_VAR_BEGIN, T_NAME, T_OP, T_NAME, T_OP, T_FLOAT, T_OP,
				 T_STRING, T_OP, T_VAR_END, T_DATA, T_BLOCK_BEGIN, T_NAME, T_NAME,
				 T_BLOCK_END, T_DATA, T_EOF};
	assert_int_equal(toks.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < toks.n; i++)
		assert_int_equal(toks.v[i].kind, want[i]);
	/* `{{-` strips the space before it, `-}}` the spaces after it */
	assert_int_equal(toks.v[0].len, 1);
	assert_memory_equal(toks.v[11].s, "b\n", 2);
	assert_string_equal(toks.v[8].s, "q\n");
	assert_true(toks.v[6].f == 1.5);
	/* trim_blocks: the newline after %} is gone; the comment eats its own newline */
	assert_memory_equal(toks.v[16].s, "c", 1);
	assert_int_equal(toks.v[16].len, 1);
	assert_int_equal(toks.v[12].line, 2);
	assert_int_equal(toks.v[12].col, 1);
	assert_int_equal(toks.v[13].col, 4);

	const char *nums = "{{ 1_000 0x1f 0o17 0b11 2.5e3 }}";
	assert_int_equal(jinja_lex(a, "t", nums, strlen(nums), &toks, &err), 0);
	assert_int_equal(toks.v[1].i, 1000);
	assert_int_equal(toks.v[2].i, 31);
	assert_int_equal(toks.v[3].i, 15);
	assert_int_equal(toks.v[4].i, 3);
	assert_true(toks.v[5].f == 2500.0);

	const char *bad = "ok\n  {{ 1 ! 2 }}";
	assert_int_not_equal(jinja_lex(a, "t", bad, strlen(bad), &toks, &err), 0);
	assert_int_equal(err.line, 2);
	assert_int_equal(err.column, 8);
	arena_free(a);
}

static void test_parser_errors(void **state)
{
	struct {
		const char *src;
		int line, col;
		const char *msg;
	} cases[] = {
		{"a\n{% frob %}", 2, 4, "unknown tag 'frob'"},
		{"{% for x in y %}\n{% endif %}", 2, 4, "unknown tag 'endif'"},
		{"{% if x %}\n\nnever closed", 3, 13, "looking for the following tags"},
		{"{{ x|nofilter }}", 1, 6, "No filter named 'nofilter'"},
		{"{{ x is notatest }}", 1, 9, "No test named 'notatest'"},
		{"{% block a %}{% endblock b %}", 1, 26, "not the name of the block"},
		{"{{ (1 + }}", 1, 9, "unexpected"},
		{"{% set 1 = 2 %}", 1, 8, "can't assign"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct arena *a = arena_new();
		struct jtemplate *t;
		struct lf_error err;
		lf_error_clear(&err);
		int rc = jinja_parse(a, "p.jinja2", cases[i].src, strlen(cases[i].src), &t, &err);
		if (rc == 0)
			fail_msg("parse of %s should fail", cases[i].src);
		assert_string_equal(err.file, "p.jinja2");
		if (err.line != cases[i].line || err.column != cases[i].col ||
		    !strstr(err.msg, cases[i].msg))
			fail_msg("%s: got %d:%d %s", cases[i].src, err.line, err.column, err.msg);
		arena_free(a);
	}
	/* filters unknown inside an if are an error only when they run, as in jinja2 */
	struct arena *a = arena_new();
	struct jtemplate *t;
	struct lf_error err;
	const char *soft = "{% if x %}{{ y|nofilter }}{% endif %}";
	assert_int_equal(jinja_parse(a, "p", soft, strlen(soft), &t, &err), 0);
	arena_free(a);
}

static void test_expressions(void **state)
{
	struct arena *a = arena_new();
	struct value *ctx = value_map(a);
	value_map_sets(a, ctx, "n", value_int(a, 7));
	value_map_sets(a, ctx, "s", value_cstr(a, "héllo"));
	struct value *l = value_list(a);
	value_list_append(a, l, value_int(a, 3));
	value_list_append(a, l, value_int(a, 1));
	value_list_append(a, l, value_int(a, 2));
	value_map_sets(a, ctx, "l", l);
	check("{{ n / 2 }} {{ n // 2 }} {{ -n % 3 }} {{ 2 ** 10 }} {{ 4 / 2 }}", ctx, "3.5 3 2 1024 2.0");
	check("{{ s|length }} {{ s[1] }} {{ s|upper }} {{ s[::-1] }}", ctx, "5 é HÉLLO olléh");
	check("{{ l|sort }} {{ l|max }} {{ l[-1] }} {{ l[1:] }} {{ 1 in l }}", ctx, "[1, 2, 3] 3 2 [1, 2] True");
	check("{{ 1 < n < 10 }} {{ n and 'y' }} {{ 0 or none }} {{ 'a' if n > 9 }}|", ctx, "True y None |");
	check("{{ '%s=%05.1f' % ('x', 2.25) }} {{ '{:>4}|{}'.format(n, s) }}", ctx, "x=002.2    7|héllo");
	check("{{ [1, 'a', none, true, 1.0] }} {{ {'k': (1,)} }}", ctx, "[1, 'a', None, True, 1.0] {'k': (1,)}");
	check("{{ 'qemu'|yaml_quote }} {{ \"a'b\"|shlex_quote }} {{ 'arm64'|qemu_guest_fs_interface(none) }}",
	      ctx, "\"qemu\" 'a'\"'\"'b' virtio");
	arena_free(a);
}

static void test_scoping(void **state)
{
	struct arena *a = arena_new();
	struct value *ctx = value_map(a);
	value_map_sets(a, ctx, "memory", value_int(a, 8192));
	/* a top-level set beats the render variable; loop bodies keep their sets */
	check("{{ memory }} {% set memory = 1024 %}{{ memory }}", ctx, "8192 1024");
	check("{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}", ctx, "1");
	check("{% set ns = namespace(x=1) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}",
	      ctx, "4");
	check("{% if true %}{% set y = 2 %}{% endif %}{{ y }}", ctx, "2");
	check("{% macro m() %}{% set z = 1 %}{{ memory }}{% endmacro %}{{ m() }}[{{ z }}]", ctx, "8192[]");
	/* a child's top-level set wins in the parent's blocks and top level */
	write_file("scope_base.jinja2",
		   "{% set memory = memory|default(512) %}top={{ memory }} {% block b %}blk={{ memory }}{% endblock %}");
	check("{% extends 'scope_base.jinja2' %}{% set memory = 1024 %}", ctx, "top=1024 blk=1024");
	check("{% extends 'scope_base.jinja2' %}", ctx, "top=8192 blk=8192");
	check("{% extends 'scope_base.jinja2' %}", NULL, "top=512 blk=512");
	/* includes see the includer's loop variables */
	write_file("scope_inc.jinja2", "<{{ i }}>");
	check("{% for i in [1, 2] %}{% include 'scope_inc.jinja2' %}{% endfor %}", ctx, "<1><2>");
	arena_free(a);
}

static void test_runtime_errors(void **state)
{
	struct lf_error e = check_fails("line1\n  {{ missing.attr }}", NULL);
	assert_string_equal(e.file, "t.jinja2");
	assert_int_equal(e.line, 2);
	assert_true(strstr(e.msg, "'missing' is undefined") != NULL);
	e = check_fails("{{ 1 + 'a' }}", NULL);
	assert_int_equal(e.line, 1);
	assert_int_equal(e.column, 4);
	assert_true(strstr(e.msg, "unsupported operand") != NULL);
	e = check_fails("\n\n{% include 'absent.jinja2' %}", NULL);
	assert_int_equal(e.line, 3);
	assert_true(strstr(e.msg, "not found") != NULL);
	e = check_fails("{{ range(100001)|length }}", NULL);
	assert_true(strstr(e.msg, "MAX_RANGE") != NULL);
	/* an error in an extended template names that template */
	write_file("err_base.jinja2", "ok\n{{ 1 // 0 }}");
	e = check_fails("{% extends 'err_base.jinja2' %}", NULL);
	assert_string_equal(e.file, "err_base.jinja2");
	assert_int_equal(e.line, 2);
	/* render(**context): python refuses keys that are not strings, and a key named self */
	struct arena *a = arena_new();
	struct value *ctx = value_map(a);
	value_map_sets(a, ctx, "ok", value_int(a, 1));
	value_map_set(a, ctx, value_bool(a, true), value_cstr(a, "yes"));
	e = check_fails("never", ctx);
	assert_true(strstr(e.msg, "True") != NULL);
	assert_true(strstr(e.msg, "keywords must be strings") != NULL);
	ctx = value_map(a);
	value_map_sets(a, ctx, "self", value_cstr(a, "me"));
	e = check_fails("never", ctx);
	assert_true(strstr(e.msg, "'self'") != NULL);
	arena_free(a);
}

static void test_limits(void **state)
{
	struct lf_error e = check_fails("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", NULL);
	assert_true(strstr(e.msg, "max_depth") != NULL);
	e = check_fails("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", NULL);
	assert_true(strstr(e.msg, "max_iterations") != NULL);
	e = check_fails("{% for i in range(500) %}0123456789{% endfor %}", NULL);
	assert_true(strstr(e.msg, "max_output") != NULL);
	/* quadratic string building stops at max_memory, long before max_iterations */
	e = check_fails("{% set ns = namespace(x='') %}{% for i in range(990) %}"
			"{% set ns.x = ns.x ~ '01234567890123456789' %}{% endfor %}", NULL);
	assert_true(strstr(e.msg, "max_memory") != NULL);
	write_file("cycle_a.jinja2", "{% extends 'cycle_b.jinja2' %}");
	write_file("cycle_b.jinja2", "{% extends 'cycle_a.jinja2' %}");
	e = check_fails("{% extends 'cycle_a.jinja2' %}", NULL);
	assert_true(strstr(e.msg, "max_depth") != NULL);
	write_file("self_inc.jinja2", "x{% include 'self_inc.jinja2' %}");
	e = check_fails("{% include 'self_inc.jinja2' %}", NULL);
	assert_true(strstr(e.msg, "max_depth") != NULL);
	/* absurd nesting is refused by the parser instead of exhausting the stack */
	struct strbuf deep = STRBUF_INIT;
	strbuf_adds(&deep, "{{ 1");
	for (int i = 0; i < 10000; i++)
		strbuf_adds(&deep, "|abs");
	strbuf_adds(&deep, " }}{{ ");
	for (int i = 0; i < 10000; i++)
		strbuf_adds(&deep, "-");
	strbuf_adds(&deep, "1 }}");
	e = check_fails(strbuf_str(&deep), NULL);
	assert_true(strstr(e.msg, "nested too deeply") != NULL);
	strbuf_release(&deep);
	/* a template larger than max_template is refused before it is parsed */
	char *big = malloc(200001);
	memset(big, 'x', 200000);
	big[200000] = '\0';
	write_file("big.jinja2", big);
	free(big);
	e = check_fails("{% include 'big.jinja2' %}", NULL);
	assert_true(strstr(e.msg, "max_template") != NULL);
}

static void test_loader_confinement(void **state)
{
	const char *names[] = {"../etc/passwd", "a/../../b", "/etc/passwd", "a\\b", ".."};
	const char *dirs[] = {tmpdir};
	struct jinja_env *env = jinja_env_new(dirs, 1, NULL);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct arena *a = arena_new();
		struct strbuf out = STRBUF_INIT;
		struct lf_error err;
		int rc = jinja_render(env, names[i], NULL, 0, NULL, &out, a, NULL, &err);
		assert_true(rc < 0);
		assert_true(strstr(err.msg, "..") || strstr(err.msg, "absolute") ||
			    strstr(err.msg, "backslash"));
		/* the same through {% include %} */
		char src[128];
		snprintf(src, sizeof(src), "{%% include '%s' %%}", names[i]);
		rc = render_src(env, src, NULL, &out, a, NULL, &err);
		assert_true(rc < 0);
		strbuf_release(&out);
		arena_free(a);
	}
	jinja_env_free(env);
}

static void test_cache(void **state)
{
	const char *dirs[] = {tmpdir};
	struct jinja_env *env = jinja_env_new(dirs, 1, NULL);
	struct arena *a = arena_new();
	struct strbuf out = STRBUF_INIT;
	struct lf_error err;
	write_file("cached.jinja2", "one");
	assert_int_equal(jinja_render(env, "cached.jinja2", NULL, 0, NULL, &out, a, NULL, &err), 0);
	assert_string_equal(strbuf_str(&out), "one");
	/* an edit (different size) is seen on the next render */
	write_file("cached.jinja2", "second");
	strbuf_reset(&out);
	assert_int_equal(jinja_render(env, "cached.jinja2", NULL, 0, NULL, &out, a, NULL, &err), 0);
	assert_string_equal(strbuf_str(&out), "second");
	/* same size, new inode (a rename over it, as editors do) */
	char p1[512], p2[512];
	snprintf(p1, sizeof(p1), "%s/cached.new", tmpdir);
	snprintf(p2, sizeof(p2), "%s/cached.jinja2", tmpdir);
	FILE *f = fopen(p1, "w");
	fputs("thirdd", f);
	fclose(f);
	assert_int_equal(rename(p1, p2), 0);
	strbuf_reset(&out);
	assert_int_equal(jinja_render(env, "cached.jinja2", NULL, 0, NULL, &out, a, NULL, &err), 0);
	assert_string_equal(strbuf_str(&out), "thirdd");
	jinja_env_invalidate(env);
	strbuf_reset(&out);
	assert_int_equal(jinja_render(env, "cached.jinja2", NULL, 0, NULL, &out, a, NULL, &err), 0);
	assert_string_equal(strbuf_str(&out), "thirdd");
	unlink(p2);
	strbuf_reset(&out);
	assert_int_equal(jinja_render(env, "cached.jinja2", NULL, 0, NULL, &out, a, NULL, &err), -ENOENT);
	strbuf_release(&out);
	arena_free(a);
	jinja_env_free(env);
}

static bool has_var(const struct jinja_origin *o, const char *name)
{
	for (size_t i = 0; i < o->nvars; i++)
		if (!strcmp(o->vars[i], name))
			return true;
	return false;
}

static void test_render_info(void **state)
{
	write_file("info_type.jinja2",
		   "{% set memory = memory|default(512) %}\n"
		   "cmd:\n"
		   "- -m {{ memory }}\n"
		   "{% if cpu %}\n"
		   "- -cpu {{ cpu }}\n"
		   "{% endif %}\n"
		   "- -nographic\n"
		   "{% block extra %}{% endblock %}");
	write_file("info_dict.jinja2",
		   "{% extends 'info_type.jinja2' %}\n"
		   "{% set memory = 1024 %}\n"
		   "{% block extra %}- {{ extra }}{% endblock %}\n");
	const char *dirs[] = {tmpdir};
	struct jinja_env *env = jinja_env_new(dirs, 1, NULL);
	struct arena *a = arena_new();
	struct value *ctx = value_map(a);
	value_map_sets(a, ctx, "cpu", value_cstr(a, "host"));
	value_map_sets(a, ctx, "memory", value_int(a, 8192));
	value_map_sets(a, ctx, "extra", value_cstr(a, "-snapshot"));
	struct strbuf out = STRBUF_INIT;
	struct lf_error err;
	struct jinja_render_info info;
	assert_int_equal(jinja_render(env, "info_dict.jinja2", NULL, 0, ctx, &out, a, &info, &err), 0);
	assert_string_equal(strbuf_str(&out),
			    "cmd:\n- -m 1024\n- -cpu host\n- -nographic\n- -snapshot");
	assert_int_equal(info.nlines, 5);
	assert_string_equal(info.lines[0].template, "info_type.jinja2");
	assert_int_equal(info.lines[0].line, 2);
	assert_int_equal(info.lines[1].line, 3);
	assert_true(has_var(&info.lines[1], "memory"));
	assert_int_equal(info.lines[2].line, 5);
	assert_true(has_var(&info.lines[2], "cpu")); /* read by the line and its if */
	assert_int_equal(info.lines[3].line, 7);
	assert_int_equal(info.lines[3].nvars, 0);
	assert_string_equal(info.lines[4].template, "info_dict.jinja2");
	assert_int_equal(info.lines[4].line, 3);
	assert_true(has_var(&info.lines[4], "extra"));
	/* toplevel: what the root (the dictionary) set, with the final value */
	assert_non_null(info.toplevel);
	struct value *mem = value_map_gets(info.toplevel, "memory");
	assert_non_null(mem);
	assert_int_equal(mem->kind, V_INT);
	assert_int_equal(mem->u.i, 1024);
	assert_int_equal(info.toplevel->u.map.len, 1);
	assert_int_equal(info.nloaded, 2);
	assert_string_equal(info.loaded[0], "info_dict.jinja2");
	assert_string_equal(info.loaded[1], "info_type.jinja2");
	/* the info survives the templates leaving the cache */
	jinja_env_invalidate(env);
	assert_string_equal(info.lines[0].template, "info_type.jinja2");
	strbuf_release(&out);
	arena_free(a);
	jinja_env_free(env);
}

struct thread_arg {
	struct jinja_env *env;
	int failures;
};

static void *render_thread(void *p)
{
	struct thread_arg *ta = p;
	for (int i = 0; i < 200; i++) {
		struct arena *a = arena_new();
		struct value *ctx = value_map(a);
		value_map_sets(a, ctx, "n", value_int(a, i));
		struct strbuf out = STRBUF_INIT;
		struct lf_error err;
		char want[64];
		snprintf(want, sizeof(want), "child %d base", i);
		if (jinja_render(ta->env, "thr_child.jinja2", NULL, 0, ctx, &out, a, NULL, &err) ||
		    strcmp(strbuf_str(&out), want))
			ta->failures++;
		if (i % 50 == 0)
			jinja_env_invalidate(ta->env);
		strbuf_release(&out);
		arena_free(a);
	}
	return NULL;
}

static void test_threads(void **state)
{
	write_file("thr_base.jinja2", "{% block b %}{% endblock %} base");
	write_file("thr_child.jinja2", "{% extends 'thr_base.jinja2' %}{% block b %}child {{ n }}{% endblock %}");
	const char *dirs[] = {tmpdir};
	struct jinja_env *env = jinja_env_new(dirs, 1, NULL);
	pthread_t th[4];
	struct thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i].env = env;
		args[i].failures = 0;
		pthread_create(&th[i], NULL, render_thread, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	jinja_env_free(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lexer),
		cmocka_unit_test(test_parser_errors),
		cmocka_unit_test(test_expressions),
		cmocka_unit_test(test_scoping),
		cmocka_unit_test(test_runtime_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_loader_confinement),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_render_info),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests_name("jinja", tests, setup, teardown);
}
