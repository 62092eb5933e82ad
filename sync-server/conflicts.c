/*
 * conflicts.c - the record of disagreements for hub admins to settle
 * (conflicts.h): opening a conflict, adding competing values, the
 * provisional winner, reading and listing them. It knows no merge rules
 * and writes no entity: the merge (entity.c, merge.c) calls it, and
 * resolve.c settles what it holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conflicts.h"
#include "entity.h"
#include "errors.h"
#include "forms.h"
#include "fs_entity.h"
#include "stmtcache.h"

/* ---- recording --------------------------------------------------------- */

int hub__conflict_find(sqlite3 *db, const char *kind, const char *ref,
                       const char *field, int64_t *id)
{
    int rc;
    *id = 0;
    sqlite3_stmt *st =
        hub__sql(db,
                 "SELECT id FROM conflicts WHERE kind = ? AND "
                 "ref = ? AND field = ? AND status = 'open'",
                 HUB_ARGS(HUB_TEXT(kind), HUB_TEXT(ref), HUB_TEXT(field)), &rc);
    if (st && (rc = hub__sql_step(st)) > 0) {
        *id = sqlite3_column_int64(st, 0);
        hub__sql_end(st);
    }
    return rc < 0 ? rc : HUB_OK;
}

int hub__conflict_open(sqlite3 *db, const char *kind, const char *ref,
                       const char *field, const char *area, int64_t now,
                       int64_t *id)
{
    int rc = hub__conflict_find(db, kind, ref, field, id);
    if (rc != HUB_OK || *id != 0)
        return rc;
    rc = hub__sql_run(db,
                      "INSERT INTO conflicts (kind, ref, field, area, "
                      "opened_ms) VALUES (?, ?, ?, ?, ?)",
                      HUB_ARGS(HUB_TEXT(kind), HUB_TEXT(ref), HUB_TEXT(field),
                               HUB_TEXT(area), HUB_INT(now)));
    if (rc == HUB_OK)
        *id = sqlite3_last_insert_rowid(db);
    return rc;
}

int hub__conflict_add(sqlite3 *db, int64_t id, const char *value,
                      const char *device, const char *collector,
                      const char *hlc, int64_t version, int64_t now)
{
    return hub__sql_run(
        db,
        "INSERT INTO conflict_values (conflict_id, n, value, device_id, "
        /* The aggregate gives one row even when no row matches, so the
         * test for a value already there stands outside it. */
        "collector, hlc, version, received_ms) SELECT ?1, m.n, ?2, ?3, ?4, "
        "?5, ?6, ?7 FROM (SELECT coalesce(max(n), 0) + 1 AS n FROM "
        "conflict_values WHERE conflict_id = ?1) AS m WHERE NOT EXISTS "
        "(SELECT 1 FROM conflict_values WHERE conflict_id = ?1 AND "
        "device_id = ?3 AND hlc = ?5 AND value = ?2)",
        HUB_ARGS(HUB_INT(id), HUB_TEXT(value), HUB_TEXT(device),
                 HUB_TEXT(collector), HUB_TEXT(hlc),
                 version > 0 ? HUB_INT(version) : HUB_NULL, HUB_INT(now)));
}

int hub__conflict_winner(sqlite3 *db, int64_t id, hub_candidate *w)
{
    memset(w, 0, sizeof *w);
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT n, value, hlc, device_id, collector, "
                                "coalesce(version, 0) FROM conflict_values "
                                "WHERE conflict_id = ? ORDER BY n",
                                HUB_ARGS(HUB_INT(id)), &rc);
    uint64_t best = 0;
    while (st && (rc = hub__sql_step(st)) > 0) {
        uint64_t h = 0;
        fs_hlc_parse(hub__col(st, 2), &h);
        if (w->value && fs_hlc_cmp(h, hub__col(st, 3), best, w->device) <= 0)
            continue;
        free(w->value);
        w->value = strdup(hub__col(st, 1));
        if (!w->value) {
            hub__sql_end(st);
            rc = HUB_ENOMEM;
            break;
        }
        best = h;
        w->n = sqlite3_column_int(st, 0);
        snprintf(w->hlc, sizeof w->hlc, "%s", hub__col(st, 2));
        snprintf(w->device, sizeof w->device, "%s", hub__col(st, 3));
        snprintf(w->collector, sizeof w->collector, "%s", hub__col(st, 4));
        w->version = sqlite3_column_int64(st, 5);
    }
    if (rc != HUB_OK) {
        free(w->value);
        w->value = NULL;
        return rc;
    }
    return w->value ? HUB_OK : HUB_ENOTFOUND;
}

int hub__conflict_set_version(sqlite3 *db, int64_t id, int n, int64_t version)
{
    return hub__sql_run(db,
                        "UPDATE conflict_values SET version = ? WHERE "
                        "conflict_id = ? AND n = ?",
                        HUB_ARGS(HUB_INT(version), HUB_INT(id), HUB_INT(n)));
}

int hub__conflict_load(sqlite3 *db, int64_t id, hub_conflict *c)
{
    memset(c, 0, sizeof *c);
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT c.kind, c.ref, c.field, c.area, "
                                "c.status, coalesce(e.type, '') FROM "
                                "conflicts c LEFT JOIN entities e ON e.id = "
                                "c.ref WHERE c.id = ?",
                                HUB_ARGS(HUB_INT(id)), &rc);
    if (st && (rc = hub__sql_step(st)) > 0) {
        c->found = 1;
        snprintf(c->kind, sizeof c->kind, "%s", hub__col(st, 0));
        snprintf(c->ref, sizeof c->ref, "%s", hub__col(st, 1));
        snprintf(c->field, sizeof c->field, "%s", hub__col(st, 2));
        snprintf(c->area, sizeof c->area, "%s", hub__col(st, 3));
        snprintf(c->status, sizeof c->status, "%s", hub__col(st, 4));
        snprintf(c->type, sizeof c->type, "%s", hub__col(st, 5));
        hub__sql_end(st);
    }
    return rc < 0 ? rc : HUB_OK;
}

/* The value of competitor n (owned), or NULL. */

/* ---- listing ------------------------------------------------------------ */

static cJSON *raw_or_string(const char *json)
{
    cJSON *v = fs_json_parse_stored(json);
    return v ? v : cJSON_CreateString(json);
}

/* The competing values of conflict id of kind into vals. */
static void values_json(sqlite3 *db, int64_t id, const char *kind, cJSON *vals)
{
    hub_candidate w;
    int64_t win_n = 0;
    if (hub__conflict_winner(db, id, &w) == HUB_OK) {
        win_n = w.n;
        free(w.value);
    }
    int rc;
    sqlite3_stmt *vs = hub__sql(db,
                                "SELECT v.n, v.value, v.device_id, "
                                "coalesce(d.name, ''), v.collector, v.hlc, "
                                "coalesce(v.version, 0), v.received_ms FROM "
                                "conflict_values v LEFT JOIN devices d ON "
                                "d.id = v.device_id WHERE conflict_id = ? "
                                "ORDER BY n",
                                HUB_ARGS(HUB_INT(id)), &rc);
    while (vs && hub__sql_step(vs) > 0) {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddNumberToObject(v, "n", sqlite3_column_int(vs, 0));
        cJSON_AddItemToObject(v, "value", raw_or_string(hub__col(vs, 1)));
        cJSON_AddStringToObject(v, "device", hub__col(vs, 2));
        cJSON_AddStringToObject(v, "device_name", hub__col(vs, 3));
        cJSON_AddStringToObject(v, "collector", hub__col(vs, 4));
        cJSON_AddStringToObject(v, "hlc", hub__col(vs, 5));
        cJSON_AddNumberToObject(v, "version",
                                (double)sqlite3_column_int64(vs, 6));
        cJSON_AddNumberToObject(v, "received_ms",
                                (double)sqlite3_column_int64(vs, 7));
        /* Field conflicts: the provisional value is the highest (HLC,
         * device); delete conflicts keep the entity meanwhile;
         * submissions keep the hub's revision. */
        int prov = strcmp(kind, "field") == 0
                       ? sqlite3_column_int(vs, 0) == win_n
                   : strcmp(kind, "delete") == 0
                       ? strcmp(hub__col(vs, 1), "\"keep\"") == 0
                       : sqlite3_column_int64(vs, 6) > 0;
        cJSON_AddBoolToObject(v, "provisional", prov);
        cJSON_AddItemToArray(vals, v);
    }
}

cJSON *hub__conflicts_json(sqlite3 *db, int all, const char *areas,
                           int64_t after, int64_t limit)
{
    int rc;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT c.id, c.kind, c.ref, c.field, c.area, c.status, "
        "c.opened_ms, coalesce(c.resolved_by, ''), coalesce(c.resolution, "
        "''), coalesce(e.type, ''), coalesce(f.value, ''), "
        "coalesce(f.version, 0), (SELECT value FROM entity_fields n "
        "WHERE n.entity_id = c.ref AND n.name = 'name') FROM "
        "conflicts c LEFT JOIN entities e ON "
        "e.id = c.ref LEFT JOIN entity_fields f ON f.entity_id = c.ref "
        "AND f.name = c.field WHERE c.id > ?3 AND (?1 OR c.status = "
        "'open') AND hub_area_in(?2, c.area) ORDER BY c.id LIMIT "
        "?4",
        HUB_ARGS(HUB_INT(all), HUB_TEXT(areas), HUB_INT(after), HUB_INT(limit)),
        &rc);
    if (!st)
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    while (hub__sql_step(st) > 0) {
        cJSON *o = cJSON_CreateObject();
        int64_t id = sqlite3_column_int64(st, 0);
        const char *kind = hub__col(st, 1);
        cJSON_AddNumberToObject(o, "id", (double)id);
        cJSON_AddStringToObject(o, "kind", kind);
        cJSON_AddStringToObject(
            o, strcmp(kind, "submission") == 0 ? "submission" : "entity",
            hub__col(st, 2));
        if (strcmp(kind, "submission") != 0)
            cJSON_AddStringToObject(o, "type", hub__col(st, 9));
        /* The entity's name, when it has one: what an admin knows it by. */
        if (sqlite3_column_type(st, 12) != SQLITE_NULL)
            cJSON_AddItemToObject(o, "name", raw_or_string(hub__col(st, 12)));
        if (strcmp(kind, "field") == 0) {
            cJSON_AddStringToObject(o, "field", hub__col(st, 3));
            cJSON *cur = cJSON_AddObjectToObject(o, "current");
            cJSON_AddItemToObject(cur, "value",
                                  raw_or_string(hub__col(st, 10)));
            cJSON_AddNumberToObject(cur, "version",
                                    (double)sqlite3_column_int64(st, 11));
        }
        cJSON_AddStringToObject(o, "area", hub__col(st, 4));
        cJSON_AddStringToObject(o, "status", hub__col(st, 5));
        cJSON_AddNumberToObject(o, "opened_ms",
                                (double)sqlite3_column_int64(st, 6));
        if (strcmp(hub__col(st, 5), "resolved") == 0) {
            cJSON_AddStringToObject(o, "resolved_by", hub__col(st, 7));
            cJSON_AddItemToObject(o, "resolution",
                                  raw_or_string(hub__col(st, 8)));
        }
        values_json(db, id, kind, cJSON_AddArrayToObject(o, "values"));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* ---- personal values ---------------------------------------------------- */

/* 1 when field of entity type is marked personal or sensitive, or when
 * that cannot be told (fail closed). */
static int entity_field_marked(const char *type, const char *field)
{
    const fs_form *def = fs_entity_type(hub__entity_types(), type);
    const fs_field *fld = def ? fs_form_field_named(def, field) : NULL;
    if (!fld)
        return 1;
    return (fs_field_flags(fld) & (FS_FIELD_PERSONAL | FS_FIELD_SENSITIVE)) !=
           0;
}

/* Replaces the item key of o by null, if o has it. */
static void withhold(cJSON *o, const char *key)
{
    if (cJSON_GetObjectItemCaseSensitive(o, key))
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, cJSON_CreateNull());
}

/* Leaves out of answers (an object of a submission's answers) the fields
 * in names; all of it when names is NULL (unknown marks). */
static void strip_answers(cJSON *parent, const char *key, const cJSON *names)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (!v)
        return;
    if (!names || !cJSON_IsObject(v)) {
        withhold(parent, key);
        return;
    }
    const cJSON *n;
    cJSON_ArrayForEach(n, names)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(v, n->valuestring);
    }
}

/* The personal values of one conflict of hub__conflicts_json left out. */
static void mask_conflict(sqlite3 *db, cJSON *o)
{
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind"));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(o, "type"));
    if (cJSON_GetObjectItem(o, "name") &&
        entity_field_marked(type ? type : "", "name"))
        withhold(o, "name");
    cJSON *vals = cJSON_GetObjectItem(o, "values");
    cJSON *v;
    if (kind && strcmp(kind, "field") == 0) {
        const char *field =
            cJSON_GetStringValue(cJSON_GetObjectItem(o, "field"));
        if (!entity_field_marked(type ? type : "", field ? field : ""))
            return;
        withhold(cJSON_GetObjectItem(o, "current"), "value");
        withhold(o, "resolution");
        cJSON_ArrayForEach(v, vals) withhold(v, "value");
        cJSON_AddTrueToObject(o, "withheld");
    } else if (kind && strcmp(kind, "submission") == 0) {
        const char *id =
            cJSON_GetStringValue(cJSON_GetObjectItem(o, "submission"));
        cJSON *names = NULL;
        int rc;
        sqlite3_stmt *st = hub__sql(
            db, "SELECT form_id FROM submissions WHERE id = ?1 LIMIT 1",
            HUB_ARGS(HUB_TEXT(id ? id : "")), &rc);
        if (st && hub__sql_step(st) > 0) {
            char form[FS_ID_MAX + 1];
            snprintf(form, sizeof form, "%s", hub__col(st, 0));
            hub__sql_end(st);
            names = hub__form_marked(db, form);
        }
        strip_answers(o, "resolution", names);
        cJSON_ArrayForEach(v, vals) strip_answers(v, "value", names);
        cJSON_AddTrueToObject(o, "withheld");
        cJSON_Delete(names);
    }
}

void hub__conflicts_mask(sqlite3 *db, cJSON *arr)
{
    cJSON *o;
    cJSON_ArrayForEach(o, arr) mask_conflict(db, o);
}
