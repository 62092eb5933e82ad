/*
 * fs_internal.h - helpers shared by the protocol modules; not installed,
 * not for the agent or the hub. Non-static symbols carry the fs__ prefix.
 */
#ifndef FS_INTERNAL_H
#define FS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fs_protocol.h"

/* Largest magnitude a JSON number carries exactly (2^53). */
#define FS__JSON_INT_MAX 9007199254740992.0

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..n), or 0 when the
 * bytes there are not one (overlong, surrogate, above U+10FFFF, cut). */
size_t fs__utf8_seq(const unsigned char *s, size_t n);

/* Copies at most outsz-1 bytes of untrusted text s into out as a snippet
 * safe to put in a message: whole UTF-8 characters only, control bytes
 * and invalid sequences replaced by '?', "..." appended when cut. */
void fs__snippet(const char *s, char *out, size_t outsz);

/* Bump allocation (arena.c): blocks aligned as malloc's, all freed at
 * once by fs__arena_free. A zeroed fs__arena is empty and ready. */
typedef struct fs__arena {
    struct fs__arena_chunk *chunks;
    char *p, *end; /* free room in the newest chunk */
    char *last;    /* the newest block, which fs__arena_grow extends */
    size_t next_size;
} fs__arena;

void *fs__arena_alloc(fs__arena *a, size_t n);
/* Makes old (the oldn bytes of a block from a) n bytes long, in place
 * when it is the newest block and there is room, else as a copy. */
void *fs__arena_grow(fs__arena *a, void *old, size_t oldn, size_t n);
/* Gives back the end of block when it is the newest: n bytes stay. */
void fs__arena_shrink(fs__arena *a, void *block, size_t n);
void fs__arena_free(fs__arena *a);

/* Results of the member readers below. */
enum {
    FS__FIELD_OK = 0,
    FS__FIELD_MISSING = 1,
    FS__FIELD_WRONG = 2,
    FS__FIELD_RANGE = 3, /* an integer, but beyond +-2^53 */
};

/* The JSON parser's cursor (json.c), also for readers of a known shape
 * such as the changeset decoder: a bounded view of the text with the
 * limits and the count of values so far. Every function returns FS_OK
 * or a negative FS_E* code, with err (when not NULL) saying what was
 * wrong at which byte of the text; a reader that meets one stops. */
typedef struct fs__jcur {
    const unsigned char *p, *end;
    const unsigned char *start; /* byte 0, for positions in messages */
    const fs_limits *lim;
    size_t values; /* containers, members and elements; starts at 1 */
    unsigned depth;
    /* Where nodes and strings come from: cJSON_malloc when NULL (the
     * tree is then cJSON_Delete's to free), else this arena, and the
     * tree is never freed on its own, only with the arena. */
    fs__arena *arena;
    fs_err *err; /* borrowed; may be NULL */
    /* When not NULL, every number node built is noted here with the text
     * it was read from (the array grows with realloc; its owner frees
     * v). */
    struct fs__jnums *nums;
} fs__jcur;

typedef struct fs__jnum {
    const cJSON *node;
    const unsigned char *text; /* in the parsed text, len bytes */
    size_t len;
} fs__jnum;

typedef struct fs__jnums {
    fs__jnum *v;
    size_t n, cap;
} fs__jnums;

void fs__jcur_init(fs__jcur *o, const void *text, size_t n,
                   const fs_limits *lim, fs__arena *arena, fs_err *err);
/* Before the value: skips a byte order mark and white space. */
int fs__jcur_begin(fs__jcur *o);
/* After the value: nothing but white space may follow. */
int fs__jcur_finish(fs__jcur *o);
/* Skips white space (as cJSON counts it: every byte up to 0x20). */
void fs__jcur_ws(fs__jcur *o);
/* At '{' or '[': counts it against the limits, steps in, skips space. */
int fs__jcur_open(fs__jcur *o);
/* The same, and *more = 0 when the container is empty (its closing
 * byte, close, is stepped over), else 1. */
int fs__jcur_enter(fs__jcur *o, unsigned char close, int *more);
/* After a member's name: skips space, the ':' and space after it. */
int fs__jcur_colon(fs__jcur *o);
/* After a member or element of a container that closes with close:
 * steps over the ',' (counting the value it starts; *more = 1) or out of
 * the container (*more = 0), and the space after. */
int fs__jcur_next(fs__jcur *o, unsigned char close, int *more);
/* At a member's name: the name into buf, then the ':'. A name that does
 * not fit in cap (one the caller cannot know) leaves "" in buf and goes
 * to *big, from the cursor's allocator; else *big is NULL. */
int fs__jcur_key(fs__jcur *o, char *buf, size_t cap, char **big);
/* At '"': the string, unescaped, into buf when shorter than cap; 1,
 * without moving, when it is not. */
int fs__jcur_string_to(fs__jcur *o, char *buf, size_t cap);
/* The same into *out from the cursor's allocator. */
int fs__jcur_string(fs__jcur *o, char **out);
/* n bytes from the cursor's allocator: its arena, else cJSON_malloc. */
void *fs__jcur_alloc(fs__jcur *o, size_t n);
/* A number into it (type, valuedouble, valueint as cJSON sets them);
 * only checked when it is NULL. */
int fs__jcur_number(fs__jcur *o, cJSON *it);
/* Any value into the zeroed node it, as cJSON would build it, or only
 * checked (nothing allocated) when it is NULL. On failure it may hold
 * part of a tree, for cJSON_Delete. */
int fs__jcur_value(fs__jcur *o, cJSON *it);

/* fs_json_parse, noting in nums (when not NULL) the text of every number
 * of the tree; the caller frees nums->v. */
int fs__json_parse_noting(const char *text, size_t n, const fs_limits *lim,
                          cJSON **out, fs__jnums *nums, fs_err *err);

/* The entry of nums for the number node it, looked for from *from on
 * (and *from moved past it: asked for in reading order, a tree's numbers
 * are found in one pass); NULL when it is not a number of nums. */
const fs__jnum *fs__jnums_find(const fs__jnums *nums, size_t *from,
                               const cJSON *it);

/* Sets e to "PATH: NUM is beyond +-2^53 ...", for the integer num (len
 * bytes of number text) at path; returns FS_EMALFORMED. */
int fs__err_beyond(fs_err *e, const char *path, const unsigned char *num,
                   size_t len);

/* The JSON number text s[0..n) (as fs__jcur_number took it) as an
 * integer: FS__FIELD_OK when its exact decimal value is one within
 * +-2^53 (1e3 and 2.0 are; 9007199254740993 and 1.0000000000000001,
 * which a double would round to one, are not), FS__FIELD_RANGE for an
 * integer beyond, FS__FIELD_WRONG for any other number. */
int fs__json_exact_int(const unsigned char *s, size_t n, int64_t *out);

/* Reads member key of obj as an integral JSON number within +-2^53.
 * FS__FIELD_MISSING when there is no such member, FS__FIELD_WRONG for
 * anything else there (null, 1.5, "1", 1e300). */
int fs__json_int(const cJSON *obj, const char *key, int64_t *out);

/* Reads member key of obj as a string; *out is borrowed from obj. */
int fs__json_str(const cJSON *obj, const char *key, const char **out);

/* The same two for a member already found (it may be NULL: missing). */
int fs__json_int_item(const cJSON *it, int64_t *out);
int fs__json_str_item(const cJSON *it, const char **out);

/* Unformatted JSON text of item in memory from malloc (cJSON's own
 * output may come from other hooks), so callers free() it. NULL when out
 * of memory. */
char *fs__json_print(const cJSON *item);
/* The same text in a block of arena a. */
char *fs__json_print_in(const cJSON *item, fs__arena *a);

/* Adds an integer member, refusing values JSON cannot carry exactly;
 * from 10^15 on as a cJSON_Raw node of its digits (cJSON would print a
 * number node with 15 significant digits only). */
int fs__json_add_int(cJSON *obj, const char *key, int64_t v);

/* fs_sha256_init, but always the plain rounds (the fallback when
 * libcrypto has no SHA-256), so that tests reach them. */
void fs__sha256_init_plain(fs_sha256_ctx *c);

#endif /* FS_INTERNAL_H */
