/*
 * entity.h - the registry (PROTOCOL.md section 7): entities (areas,
 * stakeholders, mechanisms) versioned field by field. Entity changes
 * from devices are merged here inside the push transaction (a
 * concurrent edit opens a conflict, conflicts.h); admins write here too.
 *
 * Functions return HUB_OK or a HUB_E* code (errors.h) and run in the
 * caller's transaction.
 */
#ifndef HUB_ENTITY_H
#define HUB_ENTITY_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "fs_entity.h"
#include "fs_protocol.h"

/* The entity types built into this hub (schema/entities.json), parsed
 * once and kept for the process's life; NULL only when that document is
 * broken. */
const struct fs_entity_types *hub__entity_types(void);

/* The current version of one field of an entity. */
typedef struct hub_field {
    int found;   /* 0: the field was never written (version 0) */
    char *value; /* canonical JSON, owned (free); NULL when not found */
    int64_t version;
    char hlc[FS_HLC_TEXT_LEN + 1];
    char device[FS_UUID_LEN + 1]; /* "" for versions the hub wrote */
    char collector[FS_NAME_MAX + 8];
} hub_field;

int hub__entity_field(sqlite3 *db, const char *id, const char *name,
                      hub_field *f);
/* Records version `version` of a field (on top of base) and makes it the
 * current one. origin: "device", "resolution" or "admin". */
int hub__entity_write(sqlite3 *db, const char *id, const char *name,
                      int64_t version, int64_t base, const char *value,
                      const char *hlc, const char *device,
                      const char *collector, const char *origin, int64_t now);
/* Appends the entity's current state to the change log for devices of
 * its area: kind "entity", "resolution" (conflict > 0) or
 * "entity_delete". */
int hub__entity_log(sqlite3 *db, const char *kind, const char *id,
                    int64_t conflict, int64_t now);
/* Queues, for one device whose areas grew from old to areas, every
 * entity of the added areas (a cursor that passed them still gets them). */
int hub__entity_requeue(sqlite3 *db, const char *device, const char *old,
                        const char *areas, int64_t now);
/* Marks an entity deleted by device (a tombstone) and logs it. */
int hub__entity_tombstone(sqlite3 *db, const char *id, const char *device,
                          const char *collector, const char *hlc, int64_t now);

/* Merges one entity change of device inside the push transaction,
 * filling r: applied (fast-forward or converged), divergent with error
 * "conflict" (a conflict was opened or joined), duplicate (merged
 * before) or refused. Returns HUB_OK or the error that must roll the
 * push back. */
int hub__merge_entity(sqlite3 *db, const char *device,
                      const fs_entity_change *ent, fs_result *r, int64_t now);

/* Writes fields of an entity as a hub admin, e.g. areas imported from a
 * GeoJSON file: call it inside your own transaction (BEGIN IMMEDIATE ...
 * COMMIT), once per feature.
 *   type_name  "area", "stakeholder" or "mechanism" (schema/ENTITIES.md)
 *   id         an existing entity of that type, or NULL/"" to create one
 *              (then every required field must be given)
 *   fields     JSON object field -> value (borrowed), checked against
 *              the type; null clears a field. An area's geometry is the
 *              GeoJSON geometry object as text, e.g. the string
 *              "{"type":"Polygon","coordinates":[...]}".
 *   actor      who, for the audit log ("cli", "token:<name>")
 *   id_out     receives the entity id (may be NULL)
 * Each field becomes a new version on top of the current one (origin
 * "admin"; an admin write is authoritative and opens no conflict), the
 * entity is logged for every device of its area to pull, and the write
 * is audited ("entity.write"). Returns HUB_OK; HUB_EBADINPUT or
 * HUB_ENOTFOUND with a sentence in err for bad input (nothing
 * written); another HUB_E* code for a storage error (roll back). */
int hub__entity_admin_write(sqlite3 *db, const char *type_name, const char *id,
                            const cJSON *fields, const char *actor,
                            char id_out[FS_UUID_LEN + 1], char *err,
                            size_t errlen);

#endif
