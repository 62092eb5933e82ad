/*
 * dupes.c - possible duplicate respondents (dupes.h): submissions of one
 * form whose dedupe key (FORMS.md) is the same. It only lists; nothing
 * is dropped or changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dupes.h"
#include "errors.h"
#include "fs_form.h"
#include "stmtcache.h"

/* Adds submission row st to groups[key], the form's dedupe key of its
 * answers (form parsed per form version, cached in *form). */
static void group_row(sqlite3_stmt *st, cJSON *groups, fs_form **form,
                      char *form_key, size_t cap)
{
    char fk[FS_ID_MAX + 24];
    snprintf(fk, sizeof fk, "%s@%lld", hub__col(st, 2),
             (long long)sqlite3_column_int64(st, 3));
    if (strcmp(fk, form_key) != 0) {
        fs_form_free(*form);
        *form = NULL;
        fs_form_parse(hub__col(st, 9), (size_t)sqlite3_column_bytes(st, 9), 0,
                      form, NULL);
        snprintf(form_key, cap, "%s", fk);
    }
    cJSON *answers = fs_json_parse_stored(hub__col(st, 8));
    char key[1024];
    int ok = *form && answers &&
             fs_answers_dedupe_key(*form, answers, key, sizeof key) == FS_OK &&
             key[0];
    cJSON_Delete(answers);
    if (!ok)
        return;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(groups, key);
    if (!list)
        list = cJSON_AddArrayToObject(groups, key);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", hub__col(st, 0));
    cJSON_AddNumberToObject(o, "rev", (double)sqlite3_column_int64(st, 1));
    cJSON_AddStringToObject(o, "area", hub__col(st, 4));
    cJSON_AddStringToObject(o, "device", hub__col(st, 5));
    cJSON_AddStringToObject(o, "collector", hub__col(st, 6));
    cJSON_AddNumberToObject(o, "received_ms",
                            (double)sqlite3_column_int64(st, 7));
    cJSON_AddItemToArray(list, o);
}

cJSON *hub__duplicates_json(sqlite3 *db, const char *areas)
{
    int rc;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT s.id, s.rev, s.form_id, s.form_version, s.area, "
        "s.device_id, s.collector, s.received_ms, s.answers, f.definition "
        "FROM submissions s JOIN forms f ON f.id = s.form_id AND "
        "f.version = s.form_version WHERE s.rev = (SELECT max(rev) FROM "
        "submissions WHERE id = s.id) AND instr(f.definition, "
        "'\"dedupe_key\"') > 0 AND hub_area_in(?1, s.area) ORDER BY "
        "s.form_id, s.rowid",
        HUB_ARGS(HUB_TEXT(areas)), &rc);
    if (!st)
        return NULL;
    cJSON *groups = cJSON_CreateObject(); /* key -> array of submissions */
    fs_form *form = NULL;
    char form_key[FS_ID_MAX + 24] = "";
    while (hub__sql_step(st) > 0)
        group_row(st, groups, &form, form_key, sizeof form_key);
    fs_form_free(form);
    cJSON *out = cJSON_CreateArray();
    const cJSON *g;
    cJSON_ArrayForEach(g, groups)
    {
        if (cJSON_GetArraySize(g) < 2)
            continue;
        cJSON *o = cJSON_CreateObject();
        const char *bar = strchr(g->string, '|');
        char form_id[FS_ID_MAX + 1];
        size_t fl = bar ? (size_t)(bar - g->string) : strlen(g->string);
        snprintf(form_id, sizeof form_id, "%.*s", (int)fl, g->string);
        cJSON_AddStringToObject(o, "form", form_id);
        cJSON_AddStringToObject(o, "key", bar ? bar + 1 : "");
        cJSON_AddItemToObject(o, "submissions", cJSON_Duplicate(g, 1));
        cJSON_AddItemToArray(out, o);
    }
    cJSON_Delete(groups);
    return out;
}
