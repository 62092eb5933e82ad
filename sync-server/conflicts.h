/*
 * conflicts.h - disagreements for hub admins to settle: concurrent field
 * values and delete-versus-edit of registry entities (opened by
 * entity.c during a merge), amendments whose base revision was
 * overtaken (opened by merge.c); listing and resolving them, and
 * possible duplicate respondents.
 *
 * Functions return HUB_OK or a HUB_E* code (errors.h) and run in the
 * caller's transaction.
 */
#ifndef HUB_CONFLICTS_H
#define HUB_CONFLICTS_H

#include <stddef.h>
#include <stdint.h>

#include <civetweb.h>
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
int hub__conflict_set_version(sqlite3 *db, int64_t id, int n, int64_t version);
/* Conflict id into c; c->found is 0 when there is none. */
int hub__conflict_load(sqlite3 *db, int64_t id, hub_conflict *c);
/* An amendment (base_rev > 0) whose base is no longer the newest
 * revision: opens a 'submission' conflict holding both and sets r to
 * divergent/"conflict". *handled is 0 when the amendment is not one
 * (merge it as usual). */
int hub__amend_conflict(sqlite3 *db, const char *device, const fs_submission *s,
                        fs_result *r, int64_t now, int *handled);

/* Conflicts (open only unless all) within areas with id > after, oldest
 * first, at most limit (-1: all), each with its competing values: a
 * JSON array (caller frees), NULL on a storage error. */
cJSON *hub__conflicts_json(sqlite3 *db, int all, const char *areas,
                           int64_t after, int64_t limit);

/* Settles conflict id by choosing competitor choose (> 0) or writing
 * value (JSON, borrowed; field conflicts only), as actor, for a caller
 * limited to areas; audited. HUB_OK; HUB_ENOTFOUND or HUB_EBADINPUT
 * with a sentence in err (nothing changed); or a storage error. */
int hub__resolve(sqlite3 *db, int64_t id, int choose, const cJSON *value,
                 const char *actor, const char *areas, char *err,
                 size_t errlen);

/* Possible duplicate respondents within areas: newest revisions of
 * submissions whose form declares a dedupe key, grouped by form and key,
 * groups of two or more (caller frees); NULL on a storage error. */
cJSON *hub__duplicates_json(sqlite3 *db, const char *areas);

int hub__handle_admin_conflicts(struct mg_connection *conn, void *hubp);
int hub__handle_admin_resolve(struct mg_connection *conn, void *hubp);
int hub__handle_admin_duplicates(struct mg_connection *conn, void *hubp);

#endif
