/* node: the inodes the kernel knows, by number and by (parent, name).
 *
 *   $ stat -c '%i %n' devices/qemu01/argv; echo 'arch: arm64' > devices/qemu01/context
 *   $ stat -c '%i %n' devices/qemu01/argv
 *   41 devices/qemu01/argv
 *   57 devices/qemu01/argv          <- a new composition, a new inode
 *
 * Inode numbers are never reused. A node lives while the kernel holds lookups on it, a file
 * handle is open on it, or a child node points at it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lavafs.h"

static size_t hash_ino(fuse_ino_t ino, size_t n)
{
	return (size_t)(ino * 0x9E3779B97F4A7C15ull) & (n - 1);
}

static size_t hash_name(const struct node *parent, const char *name, size_t n)
{
	uint64_t h = (uintptr_t)parent * 0x9E3779B97F4A7C15ull;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001B3ull;
	return (size_t)h & (n - 1);
}

static void table_insert(struct lavafs *fs, struct node *n)
{
	size_t b = hash_ino(n->ino, fs->nbuckets);
	n->next_ino = fs->by_ino[b];
	fs->by_ino[b] = n;
}

static void name_insert(struct lavafs *fs, struct node *n)
{
	size_t b = hash_name(n->parent, n->name, fs->nbuckets);
	n->next_name = fs->by_name[b];
	fs->by_name[b] = n;
}

static void name_remove(struct lavafs *fs, struct node *n)
{
	struct node **pp = &fs->by_name[hash_name(n->parent, n->name, fs->nbuckets)];
	for (; *pp; pp = &(*pp)->next_name)
		if (*pp == n) {
			*pp = n->next_name;
			break;
		}
	n->next_name = NULL;
}

/* Double the buckets when the table is fuller than one node per bucket. */
static void table_grow(struct lavafs *fs)
{
	size_t old = fs->nbuckets;
	struct node **oi = fs->by_ino, **on = fs->by_name;
	fs->nbuckets = old * 2;
	fs->by_ino = calloc(fs->nbuckets, sizeof(*fs->by_ino));
	fs->by_name = calloc(fs->nbuckets, sizeof(*fs->by_name));
	if (!fs->by_ino || !fs->by_name)
		abort();
	for (size_t i = 0; i < old; i++) {
		for (struct node *n = oi[i], *next; n; n = next) {
			next = n->next_ino;
			table_insert(fs, n);
		}
		for (struct node *n = on[i], *next; n; n = next) {
			next = n->next_name;
			name_insert(fs, n);
		}
	}
	free(oi);
	free(on);
}

int nodes_init(struct lavafs *fs)
{
	fs->nbuckets = 1024;
	fs->by_ino = calloc(fs->nbuckets, sizeof(*fs->by_ino));
	fs->by_name = calloc(fs->nbuckets, sizeof(*fs->by_name));
	if (!fs->by_ino || !fs->by_name)
		return -ENOMEM;
	fs->next_ino = FUSE_ROOT_ID;
	fs->root = node_new(fs, NULL, "", NK_ROOT);
	fs->root->nlookup = 1; /* the kernel's reference to the root is never forgotten */
	return 0;
}

void nodes_free(struct lavafs *fs)
{
	for (size_t i = 0; i < fs->nbuckets; i++)
		for (struct node *n = fs->by_ino ? fs->by_ino[i] : NULL, *next; n; n = next) {
			next = n->next_ino;
			if (n->gen)
				gen_unref(n->gen);
			free(n->name);
			free(n);
		}
	free(fs->by_ino);
	free(fs->by_name);
	fs->by_ino = fs->by_name = NULL;
}

struct node *node_by_ino(struct lavafs *fs, fuse_ino_t ino)
{
	for (struct node *n = fs->by_ino[hash_ino(ino, fs->nbuckets)]; n; n = n->next_ino)
		if (n->ino == ino)
			return n;
	return NULL;
}

struct node *node_child(struct lavafs *fs, struct node *dir, const char *name)
{
	for (struct node *n = fs->by_name[hash_name(dir, name, fs->nbuckets)]; n; n = n->next_name)
		if (n->parent == dir && n->attached && strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

struct node *node_new(struct lavafs *fs, struct node *parent, const char *name, enum node_kind kind)
{
	if (fs->nnodes >= fs->nbuckets)
		table_grow(fs);
	struct node *n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name)))
		abort();
	n->ino = fs->next_ino++;
	n->kind = kind;
	n->parent = parent;
	n->out = -1;
	if (parent)
		parent->children++;
	table_insert(fs, n);
	fs->nnodes++;
	/* outputs are found through their device, never by name */
	if (parent && kind != NK_OUTPUT) {
		n->attached = true;
		name_insert(fs, n);
	}
	return n;
}

void node_detach(struct lavafs *fs, struct node *n)
{
	if (!n->attached)
		return;
	name_remove(fs, n);
	n->attached = false;
}

void node_move(struct lavafs *fs, struct node *n, struct node *newparent, const char *newname)
{
	char *nn = strdup(newname);
	if (!nn)
		abort();
	if (n->attached)
		name_remove(fs, n);
	if (newparent != n->parent) {
		newparent->children++;
		n->parent->children--; /* still > 0: n's old parent is an ancestor of newparent or held */
	}
	n->parent = newparent;
	free(n->name);
	n->name = nn;
	n->attached = true;
	name_insert(fs, n);
}

static void node_maybe_free(struct lavafs *fs, struct node *n)
{
	while (n && n != fs->root && n->nlookup == 0 && n->refs == 0 && n->children == 0) {
		struct node *parent = n->parent;
		if (n->attached)
			name_remove(fs, n);
		struct node **pp = &fs->by_ino[hash_ino(n->ino, fs->nbuckets)];
		for (; *pp; pp = &(*pp)->next_ino)
			if (*pp == n) {
				*pp = n->next_ino;
				break;
			}
		if (n->gen)
			gen_unref(n->gen);
		free(n->name);
		free(n);
		fs->nnodes--;
		if (!parent)
			break;
		parent->children--;
		n = parent;
	}
}

void node_forget(struct lavafs *fs, struct node *n, uint64_t nlookup)
{
	n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
	node_maybe_free(fs, n);
}

void node_put(struct lavafs *fs, struct node *n)
{
	n->refs--;
	node_maybe_free(fs, n);
}

int node_path(const struct node *n, char *buf, size_t size)
{
	if (!n->parent) {
		snprintf(buf, size, ".");
		return 0;
	}
	/* collect the chain from n up to (not including) the root */
	const struct node *chain[64];
	size_t depth = 0;
	for (const struct node *p = n; p->parent; p = p->parent) {
		if (depth == 64)
			return -ENAMETOOLONG;
		chain[depth++] = p;
	}
	size_t len = 0;
	for (size_t i = depth; i-- > 0;) {
		int w = snprintf(buf + len, size - len, "%s%s", len ? "/" : "", chain[i]->name);
		if (w < 0 || (size_t)w >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)w;
	}
	return 0;
}

struct node *node_device_dir(struct node *n)
{
	for (; n; n = n->parent)
		if (n->kind == NK_DEVICE)
			return n;
	return NULL;
}

bool node_in_overlay(const struct node *n)
{
	for (; n; n = n->parent)
		if (n->kind == NK_OVERLAY)
			return true;
	return false;
}

enum node_class node_class(const struct node *n)
{
	if (n->kind != NK_FILE || !n->parent)
		return NC_REAL;
	switch (n->parent->kind) {
	case NK_ROOT:
		return strcmp(n->name, "env.yaml") == 0 ? NC_ADMIN : NC_REAL;
	case NK_TYPES:
	case NK_HCHECKS:
		return NC_ADMIN;
	case NK_DEVICE:
		if (strcmp(n->name, "dictionary") == 0)
			return NC_ADMIN;
		if (strcmp(n->name, "context") == 0 || strcmp(n->name, "job.yaml") == 0 ||
		    strcmp(n->name, "tags") == 0)
			return NC_WRITER;
		return NC_REAL;
	default:
		return NC_REAL;
	}
}
