/*
 * access.c - who may do what, as admin commands: API tokens for people,
 * revoking a lost device, changing a device's areas and forms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "access.h"
#include "cli.h"
#include "errors.h"
#include "stmtcache.h"
#include "audit.h"
#include "db.h"
#include "entity.h"
#include "scope.h"

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int hub_token_create(const char *db_path, const char *role, const char *name,
                     const char *areas, FILE *out)
{
    if (strcmp(role, "admin") != 0 && strcmp(role, "reviewer") != 0) {
        fprintf(stderr, "fieldsync-hub: --role must be admin or reviewer "
                        "for an API token (devices enrol with a code)\n");
        return 2;
    }
    if (!name || !fs_valid_name(name)) {
        fprintf(stderr, "fieldsync-hub: --name is required: who will use "
                        "the token (printable text, at most 128 bytes)\n");
        return 2;
    }
    char area_list[HUB_SCOPE_MAX], why[200];
    if (hub__scope_parse(areas, fs_valid_area_code, area_list, sizeof area_list,
                         why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --areas: %s\n", why);
        return 2;
    }
    unsigned char raw[32];
    char token[65], hash[65], id[FS_UUID_LEN + 1];
    if (fs_random_bytes(raw, sizeof raw) != FS_OK || fs_uuid_v7(id) != FS_OK) {
        fprintf(stderr, "fieldsync-hub: no randomness available\n");
        return 1;
    }
    fs_hex(raw, sizeof raw, token);
    fs_sha256_hex(token, 64, hash);
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    sqlite3_stmt *st = NULL;
    int rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? SQLITE_OK : SQLITE_ERROR;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO api_tokens (id, name, role, "
                                "areas, token_hash, created_ms) VALUES "
                                "(?, ?, ?, ?, ?, ?)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, area_list, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)fs_now_ms());
        rc = step_done(st);
    }
    if (rc == SQLITE_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "token", id);
        cJSON_AddStringToObject(d, "name", name);
        cJSON_AddStringToObject(d, "role", role);
        cJSON_AddStringToObject(d, "areas", area_list);
        rc = hub__audit(db, "cli", "token.create", d);
    }
    if (rc == SQLITE_OK && hub__exec(db, "COMMIT") != 0)
        rc = SQLITE_ERROR;
    if (rc != SQLITE_OK) {
        fprintf(stderr, "fieldsync-hub: cannot create the token: %s\n",
                sqlite3_errmsg(db));
        hub__exec(db, "ROLLBACK");
        hub__close(db);
        return 1;
    }
    hub__close(db);
    /* The secret is shown once; only its hash is kept. */
    fprintf(out, "%s\n", token);
    fprintf(stderr,
            "fieldsync-hub: token %s for %s (%s); store it now, "
            "it cannot be shown again\n",
            id, name, role);
    return 0;
}

int hub_token_list(const char *db_path, int json, FILE *out)
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, name, role, areas, revoked_ms IS NOT "
                           "NULL FROM api_tokens ORDER BY created_ms",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "fieldsync-hub: %s\n", sqlite3_errmsg(db));
        hub__close(db);
        return 1;
    }
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    if (!json)
        fprintf(out, "%-36s  %-20s  %-8s  %-20s  %s\n", "TOKEN", "NAME", "ROLE",
                "AREAS", "STATE");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *role = (const char *)sqlite3_column_text(st, 2);
        const char *areas = (const char *)sqlite3_column_text(st, 3);
        int revoked = sqlite3_column_int(st, 4);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", id);
            cJSON_AddStringToObject(o, "name", name);
            cJSON_AddStringToObject(o, "role", role);
            cJSON_AddItemToObject(o, "areas", hub__scope_json(areas));
            cJSON_AddBoolToObject(o, "revoked", revoked);
            cJSON_AddItemToArray(arr, o);
        } else {
            fprintf(out, "%-36s  %-20s  %-8s  %-20s  %s\n", id, name, role,
                    areas, revoked ? "revoked" : "active");
        }
    }
    sqlite3_finalize(st);
    hub__close(db);
    if (json) {
        char *t = cJSON_Print(arr);
        fprintf(out, "%s\n", t);
        free(t);
        cJSON_Delete(arr);
    }
    return 0;
}

int hub__revoke(sqlite3 *db, const char *table, const char *id,
                const char *actor)
{
    char sql[160];
    int tokens = strcmp(table, "api_tokens") == 0;
    snprintf(sql, sizeof sql,
             "UPDATE %s SET revoked_ms = ?1 WHERE (id = ?2%s) AND revoked_ms "
             "IS NULL",
             tokens ? "api_tokens" : "devices", tokens ? " OR name = ?2" : "");
    /* Two texts of SQL, built here: not for the statement cache. */
    sqlite3_stmt *st = NULL;
    int rc = hub__sqlite_err(sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    if (rc == HUB_OK)
        rc = hub__sql_bind(st, HUB_ARGS(HUB_INT(fs_now_ms()), HUB_TEXT(id)));
    if (rc == HUB_OK)
        rc = hub__sqlite_err(sqlite3_step(st));
    sqlite3_finalize(st);
    if (rc != HUB_OK)
        return rc;
    if (sqlite3_changes(db) == 0)
        return HUB_ENOTFOUND;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "id", id);
    return hub__audit(db, actor, tokens ? "token.revoke" : "device.revoke", d);
}

int hub_revoke(const char *db_path, const char *what, const char *id, FILE *out)
{
    const char *table = strcmp(what, "device") == 0 ? "devices" : "api_tokens";
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    int rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? HUB_OK : HUB_ESTORAGE;
    if (rc == HUB_OK)
        rc = hub__revoke(db, table, id, "cli");
    if (rc == HUB_OK && hub__exec(db, "COMMIT") != 0)
        rc = HUB_ESTORAGE;
    if (rc != HUB_OK && rc != HUB_ENOTFOUND) {
        fprintf(stderr, "fieldsync-hub: cannot revoke: %s\n",
                sqlite3_errmsg(db));
        hub__exec(db, "ROLLBACK");
        hub__close(db);
        return hub__exit_status(rc);
    }
    if (rc == HUB_ENOTFOUND) {
        hub__exec(db, "ROLLBACK");
        hub__close(db);
        fprintf(stderr,
                "fieldsync-hub: no active %s %s (see `fieldsync-hub "
                "%s`)\n",
                what, id,
                strcmp(what, "device") == 0 ? "devices" : "token list");
        /* 1, not 2: what this command has always answered when nothing
         * matched, and scripts rely on. */
        return 1;
    }
    hub__close(db);
    fprintf(out, "revoked %s %s; its next request is refused\n", what, id);
    return 0;
}

/* Queues, for one device, every published version of the forms that its
 * new scope adds, so a cursor that already passed them still gets them. */
static int requeue_forms(sqlite3 *db, const char *device, const char *old,
                         const char *now_forms, int64_t ms)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT id, version, definition FROM forms "
                                "ORDER BY id, version",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_stmt *ins = NULL;
    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO change_log (kind, ref, payload, "
                            "created_ms, device_id) VALUES ('form', ?, ?, ?, "
                            "?)",
                            -1, &ins, NULL);
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (hub__scope_has(old, id) || !hub__scope_has(now_forms, id))
            continue;
        char ref[FS_ID_MAX + 24];
        snprintf(ref, sizeof ref, "%s@%lld", id,
                 (long long)sqlite3_column_int64(st, 1));
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, ref, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, (const char *)sqlite3_column_text(st, 2), -1,
                          SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 3, ms);
        sqlite3_bind_text(ins, 4, device, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = SQLITE_ERROR;
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(st);
    return rc;
}

int hub_device_scope(const char *db_path, const char *device, const char *areas,
                     const char *forms, FILE *out)
{
    char area_list[HUB_SCOPE_MAX] = "", form_list[HUB_SCOPE_MAX] = "";
    char why[200];
    if (areas && hub__scope_parse(areas, fs_valid_area_code, area_list,
                                  sizeof area_list, why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --areas: %s\n", why);
        return 2;
    }
    if (forms && hub__scope_parse(forms, fs_valid_form_id, form_list,
                                  sizeof form_list, why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --forms: %s\n", why);
        return 2;
    }
    if (!areas && !forms) {
        fprintf(stderr, "fieldsync-hub: give --areas and/or --forms\n");
        return 2;
    }
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    sqlite3_stmt *st = NULL;
    char old_areas[HUB_SCOPE_MAX] = "", old_forms[HUB_SCOPE_MAX] = "";
    int64_t now = (int64_t)fs_now_ms();
    int rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? SQLITE_OK : SQLITE_ERROR;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "SELECT areas, forms FROM devices WHERE id "
                                "= ? AND revoked_ms IS NULL",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(old_areas, sizeof old_areas, "%s",
                     (const char *)sqlite3_column_text(st, 0));
            snprintf(old_forms, sizeof old_forms, "%s",
                     (const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (rc == SQLITE_OK && !old_areas[0]) {
        hub__exec(db, "ROLLBACK");
        hub__close(db);
        fprintf(stderr,
                "fieldsync-hub: no active device %s (see "
                "`fieldsync-hub devices`)\n",
                device);
        return 1;
    }
    if (!areas)
        snprintf(area_list, sizeof area_list, "%s", old_areas);
    if (!forms)
        snprintf(form_list, sizeof form_list, "%s", old_forms);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "UPDATE devices SET areas = ?, forms = ? "
                                "WHERE id = ?",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, area_list, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, form_list, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, device, -1, SQLITE_STATIC);
        rc = step_done(st);
    }
    /* The device learns its new scope from its own change-log row and
     * purges what it may no longer hold. */
    cJSON *scope = cJSON_CreateObject();
    cJSON_AddItemToObject(scope, "areas", hub__scope_json(area_list));
    cJSON_AddItemToObject(scope, "forms", hub__scope_json(form_list));
    char *payload = cJSON_PrintUnformatted(scope);
    cJSON_Delete(scope);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO change_log (kind, ref, payload, "
                                "created_ms, device_id) VALUES ('scope', ?, "
                                "?, ?, ?)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, payload, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_text(st, 4, device, -1, SQLITE_STATIC);
        rc = step_done(st);
    }
    free(payload);
    if (rc == SQLITE_OK)
        rc = requeue_forms(db, device, old_forms, form_list, now);
    if (rc == SQLITE_OK)
        rc = hub__entity_requeue(db, device, old_areas, area_list, now);
    if (rc == SQLITE_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "device", device);
        cJSON_AddStringToObject(d, "areas", area_list);
        cJSON_AddStringToObject(d, "forms", form_list);
        cJSON_AddStringToObject(d, "previous_areas", old_areas);
        cJSON_AddStringToObject(d, "previous_forms", old_forms);
        rc = hub__audit(db, "cli", "device.scope", d);
    }
    if (rc == SQLITE_OK && hub__exec(db, "COMMIT") != 0)
        rc = SQLITE_ERROR;
    if (rc != SQLITE_OK) {
        fprintf(stderr,
                "fieldsync-hub: cannot change the device's scope: "
                "%s\n",
                sqlite3_errmsg(db));
        hub__exec(db, "ROLLBACK");
        hub__close(db);
        return 1;
    }
    hub__close(db);
    fprintf(out,
            "device %s: areas %s, forms %s; it purges what falls "
            "outside on its next sync\n",
            device, area_list, form_list);
    return 0;
}
