/*
 * entity.h - the registry on the device, as sync and the form app use
 * it (the commands' functions are in agent.h).
 */
#ifndef FA_ENTITY_H
#define FA_ENTITY_H

#include "agent_int.h"

/* Fills c from an outbox row joined with entity_changes: columns c0..
 * c0+6 are entity_id, type, op, fields, collector, hlc, created_ms. The
 * edits added to c are freed with the changeset that holds it, also on
 * failure. FS_OK or FS_ENOMEM. */
int fa__entity_change(sqlite3_stmt *st, int c0, fs_change *c);
/* Records the hub's answer to entity change `change` (entity_changes.id)
 * in the caller's transaction. */
int fa__entity_ack(fa_agent *ag, int64_t change, const fs_result *res);
/* Applies a pulled "entity", "resolution" or "entity_delete" row in the
 * caller's transaction; fields with an edit still queued here are left
 * as they are. */
int fa__entity_apply(fa_agent *ag, const char *kind, const cJSON *payload);

/* Deletes the entities outside areas ("*" or codes joined by commas)
 * that have no change waiting, in the caller's transaction. */
int fa__entity_purge(fa_agent *ag, const char *areas);

/* Appends to arr the newest max (0: all) registry edits the hub refused,
 * as the form app's quarantine list shows them: {kind "entity", id,
 * title ("Type (op): name", the type's title in lang), area, created_ms,
 * state, hub_error, hub_message}. */
int fa__entity_refused_list(fa_agent *ag, const char *lang, size_t max,
                            cJSON *arr);

#endif
