#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *sb)
{
	sb->buf = NULL;
	sb->len = sb->cap = sb->limit = 0;
	sb->over = false;
}

/* whether n more bytes fit under the limit; past it, sb stays over */
static bool room(struct strbuf *sb, size_t n)
{
	if (sb->over)
		return false;
	if (sb->limit && n > sb->limit - (sb->len < sb->limit ? sb->len : sb->limit)) {
		sb->over = true;
		return false;
	}
	return true;
}

void strbuf_release(struct strbuf *sb)
{
	free(sb->buf);
	strbuf_init(sb);
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->over = false;
	if (sb->buf)
		sb->buf[0] = '\0';
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	if (sb->len + extra + 1 <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *p = realloc(sb->buf, cap);
	if (!p) {
		fputs("lavafs: out of memory\n", stderr);
		abort();
	}
	sb->buf = p;
	sb->cap = cap;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t n)
{
	if (!room(sb, n))
		return;
	strbuf_grow(sb, n);
	if (n)
		memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void strbuf_adds(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addc(struct strbuf *sb, char c)
{
	if (!room(sb, 1))
		return;
	strbuf_grow(sb, 1);
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

void strbuf_addu(struct strbuf *sb, unsigned long long n)
{
	char d[24];
	size_t i = sizeof(d);
	do
		d[--i] = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	strbuf_add(sb, d + i, sizeof(d) - i);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n <= 0 || !room(sb, (size_t)n))
		return;
	strbuf_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	if (!sb->buf)
		strbuf_grow(sb, 0), sb->buf[0] = '\0';
	char *p = sb->buf;
	if (len)
		*len = sb->len;
	strbuf_init(sb);
	return p;
}

const char *strbuf_str(const struct strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}
