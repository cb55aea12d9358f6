/* arena: bump allocation for one composition or render; everything is freed at once. */
#ifndef LAVAFS_ARENA_H
#define LAVAFS_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

struct arena *arena_new(void);
void arena_free(struct arena *a);
/* Zeroed memory aligned for any type. Aborts on out-of-memory, like xmalloc. */
void *arena_alloc(struct arena *a, size_t n);
/* Grow a block obtained from arena_alloc (old contents copied; old block stays allocated). */
void *arena_realloc(struct arena *a, void *old, size_t old_n, size_t new_n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap);
/* Bytes handed out so far: lets callers enforce memory limits on a render. */
size_t arena_used(const struct arena *a);

#endif
