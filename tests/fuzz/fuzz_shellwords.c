/* Fuzz target (libFuzzer) for core/shellwords: splitting never crashes, its words satisfy
 * the documented invariants, and quoting them back gives a line that splits to the same
 * words. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shellwords.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new();
	struct shellword *w, *w2;
	size_t n, n2;
	struct lf_error err;
	const char *s = (const char *)data;
	if (shellwords_split(a, "fuzz", s, size, &w, &n, &err) == 0) {
		struct strbuf line = STRBUF_INIT;
		for (size_t i = 0; i < n; i++) {
			if (w[i].offset >= size || strlen(w[i].s) != w[i].len)
				abort();
			if (i && w[i].offset <= w[i - 1].offset)
				abort();
			if (i)
				strbuf_addc(&line, ' ');
			shellwords_quote(&line, w[i].s, w[i].len);
		}
		if (shellwords_split(a, "fuzz", strbuf_str(&line), line.len, &w2, &n2, &err) != 0 ||
		    n2 != n)
			abort();
		for (size_t i = 0; i < n; i++)
			if (w2[i].len != w[i].len || memcmp(w2[i].s, w[i].s, w[i].len) != 0)
				abort();
		strbuf_release(&line);
	} else if (err.code >= 0 || err.column <= 0 || err.line <= 0) {
		abort();
	}
	/* the whole input, quoted as one word, comes back as exactly that word */
	if (!memchr(s, '\0', size)) {
		struct strbuf q = STRBUF_INIT;
		shellwords_quote(&q, s, size);
		if (shellwords_split(a, "fuzz", strbuf_str(&q), q.len, &w, &n, &err) != 0 ||
		    n != 1 || w[0].len != size || memcmp(w[0].s, s, size) != 0)
			abort();
		strbuf_release(&q);
	}
	arena_free(a);
	return 0;
}
