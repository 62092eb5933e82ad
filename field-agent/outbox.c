/*
 * outbox.c - the transactional outbox's sequence and its rows as
 * changesets (outbox.h says the invariants).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entity.h"
#include "outbox.h"
#include "store.h"
#include "trace.h"

/* ---- new changes ------------------------------------------------------- */

/* After a realignment the hub's sequence may be above every local row,
 * so the next number follows whichever is larger. */
static int next_seq(fa_agent *ag, int64_t *seq)
{
    int64_t acked = 0;
    int rc = fa__meta_get_int(ag, "acked_seq", 0, &acked);
    if (rc != FA_OK)
        return rc;
    sqlite3_stmt *st = NULL;
    if (fa__prepare(ag, &st, "reading the outbox",
                    "SELECT coalesce(max(seq), 0) FROM outbox", "") != FA_OK)
        return FA_ESTORE;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return fa__store_error(ag, "reading the outbox");
    }
    int64_t max = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    *seq = (max > acked ? max : acked) + 1;
    return FA_OK;
}

int fa__stamp(fa_agent *ag, char collector[FS_NAME_MAX + 1],
              char hlc[FS_HLC_TEXT_LEN + 1], int64_t *seq)
{
    uint64_t hlc_state = 0;
    int rc = fa__meta_get(ag, "hlc", hlc, FS_HLC_TEXT_LEN + 1);
    if (rc == FA_OK && hlc[0])
        fs_hlc_parse(hlc, &hlc_state);
    if (rc == FA_OK)
        rc = fa__meta_get(ag, "collector", collector, FS_NAME_MAX + 1);
    if (rc == FA_OK)
        rc = next_seq(ag, seq);
    if (rc == FA_OK)
        fs_hlc_format(fs_hlc_tick(&hlc_state, fs_now_ms()), hlc);
    return rc;
}

int fa__outbox_add(fa_agent *ag, const char *what, int64_t seq,
                   const char *kind, const char *ref_id, int64_t ref_rev,
                   int64_t now, const char *hlc)
{
    int rc = fa__exec(ag, what,
                      "INSERT INTO outbox (seq, kind, ref_id, ref_rev, "
                      "created_ms) VALUES (?, ?, ?, ?, ?)",
                      "ittii", seq, kind, ref_id, ref_rev, now);
    return rc == FA_OK ? fa__meta_set(ag, "hlc", hlc) : rc;
}

/* ---- changesets -------------------------------------------------------- */

void fa__batch_free(fa__batch *b)
{
    fs_changeset_free(b->cs);
    free(b->ids);
    free(b->revs);
    free(b->entity);
    memset(b, 0, sizeof *b);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    snprintf(dst, cap, "%s", fa__col_text(st, col));
}

int fa__batch_load(fa_agent *ag, const char *device, int64_t acked,
                   size_t count, size_t bytes, fa__batch *b)
{
    memset(b, 0, sizeof *b);
    sqlite3_stmt *st = NULL;
    if (fa__prepare(
            ag, &st, "reading the outbox",
            "SELECT o.seq, s.id, s.rev, s.base_rev, s.form_id, "
            "s.form_version, s.area, s.collector, s.hlc, s.created_ms, "
            "coalesce(s.answers, e.fields), e.id, e.entity_id, e.type, e.op, "
            "e.fields, e.collector, e.hlc, e.created_ms FROM outbox o LEFT "
            "JOIN submissions s ON o.kind = 'submission' AND s.id = "
            "o.ref_id AND s.rev = o.ref_rev LEFT JOIN entity_changes e ON "
            "o.kind = 'entity' AND e.id = o.ref_rev WHERE o.seq > ? AND "
            "(s.id IS NOT NULL OR e.id IS NOT NULL) ORDER BY o.seq LIMIT ?",
            "ii", acked, (int64_t)count) != FA_OK)
        return FA_ESTORE;
    b->cs = fs_changeset_new(count);
    b->ids = calloc(count, sizeof b->ids[0]);
    b->revs = calloc(count, sizeof b->revs[0]);
    b->entity = calloc(count, 1);
    if (!b->cs || !b->ids || !b->revs || !b->entity) {
        sqlite3_finalize(st);
        fa__batch_free(b);
        return fa__fail(ag, FA_ESTORE, "out of memory");
    }
    fs_changeset *cs = b->cs;
    cs->protocol = FS_PROTOCOL_VERSION;
    cs->schema = FS_SCHEMA_VERSION;
    snprintf(cs->device, sizeof cs->device, "%s", device);
    size_t total = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *answers = (const char *)sqlite3_column_text(st, 10);
        size_t alen = strlen(answers);
        if (cs->n > 0 && total + alen > bytes)
            break;
        fs_change *c = &cs->changes[cs->n];
        c->seq = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 11) != SQLITE_NULL) {
            b->entity[cs->n] = 1;
            b->revs[cs->n] = sqlite3_column_int64(st, 11);
            cs->n++; /* its edits are ours to free from here on */
            if (fa__entity_change(st, 12, c) != FS_OK) {
                rc = SQLITE_NOMEM;
                break;
            }
            memcpy(b->ids[cs->n - 1], c->ent.id, sizeof c->ent.id);
            total += alen;
            continue;
        }
        c->kind = FS_CHANGE_SUBMISSION;
        fs_submission *s = &c->sub;
        copy_col(s->id, sizeof s->id, st, 1);
        s->rev = sqlite3_column_int64(st, 2);
        s->base_rev = sqlite3_column_int64(st, 3);
        copy_col(s->form_id, sizeof s->form_id, st, 4);
        s->form_version = sqlite3_column_int64(st, 5);
        copy_col(s->area, sizeof s->area, st, 6);
        copy_col(s->collector, sizeof s->collector, st, 7);
        fs_hlc_parse((const char *)sqlite3_column_text(st, 8), &s->hlc);
        s->created_ms = sqlite3_column_int64(st, 9);
        s->answers_json = strdup(answers);
        memcpy(b->ids[cs->n], s->id, sizeof s->id);
        b->revs[cs->n] = s->rev;
        if (!s->answers_json) {
            rc = SQLITE_NOMEM;
            break;
        }
        total += alen;
        cs->n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        fa__batch_free(b);
        return fa__store_error(ag, "reading the outbox");
    }
    if (cs->n == 0) {
        fa__batch_free(b);
        return FA_OK;
    }
    cs->first_seq = cs->changes[0].seq;
    cs->last_seq = cs->changes[cs->n - 1].seq;
    return FA_OK;
}

/* Applies an acknowledged reply: submission states and acked_seq in one
 * transaction. */
static int apply_reply(fa_agent *ag, const fa__batch *b, const fs_push_reply *r,
                       fa_sync_report *rep)
{
    int rc = fa__begin(ag);
    if (rc != FA_OK)
        return rc;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ag->db,
                           "UPDATE submissions SET state = ?, hub_status = "
                           "?, hub_error = ?, hub_message = ? WHERE id = ? "
                           "AND rev = ?",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < r->n; i++) {
        const fs_result *res = &r->results[i];
        int refused = res->status == FS_RES_REFUSED;
        if (b->entity[i] && fa__entity_ack(ag, b->revs[i], res) != FA_OK)
            goto fail;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, refused ? "refused" : "sent", -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(st, 2, fs_result_status_name(res->status), -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(st, 3, res->error, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, res->message, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, b->ids[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, b->revs[i]);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto fail;
        long long *counts[] = {NULL, &rep->applied, &rep->duplicate,
                               &rep->divergent, &rep->refused};
        if (res->status >= FS_RES_APPLIED && res->status <= FS_RES_REFUSED)
            (*counts[res->status])++;
    }
    sqlite3_finalize(st);
    st = NULL;
    rc = fa__meta_set_int(ag, "acked_seq", r->last_seq);
    if (rc == FA_OK)
        rc = fa__commit(ag);
    else
        fa__rollback(ag);
    if (rc == FA_OK)
        rep->sent += (long long)r->n;
    return rc;
fail:
    rc = fa__store_error(ag, "saving the hub's answer");
    sqlite3_finalize(st);
    fa__rollback(ag);
    return rc;
}

int fa__batch_take_reply(fa_agent *ag, const fa__batch *b, const char *reply,
                         size_t len, fa_sync_report *rep, long long *done)
{
    fs_push_reply *r = NULL;
    fs_err perr;
    if (fs_push_reply_decode(reply, len, &ag->limits, &r, &perr) != FS_OK ||
        r->first_seq != b->cs->first_seq || r->last_seq != b->cs->last_seq ||
        r->n != b->cs->n) {
        fs_push_reply_free(r);
        return fa__fail(ag, FA_EREFUSED,
                        "the hub's answer does not match what was "
                        "sent; nothing was marked as sent");
    }
    int rc = apply_reply(ag, b, r, rep);
    if (rc == FA_OK)
        *done += (long long)r->n;
    fs_push_reply_free(r);
    return rc;
}

int fa__batch_encode(fa_agent *ag, const fa__batch *b, const char *trace_dir,
                     fs_buf *body)
{
    fs_buf_init(body, ag->limits.max_compressed);
    /* Level 9, not zlib's default 6: its longer match search finds the
     * keys and values that repeat from change to change, ~6% fewer bytes
     * on a thin link for a few ms of CPU per batch. */
    if (fs_changeset_encode(b->cs, 9, body, NULL) != FS_OK) {
        fs_buf_free(body);
        return fa__fail(ag, FA_EINPUT,
                        "changes %lld..%lld do not fit in one request; "
                        "send fewer at a time (--batch)",
                        (long long)b->cs->first_seq,
                        (long long)b->cs->last_seq);
    }
    if (trace_dir)
        fa__trace_body(trace_dir, b->cs, body);
    return FA_OK;
}

/* ---- realignment ------------------------------------------------------- */

/* The rows the hub may not hold are the ones above the lower of our old
 * and the new sequence: when the hub is ahead (our database restored from
 * an older copy), our unsent rows sit between the two and must move past
 * the hub's sequence, never be taken as acknowledged; when the hub is
 * behind (its database restored), the rows it lost are sent again. */
int fa__outbox_realign(fa_agent *ag, int64_t new_acked)
{
    int64_t old_acked = 0;
    int rc = fa__meta_get_int(ag, "acked_seq", 0, &old_acked);
    if (rc != FA_OK)
        return rc;
    int64_t from = old_acked < new_acked ? old_acked : new_acked;
    rc = fa__begin(ag);
    if (rc != FA_OK)
        return rc;
    char sql[512];
    snprintf(sql, sizeof sql,
             /* Park the rows on negative numbers first: renumbering in
              * place could collide with the primary key midway. */
             "UPDATE outbox SET seq = -seq WHERE seq > %lld;"
             "UPDATE outbox SET seq = %lld + r.rn FROM ("
             "  SELECT seq AS s, row_number() OVER (ORDER BY seq DESC) AS rn"
             "  FROM outbox WHERE seq < 0) AS r WHERE outbox.seq = r.s;",
             (long long)from, (long long)new_acked);
    if (sqlite3_exec(ag->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        rc = fa__store_error(ag, "realigning the outbox");
        fa__rollback(ag);
        return rc;
    }
    rc = fa__meta_set_int(ag, "acked_seq", new_acked);
    if (rc == FA_OK)
        rc = fa__commit(ag);
    else
        fa__rollback(ag);
    return rc;
}

long long fa__outbox_pending(fa_agent *ag, int64_t acked)
{
    sqlite3_stmt *st = NULL;
    long long n = 0;
    if (fa__prepare(ag, &st, NULL, "SELECT count(*) FROM outbox WHERE seq > ?",
                    "i", acked) == FA_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}
