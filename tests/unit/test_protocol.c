/*
 * test_protocol.c - unit tests of the wire library (protocol/).
 *
 * A table of named cases: run them all, or the one named by argv[1].
 * Prints "ok - name" or "FAIL - name: reason"; exits 1 on any failure.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fs_entity.h"
#include "fs_internal.h" /* fs__json_print */
#include "fs_protocol.h"
#include "fs_schema.h"
#include "reference.h"
#include "unit.h"

/* ---- harness --------------------------------------------------------- */

/* Asserts a return code, naming both codes on failure. */
#define CHECK_RC(expr, want)                                                   \
    do {                                                                       \
        int got_ = (expr);                                                     \
        if (got_ != (want))                                                    \
            return failf(__FILE__, __LINE__, "%s: got %s, want %s", #expr,     \
                         fs_errname(got_), fs_errname(want));                  \
    } while (0)

/* Asserts that haystack contains needle. */
#define CHECK_HAS(hay, needle)                                                 \
    do {                                                                       \
        if (strstr((hay), (needle)) == NULL)                                   \
            return failf(__FILE__, __LINE__, "'%s' does not contain '%s'",     \
                         (hay), (needle));                                     \
    } while (0)

/* ---- helpers --------------------------------------------------------- */

#define DEV "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
#define DEV2 "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"

static char *dupstr(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);

    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

/* Deterministic filler for buffers whose content does not matter. */
static void fill_text(unsigned char *p, size_t n, unsigned seed)
{
    static const char words[] = "the quick brown fox jumps over a lazy dog ";
    size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)words[(seed >> 16) % (sizeof(words) - 1)];
    }
}

/* A changeset of n valid submissions with every field set. */
static fs_changeset *make_cs(size_t n)
{
    fs_changeset *cs = fs_changeset_new(n);
    size_t i;

    if (cs == NULL)
        return NULL;
    memcpy(cs->device, DEV, sizeof(DEV));
    cs->first_seq = 7;
    cs->last_seq = 7 + (int64_t)n - 1;
    for (i = 0; i < n; i++) {
        fs_change *c = &cs->changes[i];
        fs_submission *s = &c->sub;
        char ans[128];

        c->seq = 7 + (int64_t)i;
        c->kind = FS_CHANGE_SUBMISSION;
        snprintf(s->id, sizeof(s->id), "0190a1b2-c3d4-7e5f-9a9b-%012x",
                 (unsigned)i);
        snprintf(s->form_id, sizeof(s->form_id), "household_survey");
        s->form_version = 3;
        if (i % 2 == 0) {
            snprintf(s->area, sizeof(s->area), "N-01");
            snprintf(s->collector, sizeof(s->collector), "Amina Diallo");
        }
        s->hlc = ((uint64_t)1700000000000 << 16) | i;
        s->created_ms = 1700000000000 + (int64_t)i;
        s->rev = 1 + (int64_t)(i % 3);
        s->base_rev = s->rev - 1;
        snprintf(ans, sizeof(ans),
                 "{\"head_name\":\"Aïcha\",\"members\":%zu,"
                 "\"tags\":[\"a\",\"b\"]}",
                 i + 1);
        s->answers_json = dupstr(ans);
        if (s->answers_json == NULL) {
            fs_changeset_free(cs);
            return NULL;
        }
        cs->n++;
    }
    return cs;
}

/* Compares every field of two changesets; returns a failure or 0. */
static int same_cs(const fs_changeset *a, const fs_changeset *b)
{
    size_t i;

    CHECK(a->protocol == b->protocol);
    CHECK(a->schema == b->schema);
    CHECK(strcmp(a->device, b->device) == 0);
    CHECK(a->first_seq == b->first_seq);
    CHECK(a->last_seq == b->last_seq);
    CHECK(a->n == b->n);
    for (i = 0; i < a->n; i++) {
        const fs_change *x = &a->changes[i], *y = &b->changes[i];

        CHECK(x->seq == y->seq);
        CHECK(x->kind == y->kind);
        CHECK(x->err == 0 && y->err == 0);
        CHECK(strcmp(x->sub.id, y->sub.id) == 0);
        CHECK(strcmp(x->sub.form_id, y->sub.form_id) == 0);
        CHECK(x->sub.form_version == y->sub.form_version);
        CHECK(strcmp(x->sub.area, y->sub.area) == 0);
        CHECK(strcmp(x->sub.collector, y->sub.collector) == 0);
        CHECK(x->sub.hlc == y->sub.hlc);
        CHECK(x->sub.created_ms == y->sub.created_ms);
        CHECK(x->sub.rev == y->sub.rev);
        CHECK(x->sub.base_rev == y->sub.base_rev);
        CHECK(strcmp(x->sub.answers_json, y->sub.answers_json) == 0);
    }
    return 0;
}

/* Encodes make_cs(n) without gzip and parses it back for mutation. */
static cJSON *good_json(size_t n)
{
    fs_changeset *cs = make_cs(n);
    cJSON *root = NULL;
    fs_buf b;

    fs_buf_init(&b, 1 << 20);
    if (cs != NULL && fs_changeset_encode(cs, 0, &b, NULL) == FS_OK)
        root = cJSON_ParseWithLength((const char *)b.data, b.len);
    fs_buf_free(&b);
    fs_changeset_free(cs);
    return root;
}

/* Prints root and decodes it under lim (defaults when NULL). */
static int decode_tree(const cJSON *root, const fs_limits *lim,
                       fs_changeset **out, fs_err *err)
{
    char *text = cJSON_PrintUnformatted(root);
    int rc;

    if (text == NULL)
        return FS_ENOMEM;
    rc = fs_changeset_decode(text, strlen(text), 0, lim, out, NULL, err);
    cJSON_free(text);
    return rc;
}

static int decode_str(const char *text, fs_changeset **out, fs_err *err)
{
    return fs_changeset_decode(text, strlen(text), 0, NULL, out, NULL, err);
}

static cJSON *change_at(cJSON *root, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(root, "changes"), i);
}

/* Replaces (or, with json NULL, deletes) member key of obj. */
static void set_member(cJSON *obj, const char *key, const char *json)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    if (json != NULL)
        cJSON_AddItemToObject(obj, key, cJSON_Parse(json));
}

static int gzip_str(const char *s, fs_buf *out)
{
    fs_buf_init(out, 1 << 20);
    return fs_gzip(s, strlen(s), 6, out);
}

/* ---- errors and buffers ---------------------------------------------- */

static int test_errnames(void)
{
    static const struct {
        int code;
        const char *name;
    } names[] = {
        {FS_OK, "ok"},
        {FS_ENOMEM, "no_memory"},
        {FS_EINVAL, "invalid_argument"},
        {FS_EMALFORMED, "malformed"},
        {FS_ETOOBIG, "too_big"},
        {FS_EVERSION, "unsupported_version"},
        {FS_EIDENT, "bad_identifier"},
        {FS_EUTF8, "bad_utf8"},
        {FS_EIO, "io_error"},
        {FS_ERANDOM, "no_randomness"},
        {FS_ESCOPE, "out_of_scope"},
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        CHECK(strcmp(fs_errname(names[i].code), names[i].name) == 0);
        CHECK(strlen(fs_strerror(names[i].code)) > 3);
    }
    CHECK(strcmp(fs_errname(-99), "unknown") == 0);
    return 0;
}

static int test_err_set(void)
{
    fs_err e;
    char big[400];

    CHECK(fs_err_set(&e, FS_ETOOBIG, "x=%d", 5) == FS_ETOOBIG);
    CHECK(e.code == FS_ETOOBIG && strcmp(e.msg, "x=5") == 0);
    CHECK(fs_err_set(NULL, FS_EIO, "ignored") == FS_EIO);
    /* A message cut at the limit never ends inside a UTF-8 character:
     * 254 ASCII bytes then "é" leaves one byte of room for two. */
    memset(big, 'a', 254);
    memcpy(big + 254, "\xc3\xa9tail", 7);
    fs_err_set(&e, FS_EINVAL, "%s", big);
    CHECK(strlen(e.msg) == 254);
    CHECK(fs_utf8_valid(e.msg, strlen(e.msg)));
    return 0;
}

static int test_buf_cap(void)
{
    fs_buf b;
    unsigned char chunk[1000];
    int i;

    memset(chunk, 'x', sizeof(chunk));
    fs_buf_init(&b, 4500);
    CHECK_RC(fs_buf_append(&b, "", 0), FS_OK);
    CHECK(b.data != NULL && b.data[0] == '\0');
    for (i = 0; i < 4; i++)
        CHECK_RC(fs_buf_append(&b, chunk, sizeof(chunk)), FS_OK);
    CHECK_RC(fs_buf_append(&b, chunk, sizeof(chunk)), FS_ETOOBIG);
    CHECK(b.len == 4000 && b.cap <= 4500);
    CHECK_RC(fs_buf_append(&b, chunk, 500), FS_OK);
    CHECK(b.len == 4500 && b.cap == 4500 && b.data[4500] == '\0');
    CHECK_RC(fs_buf_append(&b, chunk, 1), FS_ETOOBIG);
    fs_buf_reset(&b);
    CHECK(b.len == 0 && b.data[0] == '\0');
    fs_buf_free(&b);
    fs_buf_free(&b);
    fs_buf_free(NULL);
    return 0;
}

/* ---- gzip ------------------------------------------------------------ */

static int roundtrip(const unsigned char *in, size_t n)
{
    fs_buf z, out;
    fs_limits lim;
    fs_err e;
    int rc = 0;

    fs_limits_default(&lim);
    lim.max_compressed = 4u << 20; /* random data grows a little */
    fs_buf_init(&z, 4u << 20);
    fs_buf_init(&out, lim.max_decompressed);
    if (fs_gzip(in, n, 6, &z) != FS_OK)
        rc = failf(__FILE__, __LINE__, "fs_gzip failed");
    else if (z.len < 18 || z.data[0] != 0x1f || z.data[1] != 0x8b)
        rc = failf(__FILE__, __LINE__, "not a gzip header");
    else if (fs_gunzip(z.data, z.len, &lim, &out, &e) != FS_OK)
        rc = failf(__FILE__, __LINE__, "fs_gunzip: %s", e.msg);
    else if (out.len != n || (n > 0 && memcmp(out.data, in, n) != 0))
        rc = failf(__FILE__, __LINE__, "round trip differs");
    fs_buf_free(&z);
    fs_buf_free(&out);
    return rc;
}

static int test_gzip_empty(void)
{
    return roundtrip((const unsigned char *)"", 0);
}

static int test_gzip_small(void)
{
    const char *s = "{\"hello\":\"Dakar\",\"ok\":true}";

    return roundtrip((const unsigned char *)s, strlen(s));
}

static int test_gzip_random(void)
{
    size_t n = 1u << 20;
    unsigned char *p = malloc(n);
    int rc;

    CHECK(p != NULL);
    if (fs_random_bytes(p, n) != FS_OK) {
        free(p);
        return failf(__FILE__, __LINE__, "fs_random_bytes");
    }
    rc = roundtrip(p, n);
    free(p);
    return rc;
}

static int test_gzip_deterministic(void)
{
    const char *s = "same input, same bytes";
    fs_buf a, b;
    int same;

    CHECK_RC(gzip_str(s, &a), FS_OK);
    CHECK_RC(gzip_str(s, &b), FS_OK);
    same = a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
    fs_buf_free(&a);
    fs_buf_free(&b);
    CHECK(same);
    CHECK_RC(fs_gzip("x", 1, 0, &a), FS_EINVAL);
    CHECK_RC(fs_gzip("x", 1, 10, &a), FS_EINVAL);
    return 0;
}

/* Gzips 20 KB of text and gunzips bytes derived from it by edit(). */
static int gunzip_edited(void (*edit)(fs_buf *), int want, const char *msg)
{
    unsigned char text[20000];
    fs_buf z, out;
    fs_err e = {0, ""};
    int rc;

    fill_text(text, sizeof(text), 1);
    fs_buf_init(&z, 1 << 20);
    fs_buf_init(&out, 1 << 20);
    rc = fs_gzip(text, sizeof(text), 6, &z);
    if (rc == FS_OK) {
        edit(&z);
        rc = fs_gunzip(z.data, z.len, NULL, &out, &e);
    }
    fs_buf_free(&z);
    fs_buf_free(&out);
    CHECK_RC(rc, want);
    if (msg != NULL)
        CHECK_HAS(e.msg, msg);
    CHECK(e.code == want);
    return 0;
}

static void cut_tail(fs_buf *z)
{
    z->len -= 5;
}

static void cut_middle(fs_buf *z)
{
    z->len /= 2;
}

static void cut_header(fs_buf *z)
{
    z->len = 6;
}

static void flip_body(fs_buf *z)
{
    z->data[z->len / 2] ^= 0x55;
}

static void flip_crc(fs_buf *z)
{
    z->data[z->len - 6] ^= 0x01;
}

static void flip_magic(fs_buf *z)
{
    z->data[0] = 'x';
}

static void add_garbage(fs_buf *z)
{
    fs_buf_append(z, "garbage", 7);
}

static void add_member(fs_buf *z)
{
    /* A second, complete gzip member is trailing data too. */
    fs_buf second;

    fs_buf_init(&second, 1 << 16);
    fs_gzip("more", 4, 6, &second);
    fs_buf_append(z, second.data, second.len);
    fs_buf_free(&second);
}

static int test_gunzip_truncated(void)
{
    if (gunzip_edited(cut_tail, FS_EMALFORMED, "truncated"))
        return 1;
    if (gunzip_edited(cut_middle, FS_EMALFORMED, "truncated"))
        return 1;
    return gunzip_edited(cut_header, FS_EMALFORMED, NULL);
}

static int test_gunzip_corrupt(void)
{
    if (gunzip_edited(flip_body, FS_EMALFORMED, "corrupt"))
        return 1;
    if (gunzip_edited(flip_crc, FS_EMALFORMED, "corrupt"))
        return 1;
    return gunzip_edited(flip_magic, FS_EMALFORMED, NULL);
}

static int test_gunzip_trailing(void)
{
    if (gunzip_edited(add_garbage, FS_EMALFORMED, "trailing"))
        return 1;
    return gunzip_edited(add_member, FS_EMALFORMED, "trailing");
}

static int test_gunzip_not_gzip(void)
{
    fs_buf out;
    fs_err e;

    fs_buf_init(&out, 1 << 16);
    CHECK_RC(fs_gunzip("{\"a\":1}", 7, NULL, &out, &e), FS_EMALFORMED);
    CHECK_RC(fs_gunzip("", 0, NULL, &out, &e), FS_EMALFORMED);
    CHECK(out.len == 0);
    fs_buf_free(&out);
    return 0;
}

static int test_gunzip_compressed_over(void)
{
    fs_limits lim;
    fs_buf out;
    fs_err e;
    unsigned char *big = calloc(1, 1000);

    CHECK(big != NULL);
    fs_limits_default(&lim);
    lim.max_compressed = 999;
    fs_buf_init(&out, 1 << 16);
    /* Refused on size alone: the bytes are not even gzip. */
    CHECK_RC(fs_gunzip(big, 1000, &lim, &out, &e), FS_ETOOBIG);
    CHECK(out.data == NULL);
    free(big);
    fs_buf_free(&out);
    return 0;
}

/* Gzips `mib` MiB of zeros, streaming, without holding them in memory. */
static int zero_bomb(size_t mib, fs_buf *z)
{
    static unsigned char zeros[1 << 16];
    unsigned char chunk[1 << 14];
    z_stream zs;
    size_t fed = 0, total = mib << 20;
    int zr, rc = FS_OK;

    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return FS_ENOMEM;
    do {
        if (zs.avail_in == 0 && fed < total) {
            zs.next_in = zeros;
            zs.avail_in = sizeof(zeros);
            fed += sizeof(zeros);
        }
        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        zr = deflate(&zs,
                     fed >= total && zs.avail_in == 0 ? Z_FINISH : Z_NO_FLUSH);
        if (rc == FS_OK)
            rc = fs_buf_append(z, chunk, sizeof(chunk) - zs.avail_out);
    } while (zr != Z_STREAM_END && zr != Z_STREAM_ERROR);
    deflateEnd(&zs);
    return zr == Z_STREAM_END ? rc : FS_EINVAL;
}

static int test_gunzip_bomb(void)
{
    fs_limits lim;
    fs_buf z, out;
    fs_err e;
    size_t cap, zlen;
    int rc;

    /* 50 MiB of zeros in about 50 KB: under every input limit. */
    fs_limits_default(&lim);
    fs_buf_init(&z, 1 << 20);
    CHECK_RC(zero_bomb(50, &z), FS_OK);
    zlen = z.len;
    fs_buf_init(&out, lim.max_decompressed);
    rc = fs_gunzip(z.data, z.len, &lim, &out, &e);
    cap = out.cap;
    fs_buf_free(&z);
    fs_buf_free(&out);
    CHECK(zlen < lim.max_compressed);
    CHECK_RC(rc, FS_ETOOBIG);
    /* The output buffer never grew past the cap. */
    CHECK(cap <= lim.max_decompressed);
    return 0;
}

static int test_gunzip_bomb_cap(void)
{
    fs_limits lim;
    fs_buf z, out;
    fs_err e;
    size_t cap, len;
    int rc;

    fs_limits_default(&lim);
    lim.max_ratio = 100000; /* only the size cap can stop it */
    fs_buf_init(&z, 1 << 20);
    CHECK_RC(zero_bomb(50, &z), FS_OK);
    /* The buffer's own max is larger: the limit must still hold. */
    fs_buf_init(&out, 64u << 20);
    rc = fs_gunzip(z.data, z.len, &lim, &out, &e);
    cap = out.cap;
    len = out.len;
    fs_buf_free(&z);
    fs_buf_free(&out);
    CHECK_RC(rc, FS_ETOOBIG);
    CHECK_HAS(e.msg, "more than");
    CHECK(len <= lim.max_decompressed);
    CHECK(cap <= lim.max_decompressed);
    return 0;
}

static int test_gunzip_ratio(void)
{
    fs_limits lim;
    fs_buf z, out;
    fs_err e;
    size_t len, zlen;
    int rc;

    fs_limits_default(&lim);
    lim.max_decompressed = 64u << 20; /* only the ratio can stop it */
    fs_buf_init(&z, 1 << 20);
    CHECK_RC(zero_bomb(50, &z), FS_OK);
    zlen = z.len;
    fs_buf_init(&out, lim.max_decompressed);
    rc = fs_gunzip(z.data, z.len, &lim, &out, &e);
    len = out.len;
    fs_buf_free(&z);
    fs_buf_free(&out);
    CHECK_RC(rc, FS_ETOOBIG);
    CHECK_HAS(e.msg, "times");
    CHECK(len <= (size_t)lim.max_ratio * zlen);

    /* Below 64 KiB of output a high ratio is fine. */
    fs_buf_init(&z, 1 << 20);
    fs_buf_init(&out, 1 << 20);
    {
        unsigned char *zeros = calloc(1, 60000);

        CHECK(zeros != NULL);
        rc = fs_gzip(zeros, 60000, 9, &z);
        free(zeros);
    }
    CHECK_RC(rc, FS_OK);
    CHECK(z.len * lim.max_ratio < 60000);
    rc = fs_gunzip(z.data, z.len, &lim, &out, &e);
    len = out.len;
    fs_buf_free(&z);
    fs_buf_free(&out);
    CHECK_RC(rc, FS_OK);
    CHECK(len == 60000);
    return 0;
}

static int test_gunzip_decompressed_over(void)
{
    fs_limits lim;
    fs_buf z, out;
    fs_err e;
    unsigned char *p = malloc(100000);
    int rc;

    CHECK(p != NULL);
    fs_random_bytes(p, 100000); /* incompressible: ratio stays ~1 */
    fs_limits_default(&lim);
    lim.max_decompressed = 99999;
    fs_buf_init(&z, 1 << 20);
    fs_buf_init(&out, 1 << 20);
    rc = fs_gzip(p, 100000, 6, &z);
    free(p);
    CHECK_RC(rc, FS_OK);
    rc = fs_gunzip(z.data, z.len, &lim, &out, &e);
    CHECK(out.len <= 99999);
    CHECK_RC(rc, FS_ETOOBIG);
    fs_buf_reset(&out);
    lim.max_decompressed = 100000; /* exactly at the limit is fine */
    rc = fs_gunzip(z.data, z.len, &lim, &out, &e);
    CHECK(out.len == 100000);
    fs_buf_free(&z);
    fs_buf_free(&out);
    CHECK_RC(rc, FS_OK);
    return 0;
}

/* ---- UTF-8 and JSON -------------------------------------------------- */

static int test_utf8_valid(void)
{
    static const char *good[] = {
        "",
        "plain ascii",
        "Élodie, café, garçon, œuvre",              /* French */
        "\xd8\xb9\xd8\xa7\xd8\xa6\xd8\xb4\xd8\xa9", /* Arabic */
        "\xf0\x9f\x98\x80 \xf0\x9f\x8c\x8d",        /* emoji */
        "\xe2\x82\xac\xef\xbf\xbf",                 /* euro, U+FFFF */
        "\xf4\x8f\xbf\xbf",                         /* U+10FFFF */
        "\xed\x9f\xbf",                             /* U+D7FF */
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!fs_utf8_valid(good[i], strlen(good[i])))
            return failf(__FILE__, __LINE__, "refused good[%zu]", i);
    }
    return 0;
}

static int test_utf8_invalid(void)
{
    static const char *bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xf0\x80\x80\xaf", /* overlong 4-byte */
        "\xed\xa0\x80",     /* U+D800 surrogate */
        "\xed\xbf\xbf",     /* U+DFFF surrogate */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* beyond any plane */
        "\xff",             /* never valid */
        "abc\xc3",          /* cut short */
        "\xe2\x82",         /* cut short */
        "\xf0\x9f\x98",     /* cut short emoji */
        "\x80",             /* lone continuation */
        "\xc3\x28",         /* bad continuation */
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (fs_utf8_valid(bad[i], strlen(bad[i])))
            return failf(__FILE__, __LINE__, "accepted bad[%zu]", i);
    }
    return 0;
}

/* Parses text with the given limits; returns the code. */
static int parse_with(const char *text, size_t n, const fs_limits *lim,
                      fs_err *e)
{
    cJSON *root = NULL;
    int rc = fs_json_parse(text, n, lim, &root, e);

    if ((rc == FS_OK) != (root != NULL))
        rc = -100;
    cJSON_Delete(root);
    return rc;
}

static int parse(const char *text, fs_err *e)
{
    return parse_with(text, strlen(text), NULL, e);
}

static int nested(char *out, size_t outsz, unsigned depth)
{
    size_t o = 0;
    unsigned d;

    for (d = 0; d < depth; d++) {
        const char *open = d % 2 ? "[" : "{\"k\":";

        if (o + strlen(open) + 1 >= outsz)
            return -1;
        memcpy(out + o, open, strlen(open));
        o += strlen(open);
    }
    if (o + 2 > outsz)
        return -1;
    out[o++] = '1';
    for (d = depth; d-- > 0;) {
        if (o + 2 > outsz)
            return -1;
        out[o++] = d % 2 ? ']' : '}';
    }
    out[o] = '\0';
    return 0;
}

static int test_json_depth_limit(void)
{
    char text[256];
    fs_limits lim;
    fs_err e;

    fs_limits_default(&lim);
    CHECK(nested(text, sizeof(text), lim.max_depth) == 0);
    CHECK_RC(parse(text, &e), FS_OK);
    CHECK(nested(text, sizeof(text), lim.max_depth + 1) == 0);
    CHECK_RC(parse(text, &e), FS_ETOOBIG);
    CHECK_HAS(e.msg, "deeper than 16");
    /* Brackets inside strings are not nesting. */
    CHECK_RC(parse("[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]", &e), FS_OK);
    lim.max_depth = 2;
    CHECK_RC(parse_with("[[1]]", 5, &lim, &e), FS_OK);
    CHECK_RC(parse_with("[[[1]]]", 7, &lim, &e), FS_ETOOBIG);
    return 0;
}

static int test_scope_has(void)
{
    CHECK(fs_scope_has("*", "CITY-N01"));
    CHECK(fs_scope_has("", "anything"));
    CHECK(fs_scope_has("CITY-N01,CITY-N02", "CITY-N01"));
    CHECK(fs_scope_has("CITY-N01,CITY-N02", "CITY-N02"));
    CHECK(!fs_scope_has("CITY-N01,CITY-N02", "CITY-N0"));
    CHECK(!fs_scope_has("CITY-N01,CITY-N02", "CITY-N012"));
    CHECK(!fs_scope_has("CITY-N01,CITY-N02", "N01,CITY"));
    CHECK(!fs_scope_has("CITY-N01", ""));
    return 0;
}

/* A flat array of n zeros: the cheapest way to make cJSON allocate. */
static char *zeros_doc(size_t n)
{
    char *p = malloc(2 * n + 2);
    size_t i;

    if (p == NULL)
        return NULL;
    p[0] = '[';
    for (i = 0; i < n; i++) {
        p[1 + 2 * i] = '0';
        p[2 + 2 * i] = i + 1 < n ? ',' : ']';
    }
    p[2 * n + 1] = '\0';
    return p;
}

static int test_json_values_limit(void)
{
    fs_limits lim;
    fs_err e;
    char *doc;
    int rc;

    fs_limits_default(&lim);
    CHECK(lim.max_values == 200000);
    /* The array itself is one value, its elements the others. */
    doc = zeros_doc(lim.max_values - 1);
    CHECK(doc != NULL);
    rc = parse_with(doc, strlen(doc), &lim, &e);
    free(doc);
    CHECK_RC(rc, FS_OK);
    doc = zeros_doc(lim.max_values);
    CHECK(doc != NULL);
    rc = parse_with(doc, strlen(doc), &lim, &e);
    free(doc);
    CHECK_RC(rc, FS_ETOOBIG);
    CHECK_HAS(e.msg, "more than 200000 values");
    /* Commas inside strings are text, not values. */
    lim.max_values = 4;
    CHECK_RC(parse_with("[\",,,,,,,,\",1,2]", 16, &lim, &e), FS_OK);
    CHECK_RC(parse_with("[{\"a\":1},2,3]", 13, &lim, &e), FS_ETOOBIG);
    return 0;
}

/* "<key>":"<value>" object with a value of n bytes made of unit. */
static char *string_doc(size_t reps, const char *unit)
{
    size_t ul = strlen(unit);
    size_t n = reps * ul + 16;
    char *p = malloc(n);
    size_t o = 0, i;

    if (p == NULL)
        return NULL;
    memcpy(p, "{\"k\":\"", 6);
    o = 6;
    for (i = 0; i < reps; i++) {
        memcpy(p + o, unit, ul);
        o += ul;
    }
    memcpy(p + o, "\"}", 3);
    return p;
}

static int check_string_limit(size_t reps_ok, const char *unit)
{
    char *ok = string_doc(reps_ok, unit);
    char *over = string_doc(reps_ok + 1, unit);
    fs_err e;
    int a, b;

    a = ok ? parse(ok, &e) : FS_ENOMEM;
    b = over ? parse(over, &e) : FS_ENOMEM;
    free(ok);
    free(over);
    CHECK_RC(a, FS_OK);
    CHECK_RC(b, FS_ETOOBIG);
    CHECK_HAS(e.msg, "longer than");
    return 0;
}

static int test_json_string_limit(void)
{
    fs_limits lim;
    fs_err e;
    cJSON *root = NULL;

    fs_limits_default(&lim);
    CHECK(lim.max_string == 65536);
    /* Counted in decoded bytes, whatever the spelling. */
    if (check_string_limit(65536, "a"))
        return 1;
    if (check_string_limit(32768, "\xc3\xa9")) /* é, 2 bytes */
        return 1;
    if (check_string_limit(65536, "\\n")) /* 1 byte each */
        return 1;
    if (check_string_limit(32768, "\\u00e9")) /* 2 bytes each */
        return 1;
    if (check_string_limit(16384, "\\ud83d\\ude00")) /* 4 bytes each */
        return 1;
    /* Keys are strings too. */
    lim.max_string = 3;
    CHECK_RC(parse_with("{\"abc\":1}", 9, &lim, &e), FS_OK);
    CHECK_RC(parse_with("{\"abcd\":1}", 10, &lim, &e), FS_ETOOBIG);
    /* And the escapes decode as cJSON would. */
    CHECK_RC(fs_json_parse("[\"\\u00e9\\ud83d\\ude00\"]", 22, NULL, &root, &e),
             FS_OK);
    CHECK(strcmp(cJSON_GetArrayItem(root, 0)->valuestring,
                 "\xc3\xa9\xf0\x9f\x98\x80") == 0);
    cJSON_Delete(root);
    return 0;
}

static int test_json_utf8(void)
{
    static const char *bad[] = {
        "{\"a\":\"\xc0\xaf\"}",         /* overlong */
        "{\"a\":\"\xed\xa0\x80\"}",     /* surrogate */
        "{\"a\":\"\xe2\x82\"}",         /* truncated sequence */
        "{\"a\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
        "{\"\xff\":1}",                 /* in a key */
    };
    fs_err e;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i], &e);

        if (rc != FS_EUTF8)
            return failf(__FILE__, __LINE__, "bad[%zu]: got %s", i,
                         fs_errname(rc));
    }
    CHECK_HAS(e.msg, "UTF-8");
    CHECK_RC(parse("{\"name\":\"Hélène Müller\","
                   "\"ar\":\"\xd8\xb9\xd8\xa7\xd8\xa6\xd8\xb4\xd8\xa9\","
                   "\"emoji\":\"\xf0\x9f\x98\x80\"}",
                   &e),
             FS_OK);
    return 0;
}

static int test_json_trailing(void)
{
    fs_err e;

    CHECK_RC(parse("{\"a\":1} \r\n\t", &e), FS_OK);
    CHECK_RC(parse("{\"a\":1}x", &e), FS_EMALFORMED);
    CHECK_HAS(e.msg, "trailing");
    CHECK_RC(parse("{\"a\":1}{\"b\":2}", &e), FS_EMALFORMED);
    CHECK_RC(parse("[1] ]", &e), FS_EMALFORMED);
    /* A NUL after the value is trailing data, not an end marker. */
    CHECK_RC(parse_with("{\"a\":1}\0", 8, NULL, &e), FS_EMALFORMED);
    return 0;
}

static int test_json_syntax(void)
{
    static const char *bad[] = {
        "",
        "   ",
        "{",
        "{\"a\":}",
        "{\"a\" 1}",
        "[1,]x",
        "{\"a\":\"unterminated}",
        "{\"a\":\"tab\there\"}",     /* raw control character */
        "{\"a\":\"nul\\u0000cut\"}", /* would cut the C string */
        "{\"a\":\"\\ud800\"}",       /* lone high surrogate */
        "{\"a\":\"\\udc00\"}",       /* lone low surrogate */
        "{\"a\":\"\\u12\"}",         /* short escape */
        "{\"a\":tru}",
        "{a:1}",
    };
    fs_err e;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i], &e);

        if (rc != FS_EMALFORMED)
            return failf(__FILE__, __LINE__, "bad[%zu] '%s': got %s", i, bad[i],
                         fs_errname(rc));
    }
    CHECK_RC(fs_json_parse("x", 1, NULL, NULL, &e), FS_EINVAL);
    return 0;
}

/* fs_json_parse takes what the pre-scan and cJSON took, with the same
 * trees, and refuses the rest as they did (tests/reference says how
 * refusals compare). Texts at the edges of JSON's grammar and of cJSON's
 * leniencies, under the default limits and under tight ones. */
static int test_json_parser_agrees(void)
{
    static const struct {
        const char *text;
        size_t n; /* 0: strlen */
    } docs[] = {
        {"{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}", 0},
        {" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } , \"c\" : [ ] } \n", 0},
        {"[0,-0,-0.0,0.5,-2.25,52.38189,4.90308,1e5,1E+5,2e-3,-1.5e300]", 0},
        {"[123456789012345,1234567890123456,9007199254740993,0."
         "1234567890123456]",
         0},
        {"[2147483647,2147483648,-2147483648,-2147483649,1e10,-1e10]", 0},
        {"[01]", 0},
        {"[00]", 0},
        {"[-01.50e+3]", 0},
        {"[1.]", 0},
        {"[5.e3]", 0},
        {"[-.5]", 0},
        {"[.5]", 0},
        {"[-]", 0},
        {"[-.]", 0},
        {"[-e5]", 0},
        {"[+1]", 0},
        {"[1-2]", 0},
        {"1-2", 0},
        {"[1.5.2]", 0},
        {"[1e5e5]", 0},
        {"[0x10]", 0},
        {"[1e]", 0},
        {"[1e+]", 0},
        {"[1e400,-1e400,1e-400]", 0},
        {"[1234567890123456789012345678901234567890123456789012345678901]", 0},
        {"[1234567890123456789012345678901234567890123456789012345678901234]",
         0},
        {"[12345678901234567890123456789012345678901234567890123456789012345"
         "678901234567890.5e-3]",
         0},
        {"[0.00000000000000000000000000000000000000000000000000000000001]", 0},
        {"{\"s\":\"q\\\"b\\\\s\\/f\\bx\\fy\\nz\\rw\\tv\"}", 0},
        {"{\"s\":\"\\u00e9\\ud83d\\ude00\\u0041\\u07ff\\uffff\"}", 0},
        {"{\"s\":\"\\ud800\\u0041\"}", 0},
        {"{\"s\":\"\\ud800x\"}", 0},
        {"{\"s\":\"\\ud83d\x1cude00\"}", 0},
        {"{\"s\":\"\\udc00\"}", 0},
        {"{\"s\":\"\\u12zz\"}", 0},
        {"{\"s\":\"\\u0000\"}", 0},
        {"{\"s\":\"\\u00\"}", 0},
        {"{\"s\":\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"}", 0},
        {"{\"s\":\"\xc3\"}", 0},
        {"{\"s\":\"\xed\xa0\x80\"}", 0},
        {"{\"s\":\"a\\x\"}", 0},
        {"{\"s\":\"a\\", 0},
        {"{\"s\":\"a\x01\"}", 0},
        {"[\xff]", 0},
        {"[1] \xff", 0},
        {"[1,] \xff", 0},
        {"\xef\xbb\xbf{\"a\":1}", 0},
        {"\xef\xbb\xbf"
         "1",
         0},
        {"\xef\xbb\xbf"
         "12",
         0},
        {"\v[1]", 0},
        {"{\"a\":1}\v", 0},
        {"{\"a\":\v1}", 0},
        {"[1,\0"
         "2]",
         5},
        {"{\"a\":1\0}", 8},
        {"{\"a\":1} x", 0},
        {"{\"a\":1,\"a\":2}", 0},
        {"{\"\":\"\"}", 0},
        {"[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]", 0},
        {"[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]", 0},
        {"nul", 0},
        {"nulll", 0},
        {"true", 0},
        {"\"plain\"", 0},
        {"-12.5", 0},
        {"   ", 0},
        {"[1", 0},
        {"[1 ", 0},
        {"{\"a\":[1,2,]}", 0},
        {"{,}", 0},
        {"{\"a\" \"b\"}", 0},
        {"{\"a\":1,}", 0},
        {"[1,2,3,4,5]", 0},
        {"[\"abcd\"]", 0},
        {"[\"ab\\u00e9\"]", 0},
    };
    fs_limits tight;
    size_t i, k;

    fs_limits_default(&tight);
    tight.max_depth = 2;
    tight.max_string = 3;
    tight.max_values = 4;
    for (k = 0; k < 2; k++) {
        for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
            size_t n = docs[i].n ? docs[i].n : strlen(docs[i].text);
            char why[600];

            if (!ref_json_agrees(docs[i].text, n, k ? &tight : NULL, why,
                                 sizeof(why)))
                return failf(__FILE__, __LINE__, "docs[%zu] limits %zu: %s", i,
                             k, why);
        }
    }
    return 0;
}

/* Each refusal names what was wrong and its byte. */
static int test_json_messages(void)
{
    static const struct {
        const char *text;
        int code;
        const char *msg;
    } docs[] = {
        {"{\"a\" 1}", FS_EMALFORMED,
         "JSON syntax error at byte 5: '1' where ':' after a member name was "
         "expected"},
        {"[1 2]", FS_EMALFORMED,
         "JSON syntax error at byte 3: '2' where ',' or ']' was expected"},
        {"{\"a\":1", FS_EMALFORMED,
         "JSON text ends at byte 6 where ',' or '}' was expected"},
        {"{a:1}", FS_EMALFORMED,
         "JSON syntax error at byte 1: 'a' where a member name in double "
         "quotes was expected"},
        {"[tru]", FS_EMALFORMED,
         "JSON syntax error at byte 1: 't' where a value was expected"},
        {"[1.5.2]", FS_EMALFORMED, "bad number at byte 1"},
        {"[\"a\\qb\"]", FS_EMALFORMED,
         "bad escape '\\q' in a JSON string at byte 3"},
        {"[\"a\\u00zz\"]", FS_EMALFORMED,
         "bad \\u escape at byte 3: four hex digits, not 0000, expected"},
        {"[\"\\ud800\"]", FS_EMALFORMED,
         "\\u escape at byte 2 is half of a UTF-16 surrogate pair without "
         "the second half"},
        {"[\"a\tb\"]", FS_EMALFORMED,
         "unescaped control character in a JSON string at byte 3"},
        {"[\"ab", FS_EMALFORMED,
         "JSON text ends inside the string that starts at byte 1"},
        {"[\"a\xc0\xaf\"]", FS_EUTF8, "invalid UTF-8 at byte 3"},
        {"[\x80]", FS_EUTF8, "invalid UTF-8 at byte 1"},
        {"[1]]", FS_EMALFORMED, "trailing data after JSON at byte 3"},
    };
    size_t i;
    fs_err e;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        int rc = parse(docs[i].text, &e);

        if (rc != docs[i].code || strcmp(e.msg, docs[i].msg) != 0)
            return failf(__FILE__, __LINE__, "docs[%zu]: %s '%s', want '%s'", i,
                         fs_errname(rc), e.msg, docs[i].msg);
    }
    return 0;
}

static int test_json_unterminated_input(void)
{
    /* The text is not NUL-terminated: a parser reading one byte past n
     * shows up under AddressSanitizer. */
    static const char *docs[] = {"{\"a\":[1,2,{\"b\":null}]}", "12345",
                                 "\"str\"", "true", "{\"a\":\"x"};
    fs_err e;
    size_t i;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        size_t n = strlen(docs[i]);
        char *p = malloc(n);
        int rc;

        CHECK(p != NULL);
        memcpy(p, docs[i], n);
        rc = parse_with(p, n, NULL, &e);
        free(p);
        CHECK_RC(rc, i == 4 ? FS_EMALFORMED : FS_OK);
    }
    return 0;
}

/* ---- identifiers ----------------------------------------------------- */

static int test_ident_uuid(void)
{
    CHECK(fs_valid_uuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
    CHECK(fs_valid_uuid("00000000-0000-4000-8000-000000000000"));
    CHECK(!fs_valid_uuid("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"));
    CHECK(!fs_valid_uuid("0190a1b2c3d47e5f8a9b0c1d2e3f4a5b"));
    CHECK(!fs_valid_uuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5"));
    CHECK(!fs_valid_uuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5bb"));
    CHECK(!fs_valid_uuid("{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5}"));
    CHECK(!fs_valid_uuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g"));
    CHECK(!fs_valid_uuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a'-"));
    CHECK(!fs_valid_uuid("0190a1b2-c3d4-7e5f-8a9b_0c1d2e3f4a5b"));
    CHECK(!fs_valid_uuid(""));
    CHECK(!fs_valid_uuid(NULL));
    return 0;
}

static int test_ident_form_field(void)
{
    static const char *good[] = {"a", "household_survey", "q1", "a_b_c_9"};
    static const char *bad[] = {
        "",    "1abc",         "_a",   "Household", "a-b",
        "a b", "a;drop table", "a'--", "a\"b",      "caf\xc3\xa9",
        "a.b", "a/b",          "a\nb", "a%",        " a",
    };
    char id[80];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK(fs_valid_form_id(good[i]));
        CHECK(fs_valid_field_name(good[i]));
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (fs_valid_form_id(bad[i]) || fs_valid_field_name(bad[i]))
            return failf(__FILE__, __LINE__, "accepted bad[%zu]", i);
    }
    memset(id, 'a', sizeof(id));
    id[64] = '\0';
    CHECK(fs_valid_form_id(id) && fs_valid_field_name(id));
    id[64] = 'a';
    id[65] = '\0';
    CHECK(!fs_valid_form_id(id) && !fs_valid_field_name(id));
    CHECK(!fs_valid_form_id(NULL) && !fs_valid_field_name(NULL));
    return 0;
}

static int test_ident_area(void)
{
    static const char *good[] = {"N-01", "a", "9", "Zone_3.b", "ab-CD.ef_"};
    static const char *bad[] = {
        "",     "-N01",          ".a",   "_a",    "N 01", "N;01", "N'01",
        "N/01", "Dakar\xc3\xa9", "N\t1", "N\"01", "N%"};
    char id[80];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK(fs_valid_area_code(good[i]));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (fs_valid_area_code(bad[i]))
            return failf(__FILE__, __LINE__, "accepted bad[%zu]", i);
    }
    memset(id, 'Z', sizeof(id));
    id[64] = '\0';
    CHECK(fs_valid_area_code(id));
    id[64] = 'Z';
    id[65] = '\0';
    CHECK(!fs_valid_area_code(id));
    return 0;
}

static int test_ident_name(void)
{
    static const char *good[] = {
        "amina",
        "Amina Diallo",
        "Hélène O'Brien-Müller",
        "\xd8\xb9\xd8\xa7\xd8\xa6\xd8\xb4\xd8\xa9",
        "Robert'); DROP TABLE students;--",
        "x",
    };
    static const char *bad[] = {
        "",      " amina",   "amina ",    "a\tb",      "a\nb",
        "a\x7f", "\xc0\xaf", "a\xc2\x85", "a\x1b[31m",
    };
    char name[200];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!fs_valid_name(good[i]))
            return failf(__FILE__, __LINE__, "refused good[%zu]", i);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (fs_valid_name(bad[i]))
            return failf(__FILE__, __LINE__, "accepted bad[%zu]", i);
    }
    memset(name, 'n', sizeof(name));
    name[128] = '\0';
    CHECK(fs_valid_name(name));
    name[128] = 'n';
    name[129] = '\0';
    CHECK(!fs_valid_name(name));
    CHECK(!fs_valid_name(NULL));
    return 0;
}

/* ---- randomness, ids, hashes ----------------------------------------- */

static int test_random_bytes(void)
{
    unsigned char a[1000], b[1000];

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    CHECK_RC(fs_random_bytes(a, sizeof(a)), FS_OK);
    CHECK_RC(fs_random_bytes(b, sizeof(b)), FS_OK);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK_RC(fs_random_bytes(a, 0), FS_OK);
    return 0;
}

static int test_hex(void)
{
    static const unsigned char p[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[9];

    fs_hex(p, sizeof(p), out);
    CHECK(strcmp(out, "000fa5ff") == 0);
    fs_hex(p, 0, out);
    CHECK(out[0] == '\0');
    return 0;
}

static int test_uuid_v7_format(void)
{
    char u[FS_UUID_LEN + 1];
    uint64_t before = fs_now_ms(), after, ms;
    char msx[13];
    int i;

    CHECK_RC(fs_uuid_v7(u), FS_OK);
    after = fs_now_ms();
    CHECK(strlen(u) == FS_UUID_LEN);
    CHECK(fs_valid_uuid(u));
    CHECK(u[14] == '7');
    CHECK(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b');
    /* The first 48 bits are the creation time in milliseconds. */
    memcpy(msx, u, 8);
    memcpy(msx + 8, u + 9, 4);
    msx[12] = '\0';
    ms = strtoull(msx, NULL, 16);
    CHECK(ms >= before && ms <= after);
    for (i = 0; i < 200; i++) {
        CHECK_RC(fs_uuid_v7(u), FS_OK);
        CHECK(u[14] == '7' && strchr("89ab", u[19]) != NULL);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static int test_uuid_v7_unique(void)
{
    enum { N = 10000 };
    char(*ids)[FS_UUID_LEN + 1] = malloc(N * sizeof(*ids));
    int i, rc = 0;

    CHECK(ids != NULL);
    for (i = 0; i < N && rc == 0; i++) {
        if (fs_uuid_v7(ids[i]) != FS_OK)
            rc = failf(__FILE__, __LINE__, "fs_uuid_v7 failed");
        /* The time prefix (first 13 characters) never goes down. */
        else if (i > 0 && memcmp(ids[i - 1], ids[i], 13) > 0)
            rc = failf(__FILE__, __LINE__, "time prefix went down: %s %s",
                       ids[i - 1], ids[i]);
    }
    if (rc == 0) {
        qsort(ids, N, sizeof(*ids), cmp_str);
        for (i = 1; i < N && rc == 0; i++) {
            if (strcmp(ids[i - 1], ids[i]) == 0)
                rc = failf(__FILE__, __LINE__, "duplicate %s", ids[i]);
        }
    }
    free(ids);
    return rc;
}

static int sha_is(const void *p, size_t n, const char *want)
{
    char hex[65];

    fs_sha256_hex(p, n, hex);
    if (strcmp(hex, want) != 0)
        return failf(__FILE__, __LINE__, "sha256 of %zu bytes: %s", n, hex);
    return 0;
}

/* The streamed digest, through libcrypto and through the plain rounds,
 * fed in pieces of every size from 1 to 130 bytes (across the block and
 * padding boundaries), equals the one-shot digest. */
static int test_sha256_streamed(void)
{
    static const size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 127, 128, 1000};
    unsigned char data[1000];

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 131 + 7);
    for (int plain = 0; plain < 2; plain++)
        for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
            for (size_t piece = 1; piece <= 130; piece++) {
                fs_sha256_ctx c;
                char want[65], got[65];
                size_t n = lens[l];

                fs_sha256_hex(data, n, want);
                if (plain)
                    fs__sha256_init_plain(&c);
                else
                    fs_sha256_init(&c);
                for (size_t off = 0; off < n; off += piece)
                    fs_sha256_update(&c, data + off,
                                     n - off < piece ? n - off : piece);
                fs_sha256_final_hex(&c, got);
                if (strcmp(got, want) != 0)
                    return failf(__FILE__, __LINE__,
                                 "streamed sha256 (%s) of %zu bytes in "
                                 "pieces of %zu: %s, not %s",
                                 plain ? "plain" : "libcrypto", n, piece, got,
                                 want);
            }
    return 0;
}

static int test_sha256(void)
{
    const char *m448 =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    unsigned char *million = malloc(1000000);
    unsigned char raw[32];
    unsigned char edge[64];
    int rc;

    CHECK(million != NULL);
    memset(million, 'a', 1000000);
    rc = sha_is("", 0,
                "e3b0c44298fc1c149afbf4c8996fb924"
                "27ae41e4649b934ca495991b7852b855") ||
         sha_is("abc", 3,
                "ba7816bf8f01cfea414140de5dae2223"
                "b00361a396177a9cb410ff61f20015ad") ||
         sha_is(m448, strlen(m448),
                "248d6a61d20638b8e5c026930c3e6039"
                "a33ce45964ff2167f6ecedd419db06c1") ||
         sha_is(million, 1000000,
                "cdc76e5c9914fb9281a1c7e284d73e67"
                "f1809a48a497200e046d39ccc7112cd0");
    free(million);
    if (rc)
        return rc;
    /* Lengths around the padding boundary (55, 56, 64 bytes). */
    memset(edge, 'a', sizeof(edge));
    rc = sha_is(edge, 55,
                "9f4390f8d30c2dd92ec9f095b65e2b9a"
                "e9b0a925a5258e241c9f1e910f734318") ||
         sha_is(edge, 56,
                "b35439a4ac6f0948b6d6f9e3c6af0f5f"
                "590ce20f1bde7090ef7970686ec6738a") ||
         sha_is(edge, 64,
                "ffe054fe7ae0cb6dc65c3af9b61d5209"
                "f439851db43d0ba5997337df154668eb");
    if (rc)
        return rc;
    fs_sha256("abc", 3, raw);
    CHECK(raw[0] == 0xba && raw[31] == 0xad);
    return test_sha256_streamed();
}

/* ---- hybrid logical clock -------------------------------------------- */

#define HLC(ms, c) (((uint64_t)(ms) << 16) | (uint64_t)(c))

static int test_hlc_tick(void)
{
    uint64_t st = 0, prev = 0, t;
    uint64_t walls[] = {1000, 1000, 1001, 1005, 1005, 1006};
    size_t i;

    for (i = 0; i < sizeof(walls) / sizeof(walls[0]); i++) {
        t = fs_hlc_tick(&st, walls[i]);
        CHECK(t > prev);
        CHECK(t == st);
        CHECK(t >> 16 == walls[i]);
        prev = t;
    }
    st = 0;
    CHECK(fs_hlc_tick(&st, 1000) == HLC(1000, 0));
    CHECK(fs_hlc_tick(&st, 1000) == HLC(1000, 1));
    CHECK(fs_hlc_tick(&st, 2000) == HLC(2000, 0));
    return 0;
}

static int test_hlc_backwards(void)
{
    uint64_t now = 1700000000000, st = 0, prev, t;
    int i;

    prev = fs_hlc_tick(&st, now);
    /* The wall clock steps back an hour: stamps keep increasing. */
    for (i = 0; i < 100; i++) {
        t = fs_hlc_tick(&st, now - 3600000 + (uint64_t)i);
        CHECK(t > prev);
        CHECK(t >> 16 == now);
        prev = t;
    }
    CHECK(prev == HLC(now, 100));
    /* When the clock passes the stamp again, it takes over. */
    CHECK(fs_hlc_tick(&st, now + 1) == HLC(now + 1, 0));
    return 0;
}

static int test_hlc_observe(void)
{
    uint64_t st = HLC(1000, 0);

    /* A remote stamp ahead of us and of our wall clock. */
    fs_hlc_observe(&st, HLC(5000, 3), 2000);
    CHECK(st == HLC(5000, 4));
    CHECK(fs_hlc_tick(&st, 2000) == HLC(5000, 5));
    /* Same millisecond everywhere: past both counters. */
    st = HLC(1000, 2);
    fs_hlc_observe(&st, HLC(1000, 7), 1000);
    CHECK(st == HLC(1000, 8));
    st = HLC(1000, 9);
    fs_hlc_observe(&st, HLC(1000, 7), 900);
    CHECK(st == HLC(1000, 10));
    /* A remote stamp behind us: our counter moves on. */
    st = HLC(3000, 4);
    fs_hlc_observe(&st, HLC(1000, 70), 2000);
    CHECK(st == HLC(3000, 5));
    /* The wall clock ahead of both: it wins with a fresh counter. */
    st = HLC(3000, 4);
    fs_hlc_observe(&st, HLC(4000, 70), 9000);
    CHECK(st == HLC(9000, 0));
    return 0;
}

static int test_hlc_overflow(void)
{
    uint64_t st = HLC(1000, 0xFFFE), t;

    t = fs_hlc_tick(&st, 1000);
    CHECK(t == HLC(1000, 0xFFFF));
    t = fs_hlc_tick(&st, 1000);
    CHECK(t == HLC(1001, 0));
    CHECK(t > HLC(1000, 0xFFFF));
    st = HLC(1000, 0xFFFF);
    fs_hlc_observe(&st, HLC(1000, 0xFFFF), 1000);
    CHECK(st == HLC(1001, 0));
    st = HLC(10, 1);
    fs_hlc_observe(&st, HLC(1000, 0xFFFF), 500);
    CHECK(st == HLC(1001, 0));
    return 0;
}

static int test_hlc_text(void)
{
    static const uint64_t vals[] = {0, 1, HLC(1700000000000, 42), UINT64_MAX};
    static const char *bad[] = {
        "",
        "0",
        "000000000000000",
        "00000000000000000",
        "0000018BCFE56800",
        "0000018bcfe5680g",
        " 000018bcfe56800",
        "0x00018bcfe56800",
        "-000018bcfe56800",
    };
    char text[FS_HLC_TEXT_LEN + 1];
    uint64_t v;
    size_t i;

    for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        fs_hlc_format(vals[i], text);
        CHECK(strlen(text) == FS_HLC_TEXT_LEN);
        CHECK_RC(fs_hlc_parse(text, &v), FS_OK);
        CHECK(v == vals[i]);
    }
    fs_hlc_format(HLC(1700000000000, 0), text);
    CHECK(strcmp(text, "018bcfe568000000") == 0);
    fs_hlc_format(1, text);
    CHECK(strcmp(text, "0000000000000001") == 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 77;
        if (fs_hlc_parse(bad[i], &v) != FS_EMALFORMED || v != 77)
            return failf(__FILE__, __LINE__, "accepted '%s'", bad[i]);
    }
    return 0;
}

static int test_hlc_cmp(void)
{
    CHECK(fs_hlc_cmp(HLC(1, 0), DEV2, HLC(2, 0), DEV) < 0);
    CHECK(fs_hlc_cmp(HLC(2, 0), DEV, HLC(1, 5), DEV2) > 0);
    CHECK(fs_hlc_cmp(HLC(1, 1), DEV, HLC(1, 2), DEV) < 0);
    /* Equal stamps: the device id decides, the same way everywhere. */
    CHECK(fs_hlc_cmp(HLC(1, 1), DEV, HLC(1, 1), DEV2) < 0);
    CHECK(fs_hlc_cmp(HLC(1, 1), DEV2, HLC(1, 1), DEV) > 0);
    CHECK(fs_hlc_cmp(HLC(1, 1), DEV, HLC(1, 1), DEV) == 0);
    return 0;
}

/* ---- changesets ------------------------------------------------------ */

static int roundtrip_cs(int level)
{
    fs_changeset *cs = make_cs(5), *back = NULL;
    char digest[65];
    size_t json_len = 0;
    fs_buf b;
    fs_err e;
    int rc;

    CHECK(cs != NULL);
    fs_buf_init(&b, 1 << 20);
    rc = fs_changeset_encode(cs, level, &b, &json_len);
    if (rc == FS_OK)
        rc = fs_changeset_decode(b.data, b.len, level > 0, NULL, &back, digest,
                                 &e);
    if (rc == FS_OK && level == 0 && json_len != b.len)
        rc = -100;
    if (rc == FS_OK && level > 0 && (json_len <= 100 || b.data[0] != 0x1f))
        rc = -101;
    fs_buf_free(&b);
    if (rc == FS_OK)
        rc = same_cs(cs, back);
    if (rc == FS_OK && strlen(digest) != 64)
        rc = -102;
    fs_changeset_free(cs);
    fs_changeset_free(back);
    if (rc < 0)
        return failf(__FILE__, __LINE__, "round trip: %d (%s)", rc,
                     fs_errname(rc));
    return rc;
}

static int test_cs_roundtrip_plain(void)
{
    return roundtrip_cs(0);
}

static int test_cs_roundtrip_gzip(void)
{
    return roundtrip_cs(6);
}

/* The hub checks decoded answers without parsing them again: each
 * change carries them parsed, and they print to answers_json exactly. */
static int test_cs_answers_kept(void)
{
    fs_changeset *cs = make_cs(3), *back = NULL;
    fs_buf b;
    fs_err err = {0, ""};
    size_t i;
    int rc = 0;

    CHECK(cs != NULL);
    fs_buf_init(&b, 1 << 20);
    CHECK_RC(fs_changeset_encode(cs, 6, &b, NULL), FS_OK);
    CHECK_RC(fs_changeset_decode(b.data, b.len, 1, NULL, &back, NULL, &err),
             FS_OK);
    for (i = 0; i < back->n && rc == 0; i++) {
        const fs_submission *s = &back->changes[i].sub;
        char *text = cJSON_IsObject(s->answers)
                         ? cJSON_PrintUnformatted(s->answers)
                         : NULL;

        if (text == NULL || strcmp(text, s->answers_json) != 0)
            rc = failf(__FILE__, __LINE__, "change %zu: answers %s, not %s", i,
                       text ? text : "(none)", s->answers_json);
        cJSON_free(text);
    }
    /* A built submission has none; freeing handles both. */
    CHECK(cs->changes[0].sub.answers == NULL);
    fs_changeset_free(back);
    fs_changeset_free(cs);
    fs_buf_free(&b);
    return rc;
}

/* fs__json_print and cJSON_PrintUnformatted give the same bytes for one
 * tree, or returns a failure. */
static int same_print(const cJSON *t, const char *what)
{
    char *ours = fs__json_print(t), *theirs = cJSON_PrintUnformatted(t);
    int rc = 0;

    if (ours == NULL || theirs == NULL || strcmp(ours, theirs) != 0)
        rc = failf(__FILE__, __LINE__, "%s: ours %s, cJSON %s", what,
                   ours ? ours : "(null)", theirs ? theirs : "(null)");
    free(ours);
    cJSON_free(theirs);
    return rc;
}

/* Stored text parses to the same tree as cJSON's; NULL and broken text
 * give NULL. */
static int test_json_parse_stored(void)
{
    const char *doc = "{\"a\":[1,2.5,\"x\"],\"b\":{\"c\":null}}";
    cJSON *t = fs_json_parse_stored(doc);
    cJSON *ref = cJSON_Parse(doc);

    CHECK(t != NULL && ref != NULL);
    CHECK(ref_same_tree(t, ref));
    cJSON_Delete(t);
    cJSON_Delete(ref);
    CHECK(fs_json_parse_stored(NULL) == NULL);
    CHECK(fs_json_parse_stored("") == NULL);
    CHECK(fs_json_parse_stored("{\"a\":") == NULL);
    CHECK(fs_json_parse_stored("[1] x") == NULL);
    return 0;
}

/* Stored answers are cJSON's canonical text: the hub's own printer must
 * write the very same bytes for every value, or a replay after an upgrade
 * would look divergent. Edge cases, then seeded random values. */
static int test_json_print_canonical(void)
{
    static const char *docs[] = {
        ("[0,-0,-0.0,1,-1,3.0,999999999999999,-999999999999999,1e15,"
         "-1e15,1e16,4.5e15,9007199254740992,-9007199254740993,0.1,1e-7,"
         "52.38189,4.90308,1.5,-2.25,1e300,-1e-300,123.456e5,1e21,"
         "0.30000000000000004,5e-324,1.7976931348623157e308,"
         "0.0001,-0.0001,0.00009999,0.000123456789012345,"
         "99999999999999.9,999999999999999.9,123456789012.345,"
         "0.1234567890123456,-52.1,4.50,1.25e-3,7.000001]"),
        ("{\"\":\"\",\"a\\\"b\":\"q\\\"\\\\/\\b\\f\\n\\r\\t\","
         "\"u\":\"\\u0001\\u001f\\u007f\u00e9\u4e2d\\ud83d\\ude00\"}"),
        "{\"o\":{},\"a\":[],\"n\":[[[]],{\"x\":[true,false,null]}]}",
        "\"plain\"",
        "true",
    };
    char what[48];
    size_t i;
    uint64_t x = 0x9e3779b97f4a7c15ull;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        cJSON *t = cJSON_Parse(docs[i]);
        int rc;

        CHECK(t != NULL);
        snprintf(what, sizeof(what), "doc %zu", i);
        rc = same_print(t, what);
        cJSON_Delete(t);
        if (rc)
            return rc;
    }
    for (i = 0; i < 20000; i++) {
        cJSON *t;
        char str[24];
        double d;
        uint64_t bits;
        size_t k;
        int rc;

        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        bits = x * 0x2545f4914f6cdd1dull;
        switch (i % 4) {
        case 0: /* integers of every size */
            d = (double)(int64_t)(bits >> (bits % 64));
            break;
        case 1: /* decimals with few places, as forms hold */
            d = (double)(int64_t)(bits % 20000001) / 100000.0 - 100.0;
            break;
        default: /* any finite double */
            memcpy(&d, &bits, sizeof(d));
            if (isnan(d) || isinf(d))
                d = 0.5;
        }
        for (k = 0; k + 1 < sizeof(str); k++)
            str[k] = (char)(1 + (bits >> (k % 8 * 8)) % 127);
        str[sizeof(str) - 1] = '\0';
        t = cJSON_CreateObject();
        CHECK(t != NULL);
        cJSON_AddNumberToObject(t, "n", d);
        cJSON_AddStringToObject(t, str, str);
        snprintf(what, sizeof(what), "random %zu (%.17g)", i, d);
        rc = same_print(t, what);
        cJSON_Delete(t);
        if (rc)
            return rc;
    }
    /* Decimals as text, as they come over the wire: 1 to 18 digits with
     * the point anywhere in or before them, for the printer's short cut
     * for fractions of up to 15 significant digits and its edges. */
    for (i = 0; i < 20000; i++) {
        char text[48], label[96];
        size_t nd, point, k, n = 0;
        cJSON *t;
        int rc;

        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        nd = (size_t)(1 + x % 18);
        point = (size_t)((x >> 8) % (nd + 6)); /* digits before the point */
        if (x & (1u << 16))
            text[n++] = '-';
        if (point <= nd) {
            if (point == 0)
                text[n++] = '0';
            for (k = 0; k < nd; k++) {
                if (k == point)
                    text[n++] = '.';
                text[n++] = (char)('0' + (x >> (20 + 2 * k)) % 10);
            }
        } else {
            text[n++] = '0';
            text[n++] = '.';
            for (k = nd; k < point; k++)
                text[n++] = '0';
            for (k = 0; k < nd; k++)
                text[n++] = (char)('0' + (x >> (20 + 2 * k)) % 10);
        }
        text[n] = '\0';
        t = cJSON_Parse(text);
        CHECK(t != NULL);
        snprintf(label, sizeof(label), "decimal %zu (%s)", i, text);
        rc = same_print(t, label);
        cJSON_Delete(t);
        if (rc)
            return rc;
    }
    return 0;
}

static int test_cs_deterministic(void)
{
    fs_changeset *cs = make_cs(4);
    fs_buf a, b, za, zb;
    int same, zsame;

    CHECK(cs != NULL);
    fs_buf_init(&a, 1 << 20);
    fs_buf_init(&b, 1 << 20);
    fs_buf_init(&za, 1 << 20);
    fs_buf_init(&zb, 1 << 20);
    CHECK_RC(fs_changeset_encode(cs, 0, &a, NULL), FS_OK);
    CHECK_RC(fs_changeset_encode(cs, 0, &b, NULL), FS_OK);
    CHECK_RC(fs_changeset_encode(cs, 6, &za, NULL), FS_OK);
    CHECK_RC(fs_changeset_encode(cs, 6, &zb, NULL), FS_OK);
    same = a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
    zsame = za.len == zb.len && memcmp(za.data, zb.data, za.len) == 0;
    CHECK(strncmp((const char *)a.data,
                  "{\"protocol\":1,\"schema\":1,\"device\":\"" DEV "\","
                  "\"first_seq\":7,\"last_seq\":10,\"changes\":[{",
                  100) == 0);
    fs_buf_free(&a);
    fs_buf_free(&b);
    fs_buf_free(&za);
    fs_buf_free(&zb);
    fs_changeset_free(cs);
    CHECK(same);
    CHECK(zsame);
    return 0;
}

static int test_cs_digest(void)
{
    fs_changeset *cs = make_cs(3), *out = NULL;
    char d1[65], d2[65], d3[65], want[65];
    fs_buf plain, z;
    fs_err e;

    CHECK(cs != NULL);
    fs_buf_init(&plain, 1 << 20);
    fs_buf_init(&z, 1 << 20);
    CHECK_RC(fs_changeset_encode(cs, 0, &plain, NULL), FS_OK);
    CHECK_RC(fs_changeset_encode(cs, 9, &z, NULL), FS_OK);
    fs_sha256_hex(plain.data, plain.len, want);
    CHECK_RC(fs_changeset_decode(plain.data, plain.len, 0, NULL, &out, d1, &e),
             FS_OK);
    fs_changeset_free(out);
    /* Same content, different compression: same digest. */
    CHECK_RC(fs_changeset_decode(z.data, z.len, 1, NULL, &out, d2, &e), FS_OK);
    fs_changeset_free(out);
    CHECK(strcmp(d1, want) == 0 && strcmp(d2, want) == 0);
    /* Different content: different digest. */
    cs->changes[1].sub.form_version++;
    fs_buf_reset(&plain);
    CHECK_RC(fs_changeset_encode(cs, 0, &plain, NULL), FS_OK);
    CHECK_RC(fs_changeset_decode(plain.data, plain.len, 0, NULL, &out, d3, &e),
             FS_OK);
    fs_changeset_free(out);
    CHECK(strcmp(d1, d3) != 0);
    fs_buf_free(&plain);
    fs_buf_free(&z);
    fs_changeset_free(cs);
    return 0;
}

static int test_change_to_json(void)
{
    fs_changeset *cs = make_cs(2);
    cJSON *j;
    char *text;
    int ok0, ok1;

    CHECK(cs != NULL);
    cs->changes[0].sub.answers_json[0] = '{'; /* already canonical */
    j = fs_change_to_json(&cs->changes[0]);
    text = j ? cJSON_PrintUnformatted(j) : NULL;
    ok0 = text != NULL &&
          strcmp(text, "{\"seq\":7,\"kind\":\"submission\","
                       "\"id\":\"0190a1b2-c3d4-7e5f-9a9b-000000000000\","
                       "\"form\":\"household_survey\",\"form_version\":3,"
                       "\"area\":\"N-01\",\"collector\":\"Amina Diallo\","
                       "\"hlc\":\"018bcfe568000000\","
                       "\"created_ms\":1700000000000,\"rev\":1,"
                       "\"answers\":{\"head_name\":\"Aïcha\",\"members\":1,"
                       "\"tags\":[\"a\",\"b\"]}}") == 0;
    cJSON_free(text);
    cJSON_Delete(j);
    /* No area or collector, a base revision. */
    j = fs_change_to_json(&cs->changes[1]);
    text = j ? cJSON_PrintUnformatted(j) : NULL;
    ok1 = text != NULL && strstr(text, "\"area\"") == NULL &&
          strstr(text, "\"collector\"") == NULL &&
          strstr(text, "\"rev\":2,\"base_rev\":1,\"answers\":{") != NULL;
    cJSON_free(text);
    cJSON_Delete(j);
    fs_changeset_free(cs);
    CHECK(ok0);
    CHECK(ok1);
    return 0;
}

static int test_cs_encode_bad(void)
{
    fs_changeset *cs = make_cs(2);
    fs_buf b;
    int r1, r2, r3;

    CHECK(cs != NULL);
    fs_buf_init(&b, 1 << 20);
    free(cs->changes[1].sub.answers_json);
    cs->changes[1].sub.answers_json = dupstr("{\"a\":");
    r1 = fs_changeset_encode(cs, 0, &b, NULL);
    CHECK(fs_change_to_json(&cs->changes[1]) == NULL);
    free(cs->changes[1].sub.answers_json);
    cs->changes[1].sub.answers_json = dupstr("[1,2]");
    r2 = fs_changeset_encode(cs, 0, &b, NULL);
    free(cs->changes[1].sub.answers_json);
    cs->changes[1].sub.answers_json = dupstr("{ \"a\" : 1 }");
    cs->changes[1].sub.created_ms = INT64_MAX; /* not exact in JSON */
    r3 = fs_changeset_encode(cs, 0, &b, NULL);
    fs_buf_free(&b);
    fs_changeset_free(cs);
    CHECK_RC(r1, FS_EINVAL);
    CHECK_RC(r2, FS_EINVAL);
    CHECK_RC(r3, FS_EINVAL);
    return 0;
}

/* Decodes the mutated good changeset; asserts code and message. */
static int envelope_case(cJSON *root, const fs_limits *lim, int want,
                         const char *msg)
{
    fs_changeset *out = NULL;
    fs_err e = {0, ""};
    int rc;

    CHECK(root != NULL);
    rc = decode_tree(root, lim, &out, &e);
    cJSON_Delete(root);
    CHECK(out == NULL || rc == FS_OK);
    fs_changeset_free(out);
    CHECK_RC(rc, want);
    if (msg != NULL)
        CHECK_HAS(e.msg, msg);
    return 0;
}

static int test_env_protocol(void)
{
    cJSON *root = good_json(2);

    set_member(root, "protocol", "2");
    if (envelope_case(root, NULL, FS_EVERSION,
                      "protocol version 2 is not supported by this hub "
                      "(it reads 1); update the hub or the agent"))
        return 1;
    root = good_json(2);
    set_member(root, "protocol", "\"1\"");
    if (envelope_case(root, NULL, FS_EMALFORMED, "protocol: must be"))
        return 1;
    root = good_json(2);
    set_member(root, "protocol", NULL);
    return envelope_case(root, NULL, FS_EMALFORMED, "protocol: missing");
}

static int test_env_schema(void)
{
    cJSON *root = good_json(2);

    set_member(root, "schema", "7");
    if (envelope_case(root, NULL, FS_EVERSION,
                      "schema version 7 is not supported"))
        return 1;
    root = good_json(2);
    set_member(root, "schema", "1.5");
    return envelope_case(root, NULL, FS_EMALFORMED, "schema: must be");
}

static int test_env_device(void)
{
    static const char *bad[] = {
        "\"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B\"",
        "\"not-a-uuid\"",
        "\"'; DROP TABLE devices;--\"",
        "\"\"",
    };
    cJSON *root;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        root = good_json(1);
        set_member(root, "device", bad[i]);
        if (envelope_case(root, NULL, FS_EIDENT, "device:"))
            return 1;
    }
    root = good_json(1);
    set_member(root, "device", "42");
    if (envelope_case(root, NULL, FS_EMALFORMED, "device: must be a string"))
        return 1;
    root = good_json(1);
    set_member(root, "device", NULL);
    return envelope_case(root, NULL, FS_EMALFORMED, "device: missing");
}

static int test_env_changes(void)
{
    cJSON *root = good_json(2);

    set_member(root, "changes", NULL);
    if (envelope_case(root, NULL, FS_EMALFORMED, "changes: missing"))
        return 1;
    root = good_json(2);
    set_member(root, "changes", "{}");
    if (envelope_case(root, NULL, FS_EMALFORMED, "changes: must be an array"))
        return 1;
    root = good_json(2);
    set_member(root, "changes", "[]");
    if (envelope_case(root, NULL, FS_EMALFORMED, "changes: must not be empty"))
        return 1;
    root = good_json(2);
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(root, "changes"), 1,
                             cJSON_CreateString("x"));
    return envelope_case(root, NULL, FS_EMALFORMED,
                         "changes[1]: must be an object");
}

static int test_env_seq_gap(void)
{
    cJSON *root = good_json(5);

    /* first_seq is 7: changes[3] must say 10. */
    set_member(change_at(root, 3), "seq", "13");
    if (envelope_case(root, NULL, FS_EMALFORMED,
                      "changes[3].seq: expected 10, got 13"))
        return 1;
    root = good_json(2);
    set_member(change_at(root, 1), "seq", NULL);
    if (envelope_case(root, NULL, FS_EMALFORMED, "changes[1].seq: missing"))
        return 1;
    root = good_json(2);
    set_member(change_at(root, 0), "seq", "7.5");
    return envelope_case(root, NULL, FS_EMALFORMED,
                         "changes[0].seq: must be an integer");
}

static int test_env_count(void)
{
    cJSON *root = good_json(3);

    set_member(root, "last_seq", "10");
    if (envelope_case(root, NULL, FS_EMALFORMED, "3 changes but"))
        return 1;
    root = good_json(3);
    set_member(root, "last_seq", "8");
    return envelope_case(root, NULL, FS_EMALFORMED, "3 changes but");
}

static int test_env_seq_values(void)
{
    static const struct {
        const char *key, *val, *msg;
    } cases[] = {
        {"first_seq", "0", "first_seq: must be an integer >= 1"},
        {"first_seq", "-3", "first_seq: must be an integer >= 1"},
        {"first_seq", "7.25", "first_seq: must be an integer"},
        {"first_seq", "\"7\"", "first_seq: must be an integer"},
        {"first_seq", "1e300", "first_seq: 1e+300 is beyond +-2^53"},
        {"first_seq", "9007199254740994",
         "first_seq: 9007199254740994 is beyond +-2^53"},
        {"first_seq", NULL, "first_seq: missing"},
        {"last_seq", "6", "last_seq: must be an integer >= 7"},
        {"last_seq", "null", "last_seq: must be an integer"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *root = good_json(1);

        set_member(root, cases[i].key, cases[i].val);
        if (envelope_case(root, NULL, FS_EMALFORMED, cases[i].msg))
            return 1;
    }
    return 0;
}

static int test_env_too_many(void)
{
    fs_limits lim;
    cJSON *root = good_json(4);

    fs_limits_default(&lim);
    lim.max_changes = 3;
    if (envelope_case(root, &lim, FS_ETOOBIG, "more than 3 changes"))
        return 1;
    lim.max_changes = 4;
    return envelope_case(good_json(4), &lim, FS_OK, NULL);
}

static int test_env_too_many_default(void)
{
    fs_changeset *cs = make_cs(1001), *out = NULL;
    fs_buf b;
    fs_err e;
    int rc;

    CHECK(cs != NULL);
    fs_buf_init(&b, 8u << 20);
    rc = fs_changeset_encode(cs, 6, &b, NULL);
    fs_changeset_free(cs);
    CHECK_RC(rc, FS_OK);
    rc = fs_changeset_decode(b.data, b.len, 1, NULL, &out, NULL, &e);
    fs_buf_free(&b);
    CHECK(out == NULL);
    CHECK_RC(rc, FS_ETOOBIG);
    CHECK_HAS(e.msg, "more than 1000 changes");
    return 0;
}

static int test_env_not_object(void)
{
    static const char *docs[] = {"[]", "1", "\"changeset\"", "null",
                                 "[{\"protocol\":1}]"};
    fs_changeset *out = NULL;
    fs_err e;
    size_t i;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        CHECK_RC(decode_str(docs[i], &out, &e), FS_EMALFORMED);
        CHECK(out == NULL);
        CHECK_HAS(e.msg, "must be a JSON object");
    }
    return 0;
}

static int test_env_body_limits(void)
{
    fs_changeset *cs = make_cs(3), *out = NULL;
    fs_limits lim;
    fs_buf b, z;
    fs_err e;
    int r1, r2, r3, r4;

    CHECK(cs != NULL);
    fs_buf_init(&b, 1 << 20);
    fs_buf_init(&z, 1 << 20);
    fs_changeset_encode(cs, 0, &b, NULL);
    fs_changeset_encode(cs, 6, &z, NULL);
    fs_changeset_free(cs);
    fs_limits_default(&lim);
    lim.max_compressed = z.len - 1;
    r1 = fs_changeset_decode(z.data, z.len, 1, &lim, &out, NULL, &e);
    lim.max_compressed = b.len - 1;
    r2 = fs_changeset_decode(b.data, b.len, 0, &lim, &out, NULL, &e);
    fs_limits_default(&lim);
    lim.max_decompressed = b.len - 1;
    r3 = fs_changeset_decode(z.data, z.len, 1, &lim, &out, NULL, &e);
    r4 = fs_changeset_decode(b.data, b.len, 0, &lim, &out, NULL, &e);
    fs_buf_free(&b);
    fs_buf_free(&z);
    CHECK(out == NULL);
    CHECK_RC(r1, FS_ETOOBIG);
    CHECK_RC(r2, FS_ETOOBIG);
    CHECK_RC(r3, FS_ETOOBIG);
    CHECK_RC(r4, FS_ETOOBIG);
    /* Garbage that claims to be gzip. */
    CHECK_RC(fs_changeset_decode("{}", 2, 1, NULL, &out, NULL, &e),
             FS_EMALFORMED);
    return 0;
}

/* Decodes the mutated good_json(3); change 1 must carry want/msg and
 * changes 0 and 2 must be clean. */
static int change_case(cJSON *root, const fs_limits *lim, int want,
                       const char *msg)
{
    fs_changeset *out = NULL;
    fs_err e = {0, ""};
    int rc, r = 0;

    CHECK(root != NULL);
    rc = decode_tree(root, lim, &out, &e);
    cJSON_Delete(root);
    if (rc != FS_OK)
        return failf(__FILE__, __LINE__, "decode: %s: %s", fs_errname(rc),
                     e.msg);
    if (out->n != 3 || out->changes[0].err != 0 || out->changes[2].err != 0)
        r = failf(__FILE__, __LINE__, "neighbours hurt: %s / %s",
                  out->changes[0].errmsg, out->changes[2].errmsg);
    else if (out->changes[0].sub.answers_json == NULL ||
             out->changes[2].sub.answers_json == NULL)
        r = failf(__FILE__, __LINE__, "neighbours lost their answers");
    else if (out->changes[1].err != want)
        r = failf(__FILE__, __LINE__, "changes[1].err %s, want %s (%s)",
                  fs_errname(out->changes[1].err), fs_errname(want),
                  out->changes[1].errmsg);
    else if (msg != NULL && strstr(out->changes[1].errmsg, msg) == NULL)
        r = failf(__FILE__, __LINE__, "'%s' does not contain '%s'",
                  out->changes[1].errmsg, msg);
    fs_changeset_free(out);
    return r;
}

static int test_change_isolated(void)
{
    cJSON *root = good_json(3);

    set_member(change_at(root, 1), "form_version", "0");
    return change_case(root, NULL, FS_EMALFORMED,
                       "changes[1].form_version: must be an integer >= 1");
}

static int test_change_fields(void)
{
    static const struct {
        const char *key, *val;
        int want;
        const char *msg;
    } cases[] = {
        {"kind", "\"deletion\"", FS_EVERSION,
         "changes[1].kind: unknown change kind 'deletion'"},
        {"kind", NULL, FS_EMALFORMED, "changes[1].kind: missing"},
        {"kind", "1", FS_EMALFORMED, "changes[1].kind: must be a string"},
        {"id", "\"0190A1B2-C3D4-7E5F-9A9B-000000000001\"", FS_EIDENT,
         "changes[1].id:"},
        {"id", NULL, FS_EMALFORMED, "changes[1].id: missing"},
        {"form", "\"Household\"", FS_EIDENT, "changes[1].form: 'Household'"},
        {"form", "\"x'; DROP TABLE forms;--\"", FS_EIDENT, "changes[1].form:"},
        {"form", "\"\"", FS_EIDENT, "changes[1].form:"},
        {"form_version", "\"1\"", FS_EMALFORMED,
         "changes[1].form_version: must be an integer >= 1"},
        {"form_version", "2.5", FS_EMALFORMED, "changes[1].form_version"},
        {"form_version", NULL, FS_EMALFORMED,
         "changes[1].form_version: missing"},
        {"area", "\"N 01\"", FS_EIDENT, "changes[1].area: 'N 01'"},
        {"area", "5", FS_EMALFORMED, "changes[1].area: must be a string"},
        {"collector", "\" amina\"", FS_EIDENT, "changes[1].collector"},
        {"collector", "\"a\\u0007b\"", FS_EIDENT, "changes[1].collector"},
        {"hlc", "\"018BCFE568000000\"", FS_EMALFORMED, "changes[1].hlc"},
        {"hlc", "\"18bcfe568000000\"", FS_EMALFORMED, "changes[1].hlc"},
        {"hlc", "1", FS_EMALFORMED, "changes[1].hlc: must be a string"},
        {"hlc", NULL, FS_EMALFORMED, "changes[1].hlc: missing"},
        {"created_ms", "-1", FS_EMALFORMED,
         "changes[1].created_ms: must be an integer >= 0"},
        {"created_ms", NULL, FS_EMALFORMED, "changes[1].created_ms: missing"},
        {"rev", "0", FS_EMALFORMED, "changes[1].rev: must be an integer >= 1"},
        {"base_rev", "-1", FS_EMALFORMED,
         "changes[1].base_rev: must be an integer >= 0"},
        {"base_rev", "2", FS_EMALFORMED,
         "changes[1].base_rev: 2 must be below rev 2"},
        {"answers", NULL, FS_EMALFORMED, "changes[1].answers: missing"},
        {"answers", "[1]", FS_EMALFORMED,
         "changes[1].answers: must be an object"},
        {"answers", "\"{}\"", FS_EMALFORMED,
         "changes[1].answers: must be an object"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *root = good_json(3);

        set_member(change_at(root, 1), cases[i].key, cases[i].val);
        if (change_case(root, NULL, cases[i].want, cases[i].msg)) {
            size_t l = strlen(fail_msg);

            snprintf(fail_msg + l, sizeof(fail_msg) - l, " [case %zu]", i);
            return 1;
        }
    }
    return 0;
}

static int test_change_defaults(void)
{
    cJSON *root = good_json(1);
    cJSON *c = change_at(root, 0);
    fs_changeset *out = NULL;
    fs_err e;
    int rc;

    set_member(c, "rev", NULL);
    set_member(c, "base_rev", NULL);
    set_member(c, "collector", NULL);
    set_member(c, "area", "\"\"");
    /* Unknown keys, at both levels, are for newer readers: ignored. */
    set_member(c, "photo_count", "3");
    set_member(root, "agent_build", "\"2.1.0\"");
    rc = decode_tree(root, NULL, &out, &e);
    cJSON_Delete(root);
    CHECK_RC(rc, FS_OK);
    CHECK(out->changes[0].err == 0);
    CHECK(out->changes[0].sub.rev == 1);
    CHECK(out->changes[0].sub.base_rev == 0);
    CHECK(out->changes[0].sub.area[0] == '\0');
    CHECK(out->changes[0].sub.collector[0] == '\0');
    fs_changeset_free(out);
    return 0;
}

static int test_change_answers_canonical(void)
{
    const char *text =
        "{\"protocol\":1,\"schema\":1,\"device\":\"" DEV "\","
        "\"first_seq\":1,\"last_seq\":1,\"changes\":[{\"seq\":1,"
        "\"kind\":\"submission\",\"id\":\"" DEV2 "\",\"form\":\"f\","
        "\"form_version\":1,\"hlc\":\"0000000000000001\",\"created_ms\":0,"
        "\"answers\" : { \"b\" : [ 1 , 2.5 ] ,\n\"a\":\"\\u00e9\\/\" } }]}";
    fs_changeset *out = NULL;
    fs_err e;

    CHECK_RC(decode_str(text, &out, &e), FS_OK);
    CHECK(out->changes[0].err == 0);
    CHECK(strcmp(out->changes[0].sub.answers_json,
                 "{\"b\":[1,2.5],\"a\":\"\xc3\xa9/\"}") == 0);
    fs_changeset_free(out);
    return 0;
}

static int test_change_too_many_answers(void)
{
    fs_limits lim;
    cJSON *root = good_json(3);
    cJSON *ans = cJSON_GetObjectItem(change_at(root, 1), "answers");
    char key[16];
    int i;

    /* good_json answers have 3 members; make change 1 have 501. */
    for (i = 0; i < 498; i++) {
        snprintf(key, sizeof(key), "q%d", i);
        cJSON_AddNumberToObject(ans, key, i);
    }
    if (change_case(root, NULL, FS_ETOOBIG,
                    "changes[1].answers: more than 500 answers"))
        return 1;
    /* Exactly at the limit is fine. */
    fs_limits_default(&lim);
    lim.max_answers = 3;
    return change_case(good_json(3), &lim, FS_OK, NULL);
}

static int test_change_bad_answer_key(void)
{
    static const char *keys[] = {"Name",        "first name", "a;b",
                                 "caf\xc3\xa9", "",           "1st"};
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        cJSON *root = good_json(3);
        cJSON *ans = cJSON_GetObjectItem(change_at(root, 1), "answers");
        char msg[64];

        cJSON_AddNumberToObject(ans, keys[i], 1);
        snprintf(msg, sizeof(msg), "'%s' is not a field name", keys[i]);
        if (change_case(root, NULL, FS_EIDENT, msg))
            return 1;
    }
    return 0;
}

static int test_change_duplicate_key(void)
{
    cJSON *root = good_json(3);
    cJSON *ans = cJSON_GetObjectItem(change_at(root, 1), "answers");

    cJSON_AddNumberToObject(ans, "members", 9);
    return change_case(root, NULL, FS_EMALFORMED,
                       "changes[1].answers.members: key appears twice");
}

/* Of several repeated keys the message names the first in byte order,
 * wherever the repeats are, and so does a 500-member object. */
static int test_change_duplicate_keys_named(void)
{
    static const char *order[] = {"zz", "b", "k", "zz", "a", "b", "a"};
    cJSON *root = good_json(3);
    cJSON *ans = cJSON_GetObjectItem(change_at(root, 1), "answers");
    char key[32];
    size_t i;

    for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        cJSON_AddNumberToObject(ans, order[i], 1);
    if (change_case(root, NULL, FS_EMALFORMED,
                    "changes[1].answers.a: key appears twice"))
        return 1;
    root = good_json(3);
    ans = cJSON_CreateObject();
    CHECK(ans != NULL);
    for (i = 0; i < 499; i++) {
        snprintf(key, sizeof(key), "f%zu", 498 - i);
        cJSON_AddNumberToObject(ans, key, 1);
    }
    cJSON_AddNumberToObject(ans, "f250", 2);
    cJSON_ReplaceItemInObject(change_at(root, 1), "answers", ans);
    return change_case(root, NULL, FS_EMALFORMED,
                       "changes[1].answers.f250: key appears twice");
}

/* ---- entity changes (PROTOCOL.md 4.2.1) -------------------------------- */

#define ENTITY_CS(op, fields)                                                  \
    "{\"protocol\":1,\"schema\":1,\"device\":\"" DEV "\",\"first_seq\":1,"     \
    "\"last_seq\":2,\"changes\":[{\"seq\":1,\"kind\":\"entity\",\"op\":\"" op  \
    "\",\"type\":\"mechanism\",\"id\":\"" DEV2 "\",\"collector\":\"Amina\","   \
    "\"hlc\":\"0190000000000001\",\"created_ms\":5,\"fields\":" fields "},"    \
    "{\"seq\":2,\"kind\":\"entity\",\"op\":\"delete\",\"type\":\"area\","      \
    "\"id\":\"" DEV "\",\"hlc\":\"0190000000000002\",\"created_ms\":6,"        \
    "\"fields\":{}}]}"

static int test_entity_decode(void)
{
    fs_changeset *out = NULL;
    fs_err e;
    const fs_entity_change *ent;

    CHECK_RC(decode_str(ENTITY_CS("set", "{\"status\":{\"base\":2,"
                                         "\"value\":\"active\"},\"notes\":{"
                                         "\"base\":0,\"value\" : null}}"),
                        &out, &e),
             FS_OK);
    CHECK(out->n == 2 && out->changes[0].err == 0 && out->changes[1].err == 0);
    ent = &out->changes[0].ent;
    CHECK(out->changes[0].kind == FS_CHANGE_ENTITY);
    CHECK(ent->op == FS_ENTITY_SET && strcmp(ent->type, "mechanism") == 0);
    CHECK(strcmp(ent->id, DEV2) == 0 && strcmp(ent->collector, "Amina") == 0);
    CHECK(ent->hlc == 0x0190000000000001ULL && ent->created_ms == 5);
    /* Sorted by name whatever order they came in. */
    CHECK(ent->n == 2 && strcmp(ent->edits[0].field, "notes") == 0);
    CHECK(strcmp(ent->edits[0].value_json, "null") == 0);
    CHECK(ent->edits[1].base == 2);
    CHECK(strcmp(ent->edits[1].value_json, "\"active\"") == 0);
    CHECK(out->changes[1].ent.op == FS_ENTITY_DELETE &&
          out->changes[1].ent.n == 0);
    fs_changeset_free(out);
    return 0;
}

/* Decodes text[0..n) with fs_changeset_decode and with the reference
 * reading of PROTOCOL.md (tests/reference) and fails unless they agree
 * on the outcome, change by change. */
static int decode_agrees(const char *text, size_t n, const fs_limits *lim,
                         const char *what)
{
    char why[700];

    if (!ref_changeset_agrees(text, n, 0, lim, why, sizeof(why)))
        return failf(__FILE__, __LINE__, "%s: %s", what, why);
    return 0;
}

/* The text with the first from replaced by to (in a static buffer). */
static const char *edited(const char *text, const char *from, const char *to)
{
    static char out[8192];
    const char *at = strstr(text, from);
    size_t head, nto, tail;

    if (at == NULL)
        return NULL;
    head = (size_t)(at - text);
    nto = strlen(to);
    tail = strlen(at + strlen(from));
    if (head + nto + tail >= sizeof(out))
        return NULL;
    memcpy(out, text, head);
    memcpy(out + head, to, nto);
    memcpy(out + head + nto, at + strlen(from), tail + 1);
    return out;
}

/* Well-formed changesets, changesets a little off in many ways, and
 * tight limits: the decoder and the reference agree. */
static int test_decode_agrees(void)
{
    static const char *const edits[][2] = {
        {"", ""},
        {"{\"protocol\":1,", "{\"x\":0,\"protocol\":1,"},
        {"{\"protocol\":1,", "{\"protocol\":1,\"protocol\":1,"},
        {"{\"protocol\":1,", "{\"protocol\":2,"},
        {"\"kind\":\"submission\"", "\"kind\":\"submission\",\"note\":1"},
        {"\"kind\":\"submission\"", "\"kind\":\"submission\",\"kind\":\"x\""},
        {"\"kind\":\"submission\"", "\"kind\":\"survey\""},
        {"\"form_version\":3", "\"form_version\":3.5"},
        {"\"seq\":8", "\"seq\":9"},
        {"\"area\":\"N-01\"", "\"area\":null"},
        {"\"area\":\"N-01\"", "\"area\":\"N\\u002d01\""},
        {",\"changes\":[", " ,\n\t\"changes\" : [ "},
        {"Aïcha", "A\\u00efcha"},
        {"Aïcha", "A\\\"i\\\\cha\\n"},
        {"\"members\":1", "\"members\":1,\"members\":2"},
        {"\"tags\":[\"a\",\"b\"]", "\"tags\":[\"a\",\"b\"],\"Bad\":1"},
        {"]}", "]} "},
        {"]}", "]}x"},
        {"]}", "],\"changes\":[]}"},
        {"\"last_seq\":9", "\"last_seq\":10"},
        {"\"last_seq\":9", "\"last_seq\":8"},
        {"\"form\":", "\"form\","},
        {"\"head_name\":", "\"head_name\","},
        {"{\"protocol\":1,", "{\"changes\":5,\"protocol\":1,"},
        {"\"seq\":7", "\"seq\":7,\"x\":{\"y\":[1,{\"z\":\"\\u00e9\"}]}"},
        {"\"seq\":7", "\"seq\":true"},
        {"\"seq\":8,", ""},
        {"{\"seq\":8", "[1],{\"seq\":8"},
        {"\"collector\":\"Amina Diallo\"", "\"collector\":[\"Amina\"]"},
        {"\"form\":\"household_survey\"",
         "\"form\":\"household_survey_household_survey_household_survey_"
         "household_survey_household_survey_household_survey_household_survey_"
         "household_survey_household_survey\""},
        {"\"answers\":", "\"answers\":5,\"answers\":"},
    };
    fs_changeset *cs = make_cs(3);
    fs_limits lim[6];
    fs_buf a;
    size_t i, k;
    char what[64];
    int rc = 0;

    CHECK(cs != NULL);
    fs_buf_init(&a, 1 << 20);
    CHECK_RC(fs_changeset_encode(cs, 0, &a, NULL), FS_OK);
    fs_changeset_free(cs);
    for (k = 0; k < 6; k++)
        fs_limits_default(&lim[k]);
    lim[1].max_depth = 3;
    lim[2].max_values = 40;
    lim[3].max_string = 11;
    lim[4].max_answers = 2;
    lim[5].max_changes = 2;
    for (i = 0; i < sizeof(edits) / sizeof(edits[0]) && rc == 0; i++) {
        const char *t =
            i == 0 ? (const char *)a.data
                   : edited((const char *)a.data, edits[i][0], edits[i][1]);

        if (t == NULL) {
            rc = failf(__FILE__, __LINE__, "edit %zu does not apply", i);
            break;
        }
        for (k = 0; k < 6 && rc == 0; k++) {
            snprintf(what, sizeof(what), "edit %zu, limits %zu", i, k);
            rc = decode_agrees(t, strlen(t), &lim[k], what);
        }
    }
    fs_buf_free(&a);
    return rc;
}

static int test_entity_roundtrip(void)
{
    fs_changeset *cs = fs_changeset_new(1), *back = NULL;
    fs_buf a, b;
    fs_err e;

    CHECK(cs != NULL);
    memcpy(cs->device, DEV, sizeof(DEV));
    cs->first_seq = cs->last_seq = 7;
    cs->n = 1;
    cs->changes[0].seq = 7;
    cs->changes[0].kind = FS_CHANGE_ENTITY;
    fs_entity_change *ent = &cs->changes[0].ent;
    ent->op = FS_ENTITY_NEW;
    memcpy(ent->type, "area", 5);
    memcpy(ent->id, DEV2, sizeof(DEV2));
    ent->hlc = 42;
    CHECK_RC(fs_entity_add_edit(ent, "code", 0, "\"CITY-N01\""), FS_OK);
    CHECK_RC(fs_entity_add_edit(ent, "name", 0, "\"Nord\""), FS_OK);
    fs_buf_init(&a, 1 << 20);
    fs_buf_init(&b, 1 << 20);
    CHECK_RC(fs_changeset_encode(cs, 0, &a, NULL), FS_OK);
    CHECK_HAS((const char *)a.data,
              "\"kind\":\"entity\",\"op\":\"new\",\"type\":\"area\"");
    CHECK_HAS((const char *)a.data,
              "\"fields\":{\"code\":{\"base\":0,\"value\":\"CITY-N01\"},"
              "\"name\":{\"base\":0,\"value\":\"Nord\"}}");
    CHECK_RC(fs_changeset_decode(a.data, a.len, 0, NULL, &back, NULL, &e),
             FS_OK);
    CHECK(back->changes[0].err == 0 && back->changes[0].ent.n == 2);
    CHECK_RC(fs_changeset_encode(back, 0, &b, NULL), FS_OK);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* A delete carries bases only; a value there cannot be encoded. */
    ent->op = FS_ENTITY_DELETE;
    fs_buf_reset(&b);
    CHECK_RC(fs_changeset_encode(cs, 0, &b, NULL), FS_EINVAL);
    fs_buf_free(&a);
    fs_buf_free(&b);
    fs_changeset_free(back);
    fs_changeset_free(cs);
    return 0;
}

/* Each bad entity change is refused alone with its own message. */
static int test_entity_errors(void)
{
    static const struct {
        const char *text;
        int code;
        const char *msg;
    } cases[] = {
        {ENTITY_CS("move", "{\"a\":{\"base\":0,\"value\":1}}"), FS_EMALFORMED,
         "changes[0].op: 'move' is not new, set or delete"},
        {ENTITY_CS("new", "{\"name\":{\"base\":1,\"value\":\"x\"}}"),
         FS_EMALFORMED, "changes[0].fields.name.base: must be 0 in a new"},
        {ENTITY_CS("delete", "{\"name\":{\"base\":1,\"value\":\"x\"}}"),
         FS_EMALFORMED, "changes[0].fields.name.value: a delete carries"},
        {ENTITY_CS("set", "{\"name\":{\"base\":1}}"), FS_EMALFORMED,
         "changes[0].fields.name.value: missing"},
        {ENTITY_CS("set", "{}"), FS_EMALFORMED,
         "changes[0].fields: must name at least one field"},
        {ENTITY_CS("set", "{\"Name\":{\"base\":1,\"value\":1}}"), FS_EIDENT,
         "changes[0].fields: 'Name' is not a field name"},
        {ENTITY_CS("set", "{\"name\":{\"base\":-1,\"value\":1}}"),
         FS_EMALFORMED, "changes[0].fields.name.base: must be an integer"},
        {ENTITY_CS("set", "{\"name\":{\"base\":\"1\",\"value\":1}}"),
         FS_EMALFORMED, "changes[0].fields.name.base: must be an integer"},
        {ENTITY_CS("set", "{\"name\":2}"), FS_EMALFORMED,
         "changes[0].fields.name: must be an object"},
        {ENTITY_CS("set", "[1]"), FS_EMALFORMED,
         "changes[0].fields: must be an object"},
        {ENTITY_CS("set", "{\"a\":{\"base\":0,\"value\":1},\"a\":{\"base\":0,"
                          "\"value\":2}}"),
         FS_EMALFORMED, "changes[0].fields.a: key appears twice"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fs_changeset *out = NULL;
        fs_err e;
        CHECK_RC(decode_str(cases[i].text, &out, &e), FS_OK);
        if (out->changes[0].err != cases[i].code)
            return failf(__FILE__, __LINE__, "case %zu: code %d, want %d", i,
                         out->changes[0].err, cases[i].code);
        CHECK_HAS(out->changes[0].errmsg, cases[i].msg);
        CHECK(out->changes[1].err == 0); /* the next change still merges */
        fs_changeset_free(out);
    }
    /* A bad type or id names the member. */
    fs_changeset *out = NULL;
    fs_err e;
    cJSON *root =
        cJSON_Parse(ENTITY_CS("set", "{\"a\":{\"base\":0,\"value\":1}}"));
    set_member(change_at(root, 0), "type", "\"Mech anism\"");
    CHECK_RC(decode_tree(root, NULL, &out, &e), FS_OK);
    CHECK(out->changes[0].err == FS_EIDENT);
    CHECK_HAS(out->changes[0].errmsg, "changes[0].type:");
    fs_changeset_free(out);
    set_member(change_at(root, 0), "type", "\"mechanism\"");
    set_member(change_at(root, 0), "id", "\"not-a-uuid\"");
    CHECK_RC(decode_tree(root, NULL, &out, &e), FS_OK);
    CHECK(out->changes[0].err == FS_EIDENT);
    CHECK_HAS(out->changes[0].errmsg, "changes[0].id: not a lower-case UUID");
    fs_changeset_free(out);
    cJSON_Delete(root);
    return 0;
}

static int test_entity_too_many_fields(void)
{
    fs_limits lim;
    fs_changeset *out = NULL;
    fs_err e;
    cJSON *root =
        cJSON_Parse(ENTITY_CS("set", "{\"a\":{\"base\":0,\"value\":1},"
                                     "\"b\":{\"base\":0,\"value\":1},"
                                     "\"c\":{\"base\":0,\"value\":1}}"));
    fs_limits_default(&lim);
    lim.max_answers = 2;
    CHECK_RC(decode_tree(root, &lim, &out, &e), FS_OK);
    cJSON_Delete(root);
    CHECK(out->changes[0].err == FS_ETOOBIG);
    CHECK_HAS(out->changes[0].errmsg, "changes[0].fields: more than 2 fields");
    fs_changeset_free(out);
    return 0;
}

/* The built-in entity types parse, and values are checked by type. */
static int test_entity_types(void)
{
    fs_entity_types *t = NULL;
    fs_problems p;
    cJSON *v = NULL;

    fs_problems_init(&p);
    CHECK_RC(fs_entity_types_parse(fs_entity_types_json,
                                   strlen(fs_entity_types_json), &t, &p),
             FS_OK);
    CHECK(fs_entity_type_count(t) == 3);
    const fs_form *m = fs_entity_type(t, "mechanism");
    const fs_form *a = fs_entity_type(t, "area");
    const fs_form *s = fs_entity_type(t, "stakeholder");
    CHECK(m && a && s && !fs_entity_type(t, "castle"));
    CHECK(strcmp(fs_entity_scope_field(a), "code") == 0);
    CHECK(strcmp(fs_entity_scope_field(m), "area") == 0);
    CHECK(fs_field_flags(fs_form_field_named(s, "contact_phone")) &
          FS_FIELD_PERSONAL);
    CHECK_RC(fs_entity_value_parse(m, "status", "active", &v, &p), FS_OK);
    CHECK(cJSON_IsString(v));
    cJSON_Delete(v);
    CHECK_RC(fs_entity_value_parse(m, "location", "48.85,2.35", &v, &p), FS_OK);
    CHECK(cJSON_IsObject(v));
    cJSON_Delete(v);
    CHECK_RC(fs_entity_value_parse(m, "notes", "", &v, &p), FS_OK);
    CHECK(cJSON_IsNull(v));
    cJSON_Delete(v);
    fs_problems_init(&p);
    CHECK_RC(fs_entity_value_parse(m, "status", "sleeping", &v, &p),
             FS_EINVALID);
    CHECK(v == NULL && p.n == 1 && strcmp(p.items[0].where, "status") == 0);
    fs_problems_init(&p);
    CHECK_RC(fs_entity_value_parse(m, "name", "", &v, &p), FS_EINVALID);
    CHECK_HAS(p.items[0].msg, "required");
    fs_problems_init(&p);
    CHECK_RC(fs_entity_value_parse(m, "location", "north", &v, &p),
             FS_EINVALID);
    fs_problems_init(&p);
    CHECK_RC(fs_entity_value_parse(m, "colour", "red", &v, &p), FS_EINVALID);
    CHECK_HAS(p.items[0].msg, "has no field 'colour'");
    fs_problems_init(&p);
    CHECK_RC(fs_entity_value_parse(a, "code", "CITY N01", &v, &p), FS_EINVALID);
    cJSON *rec = cJSON_Parse("{\"name\":\"x\",\"type\":\"other\"}");
    fs_problems_init(&p);
    CHECK_RC(fs_entity_check_record(m, rec, &p), FS_EINVALID);
    CHECK(p.n == 2); /* area and status */
    cJSON_Delete(rec);
    fs_entity_types_free(t);
    return 0;
}

/* ---- strict numbers and keys (PROTOCOL.md 4.2) ------------------------ */

#define STRICT_SUB                                                             \
    "{\"protocol\":1,\"schema\":1,\"device\":\"" DEV "\",\"first_seq\":5,"     \
    "\"last_seq\":5,\"changes\":[{\"seq\":5,\"kind\":\"submission\","          \
    "\"id\":\"" DEV2 "\",\"form\":\"household_survey\",\"form_version\":1,"    \
    "\"hlc\":\"0000018bcfe56800\",\"created_ms\":1700000000000,\"rev\":2,"     \
    "\"base_rev\":1,\"answers\":{\"head_name\":\"A\",\"where\":{\"lat\":1,"    \
    "\"lon\":2},\"list\":[1,{\"x\":1}]}}]}"

#define STRICT_ENT                                                             \
    "{\"protocol\":1,\"schema\":1,\"device\":\"" DEV "\",\"first_seq\":5,"     \
    "\"last_seq\":5,\"changes\":[{\"seq\":5,\"kind\":\"entity\","              \
    "\"op\":\"set\",\"type\":\"mechanism\",\"id\":\"" DEV2 "\","               \
    "\"hlc\":\"0000018bcfe56800\",\"created_ms\":1700000000000,"               \
    "\"fields\":{\"status\":{\"base\":2,\"value\":{\"k\":1}}}}]}"

#define BEYOND                                                                 \
    " is beyond +-2^53 (9007199254740992), the largest integer a JSON "        \
    "number carries exactly"

/* One edit of base, and what decoding it must give: the whole decode's
 * code and message, or when that is FS_OK the change's (0, ""); value,
 * when not 0, is the created_ms the change must hold. */
typedef struct strict_case {
    const char *base, *from, *to;
    int rc;
    const char *msg;
    int cerr;
    const char *cmsg;
    int64_t created;
} strict_case;

static int run_strict(const strict_case *t, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const char *text = edited(t[i].base, t[i].from, t[i].to);
        fs_changeset *out = NULL;
        fs_err e = {0, ""};
        int rc, bad;

        if (text == NULL)
            return failf(__FILE__, __LINE__, "case %zu does not apply", i);
        rc = fs_changeset_decode(text, strlen(text), 0, NULL, &out, NULL, &e);
        bad = rc != t[i].rc || (rc != FS_OK && strcmp(e.msg, t[i].msg) != 0);
        if (!bad && rc == FS_OK)
            bad = out->n != 1 || out->changes[0].err != t[i].cerr ||
                  strcmp(out->changes[0].errmsg, t[i].cmsg) != 0 ||
                  (t[i].created != 0 &&
                   out->changes[0].sub.created_ms != t[i].created);
        if (bad)
            rc = failf(__FILE__, __LINE__, "case %zu (%s): %s '%s' / %s '%s'",
                       i, t[i].to, fs_errname(rc), e.msg,
                       out ? fs_errname(out->changes[0].err) : "-",
                       out ? out->changes[0].errmsg : "");
        fs_changeset_free(out);
        if (bad)
            return rc;
    }
    return 0;
}

/* Integers on the wire are exact or refused, never rounded to a
 * neighbour: a double holds every integer up to 2^53, and 2^53 + 1
 * would be stored as 2^53. */
static int test_wire_integers(void)
{
    static const strict_case t[] = {
        {STRICT_SUB, "\"rev\":2", "\"rev\":9007199254740993", FS_OK, "",
         FS_EMALFORMED, "changes[0].rev: 9007199254740993" BEYOND, 0},
        {STRICT_SUB, "\"created_ms\":1700000000000",
         "\"created_ms\":-9007199254740993", FS_OK, "", FS_EMALFORMED,
         "changes[0].created_ms: -9007199254740993" BEYOND, 0},
        {STRICT_SUB, "\"created_ms\":1700000000000",
         "\"created_ms\":123456789012345678901234567890", FS_OK, "",
         FS_EMALFORMED,
         "changes[0].created_ms: 123456789012345678901234..." BEYOND, 0},
        {STRICT_SUB, "\"form_version\":1", "\"form_version\":1e16", FS_OK, "",
         FS_EMALFORMED, "changes[0].form_version: 1e16" BEYOND, 0},
        {STRICT_SUB, "\"base_rev\":1", "\"base_rev\":9007199254740993", FS_OK,
         "", FS_EMALFORMED, "changes[0].base_rev: 9007199254740993" BEYOND, 0},
        {STRICT_SUB, "\"rev\":2", "\"rev\":1.0000000000000001", FS_OK, "",
         FS_EMALFORMED, "changes[0].rev: must be an integer >= 1", 0},
        {STRICT_SUB, "\"rev\":2", "\"rev\":2.5", FS_OK, "", FS_EMALFORMED,
         "changes[0].rev: must be an integer >= 1", 0},
        /* The edge itself, and integers in other spellings. */
        {STRICT_SUB, "\"created_ms\":1700000000000",
         "\"created_ms\":9007199254740992", FS_OK, "", 0, "",
         INT64_C(9007199254740992)},
        {STRICT_SUB, "\"created_ms\":1700000000000",
         "\"created_ms\":9007199254740992.000", FS_OK, "", 0, "",
         INT64_C(9007199254740992)},
        {STRICT_SUB, "\"created_ms\":1700000000000", "\"created_ms\":1.5e3",
         FS_OK, "", 0, "", 1500},
        {STRICT_SUB, "\"created_ms\":1700000000000",
         "\"created_ms\":17000000000000000e-4", FS_OK, "", 0, "",
         INT64_C(1700000000000)},
        /* The envelope's. */
        {STRICT_SUB, "\"first_seq\":5", "\"first_seq\":9007199254740993",
         FS_EMALFORMED, "first_seq: 9007199254740993" BEYOND, 0, "", 0},
        {STRICT_SUB, "\"last_seq\":5", "\"last_seq\":9007199254740993",
         FS_EMALFORMED, "last_seq: 9007199254740993" BEYOND, 0, "", 0},
        {STRICT_SUB, "\"protocol\":1", "\"protocol\":9007199254740993",
         FS_EMALFORMED, "protocol: 9007199254740993" BEYOND, 0, "", 0},
        {STRICT_SUB, "\"seq\":5", "\"seq\":9007199254740993", FS_EMALFORMED,
         "changes[0].seq: 9007199254740993" BEYOND, 0, "", 0},
        {STRICT_SUB, "\"seq\":5", "\"seq\":5.00000000000000001", FS_EMALFORMED,
         "changes[0].seq: must be an integer", 0, "", 0},
        /* An entity edit's base. */
        {STRICT_ENT, "\"base\":2", "\"base\":9007199254740993", FS_OK, "",
         FS_EMALFORMED,
         "changes[0].fields.status.base: 9007199254740993" BEYOND, 0},
        {STRICT_ENT, "\"base\":2", "\"base\":2.0000000000000001", FS_OK, "",
         FS_EMALFORMED,
         "changes[0].fields.status.base: must be an integer >= 0", 0},
        {STRICT_ENT, "\"base\":2", "\"base\":2e0", FS_OK, "", 0, "", 0},
        /* A number past a double's range would reach the hub as null,
         * which clears a field. */
        {STRICT_ENT, "{\"k\":1}", "[1,-1e400]", FS_OK, "", FS_EMALFORMED,
         "changes[0].fields.status.value: a number too large for a double "
         "(it would be stored as null)",
         0},
    };

    return run_strict(t, sizeof(t) / sizeof(t[0]));
}

/* And they are sent exact: cJSON prints 15 significant digits, which
 * would have sent 2^53 as 9.00719925474099e+15. */
static int test_encode_big_integers(void)
{
    fs_changeset *cs = make_cs(1), *back = NULL;
    fs_err e = {0, ""};
    fs_buf b;
    int rc;

    CHECK(cs != NULL);
    cs->changes[0].sub.created_ms = INT64_C(9007199254740992);
    cs->changes[0].sub.form_version = INT64_C(1234567890123457);
    fs_buf_init(&b, 1 << 20);
    rc = fs_changeset_encode(cs, 0, &b, NULL);
    if (rc == FS_OK)
        rc = fs_changeset_decode(b.data, b.len, 0, NULL, &back, NULL, &e);
    if (rc == FS_OK &&
        (strstr((const char *)b.data, "\"created_ms\":9007199254740992,") ==
             NULL ||
         back->changes[0].err != 0 ||
         back->changes[0].sub.created_ms != cs->changes[0].sub.created_ms ||
         back->changes[0].sub.form_version != cs->changes[0].sub.form_version))
        rc = failf(__FILE__, __LINE__, "sent %s", (const char *)b.data);
    fs_buf_free(&b);
    fs_changeset_free(cs);
    fs_changeset_free(back);
    CHECK_RC(rc, FS_OK);
    return 0;
}

/* A key twice anywhere in a changeset is refused, never "the first one
 * wins": which of two values counts would depend on the parser. In the
 * envelope (or anything outside changes) it refuses the changeset, as a
 * repeated seq does; anywhere else in a change it refuses that change,
 * before anything else of it is read. */
static int test_duplicate_keys(void)
{
    static const strict_case t[] = {
        {STRICT_SUB, "\"protocol\":1", "\"protocol\":1,\"protocol\":1",
         FS_EMALFORMED, "changeset: key 'protocol' appears twice", 0, "", 0},
        {STRICT_SUB, "\"protocol\":1", "\"x\":0,\"protocol\":1,\"x\":0",
         FS_EMALFORMED, "changeset: key 'x' appears twice", 0, "", 0},
        {STRICT_SUB, "\"protocol\":1", "\"x\":{\"a\":1,\"a\":2},\"protocol\":1",
         FS_EMALFORMED, "changeset: key 'a' appears twice in 'x'", 0, "", 0},
        {STRICT_SUB, "\"last_seq\":5,", "\"last_seq\":5,\"changes\":[],",
         FS_EMALFORMED, "changeset: key 'changes' appears twice", 0, "", 0},
        {STRICT_SUB, "\"seq\":5", "\"seq\":5,\"seq\":5", FS_EMALFORMED,
         "changes[0]: key 'seq' appears twice", 0, "", 0},
        {STRICT_SUB, "\"form_version\":1", "\"form_version\":1,\"form\":\"x\"",
         FS_OK, "", FS_EMALFORMED, "changes[0]: key 'form' appears twice", 0},
        {STRICT_SUB, "\"rev\":2", "\"note\":1,\"rev\":2,\"note\":1", FS_OK, "",
         FS_EMALFORMED, "changes[0]: key 'note' appears twice", 0},
        {STRICT_SUB, "\"rev\":2",
         "\"a_rather_long_member_name\":1,\"rev\":2,"
         "\"a_rather_long_member_name\":2",
         FS_OK, "", FS_EMALFORMED,
         "changes[0]: key 'a_rather_long_member_name' appears twice", 0},
        {STRICT_SUB, "\"rev\":2",
         "\"note\":{\"a\":[{\"b\":1,\"b\":1}]},\"rev\":2", FS_OK, "",
         FS_EMALFORMED, "changes[0]: key 'b' appears twice in 'note.a[0]'", 0},
        {STRICT_SUB, "\"lon\":2", "\"lat\":2", FS_OK, "", FS_EMALFORMED,
         "changes[0]: key 'lat' appears twice in 'answers.where'", 0},
        {STRICT_SUB, "{\"x\":1}", "{\"x\":1,\"x\":1}", FS_OK, "", FS_EMALFORMED,
         "changes[0]: key 'x' appears twice in 'answers.list[1]'", 0},
        /* Repeated answers keep their message, in its place. */
        {STRICT_SUB, "\"head_name\":\"A\"",
         "\"head_name\":\"A\",\"head_name\":\"B\"", FS_OK, "", FS_EMALFORMED,
         "changes[0].answers.head_name: key appears twice", 0},
        {STRICT_ENT, "\"base\":2", "\"base\":2,\"base\":3", FS_OK, "",
         FS_EMALFORMED,
         "changes[0]: key 'base' appears twice in 'fields.status'", 0},
        {STRICT_ENT, "{\"k\":1}", "{\"k\":1,\"k\":2}", FS_OK, "", FS_EMALFORMED,
         "changes[0]: key 'k' appears twice in 'fields.status.value'", 0},
        /* Many keys: found by hashing, named in reading order. */
        {STRICT_SUB, "{\"x\":1}",
         "{\"x\":{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":"
         "6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,"
         "\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,\"k17\":17,\"k9\":0,"
         "\"k3\":0}}",
         FS_OK, "", FS_EMALFORMED,
         "changes[0]: key 'k9' appears twice in 'answers.list[1].x'", 0},
        /* The same name in two objects is no repeat. */
        {STRICT_SUB, "{\"x\":1}", "{\"lat\":1,\"x\":{\"lat\":1}}", FS_OK, "", 0,
         "", 0},
    };

    return run_strict(t, sizeof(t) / sizeof(t[0]));
}

/* ---- push replies ---------------------------------------------------- */

static int test_reply_roundtrip(void)
{
    fs_result res[4];
    fs_push_reply r = {10, 13, 12, 4, res}, *back = NULL;
    fs_err e;
    char *text;
    size_t i;
    int rc;

    memset(res, 0, sizeof(res));
    for (i = 0; i < 4; i++) {
        res[i].seq = 10 + (int64_t)i;
        res[i].status = (fs_result_status)(FS_RES_APPLIED + (int)i);
    }
    snprintf(res[3].error, sizeof(res[3].error), "unknown_form");
    snprintf(res[3].message, sizeof(res[3].message),
             "form \"x\" v2 is not published on this hub; ask an admin");
    text = fs_push_reply_encode(&r);
    CHECK(text != NULL);
    CHECK(strcmp(text,
                 "{\"first_seq\":10,\"last_seq\":13,\"acked_seq\":12,"
                 "\"results\":[{\"seq\":10,\"status\":\"applied\"},"
                 "{\"seq\":11,\"status\":\"duplicate\"},"
                 "{\"seq\":12,\"status\":\"divergent\"},"
                 "{\"seq\":13,\"status\":\"refused\","
                 "\"error\":\"unknown_form\",\"message\":\"form \\\"x\\\" "
                 "v2 is not published on this hub; ask an admin\"}]}") == 0);
    rc = fs_push_reply_decode(text, strlen(text), NULL, &back, &e);
    free(text);
    CHECK_RC(rc, FS_OK);
    CHECK(back->first_seq == 10 && back->last_seq == 13);
    CHECK(back->acked_seq == 12 && back->n == 4);
    for (i = 0; i < 4; i++) {
        CHECK(back->results[i].seq == res[i].seq);
        CHECK(back->results[i].status == res[i].status);
        CHECK(strcmp(back->results[i].error, res[i].error) == 0);
        CHECK(strcmp(back->results[i].message, res[i].message) == 0);
    }
    fs_push_reply_free(back);
    CHECK(strcmp(fs_result_status_name(FS_RES_DIVERGENT), "divergent") == 0);
    res[0].status = (fs_result_status)9;
    CHECK(fs_push_reply_encode(&r) == NULL);
    return 0;
}

static int test_reply_malformed(void)
{
    static const struct {
        const char *text;
        int want;
        const char *msg;
    } cases[] = {
        {"[]", FS_EMALFORMED, "must be a JSON object"},
        {"{\"first_seq\":1,\"last_seq\":1,\"acked_seq\":1}", FS_EMALFORMED,
         "results"},
        {"{\"first_seq\":1,\"last_seq\":2,\"acked_seq\":1,\"results\":"
         "[{\"seq\":1,\"status\":\"applied\"}]}",
         FS_EMALFORMED, "1 results"},
        {"{\"first_seq\":1,\"last_seq\":1,\"acked_seq\":1,\"results\":"
         "[{\"seq\":1,\"status\":\"lost\"}]}",
         FS_EMALFORMED, "results[0].status: unknown status 'lost'"},
        {"{\"first_seq\":1,\"last_seq\":1,\"acked_seq\":1,\"results\":"
         "[{\"seq\":1}]}",
         FS_EMALFORMED, "results[0].status"},
        {"{\"first_seq\":1,\"last_seq\":1,\"acked_seq\":1,\"results\":"
         "[{\"seq\":2,\"status\":\"applied\"}]}",
         FS_EMALFORMED, "results[0].seq: expected 1, got 2"},
        {"{\"first_seq\":1,\"last_seq\":1,\"acked_seq\":1,\"results\":[7]}",
         FS_EMALFORMED, "results[0]: must be an object"},
        {"{\"first_seq\":0,\"last_seq\":1,\"acked_seq\":1,\"results\":[]}",
         FS_EMALFORMED, "first_seq"},
        {"{\"first_seq\":2,\"last_seq\":1,\"acked_seq\":1,\"results\":[]}",
         FS_EMALFORMED, "last_seq"},
        {"{\"first_seq\":1,\"last_seq\":1,\"results\":[]}", FS_EMALFORMED,
         "acked_seq: missing"},
        {"{\"first_seq\":1,\"last_seq\":1,\"acked_seq\":1,\"results\":"
         "[{\"seq\":1,\"status\":\"refused\",\"error\":5}]}",
         FS_EMALFORMED, "results[0].error: must be a string"},
        {"{\"first_seq\":1,\"last_seq\":1,\"acked_seq\":1,\"results\":"
         "[{\"seq\":1,\"status\":\"refused\",\"error\":"
         "\"a_very_long_error_code_that_is_too_long\"}]}",
         FS_EMALFORMED, "results[0].error: longer than 31 bytes"},
        {"{\"first_seq\":1,", FS_EMALFORMED, NULL},
        {"{\"first_seq\":1} x", FS_EMALFORMED, "trailing"},
        /* Integers from their digits, as in a changeset. */
        {"{\"first_seq\":9007199254740993,\"last_seq\":1,\"acked_seq\":1,"
         "\"results\":[]}",
         FS_EMALFORMED, "first_seq: 9007199254740993 is beyond +-2^53"},
        {"{\"first_seq\":1,\"last_seq\":1,\"acked_seq\":1.0000000000000001,"
         "\"results\":[]}",
         FS_EMALFORMED, "acked_seq: must be an integer >= 0"},
        {"{\"first_seq\":9007199254740991,\"last_seq\":9007199254740991,"
         "\"acked_seq\":1,\"results\":[{\"seq\":9007199254740993,"
         "\"status\":\"applied\"}]}",
         FS_EMALFORMED, "results[0].seq: 9007199254740993 is beyond +-2^53"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fs_push_reply *r = NULL;
        fs_err e = {0, ""};
        int rc = fs_push_reply_decode(cases[i].text, strlen(cases[i].text),
                                      NULL, &r, &e);

        if (rc != cases[i].want || r != NULL ||
            (cases[i].msg && strstr(e.msg, cases[i].msg) == NULL))
            return failf(__FILE__, __LINE__, "case %zu: %s '%s'", i,
                         fs_errname(rc), e.msg);
    }
    return 0;
}

static int test_reply_limits(void)
{
    fs_limits lim;
    fs_push_reply *r = NULL;
    fs_err e;
    char msg[600];
    char text[1000];
    const char *two = "{\"first_seq\":1,\"last_seq\":2,\"acked_seq\":2,"
                      "\"results\":[{\"seq\":1,\"status\":\"applied\"},"
                      "{\"seq\":2,\"status\":\"applied\"}]}";

    fs_limits_default(&lim);
    lim.max_changes = 1;
    CHECK_RC(fs_push_reply_decode(two, strlen(two), &lim, &r, &e), FS_ETOOBIG);
    CHECK(r == NULL);
    /* A long message is cut to fit, on a character boundary. */
    memset(msg, 0, sizeof(msg));
    {
        size_t i;

        for (i = 0; i + 2 < 500; i += 2)
            memcpy(msg + i, "\xc3\xa9", 2);
    }
    snprintf(text, sizeof(text),
             "{\"first_seq\":1,\"last_seq\":1,\"acked_seq\":0,\"results\":"
             "[{\"seq\":1,\"status\":\"refused\",\"error\":\"x\","
             "\"message\":\"%s\"}]}",
             msg);
    CHECK_RC(fs_push_reply_decode(text, strlen(text), NULL, &r, &e), FS_OK);
    CHECK(strlen(r->results[0].message) < FS_ERRMSG_MAX);
    CHECK(fs_utf8_valid(r->results[0].message, strlen(r->results[0].message)));
    CHECK(strcmp(r->results[0].error, "x") == 0);
    fs_push_reply_free(r);
    fs_push_reply_free(NULL);
    return 0;
}

/* ---- fixtures -------------------------------------------------------- */

static int read_file(const char *name, fs_buf *out)
{
    char path[512];
    unsigned char chunk[4096];
    FILE *f;
    size_t got;
    int rc = FS_OK;

    snprintf(path, sizeof(path), "%s/%s", FS_FIXTURE_DIR, name);
    f = fopen(path, "rb");
    if (f == NULL)
        return FS_EIO;
    while (rc == FS_OK && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = fs_buf_append(out, chunk, got);
    if (ferror(f))
        rc = FS_EIO;
    fclose(f);
    return rc;
}

/* The decoder's bump allocator: alignment for any cJSON member, growth in place and by
 * copy, giving back room, blocks larger than a chunk. ASan sees every
 * byte written here. */
static int test_arena(void)
{
    fs__arena a;
    char *p, *q, *r, *big;
    size_t i;

    memset(&a, 0, sizeof(a));
    p = fs__arena_alloc(&a, 3);
    CHECK(p != NULL && (uintptr_t)p % sizeof(double) == 0 &&
          (uintptr_t)p % sizeof(void *) == 0);
    memcpy(p, "ab", 3);
    /* The newest block grows where it is. */
    q = fs__arena_grow(&a, p, 3, 100);
    CHECK(q == p && strcmp(q, "ab") == 0);
    memset(q + 3, 'x', 97);
    /* Not the newest any more: a copy, the old bytes kept. */
    r = fs__arena_alloc(&a, 1);
    CHECK(r != NULL && r >= q + 100);
    q = fs__arena_grow(&a, p, 100, 200);
    CHECK(q != NULL && q != p && strcmp(q, "ab") == 0 && q[99] == 'x');
    /* Shrinking the newest gives its end to the next block. */
    fs__arena_shrink(&a, q, 8);
    r = fs__arena_alloc(&a, 8);
    CHECK(r == q + sizeof(max_align_t) *
                       ((8 + sizeof(max_align_t) - 1) / sizeof(max_align_t)));
    /* Larger than any chunk, then many small ones over chunk edges. */
    big = fs__arena_alloc(&a, 3u << 20);
    CHECK(big != NULL);
    memset(big, 'b', 3u << 20);
    for (i = 0; i < 100000; i++) {
        p = fs__arena_alloc(&a, 1 + i % 61);
        CHECK(p != NULL && (uintptr_t)p % sizeof(double) == 0 &&
              (uintptr_t)p % sizeof(void *) == 0);
        memset(p, 'c', 1 + i % 61);
    }
    CHECK(big[0] == 'b' && big[(3u << 20) - 1] == 'b');
    fs__arena_free(&a);
    CHECK(a.chunks == NULL && a.p == NULL);
    fs__arena_free(&a); /* twice is harmless */
    return 0;
}

static int test_fixtures(void)
{
    /* want and msg are the decode's; c0 and c0msg, when msg is NULL, the
     * first change's (the second is always fine). */
    static const struct {
        const char *file;
        int gz, want;
        const char *msg;
        int c0;
        const char *c0msg;
    } cases[] = {
        {"valid.json", 0, FS_OK, NULL, 0, ""},
        {"valid.json.gz", 1, FS_OK, NULL, 0, ""},
        {"truncated.json.gz", 1, FS_EMALFORMED, "truncated", 0, ""},
        {"bad_json.json", 0, FS_EMALFORMED,
         "JSON text ends at byte 87 where a member name in double quotes was "
         "expected",
         0, ""},
        {"trailing_garbage.json", 0, FS_EMALFORMED, "trailing", 0, ""},
        {"bad_utf8.json", 0, FS_EUTF8, "UTF-8", 0, ""},
        {"wrong_protocol.json", 0, FS_EVERSION, "protocol version 2", 0, ""},
        {"seq_gap.json", 0, FS_EMALFORMED, "changes[1].seq: expected 2", 0, ""},
        {"first_seq_beyond_2_53.json", 0, FS_EMALFORMED,
         "first_seq: 9007199254740993 is beyond +-2^53 (9007199254740992), "
         "the largest integer a JSON number carries exactly",
         0, ""},
        {"int_beyond_2_53.json", 0, FS_OK, NULL, FS_EMALFORMED,
         "changes[0].rev: 9007199254740993 is beyond +-2^53 "
         "(9007199254740992), the largest integer a JSON number carries "
         "exactly"},
        {"duplicate_key_envelope.json", 0, FS_EMALFORMED,
         "changeset: key 'device' appears twice", 0, ""},
        {"duplicate_key_change.json", 0, FS_OK, NULL, FS_EMALFORMED,
         "changes[0]: key 'form' appears twice"},
        {"duplicate_key_edit.json", 0, FS_OK, NULL, FS_EMALFORMED,
         "changes[0]: key 'value' appears twice in 'fields.status'"},
    };
    char d_plain[65] = "", d_gz[65] = "";
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fs_changeset *out = NULL;
        fs_err e = {0, ""};
        char d[65];
        fs_buf b;
        int rc;

        fs_buf_init(&b, 1 << 20);
        rc = read_file(cases[i].file, &b);
        if (rc != FS_OK) {
            fs_buf_free(&b);
            return failf(__FILE__, __LINE__, "cannot read %s", cases[i].file);
        }
        rc = fs_changeset_decode(b.data, b.len, cases[i].gz, NULL, &out, d, &e);
        fs_buf_free(&b);
        if (rc == FS_OK &&
            (out->n != 2 || out->changes[0].err != cases[i].c0 ||
             strcmp(out->changes[0].errmsg, cases[i].c0msg) != 0 ||
             out->changes[1].err))
            rc = failf(__FILE__, __LINE__, "%s: changes[0] %s '%s'",
                       cases[i].file, fs_errname(out->changes[0].err),
                       out->changes[0].errmsg);
        else if (rc == FS_OK && strcmp(out->changes[1].sub.answers_json,
                                       "{\"head_name\":\"Moussa\","
                                       "\"members\":3}") != 0)
            rc = failf(__FILE__, __LINE__, "%s: answers of changes[1]",
                       cases[i].file);
        else if (rc != cases[i].want ||
                 (cases[i].msg && strstr(e.msg, cases[i].msg) == NULL))
            rc = failf(__FILE__, __LINE__, "%s: %d %s '%s'", cases[i].file, rc,
                       fs_errname(rc), e.msg);
        else
            rc = 0;
        if (rc == 0 && cases[i].want == FS_OK && !cases[i].c0)
            memcpy(cases[i].gz ? d_gz : d_plain, d, sizeof(d));
        fs_changeset_free(out);
        if (rc != 0)
            return rc;
    }
    CHECK(d_plain[0] != '\0' && strcmp(d_plain, d_gz) == 0);
    return 0;
}

/* ---- table ----------------------------------------------------------- */

static const unit_case tests[] = {
    {"error names", test_errnames},
    {"error message cut on utf8 boundary", test_err_set},
    {"buf cap", test_buf_cap},
    {"gzip round trip empty", test_gzip_empty},
    {"gzip round trip small", test_gzip_small},
    {"gzip round trip 1 MiB random", test_gzip_random},
    {"gzip deterministic", test_gzip_deterministic},
    {"gunzip truncated", test_gunzip_truncated},
    {"gunzip corrupted", test_gunzip_corrupt},
    {"gunzip trailing garbage", test_gunzip_trailing},
    {"gunzip not gzip", test_gunzip_not_gzip},
    {"gunzip compressed over max", test_gunzip_compressed_over},
    {"gunzip bomb", test_gunzip_bomb},
    {"gunzip bomb stays under cap", test_gunzip_bomb_cap},
    {"gunzip ratio", test_gunzip_ratio},
    {"gunzip decompressed over max", test_gunzip_decompressed_over},
    {"utf8 valid", test_utf8_valid},
    {"utf8 invalid", test_utf8_invalid},
    {"json depth limit", test_json_depth_limit},
    {"json values limit", test_json_values_limit},
    {"scope membership", test_scope_has},
    {"json string limit", test_json_string_limit},
    {"json bad utf8", test_json_utf8},
    {"json trailing garbage", test_json_trailing},
    {"json syntax errors", test_json_syntax},
    {"json input not nul-terminated", test_json_unterminated_input},
    {"json parser agrees with pre-scan and cJSON", test_json_parser_agrees},
    {"json messages", test_json_messages},
    {"ident uuid", test_ident_uuid},
    {"ident form id and field name", test_ident_form_field},
    {"ident area code", test_ident_area},
    {"ident name", test_ident_name},
    {"random bytes", test_random_bytes},
    {"hex", test_hex},
    {"uuid v7 format", test_uuid_v7_format},
    {"uuid v7 unique and ordered", test_uuid_v7_unique},
    {"sha256 vectors", test_sha256},
    {"hlc tick", test_hlc_tick},
    {"hlc clock backwards", test_hlc_backwards},
    {"hlc observe", test_hlc_observe},
    {"hlc counter overflow", test_hlc_overflow},
    {"hlc format and parse", test_hlc_text},
    {"hlc cmp tie-break", test_hlc_cmp},
    {"changeset round trip plain", test_cs_roundtrip_plain},
    {"changeset round trip gzip", test_cs_roundtrip_gzip},
    {"changeset deterministic", test_cs_deterministic},
    {"changeset decode keeps answers parsed", test_cs_answers_kept},
    {"json print is cJSON's canonical text", test_json_print_canonical},
    {"stored JSON parses thread-safely", test_json_parse_stored},
    {"changeset digest", test_cs_digest},
    {"change to json", test_change_to_json},
    {"changeset encode refuses bad input", test_cs_encode_bad},
    {"envelope protocol version", test_env_protocol},
    {"envelope schema version", test_env_schema},
    {"envelope device", test_env_device},
    {"envelope changes", test_env_changes},
    {"envelope seq gap", test_env_seq_gap},
    {"envelope count mismatch", test_env_count},
    {"envelope seq values", test_env_seq_values},
    {"envelope too many changes", test_env_too_many},
    {"envelope too many changes default", test_env_too_many_default},
    {"envelope not an object", test_env_not_object},
    {"envelope body limits", test_env_body_limits},
    {"change error isolated", test_change_isolated},
    {"change field errors", test_change_fields},
    {"change defaults and unknown keys", test_change_defaults},
    {"change answers canonical", test_change_answers_canonical},
    {"change repeated keys named", test_change_duplicate_keys_named},
    {"decode agrees with the reference", test_decode_agrees},
    {"wire integers exact or refused", test_wire_integers},
    {"big integers encoded exactly", test_encode_big_integers},
    {"duplicate keys refused anywhere", test_duplicate_keys},
    {"change too many answers", test_change_too_many_answers},
    {"change bad answer key", test_change_bad_answer_key},
    {"change duplicate answer key", test_change_duplicate_key},
    {"entity change decode", test_entity_decode},
    {"entity change round trip", test_entity_roundtrip},
    {"entity change errors isolated", test_entity_errors},
    {"entity change too many fields", test_entity_too_many_fields},
    {"entity types and values", test_entity_types},
    {"push reply round trip", test_reply_roundtrip},
    {"push reply malformed", test_reply_malformed},
    {"push reply limits", test_reply_limits},
    {"fixtures", test_fixtures},
    {"decode arena", test_arena},
};

int main(int argc, char **argv)
{
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
