#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void lf_error_clear(struct lf_error *e)
{
	if (!e)
		return;
	e->code = 0;
	e->file[0] = '\0';
	e->line = e->column = 0;
	e->msg[0] = '\0';
}

int lf_error_set(struct lf_error *e, int code, const char *file, int line, int column,
		 const char *fmt, ...)
{
	if (!e)
		return code;
	e->code = code;
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
	e->line = line;
	e->column = column;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void lf_error_prefix(struct lf_error *e, const char *fmt, ...)
{
	if (!e)
		return;
	char pre[512], old[LF_ERR_MSG];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s%s", pre, old);
}

size_t lf_error_format(const struct lf_error *e, char *buf, size_t size)
{
	int n;
	if (e->file[0] && e->line > 0 && e->column > 0)
		n = snprintf(buf, size, "%s:%d:%d: %s", e->file, e->line, e->column, e->msg);
	else if (e->file[0] && e->line > 0)
		n = snprintf(buf, size, "%s:%d: %s", e->file, e->line, e->msg);
	else if (e->file[0])
		n = snprintf(buf, size, "%s: %s", e->file, e->msg);
	else
		n = snprintf(buf, size, "%s", e->msg);
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size ? size - 1 : 0;
}
