/* error: errors are values. A failing function returns a negative errno-style code and fills
 * a struct lf_error; only main() and the FUSE adapter decide how to show it. */
#ifndef LAVAFS_ERROR_H
#define LAVAFS_ERROR_H

#include <stddef.h>

#define LF_ERR_MSG 2048

struct lf_error {
	int code;             /* negative errno-style value, 0 when no error */
	char file[256];       /* template / YAML / store file the error is in, "" if none */
	int line, column;     /* 1-based; 0 when unknown */
	char msg[LF_ERR_MSG]; /* one sentence, may be followed by "\n" and details */
};

void lf_error_clear(struct lf_error *e);
/* Fill e (if non-NULL) and return code, so callers can write `return lf_error_set(...)`. */
int lf_error_set(struct lf_error *e, int code, const char *file, int line, int column,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Prefix an existing message: "while composing qemu01: " + old message. */
void lf_error_prefix(struct lf_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "file:line:column: msg" (parts that are unknown are left out). Returns bytes written. */
size_t lf_error_format(const struct lf_error *e, char *buf, size_t size);

#endif
