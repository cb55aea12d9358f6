#include "arena.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Under AddressSanitizer each block is a malloc of its own (see arena_alloc). */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif

/* Chunks grow geometrically; a request larger than a chunk gets a chunk of its own. */
struct chunk {
	struct chunk *next;
	size_t size, used;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
	size_t total;
};

/* A few full-size chunks kept per thread: the daemon makes and frees an arena for every
 * composition, and handing chunks back to malloc makes it trim and re-grow the heap. */
#define CHUNK_MAX (64u << 10)
#define CACHE_MAX 16
static _Thread_local struct chunk *chunk_cache;
static _Thread_local unsigned chunk_cached;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

/* At thread exit (FUSE worker threads come and go) the thread's cached chunks go back. */
static void cache_drop(void *unused)
{
	(void)unused;
	while (chunk_cache) {
		struct chunk *n = chunk_cache->next;
		free(chunk_cache);
		chunk_cache = n;
	}
	chunk_cached = 0;
}

static void cache_key_make(void)
{
	pthread_key_create(&cache_key, cache_drop);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p) {
		fputs("lavafs: out of memory\n", stderr);
		abort();
	}
	return p;
}

struct arena *arena_new(void)
{
	struct arena *a = xmalloc(sizeof(*a));
	a->head = NULL;
	a->total = 0;
	return a;
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	struct chunk *c = a->head;
	while (c) {
		struct chunk *n = c->next;
#ifdef ARENA_ASAN
		free(c);
		c = n;
		continue;
#endif
		if (c->size == CHUNK_MAX && chunk_cached < CACHE_MAX) {
			if (!chunk_cache) {
				pthread_once(&cache_once, cache_key_make);
				pthread_setspecific(cache_key, &chunk_cache);
			}
			c->next = chunk_cache;
			chunk_cache = c;
			chunk_cached++;
		} else {
			free(c);
		}
		c = n;
	}
	free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
#ifdef ARENA_ASAN
	/* A block of exactly n bytes: a read or write past its end, or after arena_free, is
	 * reported where it happens instead of landing unseen in the next block of a chunk. */
	size_t exact = n ? n : 1;
	struct chunk *b = xmalloc(sizeof(*b) + exact);
	b->size = b->used = exact;
	b->next = a->head;
	a->head = b;
	a->total += (exact + align - 1) / align * align;
	memset(b->data, 0, exact);
	return b->data;
#endif
	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	struct chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		/* Below malloc's mmap threshold (128 KiB): a composition's arena is made and freed
		 * hundreds of times a second, and mmap/munmap per chunk would dominate. */
		size_t size = c ? c->size * 2 : 8192;
		if (size > CHUNK_MAX)
			size = CHUNK_MAX;
		if (size < n)
			size = n;
		if (size == CHUNK_MAX && chunk_cache) {
			c = chunk_cache;
			chunk_cache = c->next;
			chunk_cached--;
		} else {
			c = xmalloc(sizeof(*c) + size);
		}
		c->size = size;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	a->total += n;
	memset(p, 0, n);
	return p;
}

void *arena_realloc(struct arena *a, void *old, size_t old_n, size_t new_n)
{
	if (new_n <= old_n && old)
		return old;
	void *p = arena_alloc(a, new_n);
	if (old && old_n)
		memcpy(p, old, old_n < new_n ? old_n : new_n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	char *p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

size_t arena_used(const struct arena *a)
{
	return a->total;
}
