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

/* Merges every change of cs for device_id inside the caller's open
 * transaction; reply->results and digests come from hub__merge_prepare.
 * Returns HUB_OK or the error (errors.h) that must roll the transaction
 * back. */
int hub__merge(sqlite3 *db, const char *device_id, const fs_changeset *cs,
               const hub_digest *digests, fs_push_reply *reply);

/* Frees the calling thread's parsed forms (a worker's exit_thread). */
void hub__merge_release(void);

/* Marks r refused with error code and a message. */
void hub__refuse(fs_result *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
