/*
 * arena.c - bump allocation for what a decoded changeset holds.
 *
 * A changeset of 200 submissions decodes into some 15,000 small blocks:
 * the answers' cJSON nodes, their keys and strings, the canonical
 * answers text. From malloc they cost a call each to make and another
 * to free, with glibc consolidating its bins in between; on the hub that
 * was a sixth of a push's CPU. They all live exactly as long as the
 * changeset, so they come from a few large chunks freed together.
 */
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"

struct fs__arena_chunk {
    struct fs__arena_chunk *next;
    /* The blocks follow, aligned as malloc aligns. */
    max_align_t data[];
};

#define ALIGN (sizeof(max_align_t))
#define FIRST_CHUNK (32u * 1024u)
/* Under the hub's mmap threshold (server.c): chunks come from the heap
 * and go back to it, not to the kernel and back on every push. */
#define LARGEST_CHUNK (512u * 1024u)

static size_t round_up(size_t n)
{
    return (n + ALIGN - 1) & ~(ALIGN - 1);
}

/* A new chunk with room for at least n bytes; NULL when out of memory. */
static char *arena_chunk(fs__arena *a, size_t n)
{
    size_t size = a->next_size ? a->next_size : FIRST_CHUNK;
    struct fs__arena_chunk *ch;

    if (size < n)
        size = round_up(n);
    if (size > SIZE_MAX - sizeof(*ch))
        return NULL;
    ch = malloc(sizeof(*ch) + size);
    if (ch == NULL)
        return NULL;
    ch->next = a->chunks;
    a->chunks = ch;
    a->p = (char *)ch->data;
    a->end = a->p + size;
    if (a->next_size < LARGEST_CHUNK)
        a->next_size = (a->next_size ? a->next_size : FIRST_CHUNK) * 2;
    return a->p;
}

void *fs__arena_alloc(fs__arena *a, size_t n)
{
    char *p;

    if (n > SIZE_MAX - ALIGN)
        return NULL;
    n = round_up(n ? n : 1);
    if ((size_t)(a->end - a->p) < n && arena_chunk(a, n) == NULL)
        return NULL;
    p = a->p;
    a->p += n;
    a->last = p;
    return p;
}

void *fs__arena_grow(fs__arena *a, void *old, size_t oldn, size_t n)
{
    char *p;

    if (n <= oldn)
        return old;
    /* The newest block grows where it is when its chunk has room. */
    if (old != NULL && old == a->last && n <= SIZE_MAX - ALIGN &&
        round_up(n) <= (size_t)(a->end - a->last)) {
        a->p = a->last + round_up(n);
        return old;
    }
    p = fs__arena_alloc(a, n);
    if (p != NULL && old != NULL)
        memcpy(p, old, oldn);
    return p;
}

void fs__arena_shrink(fs__arena *a, void *block, size_t n)
{
    if (block != NULL && block == a->last &&
        round_up(n ? n : 1) <= (size_t)(a->p - a->last))
        a->p = a->last + round_up(n ? n : 1);
}

void fs__arena_free(fs__arena *a)
{
    struct fs__arena_chunk *ch, *next;

    if (a == NULL)
        return;
    for (ch = a->chunks; ch != NULL; ch = next) {
        next = ch->next;
        free(ch);
    }
    memset(a, 0, sizeof(*a));
}
