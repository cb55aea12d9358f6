/* shellwords: split a string into words the way a POSIX shell does (quotes, backslashes; no
 * expansion of any kind), and quote words so a shell gives them back unchanged. */
#ifndef LAVAFS_SHELLWORDS_H
#define LAVAFS_SHELLWORDS_H

#include <stddef.h>

#include "arena.h"
#include "error.h"
#include "strbuf.h"

struct shellword {
	const char *s; /* NUL-terminated, in the arena */
	size_t len;
	size_t offset; /* byte offset in the input where the word starts */
};

/* Errors (unbalanced quote, trailing backslash) name the column. `name` labels the input. */
int shellwords_split(struct arena *a, const char *name, const char *s, size_t len,
		     struct shellword **words, size_t *nwords, struct lf_error *err);

/* Append `word` quoted like Python's shlex.quote: unchanged when it only holds safe
 * characters, else in single quotes with ' written as '"'"'. */
void shellwords_quote(struct strbuf *sb, const char *word, size_t len);

#endif
