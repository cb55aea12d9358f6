/* strbuf: a growable byte buffer (malloc-backed) for building output text. */
#ifndef LAVAFS_STRBUF_H
#define LAVAFS_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *buf; /* always NUL-terminated when non-NULL */
	size_t len, cap;
	/* limit: when non-zero, an add that would pass it is dropped and sets over, and every
	 * add after it is dropped too (a bound for text built from untrusted input) */
	size_t limit;
	bool over;
};

#define STRBUF_INIT {NULL, 0, 0, 0, false}

void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t n);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
/* Decimal digits of n, without printf (hot paths). */
void strbuf_addu(struct strbuf *sb, unsigned long long n);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Hand the buffer to the caller (malloc'd, NUL-terminated, never NULL) and reset sb. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
/* The contents as a C string ("" when empty). */
const char *strbuf_str(const struct strbuf *sb);

#endif
