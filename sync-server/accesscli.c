/*
 * accesscli.c - the admin commands on who may do what (hub.h): API
 * tokens, devices and their scope, revoking. The work is access.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hub.h"
#include "access.h"
#include "audit.h"
#include "cli.h"
#include "db.h"
#include "errors.h"
#include "output.h"
#include "stmtcache.h"
#include "scope.h"

/* Prints a list as JSON (arr consumed), or returns it for a table. */
static cJSON *json_or_table(cJSON *arr, int json, FILE *out)
{
    if (!json)
        return arr;
    char *t = cJSON_Print(arr);
    fprintf(out, "%s\n", t);
    free(t);
    cJSON_Delete(arr);
    return NULL;
}

/* A list read from db_path by fn (the caller's), or NULL after saying
 * why. */
static cJSON *read_list(const char *db_path, cJSON *(*fn)(sqlite3 *))
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return NULL;
    cJSON *arr = fn(db);
    if (!arr)
        fprintf(stderr, "fieldsync-hub: %s\n", sqlite3_errmsg(db));
    hub__close(db);
    return arr;
}

int hub_token_create(const char *db_path, const char *role, const char *name,
                     const char *areas, FILE *out)
{
    if (strcmp(role, "admin") != 0 && strcmp(role, "reviewer") != 0) {
        fprintf(stderr, "fieldsync-hub: --role must be admin or reviewer "
                        "for an API token (devices enrol with a code)\n");
        return hub__exit_status(HUB_EBADINPUT);
    }
    if (!name || !fs_valid_name(name)) {
        fprintf(stderr, "fieldsync-hub: --name is required: who will use "
                        "the token (printable text, at most 128 bytes)\n");
        return hub__exit_status(HUB_EBADINPUT);
    }
    char area_list[HUB_SCOPE_MAX], why[200];
    if (hub__scope_parse(areas, fs_valid_area_code, area_list, sizeof area_list,
                         why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --areas: %s\n", why);
        return hub__exit_status(HUB_EBADINPUT);
    }
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return hub__exit_status(HUB_ESTORAGE);
    char token[65], id[FS_UUID_LEN + 1];
    int rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? HUB_OK : HUB_ESTORAGE;
    if (rc == HUB_OK)
        rc = hub__token_create(db, role, name, area_list, "cli", token, id);
    if (rc == HUB_OK && hub__exec(db, "COMMIT") != 0)
        rc = HUB_ESTORAGE;
    if (rc != HUB_OK) {
        fprintf(stderr, "fieldsync-hub: cannot create the token: %s\n",
                sqlite3_errmsg(db));
        hub__exec(db, "ROLLBACK");
        hub__close(db);
        return hub__exit_status(rc);
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

/* A scope as stored ("*" or codes joined by commas) from its JSON. */
static void scope_text(const cJSON *v, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    if (cJSON_IsString(v)) {
        snprintf(out, cap, "%s", v->valuestring);
        return;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        int n = snprintf(out + len, cap - len, "%s%s", len ? "," : "",
                         it->valuestring);
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
}

/* Prints rows (consumed) as a table whose last column, "state", says
 * whether each was revoked. */
static int print_table(FILE *out, cJSON *rows, const hub_col *cols, size_t n)
{
    cJSON *r;
    cJSON_ArrayForEach(r, rows)
    {
        cJSON_AddStringToObject(
            r, "state",
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "revoked"))
                ? "revoked"
                : "active");
    }
    hub__table_text(out, rows, cols, n, "", 0);
    cJSON_Delete(rows);
    return 0;
}

int hub_token_list(const char *db_path, int json, FILE *out)
{
    cJSON *arr = read_list(db_path, hub__tokens_json);
    if (!arr)
        return hub__exit_status(HUB_ESTORAGE);
    arr = json_or_table(arr, json, out);
    if (!arr)
        return 0;
    cJSON *r;
    cJSON_ArrayForEach(r, arr)
    {
        char areas[HUB_SCOPE_MAX];
        scope_text(cJSON_GetObjectItemCaseSensitive(r, "areas"), areas,
                   sizeof areas);
        cJSON_ReplaceItemInObject(r, "areas", cJSON_CreateString(areas));
    }
    static const hub_col cols[] = {{"id", "TOKEN", 36, 0},
                                   {"name", "NAME", 20, 0},
                                   {"role", "ROLE", 8, 0},
                                   {"areas", "AREAS", 20, 0},
                                   {"state", "STATE", 0, 0}};
    return print_table(out, arr, cols, 5);
}

/* "2026-03-01T10:00:00Z", or "never" for 0. */
static void time_text(int64_t ms, char *out, size_t cap)
{
    if (ms <= 0) {
        snprintf(out, cap, "never");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int hub_devices(const char *db_path, int json, FILE *out)
{
    cJSON *arr = read_list(db_path, hub__devices_json);
    if (!arr)
        return hub__exit_status(HUB_ESTORAGE);
    /* The command shows less than the API. */
    cJSON *r;
    cJSON_ArrayForEach(r, arr)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(r, "areas");
        cJSON_DeleteItemFromObjectCaseSensitive(r, "forms");
    }
    arr = json_or_table(arr, json, out);
    if (!arr)
        return 0;
    cJSON_ArrayForEach(r, arr)
    {
        char seen[32];
        time_text((int64_t)cJSON_GetObjectItemCaseSensitive(r, "last_seen_ms")
                      ->valuedouble,
                  seen, sizeof seen);
        cJSON_AddStringToObject(r, "last_seen", seen);
    }
    static const hub_col cols[] = {{"id", "DEVICE", 36, 0},
                                   {"name", "NAME", 20, 0},
                                   {"role", "ROLE", 12, 0},
                                   {"acked_seq", "ACKED", 8, 1},
                                   {"last_seen", "LAST SEEN (UTC)", 20, 0},
                                   {"state", "STATE", 0, 0}};
    return print_table(out, arr, cols, 6);
}

int hub_revoke(const char *db_path, const char *what, const char *id, FILE *out)
{
    const char *table = strcmp(what, "device") == 0 ? "devices" : "api_tokens";
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return hub__exit_status(HUB_ESTORAGE);
    int rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? HUB_OK : HUB_ESTORAGE;
    if (rc == HUB_OK)
        rc = hub__revoke(db, table, id, "cli");
    if (rc == HUB_OK && hub__exec(db, "COMMIT") != 0)
        rc = HUB_ESTORAGE;
    if (rc != HUB_OK && rc != HUB_ENOTFOUND)
        fprintf(stderr, "fieldsync-hub: cannot revoke: %s\n",
                sqlite3_errmsg(db));
    if (rc != HUB_OK)
        hub__exec(db, "ROLLBACK");
    hub__close(db);
    if (rc == HUB_ENOTFOUND) {
        fprintf(stderr,
                "fieldsync-hub: no active %s %s (see `fieldsync-hub "
                "%s`)\n",
                what, id,
                strcmp(what, "device") == 0 ? "devices" : "token list");
        /* 1, not 2: what this command has always answered when nothing
         * matched, and scripts rely on. */
        return 1;
    }
    if (rc != HUB_OK)
        return hub__exit_status(rc);
    fprintf(out, "revoked %s %s; its next request is refused\n", what, id);
    return 0;
}

int hub_held(const char *db_path, const char *device, FILE *out)
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return hub__exit_status(HUB_ESTORAGE);
    int rc;
    if (!device) {
        sqlite3_stmt *st = hub__sql(
            db,
            "SELECT h.device_id, coalesce(d.name, ''), count(*), "
            "sum(length(CAST(h.change AS BLOB)) + length(CAST(h.message AS "
            "BLOB))), min(h.received_ms) "
            "FROM held_changes h LEFT JOIN devices d ON d.id = h.device_id "
            "GROUP BY h.device_id ORDER BY h.device_id",
            NULL, 0, &rc);
        if (st)
            fprintf(out, "%-36s  %-20s  %8s  %10s  %s\n", "DEVICE", "NAME",
                    "HELD", "BYTES", "OLDEST (UTC)");
        while (st && (rc = hub__sql_step(st)) > 0) {
            char oldest[32];
            time_text(sqlite3_column_int64(st, 4), oldest, sizeof oldest);
            fprintf(out, "%-36s  %-20s  %8lld  %10lld  %s\n", hub__col(st, 0),
                    hub__col(st, 1), (long long)sqlite3_column_int64(st, 2),
                    (long long)sqlite3_column_int64(st, 3), oldest);
        }
    } else {
        rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? HUB_OK : HUB_ESTORAGE;
        if (rc == HUB_OK)
            rc =
                hub__sql_run(db, "DELETE FROM held_changes WHERE device_id = ?",
                             HUB_ARGS(HUB_TEXT(device)));
        int64_t n = sqlite3_changes(db);
        if (rc == HUB_OK) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "device", device);
            cJSON_AddNumberToObject(d, "changes", (double)n);
            rc = hub__audit(db, "cli", "held.clear", d);
        }
        if (rc == HUB_OK && hub__exec(db, "COMMIT") != 0)
            rc = HUB_ESTORAGE;
        if (rc != HUB_OK)
            hub__exec(db, "ROLLBACK");
        else
            fprintf(out,
                    "cleared %lld held changes of device %s; its pushes "
                    "are taken again\n",
                    (long long)n, device);
    }
    if (rc < 0)
        fprintf(stderr,
                "fieldsync-hub: cannot read or clear held changes: "
                "%s\n",
                sqlite3_errmsg(db));
    hub__close(db);
    return rc < 0 ? hub__exit_status(rc) : 0;
}

int hub_device_scope(const char *db_path, const char *device, const char *areas,
                     const char *forms, FILE *out)
{
    char area_list[HUB_SCOPE_MAX] = "", form_list[HUB_SCOPE_MAX] = "";
    char why[200];
    if (areas && hub__scope_parse(areas, fs_valid_area_code, area_list,
                                  sizeof area_list, why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --areas: %s\n", why);
        return hub__exit_status(HUB_EBADINPUT);
    }
    if (forms && hub__scope_parse(forms, fs_valid_form_id, form_list,
                                  sizeof form_list, why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --forms: %s\n", why);
        return hub__exit_status(HUB_EBADINPUT);
    }
    if (!areas && !forms) {
        fprintf(stderr, "fieldsync-hub: give --areas and/or --forms\n");
        return hub__exit_status(HUB_EBADINPUT);
    }
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return hub__exit_status(HUB_ESTORAGE);
    int rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? HUB_OK : HUB_ESTORAGE;
    if (rc == HUB_OK)
        rc = hub__device_scope(db, device, area_list, form_list,
                               sizeof area_list, "cli");
    if (rc == HUB_OK && hub__exec(db, "COMMIT") != 0)
        rc = HUB_ESTORAGE;
    if (rc == HUB_ENOTFOUND)
        fprintf(stderr,
                "fieldsync-hub: no active device %s (see "
                "`fieldsync-hub devices`)\n",
                device);
    else if (rc != HUB_OK)
        fprintf(stderr,
                "fieldsync-hub: cannot change the device's scope: "
                "%s\n",
                sqlite3_errmsg(db));
    if (rc != HUB_OK)
        hub__exec(db, "ROLLBACK");
    hub__close(db);
    if (rc != HUB_OK)
        return 1; /* an unknown device too: 1, as scripts rely on */
    fprintf(out,
            "device %s: areas %s, forms %s; it purges what falls "
            "outside on its next sync\n",
            device, area_list, form_list);
    return 0;
}
