/*
 * resolve.c - settling a conflict (resolve.h): an admin chooses one of
 * the competing values or writes a new one. A resolution is a new
 * version written by the hub on top of the current one and logged to the
 * change log, so every device holding the entity pulls it; an edit based
 * on it then fast-forwards. Every resolution is audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hierarchy.h"
#include "resolve.h"
#include "audit.h"
#include "conflicts.h"
#include "entity.h"
#include "errors.h"
#include "scope.h"
#include "stmtcache.h"

static char *candidate(sqlite3 *db, int64_t id, int n, int64_t *version,
                       char *device, size_t cap)
{
    int rc;
    char *out = NULL;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT value, coalesce(version, 0), "
                                "device_id FROM conflict_values WHERE "
                                "conflict_id = ? AND n = ?",
                                HUB_ARGS(HUB_INT(id), HUB_INT(n)), &rc);
    if (st && hub__sql_step(st) > 0) {
        out = strdup(hub__col(st, 0));
        *version = sqlite3_column_int64(st, 1);
        snprintf(device, cap, "%s", hub__col(st, 2));
        hub__sql_end(st);
    }
    return out;
}

/* A stamp above every competitor's, so devices order the resolution
 * after what it settles. */
static void hub_stamp(sqlite3 *db, int64_t id, char out[FS_HLC_TEXT_LEN + 1])
{
    uint64_t state = 0;
    hub_candidate w;
    if (hub__conflict_winner(db, id, &w) == HUB_OK) {
        fs_hlc_parse(w.hlc, &state);
        free(w.value);
    }
    fs_hlc_format(fs_hlc_tick(&state, fs_now_ms()), out);
}

/* Resolves the field conflict c with value (canonical JSON). */
static int resolve_field(sqlite3 *db, int64_t id, const hub_conflict *c,
                         const char *value, const char *actor, int64_t now)
{
    hub_field cur;
    int rc = hub__entity_field(db, c->ref, c->field, &cur);
    free(cur.value);
    if (rc != HUB_OK)
        return rc;
    char hlc[FS_HLC_TEXT_LEN + 1];
    hub_stamp(db, id, hlc);
    rc = hub__entity_write(db, c->ref, c->field, cur.version + 1, cur.version,
                           value, hlc, "", actor, "resolution", now);
    return rc == HUB_OK ? hub__entity_log(db, "resolution", c->ref, id, now)
                        : rc;
}

/* Resolves a submission conflict by choosing the amendment: it becomes
 * the next revision on top of the hub's newest. */
static int resolve_submission(sqlite3 *db, const hub_conflict *c,
                              const char *answers, const char *device,
                              int64_t now)
{
    char digest[65];
    fs_sha256_hex(answers, strlen(answers), digest);
    return hub__sql_run(
        db,
        "INSERT INTO submissions (id, rev, base_rev, form_id, form_version, "
        "area, device_id, collector, hlc, created_ms, received_ms, answers, "
        "digest) SELECT id, rev + 1, rev, form_id, form_version, area, ?2, "
        "collector, hlc, created_ms, ?3, ?4, ?5 FROM submissions WHERE id "
        "= ?1 ORDER BY rev DESC LIMIT 1",
        HUB_ARGS(HUB_TEXT(c->ref), HUB_TEXT(device), HUB_INT(now),
                 HUB_TEXT(answers), HUB_TEXT(digest)));
}

int hub__resolve(sqlite3 *db, int64_t id, int choose, const cJSON *value,
                 const char *actor, const char *areas, char *err, size_t errlen)
{
    hub_conflict c;
    int rc = hub__conflict_load(db, id, &c);
    if (rc != HUB_OK)
        return rc;
    if (!c.found || hub__area_covered(db, areas, c.area) != 1) {
        snprintf(err, errlen, "no conflict #%lld", (long long)id);
        return HUB_ENOTFOUND;
    }
    if (strcmp(c.status, "open") != 0)
        return hub__errf(err, errlen, "conflict #%lld is already resolved",
                         (long long)id);
    if (value && strcmp(c.kind, "field") != 0)
        return hub__errf(err, errlen,
                         "conflict #%lld is a %s conflict: choose one "
                         "of its values with --choose N",
                         (long long)id, c.kind);
    char *chosen = NULL, device[FS_UUID_LEN + 1] = "";
    int64_t version = 0;
    if (!value) {
        chosen = candidate(db, id, choose, &version, device, sizeof device);
        if (!chosen)
            return hub__errf(err, errlen,
                             "conflict #%lld has no value %d; "
                             "`fieldsync-hub conflicts` lists them",
                             (long long)id, choose);
    } else {
        fs_problems p;
        fs_problems_init(&p);
        const fs_form *type = fs_entity_type(hub__entity_types(), c.type);
        if (!type || fs_entity_check_value(type, c.field, value, &p) != FS_OK) {
            fs_problems_format(&p, "; ", err, errlen);
            return HUB_EBADINPUT;
        }
        chosen = cJSON_PrintUnformatted(value);
        if (!chosen)
            return HUB_ENOMEM;
    }
    int64_t now = (int64_t)fs_now_ms();
    if (strcmp(c.kind, "field") == 0) {
        rc = resolve_field(db, id, &c, chosen, actor, now);
    } else if (strcmp(c.kind, "delete") == 0) {
        if (strcmp(chosen, "\"delete\"") == 0) {
            char hlc[FS_HLC_TEXT_LEN + 1];
            hub_stamp(db, id, hlc);
            rc = hub__entity_tombstone(db, c.ref, "", actor, hlc, now);
        } else {
            rc = hub__entity_log(db, "resolution", c.ref, id, now);
        }
    } else if (version == 0) {
        /* The amendment wins; the hub's correction stays as history. */
        rc = resolve_submission(db, &c, chosen, device, now);
    }
    if (rc == HUB_OK)
        rc = hub__sql_run(db,
                          "UPDATE conflicts SET status = 'resolved', "
                          "resolved_ms = ?, resolved_by = ?, resolution = ? "
                          "WHERE id = ?",
                          HUB_ARGS(HUB_INT(now), HUB_TEXT(actor),
                                   HUB_TEXT(chosen), HUB_INT(id)));
    if (rc == HUB_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "conflict", (double)id);
        cJSON_AddStringToObject(d, "kind", c.kind);
        cJSON_AddStringToObject(d, "ref", c.ref);
        cJSON_AddStringToObject(d, "field", c.field);
        if (value)
            cJSON_AddItemToObject(d, "value", cJSON_Duplicate(value, 1));
        else
            cJSON_AddNumberToObject(d, "choose", choose);
        rc = hub__audit(db, actor, "conflict.resolve", d);
    }
    free(chosen);
    return rc;
}
