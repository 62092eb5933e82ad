/*
 * stats.c - see stats.h.
 */
#include "stats.h"
#include "errors.h"
#include "stmtcache.h"

/* Count rows of st (key1 text, [key2 integer,] count) into an array. */
static cJSON *grouped(sqlite3_stmt *st, const char *key1, const char *key2)
{
    if (!st)
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    while (hub__sql_step(st) > 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, key1, hub__col(st, 0));
        int c = 1;
        if (key2)
            cJSON_AddNumberToObject(o, key2,
                                    (double)sqlite3_column_int64(st, c++));
        cJSON_AddNumberToObject(o, "submissions",
                                (double)sqlite3_column_int64(st, c));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* SQL that keeps rows whose area is in the scope bound as ?1. */
#define IN_SCOPE "hub_area_in(?1, area)"

cJSON *hub__stats_json(sqlite3 *db, const char *areas)
{
    int rc;
    cJSON *forms = grouped(hub__sql(db,
                                    "SELECT form_id, form_version, count(*) "
                                    "FROM submissions WHERE " IN_SCOPE
                                    " GROUP BY form_id, form_version ORDER "
                                    "BY 1, 2",
                                    HUB_ARGS(HUB_TEXT(areas)), &rc),
                           "form", "version");
    cJSON *per_area = grouped(hub__sql(db,
                                       "SELECT area, count(*) FROM "
                                       "submissions WHERE " IN_SCOPE
                                       " GROUP BY area ORDER BY 1",
                                       HUB_ARGS(HUB_TEXT(areas)), &rc),
                              "area", NULL);
    if (!forms || !per_area) {
        cJSON_Delete(forms);
        cJSON_Delete(per_area);
        return NULL;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "forms", forms);
    cJSON_AddItemToObject(root, "areas", per_area);
    return root;
}

void hub__stats_totals(sqlite3 *db, hub_totals *t)
{
    int rc;
    t->submissions = t->devices = t->held_changes = 0;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT (SELECT count(*) FROM submissions), "
                                "(SELECT count(*) FROM devices), (SELECT "
                                "count(*) FROM held_changes)",
                                NULL, 0, &rc);
    if (st && hub__sql_step(st) > 0) {
        t->submissions = sqlite3_column_int64(st, 0);
        t->devices = sqlite3_column_int64(st, 1);
        t->held_changes = sqlite3_column_int64(st, 2);
        hub__sql_end(st);
    }
}
