/*
 * merge.c - the merge engine: decides, change by change, what a changeset
 * does to the hub's dataset. Runs inside the push transaction.
 *
 * Submissions: a new (id, rev) is inserted; an identical copy is a no-op
 * ("duplicate"); the same (id, rev) with other content is kept aside as
 * "divergent" for an admin; a change the hub cannot accept is "refused"
 * with a reason and also kept aside. Nothing is dropped silently.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_int.h"

/* The published form a run of changes refers to, parsed once. Changesets
 * are usually many submissions of the same form. */
typedef struct form_cache {
    char id[FS_ID_MAX + 1];
    int64_t version;
    int found;
    cJSON *fields; /* the "fields" array of the definition (borrowed) */
    cJSON *def;    /* owned */
} form_cache;

static int load_form(sqlite3 *db, form_cache *fc, const char *id,
                     int64_t version)
{
    if (fc->def || fc->id[0]) {
        if (strcmp(fc->id, id) == 0 && fc->version == version)
            return SQLITE_OK;
        cJSON_Delete(fc->def);
        memset(fc, 0, sizeof *fc);
    }
    snprintf(fc->id, sizeof fc->id, "%s", id);
    fc->version = version;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT definition FROM forms WHERE id = ? "
                                "AND version = ?",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        fc->def = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
        fc->fields = cJSON_GetObjectItemCaseSensitive(fc->def, "fields");
        fc->found = fc->def != NULL;
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int form_has_field(const form_cache *fc, const char *name)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, fc->fields)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(f, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return 1;
    }
    return 0;
}

static void refuse(fs_result *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(fs_result *r, const char *code, const char *fmt, ...)
{
    r->status = FS_RES_REFUSED;
    snprintf(r->error, sizeof r->error, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

/* Checks a well-formed submission against the hub's forms. */
static int check_submission(sqlite3 *db, form_cache *fc,
                            const fs_submission *s, fs_result *r)
{
    int rc = load_form(db, fc, s->form_id, s->form_version);
    if (rc != SQLITE_OK)
        return rc;
    if (!fc->found) {
        refuse(r, "unknown_form",
               "form %s version %lld is not published on this hub; ask "
               "an admin to publish it, then sync again",
               s->form_id, (long long)s->form_version);
        return SQLITE_OK;
    }
    cJSON *answers = cJSON_Parse(s->answers_json);
    const cJSON *a;
    cJSON_ArrayForEach(a, answers)
    {
        if (!form_has_field(fc, a->string)) {
            refuse(r, "unknown_field",
                   "answer %s is not a field of form %s version %lld",
                   a->string, s->form_id, (long long)s->form_version);
            break;
        }
    }
    cJSON_Delete(answers);
    return SQLITE_OK;
}

/* SHA-256 over every part of a submission's content that a replay must
 * repeat exactly. The sequence number is not part of it: the same record
 * sent again after an agent realigned is still the same record. */
static void content_digest(const fs_submission *s, char out[65])
{
    size_t alen = strlen(s->answers_json);
    size_t cap = alen + 512;
    char *buf = malloc(cap);
    if (!buf) {
        out[0] = '\0';
        return;
    }
    char hlc[FS_HLC_TEXT_LEN + 1];
    fs_hlc_format(s->hlc, hlc);
    int n = snprintf(buf, cap, "%s\n%lld\n%s\n%s\n%s\n%lld\n%lld\n%s",
                     s->form_id, (long long)s->form_version, s->area,
                     s->collector, hlc, (long long)s->created_ms,
                     (long long)s->base_rev, s->answers_json);
    fs_sha256_hex(buf, (size_t)n < cap ? (size_t)n : cap - 1, out);
    free(buf);
}

static int hold(sqlite3 *db, const char *device, const fs_change *c,
                const fs_result *r, int64_t now)
{
    cJSON *j = fs_change_to_json(c);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db,
        "INSERT INTO held_changes (device_id, seq, outcome, error, "
        "message, change, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, c->seq);
        sqlite3_bind_text(st, 3, fs_result_status_name(r->status), -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(st, 4, r->error, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, r->message, -1, SQLITE_STATIC);
        /* A change too broken to re-encode is still recorded. */
        sqlite3_bind_text(st, 6, text ? text : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, now);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    free(text);
    return rc;
}

static int merge_submission(sqlite3 *db, const char *device,
                            const fs_submission *s, fs_result *r,
                            int64_t now)
{
    char digest[65];
    content_digest(s, digest);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT digest FROM submissions WHERE id = ? "
                                "AND rev = ?",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, s->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, s->rev);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 0);
        r->status = d && strcmp(d, digest) == 0 ? FS_RES_DUPLICATE
                                                : FS_RES_DIVERGENT;
        sqlite3_finalize(st);
        if (r->status == FS_RES_DIVERGENT) {
            snprintf(r->error, sizeof r->error, "divergent");
            snprintf(r->message, sizeof r->message,
                     "the hub already holds submission %s revision %lld "
                     "with other content; both are kept for an admin to "
                     "review",
                     s->id, (long long)s->rev);
        }
        return SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rc;

    char hlc[FS_HLC_TEXT_LEN + 1];
    fs_hlc_format(s->hlc, hlc);
    rc = sqlite3_prepare_v2(
        db,
        "INSERT INTO submissions (id, rev, base_rev, form_id, form_version, "
        "area, device_id, collector, hlc, created_ms, received_ms, answers, "
        "digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, s->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, s->rev);
    sqlite3_bind_int64(st, 3, s->base_rev);
    sqlite3_bind_text(st, 4, s->form_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, s->form_version);
    sqlite3_bind_text(st, 6, s->area, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, s->collector, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, hlc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, s->created_ms);
    sqlite3_bind_int64(st, 11, now);
    sqlite3_bind_text(st, 12, s->answers_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, digest, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rc;
    r->status = FS_RES_APPLIED;
    return SQLITE_OK;
}

int hub__merge(sqlite3 *db, const char *device_id, const fs_changeset *cs,
               fs_push_reply *reply)
{
    form_cache fc;
    memset(&fc, 0, sizeof fc);
    int64_t now = (int64_t)fs_now_ms();
    int rc = SQLITE_OK;
    for (size_t i = 0; i < cs->n && rc == SQLITE_OK; i++) {
        const fs_change *c = &cs->changes[i];
        fs_result *r = &reply->results[i];
        r->seq = c->seq;
        if (c->err != 0) {
            refuse(r, fs_errname(c->err), "%s", c->errmsg);
        } else {
            rc = check_submission(db, &fc, &c->sub, r);
            if (rc == SQLITE_OK && r->status != FS_RES_REFUSED)
                rc = merge_submission(db, device_id, &c->sub, r, now);
        }
        if (rc == SQLITE_OK &&
            (r->status == FS_RES_REFUSED || r->status == FS_RES_DIVERGENT))
            rc = hold(db, device_id, c, r, now);
    }
    cJSON_Delete(fc.def);
    return rc;
}
