/*
 * access.c - who may do what (access.h): API tokens for people, the
 * enrolled devices, revoking either, and changing what a device may
 * hold. The admin commands are in accesscli.c, the API in adminapi.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hierarchy.h"
#include "access.h"
#include "audit.h"
#include "entity.h"
#include "errors.h"
#include "scope.h"
#include "stmtcache.h"

int hub__token_create(sqlite3 *db, const char *role, const char *name,
                      const char *areas, const char *actor, char token[65],
                      char id[FS_UUID_LEN + 1])
{
    unsigned char raw[32];
    char hash[65];
    if (fs_random_bytes(raw, sizeof raw) != FS_OK || fs_uuid_v7(id) != FS_OK)
        return HUB_ESTORAGE;
    fs_hex(raw, sizeof raw, token);
    fs_sha256_hex(token, 64, hash);
    int rc = hub__sql_run(db,
                          "INSERT INTO api_tokens (id, name, role, areas, "
                          "token_hash, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
                          HUB_ARGS(HUB_TEXT(id), HUB_TEXT(name), HUB_TEXT(role),
                                   HUB_TEXT(areas), HUB_TEXT(hash),
                                   HUB_INT(fs_now_ms())));
    if (rc != HUB_OK)
        return rc;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "token", id);
    cJSON_AddStringToObject(d, "name", name);
    cJSON_AddStringToObject(d, "role", role);
    cJSON_AddStringToObject(d, "areas", areas);
    return hub__audit(db, actor, "token.create", d);
}

/* A row's who: {id, name, role, areas} from columns 0 to 3. */
static cJSON *who_json(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", hub__col(st, 0));
    cJSON_AddStringToObject(o, "name", hub__col(st, 1));
    cJSON_AddStringToObject(o, "role", hub__col(st, 2));
    cJSON_AddItemToObject(o, "areas", hub__scope_json(hub__col(st, 3)));
    return o;
}

static cJSON *token_row(sqlite3_stmt *st)
{
    cJSON *o = who_json(st);
    cJSON_AddBoolToObject(o, "revoked", sqlite3_column_int(st, 4));
    return o;
}

cJSON *hub__tokens_json(sqlite3 *db)
{
    return hub__sql_json(db,
                         "SELECT id, name, role, areas, revoked_ms IS NOT "
                         "NULL FROM api_tokens ORDER BY created_ms",
                         NULL, 0, token_row);
}

static cJSON *device_row(sqlite3_stmt *st)
{
    cJSON *o = who_json(st);
    cJSON_AddItemToObject(o, "forms", hub__scope_json(hub__col(st, 4)));
    cJSON_AddNumberToObject(o, "acked_seq",
                            (double)sqlite3_column_int64(st, 5));
    cJSON_AddNumberToObject(o, "last_seen_ms",
                            (double)sqlite3_column_int64(st, 6));
    cJSON_AddBoolToObject(o, "revoked", sqlite3_column_int(st, 7));
    return o;
}

cJSON *hub__devices_json(sqlite3 *db)
{
    return hub__devices_json_in(db, "*");
}

cJSON *hub__devices_json_in(sqlite3 *db, const char *scope)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT id, name, role, areas, forms, "
                                "acked_seq, coalesce(last_seen_ms, 0), "
                                "revoked_ms IS NOT NULL FROM devices ORDER "
                                "BY enrolled_ms",
                                NULL, 0, &rc);
    cJSON *arr = st ? cJSON_CreateArray() : NULL;
    while (arr && (rc = hub__sql_step(st)) > 0) {
        if (hub__area_scope_within(db, hub__col(st, 3), scope) != 1)
            continue;
        cJSON *o = device_row(st);
        if (!o)
            break;
        cJSON_AddItemToArray(arr, o);
    }
    if (st)
        hub__sql_end(st);
    if (arr && rc != 0) {
        cJSON_Delete(arr);
        arr = NULL;
    }
    return arr;
}

int hub__revoke_device_in(sqlite3 *db, const char *id, const char *scope,
                          const char *actor)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT areas FROM devices WHERE id = ? AND "
                                "revoked_ms IS NULL",
                                HUB_ARGS(HUB_TEXT(id)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    int within =
        rc > 0 && hub__area_scope_within(db, hub__col(st, 0), scope) == 1;
    hub__sql_end(st);
    if (rc < 0)
        return rc;
    if (!within)
        return HUB_ENOTFOUND;
    return hub__revoke(db, "devices", id, actor);
}

int hub__revoke(sqlite3 *db, const char *table, const char *id,
                const char *actor)
{
    int tokens = strcmp(table, "api_tokens") == 0;
    int rc = tokens
                 ? hub__sql_run(db,
                                "UPDATE api_tokens SET revoked_ms = ?1 "
                                "WHERE (id = ?2 OR name = ?2) AND "
                                "revoked_ms IS NULL",
                                HUB_ARGS(HUB_INT(fs_now_ms()), HUB_TEXT(id)))
                 : hub__sql_run(db,
                                "UPDATE devices SET revoked_ms = ?1 WHERE "
                                "id = ?2 AND revoked_ms IS NULL",
                                HUB_ARGS(HUB_INT(fs_now_ms()), HUB_TEXT(id)));
    if (rc != HUB_OK)
        return rc;
    if (sqlite3_changes(db) == 0)
        return HUB_ENOTFOUND;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "id", id);
    return hub__audit(db, actor, tokens ? "token.revoke" : "device.revoke", d);
}

/* Queues, for one device, every published version of the forms that its
 * new scope adds, so a cursor that already passed them still gets them. */
static int requeue_forms(sqlite3 *db, const char *device, const char *old,
                         const char *now_forms, int64_t ms)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT id, version, definition FROM forms "
                                "ORDER BY id, version",
                                NULL, 0, &rc);
    while (st && (rc = hub__sql_step(st)) > 0) {
        const char *id = hub__col(st, 0);
        if (hub__scope_has(old, id) || !hub__scope_has(now_forms, id))
            continue;
        char ref[FS_ID_MAX + 24];
        snprintf(ref, sizeof ref, "%s@%lld", id,
                 (long long)sqlite3_column_int64(st, 1));
        rc = hub__sql_run(db,
                          "INSERT INTO change_log (kind, ref, payload, "
                          "created_ms, device_id) VALUES ('form', ?, ?, ?, ?)",
                          HUB_ARGS(HUB_TEXT(ref), HUB_TEXT(hub__col(st, 2)),
                                   HUB_INT(ms), HUB_TEXT(device)));
        if (rc != HUB_OK) {
            hub__sql_end(st);
            return rc;
        }
    }
    return rc;
}

int hub__device_scope(sqlite3 *db, const char *device, char *areas, char *forms,
                      size_t cap, const char *actor)
{
    char old_areas[HUB_SCOPE_MAX] = "", old_forms[HUB_SCOPE_MAX] = "";
    int64_t now = (int64_t)fs_now_ms();
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT areas, forms FROM devices WHERE id = "
                                "? AND revoked_ms IS NULL",
                                HUB_ARGS(HUB_TEXT(device)), &rc);
    if (!st)
        return rc;
    if (hub__sql_step(st) > 0) {
        snprintf(old_areas, sizeof old_areas, "%s", hub__col(st, 0));
        snprintf(old_forms, sizeof old_forms, "%s", hub__col(st, 1));
        hub__sql_end(st);
    }
    if (!old_areas[0])
        return HUB_ENOTFOUND;
    if (!areas[0])
        snprintf(areas, cap, "%s", old_areas);
    if (!forms[0])
        snprintf(forms, cap, "%s", old_forms);
    rc = hub__sql_run(
        db, "UPDATE devices SET areas = ?, forms = ? WHERE id = ?",
        HUB_ARGS(HUB_TEXT(areas), HUB_TEXT(forms), HUB_TEXT(device)));
    /* The device learns its new scope from its own change-log row and
     * purges what it may no longer hold. */
    cJSON *scope = cJSON_CreateObject();
    cJSON_AddItemToObject(scope, "areas", hub__scope_json(areas));
    cJSON_AddItemToObject(scope, "forms", hub__scope_json(forms));
    char *payload = cJSON_PrintUnformatted(scope);
    cJSON_Delete(scope);
    if (rc == HUB_OK)
        rc = hub__sql_run(db,
                          "INSERT INTO change_log (kind, ref, payload, "
                          "created_ms, device_id) VALUES ('scope', ?, ?, ?, ?)",
                          HUB_ARGS(HUB_TEXT(device), HUB_TEXT(payload),
                                   HUB_INT(now), HUB_TEXT(device)));
    free(payload);
    if (rc == HUB_OK)
        rc = requeue_forms(db, device, old_forms, forms, now);
    if (rc == HUB_OK)
        rc = hub__entity_requeue(db, device, old_areas, areas, now);
    if (rc == HUB_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "device", device);
        cJSON_AddStringToObject(d, "areas", areas);
        cJSON_AddStringToObject(d, "forms", forms);
        cJSON_AddStringToObject(d, "previous_areas", old_areas);
        cJSON_AddStringToObject(d, "previous_forms", old_forms);
        rc = hub__audit(db, actor, "device.scope", d);
    }
    return rc;
}
