/* Unit tests for core/shellwords: POSIX splitting without expansion, shlex.quote quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shellwords.h"

/* Splits `in` and compares with the NULL-terminated `want`, and the offsets when given. */
static void check_split(const char *in, const char *const *want, const size_t *offsets)
{
	struct arena *a = arena_new();
	struct lf_error err;
	lf_error_clear(&err);
	struct shellword *w;
	size_t n;
	int rc = shellwords_split(a, "t", in, strlen(in), &w, &n, &err);
	if (rc != 0)
		fail_msg("split(%s) failed: %s", in, err.msg);
	size_t nwant = 0;
	while (want[nwant])
		nwant++;
	if (n != nwant)
		fail_msg("split(%s): %zu words, want %zu", in, n, nwant);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(w[i].len, strlen(want[i]));
		assert_memory_equal(w[i].s, want[i], w[i].len);
		assert_int_equal(w[i].s[w[i].len], '\0');
		if (offsets)
			assert_int_equal(w[i].offset, offsets[i]);
	}
	arena_free(a);
}

#define SPLIT(in, ...)                                                                             \
	do {                                                                                       \
		const char *const want_[] = {__VA_ARGS__, NULL};                                    \
		check_split(in, want_, NULL);                                                      \
	} while (0)
#define SPLIT_NONE(in)                                                                             \
	do {                                                                                       \
		const char *const want_[] = {NULL};                                                \
		check_split(in, want_, NULL);                                                      \
	} while (0)

static void test_plain(void **state)
{
	SPLIT_NONE("");
	SPLIT_NONE("   \t\n  ");
	SPLIT("a", "a");
	SPLIT("  -m   1024 ", "-m", "1024");
	SPLIT("-net nic,model=virtio -net user", "-net", "nic,model=virtio", "-net", "user");
	SPLIT("a\tb\nc", "a", "b", "c");
	SPLIT("a\rb", "a\rb"); /* \r is not a shell blank */
}

static void test_quotes(void **state)
{
	SPLIT("--append \"console=ttyAMA0 root=/dev/vda rw\"", "--append",
	      "console=ttyAMA0 root=/dev/vda rw");
	SPLIT("'a b' c", "a b", "c");
	SPLIT("'a\\b'", "a\\b");
	SPLIT("'$HOME'", "$HOME");
	SPLIT("\"a\\\"b\"", "a\"b");
	SPLIT("\"a\\$b\"", "a$b");
	SPLIT("\"a\\`b\"", "a`b");
	SPLIT("\"a\\\\b\"", "a\\b");
	SPLIT("\"a\\nb\"", "a\\nb"); /* backslash stays before other characters */
	SPLIT("\"a\\'b\"", "a\\'b");
	SPLIT("\"a\\\nb\"", "ab"); /* backslash-newline removed inside double quotes */
	SPLIT("'' \"\"", "", "");
	SPLIT("a''b", "ab");
	SPLIT("a'b'\"c\"d", "abcd");
	SPLIT("x=\"a b\"'c d'", "x=a bc d");
	SPLIT("'a\nb'", "a\nb");
	SPLIT("\"it's\"", "it's");
	SPLIT("'say \"hi\"'", "say \"hi\"");
}

static void test_backslash(void **state)
{
	SPLIT("a\\ b", "a b");
	SPLIT("\\'a", "'a");
	SPLIT("\\\"a", "\"a");
	SPLIT("\\\\", "\\");
	SPLIT("a\\\nb", "ab");
	SPLIT("a \\\n b", "a", "b");
	SPLIT_NONE("\\\n");
	SPLIT("\\n", "n");
	SPLIT("\\$HOME", "$HOME");
}

static void test_no_expansion(void **state)
{
	SPLIT("$HOME ~ * ? [a] `id` $(id) a;b c|d e&f <g >h #i (j)", "$HOME", "~", "*", "?",
	      "[a]", "`id`", "$(id)", "a;b", "c|d", "e&f", "<g", ">h", "#i", "(j)");
	SPLIT("a # not a comment", "a", "#", "not", "a", "comment");
	SPLIT("\"$HOME\"", "$HOME");
	SPLIT("${x:-y}", "${x:-y}");
	SPLIT("caf\xc3\xa9", "caf\xc3\xa9");
}

static void test_offsets(void **state)
{
	const char *const w1[] = {"-m", "1024", "a b", "x", NULL};
	const size_t o1[] = {1, 5, 10, 16};
	check_split(" -m  1024 'a b' x", w1, o1);
	const char *const w2[] = {"ab", "c", NULL};
	const size_t o2[] = {0, 8};
	check_split("\"a\"b \\\n c", w2, o2);
	const char *const w3[] = {"", "x", NULL};
	const size_t o3[] = {2, 5};
	check_split("  '' \\x", w3, o3);
}

static void check_error(const char *in, size_t len, const char *msg, int line, int column)
{
	struct arena *a = arena_new();
	struct lf_error err;
	lf_error_clear(&err);
	struct shellword *w;
	size_t n;
	int rc = shellwords_split(a, "item", in, len, &w, &n, &err);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(err.code, -EINVAL);
	if (!strstr(err.msg, msg))
		fail_msg("split(%s): message '%s' lacks '%s'", in, err.msg, msg);
	assert_string_equal(err.file, "item");
	assert_int_equal(err.line, line);
	assert_int_equal(err.column, column);
	arena_free(a);
}

static void test_errors(void **state)
{
	check_error("a \"b c", 6, "unbalanced double quote starting at column 3", 1, 3);
	check_error("'abc", 4, "unbalanced single quote starting at column 1", 1, 1);
	check_error("x 'a\"b\"", 7, "unbalanced single quote", 1, 3);
	check_error("abc\\", 4, "trailing backslash at column 4", 1, 4);
	check_error("\"abc\\\"", 6, "unbalanced double quote", 1, 1);
	check_error("a\nb 'c", 6, "unbalanced single quote starting at column 3", 2, 3);
	check_error("a\0b", 3, "NUL byte", 1, 2);
	check_error("'a\0b'", 5, "NUL byte", 1, 3);
}

static void check_quote(const char *in, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	shellwords_quote(&sb, in, strlen(in));
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_release(&sb);
}

static void test_quote(void **state)
{
	check_quote("", "''");
	check_quote("abcXYZ019_@%+=:,./-", "abcXYZ019_@%+=:,./-");
	check_quote("a b", "'a b'");
	check_quote("it's", "'it'\"'\"'s'");
	check_quote("$HOME", "'$HOME'");
	check_quote("caf\xc3\xa9", "'caf\xc3\xa9'");
	check_quote("~", "'~'");
	check_quote("'", "''\"'\"''");
	check_quote("a\nb", "'a\nb'");
}

/* split(join(quote(w))) == w for random words drawn from an alphabet full of specials. */
static void test_quote_roundtrip(void **state)
{
	static const char alphabet[] = "ab Z9_-=,./'\"\\$`*?~#;|&<>(){}[]!\t\n\r\x01\xc3\xa9";
	struct arena *a = arena_new();
	unsigned seed = 12345;
	for (int round = 0; round < 2000; round++) {
		char words[6][24];
		size_t lens[6];
		size_t nw = (size_t)(rand_r(&seed) % 6) + 1;
		struct strbuf line = STRBUF_INIT;
		for (size_t k = 0; k < nw; k++) {
			lens[k] = (size_t)(rand_r(&seed) % 23);
			for (size_t j = 0; j < lens[k]; j++)
				words[k][j] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
			if (k)
				strbuf_addc(&line, ' ');
			shellwords_quote(&line, words[k], lens[k]);
		}
		struct shellword *w;
		size_t n;
		struct lf_error err;
		int rc = shellwords_split(a, "rt", line.buf, line.len, &w, &n, &err);
		if (rc != 0)
			fail_msg("split of quoted line <%s> failed: %s", line.buf, err.msg);
		assert_int_equal(n, nw);
		for (size_t k = 0; k < nw; k++) {
			assert_int_equal(w[k].len, lens[k]);
			assert_memory_equal(w[k].s, words[k], lens[k]);
		}
		strbuf_release(&line);
	}
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),     cmocka_unit_test(test_quotes),
	    cmocka_unit_test(test_backslash), cmocka_unit_test(test_no_expansion),
	    cmocka_unit_test(test_offsets),   cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_quote),     cmocka_unit_test(test_quote_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
