/* placeholder: replaced by the real splitter */
#include <errno.h>

#include "shellwords.h"

int shellwords_split(struct arena *a, const char *name, const char *s, size_t len,
		     struct shellword **words, size_t *nwords, struct lf_error *err)
{
	return lf_error_set(err, -ENOSYS, name, 0, 0, "shellwords not built yet");
}

void shellwords_quote(struct strbuf *sb, const char *word, size_t len)
{
	strbuf_add(sb, word, len);
}
