/*
 * fs_protocol.h - the fieldsync wire library, shared by agent and hub.
 *
 * Everything that crosses the network is built and checked here: gzip
 * framing, JSON parsing of untrusted bytes under hard limits, identifier
 * syntax, UUIDv7 ids, the hybrid logical clock, changesets (agent -> hub)
 * and push replies (hub -> agent). protocol/PROTOCOL.md is the normative
 * description; this header is its C face.
 *
 * Conventions: functions return 0 (FS_OK) or a negative FS_E* code; results
 * go out through pointers. Free functions accept NULL. Where a function can
 * say more than a code, it fills an fs_err whose message names the problem
 * and, for JSON, its path (e.g. "changes[3].form_version: not an integer").
 */
#ifndef FS_PROTOCOL_H
#define FS_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FS_PROTOCOL_VERSION 1 /* shape of messages on the wire */
#define FS_SCHEMA_VERSION 1   /* shape of the records they carry */

/* ---- errors ---------------------------------------------------------- */

enum {
    FS_OK = 0,
    FS_ENOMEM = -1,     /* out of memory */
    FS_EINVAL = -2,     /* bad argument from our own code */
    FS_EMALFORMED = -3, /* bytes do not parse: bad gzip, bad JSON, bad shape */
    FS_ETOOBIG = -4,    /* a size, count, ratio or depth limit was exceeded */
    FS_EVERSION = -5,   /* protocol or schema version we cannot read */
    FS_EIDENT = -6,     /* an identifier has the wrong syntax */
    FS_EUTF8 = -7,      /* text is not valid UTF-8 */
    FS_EIO = -8,        /* an operating-system call failed */
    FS_ERANDOM = -9,    /* no randomness available (getrandom failed) */
    FS_ESCOPE = -10,    /* outside the sender's areas or forms */
    FS_EINVALID = -11,  /* answers break their form's rules (fs_form.h) */
};

/* Words for a code, for people ("JSON nesting or size limit exceeded"). */
const char *fs_strerror(int code);
/* Short stable name for a code, for the wire ("too_big"). */
const char *fs_errname(int code);

#define FS_ERRMSG_MAX 256
typedef struct fs_err {
    int code;                /* FS_E* */
    char msg[FS_ERRMSG_MAX]; /* what was wrong and where, NUL-terminated */
} fs_err;

/* Sets err (when not NULL) to code and a printf-style message; returns
 * code, so callers can `return fs_err_set(err, FS_ETOOBIG, "...")`. */
int fs_err_set(fs_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- limits on untrusted input --------------------------------------- */

typedef struct fs_limits {
    size_t max_compressed;   /* request body as received; 1 MiB */
    size_t max_decompressed; /* after gunzip; 8 MiB */
    unsigned max_ratio;      /* decompressed/compressed once past 64 KiB;
                                200 */
    unsigned max_depth;      /* JSON nesting of objects and arrays; 16 */
    size_t max_changes;      /* changes in one changeset; 1000 */
    size_t max_string;       /* bytes in one JSON string (key or value);
                                64 KiB */
    size_t max_answers;      /* members of one submission's answers; 500 */
    size_t max_values;       /* JSON values (containers, members, array
                                elements) in one document; 200,000. Bounds
                                cJSON's memory: 8 MiB of "[0,0,0..." would
                                otherwise cost ~330 MB of nodes. */
} fs_limits;

/* Fills lim with the defaults above (the values PROTOCOL.md promises). */
void fs_limits_default(fs_limits *lim);

/* ---- bounded byte buffer --------------------------------------------- */

/* A growable buffer with a hard cap, checked before it grows. */
typedef struct fs_buf {
    unsigned char *data; /* owned; NUL-terminated after every append */
    size_t len;
    size_t cap; /* bytes held without growing (plus 1 for the NUL); <= max */
    size_t max; /* appends that would pass max fail with FS_ETOOBIG */
} fs_buf;

void fs_buf_init(fs_buf *b, size_t max);
int fs_buf_append(fs_buf *b, const void *p, size_t n);
void fs_buf_reset(fs_buf *b); /* len = 0, keeps memory */
void fs_buf_free(fs_buf *b);

/* ---- gzip ------------------------------------------------------------ */

/* Appends the gzip (RFC 1952) form of in[0..n) to out at the given zlib
 * level (1..9; 6 is the usual). */
int fs_gzip(const void *in, size_t n, int level, fs_buf *out);

/* Appends the decompressed bytes of one complete gzip member to out.
 * Refuses with FS_ETOOBIG, before memory grows past it, input larger than
 * lim->max_compressed, output larger than lim->max_decompressed, or a
 * ratio above lim->max_ratio; FS_EMALFORMED for bad or truncated data or
 * trailing garbage. */
int fs_gunzip(const void *in, size_t n, const fs_limits *lim, fs_buf *out,
              fs_err *err);

/* ---- JSON of untrusted origin ---------------------------------------- */

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, no
 * code points above U+10FFFF), else 0. */
int fs_utf8_valid(const char *s, size_t n);

/* Parses text[0..n) into *out (caller frees with cJSON_Delete), the tree
 * cJSON builds, after checking UTF-8 validity, nesting depth
 * (lim->max_depth), string lengths (lim->max_string) and the number of
 * values (lim->max_values), each before memory is allocated for it.
 * Trailing bytes other than white space are refused. */
int fs_json_parse(const char *text, size_t n, const fs_limits *lim, cJSON **out,
                  fs_err *err);

/* Parses NUL-terminated JSON that fieldsync itself wrote (a stored
 * answers object, a payload in the hub's or the agent's database) into a
 * tree the caller frees with cJSON_Delete; NULL when text is NULL or not
 * JSON. Safe to call from any thread (cJSON_Parse is not: it writes a
 * global error pointer), with limits wide enough for anything stored
 * after the checks above. */
cJSON *fs_json_parse_stored(const char *text);

/* ---- identifiers ----------------------------------------------------- */

#define FS_UUID_LEN 36  /* canonical text form, lower-case hex */
#define FS_ID_MAX 64    /* form ids, field names, area codes */
#define FS_NAME_MAX 128 /* collector and device display names */

/* Each returns 1 when s has the syntax, else 0. */
int fs_valid_uuid(const char *s);       /* 8-4-4-4-12 lower-case hex */
int fs_valid_form_id(const char *s);    /* [a-z][a-z0-9_]{0,63} */
int fs_valid_field_name(const char *s); /* [a-z][a-z0-9_]{0,63} */
int fs_valid_area_code(const char *s);  /* [A-Za-z0-9][A-Za-z0-9._-]{0,63} */
/* A form's choice code: [A-Za-z0-9][A-Za-z0-9._+-]{0,63} ("65+"). */
int fs_valid_choice_code(const char *s);
/* Printable UTF-8 without control characters, 1..FS_NAME_MAX bytes. */
int fs_valid_name(const char *s);

/* 1 when item is in scope: "" or "*" (everything), or codes joined by
 * commas ("CITY-N01,CITY-N02"), the form hub and agent keep a device's
 * areas and forms in. Codes have no commas, so no escaping is needed. */
int fs_scope_has(const char *scope, const char *item);

/* Gives the parent of area code in out ("" at the top): 1 when the area
 * is known, 0 when not, or a negative error of the caller's own. */
typedef int (*fs_parent_fn)(void *ctx, const char *code, char *out, size_t cap);

/* 1 when scope (a list of area codes, as fs_scope_has reads it) holds
 * area or an area above it, walking up with parent_of; parent, when not
 * NULL, is the area's parent as the caller knows it already (an area
 * not stored yet). 0 when not, and when the chain of parents is longer
 * than 64 (a cycle); parent_of's error as it returned it. */
int fs_area_covered(const char *scope, const char *area, const char *parent,
                    fs_parent_fn parent_of, void *ctx);

/* ---- randomness, hashes, ids ----------------------------------------- */

/* Fills p with n bytes from getrandom(2). */
int fs_random_bytes(void *p, size_t n);

void fs_sha256(const void *p, size_t n, unsigned char out[32]);
/* Lower-case hex digest, NUL-terminated. */
void fs_sha256_hex(const void *p, size_t n, char out[65]);

/* SHA-256 of bytes given in pieces (a file read through a fixed buffer),
 * the same digest as fs_sha256 of them all at once. Init, any number of
 * updates, then final exactly once: final frees what init took. The
 * members are the implementation's. */
typedef struct fs_sha256_ctx {
    void *evp;               /* libcrypto's context, or NULL: plain rounds */
    uint32_t h[8];           /* plain rounds: the state */
    unsigned char block[64]; /* plain rounds: bytes not yet compressed */
    size_t used;             /* of block */
    uint64_t total;          /* bytes given so far */
    int failed;              /* libcrypto failed midway */
} fs_sha256_ctx;

void fs_sha256_init(fs_sha256_ctx *c);
void fs_sha256_update(fs_sha256_ctx *c, const void *p, size_t n);
/* The digest as lower-case hex, NUL-terminated: FS_OK, or FS_ENOMEM
 * (out empty) when libcrypto failed midway. */
int fs_sha256_final_hex(fs_sha256_ctx *c, char out[65]);

/* The content type of a file from its first n bytes (FS_SNIFF_BYTES
 * are enough), e.g. "image/png"; NULL when the table does not know them.
 * Static storage. */
#define FS_SNIFF_BYTES 16
const char *fs_sniff_type(const unsigned char *b, size_t n);

/* Writes all n bytes to fd, again after a short write or EINTR: 0, or
 * -1 with errno set (buf.c). */
int fs_write_full(int fd, const void *p, size_t n);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void fs_hex(const unsigned char *p, size_t n, char *out);
/* Wall clock in milliseconds since the Unix epoch. */
uint64_t fs_now_ms(void);

/* A time-ordered UUID (RFC 9562 version 7): 48 bits of milliseconds, then
 * 74 random bits. Ids sort by creation time, which keeps B-tree inserts at
 * the right edge; uniqueness rests on the random bits, never on the
 * clock. */
int fs_uuid_v7(char out[FS_UUID_LEN + 1]);

/* ---- hybrid logical clock -------------------------------------------- */

/* An HLC stamp is 48 bits of milliseconds and a 16-bit counter:
 * (ms << 16) | counter. On the wire it is 16 lower-case hex digits, a
 * string because JSON numbers lose precision past 2^53. Ties between
 * equal stamps are broken by device id (fs_hlc_cmp). */
#define FS_HLC_TEXT_LEN 16

/* A local event (a write): returns a stamp greater than *state and than
 * any earlier one, and stores it in *state. */
uint64_t fs_hlc_tick(uint64_t *state, uint64_t wall_ms);
/* Receiving a remote stamp: advances *state past it. */
void fs_hlc_observe(uint64_t *state, uint64_t remote, uint64_t wall_ms);
void fs_hlc_format(uint64_t hlc, char out[FS_HLC_TEXT_LEN + 1]);
int fs_hlc_parse(const char *s, uint64_t *out);
/* Total order: by stamp, then device id (strcmp). <0, 0, >0. */
int fs_hlc_cmp(uint64_t a, const char *dev_a, uint64_t b, const char *dev_b);

/* ---- changesets ------------------------------------------------------ */

typedef enum fs_change_kind {
    FS_CHANGE_SUBMISSION = 1, /* a finalized form submission or revision */
    FS_CHANGE_ENTITY = 2,     /* a registry entity created, edited or
                                 deleted (PROTOCOL.md 4.2.1) */
} fs_change_kind;

/* One submission as it travels. Strings are NUL-terminated copies. */
typedef struct fs_submission {
    char id[FS_UUID_LEN + 1]; /* UUIDv7 made on the device */
    char form_id[FS_ID_MAX + 1];
    int64_t form_version;            /* >= 1 */
    char area[FS_ID_MAX + 1];        /* area code, "" when the form has none */
    char collector[FS_NAME_MAX + 1]; /* who recorded it, "" when unknown */
    uint64_t hlc;
    int64_t created_ms; /* device wall clock; informative only */
    int64_t rev;        /* 1 for the first revision */
    int64_t base_rev;   /* revision this one amends; 0 for none */
    char *answers_json; /* owned: canonical JSON object text */
    /* Owned: the answers as parsed by fs_changeset_decode, so that a
     * check of them needs no second parse; NULL in a submission built
     * any other way. fs_change_clear deletes it. */
    cJSON *answers;
    /* 1 when answers and answers_json live in the decoded changeset's
     * own memory, freed with it (fs_changeset_free), never alone. */
    int answers_in_arena;
} fs_submission;

typedef enum fs_entity_op {
    FS_ENTITY_NEW = 1,    /* a new entity: every field with base 0 */
    FS_ENTITY_SET = 2,    /* some fields of an existing entity */
    FS_ENTITY_DELETE = 3, /* the whole entity; fields carry bases only */
} fs_entity_op;

/* "new", "set", "delete"; NULL for other values. */
const char *fs_entity_op_name(fs_entity_op op);

/* One field of an entity change: the value the device wrote and the
 * hub version of that field it had seen when it wrote it (0: none). */
typedef struct fs_entity_edit {
    char field[FS_ID_MAX + 1];
    int64_t base;     /* >= 0 */
    char *value_json; /* owned canonical JSON; "null" clears the field;
                          NULL in a delete (bases only) */
} fs_entity_edit;

/* One entity change as it travels. Edits are sorted by field name and
 * name each field at most once. */
typedef struct fs_entity_change {
    fs_entity_op op;
    char type[FS_ID_MAX + 1];        /* entity type, e.g. "mechanism" */
    char id[FS_UUID_LEN + 1];        /* UUID made by whoever created it */
    char collector[FS_NAME_MAX + 1]; /* "" when unknown */
    uint64_t hlc;
    int64_t created_ms; /* device wall clock; informative */
    size_t n;
    fs_entity_edit *edits; /* owned array of n */
} fs_entity_change;

typedef struct fs_change {
    int64_t seq; /* outbox sequence on the sending device */
    fs_change_kind kind;
    /* Decoding: 0 when the change is well-formed, else the FS_E* code and
     * message of its first problem. A bad change is refused alone; the
     * rest of the changeset still merges. */
    int err;
    char errmsg[FS_ERRMSG_MAX];
    fs_submission sub;    /* kind == FS_CHANGE_SUBMISSION */
    fs_entity_change ent; /* kind == FS_CHANGE_ENTITY */
} fs_change;

typedef struct fs_changeset {
    int protocol; /* FS_PROTOCOL_VERSION */
    int schema;   /* FS_SCHEMA_VERSION */
    char device[FS_UUID_LEN + 1];
    int64_t first_seq; /* >= 1 */
    int64_t last_seq;  /* first_seq + n - 1 */
    size_t n;
    fs_change *changes; /* owned array of n */
    /* Decoding's: where the answers of its changes live; NULL when the
     * changeset was built any other way. */
    struct fs__arena *arena;
} fs_changeset;

/* Allocates an empty changeset with room for cap changes. */
fs_changeset *fs_changeset_new(size_t cap);
void fs_changeset_free(fs_changeset *cs); /* frees answers_json and
                                              entity edits too */
/* Frees what one change owns (answers, entity edits) and zeroes those
 * members; c itself is the caller's. */
void fs_change_clear(fs_change *c);

/* Appends an edit to e (growing its array; value_json is copied, may be
 * NULL). For building changes; keeps no order - the caller adds fields
 * in name order. */
int fs_entity_add_edit(fs_entity_change *e, const char *field, int64_t base,
                       const char *value_json);

/* Serialises one change as the JSON object PROTOCOL.md describes (caller
 * deletes). Returns NULL when out of memory, when answers_json is missing
 * or not a JSON object, when an entity edit's value is not JSON (or is
 * missing outside a delete), when kind is unknown (as for a change
 * decoded with an unknown kind), or when an integer is beyond +-2^53.
 * Integers of 10^15 and more are cJSON_Raw nodes of their digits, which
 * print exactly (a number node would print 15 significant digits). */
cJSON *fs_change_to_json(const fs_change *c);

/* Encodes cs as JSON and, when gzip_level > 0, gzips it; appends to out.
 * *json_len (when not NULL) receives the size before compression. The
 * same changeset always encodes to the same bytes. */
int fs_changeset_encode(const fs_changeset *cs, int gzip_level, fs_buf *out,
                        size_t *json_len);

/* Decodes untrusted bytes (gzip when gzipped != 0) under lim. Envelope
 * problems - bad gzip or JSON, missing or mistyped header fields, versions
 * other than ours (FS_EVERSION), too many changes, sequence numbers that
 * are not first_seq, first_seq+1, ... last_seq - fail the whole changeset.
 * Problems inside one change set that change's err/errmsg only.
 * On success *out is the caller's (fs_changeset_free). digest (when not
 * NULL) receives the SHA-256 hex of the decompressed JSON bytes, which
 * identifies a replay. */
int fs_changeset_decode(const void *body, size_t n, int gzipped,
                        const fs_limits *lim, fs_changeset **out,
                        char digest[65], fs_err *err);

/* ---- push replies ---------------------------------------------------- */

typedef enum fs_result_status {
    FS_RES_APPLIED = 1,   /* stored now */
    FS_RES_DUPLICATE = 2, /* an identical copy was stored before: no-op */
    FS_RES_DIVERGENT = 3, /* same id, other content: kept for an admin */
    FS_RES_REFUSED = 4,   /* not stored; error/message say why */
} fs_result_status;

const char *fs_result_status_name(fs_result_status s); /* "applied"... */

typedef struct fs_result {
    int64_t seq;
    fs_result_status status;
    char error[32];              /* wire error code, "" unless refused */
    char message[FS_ERRMSG_MAX]; /* for the user, "" unless refused */
} fs_result;

typedef struct fs_push_reply {
    int64_t first_seq;
    int64_t last_seq;
    int64_t acked_seq; /* the hub's acknowledged sequence for the device */
    size_t n;
    fs_result *results; /* owned array of n */
} fs_push_reply;

/* JSON text of r (caller frees with free()). NULL when out of memory. */
char *fs_push_reply_encode(const fs_push_reply *r);
int fs_push_reply_decode(const char *text, size_t n, const fs_limits *lim,
                         fs_push_reply **out, fs_err *err);
void fs_push_reply_free(fs_push_reply *r);

#ifdef __cplusplus
}
#endif
#endif /* FS_PROTOCOL_H */
