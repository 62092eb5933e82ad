/*
 * outbox.h - the transactional outbox: every change made on the device
 * gets the next outbox sequence number in the transaction that makes it;
 * a sync reads the rows after the acknowledged sequence as changesets,
 * takes the hub's answer to each, and realigns the numbering when the
 * hub's view of the sequence differs from ours.
 *
 * Invariants:
 *  - meta.acked_seq only moves forward after the hub acknowledged a
 *    changeset, and the acknowledgement and the state of its records
 *    commit together (fa__batch_take_reply);
 *  - outbox rows above acked_seq are numbered acked_seq+1, +2, ... with no
 *    gap; fa__outbox_realign restores this whenever the hub's view of the
 *    sequence differs from ours (restored backups on either side);
 *  - outbox rows are kept after acknowledgement, so a hub restored from an
 *    older backup can be sent them again.
 */
#ifndef FA_OUTBOX_H
#define FA_OUTBOX_H

#include "agent_int.h"

/* For a new change in the caller's transaction: the collector, a fresh
 * HLC stamp (the caller stores it in meta "hlc" with the change) and the
 * next outbox sequence (after the highest row and the acknowledged one). */
int fa__stamp(fa_agent *ag, char collector[FS_NAME_MAX + 1],
              char hlc[FS_HLC_TEXT_LEN + 1], int64_t *seq);

/* Writes the outbox row of a change written in the caller's transaction
 * with what fa__stamp gave (seq, hlc, which becomes meta "hlc"): kind
 * "submission" (ref: its id and revision) or "entity" (ref: the entity
 * and the entity_changes row), made at now. On failure the message is
 * for doing what. */
int fa__outbox_add(fa_agent *ag, const char *what, int64_t seq,
                   const char *kind, const char *ref_id, int64_t ref_rev,
                   int64_t now, const char *hlc);

/* One changeset read from the outbox, and what each change refers to. */
typedef struct fa__batch {
    fs_changeset *cs; /* owned; NULL when nothing waits */
    char (*ids)[FS_UUID_LEN + 1];
    int64_t *revs; /* submission revision, or entity_changes.id */
    char *entity;  /* 1 for an entity change */
} fa__batch;

/* Reads the next changeset of device: outbox rows after acked, at most
 * count rows and about bytes of answers (always at least one row). b is
 * the caller's (fa__batch_free) on success; b->cs is NULL when nothing
 * waits. */
int fa__batch_load(fa_agent *ag, const char *device, int64_t acked,
                   size_t count, size_t bytes, fa__batch *b);
/* Frees what b holds and zeroes it; safe on a zeroed batch. */
void fa__batch_free(fa__batch *b);

/* Encodes b, gzipped, into body (initialised here, bounded by the agent's
 * limits, the caller's to fs_buf_free on success). With trace_dir, a copy
 * of the body is saved there (trace.h). FA_EINPUT when it does not fit. */
int fa__batch_encode(fa_agent *ag, const fa__batch *b, const char *trace_dir,
                     fs_buf *body);

/* Checks the hub's 200 answer (reply, len bytes) to b and applies it: the
 * state of each record and acked_seq in one transaction, counted into
 * rep, *done raised by the changes answered. FA_EREFUSED (message set)
 * when the answer is not one for b: nothing is marked as sent then. */
int fa__batch_take_reply(fa_agent *ag, const fa__batch *b, const char *reply,
                         size_t len, fa_sync_report *rep, long long *done);

/* Makes new_acked the acknowledged sequence and renumbers, in their
 * order, every outbox row the hub may not hold to new_acked+1, +2, ...
 * in one transaction. */
int fa__outbox_realign(fa_agent *ag, int64_t new_acked);

/* Outbox rows after acked (0 when they cannot be counted). */
long long fa__outbox_pending(fa_agent *ag, int64_t acked);

#endif
