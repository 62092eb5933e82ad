/*
 * reference.h - independent ways to do what the wire library does, for
 * differential tests only (tests/unit, tests/fuzz): what the library
 * gives must agree with them on any input.
 */
#ifndef FS_REFERENCE_H
#define FS_REFERENCE_H

#include <stddef.h>

#include "fs_internal.h"
#include "fs_protocol.h"

/* JSON as fieldsync parsed it before it had a parser of its own: a
 * linear pre-scan of the limits and the encoding, then cJSON. Same
 * contract as fs_json_parse. Not thread-safe (cJSON_Parse). */
int ref_json_parse(const char *text, size_t n, const fs_limits *lim,
                   cJSON **out, fs_err *err);

/* 1 when fs_json_parse and ref_json_parse agree on text[0..n) under lim:
 * both take it and build the same tree (fs__json_same_tree), or both
 * refuse it. A refusal agrees when it has the same code at the same byte,
 * or when fs_json_parse stops at a syntax error (FS_EMALFORMED) no later
 * than the byte the reference names: the reference checks the limits
 * and the encoding of the whole text before its syntax, the parser
 * reads in order and stops at the first problem. Else 0, with the two
 * outcomes in why. */
int ref_json_agrees(const char *text, size_t n, const fs_limits *lim, char *why,
                    size_t whylen);

/* 1 when a and b are the same tree: types, values (bit for bit), keys,
 * strings, order, and cJSON's prev links. */
int ref_same_tree(const cJSON *a, const cJSON *b);

/* PROTOCOL.md 4.2 read off a whole tree, plainly, for comparison with
 * fs_changeset_decode. Same contract, except that a message is only the
 * path of what was wrong ("changes[2].seq", "protocol"), for a change's
 * error as for the whole changeset's, unless it comes from fs_gunzip or
 * fs_json_parse. It sees numbers as doubles only, so it takes an integer
 * a double rounds to (9007199254740993 as 2^53) that the decoder, which
 * reads the digits, refuses. */
int ref_changeset_decode(const void *body, size_t n, int gzipped,
                         const fs_limits *lim, fs_changeset **out, fs_err *err);

/* 1 when fs_changeset_decode and ref_changeset_decode agree on the body:
 * the same code, for the same path (a gzip or JSON problem: the same
 * message); and when it decodes, the same envelope and, change by change,
 * the same fields, canonical texts and answers trees, or the same error
 * code for the same path. Else 0, with the difference in why - unless
 * the body has a run of more than 15 digits, where the two may differ on
 * such an integer. */
int ref_changeset_agrees(const void *body, size_t n, int gzipped,
                         const fs_limits *lim, char *why, size_t whylen);

#endif
