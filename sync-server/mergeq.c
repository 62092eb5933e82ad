/*
 * mergeq.c - the merge queue and its thread (mergeq.h).
 *
 * The order of work is what makes retries safe: in one write
 * transaction, compare the changeset's first sequence with the device's
 * acknowledged sequence, merge, store the receipt (with the exact reply)
 * and advance the sequence; COMMIT durably (synchronous=FULL), and only
 * then answer. A lost answer leads the agent to send the same changeset
 * again; the receipt is found and the stored reply answered without
 * changing data.
 *
 * Group commit: the fsync of a COMMIT costs far more than merging a
 * changeset, so pushes that arrive while a commit is under way queue up,
 * and the one merge thread, on its own connection, handles every queued
 * push in one transaction, each inside its own savepoint, then commits
 * once. Every push of the group is answered only after that COMMIT
 * returned. Pushes from one device in one group are handled in first_seq
 * order and see each other's effects, as they would one transaction
 * apart.
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
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "db.h"
#include "errors.h"
#include "fs_schema.h"
#include "mergeq.h"
#include "hierarchy.h"
#include "server.h"
#include "stmtcache.h"

struct hub_mergeq {
    struct hub *h; /* borrowed */
    pthread_t thread;
    sqlite3 *db; /* the merge thread's own connection */
    pthread_mutex_t lock;
    /* Queue grew or a decode ended; waits on the monotonic clock so that
     * a change of the wall clock cannot stretch the merge thread's wait
     * for decoding pushes. */
    pthread_cond_t work;
    pthread_cond_t done; /* a group ended */
    /* The rest under lock. */
    hub_push *head, *tail; /* queued */
    int stop;
    /* Pushes being decoded right now. */
    int decoding;
    /* Pushes expected and not queued yet: their body is being read or
     * decoded. */
    hub_push *pending;
    /* Pushes held for a later group, in the order they came (only the
     * merge thread moves them). */
    hub_push *held;
    /* Decoding and checking a changeset is the CPU-heavy part of a push
     * and runs in the request's own thread. More of them at once than
     * there are cores only slows each down and crowds the merge thread
     * they share the cores with. So at most one per core at a time;
     * reading a body from a slow link is not part of it. */
    sem_t decode_slots;
};

/* Looks up the receipt of exactly this changeset: *reply is a copy of
 * the stored reply (caller frees) when it is a replay of the same
 * content, NULL when there is none or the content differs. */
static int find_receipt(sqlite3 *db, const char *device, const fs_changeset *cs,
                        const char *digest, char **reply)
{
    int rc;
    *reply = NULL;
    sqlite3_stmt *st =
        hub__sql(db,
                 "SELECT digest, reply FROM receipts WHERE "
                 "device_id = ? AND first_seq = ? AND "
                 "last_seq = ?",
                 HUB_ARGS(HUB_TEXT(device), HUB_INT(cs->first_seq),
                          HUB_INT(cs->last_seq)),
                 &rc);
    if (!st || (rc = hub__sql_step(st)) <= 0)
        return rc;
    if (strcmp(hub__col(st, 0), digest) == 0) {
        *reply = strdup(hub__col(st, 1));
        rc = *reply ? HUB_OK : HUB_ENOMEM;
    }
    hub__sql_end(st);
    return rc > 0 ? HUB_OK : rc;
}

static int read_acked(sqlite3 *db, const char *device, int64_t *acked)
{
    int rc;
    sqlite3_stmt *st =
        hub__sql(db, "SELECT acked_seq FROM devices WHERE id = ?",
                 HUB_ARGS(HUB_TEXT(device)), &rc);
    if (!st || (rc = hub__sql_step(st)) < 0)
        return rc;
    if (rc == 0)
        return HUB_ESTORAGE; /* it authenticated a moment ago */
    *acked = sqlite3_column_int64(st, 0);
    hub__sql_end(st);
    return HUB_OK;
}

static int store_receipt(sqlite3 *db, const char *device,
                         const fs_changeset *cs, const char *digest,
                         const char *reply, int64_t now)
{
    int rc = hub__sql_run(db,
                          "INSERT INTO receipts (device_id, first_seq, "
                          "last_seq, digest, reply, received_ms) VALUES (?, "
                          "?, ?, ?, ?, ?)",
                          HUB_ARGS(HUB_TEXT(device), HUB_INT(cs->first_seq),
                                   HUB_INT(cs->last_seq), HUB_TEXT(digest),
                                   HUB_TEXT(reply), HUB_INT(now)));
    if (rc != HUB_OK)
        return rc;
    return hub__sql_run(db,
                        "UPDATE devices SET acked_seq = ?, last_push_ms = ?, "
                        "last_seen_ms = ? WHERE id = ?",
                        HUB_ARGS(HUB_INT(cs->last_seq), HUB_INT(now),
                                 HUB_INT(now), HUB_TEXT(device)));
}

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
 * queue. Caller holds q->lock. */
static int device_on_the_way(const hub_mergeq *q, const hub_push *j)
{
    for (const hub_push *p = q->pending; p; p = p->pending)
        if (p != j && strcmp(p->device, j->device) == 0)
            return 1;
    for (const hub_push *p = q->head; p; p = p->next)
        if (p != j && strcmp(p->device, j->device) == 0)
            return 1;
    return 0;
}

/* Whether j, a push that would be refused as seq_gap, is still to be
 * held at now: until its deadline while another push of its device is on
 * the way (it may fill the gap), and for GRACE_MS in any case. *wake gets
 * when that may change without a signal. Caller holds q->lock. */
static int still_held(const hub_mergeq *q, const hub_push *j, int64_t now,
                      int64_t *wake)
{
    int64_t until = j->held_since + HOLD_MS;
    int64_t grace_end = j->held_since + GRACE_MS;
    if (q->stop || now >= until)
        return 0;
    if (device_on_the_way(q, j)) {
        *wake = until;
        return 1;
    }
    *wake = grace_end;
    return now < grace_end;
}

/* Called by the merge thread inside a group for a push that would be
 * refused as seq_gap: whether it is held for a later group instead. */
static int hold_for_gap(hub_mergeq *q, hub_push *j)
{
    int64_t now = mono_ms(), wake;
    if (j->held_since == 0)
        j->held_since = now;
    pthread_mutex_lock(&q->lock);
    int hold = still_held(q, j, now, &wake);
    pthread_mutex_unlock(&q->lock);
    return hold;
}

/* Caller holds q->lock. */
static void pending_remove(hub_mergeq *q, hub_push *j)
{
    for (hub_push **p = &q->pending; *p; p = &(*p)->pending) {
        if (*p == j) {
            *p = j->pending;
            j->pending = NULL;
            return;
        }
    }
}

/* Records a storage failure err of j (its writes are rolled back). */
static void failed(hub_push *j, sqlite3 *db, int err)
{
    j->held = 0;
    free(j->text);
    j->text = NULL;
    j->err = err;
    j->detail = hub__storage_detail(err);
    snprintf(j->errmsg, sizeof j->errmsg, "%s", sqlite3_errmsg(db));
}

/* Handles one push inside the group's open transaction. */
static void process_one(hub_mergeq *q, sqlite3 *db, hub_push *j)
{
    const fs_changeset *cs = j->cs;
    int64_t acked = 0;
    j->held = 0;
    int rc = read_acked(db, j->device, &acked);
    if (rc != HUB_OK) {
        failed(j, db, rc);
        return;
    }
    if (cs->first_seq <= acked) {
        rc = find_receipt(db, j->device, cs, j->digest, &j->text);
        if (rc != HUB_OK) {
            failed(j, db, rc);
            return;
        }
        /* A replay answers its stored reply. */
        j->err = j->text ? HUB_OK : HUB_ECONFLICT;
        j->code = "seq_behind";
        j->acked = acked;
        return;
    }
    if (cs->first_seq != acked + 1) {
        /* Nothing written yet: a held push leaves no trace but a line in
         * the log, which the tests wait on (tests/integration/
         * pipeline.sh). */
        int first = j->held_since == 0;
        if (hold_for_gap(q, j)) {
            if (first)
                fprintf(stderr,
                        "fieldsync-hub: push %lld-%lld of device %s held: "
                        "the hub has it up to %lld\n",
                        (long long)cs->first_seq, (long long)cs->last_seq,
                        j->device, (long long)acked);
            j->held = 1;
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
        j->err = HUB_ECONFLICT;
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
    rc = hub__merge(db, j->device, cs, j->digests, &q->h->held, &reply,
                    &j->held_n, &j->held_bytes);
    if (rc == HUB_OK) {
        j->text = fs_push_reply_encode(&reply);
        rc = j->text ? HUB_OK : HUB_ENOMEM;
    }
    if (rc == HUB_OK)
        rc = store_receipt(db, j->device, cs, j->digest, j->text,
                           (int64_t)fs_now_ms());
    if (rc == HUB_OK)
        j->err = HUB_OK;
    else
        failed(j, db, rc);
}

static void fail_all(hub_push *group, sqlite3 *db, int err)
{
    for (hub_push *j = group; j; j = j->next)
        failed(j, db, err);
}

/* One transaction for the whole group. */
static void run_group(hub_mergeq *q, hub_push *group)
{
    sqlite3 *db = q->db;
    int rc = hub__tx_begin(db, &q->h->write_lock);
    if (rc != HUB_OK) {
        fail_all(group, db, rc);
        return;
    }
    for (hub_push *j = group; j && rc == HUB_OK; j = j->next) {
        rc = hub__sql_run(db, "SAVEPOINT push", NULL, 0);
        if (rc != HUB_OK)
            break;
        process_one(q, db, j);
        /* A push that failed takes back only its own writes. */
        if (j->err != HUB_OK && j->err != HUB_ECONFLICT)
            rc = hub__sql_run(db, "ROLLBACK TO push", NULL, 0);
        if (rc == HUB_OK)
            rc = hub__sql_run(db, "RELEASE push", NULL, 0);
    }
    if (rc == HUB_OK)
        rc = hub__sql_run(db, "COMMIT", NULL, 0);
    if (rc != HUB_OK) {
        /* Nothing of the group is durable: no answer may say otherwise,
         * not even a replay or a 409 read inside it. */
        fail_all(group, db, rc);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&q->h->write_lock);
}

/* Puts each device's pushes of the group in first_seq order, on the
 * places its pushes already hold: other devices keep their order. n is at
 * most GROUP_MAX, so the quadratic walk costs nothing beside a COMMIT. */
static hub_push *order_group(hub_push *group)
{
    hub_push *v[GROUP_MAX];
    int n = 0;
    if (!group)
        return NULL;
    for (hub_push *j = group; j; j = j->next) {
        assert(n < GROUP_MAX);
        v[n++] = j;
    }
    for (int i = 0; i < n; i++)
        for (int k = i + 1; k < n; k++)
            if (v[k]->cs->first_seq < v[i]->cs->first_seq &&
                strcmp(v[k]->device, v[i]->device) == 0) {
                hub_push *t = v[i];
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
 * Caller holds q->lock. */
static int held_due(const hub_mergeq *q, int64_t *wake)
{
    int64_t now = mono_ms();
    *wake = INT64_MAX;
    for (const hub_push *j = q->held; j; j = j->next) {
        int64_t w = INT64_MAX;
        if (!still_held(q, j, now, &w))
            return 1;
        if (w < *wake)
            *wake = w;
    }
    return 0;
}

static void wait_until_ms(hub_mergeq *q, int64_t ms)
{
    struct timespec until = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    pthread_cond_timedwait(&q->work, &q->lock, &until);
}

/* The merge thread: takes whatever pushes are queued (at most GROUP_MAX,
 * held ones first) as one group, merges and commits it, answers them,
 * and goes on. It runs at the scheduler's normal priority, the request
 * workers a little below (server.c), so that decoding the next pushes
 * never slows the one thread everybody waits for. */
static void *merge_main(void *arg)
{
    hub_mergeq *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (!q->head && q->held && !q->stop) {
            int64_t wake;
            if (!held_due(q, &wake)) {
                wait_until_ms(q, wake);
                continue;
            }
        }
        if (!q->head && !q->held) {
            if (q->stop)
                break;
            pthread_cond_wait(&q->work, &q->lock);
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
        if (q->head && q->decoding > 0 && !q->stop) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += 2000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            while (q->decoding > 0 && !q->stop &&
                   pthread_cond_timedwait(&q->work, &q->lock, &until) == 0)
                ;
        }
        /* Held pushes first (they came first), then the queue. At most
         * half a group of held ones: with GROUP_MAX of them a group would
         * hold nothing else, not the pushes that fill their gaps, and
         * the same held ones would come round again and again. */
        hub_push *group = NULL, **tail = &group;
        int n = 0;
        while (q->held && n < GROUP_MAX / 2) {
            *tail = q->held;
            q->held = q->held->next;
            tail = &(*tail)->next;
            n++;
        }
        while (q->head && n < GROUP_MAX) {
            *tail = q->head;
            q->head = q->head->next;
            tail = &(*tail)->next;
            n++;
        }
        *tail = NULL;
        if (!q->head)
            q->tail = NULL;
        group = order_group(group);
        pthread_mutex_unlock(&q->lock);

        run_group(q, group);

        pthread_mutex_lock(&q->lock);
        /* Pushes held again go back, in order, before any held since. */
        hub_push *held = NULL, **htail = &held;
        for (hub_push *g = group; g;) {
            hub_push *next = g->next;
            g->next = NULL;
            if (g->held) {
                *htail = g;
                htail = &g->next;
            } else {
                g->done = 1;
            }
            g = next;
        }
        *htail = q->held;
        q->held = held;
        pthread_cond_broadcast(&q->done);
    }
    pthread_mutex_unlock(&q->lock);
    hub__stmt_release(q->db);
    return NULL;
}

static void mergeq_free(hub_mergeq *q)
{
    sqlite3_close(q->db);
    sem_destroy(&q->decode_slots);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->done);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

hub_mergeq *hub__mergeq_start(hub *h)
{
    hub_mergeq *q = calloc(1, sizeof *q);
    if (!q) {
        fprintf(stderr, "fieldsync-hub: out of memory for the merge queue\n");
        return NULL;
    }
    q->h = h;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&q->done, NULL);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    sem_init(&q->decode_slots, 0, n < 1 ? 1u : n > 64 ? 64u : (unsigned)n);
    char err[512];
    if (fs_db_open(h->db_path, &fs_schema_hub, 0, &q->db, err, sizeof err) !=
        0) {
        fprintf(stderr, "fieldsync-hub: merge connection: %s\n", err);
        mergeq_free(q);
        return NULL;
    }
    if (hub__hierarchy_register(q->db) != 0) {
        fprintf(stderr, "fieldsync-hub: merge connection: cannot register "
                        "the area hierarchy function\n");
        mergeq_free(q);
        return NULL;
    }
    hub__checkpointer_attach(h->ckpt, q->db);
    if (pthread_create(&q->thread, NULL, merge_main, q) != 0) {
        fprintf(stderr, "fieldsync-hub: cannot start the merge thread\n");
        mergeq_free(q);
        return NULL;
    }
    return q;
}

void hub__mergeq_stop(hub_mergeq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stop = 1;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    mergeq_free(q);
}

void hub__mergeq_expect(hub_mergeq *q, hub_push *p)
{
    pthread_mutex_lock(&q->lock);
    p->pending = q->pending;
    q->pending = p;
    pthread_mutex_unlock(&q->lock);
}

void hub__mergeq_decode_begin(hub_mergeq *q)
{
    pthread_mutex_lock(&q->lock);
    q->decoding++;
    pthread_mutex_unlock(&q->lock);
    while (sem_wait(&q->decode_slots) != 0)
        ; /* EINTR */
}

void hub__mergeq_decode_end(hub_mergeq *q, int ok)
{
    sem_post(&q->decode_slots);
    if (ok)
        return; /* hub__mergeq_submit counts it out */
    pthread_mutex_lock(&q->lock);
    q->decoding--;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->lock);
}

void hub__mergeq_drop(hub_mergeq *q, hub_push *p)
{
    pthread_mutex_lock(&q->lock);
    pending_remove(q, p);
    /* A push held for this one need not wait any longer. */
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->lock);
}

void hub__mergeq_submit(hub_mergeq *q, hub_push *p)
{
    pthread_mutex_lock(&q->lock);
    q->decoding--;
    /* Out of pending and into the queue at once: a held push of the same
     * device never sees it in neither. */
    pending_remove(q, p);
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    pthread_cond_signal(&q->work);
    while (!p->done)
        pthread_cond_wait(&q->done, &q->lock);
    pthread_mutex_unlock(&q->lock);
}
