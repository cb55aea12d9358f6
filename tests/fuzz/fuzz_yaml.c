/* libFuzzer target for core/yaml: any bytes either parse or fail with a located error, and
 * whatever parses is emitted and must read back (yaml_parse(yaml_emit(v)) succeeds).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icore tests/fuzz/fuzz_yaml.c \
 *     core/yaml.c core/value.c core/arena.c core/strbuf.c core/error.c -lyaml -o fuzz_yaml
 *   ./fuzz_yaml -max_total_time=120 corpus/ tests/yaml/cases/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yaml.h"

/* !!omap and !!pairs make tuples, which come back from the emitter as lists. */
static int has_tuple(const struct value *v, int depth)
{
	if (depth > 200)
		return 1;
	if (v->kind == V_TUPLE)
		return 1;
	if (v->kind == V_LIST)
		for (size_t i = 0; i < v->u.list.len; i++)
			if (has_tuple(v->u.list.items[i], depth + 1))
				return 1;
	if (v->kind == V_MAP)
		for (size_t i = 0; i < v->u.map.len; i++)
			if (has_tuple(v->u.map.vals[i], depth + 1))
				return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* small limits keep alias bombs and deep nesting cheap while still hitting the checks */
	struct yaml_limits lim = {.max_depth = 64, .max_nodes = 20000};
	struct arena *a = arena_new();
	struct lf_error err;
	struct value *v = NULL;
	lf_error_clear(&err);
	int rc = yaml_parse(a, "fuzz", (const char *)data, size, &lim, &v, &err);
	if (rc) {
		if (rc >= 0 || v || err.code != rc || !err.msg[0])
			abort(); /* an error must be reported as one */
	} else {
		if (!v)
			abort();
		struct strbuf sb = STRBUF_INIT, r1 = STRBUF_INIT, r2 = STRBUF_INIT;
		yaml_emit(&sb, v);
		struct value *w = NULL;
		struct yaml_limits big = {.max_depth = 128, .max_nodes = 50000000};
		if (yaml_parse(a, "emitted", sb.buf ? sb.buf : "", sb.len, &big, &w, &err))
			abort(); /* what we write we must be able to read */
		value_repr(&r1, v);
		value_repr(&r2, w);
		if (!has_tuple(v, 0) && strcmp(strbuf_str(&r1), strbuf_str(&r2)) != 0)
			abort();
		strbuf_release(&sb);
		strbuf_release(&r1);
		strbuf_release(&r2);
	}
	arena_free(a);
	return 0;
}
