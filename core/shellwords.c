/* shellwords: POSIX word splitting and quote removal, nothing else.
 *
 * The composed QEMU argv is "what a POSIX shell makes of all the strings joined by spaces",
 * but lavafs never runs a shell: expansion characters ($ ` * ~ ; | & < > # ( ...) are ordinary
 * here, so a context value like "a;reboot" reaches QEMU as one literal argument. */
#include "shellwords.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* Blanks as the shell's tokenizer sees them in the POSIX locale; \r, \v, \f are ordinary. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* Line and column (1-based) of byte `pos`, for messages about multi-line items. */
static void position(const char *s, size_t pos, int *line, int *column)
{
	int l = 1;
	size_t start = 0;
	for (size_t i = 0; i < pos; i++) {
		if (s[i] == '\n') {
			l++;
			start = i + 1;
		}
	}
	*line = l;
	*column = (int)(pos - start) + 1;
}

static int split_error(struct lf_error *err, const char *name, const char *s, size_t pos,
		       const char *what)
{
	int line, column;
	position(s, pos, &line, &column);
	return lf_error_set(err, -EINVAL, name, line, column, "%s at column %d", what, column);
}

int shellwords_split(struct arena *a, const char *name, const char *s, size_t len,
		     struct shellword **words, size_t *nwords, struct lf_error *err)
{
	struct shellword *out = NULL;
	size_t n = 0, cap = 0;
	char *buf = arena_alloc(a, len + 1); /* a word is never longer than the input */
	size_t blen = 0, start = 0;
	bool in_word = false;

	*words = NULL;
	*nwords = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || is_blank(s[i])) {
			if (in_word) {
				if (n == cap) {
					size_t ncap = cap ? cap * 2 : 8;
					out = arena_realloc(a, out, cap * sizeof(*out),
							    ncap * sizeof(*out));
					cap = ncap;
				}
				out[n].s = arena_strndup(a, buf, blen);
				out[n].len = blen;
				out[n].offset = start;
				n++;
				in_word = false;
				blen = 0;
			}
			continue;
		}
		char c = s[i];
		if (c == '\0')
			return split_error(err, name, s, i, "NUL byte (argv items cannot hold one)");
		if (c == '\\') {
			if (i + 1 == len)
				return split_error(err, name, s, i, "trailing backslash");
			if (s[i + 1] == '\n') { /* line continuation: gone, and starts no word */
				i++;
				continue;
			}
			if (s[i + 1] == '\0')
				return split_error(err, name, s, i + 1,
						   "NUL byte (argv items cannot hold one)");
			if (!in_word)
				start = i;
			in_word = true;
			buf[blen++] = s[++i];
			continue;
		}
		if (!in_word)
			start = i;
		in_word = true;
		if (c == '\'') {
			size_t open = i;
			for (i++; i < len && s[i] != '\''; i++) {
				if (s[i] == '\0')
					return split_error(err, name, s, i,
							   "NUL byte (argv items cannot hold one)");
				buf[blen++] = s[i];
			}
			if (i == len)
				return split_error(err, name, s, open,
						   "unbalanced single quote starting");
		} else if (c == '"') {
			size_t open = i;
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\0')
					return split_error(err, name, s, i,
							   "NUL byte (argv items cannot hold one)");
				if (s[i] == '\\' && i + 1 < len) {
					char d = s[i + 1];
					if (d == '\n') {
						i++;
						continue;
					}
					if (d == '$' || d == '`' || d == '"' || d == '\\') {
						buf[blen++] = d;
						i++;
						continue;
					}
				}
				buf[blen++] = s[i];
			}
			if (i == len)
				return split_error(err, name, s, open,
						   "unbalanced double quote starting");
		} else {
			buf[blen++] = c;
		}
	}
	*words = out;
	*nwords = n;
	return 0;
}

/* Python's shlex.quote: the same safe set, so `cmdline` matches what LAVA logs. */
static bool is_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("_@%+=:,./-", c) != NULL);
}

void shellwords_quote(struct strbuf *sb, const char *word, size_t len)
{
	if (len == 0) {
		strbuf_adds(sb, "''");
		return;
	}
	size_t i;
	for (i = 0; i < len && is_safe((unsigned char)word[i]); i++)
		;
	if (i == len) {
		strbuf_add(sb, word, len);
		return;
	}
	strbuf_addc(sb, '\'');
	for (i = 0; i < len; i++) {
		if (word[i] == '\'')
			strbuf_adds(sb, "'\"'\"'");
		else
			strbuf_addc(sb, word[i]);
	}
	strbuf_addc(sb, '\'');
}
