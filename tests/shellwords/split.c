/* Test driver for t-shellwords-diff.sh: splits stdin with shellwords_split and writes each
 * word followed by NUL to stdout; on a split error prints the message to stderr, exits 1. */
#include <stdio.h>
#include <stdlib.h>

#include "shellwords.h"

int main(void)
{
	struct strbuf in = STRBUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		strbuf_add(&in, chunk, n);
	struct arena *a = arena_new();
	struct shellword *w;
	size_t nw;
	struct lf_error err;
	lf_error_clear(&err);
	int rc = shellwords_split(a, "stdin", in.buf ? in.buf : "", in.len, &w, &nw, &err);
	if (rc == 0) {
		for (size_t i = 0; i < nw; i++)
			fwrite(w[i].s, 1, w[i].len + 1, stdout);
	} else {
		char msg[LF_ERR_MSG + 300];
		lf_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
	}
	arena_free(a);
	strbuf_release(&in);
	return rc == 0 ? 0 : 1;
}
