/*
 * push.c - POST /api/v1/push: receive one changeset from a device.
 *
 * The order of work is what makes retries safe:
 *   1. authenticate, read the body (bounded), decode it (bounded), check
 *      each submission against its form and hash its content - work that
 *      needs no write transaction, done in the request's own thread;
 *   2. in one write transaction: compare the changeset's first sequence
 *      with the device's acknowledged sequence, merge, store the receipt
 *      (with the exact reply) and advance the sequence;
 *   3. COMMIT durably (synchronous=FULL), and only then answer.
 * A lost answer leads the agent to send the same changeset again; step 2
 * finds its receipt and answers the stored reply without changing data.
 *
 * Group commit: the fsync of a COMMIT costs far more than merging a
 * changeset, so pushes that arrive while a commit is under way queue up,
 * and the hub's one merge thread, on its own connection, handles every
 * queued push in one transaction, each inside its own savepoint, then
 * commits once. Every push of the group is answered only after that
 * COMMIT returned: the promise of step 3 holds for each of them. Pushes
 * from one device in one group are handled in first_seq order and see
 * each other's effects, as they would one transaction apart.
 *
 * Two pushes of one device in flight: an agent keeps the next changeset
 * in flight while the hub merges the one before (PROTOCOL.md 4.4), so
 * changeset N+1 may be decoded and queued before N. A push that would be
 * refused as seq_gap while another push of its device is still being
 * read or decoded, or waits in the queue, is held for a later group
 * instead of answered, for at most HOLD_MS; after that, or once nothing
 * else of its device is on the way (and GRACE_MS passed), the seq_gap
 * answer stands. A device that sends one push at a time, or garbage
 * sequences, gets exactly the answers it got before, a seq_gap at most
 * GRACE_MS (or HOLD_MS) later.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <strings.h>
#include <semaphore.h>
#include <unistd.h>

#include "fs_schema.h"
#include "hub_int.h"
#include "stmtcache.h"

static void reply_seq(struct mg_connection *conn, const char *code,
                      int64_t hub_seq, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "error", code);
        cJSON_AddStringToObject(o, "message", msg);
        cJSON_AddNumberToObject(o, "hub_seq", (double)hub_seq);
    }
    hub__reply_obj(conn, 409, o);
}

static int decode_status(int code)
{
    return code == FS_ETOOBIG ? 413 : 400;
}

/* Looks up the receipt of exactly this changeset. Returns 1 and a copy of
 * the stored reply (caller frees) when it is a replay of the same content,
 * 0 when there is none or the content differs, -1 on a storage error. */
static int find_receipt(sqlite3 *db, const char *device, const fs_changeset *cs,
                        const char *digest, char **reply)
{
    int rc;
    sqlite3_stmt *st = hub__stmt(db,
                                 "SELECT digest, reply FROM receipts WHERE "
                                 "device_id = ? AND first_seq = ? AND "
                                 "last_seq = ?",
                                 &rc);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cs->first_seq);
    sqlite3_bind_int64(st, 3, cs->last_seq);
    int out = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 0);
        if (d && strcmp(d, digest) == 0) {
            *reply = strdup((const char *)sqlite3_column_text(st, 1));
            out = *reply ? 1 : -1;
        }
    } else if (rc != SQLITE_DONE) {
        out = -1;
    }
    sqlite3_reset(st);
    return out;
}

static int read_acked(sqlite3 *db, const char *device, int64_t *acked)
{
    int rc;
    sqlite3_stmt *st =
        hub__stmt(db, "SELECT acked_seq FROM devices WHERE id = ?", &rc);
    if (!st)
        return rc;
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *acked = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else {
        rc = rc == SQLITE_DONE ? SQLITE_NOTFOUND : rc;
    }
    sqlite3_reset(st);
    return rc;
}

static int store_receipt(sqlite3 *db, const char *device,
                         const fs_changeset *cs, const char *digest,
                         const char *reply, int64_t now)
{
    int rc;
    sqlite3_stmt *st = hub__stmt(
        db,
        "INSERT INTO receipts (device_id, first_seq, last_seq, digest, "
        "reply, received_ms) VALUES (?, ?, ?, ?, ?, ?)",
        &rc);
    if (!st)
        return rc;
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cs->first_seq);
    sqlite3_bind_int64(st, 3, cs->last_seq);
    sqlite3_bind_text(st, 4, digest, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, reply, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc;

    st = hub__stmt(db,
                   "UPDATE devices SET acked_seq = ?, last_push_ms = ?, "
                   "last_seen_ms = ? WHERE id = ?",
                   &rc);
    if (!st)
        return rc;
    sqlite3_bind_int64(st, 1, cs->last_seq);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, device, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void reply_storage_error(struct mg_connection *conn, sqlite3 *db, int rc)
{
    if ((rc & 0xff) == SQLITE_FULL)
        hub__reply_error(conn, 507, "storage_full",
                         "the hub's disk is full, nothing of this push was "
                         "stored; the agent keeps it and will retry");
    else
        hub__reply_error(conn, 503, "storage",
                         "the hub could not store this push (%s); nothing "
                         "of it was stored, retry later",
                         sqlite3_errstr(rc));
    (void)db;
}

/* One decoded push waiting for its group's commit. */
typedef struct push_job {
    const char *device;
    const fs_changeset *cs;
    const char *digest;
    fs_result *results;        /* cs->n, from hub__merge_prepare */
    const hub_digest *digests; /* cs->n, from hub__merge_prepare */
    /* Filled by the merge thread. */
    int status;       /* 200, 409 or 0 for a storage failure */
    int src;          /* SQLite code of a storage failure */
    char *text;       /* 200: the reply (owned) */
    const char *code; /* 409: seq_behind or seq_gap */
    int64_t acked;    /* 409: the hub's sequence */
    char errmsg[256]; /* storage failure, for the log */
    int done;
    /* A push that would be a seq_gap, held for a later group while
     * another push of its device is on the way: when it was first held
     * (monotonic ms; 0 before). */
    int64_t held_since;
    struct push_job *next;    /* in the queue, a group or gc_held */
    struct push_job *pending; /* in gc_pending */
} push_job;

/* Status of a job held for a later group (never answered as such). */
#define HELD (-1)

/* Pushes queued for the merge thread. One hub per process. */
static pthread_mutex_t gc_lock = PTHREAD_MUTEX_INITIALIZER;
/* Queue grew or a decode ended; waits on the monotonic clock
 * (hub__merger_start) so that a change of the wall clock cannot stretch
 * the merge thread's wait for decoding pushes. */
static pthread_cond_t gc_work;
static pthread_cond_t gc_done = PTHREAD_COND_INITIALIZER; /* group ended */
static push_job *gc_head, *gc_tail;
static int gc_stop;
static pthread_t gc_thread;
static sqlite3 *gc_db;
/* Pushes being decoded right now (under gc_lock). */
static int gc_decoding;
/* Pushes authenticated and not queued yet: their body is being read or
 * decoded (under gc_lock). */
static push_job *gc_pending;
/* Pushes held for a later group, in the order they came (under gc_lock;
 * only the merge thread moves them). */
static push_job *gc_held;

/* Bounds one transaction: a group's pushes wait for all of it. */
#define GROUP_MAX 64

/* How long a push that skips ahead of its device's sequence waits for
 * the push that fills the gap while that one is on its way. An agent
 * sends the two at the same moment, so on a working link the other one
 * arrives within a decode (~2 ms for 200 submissions) or the rest of a
 * body. On 2G with lost segments the older body can finish seconds after
 * the younger (half a second was measured too short: 2 syncs in 7 fell
 * back to one at a time and took 2x the ideal). Ten seconds covers that,
 * and bounds what an agent sending garbage can take: one worker, only
 * while another push of its own is being received. */
#define HOLD_MS 10000
/* A push that skips ahead waits this long even when nothing else of its
 * device is seen yet: the one before it may not have been read yet (its
 * headers still on the way over 2G, or waiting for a worker), and only
 * then can the hub tell whose it is. 50 ms was measured too short on the
 * 2G bench link: 1 sync in 5 got seq_gap for the push after one whose
 * headers came seconds late, and fell back to one at a time. A device
 * that sends one push at a time gets a real seq_gap this much later; it
 * is rare (a restored database). */
#define GRACE_MS 3000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Another push of j's device is being read, decoded or waits in the
 * queue. Caller holds gc_lock. */
static int device_on_the_way(const push_job *j)
{
    for (const push_job *p = gc_pending; p; p = p->pending)
        if (p != j && strcmp(p->device, j->device) == 0)
            return 1;
    for (const push_job *q = gc_head; q; q = q->next)
        if (q != j && strcmp(q->device, j->device) == 0)
            return 1;
    return 0;
}

/* Whether j, a push that would be refused as seq_gap, is still to be
 * held at now: until its deadline while another push of its device is on
 * the way (it may fill the gap), and for GRACE_MS in any case. *wake gets
 * when that may change without a signal. Caller holds gc_lock. */
static int still_held(const push_job *j, int64_t now, int64_t *wake)
{
    int64_t until = j->held_since + HOLD_MS;
    int64_t grace_end = j->held_since + GRACE_MS;
    if (gc_stop || now >= until)
        return 0;
    if (device_on_the_way(j)) {
        *wake = until;
        return 1;
    }
    *wake = grace_end;
    return now < grace_end;
}

/* Called by the merge thread inside a group for a push that would be
 * refused as seq_gap: whether it is held for a later group instead. */
static int hold_for_gap(push_job *j)
{
    int64_t now = mono_ms(), wake;
    if (j->held_since == 0)
        j->held_since = now;
    pthread_mutex_lock(&gc_lock);
    int hold = still_held(j, now, &wake);
    pthread_mutex_unlock(&gc_lock);
    return hold;
}

static void pending_add(push_job *j)
{
    pthread_mutex_lock(&gc_lock);
    j->pending = gc_pending;
    gc_pending = j;
    pthread_mutex_unlock(&gc_lock);
}

/* Caller holds gc_lock. */
static void pending_remove(push_job *j)
{
    for (push_job **p = &gc_pending; *p; p = &(*p)->pending) {
        if (*p == j) {
            *p = j->pending;
            j->pending = NULL;
            return;
        }
    }
}

/* Handles one push inside the group's open transaction. */
static void process_one(sqlite3 *db, push_job *j)
{
    const fs_changeset *cs = j->cs;
    int64_t acked = 0;
    int rc = read_acked(db, j->device, &acked);
    if (rc != SQLITE_OK)
        goto storage_fail;
    if (cs->first_seq <= acked) {
        int found = find_receipt(db, j->device, cs, j->digest, &j->text);
        if (found < 0) {
            rc = SQLITE_ERROR;
            goto storage_fail;
        }
        j->status = found ? 200 : 409;
        j->code = "seq_behind";
        j->acked = acked;
        return;
    }
    if (cs->first_seq != acked + 1) {
        /* Nothing written yet: a held push leaves no trace but a line in
         * the log, which the tests wait on (tests/integration/
         * pipeline.sh). */
        int first = j->held_since == 0;
        if (hold_for_gap(j)) {
            if (first)
                fprintf(stderr,
                        "fieldsync-hub: push %lld-%lld of device %s held: "
                        "the hub has it up to %lld\n",
                        (long long)cs->first_seq, (long long)cs->last_seq,
                        j->device, (long long)acked);
            j->status = HELD;
            return;
        }
        if (!first) {
            int64_t held = mono_ms() - j->held_since;
            fprintf(stderr,
                    "fieldsync-hub: push %lld-%lld of device %s: still a "
                    "gap after %lld ms held (%s): seq_gap\n",
                    (long long)cs->first_seq, (long long)cs->last_seq,
                    j->device, (long long)held,
                    held >= HOLD_MS ? "the hold's bound passed"
                                    : "nothing else of the device on its way");
        }
        j->status = 409;
        j->code = "seq_gap";
        j->acked = acked;
        return;
    }
    fs_push_reply reply = {0};
    reply.first_seq = cs->first_seq;
    reply.last_seq = cs->last_seq;
    reply.acked_seq = cs->last_seq;
    reply.n = cs->n;
    reply.results = j->results;
    rc = hub__merge(db, j->device, cs, j->digests, &reply);
    if (rc == SQLITE_OK) {
        j->text = fs_push_reply_encode(&reply);
        rc = j->text ? SQLITE_OK : SQLITE_NOMEM;
    }
    if (rc == SQLITE_OK)
        rc = store_receipt(db, j->device, cs, j->digest, j->text,
                           (int64_t)fs_now_ms());
    if (rc == SQLITE_OK) {
        j->status = 200;
        return;
    }
storage_fail:
    snprintf(j->errmsg, sizeof j->errmsg, "%s", sqlite3_errmsg(db));
    free(j->text);
    j->text = NULL;
    j->status = 0;
    j->src = rc ? rc : SQLITE_ERROR;
}

static void fail_all(push_job *group, sqlite3 *db, int rc)
{
    for (push_job *j = group; j; j = j->next) {
        free(j->text);
        j->text = NULL;
        j->status = 0;
        j->src = rc;
        snprintf(j->errmsg, sizeof j->errmsg, "%s", sqlite3_errmsg(db));
    }
}

/* One transaction for the whole group. */
static void run_group(hub *h, sqlite3 *db, push_job *group)
{
    pthread_mutex_lock(&h->write_lock);
    int rc = hub__stmt_exec(db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) {
        fail_all(group, db, rc);
        pthread_mutex_unlock(&h->write_lock);
        return;
    }
    for (push_job *j = group; j && rc == SQLITE_OK; j = j->next) {
        rc = hub__stmt_exec(db, "SAVEPOINT push");
        if (rc != SQLITE_OK)
            break;
        process_one(db, j);
        /* A push that failed takes back only its own writes. */
        if (j->status == 0)
            rc = hub__stmt_exec(db, "ROLLBACK TO push");
        if (rc == SQLITE_OK)
            rc = hub__stmt_exec(db, "RELEASE push");
    }
    if (rc == SQLITE_OK)
        rc = hub__stmt_exec(db, "COMMIT");
    if (rc != SQLITE_OK) {
        /* Nothing of the group is durable: no answer may say otherwise,
         * not even a replay or a 409 read inside it. */
        fail_all(group, db, rc);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&h->write_lock);
}

/* Queues j and returns once the transaction holding it has committed or
 * failed. */
static void submit(push_job *j)
{
    pthread_mutex_lock(&gc_lock);
    gc_decoding--;
    /* Out of gc_pending and into the queue at once: a held push of the
     * same device never sees it in neither. */
    pending_remove(j);
    if (gc_tail)
        gc_tail->next = j;
    else
        gc_head = j;
    gc_tail = j;
    pthread_cond_signal(&gc_work);
    while (!j->done)
        pthread_cond_wait(&gc_done, &gc_lock);
    pthread_mutex_unlock(&gc_lock);
}

/* Puts each device's pushes of the group in first_seq order, on the
 * places its pushes already hold: other devices keep their order. n is at
 * most GROUP_MAX, so the quadratic walk costs nothing beside a COMMIT. */
static push_job *order_group(push_job *group)
{
    push_job *v[GROUP_MAX];
    int n = 0;
    if (!group)
        return NULL;
    for (push_job *j = group; j; j = j->next) {
        assert(n < GROUP_MAX);
        v[n++] = j;
    }
    for (int i = 0; i < n; i++)
        for (int k = i + 1; k < n; k++)
            if (v[k]->cs->first_seq < v[i]->cs->first_seq &&
                strcmp(v[k]->device, v[i]->device) == 0) {
                push_job *t = v[i];
                v[i] = v[k];
                v[k] = t;
            }
    for (int i = 0; i < n; i++)
        v[i]->next = i + 1 < n ? v[i + 1] : NULL;
    return v[0];
}

/* With nothing new queued, whether the held pushes are to be handled
 * now: one of them is no longer to be held (its deadline passed, or its
 * grace with nothing else of its device on the way: its answer is
 * seq_gap). If not, *wake gets the earliest time that may change.
 * Caller holds gc_lock. */
static int held_due(int64_t *wake)
{
    int64_t now = mono_ms();
    *wake = INT64_MAX;
    for (const push_job *j = gc_held; j; j = j->next) {
        int64_t w = INT64_MAX;
        if (!still_held(j, now, &w))
            return 1;
        if (w < *wake)
            *wake = w;
    }
    return 0;
}

static void wait_until_ms(int64_t ms)
{
    struct timespec until = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    pthread_cond_timedwait(&gc_work, &gc_lock, &until);
}

/* The merge thread: takes whatever pushes are queued (at most GROUP_MAX,
 * held ones first) as one group, merges and commits it, answers them,
 * and goes on. It runs at the scheduler's normal priority, the request
 * workers a little below (server.c), so that decoding the next pushes
 * never slows the one thread everybody waits for. */
static void *merge_main(void *arg)
{
    hub *h = arg;
    pthread_mutex_lock(&gc_lock);
    for (;;) {
        if (!gc_head && gc_held && !gc_stop) {
            int64_t wake;
            if (!held_due(&wake)) {
                wait_until_ms(wake);
                continue;
            }
        }
        if (!gc_head && !gc_held) {
            if (gc_stop)
                break;
            pthread_cond_wait(&gc_work, &gc_lock);
            continue;
        }
        /* Pushes still being decoded would each need a COMMIT of their
         * own a moment later: wait for them, at most 2 ms (a changeset of
         * 200 decodes in ~1.5), and commit them with these, one fsync for
         * all. That holds for a device's own next changeset too: merging
         * the one while the other decodes, each with its own COMMIT, was
         * measured slower (bench_merge, 1 and 50 agents) than committing
         * the two together. A device that pushes one at a time never
         * waits when it is alone: nothing else is decoding. */
        if (gc_head && gc_decoding > 0 && !gc_stop) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += 2000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            while (gc_decoding > 0 && !gc_stop &&
                   pthread_cond_timedwait(&gc_work, &gc_lock, &until) == 0)
                ;
        }
        /* Held pushes first (they came first), then the queue. At most
         * half a group of held ones: with GROUP_MAX of them a group would
         * hold nothing else, not the pushes that fill their gaps, and
         * the same held ones would come round again and again. */
        push_job *group = NULL, **tail = &group;
        int n = 0;
        while (gc_held && n < GROUP_MAX / 2) {
            *tail = gc_held;
            gc_held = gc_held->next;
            tail = &(*tail)->next;
            n++;
        }
        while (gc_head && n < GROUP_MAX) {
            *tail = gc_head;
            gc_head = gc_head->next;
            tail = &(*tail)->next;
            n++;
        }
        *tail = NULL;
        if (!gc_head)
            gc_tail = NULL;
        group = order_group(group);
        pthread_mutex_unlock(&gc_lock);

        run_group(h, gc_db, group);

        pthread_mutex_lock(&gc_lock);
        /* Pushes held again go back, in order, before any held since. */
        push_job *held = NULL, **htail = &held;
        for (push_job *g = group; g;) {
            push_job *next = g->next;
            g->next = NULL;
            if (g->status == HELD) {
                *htail = g;
                htail = &g->next;
            } else {
                g->done = 1;
            }
            g = next;
        }
        *htail = gc_held;
        gc_held = held;
        pthread_cond_broadcast(&gc_done);
    }
    pthread_mutex_unlock(&gc_lock);
    hub__stmt_release(gc_db);
    return NULL;
}

int hub__merger_start(hub *h)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&gc_work, &ca);
    pthread_condattr_destroy(&ca);
    char err[512];
    if (fs_db_open(h->db_path, &fs_schema_hub, 0, &gc_db, err, sizeof err) !=
        0) {
        fprintf(stderr, "fieldsync-hub: merge connection: %s\n", err);
        return -1;
    }
    hub__checkpointer_attach(h->ckpt, gc_db);
    gc_stop = 0;
    if (pthread_create(&gc_thread, NULL, merge_main, h) != 0) {
        fprintf(stderr, "fieldsync-hub: cannot start the merge thread\n");
        sqlite3_close(gc_db);
        gc_db = NULL;
        return -1;
    }
    return 0;
}

void hub__merger_stop(void)
{
    if (!gc_db)
        return;
    pthread_mutex_lock(&gc_lock);
    gc_stop = 1;
    pthread_cond_signal(&gc_work);
    pthread_mutex_unlock(&gc_lock);
    pthread_join(gc_thread, NULL);
    sqlite3_close(gc_db);
    gc_db = NULL;
}

/* Decoding and checking a changeset is the CPU-heavy part of a push and
 * runs in the request's own thread. More of them at once than there are
 * cores only slows each down and crowds the merge thread they share the
 * cores with. So at most one per core at a time; reading a body from a
 * slow link is not part of it. */
static sem_t decode_slots;

static void decode_slots_init(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    sem_init(&decode_slots, 0, n < 1 ? 1u : n > 64 ? 64u : (unsigned)n);
}

/* Reads, decodes and checks one push. Returns 0 with *csp, results and
 * digests set (caller frees all three), or the HTTP status already
 * answered. */
static int prepare_push(struct mg_connection *conn, hub *h,
                        const hub_device *dev, int gzipped, fs_changeset **csp,
                        char digest[65], fs_result **resultsp,
                        hub_digest **digestsp)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, decode_slots_init);

    fs_buf body;
    if (hub__read_body(conn, h->limits.max_compressed, &body) != 0)
        return 400;

    pthread_mutex_lock(&gc_lock);
    gc_decoding++;
    pthread_mutex_unlock(&gc_lock);
    while (sem_wait(&decode_slots) != 0)
        ; /* EINTR */
    fs_changeset *cs = NULL;
    fs_result *results = NULL;
    hub_digest *digests = NULL;
    fs_err err = {0};
    int status = 0;
    int rc = fs_changeset_decode(body.data, body.len, gzipped, &h->limits, &cs,
                                 digest, &err);
    fs_buf_free(&body);
    if (rc != FS_OK) {
        hub__reply_error(conn, decode_status(rc), fs_errname(rc), "%s",
                         err.msg);
        status = 400;
        goto out;
    }
    if (strcmp(cs->device, dev->id) != 0) {
        hub__reply_error(conn, 403, "device_mismatch",
                         "the changeset names device %s but the token "
                         "belongs to %s",
                         cs->device, dev->id);
        status = 403;
        goto out;
    }
    hub__scope_filter(dev, cs);

    /* Form checks and content digests need no write transaction: done
     * here, beside other requests, not by the one writer. */
    results = calloc(cs->n ? cs->n : 1, sizeof *results);
    digests = calloc(cs->n ? cs->n : 1, sizeof *digests);
    rc = results && digests
             ? hub__merge_prepare(hub__db(conn), cs, results, digests)
             : SQLITE_NOMEM;
    if (rc != SQLITE_OK) {
        fprintf(stderr, "fieldsync-hub: push from %s (%s) not checked: %s\n",
                dev->name, dev->id, sqlite3_errstr(rc));
        reply_storage_error(conn, NULL, rc);
        status = (rc & 0xff) == SQLITE_FULL ? 507 : 503;
    }
out:
    sem_post(&decode_slots);
    if (status != 0) {
        pthread_mutex_lock(&gc_lock);
        gc_decoding--;
        pthread_cond_signal(&gc_work);
        pthread_mutex_unlock(&gc_lock);
        free(results);
        free(digests);
        fs_changeset_free(cs);
        return status;
    }
    *csp = cs;
    *resultsp = results;
    *digestsp = digests;
    return 0;
}

int hub__handle_push(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    if (!hub__method_is(conn, "POST"))
        return 405;
    hub_device dev;
    if (hub__auth_device(conn, &dev) != 0)
        return 401;

    const char *ce = mg_get_header(conn, "Content-Encoding");
    int gzipped = 0;
    if (ce && strcasecmp(ce, "gzip") == 0) {
        gzipped = 1;
    } else if (ce && strcasecmp(ce, "identity") != 0) {
        hub__reply_error(conn, 415, "bad_encoding",
                         "Content-Encoding %.40s is not supported; send "
                         "gzip",
                         ce);
        return 415;
    }

    fs_changeset *cs = NULL;
    fs_result *results = NULL;
    hub_digest *digests = NULL;
    char digest[65];
    push_job job;
    memset(&job, 0, sizeof job);
    job.device = dev.id;
    /* On the way from here until queued: a push of this device that
     * skips ahead may wait for this one (hold_for_gap). */
    pending_add(&job);
    int rc =
        prepare_push(conn, h, &dev, gzipped, &cs, digest, &results, &digests);
    if (rc != 0) {
        pthread_mutex_lock(&gc_lock);
        pending_remove(&job);
        /* A push held for this one need not wait any longer. */
        pthread_cond_signal(&gc_work);
        pthread_mutex_unlock(&gc_lock);
        return rc;
    }

    job.cs = cs;
    job.digest = digest;
    job.results = results;
    job.digests = digests;
    submit(&job);

    /* Durable now (or nothing of it stored): only from here on may the
     * device forget the batch. */
    int status = job.status;
    if (status == 200) {
        hub__reply(conn, 200, job.text, strlen(job.text));
    } else if (status == 409) {
        char msg[256];
        if (strcmp(job.code, "seq_behind") == 0)
            snprintf(msg, sizeof msg,
                     "the hub has acknowledged this device up to sequence "
                     "%lld, and changes %lld..%lld are not a replay of "
                     "what it received; renumber after %lld and send again",
                     (long long)job.acked, (long long)cs->first_seq,
                     (long long)cs->last_seq, (long long)job.acked);
        else
            snprintf(msg, sizeof msg,
                     "the hub expected sequence %lld next but this "
                     "changeset starts at %lld; send again from %lld",
                     (long long)job.acked + 1, (long long)cs->first_seq,
                     (long long)job.acked + 1);
        reply_seq(conn, job.code, job.acked, msg);
    } else {
        fprintf(stderr, "fieldsync-hub: push from %s (%s) not stored: %s\n",
                dev.name, dev.id, job.errmsg);
        reply_storage_error(conn, NULL, job.src);
        status = (job.src & 0xff) == SQLITE_FULL ? 507 : 503;
    }
    free(job.text);
    free(results);
    free(digests);
    fs_changeset_free(cs);
    return status;
}
