/*
 * conflicts.h - disagreements for hub admins to settle: concurrent field
 * values and delete-versus-edit of registry entities (opened by
 * entity.c during a merge), amendments whose base revision was
 * overtaken (opened by merge.c); listing and resolving them, and
 * possible duplicate respondents.
 */
#ifndef HUB_CONFLICTS_H
#define HUB_CONFLICTS_H

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

/* The open conflict (kind, ref, field), opened now when there is none. */
int hub__conflict_open(sqlite3 *db, const char *kind, const char *ref,
                       const char *field, const char *area, int64_t now,
                       int64_t *id);
/* Adds a competing value unless the same (device, hlc, value) is there.
 * version <= 0 stores none. */
int hub__conflict_add(sqlite3 *db, int64_t id, const char *value,
                      const char *device, const char *collector,
                      const char *hlc, int64_t version, int64_t now);
/* The competitor with the highest (HLC, device id); w->value is owned. */
int hub__conflict_winner(sqlite3 *db, int64_t id, hub_candidate *w);
int hub__conflict_set_version(sqlite3 *db, int64_t id, int n, int64_t version);
/* An amendment (base_rev > 0) whose base is no longer the newest
 * revision: opens a 'submission' conflict holding both and sets r to
 * divergent/"conflict". *handled is 0 when the amendment is not one
 * (merge it as usual). */
int hub__amend_conflict(sqlite3 *db, const char *device, const fs_submission *s,
                        fs_result *r, int64_t now, int *handled);

int hub__handle_admin_conflicts(struct mg_connection *conn, void *hubp);
int hub__handle_admin_resolve(struct mg_connection *conn, void *hubp);
int hub__handle_admin_duplicates(struct mg_connection *conn, void *hubp);

#endif
