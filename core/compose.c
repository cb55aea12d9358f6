/* placeholder: replaced by the real composition */
#include <errno.h>
#include <string.h>

#include "compose.h"

int compose_run(const struct compose_input *in, struct compose_result *out, struct lf_error *err)
{
	memset(out, 0, sizeof(*out));
	return lf_error_set(err, -ENOSYS, in->dictionary_name, 0, 0, "composition not built yet");
}

void compose_result_free(struct compose_result *out)
{
	arena_free(out->arena);
	strbuf_release(&out->argv);
	strbuf_release(&out->cmdline);
	strbuf_release(&out->env);
	strbuf_release(&out->device_yaml);
	strbuf_release(&out->explain);
	strbuf_release(&out->warnings);
	memset(out, 0, sizeof(*out));
}
