/*
 * sync.c - enrolment and sync: push the outbox in bounded changesets,
 * then pull the hub's change log.
 *
 * Invariants:
 *  - meta.acked_seq only moves forward after the hub acknowledged a
 *    changeset, and the acknowledgement and the state of its submissions
 *    commit together;
 *  - outbox rows above acked_seq are numbered acked_seq+1, +2, ... with no
 *    gap; realign() restores this whenever the hub's view of the sequence
 *    differs from ours (restored backups on either side);
 *  - outbox rows are kept after acknowledgement, so a hub restored from an
 *    older backup can be sent them again.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "entity.h"
#include "net.h"

#define MAX_REALIGN 8
#define MAX_PAGES 100000

void fa_sync_options_default(fa_sync_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_attempts = 5;
    /* Chosen by measurement (bench/README.md): on a 2G link each
     * changeset costs a round trip, and 200 survey submissions (~17 KB
     * gzipped, ~2 s at 64 kbit/s) keep that under a fifth of the sync
     * while a dropped request loses little; 100 cost 1.6x the ideal time,
     * 200 1.4x. */
    o->batch_count = 200;
    o->batch_bytes = 128 * 1024;
    /* The hub decodes the next changeset beside the one before and
     * commits the two together: ~1.3-1.5x the pushes a second of a lone
     * device on a fast link, and a round trip hidden per changeset on a
     * slow one (bench/README.md). Two, not more: the hub has two cores
     * to decode on, and more only lengthens what a failure resends. */
    o->in_flight = 2;
}

/* ---- enrolment ------------------------------------------------------- */

/* Keeps the device's scope ("*" or "A,B") from a JSON value that is "*"
 * or an array of codes; absent means everything. */
static int scope_text(const cJSON *v, int (*valid)(const char *), char *out,
                      size_t cap)
{
    size_t used = 0;
    snprintf(out, cap, "*");
    if (!v || (cJSON_IsString(v) && strcmp(v->valuestring, "*") == 0))
        return FA_OK;
    if (!cJSON_IsArray(v))
        return -1;
    out[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it) || !valid(it->valuestring))
            return -1;
        size_t len = strlen(it->valuestring);
        if (used + len + 2 > cap)
            return -1;
        if (used)
            out[used++] = ',';
        memcpy(out + used, it->valuestring, len + 1);
        used += len;
    }
    return FA_OK;
}

static int save_scope(fa_agent *ag, const cJSON *obj)
{
    char areas[2048], forms[2048];
    if (scope_text(cJSON_GetObjectItemCaseSensitive(obj, "areas"),
                   fs_valid_area_code, areas, sizeof areas) != FA_OK ||
        scope_text(cJSON_GetObjectItemCaseSensitive(obj, "forms"),
                   fs_valid_form_id, forms, sizeof forms) != FA_OK)
        return fa__fail(ag, FA_EREFUSED, "the hub sent a malformed scope");
    int rc = fa__meta_set(ag, "areas", areas);
    if (rc == FA_OK)
        rc = fa__meta_set(ag, "forms", forms);
    return rc;
}

int fa_enroll(fa_agent *ag, const char *hub_url, const char *code,
              const char *name, const char *collector, const char *ca_file)
{
    if (strncmp(hub_url, "http://", 7) != 0 &&
        strncmp(hub_url, "https://", 8) != 0)
        return fa__fail(ag, FA_EINPUT,
                        "--hub must be an http:// or https:// URL, e.g. "
                        "https://hub.example.org");
    if (name && !fs_valid_name(name))
        return fa__fail(ag, FA_EINPUT,
                        "--name must be printable text of "
                        "1 to 128 bytes");
    if (collector && !fs_valid_name(collector))
        return fa__fail(ag, FA_EINPUT,
                        "--collector must be printable text "
                        "of 1 to 128 bytes");
    char existing[64];
    int rc = fa__meta_get(ag, "device_id", existing, sizeof existing);
    if (rc != FA_OK)
        return rc;
    if (existing[0])
        return fa__fail(ag, FA_EINPUT,
                        "this directory is already enrolled as device %s; "
                        "use another --dir for another enrolment",
                        existing);

    char ca_abs[4096] = "";
    if (ca_file && !realpath(ca_file, ca_abs))
        return fa__fail(ag, FA_EINPUT, "cannot read the CA file %s: %s",
                        ca_file, strerror(errno));
    fa__http h;
    rc = fa__http_init(ag, &h, hub_url, NULL, ca_abs);
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "code", code);
    if (name)
        cJSON_AddStringToObject(req, "name", name);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (rc == FA_OK)
        rc = fa__http_request(ag, &h, "POST", "/api/v1/enroll", body,
                              strlen(body), 0);
    free(body);
    cJSON *rep = NULL;
    if (rc == FA_OK && h.status != 200) {
        char msg[600];
        fa__http_error_message(&h, msg, sizeof msg);
        rc =
            fa__fail(ag, FA_EREFUSED, "the hub refused the enrolment: %s", msg);
    }
    if (rc == FA_OK) {
        fs_err perr;
        if (fs_json_parse((const char *)h.reply.data, h.reply.len, &ag->limits,
                          &rep, &perr) != FS_OK)
            rc = fa__fail(ag, FA_EREFUSED, "the hub's answer is not JSON: %s",
                          perr.msg);
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rep, "device_id");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(rep, "token");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(rep, "name");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(rep, "role");
    if (rc == FA_OK &&
        (!cJSON_IsString(id) || !fs_valid_uuid(id->valuestring) ||
         !cJSON_IsString(tok) || strlen(tok->valuestring) != 64))
        rc = fa__fail(ag, FA_EREFUSED,
                      "the hub's enrolment answer lacks a device id or "
                      "token");
    if (rc == FA_OK) {
        const char *dname = cJSON_IsString(nm) ? nm->valuestring : "device";
        rc = fa__begin(ag);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "hub_url", h.base);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "device_id", id->valuestring);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "token", tok->valuestring);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "device_name", dname);
        if (rc == FA_OK && cJSON_IsString(role))
            rc = fa__meta_set(ag, "role", role->valuestring);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "collector", collector ? collector : dname);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "ca_file", ca_abs);
        if (rc == FA_OK)
            rc = save_scope(ag, rep);
        if (rc == FA_OK)
            rc = fa__commit(ag);
        else
            fa__rollback(ag);
        if (rc == FA_OK)
            snprintf(ag->err, sizeof ag->err, "enrolled as %s (%s) at %s",
                     dname, id->valuestring, h.base);
    }
    cJSON_Delete(rep);
    fa__http_free(&h);
    return rc;
}

/* ---- sequence alignment ---------------------------------------------- */

/* Makes new_acked the acknowledged sequence and renumbers, in their
 * order, every outbox row the hub may not hold to new_acked+1, +2, ...
 * in one transaction. Those rows are the ones above the lower of our old
 * and the new sequence: when the hub is ahead (our database restored from
 * an older copy), our unsent rows sit between the two and must move past
 * the hub's sequence, never be taken as acknowledged; when the hub is
 * behind (its database restored), the rows it lost are sent again. */
static int realign(fa_agent *ag, int64_t new_acked)
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

/* ---- push ------------------------------------------------------------ */

typedef struct batch {
    fs_changeset *cs;
    char (*ids)[FS_UUID_LEN + 1];
    int64_t *revs; /* submission revision, or entity_changes.id */
    char *entity;  /* 1 for an entity change */
} batch;

static void batch_free(batch *b)
{
    fs_changeset_free(b->cs);
    free(b->ids);
    free(b->revs);
    free(b->entity);
    memset(b, 0, sizeof *b);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Reads the next changeset: outbox rows after acked, at most count rows
 * and about bytes of answers (always at least one row). b->cs is NULL when
 * nothing waits. */
static int load_batch(fa_agent *ag, const char *device, int64_t acked,
                      size_t count, size_t bytes, batch *b)
{
    memset(b, 0, sizeof *b);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            ag->db,
            "SELECT o.seq, s.id, s.rev, s.base_rev, s.form_id, "
            "s.form_version, s.area, s.collector, s.hlc, s.created_ms, "
            "coalesce(s.answers, e.fields), e.id, e.entity_id, e.type, e.op, "
            "e.fields, e.collector, e.hlc, e.created_ms FROM outbox o LEFT "
            "JOIN submissions s ON o.kind = 'submission' AND s.id = "
            "o.ref_id AND s.rev = o.ref_rev LEFT JOIN entity_changes e ON "
            "o.kind = 'entity' AND e.id = o.ref_rev WHERE o.seq > ? AND "
            "(s.id IS NOT NULL OR e.id IS NOT NULL) ORDER BY o.seq LIMIT ?",
            -1, &st, NULL) != SQLITE_OK)
        return fa__store_error(ag, "reading the outbox");
    sqlite3_bind_int64(st, 1, acked);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)count);
    b->cs = fs_changeset_new(count);
    b->ids = calloc(count, sizeof b->ids[0]);
    b->revs = calloc(count, sizeof b->revs[0]);
    b->entity = calloc(count, 1);
    if (!b->cs || !b->ids || !b->revs || !b->entity) {
        sqlite3_finalize(st);
        batch_free(b);
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
        batch_free(b);
        return fa__store_error(ag, "reading the outbox");
    }
    if (cs->n == 0) {
        batch_free(b);
        return FA_OK;
    }
    cs->first_seq = cs->changes[0].seq;
    cs->last_seq = cs->changes[cs->n - 1].seq;
    return FA_OK;
}

/* Applies an acknowledged reply: submission states and acked_seq in one
 * transaction. */
static int apply_reply(fa_agent *ag, const batch *b, const fs_push_reply *r,
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
        switch (res->status) {
        case FS_RES_APPLIED:
            rep->applied++;
            break;
        case FS_RES_DUPLICATE:
            rep->duplicate++;
            break;
        case FS_RES_DIVERGENT:
            rep->divergent++;
            break;
        case FS_RES_REFUSED:
            rep->refused++;
            break;
        }
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

static void backoff(int attempt)
{
    /* Exponential with full jitter: 0.5 s, 1 s, 2 s ... capped at 8 s,
     * each drawn uniformly below its cap so that many devices coming
     * back at once do not retry in step. */
    unsigned cap_ms = 500u << (attempt < 4 ? attempt : 4);
    unsigned r = 0;
    fs_random_bytes(&r, sizeof r);
    unsigned ms = cap_ms / 2 + r % (cap_ms / 2 + 1);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int transient(long status)
{
    return status == 408 || status == 429 || status >= 500;
}

/* One request with retries for transient failures. The first failure to
 * connect at all ends at once: the hub is simply not there. */
static int request_retry(fa_agent *ag, fa__http *h, const fa_sync_options *o,
                         const char *method, const char *path, const void *body,
                         size_t len, int gz, int first, int tried)
{
    int rc = FA_OK;
    for (int attempt = tried; attempt < o->max_attempts; attempt++) {
        if (attempt > 0)
            backoff(attempt - 1);
        rc = fa__http_request(ag, h, method, path, body, len, gz);
        if (rc == FA_EUNREACHABLE && first && attempt == 0) {
            long err = fa__http_os_errno(h);
            if (err == ECONNREFUSED || err == ENETUNREACH ||
                err == EHOSTUNREACH)
                return rc;
        }
        if (rc == FA_OK && !transient(h->status))
            return FA_OK;
        if (rc == FA_OK) {
            char msg[600];
            fa__http_error_message(h, msg, sizeof msg);
            rc = fa__fail(ag, FA_EUNREACHABLE,
                          "the hub is busy or failing: "
                          "%s",
                          msg);
        } else if (rc != FA_EUNREACHABLE) {
            return rc;
        }
    }
    return rc;
}

static int64_t hub_seq_of(fa__http *h)
{
    cJSON *j = cJSON_ParseWithLength((const char *)h->reply.data, h->reply.len);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "hub_seq");
    int64_t v =
        cJSON_IsNumber(s) && s->valuedouble >= 0 ? (int64_t)s->valuedouble : -1;
    cJSON_Delete(j);
    return v;
}

static void save_trace(const char *dir, const fs_changeset *cs,
                       const fs_buf *body)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/push-%lld-%lld.json.gz", dir,
             (long long)cs->first_seq, (long long)cs->last_seq);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(body->data, 1, body->len, f);
        fclose(f);
    }
}

/* One line per push sent and per answer taken or dropped, in the trace
 * directory's pushes.log: what went out beside what, for whoever debugs
 * a sync (and the tests that show two pushes in flight). */
static void trace_note(const fa_sync_options *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void trace_note(const fa_sync_options *o, const char *fmt, ...)
{
    if (!o->trace_dir)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/pushes.log", o->trace_dir);
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static long long pending_count(fa_agent *ag, int64_t acked)
{
    sqlite3_stmt *st = NULL;
    long long n = 0;
    if (sqlite3_prepare_v2(ag->db,
                           "SELECT count(*) FROM outbox WHERE "
                           "seq > ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, acked);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

/* Checks a 200 answer to b and applies it. FA_EREFUSED (message set)
 * when the answer is not one for b: nothing is marked as sent then. */
static int take_reply(fa_agent *ag, fa__http *h, const batch *b,
                      fa_sync_report *rep, long long *done)
{
    fs_push_reply *r = NULL;
    fs_err perr;
    if (fs_push_reply_decode((const char *)h->reply.data, h->reply.len,
                             &ag->limits, &r, &perr) != FS_OK ||
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

static void show_progress(const fa_sync_options *o, long long done,
                          long long total)
{
    if (o->on_progress)
        o->on_progress(o->progress_arg, "sending", done, total);
}

/* Encodes b into body (bounded by the agent's limits) and keeps a copy
 * in the trace directory when asked. */
static int encode_batch(fa_agent *ag, const fa_sync_options *o, const batch *b,
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
    if (o->trace_dir)
        save_trace(o->trace_dir, b->cs, body);
    return FA_OK;
}

/* ---- two changesets in flight ----------------------------------------
 *
 * On its own a push is: the agent sends, the hub decodes (one core),
 * merges and commits (its merge thread), answers, and only then does the
 * agent send the next. With the next changeset already in flight, the
 * hub decodes the two on both cores and commits them with one fsync, and
 * a thin link carries the next while the answer to the one before
 * travels back.
 *
 * What keeps this as safe as one at a time:
 *  - answers are taken in sequence order: the older push is settled (its
 *    200 applied) before the younger one's answer is looked at, so
 *    acked_seq moves exactly as it would one push at a time;
 *  - the hub holds a push that arrives before the one it follows
 *    (sync-server/push.c, PROTOCOL.md 4.4) instead of refusing it;
 *  - nothing but a 200 for the oldest push in flight is acted on. Any
 *    other outcome (no answer, 5xx, 409, an answer that does not match)
 *    ends the stretch: the younger push is waited for and its answer
 *    dropped, and the sync goes on one push at a time from acked_seq,
 *    with the usual retries, backoff and realignment. A 409 of a push
 *    sent beside another is never realigned on: it is sent again first,
 *    alone, and only a 409 to that is believed. A dropped 200 costs
 *    nothing: sent again, the hub answers it from its receipt.
 *  - it starts only after a push of this sync got a 200 one at a time,
 *    so hub and device are known to agree on the sequence. */

typedef struct flight {
    batch b;
    fs_buf body;
    fa__http *h;
    int waited; /* fa__http_wait returned for it */
} flight;

static void flight_end(flight *f)
{
    batch_free(&f->b);
    fs_buf_free(&f->body);
}

/* Sends *first (takes it and its encoded body) and what follows it with
 * two changesets in flight, until the outbox is done or a push fails.
 * *fallback is set when the sync is to go on one push at a time, and
 * *tried to the attempts already spent on the changeset it sends next.
 * Returns FA_OK, or an error of the agent's own store. */
static int push_two(fa_agent *ag, fa__http *hs[2], fa__http_multi *m,
                    const char *device, const fa_sync_options *o,
                    fa_sync_report *rep, flight *first, long long *done,
                    long long total, int *fallback, int *tried)
{
    flight f[2];
    int n = 1, more = 1, rc = FA_OK;
    f[0] = *first;
    f[0].h = hs[0];
    trace_note(o, "push %lld-%lld", (long long)f[0].b.cs->first_seq,
               (long long)f[0].b.cs->last_seq);
    fa__http_start(m, f[0].h, "POST", "/api/v1/push", f[0].body.data,
                   f[0].body.len, 1);
    for (;;) {
        /* Keep the next changeset in flight beside the oldest. */
        if (n == 1 && more) {
            flight *g = &f[1];
            memset(g, 0, sizeof *g);
            rc = load_batch(ag, device, f[0].b.cs->last_seq, o->batch_count,
                            o->batch_bytes, &g->b);
            if (rc != FA_OK)
                break;
            /* Nothing more, or a hole left by a realignment: what is in
             * flight is settled first; the caller deals with the rest.
             * A changeset too large to encode is reported there too. */
            more = g->b.cs && g->b.cs->first_seq == f[0].b.cs->last_seq + 1 &&
                   encode_batch(ag, o, &g->b, &g->body) == FA_OK;
            if (more) {
                g->h = f[0].h == hs[0] ? hs[1] : hs[0];
                trace_note(o, "push %lld-%lld beside %lld-%lld",
                           (long long)g->b.cs->first_seq,
                           (long long)g->b.cs->last_seq,
                           (long long)f[0].b.cs->first_seq,
                           (long long)f[0].b.cs->last_seq);
                fa__http_start(m, g->h, "POST", "/api/v1/push", g->body.data,
                               g->body.len, 1);
                n = 2;
            } else {
                batch_free(&g->b);
            }
        }
        /* Only the oldest push's answer counts (see above). */
        int r = fa__http_wait(ag, m, f[0].h);
        f[0].waited = 1;
        char why[600] = "";
        if (r == FA_OK && f[0].h->status != 200 && o->trace_dir)
            fa__http_error_message(f[0].h, why, sizeof why);
        trace_note(o, "answer %lld-%lld %ld%s%s",
                   (long long)f[0].b.cs->first_seq,
                   (long long)f[0].b.cs->last_seq,
                   r == FA_OK ? f[0].h->status : 0L, why[0] ? ": " : "", why);
        if (r == FA_OK && f[0].h->status == 200) {
            rc = take_reply(ag, f[0].h, &f[0].b, rep, done);
            /* An answer that does not match is sent for again, alone;
             * an error of our own store ends the sync. */
            if (rc != FA_OK && rc != FA_EREFUSED)
                break;
        }
        if (r != FA_OK || f[0].h->status != 200 || rc != FA_OK) {
            rc = FA_OK;
            *fallback = 1;
            /* A dropout or a busy hub was the first try of the changeset
             * sent next: its retries start after the first backoff, and
             * with no retries allowed (--retries 0) the sync ends here,
             * as it would have one push at a time. */
            *tried = r == FA_EUNREACHABLE ||
                     (r == FA_OK && transient(f[0].h->status));
            if (*tried && *tried >= o->max_attempts) {
                if (r == FA_OK) {
                    char msg[600];
                    fa__http_error_message(f[0].h, msg, sizeof msg);
                    r = fa__fail(ag, FA_EUNREACHABLE,
                                 "the hub is busy or failing: %s", msg);
                }
                rc = r;
            }
            break;
        }
        show_progress(o, *done, total);
        flight_end(&f[0]);
        f[0] = f[1];
        n--;
        if (n == 0)
            return FA_OK;
    }
    /* Settle everything still in flight; its answers are not used, and
     * the message of what ended the stretch is kept. */
    char *saved = rc != FA_OK ? strdup(ag->err) : NULL;
    for (int i = 0; i < n; i++) {
        /* Even one that has ended: waiting is what frees its request. */
        if (!f[i].waited) {
            int r = fa__http_wait(ag, m, f[i].h);
            trace_note(o, "answer %lld-%lld %ld dropped",
                       (long long)f[i].b.cs->first_seq,
                       (long long)f[i].b.cs->last_seq,
                       r == FA_OK ? f[i].h->status : 0L);
        }
        flight_end(&f[i]);
    }
    if (saved) {
        snprintf(ag->err, sizeof ag->err, "%s", saved);
        free(saved);
    }
    return rc;
}

static int push_all(fa_agent *ag, fa__http *h, fa__http *h2, const char *device,
                    const fa_sync_options *o, fa_sync_report *rep, int *first)
{
    int rc = FA_OK;
    long long total = -1, done = 0;
    /* two: the next push goes out with two in flight; fallback: a push
     * failed this sync, so one at a time to the end (push_two). */
    int two = 0, fallback = !h2, tried = 0;
    fa__http_multi m = {0};
    fa__http *hs[2] = {h, h2};
    while (rc == FA_OK) {
        int64_t acked = 0;
        rc = fa__meta_get_int(ag, "acked_seq", 0, &acked);
        if (rc != FA_OK)
            break;
        if (total < 0)
            total = pending_count(ag, acked);
        flight f;
        memset(&f, 0, sizeof f);
        rc =
            load_batch(ag, device, acked, o->batch_count, o->batch_bytes, &f.b);
        if (rc != FA_OK || !f.b.cs)
            break;
        if (f.b.cs->first_seq != acked + 1) {
            /* A hole left by an earlier realignment: close it. */
            batch_free(&f.b);
            if (++rep->realigned > MAX_REALIGN) {
                rc = fa__fail(ag, FA_EREFUSED,
                              "cannot agree on a "
                              "sequence with the hub");
                break;
            }
            rc = realign(ag, acked);
            continue;
        }
        rc = encode_batch(ag, o, &f.b, &f.body);
        if (rc != FA_OK) {
            batch_free(&f.b);
            break;
        }
        if (two && !fallback) {
            if (!m.m)
                rc = fa__http_multi_init(ag, &m, h->api);
            if (rc == FA_OK)
                rc = push_two(ag, hs, &m, device, o, rep, &f, &done, total,
                              &fallback, &tried);
            else
                flight_end(&f);
            continue;
        }
        trace_note(o, "push %lld-%lld", (long long)f.b.cs->first_seq,
                   (long long)f.b.cs->last_seq);
        rc = request_retry(ag, h, o, "POST", "/api/v1/push", f.body.data,
                           f.body.len, 1, *first, tried);
        trace_note(o, "answer %lld-%lld %ld", (long long)f.b.cs->first_seq,
                   (long long)f.b.cs->last_seq, rc == FA_OK ? h->status : 0L);
        tried = 0;
        fs_buf_free(&f.body);
        *first = 0;
        if (rc != FA_OK) {
            batch_free(&f.b);
            break;
        }
        if (h->status == 409) {
            int64_t hub_seq = hub_seq_of(h);
            batch_free(&f.b);
            if (hub_seq < 0 || ++rep->realigned > MAX_REALIGN) {
                char msg[600];
                fa__http_error_message(h, msg, sizeof msg);
                rc = fa__fail(ag, FA_EREFUSED,
                              "the hub and this device disagree on the "
                              "sequence: %s",
                              msg);
                break;
            }
            rc = realign(ag, hub_seq);
            continue;
        }
        if (h->status != 200) {
            char msg[600];
            fa__http_error_message(h, msg, sizeof msg);
            batch_free(&f.b);
            rc = fa__fail(ag, FA_EREFUSED, "the hub refused the upload: %s",
                          msg);
            break;
        }
        rc = take_reply(ag, h, &f.b, rep, &done);
        batch_free(&f.b);
        if (rc == FA_OK)
            show_progress(o, done, total);
        /* Hub and device agree on the sequence: the next push may go
         * out beside the one after it. */
        two = 1;
    }
    fa__http_multi_free(&m);
    if (done > 0 && o->on_progress)
        o->on_progress(o->progress_arg, "sent", done, total);
    return rc;
}

/* ---- pull ------------------------------------------------------------ */

static int apply_form(fa_agent *ag, const cJSON *def)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(def, "id");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(def, "version");
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(def, "title");
    if (!cJSON_IsString(id) || !fs_valid_form_id(id->valuestring) ||
        !cJSON_IsNumber(ver) || ver->valuedouble < 1)
        return fa__fail(ag, FA_EREFUSED,
                        "the hub sent a form without a "
                        "valid id and version");
    const char *t = cJSON_IsString(title) ? title->valuestring : "";
    if (cJSON_IsObject(title) && cJSON_IsString(title->child))
        t = title->child->valuestring;
    char *text = cJSON_PrintUnformatted(def);
    sqlite3_stmt *st = NULL;
    int rc = FA_OK;
    /* A published version never changes, so an existing row is kept. */
    if (!text || sqlite3_prepare_v2(ag->db,
                                    "INSERT OR IGNORE INTO forms (id, "
                                    "version, title, definition) VALUES "
                                    "(?, ?, ?, ?)",
                                    -1, &st, NULL) != SQLITE_OK) {
        rc = fa__store_error(ag, "saving a form");
    } else {
        sqlite3_bind_text(st, 1, id->valuestring, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)ver->valuedouble);
        sqlite3_bind_text(st, 3, t, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = fa__store_error(ag, "saving a form");
    }
    sqlite3_finalize(st);
    free(text);
    return rc;
}

/* The hub changed this device's areas or forms: keep the new scope and
 * delete what falls outside it. Only records the hub accepted are purged:
 * those still waiting go to the hub, which decides, and those it refused
 * stay on the device with the hub's reason for the user to see. */
static int apply_scope(fa_agent *ag, const cJSON *payload, fa_sync_report *rep)
{
    int rc = save_scope(ag, payload);
    char areas[2048], forms[2048];
    int64_t acked = 0;
    if (rc == FA_OK)
        rc = fa__meta_get(ag, "areas", areas, sizeof areas);
    if (rc == FA_OK)
        rc = fa__meta_get(ag, "forms", forms, sizeof forms);
    if (rc == FA_OK)
        rc = fa__meta_get_int(ag, "acked_seq", 0, &acked);
    if (rc == FA_OK)
        rc = fa__entity_purge(ag, areas);
    if (rc != FA_OK)
        return rc;
    /* instr() on ",A,B," tests membership; codes contain no commas. */
    static const char *const purge[] = {
        "DELETE FROM outbox WHERE seq <= ?3 AND EXISTS (SELECT 1 FROM "
        "submissions s WHERE s.id = outbox.ref_id AND s.rev = "
        "outbox.ref_rev AND s.state = 'sent' AND ((?1 != '*' AND "
        "instr(',' || ?1 || ',', ',' || s.area || ',') = 0) OR (?2 != '*' "
        "AND instr(',' || ?2 || ',', ',' || s.form_id || ',') = 0)))",
        "DELETE FROM submissions WHERE state = 'sent' AND NOT EXISTS "
        "(SELECT 1 FROM outbox o WHERE o.ref_id = submissions.id AND "
        "o.ref_rev = submissions.rev AND o.seq > ?3) AND ((?1 != '*' AND "
        "instr(',' || ?1 || ',', ',' || area || ',') = 0) OR (?2 != '*' AND "
        "instr(',' || ?2 || ',', ',' || form_id || ',') = 0))",
        "DELETE FROM forms WHERE ?2 != '*' AND instr(',' || ?2 || ',', ',' "
        "|| id || ',') = 0 AND NOT EXISTS (SELECT 1 FROM submissions s "
        "WHERE s.form_id = forms.id AND s.form_version = forms.version)",
    };
    for (size_t i = 0; i < sizeof purge / sizeof purge[0]; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(ag->db, purge[i], -1, &st, NULL) != SQLITE_OK)
            return fa__store_error(ag, "applying a new scope");
        sqlite3_bind_text(st, 1, areas, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, forms, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, acked);
        int step = sqlite3_step(st);
        if (i == 1)
            rep->purged += sqlite3_changes(ag->db);
        sqlite3_finalize(st);
        if (step != SQLITE_DONE)
            return fa__store_error(ag, "applying a new scope");
    }
    return FA_OK;
}

/* A reviewer's verdict on one of our submissions. */
static int apply_review(fa_agent *ag, const cJSON *payload)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(payload, "id");
    const cJSON *rev = cJSON_GetObjectItemCaseSensitive(payload, "rev");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(payload, "state");
    const cJSON *comment = cJSON_GetObjectItemCaseSensitive(payload, "comment");
    if (!cJSON_IsString(id) || !cJSON_IsNumber(rev) || !cJSON_IsString(state) ||
        !cJSON_IsString(comment))
        return fa__fail(ag, FA_EREFUSED, "the hub sent a malformed review");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ag->db,
                           "UPDATE submissions SET review_state = ?, "
                           "review_comment = ? WHERE id = ? AND rev = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return fa__store_error(ag, "saving a review");
    sqlite3_bind_text(st, 1, state->valuestring, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, comment->valuestring, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id->valuestring, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)rev->valuedouble);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    /* A submission purged since (out of scope) has nothing to update. */
    return rc == SQLITE_DONE ? FA_OK : fa__store_error(ag, "saving a review");
}

/* A sub-quota of this device (kind "quota"): kept to count offline. */
static int apply_quota(fa_agent *ag, const cJSON *payload)
{
    static const char *const text[] = {"area", "wave", "form"};
    static const char *const num[] = {"id", "target", "start_ms", "end_ms"};
    const cJSON *stratum = cJSON_GetObjectItemCaseSensitive(payload, "stratum");
    int ok = cJSON_IsObject(stratum);
    for (int i = 0; i < 3; i++)
        ok &=
            cJSON_IsString(cJSON_GetObjectItemCaseSensitive(payload, text[i]));
    for (int i = 0; i < 4; i++)
        ok &= cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(payload, num[i]));
    if (!ok)
        return fa__fail(ag, FA_EREFUSED, "the hub sent a malformed quota");
    char *st_text = cJSON_PrintUnformatted(stratum);
    sqlite3_stmt *st = NULL;
    if (!st_text ||
        sqlite3_prepare_v2(ag->db,
                           "INSERT OR REPLACE INTO quotas (id, area, wave, "
                           "form_id, stratum, target, start_ms, end_ms) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        free(st_text);
        return fa__store_error(ag, "saving a quota");
    }
    sqlite3_bind_int64(
        st, 1, (sqlite3_int64)cJSON_GetObjectItem(payload, "id")->valuedouble);
    for (int i = 0; i < 3; i++)
        sqlite3_bind_text(
            st, 2 + i,
            cJSON_GetObjectItemCaseSensitive(payload, text[i])->valuestring, -1,
            SQLITE_STATIC);
    sqlite3_bind_text(st, 5, st_text, -1, free);
    for (int i = 1; i < 4; i++)
        sqlite3_bind_int64(
            st, 5 + i,
            (sqlite3_int64)cJSON_GetObjectItemCaseSensitive(payload, num[i])
                ->valuedouble);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FA_OK : fa__store_error(ag, "saving a quota");
}

/* Applies one page and its cursor in one transaction. */
static int apply_page(fa_agent *ag, const cJSON *page, fa_sync_report *rep)
{
    const cJSON *changes = cJSON_GetObjectItemCaseSensitive(page, "changes");
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(page, "next");
    if (!cJSON_IsArray(changes) || !cJSON_IsNumber(next))
        return fa__fail(ag, FA_EREFUSED,
                        "the hub sent a page of changes "
                        "without changes or cursor");
    int rc = fa__begin(ag);
    const cJSON *c;
    cJSON_ArrayForEach(c, changes)
    {
        if (rc != FA_OK)
            break;
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(c, "kind");
        const cJSON *payload = cJSON_GetObjectItemCaseSensitive(c, "payload");
        if (cJSON_IsString(kind) && strcmp(kind->valuestring, "form") == 0) {
            rc = apply_form(ag, payload);
            rep->pulled++;
        } else if (cJSON_IsString(kind) &&
                   strcmp(kind->valuestring, "review") == 0) {
            rc = apply_review(ag, payload);
            rep->pulled++;
        } else if (cJSON_IsString(kind) &&
                   (strcmp(kind->valuestring, "entity") == 0 ||
                    strcmp(kind->valuestring, "resolution") == 0 ||
                    strcmp(kind->valuestring, "entity_delete") == 0)) {
            rc = fa__entity_apply(ag, kind->valuestring, payload);
            rep->pulled++;
        } else if (cJSON_IsString(kind) &&
                   strcmp(kind->valuestring, "quota") == 0) {
            rc = apply_quota(ag, payload);
            rep->pulled++;
        } else if (cJSON_IsString(kind) &&
                   strcmp(kind->valuestring, "scope") == 0) {
            rc = apply_scope(ag, payload, rep);
            rep->pulled++;
        }
        /* Kinds this agent does not know yet come from a newer hub; they
         * are skipped, and a newer agent will pull them after a reset. */
    }
    if (rc == FA_OK)
        rc = fa__meta_set_int(ag, "cursor", (int64_t)next->valuedouble);
    if (rc == FA_OK)
        rc = fa__commit(ag);
    else
        fa__rollback(ag);
    return rc;
}

static int pull_all(fa_agent *ag, fa__http *h, const fa_sync_options *o,
                    fa_sync_report *rep, int *first, int64_t *hub_acked)
{
    *hub_acked = -1;
    for (int pages = 0; pages < MAX_PAGES; pages++) {
        int64_t cursor = 0;
        int rc = fa__meta_get_int(ag, "cursor", 0, &cursor);
        if (rc != FA_OK)
            return rc;
        char path[96];
        snprintf(path, sizeof path, "/api/v1/pull?after=%lld",
                 (long long)cursor);
        rc = request_retry(ag, h, o, "GET", path, NULL, 0, 0, *first, 0);
        *first = 0;
        if (rc != FA_OK)
            return rc;
        if (h->status != 200) {
            char msg[600];
            fa__http_error_message(h, msg, sizeof msg);
            return fa__fail(ag, FA_EREFUSED,
                            "the hub refused the download: "
                            "%s",
                            msg);
        }
        cJSON *page = NULL;
        fs_err perr;
        fs_limits lim = ag->limits;
        lim.max_depth = 48; /* form definitions nest */
        lim.max_decompressed = h->reply.max;
        if (fs_json_parse((const char *)h->reply.data, h->reply.len, &lim,
                          &page, &perr) != FS_OK)
            return fa__fail(ag, FA_EREFUSED, "the hub's page is not JSON: %s",
                            perr.msg);
        rc = apply_page(ag, page, rep);
        const cJSON *more = cJSON_GetObjectItemCaseSensitive(page, "more");
        const cJSON *acked =
            cJSON_GetObjectItemCaseSensitive(page, "acked_seq");
        if (cJSON_IsNumber(acked))
            *hub_acked = (int64_t)acked->valuedouble;
        int again = cJSON_IsTrue(more);
        cJSON_Delete(page);
        if (rc != FA_OK || !again)
            return rc;
        if (o->on_progress)
            o->on_progress(o->progress_arg, "receiving", rep->pulled, 0);
    }
    return FA_OK;
}

/* ---- sync ------------------------------------------------------------ */

static void record_outcome(fa_agent *ag, int rc, const fa_sync_report *rep)
{
    char text[1200];
    if (rc == FA_OK)
        snprintf(text, sizeof text, "ok, sent %lld, received %lld", rep->sent,
                 rep->pulled);
    else
        snprintf(text, sizeof text, "failed: %.1100s", ag->err);
    char saved[sizeof ag->err];
    memcpy(saved, ag->err, sizeof saved);
    fa__meta_set(ag, "last_sync_outcome", text);
    if (rc == FA_OK)
        fa__meta_set_int(ag, "last_sync_ms", (int64_t)fs_now_ms());
    memcpy(ag->err, saved, sizeof saved);
}

int fa_sync(fa_agent *ag, const fa_sync_options *opt, fa_sync_report *rep)
{
    memset(rep, 0, sizeof *rep);
    char hub[512], device[FS_UUID_LEN + 1], token[96], ca[4096];
    int rc = fa__meta_get(ag, "hub_url", hub, sizeof hub);
    if (rc == FA_OK)
        rc = fa__meta_get(ag, "ca_file", ca, sizeof ca);
    if (rc == FA_OK)
        rc = fa__meta_get(ag, "device_id", device, sizeof device);
    if (rc == FA_OK)
        rc = fa__meta_get(ag, "token", token, sizeof token);
    if (rc != FA_OK)
        return rc;
    if (!device[0] || !token[0])
        return fa__fail(ag, FA_ENOTENROLLED,
                        "this device is not enrolled; run `fieldsync-agent "
                        "enroll --hub URL --code CODE` with a code from "
                        "your hub admin");
    fa__http h, h2;
    memset(&h2, 0, sizeof h2); /* freed below even if never started */
    rc = fa__http_init(ag, &h, hub, token, ca);
    /* The second push in flight has its own connection. */
    int two = opt->in_flight > 1;
    if (rc == FA_OK && two)
        rc = fa__http_init(ag, &h2, hub, token, ca);
    int first = 1;
    for (int round = 0; rc == FA_OK; round++) {
        rc = push_all(ag, &h, two ? &h2 : NULL, device, opt, rep, &first);
        int64_t hub_acked = -1, acked = 0;
        if (rc == FA_OK)
            rc = pull_all(ag, &h, opt, rep, &first, &hub_acked);
        if (rc == FA_OK)
            rc = fa__meta_get_int(ag, "acked_seq", 0, &acked);
        if (rc != FA_OK || hub_acked < 0 || hub_acked >= acked)
            break;
        /* The hub knows less than it acknowledged before: it was restored
         * from an older backup. Send what it lost again. */
        if (round >= 2 || ++rep->realigned > MAX_REALIGN) {
            rc = fa__fail(ag, FA_EREFUSED,
                          "the hub keeps losing acknowledged changes "
                          "(acknowledged %lld, now %lld); tell the hub "
                          "admin",
                          (long long)acked, (long long)hub_acked);
            break;
        }
        rc = realign(ag, hub_acked);
    }
    int64_t acked = 0;
    if (fa__meta_get_int(ag, "acked_seq", 0, &acked) == FA_OK)
        rep->queued = pending_count(ag, acked);
    if (rc == FA_EUNREACHABLE && rep->sent > 0)
        rc = FA_EPARTIAL;
    record_outcome(ag, rc, rep);
    fa__http_free(&h);
    if (two)
        fa__http_free(&h2);
    return rc;
}
