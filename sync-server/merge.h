/*
 * merge.h - the merge engine: decides, change by change, what a decoded
 * changeset does to the hub's dataset (submissions here, registry
 * entities in entity.h), inside the push transaction the merge queue
 * (mergeq.h) opens.
 */
#ifndef HUB_MERGE_H
#define HUB_MERGE_H

#include <sqlite3.h>

#include "fs_protocol.h"

/* The SHA-256 (hex) of one submission's content. */
typedef struct hub_digest {
    char hex[65];
} hub_digest;

/* The part of a merge that does not depend on the hub's data, run by the
 * request's own thread outside any transaction so that the one writer
 * does only the SQL: fills results[i] (cs->n of them, the caller's) with
 * the seq and, for a change that cannot be accepted (decode error,
 * unknown form, answers that fail the form), the refusal; digests[i]
 * with each remaining submission's content digest. Published forms are
 * parsed once per thread. Returns HUB_OK or a storage/memory error. */
int hub__merge_prepare(sqlite3 *db, const fs_changeset *cs, fs_result *results,
                       hub_digest *digests);

/* What a device may leave held (refused or divergent changes kept for
 * an admin in held_changes): a device that sends the same refused change
 * over and over must not fill the hub's disk. */
#define HUB_HELD_MAX 1000
#define HUB_HELD_MAX_BYTES (8LL * 1024 * 1024)
#define HUB_HELD_DAYS 90
typedef struct hub_held_quota {
    int64_t max;       /* changes a device may have held */
    int64_t max_bytes; /* their bytes */
    int64_t keep_ms;   /* held longer than this: dropped at its next push */
} hub_held_quota;

/* Merges every change of cs for device_id inside the caller's open
 * transaction; reply->results and digests come from hub__merge_prepare.
 * When the push holds changes, the device's held changes older than
 * quota->keep_ms are dropped, and HUB_EQUOTA is returned when what it
 * would then hold passes quota (the caller
 * rolls the push back: nothing of it is stored, and *held, *held_bytes
 * say how much the device would hold). Returns HUB_OK or the error
 * (errors.h) that must roll the transaction back. */
int hub__merge(sqlite3 *db, const char *device_id, const fs_changeset *cs,
               const hub_digest *digests, const hub_held_quota *quota,
               fs_push_reply *reply, int64_t *held, int64_t *held_bytes);

/* Frees the calling thread's parsed forms (a worker's exit_thread). */
void hub__merge_release(void);

/* Marks r refused with error code and a message. */
void hub__refuse(fs_result *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
