/*
 * entity.c - the shared registry on the device: listing, showing,
 * creating, editing and deleting entities offline, and applying what
 * the hub sends back.
 *
 * Every edit is checked against the entity type (the hub runs the same
 * checks) and written together with its outbox row in one transaction.
 * Each edited field carries, as its base, the hub version of that field
 * the device had when the edit was made; a pulled version never
 * overwrites a field with an edit still waiting to be sent - that edit
 * goes to the hub with its original base, and the hub's answer (merged,
 * or a conflict with the provisional value) comes back on a later pull.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scope.h"
#include "entity.h"
#include "fs_entity.h"
#include "fs_schema.h"
#include "outbox.h"
#include "store.h"

static int load_types(fa_agent *ag, fs_entity_types **t)
{
    if (fs_entity_types_parse(fs_entity_types_json,
                              strlen(fs_entity_types_json), t, NULL) != FS_OK)
        return fa__fail(ag, FA_ESTORE,
                        "the built-in entity types cannot "
                        "be read (out of memory?)");
    return FA_OK;
}

typedef struct local_entity {
    int found;
    char type[FS_ID_MAX + 1];
    char area[FS_ID_MAX + 1];
    int deleted;
} local_entity;

static int load_local(fa_agent *ag, const char *id, local_entity *e)
{
    memset(e, 0, sizeof *e);
    sqlite3_stmt *st = NULL;
    if (fa__prepare(ag, &st, "reading the registry",
                    "SELECT type, area, deleted FROM entities WHERE id = ?",
                    "t", id) != FA_OK)
        return FA_ESTORE;
    if (sqlite3_step(st) == SQLITE_ROW) {
        e->found = 1;
        snprintf(e->type, sizeof e->type, "%s", fa__col_text(st, 0));
        snprintf(e->area, sizeof e->area, "%s", fa__col_text(st, 1));
        e->deleted = sqlite3_column_int(st, 2);
    }
    sqlite3_finalize(st);
    return FA_OK;
}

/* The fields of an entity as {"name": {"value": v, "version": n,
 * "pending": bool}}. */
static cJSON *local_fields(fa_agent *ag, const char *id)
{
    sqlite3_stmt *st = NULL;
    if (fa__prepare(
            ag, &st, NULL,
            "SELECT f.name, f.value, f.version, EXISTS (SELECT 1 FROM "
            "entity_changes c WHERE c.entity_id = f.entity_id AND c.state = "
            "'queued' AND json_type(c.fields, '$.' || f.name) IS NOT NULL) "
            "FROM entity_fields f WHERE f.entity_id = ? ORDER BY f.name",
            "t", id) != FA_OK)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *f = cJSON_AddObjectToObject(o, fa__col_text(st, 0));
        cJSON *v = fs_json_parse_stored(fa__col_text(st, 1));
        cJSON_AddItemToObject(f, "value", v ? v : cJSON_CreateNull());
        cJSON_AddNumberToObject(f, "version",
                                (double)sqlite3_column_int64(st, 2));
        cJSON_AddBoolToObject(f, "pending", sqlite3_column_int(st, 3));
    }
    sqlite3_finalize(st);
    return o;
}

/* ---- edits ---------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Turns "field=value" arguments into a JSON object of typed values,
 * listing every problem at once, one "field: reason" per line. */
static int parse_assignments(fa_agent *ag, const fs_form *type, int argc,
                             char **argv, cJSON **out)
{
    fs_problems p;
    fs_problems_init(&p);
    cJSON *values = cJSON_CreateObject();
    *out = NULL;
    if (!values)
        return fa__fail(ag, FA_ESTORE, "out of memory");
    if (argc == 0)
        fs_problems_add(&p, "fields", "give at least one field=value");
    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        char name[FS_ID_MAX + 1];
        size_t len = eq ? (size_t)(eq - argv[i]) : 0;
        if (!eq || len == 0 || len > FS_ID_MAX) {
            fs_problems_add(&p, argv[i],
                            "write field=value, e.g. "
                            "status=active");
            continue;
        }
        memcpy(name, argv[i], len);
        name[len] = '\0';
        if (cJSON_GetObjectItemCaseSensitive(values, name)) {
            fs_problems_add(&p, name, "given twice");
            continue;
        }
        cJSON *v = NULL;
        if (fs_entity_value_parse(type, name, eq + 1, &v, &p) == FS_OK)
            cJSON_AddItemToObject(values, name, v);
    }
    if (fs_problems_total(&p) == 0) {
        *out = values;
        return FA_OK;
    }
    cJSON_Delete(values);
    char list[4096];
    fs_problems_format(&p, "\n", list, sizeof list);
    return fa__fail(ag, FA_EINPUT,
                    "%s\n(fields of %s: see `fieldsync-agent "
                    "entity show ID` or schema/ENTITIES.md)",
                    list, fs_form_id(type));
}

static int upsert_entity(fa_agent *ag, const char *id, const char *type,
                         const char *area, int deleted)
{
    return fa__exec(ag, "saving the entity",
                    "INSERT INTO entities (id, type, area, deleted, "
                    "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) "
                    "DO UPDATE SET area = ?3, deleted = ?4, updated_ms = ?5",
                    "tttii", id, type, area, (int64_t)deleted,
                    (int64_t)fs_now_ms());
}

/* Sets a field's value; version < 0 keeps the stored one (a local
 * edit), otherwise it becomes the field's hub version. */
static int put_field(fa_agent *ag, const char *id, const char *name,
                     const char *value, int64_t version)
{
    return fa__exec(ag, "saving the entity",
                    "INSERT INTO entity_fields (entity_id, name, value, "
                    "version) VALUES (?1, ?2, ?3, max(?4, 0)) ON CONFLICT "
                    "(entity_id, name) DO UPDATE SET value = ?3, version = "
                    "CASE WHEN ?4 < 0 THEN version ELSE ?4 END",
                    "ttti", id, name, value, version);
}

static int64_t field_version(fa_agent *ag, const char *id, const char *name)
{
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    if (fa__prepare(ag, &st, NULL,
                    "SELECT version FROM entity_fields WHERE entity_id = ? "
                    "AND name = ?",
                    "tt", id, name) == FA_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Writes one change in the caller's transaction: the local values, the
 * entity_changes row with every field's base, and its outbox row.
 * values: name -> JSON value (NULL for a delete, whose bases are the
 * versions of every field held). */
static int store_change(fa_agent *ag, const char *id, const char *type,
                        const char *op, const char *area, const cJSON *values)
{
    char collector[FS_NAME_MAX + 1], hlc_buf[FS_HLC_TEXT_LEN + 1];
    int64_t seq = 0;
    int rc = fa__stamp(ag, collector, hlc_buf, &seq);
    if (rc != FA_OK)
        return rc;

    /* Field names in order: equal edits give equal bytes on the wire. */
    const char *names[256];
    size_t n = 0;
    const cJSON *it;
    cJSON *held = values ? NULL : local_fields(ag, id);
    const cJSON *src = values ? values : held;
    cJSON_ArrayForEach(it, src)
    {
        if (n < sizeof names / sizeof names[0])
            names[n++] = it->string;
    }
    qsort(names, n, sizeof names[0], cmp_str);
    cJSON *fields = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++) {
        cJSON *f = cJSON_AddObjectToObject(fields, names[i]);
        cJSON_AddNumberToObject(f, "base",
                                (double)field_version(ag, id, names[i]));
        if (values)
            cJSON_AddItemToObject(
                f, "value",
                cJSON_Duplicate(
                    cJSON_GetObjectItemCaseSensitive(values, names[i]), 1));
    }
    char *fields_text = cJSON_PrintUnformatted(fields);
    cJSON_Delete(fields);
    cJSON_Delete(held);
    if (!fields_text)
        return fa__fail(ag, FA_ESTORE, "out of memory");

    rc = upsert_entity(ag, id, type, area, values == NULL);
    cJSON_ArrayForEach(it, values)
    {
        char *v = rc == FA_OK ? cJSON_PrintUnformatted(it) : NULL;
        if (rc == FA_OK)
            rc = v ? put_field(ag, id, it->string, v, -1)
                   : fa__fail(ag, FA_ESTORE, "out of memory");
        free(v);
    }
    int64_t now = (int64_t)fs_now_ms();
    if (rc == FA_OK)
        rc = fa__exec(ag, "saving the change",
                      "INSERT INTO entity_changes (entity_id, type, op, "
                      "fields, collector, hlc, created_ms) VALUES (?, ?, ?, "
                      "?, ?, ?, ?)",
                      "tttttti", id, type, op, fields_text, collector, hlc_buf,
                      now);
    free(fields_text);
    int64_t change = sqlite3_last_insert_rowid(ag->db);
    if (rc == FA_OK)
        rc = fa__outbox_add(ag, "saving the change", seq, "entity", id, change,
                            now, hlc_buf);
    return rc;
}

/* The device works in its areas only: an entity's area (its scope
 * field's value) must be one of them. */
static int check_scope(fa_agent *ag, const char *area)
{
    char areas[FA_SCOPE_MAX];
    int rc = fa__meta_get(ag, "areas", areas, sizeof areas);
    if (rc != FA_OK)
        return rc;
    rc = fa__area_covered(ag, areas, area, NULL);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return fa__fail(ag, FA_EINPUT,
                        "this device works in areas %s (and the areas below "
                        "them) only, not '%s'",
                        areas, area);
    return FA_OK;
}

static const char *scope_of(const fs_form *type, const cJSON *values)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(values, fs_entity_scope_field(type));
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* One transaction around store_change. */
static int commit_change(fa_agent *ag, const char *id, const char *type,
                         const char *op, const char *area, const cJSON *values)
{
    int rc = fa__begin(ag);
    if (rc == FA_OK)
        rc = store_change(ag, id, type, op, area, values);
    if (rc == FA_OK)
        rc = fa__commit(ag);
    else
        fa__rollback(ag);
    return rc;
}

int fa_entity_new(fa_agent *ag, const char *type_name, int argc, char **argv,
                  char *id_out)
{
    fs_entity_types *t = NULL;
    int rc = load_types(ag, &t);
    if (rc != FA_OK)
        return rc;
    const fs_form *type = fs_entity_type(t, type_name);
    cJSON *values = NULL;
    if (!type)
        rc = fa__fail(ag, FA_EINPUT,
                      "'%s' is not an entity type; the types "
                      "are %s",
                      type_name, fs_entity_type_names(t));
    if (rc == FA_OK)
        rc = parse_assignments(ag, type, argc, argv, &values);
    if (rc == FA_OK) {
        fs_problems p;
        fs_problems_init(&p);
        if (fs_entity_check_record(type, values, &p) != FS_OK) {
            char list[2048];
            fs_problems_format(&p, "\n", list, sizeof list);
            rc = fa__fail(ag, FA_EINPUT, "%s", list);
        }
    }
    const char *area = rc == FA_OK ? scope_of(type, values) : NULL;
    if (rc == FA_OK)
        rc = check_scope(ag, area ? area : "");
    char id[FS_UUID_LEN + 1];
    if (rc == FA_OK && fs_uuid_v7(id) != FS_OK)
        rc = fa__fail(ag, FA_ESTORE, "the system has no randomness");
    if (rc == FA_OK)
        rc = commit_change(ag, id, type_name, "new", area, values);
    if (rc == FA_OK && id_out)
        memcpy(id_out, id, sizeof id);
    cJSON_Delete(values);
    fs_entity_types_free(t);
    return rc;
}

/* The local entity id, which must exist and not be deleted. */
static int existing(fa_agent *ag, const char *id, local_entity *e)
{
    if (!fs_valid_uuid(id))
        return fa__fail(ag, FA_EINPUT,
                        "'%s' is not an entity id; "
                        "`fieldsync-agent entity list TYPE` "
                        "shows them",
                        id);
    int rc = load_local(ag, id, e);
    if (rc == FA_OK && (!e->found || e->deleted))
        rc = fa__fail(ag, FA_EINPUT, "no entity %s on this device%s", id,
                      e->found ? " (it was deleted)" : "");
    return rc;
}

int fa_entity_set(fa_agent *ag, const char *id, int argc, char **argv)
{
    local_entity e;
    int rc = existing(ag, id, &e);
    if (rc != FA_OK)
        return rc;
    fs_entity_types *t = NULL;
    rc = load_types(ag, &t);
    if (rc != FA_OK)
        return rc;
    const fs_form *type = fs_entity_type(t, e.type);
    cJSON *values = NULL;
    if (!type)
        rc = fa__fail(ag, FA_EINPUT,
                      "entity %s has type %s, which this "
                      "agent does not know; update it",
                      id, e.type);
    if (rc == FA_OK)
        rc = parse_assignments(ag, type, argc, argv, &values);
    const char *area = rc == FA_OK ? scope_of(type, values) : NULL;
    if (rc == FA_OK && area)
        rc = check_scope(ag, area);
    if (rc == FA_OK)
        rc = commit_change(ag, id, e.type, "set", area ? area : e.area, values);
    cJSON_Delete(values);
    fs_entity_types_free(t);
    return rc;
}

int fa_entity_delete(fa_agent *ag, const char *id)
{
    local_entity e;
    int rc = existing(ag, id, &e);
    if (rc == FA_OK)
        rc = commit_change(ag, id, e.type, "delete", e.area, NULL);
    return rc;
}

/* ---- reading ----------------------------------------------------------- */

static cJSON *entity_json(fa_agent *ag, const char *id, const local_entity *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "type", e->type);
    cJSON_AddStringToObject(o, "area", e->area);
    cJSON_AddBoolToObject(o, "deleted", e->deleted);
    cJSON_AddItemToObject(o, "fields", local_fields(ag, id));
    return o;
}

int fa_entity_list(fa_agent *ag, const char *type_name, const char *area,
                   cJSON **out)
{
    *out = NULL;
    fs_entity_types *t = NULL;
    int rc = load_types(ag, &t);
    if (rc != FA_OK)
        return rc;
    if (!fs_entity_type(t, type_name))
        rc = fa__fail(ag, FA_EINPUT,
                      "'%s' is not an entity type; the types "
                      "are %s",
                      type_name, fs_entity_type_names(t));
    fs_entity_types_free(t);
    if (rc != FA_OK)
        return rc;
    if (area && !fs_valid_area_code(area))
        return fa__fail(ag, FA_EINPUT, "'%s' is not an area code", area);
    sqlite3_stmt *st = NULL;
    if (fa__prepare(ag, &st, "reading the registry",
                    "SELECT id, area FROM entities WHERE type = ?1 AND "
                    "deleted = 0 AND (?2 = '' OR area = ?2) ORDER BY area, id",
                    "tt", type_name, area ? area : "") != FA_OK)
        return FA_ESTORE;
    cJSON *arr = cJSON_CreateArray();
    while (sqlite3_step(st) == SQLITE_ROW) {
        local_entity e = {1, "", "", 0};
        snprintf(e.type, sizeof e.type, "%s", type_name);
        snprintf(e.area, sizeof e.area, "%s", fa__col_text(st, 1));
        cJSON_AddItemToArray(arr, entity_json(ag, fa__col_text(st, 0), &e));
    }
    sqlite3_finalize(st);
    *out = arr;
    return FA_OK;
}

int fa_entity_show(fa_agent *ag, const char *id, cJSON **out)
{
    local_entity e;
    *out = NULL;
    if (!fs_valid_uuid(id))
        return fa__fail(ag, FA_EINPUT, "'%s' is not an entity id", id);
    int rc = load_local(ag, id, &e);
    if (rc != FA_OK)
        return rc;
    if (!e.found)
        return fa__fail(ag, FA_EINPUT, "no entity %s on this device", id);
    cJSON *o = entity_json(ag, id, &e);
    cJSON *changes = cJSON_AddArrayToObject(o, "changes");
    sqlite3_stmt *st = NULL;
    if (fa__prepare(ag, &st, NULL,
                    "SELECT op, state, hub_status, hub_error, hub_message, "
                    "created_ms FROM entity_changes WHERE entity_id = ? ORDER "
                    "BY id",
                    "t", id) == FA_OK) {
        static const char *const names[] = {"op", "state", "hub_status",
                                            "hub_error", "hub_message"};
        while (sqlite3_step(st) == SQLITE_ROW)
            cJSON_AddItemToArray(changes, fa__row_json(st, "ttttt", names));
    }
    sqlite3_finalize(st);
    *out = o;
    return FA_OK;
}

int fa__entity_refused_list(fa_agent *ag, const char *lang, size_t max,
                            cJSON *arr)
{
    fs_entity_types *t = NULL;
    int rc = load_types(ag, &t);
    if (rc != FA_OK)
        return rc;
    sqlite3_stmt *st = NULL;
    if (fa__prepare(
            ag, &st, "reading the registry",
            "SELECT c.entity_id, c.type, c.op, c.created_ms, c.hub_error, "
            "c.hub_message, e.area, coalesce((SELECT value ->> '$' FROM "
            "entity_fields f WHERE f.entity_id = c.entity_id AND f.name = "
            "'name'), '') FROM entity_changes c LEFT JOIN entities e ON e.id "
            "= c.entity_id WHERE c.state = 'refused' ORDER BY c.id DESC "
            "LIMIT ?",
            "i", max ? (int64_t)max : (int64_t)-1) != FA_OK) {
        fs_entity_types_free(t);
        return FA_ESTORE;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *type = fa__col_text(st, 1);
        const fs_form *ty = fs_entity_type(t, type);
        char title[512];
        snprintf(title, sizeof title, "%s (%s): %s",
                 ty ? fs_form_title(ty, lang) : type, fa__col_text(st, 2),
                 fa__col_text(st, 7));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", "entity");
        cJSON_AddStringToObject(o, "id", fa__col_text(st, 0));
        cJSON_AddStringToObject(o, "title", title);
        cJSON_AddStringToObject(o, "area", fa__col_text(st, 6));
        cJSON_AddNumberToObject(o, "created_ms",
                                (double)sqlite3_column_int64(st, 3));
        cJSON_AddStringToObject(o, "state", "refused");
        cJSON_AddStringToObject(o, "hub_error", fa__col_text(st, 4));
        cJSON_AddStringToObject(o, "hub_message", fa__col_text(st, 5));
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
    fs_entity_types_free(t);
    return FA_OK;
}

/* ---- sync --------------------------------------------------------------- */

int fa__entity_change(sqlite3_stmt *st, int c0, fs_change *c)
{
    fs_entity_change *e = &c->ent;
    c->kind = FS_CHANGE_ENTITY;
    snprintf(e->id, sizeof e->id, "%s", fa__col_text(st, c0));
    snprintf(e->type, sizeof e->type, "%s", fa__col_text(st, c0 + 1));
    const char *op = fa__col_text(st, c0 + 2);
    e->op = strcmp(op, "new") == 0   ? FS_ENTITY_NEW
            : strcmp(op, "set") == 0 ? FS_ENTITY_SET
                                     : FS_ENTITY_DELETE;
    snprintf(e->collector, sizeof e->collector, "%s", fa__col_text(st, c0 + 4));
    fs_hlc_parse(fa__col_text(st, c0 + 5), &e->hlc);
    e->created_ms = sqlite3_column_int64(st, c0 + 6);
    cJSON *fields = fs_json_parse_stored(fa__col_text(st, c0 + 3));
    if (!fields)
        return FS_ENOMEM;
    const cJSON *f;
    int rc = FS_OK;
    cJSON_ArrayForEach(f, fields)
    {
        const cJSON *base = cJSON_GetObjectItemCaseSensitive(f, "base");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(f, "value");
        char *v = value ? cJSON_PrintUnformatted(value) : NULL;
        if (rc == FS_OK)
            rc = fs_entity_add_edit(e, f->string,
                                    (int64_t)cJSON_GetNumberValue(base), v);
        free(v);
    }
    cJSON_Delete(fields);
    return rc;
}

int fa__entity_ack(fa_agent *ag, int64_t change, const fs_result *res)
{
    return fa__exec(ag, "saving the hub's answer",
                    "UPDATE entity_changes SET state = ?, hub_status = ?, "
                    "hub_error = ?, hub_message = ? WHERE id = ?",
                    "tttti", res->status == FS_RES_REFUSED ? "refused" : "sent",
                    fs_result_status_name(res->status), res->error,
                    res->message, change);
}

/* 1 when an edit of field (or, field NULL, a delete) of entity id was
 * made here and is not sent yet. */
static int queued(fa_agent *ag, const char *id, const char *field)
{
    sqlite3_stmt *st = NULL;
    int q = fa__prepare(ag, &st, NULL,
                        "SELECT 1 FROM entity_changes WHERE entity_id = ?1 "
                        "AND state = 'queued' AND CASE WHEN ?2 IS NULL THEN "
                        "op = 'delete' ELSE op != 'delete' AND json_type("
                        "fields, '$.' || ?2) IS NOT NULL END",
                        "tt", id, field) == FA_OK &&
            sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return q;
}

/* Runs each statement with ?1 bound to param. */
static int exec_each(fa_agent *ag, const char *const *sql, size_t n,
                     const char *param)
{
    int rc = FA_OK;
    for (size_t i = 0; i < n && rc == FA_OK; i++)
        rc = fa__exec(ag, "updating the registry", sql[i], "t", param);
    return rc;
}

/* Removes an entity that left this device's areas. */
static int forget(fa_agent *ag, const char *id)
{
    /* Both keep an entity with a change not yet acknowledged, or
     * refused: the user is shown it with the hub's reason. */
    static const char *const sql[] = {
        "DELETE FROM entity_fields WHERE entity_id = ?1 AND NOT EXISTS "
        "(SELECT 1 FROM entity_changes WHERE entity_id = ?1 AND state IN "
        "('queued', 'refused'))",
        "DELETE FROM entities WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM "
        "entity_changes WHERE entity_id = ?1 AND state IN ('queued', "
        "'refused'))",
    };
    return exec_each(ag, sql, 2, id);
}

int fa__entity_apply(fa_agent *ag, const char *kind, const cJSON *payload)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(payload, "id");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(payload, "type");
    const cJSON *area = cJSON_GetObjectItemCaseSensitive(payload, "area");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(payload, "fields");
    if (!cJSON_IsString(id) || !fs_valid_uuid(id->valuestring) ||
        !cJSON_IsString(type) || !fs_valid_form_id(type->valuestring) ||
        !cJSON_IsString(area))
        return fa__fail(ag, FA_EREFUSED, "the hub sent a malformed entity");
    /* A delete made here and not yet sent stays: the hub answers it. */
    if (queued(ag, id->valuestring, NULL))
        return FA_OK;
    if (strcmp(kind, "entity_delete") == 0) {
        local_entity e;
        int rc = load_local(ag, id->valuestring, &e);
        if (rc != FA_OK || !e.found)
            return rc;
        return upsert_entity(ag, id->valuestring, type->valuestring, e.area, 1);
    }
    if (!cJSON_IsObject(fields))
        return fa__fail(ag, FA_EREFUSED,
                        "the hub sent an entity without "
                        "fields");
    /* Moved out of this device's areas: no longer held here. */
    char areas[FA_SCOPE_MAX];
    int rc = fa__meta_get(ag, "areas", areas, sizeof areas);
    if (rc != FA_OK)
        return rc;
    /* An area entity's parent comes with it; it may not be stored yet. */
    const cJSON *parent = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(fields, "parent"), "value");
    rc = fa__area_covered(ag, areas, area->valuestring,
                          strcmp(type->valuestring, "area") == 0 &&
                                  cJSON_IsString(parent)
                              ? parent->valuestring
                              : NULL);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return forget(ag, id->valuestring);

    rc = upsert_entity(ag, id->valuestring, type->valuestring,
                       area->valuestring, 0);
    const cJSON *f;
    cJSON_ArrayForEach(f, fields)
    {
        if (rc != FA_OK)
            break;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "value");
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(f, "version");
        if (!v || !cJSON_IsNumber(ver) || !fs_valid_field_name(f->string))
            return fa__fail(ag, FA_EREFUSED,
                            "the hub sent a malformed "
                            "entity field");
        int64_t hub_version = (int64_t)ver->valuedouble;
        if (queued(ag, id->valuestring, f->string) ||
            hub_version <= field_version(ag, id->valuestring, f->string))
            continue;
        char *text = cJSON_PrintUnformatted(v);
        rc = text ? put_field(ag, id->valuestring, f->string, text, hub_version)
                  : fa__fail(ag, FA_ESTORE, "out of memory");
        free(text);
    }
    return rc;
}

int fa__entity_purge(fa_agent *ag, const char *areas)
{
    /* As for submissions: entities with a change not yet acknowledged
     * stay (the hub decides about them), and so do those with a refused
     * change (the user is shown it with the hub's reason). */
    /* An entity stays while its area is covered (FA_COVERED_CTE): the
     * covered codes are worked out before a row goes, so the fields of an
     * area being deleted do not change which others stay. */
    static const char *const purge[] = {
        FA_COVERED_CTE
        "DELETE FROM entity_fields WHERE entity_id IN (SELECT id FROM "
        "entities e WHERE ?1 != '*' AND e.area NOT IN (SELECT code FROM "
        "covered) AND NOT EXISTS (SELECT 1 FROM entity_changes c "
        "WHERE c.entity_id = e.id AND c.state IN ('queued', 'refused')))",
        FA_COVERED_CTE
        "DELETE FROM entities WHERE ?1 != '*' AND area NOT IN (SELECT code "
        "FROM covered) AND NOT EXISTS (SELECT 1 FROM "
        "entity_changes c WHERE c.entity_id = entities.id AND c.state IN "
        "('queued', 'refused'))",
    };
    return exec_each(ag, purge, 2, areas);
}
