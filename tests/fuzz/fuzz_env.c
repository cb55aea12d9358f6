/* Fuzz target (libFuzzer) for core/env: any env.yaml either fails with an error or gives
 * KEY=VALUE items, each followed by NUL, with unique non-empty names in bytewise order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	return c ? c : (alen > blen) - (alen < blen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *base[] = {"PATH=/usr/bin:/bin", "HOME=/root", "LANG=C", "A=1", "A=2",
			       "B", NULL};
	struct arena *a = arena_new();
	struct strbuf out = STRBUF_INIT;
	struct lf_error err;
	lf_error_clear(&err);
	int rc = env_compose(a, "env.yaml", (const char *)data, size, base, &out, &err);
	if (rc < 0) {
		if (err.code != rc || !err.msg[0])
			abort();
	} else {
		if (out.len && out.buf[out.len - 1] != '\0')
			abort();
		const char *prev = NULL;
		size_t prev_len = 0;
		for (size_t i = 0; i < out.len;) {
			const char *item = out.buf + i;
			size_t len = strlen(item);
			const char *eq = memchr(item, '=', len);
			if (!eq || eq == item)
				abort();
			size_t nlen = (size_t)(eq - item);
			if (prev && name_cmp(prev, prev_len, item, nlen) >= 0)
				abort();
			prev = item;
			prev_len = nlen;
			i += len + 1;
		}
	}
	strbuf_release(&out);
	arena_free(a);
	return 0;
}
