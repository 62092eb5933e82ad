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

/* Results of the member readers below. */
enum { FS__FIELD_OK = 0, FS__FIELD_MISSING = 1, FS__FIELD_WRONG = 2 };

/* fs_json_parse without its one-pass parser: the pre-scan and cJSON
 * alone. For tests that check the two give the same result. */
int fs__json_parse_reference(const char *text, size_t n, const fs_limits *lim,
                             cJSON **out, fs_err *err);

/* 1 when a and b are the same tree: types, values (bit for bit), keys,
 * strings, order, and cJSON's prev links. For tests. */
int fs__json_same_tree(const cJSON *a, const cJSON *b);

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

/* Adds an integer member, refusing values JSON cannot carry exactly. */
int fs__json_add_int(cJSON *obj, const char *key, int64_t v);

#endif /* FS_INTERNAL_H */
