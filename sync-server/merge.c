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

#include "fs_form.h"
#include "merge.h"
#include "conflicts.h"
#include "entity.h"
#include "errors.h"
#include "stmtcache.h"

/* Published forms, parsed, kept per worker thread. A published (id,
 * version) never changes (publishing other content under it is refused),
 * so an entry stays right for the thread's whole life; only forms that
 * exist are kept, so a form published later is found. */
typedef struct form_entry {
    char id[FS_ID_MAX + 1];
    int64_t version;
    fs_form *form; /* NULL when the stored definition is unreadable */
} form_entry;

#define FORM_CACHE_MAX 8

static _Thread_local form_entry form_cache[FORM_CACHE_MAX];
static _Thread_local int form_cache_n, form_cache_next;

void hub__merge_release(void)
{
    for (int i = 0; i < form_cache_n; i++)
        fs_form_free(form_cache[i].form);
    memset(form_cache, 0, sizeof form_cache);
    form_cache_n = form_cache_next = 0;
}

/* The cached entry for (id, version), read from the forms table when
 * missing; *found is 0 when no such form is published. */
static int load_form(sqlite3 *db, const char *id, int64_t version, int *found,
                     const fs_form **form)
{
    *found = 0;
    *form = NULL;
    for (int i = 0; i < form_cache_n; i++) {
        form_entry *e = &form_cache[i];
        if (e->version == version && strcmp(e->id, id) == 0) {
            *found = 1;
            *form = e->form;
            return HUB_OK;
        }
    }
    int rc;
    sqlite3_stmt *st = hub__sql(
        db, "SELECT definition FROM forms WHERE id = ? AND version = ?",
        HUB_ARGS(HUB_TEXT(id), HUB_INT(version)), &rc);
    fs_form *parsed = NULL;
    if (st && (rc = hub__sql_step(st)) > 0) {
        /* Not strict: a definition published by a newer hub may carry
         * members this one does not know. */
        const char *def = (const char *)sqlite3_column_text(st, 0);
        *found = 1;
        if (def)
            fs_form_parse(def, (size_t)sqlite3_column_bytes(st, 0), 0, &parsed,
                          NULL);
        hub__sql_end(st);
        rc = HUB_OK;
    }
    if (!*found)
        return rc;
    int slot = form_cache_n;
    if (form_cache_n < FORM_CACHE_MAX) {
        form_cache_n++;
    } else {
        slot = form_cache_next;
        form_cache_next = (form_cache_next + 1) % FORM_CACHE_MAX;
        fs_form_free(form_cache[slot].form);
    }
    snprintf(form_cache[slot].id, sizeof form_cache[slot].id, "%s", id);
    form_cache[slot].version = version;
    form_cache[slot].form = parsed;
    *form = parsed;
    return HUB_OK;
}

void hub__refuse(fs_result *r, const char *code, const char *fmt, ...)
{
    r->status = FS_RES_REFUSED;
    snprintf(r->error, sizeof r->error, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

/* Checks a well-formed submission against the hub's forms. */
static int check_submission(sqlite3 *db, const fs_submission *s, fs_result *r)
{
    int found;
    const fs_form *form;
    int rc = load_form(db, s->form_id, s->form_version, &found, &form);
    if (rc != HUB_OK)
        return rc;
    if (!found) {
        hub__refuse(r, "unknown_form",
                    "form %s version %lld is not published on this hub; ask "
                    "an admin to publish it, then sync again",
                    s->form_id, (long long)s->form_version);
        return HUB_OK;
    }
    if (!form) {
        hub__refuse(
            r, "unknown_form",
            "form %s version %lld on this hub is not a valid definition "
            "for this hub; ask an admin to publish a corrected version",
            s->form_id, (long long)s->form_version);
        return HUB_OK;
    }
    /* The agent ran the same validator before recording; a refusal here
     * means the two disagree (another agent build, a hand-made push). */
    /* A decoded changeset carries its answers parsed already. */
    cJSON *parsed = NULL;
    const cJSON *answers = s->answers;
    fs_problems probs;
    fs_problems_init(&probs);
    int vrc = FS_OK;
    if (!answers) {
        vrc = fs_json_parse(s->answers_json, strlen(s->answers_json), NULL,
                            &parsed, NULL);
        answers = parsed;
    }
    if (vrc == FS_OK)
        vrc = fs_answers_validate(form, answers, s->area, &probs);
    /* Sealed fields arrive sealed or not at all (fs_form.h). */
    if (vrc == FS_OK || vrc == FS_EINVALID) {
        int src = fs_answers_check_sealed(form, answers, &probs);
        vrc = vrc == FS_OK ? src : vrc;
    }
    if (vrc == FS_ENOMEM) {
        cJSON_Delete(parsed);
        return HUB_ENOMEM; /* the push fails whole and is retried */
    }
    if (vrc != FS_OK) {
        char list[FS_ERRMSG_MAX - 96]; /* room for the prefix */
        fs_problems_format(&probs, "; ", list, sizeof list);
        hub__refuse(r, "invalid_answers", "form %s v%lld: %s", s->form_id,
                    (long long)s->form_version, list);
    }
    cJSON_Delete(parsed);
    return HUB_OK;
}

/* SHA-256 over every part of a submission's content that a replay must
 * repeat exactly. The sequence number is not part of it: the same record
 * sent again after an agent realigned is still the same record. */
static char *put_text(char *p, const char *s, int nl)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    p += n;
    if (nl)
        *p++ = '\n';
    return p;
}

/* v in decimal and a newline, as "%lld\n" prints it. */
static char *put_int(char *p, long long v)
{
    char tmp[24];
    char *d = tmp + sizeof tmp;
    unsigned long long u =
        v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--d = '-';
    size_t n = (size_t)(tmp + sizeof tmp - d);
    memcpy(p, d, n);
    p[n] = '\n';
    return p + n + 1;
}

/* The fields joined by newlines, answers last, built with plain copies
 * (snprintf and a malloc for each of a push's 200 submissions were a
 * twentieth of its decoding). The bytes are the ones hubs have always
 * hashed: stored digests compare with them. */
static void content_digest(const fs_submission *s, char out[65])
{
    char stack[4096];
    size_t need = strlen(s->answers_json) + sizeof s->form_id + sizeof s->area +
                  sizeof s->collector + FS_HLC_TEXT_LEN + 3 * 24 + 8;
    char *buf = need <= sizeof stack ? stack : malloc(need);
    if (!buf) {
        out[0] = '\0';
        return;
    }
    char hlc[FS_HLC_TEXT_LEN + 1];
    fs_hlc_format(s->hlc, hlc);
    char *p = put_text(buf, s->form_id, 1);
    p = put_int(p, (long long)s->form_version);
    p = put_text(p, s->area, 1);
    p = put_text(p, s->collector, 1);
    p = put_text(p, hlc, 1);
    p = put_int(p, (long long)s->created_ms);
    p = put_int(p, (long long)s->base_rev);
    p = put_text(p, s->answers_json, 0);
    fs_sha256_hex(buf, (size_t)(p - buf), out);
    if (buf != stack)
        free(buf);
}

static int hold(sqlite3 *db, const char *device, const fs_change *c,
                const fs_result *r, int64_t now)
{
    cJSON *j = fs_change_to_json(c);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    /* A change too broken to re-encode is still recorded. */
    int rc = hub__sql_run(
        db,
        "INSERT INTO held_changes (device_id, seq, outcome, error, message, "
        "change, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        HUB_ARGS(HUB_TEXT(device), HUB_INT(c->seq),
                 HUB_TEXT(fs_result_status_name(r->status)), HUB_TEXT(r->error),
                 HUB_TEXT(r->message), HUB_TEXT(text ? text : "{}"),
                 HUB_INT(now)));
    free(text);
    return rc;
}

/* An amendment (base_rev > 0) whose base is no longer the newest
 * revision (an admin corrected it meanwhile): opens a 'submission'
 * conflict holding both and sets r to divergent/"conflict". *handled is 0
 * when the amendment is not one (merge it as usual). */
static int amend_conflict(sqlite3 *db, const char *device,
                          const fs_submission *s, fs_result *r, int64_t now,
                          int *handled)
{
    *handled = 0;
    /* The newest revision, unless this very revision is stored (then
     * the usual duplicate/divergent rules answer). */
    int rc;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT rev, answers, device_id, collector, hlc, area FROM "
        "submissions WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM "
        "submissions WHERE id = ?1 AND rev = ?2 AND device_id = ?3) ORDER "
        "BY rev DESC LIMIT 1",
        HUB_ARGS(HUB_TEXT(s->id), HUB_INT(s->rev), HUB_TEXT(device)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc <= 0 || sqlite3_column_int64(st, 0) == s->base_rev) {
        hub__sql_end(st);
        return rc < 0 ? rc : HUB_OK;
    }
    int64_t cur = sqlite3_column_int64(st, 0);
    char hlc[FS_HLC_TEXT_LEN + 1];
    fs_hlc_format(s->hlc, hlc);
    int64_t cid = 0;
    rc = hub__conflict_open(db, "submission", s->id, "", hub__col(st, 5), now,
                            &cid);
    if (rc == HUB_OK)
        rc = hub__conflict_add(db, cid, hub__col(st, 1), hub__col(st, 2),
                               hub__col(st, 3), hub__col(st, 4), cur, now);
    hub__sql_end(st);
    if (rc == HUB_OK)
        rc = hub__conflict_add(db, cid, s->answers_json, device, s->collector,
                               hlc, 0, now);
    if (rc != HUB_OK)
        return rc;
    *handled = 1;
    r->status = FS_RES_DIVERGENT;
    snprintf(r->error, sizeof r->error, "conflict");
    snprintf(r->message, sizeof r->message,
             "submission %s was corrected on the hub (revision %lld) after "
             "revision %lld that this amendment is based on; both are kept "
             "as conflict #%lld for a hub admin to settle",
             s->id, (long long)cur, (long long)s->base_rev, (long long)cid);
    return HUB_OK;
}

/* A submission belongs to the device that made its first revision;
 * rows an admin wrote (device_id '') own nothing. Sets r to refused when
 * the submission exists and another device made it: that device's
 * record is never moved or amended by this one. */
static int check_owner(sqlite3 *db, const char *device, const fs_submission *s,
                       fs_result *r)
{
    int rc;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT device_id FROM submissions WHERE id = ? AND device_id <> '' "
        "ORDER BY rev LIMIT 1",
        HUB_ARGS(HUB_TEXT(s->id)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc > 0 && strcmp(hub__col(st, 0), device) != 0)
        hub__refuse(r, "not_owner",
                    "submission %s was made by another device; only that "
                    "device (or a hub admin's correction) may revise it",
                    s->id);
    hub__sql_end(st);
    return rc < 0 ? rc : HUB_OK;
}

static int merge_submission(sqlite3 *db, const char *device,
                            const fs_submission *s, const char *digest,
                            fs_result *r, int64_t now)
{
    int orc = check_owner(db, device, s, r);
    if (orc != HUB_OK || r->status == FS_RES_REFUSED)
        return orc;
    /* An amendment based on a revision that is no longer the newest (an
     * admin corrected it meanwhile) is a conflict, never an overwrite. */
    if (s->base_rev > 0) {
        int handled = 0;
        int arc = amend_conflict(db, device, s, r, now, &handled);
        if (arc != HUB_OK || handled)
            return arc;
    }
    /* Nearly every change is new: insert first and look at what is
     * stored only when (id, rev) is taken, one index probe instead of
     * two on the common path. */
    char hlc[FS_HLC_TEXT_LEN + 1];
    fs_hlc_format(s->hlc, hlc);
    int rc = hub__sql_run(
        db,
        "INSERT INTO submissions (id, rev, base_rev, form_id, form_version, "
        "area, device_id, collector, hlc, created_ms, received_ms, answers, "
        "digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
        "(id, rev) DO NOTHING",
        HUB_ARGS(HUB_TEXT(s->id), HUB_INT(s->rev), HUB_INT(s->base_rev),
                 HUB_TEXT(s->form_id), HUB_INT(s->form_version),
                 HUB_TEXT(s->area), HUB_TEXT(device), HUB_TEXT(s->collector),
                 HUB_TEXT(hlc), HUB_INT(s->created_ms), HUB_INT(now),
                 HUB_TEXT(s->answers_json), HUB_TEXT(digest)));
    if (rc != HUB_OK)
        return rc;
    if (sqlite3_changes(db) == 1) {
        r->status = FS_RES_APPLIED;
        return HUB_OK;
    }

    sqlite3_stmt *st =
        hub__sql(db, "SELECT digest FROM submissions WHERE id = ? AND rev = ?",
                 HUB_ARGS(HUB_TEXT(s->id), HUB_INT(s->rev)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc <= 0)
        return rc < 0 ? rc : HUB_ESTORAGE; /* it was there a moment ago */
    const char *d = (const char *)sqlite3_column_text(st, 0);
    r->status =
        d && strcmp(d, digest) == 0 ? FS_RES_DUPLICATE : FS_RES_DIVERGENT;
    hub__sql_end(st);
    if (r->status == FS_RES_DIVERGENT) {
        snprintf(r->error, sizeof r->error, "divergent");
        snprintf(r->message, sizeof r->message,
                 "the hub already holds submission %s revision %lld "
                 "with other content; both are kept for an admin to "
                 "review",
                 s->id, (long long)s->rev);
    }
    return HUB_OK;
}

int hub__merge_prepare(sqlite3 *db, const fs_changeset *cs, fs_result *results,
                       hub_digest *digests)
{
    int rc = HUB_OK;
    for (size_t i = 0; i < cs->n && rc == HUB_OK; i++) {
        const fs_change *c = &cs->changes[i];
        fs_result *r = &results[i];
        memset(r, 0, sizeof *r);
        r->seq = c->seq;
        digests[i].hex[0] = '\0';
        if (c->err != 0) {
            hub__refuse(r, fs_errname(c->err), "%s", c->errmsg);
        } else if (c->kind == FS_CHANGE_SUBMISSION) {
            rc = check_submission(db, &c->sub, r);
            if (rc == HUB_OK && r->status != FS_RES_REFUSED) {
                content_digest(&c->sub, digests[i].hex);
                if (!digests[i].hex[0])
                    rc = HUB_ENOMEM;
            }
        }
    }
    return rc;
}

/* Drops device's held changes older than keep_ms, then counts what it
 * holds into *n and *bytes. */
static int held_usage(sqlite3 *db, const char *device, int64_t now,
                      int64_t keep_ms, int64_t *n, int64_t *bytes)
{
    int rc = hub__sql_run(
        db, "DELETE FROM held_changes WHERE device_id = ? AND received_ms < ?",
        HUB_ARGS(HUB_TEXT(device), HUB_INT(now - keep_ms)));
    if (rc != HUB_OK)
        return rc;
    /* Bytes, not characters: a blob's length is its size. */
    sqlite3_stmt *st =
        hub__sql(db,
                 "SELECT count(*), coalesce(sum(length(CAST(change AS BLOB)) + "
                 "length(CAST(message AS BLOB))), 0) FROM held_changes WHERE "
                 "device_id = ?",
                 HUB_ARGS(HUB_TEXT(device)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc > 0) {
        *n = sqlite3_column_int64(st, 0);
        *bytes = sqlite3_column_int64(st, 1);
    }
    hub__sql_end(st);
    return rc < 0 ? rc : HUB_OK;
}

int hub__merge(sqlite3 *db, const char *device_id, const fs_changeset *cs,
               const hub_digest *digests, const hub_held_quota *quota,
               fs_push_reply *reply, int64_t *held, int64_t *held_bytes)
{
    int64_t now = (int64_t)fs_now_ms();
    int rc = HUB_OK;
    size_t held_new = 0;
    for (size_t i = 0; i < cs->n && rc == HUB_OK; i++) {
        const fs_change *c = &cs->changes[i];
        fs_result *r = &reply->results[i];
        /* Refusals were decided by hub__merge_prepare. */
        if (r->status == FS_RES_REFUSED)
            ;
        else if (c->kind == FS_CHANGE_ENTITY)
            rc = hub__merge_entity(db, device_id, &c->ent, r, now);
        else
            rc = merge_submission(db, device_id, &c->sub, digests[i].hex, r,
                                  now);
        if (rc == HUB_OK &&
            (r->status == FS_RES_REFUSED || r->status == FS_RES_DIVERGENT)) {
            rc = hold(db, device_id, c, r, now);
            held_new++;
        }
    }
    /* Checked once the push is merged, inside its savepoint: a push
     * that holds nothing new always goes through (and costs no count),
     * and one that would hold too much is taken back whole. */
    *held = *held_bytes = 0;
    if (rc == HUB_OK && held_new > 0)
        rc = held_usage(db, device_id, now, quota->keep_ms, held, held_bytes);
    if (rc == HUB_OK && held_new > 0 &&
        (*held > quota->max || *held_bytes > quota->max_bytes))
        rc = HUB_EQUOTA;
    return rc;
}
