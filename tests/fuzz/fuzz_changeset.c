/*
 * fuzz_changeset.c - libFuzzer target for fs_changeset_decode, the first
 * thing the hub does with a push body from the network.
 *
 * Input: one mode byte, then the body. Bit 0 of the mode byte set means
 * the body is gzip (the Content-Encoding: gzip path), clear means plain
 * JSON. The sanitizers catch memory and UB errors; beyond that, a body
 * that decodes must satisfy what the hub relies on:
 *   - the envelope is within the limits and its sequence range is exact;
 *   - every change is either marked bad or holds valid identifiers;
 *   - the well-formed changes re-encode, and the encoding decodes to the
 *     same fields and to a digest equal to the SHA-256 of its bytes
 *     (replay detection), plain and gzipped alike;
 *   - encoding is a fixed point: encode(decode(encode(x))) == encode(x).
 * For gzip bodies, gunzip then plain decode must agree with gzip decode.
 * And the decoder agrees with PROTOCOL.md's rules read off a whole tree
 * (tests/reference): the same code for the same path, and the same
 * changes down to the parsed answers, or the same error for each.
 * Entity changes (kind "entity") are held to the same: valid ids, edits
 * sorted by distinct field names, a value on every edit but in a delete,
 * base 0 throughout a new entity.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "fs_protocol.h"
#include "fuzz.h"
#include "reference.h"

/* An invariant broke: say which, and abort so libFuzzer keeps the input. */

static int same_submission(const fs_submission *a, const fs_submission *b)
{
    return strcmp(a->id, b->id) == 0 && strcmp(a->form_id, b->form_id) == 0 &&
           a->form_version == b->form_version &&
           strcmp(a->area, b->area) == 0 &&
           strcmp(a->collector, b->collector) == 0 && a->hlc == b->hlc &&
           a->created_ms == b->created_ms && a->rev == b->rev &&
           a->base_rev == b->base_rev &&
           strcmp(a->answers_json, b->answers_json) == 0;
}

static int same_entity(const fs_entity_change *a, const fs_entity_change *b)
{
    size_t i;

    if (a->op != b->op || strcmp(a->type, b->type) != 0 ||
        strcmp(a->id, b->id) != 0 || strcmp(a->collector, b->collector) != 0 ||
        a->hlc != b->hlc || a->created_ms != b->created_ms || a->n != b->n)
        return 0;
    for (i = 0; i < a->n; i++) {
        const fs_entity_edit *x = &a->edits[i], *y = &b->edits[i];
        if (strcmp(x->field, y->field) != 0 || x->base != y->base ||
            (x->value_json == NULL) != (y->value_json == NULL) ||
            (x->value_json && strcmp(x->value_json, y->value_json) != 0))
            return 0;
    }
    return 1;
}

static int same_change(const fs_change *a, const fs_change *b)
{
    if (a->kind != b->kind)
        return 0;
    return a->kind == FS_CHANGE_ENTITY ? same_entity(&a->ent, &b->ent)
                                       : same_submission(&a->sub, &b->sub);
}

static void check_entity(const fs_entity_change *e, const fs_limits *lim)
{
    size_t i;

    REQUIRE(fs_entity_op_name(e->op) != NULL);
    REQUIRE(fs_valid_form_id(e->type));
    REQUIRE(fs_valid_uuid(e->id));
    REQUIRE(e->collector[0] == '\0' || fs_valid_name(e->collector));
    REQUIRE(e->created_ms >= 0);
    REQUIRE(e->n <= lim->max_answers);
    REQUIRE(e->n >= 1 || e->op == FS_ENTITY_DELETE);
    for (i = 0; i < e->n; i++) {
        const fs_entity_edit *ed = &e->edits[i];
        REQUIRE(fs_valid_field_name(ed->field));
        REQUIRE(ed->base >= 0);
        REQUIRE(e->op != FS_ENTITY_NEW || ed->base == 0);
        REQUIRE((ed->value_json == NULL) == (e->op == FS_ENTITY_DELETE));
        if (i > 0)
            REQUIRE(strcmp(e->edits[i - 1].field, ed->field) < 0);
    }
}

/* What decode promises about a changeset it accepted. */
static void check_decoded(const fs_changeset *cs, const fs_limits *lim)
{
    size_t i;

    REQUIRE(cs->protocol == FS_PROTOCOL_VERSION);
    REQUIRE(cs->schema == FS_SCHEMA_VERSION);
    REQUIRE(fs_valid_uuid(cs->device));
    REQUIRE(cs->n >= 1 && cs->n <= lim->max_changes);
    REQUIRE(cs->first_seq >= 1);
    REQUIRE(cs->last_seq - cs->first_seq + 1 == (int64_t)cs->n);
    for (i = 0; i < cs->n; i++) {
        const fs_change *c = &cs->changes[i];
        const fs_submission *s = &c->sub;

        REQUIRE(c->seq == cs->first_seq + (int64_t)i);
        if (c->err != 0) {
            REQUIRE(c->err < 0);
            REQUIRE(memchr(c->errmsg, '\0', sizeof(c->errmsg)) != NULL);
            continue;
        }
        if (c->kind == FS_CHANGE_ENTITY) {
            check_entity(&c->ent, lim);
            continue;
        }
        REQUIRE(c->kind == FS_CHANGE_SUBMISSION);
        REQUIRE(fs_valid_uuid(s->id));
        REQUIRE(fs_valid_form_id(s->form_id));
        REQUIRE(s->area[0] == '\0' || fs_valid_area_code(s->area));
        REQUIRE(s->collector[0] == '\0' || fs_valid_name(s->collector));
        REQUIRE(s->form_version >= 1 && s->rev >= 1);
        REQUIRE(s->base_rev >= 0 && s->base_rev < s->rev);
        REQUIRE(s->created_ms >= 0);
        REQUIRE(s->answers_json != NULL && s->answers_json[0] == '{');
    }
}

/* Copies the well-formed changes of cs, renumbered from first_seq, into a
 * new changeset that borrows their answers; NULL when there are none. */
static fs_changeset *good_changes(const fs_changeset *cs)
{
    fs_changeset *g = fs_changeset_new(cs->n);
    size_t i;

    REQUIRE(g != NULL);
    memcpy(g->device, cs->device, sizeof(g->device));
    g->first_seq = cs->first_seq;
    for (i = 0; i < cs->n; i++) {
        if (cs->changes[i].err != 0)
            continue;
        g->changes[g->n] = cs->changes[i];
        g->changes[g->n].seq = g->first_seq + (int64_t)g->n;
        g->n++;
    }
    g->last_seq = g->first_seq + (int64_t)g->n - 1;
    return g;
}

/* Frees g without the answers it borrowed. */
static void free_borrowed(fs_changeset *g)
{
    free(g->changes);
    free(g);
}

static void check_round_trip(const fs_changeset *cs, const fs_limits *lim)
{
    fs_changeset *g = good_changes(cs);
    fs_changeset *back = NULL, *back_gz = NULL;
    fs_buf plain, again, gz;
    char digest[65], digest_gz[65], want[65];
    fs_err err;
    size_t i, jlen = 0;

    if (g->n == 0) {
        free_borrowed(g);
        return;
    }
    fs_buf_init(&plain, (size_t)64 << 20);
    fs_buf_init(&again, (size_t)64 << 20);
    fs_buf_init(&gz, (size_t)64 << 20);
    REQUIRE(fs_changeset_encode(g, 0, &plain, &jlen) == FS_OK);
    REQUIRE(jlen == plain.len);
    REQUIRE(fs_changeset_encode(g, 6, &gz, NULL) == FS_OK);

    /* Re-encoded text can be longer than what came in (escapes), so it
     * is decoded under limits wide enough for any size it can reach;
     * the structural limits stay as they were. */
    fs_limits wide = *lim;
    wide.max_compressed = (size_t)64 << 20;
    wide.max_decompressed = (size_t)64 << 20;
    wide.max_ratio = 100000;
    REQUIRE(fs_changeset_decode(plain.data, plain.len, 0, &wide, &back, digest,
                                &err) == FS_OK);
    REQUIRE(fs_changeset_decode(gz.data, gz.len, 1, &wide, &back_gz, digest_gz,
                                &err) == FS_OK);
    fs_sha256_hex(plain.data, plain.len, want);
    REQUIRE(strcmp(digest, want) == 0);
    REQUIRE(strcmp(digest_gz, want) == 0);

    REQUIRE(back->n == g->n && back_gz->n == g->n);
    REQUIRE(strcmp(back->device, g->device) == 0);
    REQUIRE(back->first_seq == g->first_seq && back->last_seq == g->last_seq);
    for (i = 0; i < g->n; i++) {
        REQUIRE(back->changes[i].err == 0);
        REQUIRE(back->changes[i].seq == g->changes[i].seq);
        REQUIRE(same_change(&back->changes[i], &g->changes[i]));
        REQUIRE(same_change(&back_gz->changes[i], &g->changes[i]));
    }
    REQUIRE(fs_changeset_encode(back, 0, &again, NULL) == FS_OK);
    REQUIRE(again.len == plain.len &&
            memcmp(again.data, plain.data, plain.len) == 0);

    fs_changeset_free(back);
    fs_changeset_free(back_gz);
    fs_buf_free(&plain);
    fs_buf_free(&again);
    fs_buf_free(&gz);
    free_borrowed(g);
}

/* A gzip body, inflated by hand and decoded as plain JSON, must give the
 * same answer as decoding it as gzip. */
static void check_gunzip_agrees(const uint8_t *body, size_t n,
                                const fs_limits *lim, int rc_gz,
                                const char *digest_gz)
{
    fs_changeset *cs = NULL;
    fs_buf out;
    fs_err err;
    char digest[65];
    int rc;

    fs_buf_init(&out, lim->max_decompressed);
    rc = fs_gunzip(body, n, lim, &out, &err);
    if (rc != FS_OK) {
        REQUIRE(rc_gz == rc);
        fs_buf_free(&out);
        return;
    }
    REQUIRE(out.len <= lim->max_decompressed);
    /* max_compressed bounds the body as it arrived, which was smaller. */
    fs_limits inflated = *lim;
    inflated.max_compressed = lim->max_decompressed;
    rc =
        fs_changeset_decode(out.data, out.len, 0, &inflated, &cs, digest, &err);
    REQUIRE(rc == rc_gz);
    if (rc == FS_OK)
        REQUIRE(strcmp(digest, digest_gz) == 0);
    fs_changeset_free(cs);
    fs_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_changeset *cs = NULL;
    fs_limits lim;
    fs_err err = {0, ""};
    char digest[65];
    int gzipped, rc;

    if (size < 1)
        return 0;
    gzipped = data[0] & 1;
    data++;
    size--;
    fs_limits_default(&lim);
    rc = fs_changeset_decode(data, size, gzipped, &lim, &cs, digest, &err);
    {
        char why[700];

        if (!ref_changeset_agrees(data, size, gzipped, &lim, why,
                                  sizeof(why))) {
            fprintf(stderr, "%s\n", why);
            abort();
        }
    }
    if (rc != FS_OK) {
        REQUIRE(cs == NULL);
        REQUIRE(err.code == rc);
        REQUIRE(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        REQUIRE(fs_errname(rc) != NULL);
    } else {
        REQUIRE(cs != NULL && strlen(digest) == 64);
        check_decoded(cs, &lim);
        check_round_trip(cs, &lim);
    }
    if (gzipped)
        check_gunzip_agrees(data, size, &lim, rc, digest);
    fs_changeset_free(cs);
    return 0;
}
