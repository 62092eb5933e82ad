/*
 * conflictcli.c - the admin commands on conflicts and duplicates (hub.h):
 * list them as text or JSON, resolve one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "cli.h"
#include "conflicts.h"
#include "db.h"
#include "dupes.h"
#include "entity.h"
#include "errors.h"
#include "resolve.h"

static void print_json(FILE *out, const char *key, cJSON *arr)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, key, arr);
    char *text = cJSON_Print(root);
    fprintf(out, "%s\n", text ? text : "{}");
    free(text);
    cJSON_Delete(root);
}

static void print_value(FILE *out, const cJSON *v)
{
    char *t = cJSON_PrintUnformatted(v);
    fprintf(out, "%s", t ? t : "?");
    free(t);
}

/* Reads a list for the command line (every conflict when conflicts,
 * else the duplicates); prints it as {"key": [...]} when json is set.
 * Returns the list for the caller to print as text, or NULL when there
 * is nothing more to do (*status says how it ended). */
static cJSON *cli_list(const char *db_path, int conflicts, int all,
                       const char *key, int json, FILE *out, int *status)
{
    *status = 1;
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return NULL;
    cJSON *arr = conflicts ? hub__conflicts_json(db, all, "*", 0, -1)
                           : hub__duplicates_json(db, "*");
    hub__close(db);
    if (!arr) {
        fprintf(stderr, "fieldsync-hub: cannot read the %s\n", key);
        return NULL;
    }
    *status = 0;
    if (!json)
        return arr;
    print_json(out, key, arr);
    return NULL;
}

int hub_conflicts(const char *db_path, int all, int json, FILE *out)
{
    int status;
    cJSON *arr = cli_list(db_path, 1, all, "conflicts", json, out, &status);
    if (!arr)
        return status;
    if (!arr->child)
        fprintf(out, all ? "no conflicts\n" : "no open conflicts\n");
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        const char *kind =
            cJSON_GetObjectItemCaseSensitive(c, "kind")->valuestring;
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(c, "entity");
        if (!ref)
            ref = cJSON_GetObjectItemCaseSensitive(c, "submission");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
        const cJSON *field = cJSON_GetObjectItemCaseSensitive(c, "field");
        fprintf(out, "#%d %s %s %s %s%s%s (area %s)\n",
                (int)cJSON_GetObjectItemCaseSensitive(c, "id")->valuedouble,
                cJSON_GetObjectItemCaseSensitive(c, "status")->valuestring,
                kind, type ? type->valuestring : "submission", ref->valuestring,
                field ? " field " : "", field ? field->valuestring : "",
                cJSON_GetObjectItemCaseSensitive(c, "area")->valuestring);
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(c, "values"))
        {
            const char *dn =
                cJSON_GetObjectItemCaseSensitive(v, "device_name")->valuestring;
            fprintf(out, "  %d: ",
                    (int)cJSON_GetObjectItemCaseSensitive(v, "n")->valuedouble);
            print_value(out, cJSON_GetObjectItemCaseSensitive(v, "value"));
            fprintf(
                out, "  by %s (%s) at %s%s\n", dn[0] ? dn : "the hub",
                cJSON_GetObjectItemCaseSensitive(v, "collector")->valuestring,
                cJSON_GetObjectItemCaseSensitive(v, "hlc")->valuestring,
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "provisional"))
                    ? "  <- provisional"
                    : "");
        }
    }
    cJSON_Delete(arr);
    return 0;
}

static int parse_id(const char *s, int64_t *out)
{
    char *end = NULL;
    if (s[0] == '#')
        s++;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || v < 1)
        return -1;
    *out = v;
    return 0;
}

/* value typed as on a device: by the type of conflict id's field. *v is
 * the caller's. */
static int typed_value(sqlite3 *db, int64_t id, const char *value, cJSON **v,
                       char *err, size_t cap)
{
    hub_conflict c;
    *v = NULL;
    int rc = hub__conflict_load(db, id, &c);
    const fs_form *type =
        rc == HUB_OK ? fs_entity_type(hub__entity_types(), c.type) : NULL;
    fs_problems p;
    fs_problems_init(&p);
    if (rc == HUB_OK && c.found && type && strcmp(c.kind, "field") == 0 &&
        fs_entity_value_parse(type, c.field, value, v, &p) != FS_OK) {
        fs_problems_format(&p, "; ", err, cap);
        rc = HUB_EBADINPUT;
    }
    if (rc == HUB_OK && !*v)
        *v = cJSON_CreateString(value); /* hub__resolve says what is wrong */
    return rc;
}

int hub_resolve(const char *db_path, const char *id_text, const char *value,
                const char *choose, FILE *out)
{
    int64_t id = 0, n = 0;
    if (parse_id(id_text, &id) != 0) {
        fprintf(stderr,
                "fieldsync-hub: '%s' is not a conflict number; "
                "`fieldsync-hub conflicts` lists them\n",
                id_text);
        return hub__exit_status(HUB_EBADINPUT);
    }
    if ((value != NULL) == (choose != NULL)) {
        fprintf(stderr, "fieldsync-hub: give exactly one of --value V or "
                        "--choose N\n");
        return hub__exit_status(HUB_EBADINPUT);
    }
    if (choose && parse_id(choose, &n) != 0) {
        fprintf(stderr,
                "fieldsync-hub: --choose takes the number of a "
                "listed value (1, 2, ...), not '%s'\n",
                choose);
        return hub__exit_status(HUB_EBADINPUT);
    }
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return hub__exit_status(HUB_ESTORAGE);
    char err[512] = "";
    cJSON *v = NULL;
    int rc = value ? typed_value(db, id, value, &v, err, sizeof err) : HUB_OK;
    if (rc == HUB_OK)
        rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? HUB_OK : HUB_ESTORAGE;
    if (rc == HUB_OK)
        rc = hub__resolve(db, id, (int)n, v, "cli", "*", err, sizeof err);
    cJSON_Delete(v);
    int status = hub__cli_end(db, rc, "not resolved", err);
    if (status != 0)
        return status;
    fprintf(out,
            "conflict #%lld resolved; every device holding it gets "
            "the result on its next sync\n",
            (long long)id);
    return 0;
}

int hub_duplicates(const char *db_path, int json, FILE *out)
{
    int status;
    cJSON *arr = cli_list(db_path, 0, 1, "duplicates", json, out, &status);
    if (!arr)
        return status;
    if (!arr->child)
        fprintf(out, "no possible duplicates\n");
    const cJSON *g;
    cJSON_ArrayForEach(g, arr)
    {
        fprintf(out, "%s key %s:\n",
                cJSON_GetObjectItemCaseSensitive(g, "form")->valuestring,
                cJSON_GetObjectItemCaseSensitive(g, "key")->valuestring);
        const cJSON *s;
        cJSON_ArrayForEach(s,
                           cJSON_GetObjectItemCaseSensitive(g, "submissions"))
            fprintf(
                out, "  %s rev %d area %s by %s\n",
                cJSON_GetObjectItemCaseSensitive(s, "id")->valuestring,
                (int)cJSON_GetObjectItemCaseSensitive(s, "rev")->valuedouble,
                cJSON_GetObjectItemCaseSensitive(s, "area")->valuestring,
                cJSON_GetObjectItemCaseSensitive(s, "collector")->valuestring);
    }
    cJSON_Delete(arr);
    return 0;
}
