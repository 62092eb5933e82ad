/*
 * conflicts.h - the record of disagreements for hub admins to settle:
 * concurrent field values and delete-versus-edit of registry entities
 * (opened by entity.c during a merge) and amendments whose base revision
 * was overtaken (opened by merge.c). Each conflict holds every competing
 * value with who and when; resolve.h settles one.
 *
 * Functions return HUB_OK or a HUB_E* code (errors.h) and run in the
 * caller's transaction; strings passed in are borrowed for the call.
 */
#ifndef HUB_CONFLICTS_H
#define HUB_CONFLICTS_H

#include <stdint.h>

#include <sqlite3.h>

#include "fs_protocol.h"

/* One competing value of a conflict. */
typedef struct hub_candidate {
    int n;
    char *value; /* owned */
    char hlc[FS_HLC_TEXT_LEN + 1];
    char device[FS_UUID_LEN + 1];
    char collector[FS_NAME_MAX + 8];
    int64_t version; /* 0 when it never became current */
} hub_candidate;

/* One conflict as stored. */
typedef struct hub_conflict {
    int found;
    char kind[16]; /* field, delete or submission */
    char ref[FS_UUID_LEN + 1];
    char field[FS_ID_MAX + 1];
    char area[FS_ID_MAX + 1];
    char status[16];          /* open or resolved */
    char type[FS_ID_MAX + 1]; /* the entity's type; "" for submissions */
} hub_conflict;

/* The open conflict (kind, ref, field): *id, 0 when there is none. */
int hub__conflict_find(sqlite3 *db, const char *kind, const char *ref,
                       const char *field, int64_t *id);
/* The open conflict (kind, ref, field), opened now when there is none. */
int hub__conflict_open(sqlite3 *db, const char *kind, const char *ref,
                       const char *field, const char *area, int64_t now,
                       int64_t *id);
/* Adds a competing value unless the same (device, hlc, value) is there.
 * version <= 0 stores none. */
int hub__conflict_add(sqlite3 *db, int64_t id, const char *value,
                      const char *device, const char *collector,
                      const char *hlc, int64_t version, int64_t now);
/* The competitor with the highest (HLC, device id); w->value is the
 * caller's. HUB_ENOTFOUND when the conflict has none. */
int hub__conflict_winner(sqlite3 *db, int64_t id, hub_candidate *w);
/* Notes that competitor n became version of its field. */
int hub__conflict_set_version(sqlite3 *db, int64_t id, int n, int64_t version);
/* Conflict id into c; c->found is 0 when there is none. */
int hub__conflict_load(sqlite3 *db, int64_t id, hub_conflict *c);

/* Conflicts (open only unless all) within areas with id > after, oldest
 * first, at most limit (-1: all), each with its competing values: a
 * JSON array (caller frees), NULL on a storage error. */
cJSON *hub__conflicts_json(sqlite3 *db, int all, const char *areas,
                           int64_t after, int64_t limit);
/* Leaves out of arr (from hub__conflicts_json) every value of a field
 * marked personal or sensitive: an entity field's values become null, a
 * submission's answers lose the fields marked in any version of its
 * form (all of them when the marks cannot be read); such conflicts get
 * "withheld": true. */
void hub__conflicts_mask(sqlite3 *db, cJSON *arr);

#endif
