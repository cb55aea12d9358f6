/* Unit tests for core/env: env.yaml applied to a base environment as LAVA's worker does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "env.h"

/* Composes and compares with `want`, the expected items joined by '|' ("" for none). */
static void check_env(const char *yaml, char *const *base, const char *want)
{
	struct arena *a = arena_new();
	struct strbuf out = STRBUF_INIT;
	struct lf_error err;
	lf_error_clear(&err);
	int rc = env_compose(a, "env.yaml", yaml, strlen(yaml), base, &out, &err);
	if (rc != 0)
		fail_msg("env_compose(%s) failed: %s", yaml, err.msg);
	struct strbuf got = STRBUF_INIT;
	for (size_t i = 0; i < out.len; i++)
		strbuf_addc(&got, out.buf[i] == '\0' ? '|' : out.buf[i]);
	if (got.len) {
		assert_int_equal(out.buf[out.len - 1], '\0'); /* every item ends with NUL */
		got.buf[--got.len] = '\0';
	}
	if (strcmp(strbuf_str(&got), want) != 0)
		fail_msg("env for <%s>:\n got  %s\n want %s", yaml, strbuf_str(&got), want);
	strbuf_release(&got);
	strbuf_release(&out);
	arena_free(a);
}

static void check_env_error(const char *yaml, const char *msg, int line)
{
	struct arena *a = arena_new();
	struct strbuf out = STRBUF_INIT;
	struct lf_error err;
	lf_error_clear(&err);
	char *base[] = {"HOME=/root", NULL};
	int rc = env_compose(a, "env.yaml", yaml, strlen(yaml), base, &out, &err);
	if (rc >= 0)
		fail_msg("env_compose(%s) succeeded, want error '%s'", yaml, msg);
	assert_int_equal(err.code, rc);
	if (!strstr(err.msg, msg))
		fail_msg("env_compose(%s): message '%s' lacks '%s'", yaml, err.msg, msg);
	assert_string_equal(err.file, "env.yaml");
	if (line)
		assert_int_equal(err.line, line);
	strbuf_release(&out);
	arena_free(a);
}

static char *base[] = {"PATH=/usr/bin:/bin", "HOME=/var/lib/lava", "LANG=C.UTF-8",
		       "http_proxy=http://proxy:3128", "A==x", NULL};
#define BASE_SORTED "A==x|HOME=/var/lib/lava|LANG=C.UTF-8|PATH=/usr/bin:/bin|http_proxy=http://proxy:3128"

static void test_empty(void **state)
{
	check_env("", base, BASE_SORTED);
	check_env("# nothing here\n", base, BASE_SORTED);
	check_env("---\n", base, BASE_SORTED);
	check_env("{}", base, BASE_SORTED);
	check_env("", NULL, "");
	char *empty[] = {NULL};
	check_env("", empty, "");
}

static void test_base_oddities(void **state)
{
	/* first of duplicate names wins (as os.environ); items without '=' or a name are dropped */
	char *b[] = {"X=1", "NOEQ", "=C:", "X=2", "Y=", "B=b", "_=u", "a=l", NULL};
	check_env("", b, "B=b|X=1|Y=|_=u|a=l");
}

static void test_overrides(void **state)
{
	check_env("overrides:\n  LANG: en_US.UTF-8\n  QEMU_AUDIO_DRV: none\n", base,
		  "A==x|HOME=/var/lib/lava|LANG=en_US.UTF-8|PATH=/usr/bin:/bin|QEMU_AUDIO_DRV=none|"
		  "http_proxy=http://proxy:3128");
	/* scalars print as Python's str() */
	char *none[] = {NULL};
	check_env("overrides:\n  B: true\n  C: no\n  D: 8\n  E: 1.50\n  F: 0x10\n  G: ''\n"
		  "  H: 'a b'\n  I: \"1\"\n  J: 1e3\n  K: 010\n  L: .inf\n  M: 1.0e+3\n  N: 1_000\n",
		  none, "B=True|C=False|D=8|E=1.5|F=16|G=|H=a b|I=1|J=1e3|K=8|L=inf|M=1000.0|N=1000");
	check_env("overrides: {}\n", base, BASE_SORTED);
	check_env("overrides:\n", base, BASE_SORTED);
	check_env("overrides:\n  X: a=b=c\n", none, "X=a=b=c");
	check_env("overrides:\n  X: \"line1\\nline2\"\n", none, "X=line1\nline2");
}

static void test_removes(void **state)
{
	check_env("removes:\n  - http_proxy\n  - NOT_THERE\n  - LANG\n", base,
		  "A==x|HOME=/var/lib/lava|PATH=/usr/bin:/bin");
	check_env("removes: []\n", base, BASE_SORTED);
	check_env("removes:\n", base, BASE_SORTED);
	/* LAVA deletes first, then updates: an override wins whatever the key order */
	check_env("overrides:\n  LANG: fr_FR\nremoves: [LANG]\n", base,
		  "A==x|HOME=/var/lib/lava|LANG=fr_FR|PATH=/usr/bin:/bin|http_proxy=http://proxy:3128");
	check_env("removes: [LANG]\noverrides:\n  LANG: fr_FR\n", base,
		  "A==x|HOME=/var/lib/lava|LANG=fr_FR|PATH=/usr/bin:/bin|http_proxy=http://proxy:3128");
	/* a name that is a prefix of another removes only itself */
	char *b[] = {"AB=1", "A=2", "ABC=3", NULL};
	check_env("removes: [AB]", b, "A=2|ABC=3");
}

static void test_purge(void **state)
{
	check_env("purge: true\n", base, "");
	check_env("purge: false\n", base, BASE_SORTED);
	check_env("purge:\n", base, BASE_SORTED);
	check_env("purge: yes\noverrides:\n  PATH: /usr/local/bin:/usr/bin\n  LC_ALL: C\n"
		  "removes: [PATH]\n",
		  base, "LC_ALL=C|PATH=/usr/local/bin:/usr/bin");
}

static void test_sorted_bytewise(void **state)
{
	char *none[] = {NULL};
	check_env("overrides:\n  b: 1\n  B: 2\n  _: 3\n  A1: 4\n  A: 5\n  \xc3\xa9: 6\n  a: 7\n",
		  none, "A=5|A1=4|B=2|_=3|a=7|b=1|\xc3\xa9=6");
}

static void test_errors(void **state)
{
	check_env_error("- a\n- b\n", "must be a mapping", 1);
	check_env_error("just a string\n", "must be a mapping", 1);
	check_env_error("overrides: {}\nremove:\n  - LANG\n", "unknown key 'remove'", 2);
	check_env_error("overrides:\n  - A=1\n", "overrides: must be a mapping", 2);
	check_env_error("overrides:\n  A: [1, 2]\n", "overrides: A: a list is not", 2);
	check_env_error("overrides:\n  A: 1\n  B:\n    c: d\n", "overrides: B: a dict is not", 4);
	check_env_error("overrides:\n  A:\n", "overrides: A has no value", 2);
	check_env_error("overrides:\n  '': x\n", "empty variable name", 2);
	check_env_error("overrides:\n  'A=B': x\n", "contains '='", 2);
	check_env_error("overrides:\n  1: x\n", "variable name 1 is a int", 2);
	check_env_error("overrides:\n  \"A\\0B\": x\n", "NUL", 2);
	check_env_error("overrides:\n  A: \"x\\0y\"\n", "NUL byte", 2);
	check_env_error("removes: LANG\n", "removes: must be a list", 1);
	check_env_error("removes:\n  LANG: 1\n", "removes: must be a list", 2);
	check_env_error("removes:\n  - LANG\n  - 3\n", "variable name 3 is a int", 3);
	check_env_error("removes:\n  - [A]\n", "is a list", 2);
	check_env_error("removes: ['']\n", "empty variable name", 1);
	check_env_error("purge: maybe\n", "purge: must be true or false", 1);
	check_env_error("purge: 1\n", "purge: must be true or false", 1);
	check_env_error("overrides: {A: 1\n", "", 0); /* YAML syntax error passes through */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),     cmocka_unit_test(test_base_oddities),
	    cmocka_unit_test(test_overrides), cmocka_unit_test(test_removes),
	    cmocka_unit_test(test_purge),     cmocka_unit_test(test_sorted_bytewise),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
