/*
 * mergeq.h - the merge queue: decoded pushes wait here for the hub's one
 * merge thread, which merges every queued push (merge.h) in one write
 * transaction, stores each receipt, commits once (group commit) and only
 * then hands each push its answer. The queue also bounds how many pushes
 * decode at once. One queue per hub (server.h), started before the
 * workers and stopped after them.
 *
 * A push that skips ahead of its device's acknowledged sequence while
 * another push of that device is still on its way is held for a later
 * group rather than refused at once (PROTOCOL.md 4.4): see mergeq.c.
 */
#ifndef HUB_MERGEQ_H
#define HUB_MERGEQ_H

#include <stdint.h>

#include "fs_protocol.h"
#include "merge.h"

struct hub;
typedef struct hub_mergeq hub_mergeq;

/* One push on its way through the queue: the request's thread owns it
 * (on its stack) and every pointer in it; the queue borrows it from
 * hub__mergeq_expect until hub__mergeq_submit returns or hub__mergeq_drop
 * is called. */
typedef struct hub_push {
    /* Set by the request's thread. */
    const char *device;
    const fs_changeset *cs;    /* set before hub__mergeq_submit */
    const char *digest;        /* the changeset's digest */
    fs_result *results;        /* cs->n, from hub__merge_prepare */
    const hub_digest *digests; /* cs->n, from hub__merge_prepare */
    /* The outcome, set by the merge thread. */
    int err;            /* HUB_OK: text is the reply; HUB_ECONFLICT: out of
                           sequence (code, acked); else nothing of it was
                           stored (errors.h) */
    char *text;         /* the reply (the request's thread frees it) */
    const char *code;   /* HUB_ECONFLICT: "seq_behind" or "seq_gap" */
    int64_t acked;      /* HUB_ECONFLICT: the hub's sequence */
    const char *detail; /* storage failure: SQLite's words (static) */
    char errmsg[256];   /* storage failure, for the log */
    int64_t held_n, held_bytes; /* HUB_EQUOTA: what the device would hold */
    /* The queue's own. */
    int done, held;
    int64_t held_since; /* held for a later group since (monotonic ms) */
    struct hub_push *next, *pending;
} hub_push;

/* Starts the merge thread on its own connection to h's database (h is
 * borrowed until hub__mergeq_stop). NULL, said on stderr, when it
 * cannot. */
hub_mergeq *hub__mergeq_start(struct hub *h);
/* Stops the thread once no push is in flight (after mg_stop), closes its
 * connection and frees q (NULL is fine). */
void hub__mergeq_stop(hub_mergeq *q);

/* p (device set, zeroed otherwise) is on its way: its body is being read
 * or decoded. A push of the same device that skips ahead may wait for
 * it. */
void hub__mergeq_expect(hub_mergeq *q, hub_push *p);
/* Brackets the decoding of a push: waits for a decode slot (one per core)
 * and tells the merge thread a push is about to join the queue; ok 0
 * when the push will not be submitted. */
void hub__mergeq_decode_begin(hub_mergeq *q);
void hub__mergeq_decode_end(hub_mergeq *q, int ok);
/* p will not be submitted (refused before decoding or after). */
void hub__mergeq_drop(hub_mergeq *q, hub_push *p);
/* Queues p (cs, digest, results and digests set) and returns once the
 * transaction holding it has committed or failed: p's outcome is set. */
void hub__mergeq_submit(hub_mergeq *q, hub_push *p);

#endif
