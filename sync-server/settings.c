/*
 * settings.c - the hub's settings table and the `config` commands.
 */
#include <stdlib.h>
#include <string.h>

#include "settings.h"
#include "audit.h"
#include "cli.h"
#include "db.h"
#include "errors.h"
#include "stmtcache.h"

int hub__min_k(sqlite3 *db, int *out)
{
    *out = HUB_K_MAX;
    int rc;
    sqlite3_stmt *st = hub__sql(
        db, "SELECT value FROM settings WHERE name = 'min_k'", NULL, 0, &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        *out = HUB_MIN_K_DEFAULT;
        return HUB_OK;
    }
    char *end = NULL;
    const char *text = hub__col(st, 0);
    long v = strtol(text, &end, 10);
    int ok =
        end != text && *end == '\0' && v >= HUB_MIN_K_LOWEST && v <= HUB_K_MAX;
    hub__sql_end(st);
    if (!ok) /* a hand-edited row: refuse rather than guess */
        return HUB_ESTORAGE;
    *out = (int)v;
    return HUB_OK;
}

int hub__min_k_set(sqlite3 *db, const char *text, const char *actor, char *err,
                   size_t cap)
{
    char *end = NULL;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || end == text || *end != '\0' || v < HUB_MIN_K_LOWEST ||
        v > HUB_K_MAX) {
        snprintf(err, cap,
                 "min-k must be an integer from %d to %d, not %s "
                 "(1 would show single respondents)",
                 HUB_MIN_K_LOWEST, HUB_K_MAX, text ? text : "(none)");
        return HUB_EBADINPUT;
    }
    int before = 0;
    int rc = hub__min_k(db, &before);
    char value[16];
    snprintf(value, sizeof value, "%ld", v);
    if (rc == HUB_OK)
        rc = hub__sql_run(db,
                          "INSERT INTO settings (name, value) VALUES "
                          "('min_k', ?1) ON CONFLICT (name) DO UPDATE SET "
                          "value = excluded.value",
                          HUB_ARGS(HUB_TEXT(value)));
    if (rc == HUB_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "setting", "min_k");
        cJSON_AddNumberToObject(d, "from", before);
        cJSON_AddNumberToObject(d, "to", (double)v);
        rc = hub__audit(db, actor, "config.set", d);
    }
    return rc;
}

int hub_config_set(const char *db_path, const char *name, const char *value,
                   FILE *out)
{
    if (strcmp(name, "min-k") != 0) {
        fprintf(stderr,
                "fieldsync-hub: unknown setting %s; the settings are: "
                "min-k\n",
                name);
        return 2;
    }
    sqlite3 *db = hub__cli_begin(db_path);
    if (!db)
        return 1;
    char err[256] = "";
    int rc = hub__min_k_set(db, value, "cli", err, sizeof err);
    int status = hub__cli_end(db, rc, "config set", err);
    if (status == 0)
        fprintf(out,
                "min-k is %s: indicators, change and maps hide cells "
                "of fewer than %s\n",
                value, value);
    return status;
}

int hub_config_show(const char *db_path, int json, FILE *out)
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    int k = 0;
    int rc = hub__min_k(db, &k);
    if (rc != HUB_OK)
        fprintf(stderr, "fieldsync-hub: cannot read the settings: %s\n",
                sqlite3_errmsg(db));
    else if (json)
        fprintf(out, "{\"min_k\":%d}\n", k);
    else
        fprintf(out, "min-k %d\n", k);
    hub__close(db);
    return hub__exit_status(rc);
}
