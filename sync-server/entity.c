/*
 * entity.c - the registry merge: entity changes from devices, field by
 * field, inside the push transaction; and entity writes by hub admins.
 *
 * Rules (protocol/PROTOCOL.md section 7): an edit whose base is the
 * field's current version fast-forwards; so does one whose base was
 * overtaken only by versions the same device wrote (it had seen its own
 * writes). Any other edit is concurrent: an equal value converges, a
 * different one joins the field's open conflict and the provisional
 * value is the competing value with the highest (HLC, device id), so it
 * does not depend on which device synced first. A delete that meets an
 * edit, or an edit of a deleted entity, is a conflict too; the entity is
 * kept meanwhile. Detection compares versions only, never clocks.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hierarchy.h"
#include "fs_entity.h"
#include "fs_schema.h"
#include "entity.h"
#include "areas.h"
#include "audit.h"
#include "conflicts.h"
#include "errors.h"
#include "merge.h"
#include "scope.h"
#include "stmtcache.h"

static pthread_once_t types_once = PTHREAD_ONCE_INIT;
static fs_entity_types *types;

static void load_types(void)
{
    fs_problems p;
    fs_problems_init(&p);
    if (fs_entity_types_parse(fs_entity_types_json,
                              strlen(fs_entity_types_json), &types,
                              &p) != FS_OK) {
        char list[512];
        fs_problems_format(&p, "; ", list, sizeof list);
        fprintf(stderr,
                "fieldsync-hub: the built-in entity types are "
                "broken: %s\n",
                list);
    }
}

const fs_entity_types *hub__entity_types(void)
{
    pthread_once(&types_once, load_types);
    return types;
}

/* ---- reading ---------------------------------------------------------- */

typedef struct entity_row {
    int found;
    char type[FS_ID_MAX + 1];
    char area[FS_ID_MAX + 1];
    int deleted;
} entity_row;

static int load_entity(sqlite3 *db, const char *id, entity_row *e)
{
    memset(e, 0, sizeof *e);
    int rc;
    sqlite3_stmt *st =
        hub__sql(db, "SELECT type, area, deleted FROM entities WHERE id = ?",
                 HUB_ARGS(HUB_TEXT(id)), &rc);
    if (st && (rc = hub__sql_step(st)) > 0) {
        e->found = 1;
        snprintf(e->type, sizeof e->type, "%s", hub__col(st, 0));
        snprintf(e->area, sizeof e->area, "%s", hub__col(st, 1));
        e->deleted = sqlite3_column_int(st, 2);
        hub__sql_end(st);
    }
    return rc < 0 ? rc : HUB_OK;
}

int hub__entity_field(sqlite3 *db, const char *id, const char *name,
                      hub_field *f)
{
    memset(f, 0, sizeof *f);
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT value, version, hlc, device_id, "
                                "collector FROM entity_fields WHERE "
                                "entity_id = ? AND name = ?",
                                HUB_ARGS(HUB_TEXT(id), HUB_TEXT(name)), &rc);
    if (st && (rc = hub__sql_step(st)) > 0) {
        f->found = 1;
        f->value = strdup(hub__col(st, 0));
        f->version = sqlite3_column_int64(st, 1);
        snprintf(f->hlc, sizeof f->hlc, "%s", hub__col(st, 2));
        snprintf(f->device, sizeof f->device, "%s", hub__col(st, 3));
        snprintf(f->collector, sizeof f->collector, "%s", hub__col(st, 4));
        hub__sql_end(st);
        rc = f->value ? HUB_OK : HUB_ENOMEM;
    }
    return rc < 0 ? rc : HUB_OK;
}

/* The area the scope field's current value names, into out; *is_area is
 * 0 when the value is not a string. */
static int scope_now(sqlite3 *db, const char *id, const fs_form *type,
                     char *out, size_t cap, int *is_area)
{
    hub_field sf;
    out[0] = '\0';
    int rc = hub__entity_field(db, id, fs_entity_scope_field(type), &sf);
    cJSON *v = fs_json_parse_stored(sf.value);
    *is_area = cJSON_IsString(v);
    if (*is_area)
        snprintf(out, cap, "%s", v->valuestring);
    cJSON_Delete(v);
    free(sf.value);
    return rc;
}

/* ---- writing ---------------------------------------------------------- */

int hub__entity_write(sqlite3 *db, const char *id, const char *name,
                      int64_t version, int64_t base, const char *value,
                      const char *hlc, const char *device,
                      const char *collector, const char *origin, int64_t now)
{
    int rc = hub__sql_run(
        db,
        "INSERT INTO entity_versions (entity_id, name, version, base, "
        "value, hlc, device_id, collector, origin, received_ms) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        HUB_ARGS(HUB_TEXT(id), HUB_TEXT(name), HUB_INT(version), HUB_INT(base),
                 HUB_TEXT(value), HUB_TEXT(hlc), HUB_TEXT(device),
                 HUB_TEXT(collector), HUB_TEXT(origin), HUB_INT(now)));
    if (rc != HUB_OK)
        return rc;
    return hub__sql_run(
        db,
        "INSERT INTO entity_fields (entity_id, name, value, version, hlc, "
        "device_id, collector, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
        "?7, ?8) ON CONFLICT (entity_id, name) DO UPDATE SET value = ?3, "
        "version = ?4, hlc = ?5, device_id = ?6, collector = ?7, "
        "updated_ms = ?8",
        HUB_ARGS(HUB_TEXT(id), HUB_TEXT(name), HUB_TEXT(value),
                 HUB_INT(version), HUB_TEXT(hlc), HUB_TEXT(device),
                 HUB_TEXT(collector), HUB_INT(now)));
}

/* The entity's fields as {"name": {"value": ..., "version": N}}. */
static int fields_json(sqlite3 *db, const char *id, cJSON *fields)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT name, value, version FROM "
                                "entity_fields WHERE entity_id = ? ORDER BY "
                                "name",
                                HUB_ARGS(HUB_TEXT(id)), &rc);
    while (st && (rc = hub__sql_step(st)) > 0) {
        cJSON *f = cJSON_AddObjectToObject(fields, hub__col(st, 0));
        cJSON_AddItemToObject(f, "value", cJSON_CreateRaw(hub__col(st, 1)));
        cJSON_AddNumberToObject(f, "version",
                                (double)sqlite3_column_int64(st, 2));
    }
    return rc;
}

/* Appends one change-log row of entity id: for the devices of area
 * (NULL: the entity's own area), or for one device when device is not
 * NULL. */
/* History that devices must not be served. Every row carries the whole
 * entity, so a newer row for everyone supersedes the older ones: their
 * fields are emptied, and an old value (a phone an admin cleared) is no
 * longer servable to a device that pulls from the start. An entity that
 * left the area of its last row is logged once more under that area,
 * without fields: the devices of that area then drop it. */
static int log_history(sqlite3 *db, const char *id, const entity_row *e,
                       int64_t now)
{
    int rc;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT area FROM change_log WHERE ref = ?1 AND kind IN ('entity', "
        "'entity_delete') AND device_id IS NULL ORDER BY sseq DESC LIMIT 1",
        HUB_ARGS(HUB_TEXT(id)), &rc);
    char old[FS_ID_MAX + 1] = "";
    if (st && (rc = hub__sql_step(st)) > 0) {
        snprintf(old, sizeof old, "%s", hub__col(st, 0));
        hub__sql_end(st);
        rc = HUB_OK;
    }
    if (rc != HUB_OK)
        return rc;
    if (old[0] && strcmp(old, e->area) != 0) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "type", e->type);
        cJSON_AddStringToObject(p, "id", id);
        cJSON_AddStringToObject(p, "area", e->area);
        cJSON_AddObjectToObject(p, "fields");
        char *payload = cJSON_PrintUnformatted(p);
        cJSON_Delete(p);
        if (!payload)
            return HUB_ENOMEM;
        rc = hub__sql_run(db,
                          "INSERT INTO change_log (kind, ref, payload, "
                          "created_ms, area) VALUES ('entity', ?, ?, ?, ?)",
                          HUB_ARGS(HUB_TEXT(id), HUB_TEXT(payload),
                                   HUB_INT(now), HUB_TEXT(old)));
        free(payload);
        if (rc != HUB_OK)
            return rc;
    }
    return hub__sql_run(db,
                        "UPDATE change_log SET payload = json_set(payload, "
                        "'$.fields', json('{}')) WHERE ref = ?1 AND kind = "
                        "'entity' AND json_extract(payload, '$.fields') <> "
                        "'{}'",
                        HUB_ARGS(HUB_TEXT(id)));
}

static int log_row(sqlite3 *db, const char *kind, const char *id,
                   int64_t conflict, int64_t now, const char *area,
                   const char *device)
{
    entity_row e;
    int rc = load_entity(db, id, &e);
    if (rc != HUB_OK || !e.found)
        return rc;
    /* Only a row every device of the area gets supersedes the others. */
    if (!device && !area && (rc = log_history(db, id, &e, now)) != HUB_OK)
        return rc;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", e.type);
    cJSON_AddStringToObject(p, "id", id);
    cJSON_AddStringToObject(p, "area", e.area);
    if (conflict > 0)
        cJSON_AddNumberToObject(p, "conflict", (double)conflict);
    /* The whole entity every time: a device that missed a row, or
     * deleted the entity meanwhile, is whole again after this one. */
    if (strcmp(kind, "entity_delete") != 0)
        rc = fields_json(db, id, cJSON_AddObjectToObject(p, "fields"));
    char *payload = rc == HUB_OK ? cJSON_PrintUnformatted(p) : NULL;
    cJSON_Delete(p);
    if (rc != HUB_OK)
        return rc;
    if (!payload)
        return HUB_ENOMEM;
    rc = hub__sql_run(db,
                      "INSERT INTO change_log (kind, ref, payload, "
                      "created_ms, area, device_id) VALUES (?, ?, ?, ?, ?, "
                      "?)",
                      HUB_ARGS(HUB_TEXT(kind), HUB_TEXT(id), HUB_TEXT(payload),
                               HUB_INT(now), HUB_TEXT(area ? area : e.area),
                               HUB_TEXT(device)));
    free(payload);
    return rc;
}

int hub__entity_log(sqlite3 *db, const char *kind, const char *id,
                    int64_t conflict, int64_t now)
{
    return log_row(db, kind, id, conflict, now, NULL, NULL);
}

int hub__entity_requeue(sqlite3 *db, const char *device, const char *old,
                        const char *areas, int64_t now)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT id, area FROM entities WHERE deleted "
                                "= 0 ORDER BY rowid",
                                NULL, 0, &rc);
    while (st && (rc = hub__sql_step(st)) > 0) {
        const char *area = hub__col(st, 1);
        if (hub__area_covered(db, old, area) != 0 ||
            hub__area_covered(db, areas, area) != 1)
            continue;
        char id[FS_UUID_LEN + 1];
        snprintf(id, sizeof id, "%s", hub__col(st, 0));
        rc = log_row(db, "entity", id, 0, now, NULL, device);
        if (rc != HUB_OK) {
            hub__sql_end(st);
            return rc;
        }
    }
    return rc;
}

static int set_entity(sqlite3 *db, const char *id, const char *area,
                      int deleted, int64_t now)
{
    return hub__sql_run(
        db,
        "UPDATE entities SET area = ?, deleted = ?, "
        "updated_ms = ? WHERE id = ?",
        HUB_ARGS(HUB_TEXT(area), HUB_INT(deleted), HUB_INT(now), HUB_TEXT(id)));
}

int hub__entity_tombstone(sqlite3 *db, const char *id, const char *device,
                          const char *collector, const char *hlc, int64_t now)
{
    int rc = hub__sql_run(db,
                          "INSERT OR REPLACE INTO tombstones (entity_id, "
                          "device_id, collector, hlc, received_ms) VALUES "
                          "(?, ?, ?, ?, ?)",
                          HUB_ARGS(HUB_TEXT(id), HUB_TEXT(device),
                                   HUB_TEXT(collector), HUB_TEXT(hlc),
                                   HUB_INT(now)));
    if (rc == HUB_OK)
        rc = hub__sql_run(db, "UPDATE entities SET deleted = 1 WHERE id = ?",
                          HUB_ARGS(HUB_TEXT(id)));
    return rc == HUB_OK ? hub__entity_log(db, "entity_delete", id, 0, now) : rc;
}

/* ---- merging a device's change ------------------------------------------ */

/* 1 in *own when every version of the field after base was written by
 * device: the device had seen them, they are its own edits. */
static int own_writes(sqlite3 *db, const char *id, const char *name,
                      int64_t base, const char *device, int *own)
{
    int rc;
    *own = 0;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT count(*) FROM entity_versions WHERE "
        "entity_id = ? AND name = ? AND version > ? "
        "AND device_id != ?",
        HUB_ARGS(HUB_TEXT(id), HUB_TEXT(name), HUB_INT(base), HUB_TEXT(device)),
        &rc);
    if (st && (rc = hub__sql_step(st)) > 0) {
        *own = sqlite3_column_int64(st, 0) == 0 && device[0] != '\0';
        hub__sql_end(st);
    }
    return rc < 0 ? rc : HUB_OK;
}

/* 1 in *dup when this device's change with this stamp was merged before
 * (a change sent again after the device realigned its sequence). */
static int seen_before(sqlite3 *db, const char *id, const char *device,
                       const char *hlc, int *dup)
{
    int rc;
    *dup = 0;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT EXISTS (SELECT 1 FROM entity_versions WHERE entity_id = ?1 "
        "AND device_id = ?2 AND hlc = ?3) OR EXISTS (SELECT 1 FROM "
        "tombstones WHERE entity_id = ?1 AND device_id = ?2 AND hlc = ?3) "
        "OR EXISTS (SELECT 1 FROM conflict_values v JOIN conflicts c ON "
        "c.id = v.conflict_id WHERE c.ref = ?1 AND v.device_id = ?2 AND "
        "v.hlc = ?3)",
        HUB_ARGS(HUB_TEXT(id), HUB_TEXT(device), HUB_TEXT(hlc)), &rc);
    if (st && (rc = hub__sql_step(st)) > 0) {
        *dup = sqlite3_column_int(st, 0);
        hub__sql_end(st);
    }
    return rc < 0 ? rc : HUB_OK;
}

/* An area's boundary must be a GeoJSON geometry whoever writes it (a
 * device's edit as much as `areas import`): the admin map draws it, and
 * text that is not one is refused here, never stored. 1 when v is bad
 * (problem added to p). An empty value means no boundary. */
static int geometry_bad(const char *type, const char *field, const cJSON *v,
                        fs_problems *p)
{
    if (strcmp(type, "area") != 0 || strcmp(field, "geometry") != 0 ||
        !cJSON_IsString(v) || !v->valuestring[0])
        return 0;
    char why[256];
    cJSON *g = hub__area_geometry(v->valuestring, why, sizeof why);
    if (g) {
        cJSON_Delete(g);
        return 0;
    }
    fs_problems_add(p, field, "%s", why);
    return 1;
}

/* Checks every value against the type; the problems go to r. */
static int check_values(const fs_form *type, const fs_entity_change *ent,
                        fs_result *r)
{
    fs_problems p;
    fs_problems_init(&p);
    int bad = 0;
    for (size_t i = 0; i < ent->n; i++) {
        const fs_entity_edit *ed = &ent->edits[i];
        if (ent->op == FS_ENTITY_DELETE)
            continue;
        cJSON *v = fs_json_parse_stored(ed->value_json);
        if (!v)
            return HUB_ENOMEM;
        bad |= fs_entity_check_value(type, ed->field, v, &p) != FS_OK;
        bad |= geometry_bad(ent->type, ed->field, v, &p);
        cJSON_Delete(v);
    }
    if (ent->op == FS_ENTITY_NEW && !bad) {
        cJSON *rec = cJSON_CreateObject();
        for (size_t i = 0; rec && i < ent->n; i++)
            cJSON_AddItemToObject(rec, ent->edits[i].field,
                                  cJSON_CreateRaw(ent->edits[i].value_json));
        bad |= fs_entity_check_record(type, rec, &p) != FS_OK;
        cJSON_Delete(rec);
    }
    if (bad) {
        char list[FS_ERRMSG_MAX - 64];
        fs_problems_format(&p, "; ", list, sizeof list);
        hub__refuse(r, "invalid_entity", "%s %s: %s", ent->type, ent->id, list);
    }
    return HUB_OK;
}

/* The area code a new value of the scope field names, or NULL. */
static const char *scope_value(const fs_form *type, const fs_entity_change *e,
                               char *buf, size_t cap)
{
    const char *sf = fs_entity_scope_field(type);
    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(e->edits[i].field, sf) != 0 || !e->edits[i].value_json)
            continue;
        cJSON *v = fs_json_parse_stored(e->edits[i].value_json);
        const char *out = NULL;
        if (cJSON_IsString(v)) {
            snprintf(buf, cap, "%s", v->valuestring);
            out = buf;
        }
        cJSON_Delete(v);
        return out;
    }
    return NULL;
}

static int device_areas(sqlite3 *db, const char *device, char *out, size_t cap)
{
    int rc;
    out[0] = '\0';
    sqlite3_stmt *st = hub__sql(db, "SELECT areas FROM devices WHERE id = ?",
                                HUB_ARGS(HUB_TEXT(device)), &rc);
    if (st && (rc = hub__sql_step(st)) > 0) {
        snprintf(out, cap, "%s", hub__col(st, 0));
        hub__sql_end(st);
    }
    return rc < 0 ? rc : HUB_OK;
}

/* One concurrent edit with a different value: it joins the field's open
 * conflict (opened now if there is none, with the current value as its
 * first competitor) and the competitor with the highest (HLC, device)
 * becomes the field's value. */
static int field_conflict(sqlite3 *db, const char *id, const char *area,
                          const fs_entity_edit *ed, const hub_field *cur,
                          const char *hlc, const char *device,
                          const char *collector, int64_t now, int64_t *cid)
{
    int rc = hub__conflict_open(db, "field", id, ed->field, area, now, cid);
    if (rc == HUB_OK)
        rc = hub__conflict_add(db, *cid, cur->value, cur->device,
                               cur->collector, cur->hlc, cur->version, now);
    if (rc == HUB_OK)
        rc = hub__conflict_add(db, *cid, ed->value_json, device, collector, hlc,
                               0, now);
    if (rc != HUB_OK)
        return rc;
    hub_candidate win;
    rc = hub__conflict_winner(db, *cid, &win);
    if (rc != HUB_OK)
        return rc;
    if (win.version != cur->version) {
        rc = hub__entity_write(db, id, ed->field, cur->version + 1,
                               cur->version, win.value, win.hlc, win.device,
                               win.collector, "device", now);
        if (rc == HUB_OK)
            rc = hub__conflict_set_version(db, *cid, win.n, cur->version + 1);
    }
    free(win.value);
    return rc;
}

/* Adds a fast-forwarded value to the field's open conflict, if any. */
static int join_open(sqlite3 *db, const char *id, const char *field,
                     const char *value, const char *hlc, const char *device,
                     const char *collector, int64_t version, int64_t now)
{
    int64_t cid = 0;
    int rc = hub__conflict_find(db, "field", id, field, &cid);
    if (rc != HUB_OK || cid == 0)
        return rc;
    return hub__conflict_add(db, cid, value, device, collector, hlc, version,
                             now);
}

/* The edits of a new or set change, field by field. */
static int merge_edits(sqlite3 *db, const fs_entity_change *ent,
                       const char *area, const char *hlc, const char *device,
                       int64_t now, int64_t *conflict)
{
    int rc = HUB_OK;
    for (size_t i = 0; i < ent->n && rc == HUB_OK; i++) {
        const fs_entity_edit *ed = &ent->edits[i];
        hub_field cur;
        rc = hub__entity_field(db, ent->id, ed->field, &cur);
        if (rc != HUB_OK)
            break;
        int own = 0;
        if (cur.found && ed->base != cur.version)
            rc = own_writes(db, ent->id, ed->field, ed->base, device, &own);
        if (rc != HUB_OK) {
            free(cur.value);
            break;
        }
        if (!cur.found || ed->base == cur.version || own) {
            rc = hub__entity_write(db, ent->id, ed->field, cur.version + 1,
                                   ed->base, ed->value_json, hlc, device,
                                   ent->collector, "device", now);
            /* A field in conflict keeps every value an admin must see,
             * this later one too: a resolution must not hide it. */
            if (rc == HUB_OK)
                rc = join_open(db, ent->id, ed->field, ed->value_json, hlc,
                               device, ent->collector, cur.version + 1, now);
        } else if (strcmp(cur.value, ed->value_json) != 0)
            rc = field_conflict(db, ent->id, area, ed, &cur, hlc, device,
                                ent->collector, now, conflict);
        /* else: the same value written concurrently converges. */
        free(cur.value);
    }
    return rc;
}

/* Bases newer than the hub's versions cannot come from the hub. */
static int check_bases(sqlite3 *db, const fs_entity_change *ent, fs_result *r)
{
    for (size_t i = 0; i < ent->n; i++) {
        hub_field cur;
        int rc = hub__entity_field(db, ent->id, ent->edits[i].field, &cur);
        if (rc != HUB_OK)
            return rc;
        free(cur.value);
        if (ent->edits[i].base > cur.version) {
            hub__refuse(r, "malformed",
                        "%s.%s: base version %lld is newer than the hub's "
                        "version %lld",
                        ent->id, ent->edits[i].field,
                        (long long)ent->edits[i].base, (long long)cur.version);
            return HUB_OK;
        }
    }
    return HUB_OK;
}

/* A delete and an edit met: one open 'delete' conflict per entity with
 * the two sides as "delete" and "keep"; the entity is kept meanwhile. */
static int delete_conflict(sqlite3 *db, const char *id, const char *area,
                           const char *del_dev, const char *del_coll,
                           const char *del_hlc, const char *keep_dev,
                           const char *keep_coll, const char *keep_hlc,
                           int64_t now, int64_t *cid)
{
    int rc = hub__conflict_open(db, "delete", id, "", area, now, cid);
    if (rc == HUB_OK)
        rc = hub__conflict_add(db, *cid, "\"delete\"", del_dev, del_coll,
                               del_hlc, -1, now);
    if (rc == HUB_OK)
        rc = hub__conflict_add(db, *cid, "\"keep\"", keep_dev, keep_coll,
                               keep_hlc, -1, now);
    return rc;
}

/* The newest field version written after the device's bases, by someone
 * else: the edit the delete did not see. found is 0 when there is none. */
static int unseen_edit(sqlite3 *db, const fs_entity_change *ent,
                       const char *device, hub_field *last)
{
    memset(last, 0, sizeof *last);
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT name, version, hlc, device_id, "
                                "collector FROM entity_fields WHERE "
                                "entity_id = ? ORDER BY hlc DESC",
                                HUB_ARGS(HUB_TEXT(ent->id)), &rc);
    while (st && !last->found && (rc = hub__sql_step(st)) > 0) {
        const char *name = hub__col(st, 0);
        int64_t version = sqlite3_column_int64(st, 1), base = 0;
        for (size_t i = 0; i < ent->n; i++)
            if (strcmp(ent->edits[i].field, name) == 0)
                base = ent->edits[i].base;
        if (version == base)
            continue;
        int own = 0;
        rc = own_writes(db, ent->id, name, base, device, &own);
        if (rc != HUB_OK)
            break;
        if (own)
            continue;
        last->found = 1;
        last->version = version;
        snprintf(last->hlc, sizeof last->hlc, "%s", hub__col(st, 2));
        snprintf(last->device, sizeof last->device, "%s", hub__col(st, 3));
        snprintf(last->collector, sizeof last->collector, "%s",
                 hub__col(st, 4));
    }
    hub__sql_end(st);
    return rc < 0 ? rc : HUB_OK;
}

static int merge_delete(sqlite3 *db, const fs_entity_change *ent,
                        const entity_row *e, const char *hlc,
                        const char *device, int64_t now, int64_t *conflict)
{
    if (e->deleted)
        return HUB_OK; /* deleted twice: converges */
    hub_field last;
    int rc = unseen_edit(db, ent, device, &last);
    if (rc != HUB_OK)
        return rc;
    if (!last.found)
        return hub__entity_tombstone(db, ent->id, device, ent->collector, hlc,
                                     now);
    rc = delete_conflict(db, ent->id, e->area, device, ent->collector, hlc,
                         last.device, last.collector, last.hlc, now, conflict);
    return rc == HUB_OK ? hub__entity_log(db, "entity", ent->id, 0, now) : rc;
}

/* An edit reached an entity deleted meanwhile: the edit is kept (the
 * entity comes back) and the delete becomes a competitor of a conflict. */
static int undelete(sqlite3 *db, const fs_entity_change *ent,
                    const entity_row *e, const char *hlc, const char *device,
                    int64_t now, int64_t *conflict)
{
    char ddev[FS_UUID_LEN + 1] = "", dcoll[FS_NAME_MAX + 1] = "",
                            dhlc[FS_HLC_TEXT_LEN + 1] = "0000000000000000";
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT device_id, collector, hlc FROM "
                                "tombstones WHERE entity_id = ?",
                                HUB_ARGS(HUB_TEXT(ent->id)), &rc);
    if (!st)
        return rc;
    if (hub__sql_step(st) > 0) {
        snprintf(ddev, sizeof ddev, "%s", hub__col(st, 0));
        snprintf(dcoll, sizeof dcoll, "%s", hub__col(st, 1));
        snprintf(dhlc, sizeof dhlc, "%s", hub__col(st, 2));
        hub__sql_end(st);
    }
    rc = delete_conflict(db, ent->id, e->area, ddev, dcoll, dhlc, device,
                         ent->collector, hlc, now, conflict);
    return rc == HUB_OK ? set_entity(db, ent->id, e->area, 0, now) : rc;
}

static void conflicted(fs_result *r, const fs_entity_change *ent,
                       int64_t conflict)
{
    r->status = FS_RES_DIVERGENT;
    snprintf(r->error, sizeof r->error, "conflict");
    snprintf(r->message, sizeof r->message,
             "%.20s %s: edited concurrently elsewhere; both kept as "
             "conflict #%lld for a hub admin to settle; the result comes "
             "on a later sync",
             ent->type, ent->id, (long long)conflict);
}

/* A new or set change: the edits, then the area its scope field now
 * names, then the log rows for the devices of the area (and of the old
 * one when it moved). */
static int merge_set(sqlite3 *db, const fs_form *type,
                     const fs_entity_change *ent, const entity_row *e,
                     const char *to, const char *hlc, const char *device,
                     int64_t now, int64_t *conflict)
{
    const char *area = to ? to : e->area;
    int rc = HUB_OK;
    if (!e->found)
        rc = hub__sql_run(db,
                          "INSERT INTO entities (id, type, area, created_ms, "
                          "updated_ms) VALUES (?, ?, ?, ?, ?)",
                          HUB_ARGS(HUB_TEXT(ent->id), HUB_TEXT(ent->type),
                                   HUB_TEXT(area), HUB_INT(now), HUB_INT(now)));
    else if (e->deleted)
        rc = undelete(db, ent, e, hlc, device, now, conflict);
    if (rc == HUB_OK)
        rc = merge_edits(db, ent, area, hlc, device, now, conflict);
    /* The provisional value of the scope field decides the area. */
    char now_area[FS_ID_MAX + 1];
    int is_area = 0;
    if (rc == HUB_OK)
        rc = scope_now(db, ent->id, type, now_area, sizeof now_area, &is_area);
    if (rc == HUB_OK)
        rc = set_entity(db, ent->id, is_area ? now_area : area, 0, now);
    /* Moved to another area: the log tells the devices of the old one
     * that it is no longer theirs (log_history). */
    if (rc == HUB_OK)
        rc = hub__entity_log(db, "entity", ent->id, 0, now);
    return rc;
}

int hub__merge_entity(sqlite3 *db, const char *device,
                      const fs_entity_change *ent, fs_result *r, int64_t now)
{
    const fs_entity_types *t = hub__entity_types();
    const fs_form *type = fs_entity_type(t, ent->type);
    if (!type) {
        hub__refuse(r, "invalid_entity",
                    "unknown entity type '%s'; this hub "
                    "knows %s",
                    ent->type, fs_entity_type_names(t));
        return HUB_OK;
    }
    int rc = check_values(type, ent, r);
    if (rc != HUB_OK || r->status == FS_RES_REFUSED)
        return rc;
    char hlc[FS_HLC_TEXT_LEN + 1];
    fs_hlc_format(ent->hlc, hlc);
    int dup = 0;
    rc = seen_before(db, ent->id, device, hlc, &dup);
    if (rc != HUB_OK)
        return rc;
    if (dup) {
        r->status = FS_RES_DUPLICATE;
        return HUB_OK;
    }
    entity_row e;
    rc = load_entity(db, ent->id, &e);
    if (rc != HUB_OK)
        return rc;
    if (e.found && strcmp(e.type, ent->type) != 0) {
        hub__refuse(r, "invalid_entity", "%s is a %s on this hub, not a %s",
                    ent->id, e.type, ent->type);
        return HUB_OK;
    }
    if (!e.found && ent->op != FS_ENTITY_NEW) {
        hub__refuse(r, "unknown_entity",
                    "%s %s is not on this hub; it may have been created on a "
                    "device that has not synced yet",
                    ent->type, ent->id);
        return HUB_OK;
    }
    /* Scope: the device must hold the entity's area, and the area it
     * moves the entity to. */
    char areas[HUB_SCOPE_MAX], moved[FS_ID_MAX + 1];
    rc = device_areas(db, device, areas, sizeof areas);
    if (rc != HUB_OK)
        return rc;
    const char *to = scope_value(type, ent, moved, sizeof moved);
    int from_out = e.found && hub__area_covered(db, areas, e.area) != 1;
    if (from_out || (to && hub__area_covered(db, areas, to) != 1)) {
        hub__refuse(r, "out_of_scope",
                    "%s %s: this device works in areas %s only, not '%s'; ask "
                    "the hub admin to extend its areas",
                    ent->type, ent->id, areas, from_out ? e.area : to);
        return HUB_OK;
    }
    rc = check_bases(db, ent, r);
    if (rc != HUB_OK || r->status == FS_RES_REFUSED)
        return rc;

    int64_t conflict = 0;
    if (ent->op == FS_ENTITY_DELETE)
        rc = merge_delete(db, ent, &e, hlc, device, now, &conflict);
    else
        rc = merge_set(db, type, ent, &e, to, hlc, device, now, &conflict);
    if (rc != HUB_OK)
        return rc;
    if (conflict > 0)
        conflicted(r, ent, conflict);
    else
        r->status = FS_RES_APPLIED;
    return HUB_OK;
}

/* ---- admin writes ----------------------------------------------------- */

int hub__entity_admin_write(sqlite3 *db, const char *type_name, const char *id,
                            const cJSON *fields, const char *actor,
                            char id_out[FS_UUID_LEN + 1], char *err,
                            size_t errlen)
{
    const fs_form *type = fs_entity_type(hub__entity_types(), type_name);
    if (!type)
        return hub__errf(err, errlen, "unknown entity type '%s'; known: %s",
                         type_name, fs_entity_type_names(hub__entity_types()));
    if (!cJSON_IsObject(fields) || !fields->child)
        return hub__errf(err, errlen,
                         "give the fields as a JSON object of at "
                         "least one field name and value");
    fs_problems p;
    fs_problems_init(&p);
    int bad = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, fields)
    {
        bad |= fs_entity_check_value(type, f->string, f, &p) != FS_OK;
        bad |= geometry_bad(type_name, f->string, f, &p);
    }
    char newid[FS_UUID_LEN + 1];
    entity_row e;
    memset(&e, 0, sizeof e);
    if (id && id[0]) {
        if (!fs_valid_uuid(id))
            return hub__errf(err, errlen, "'%s' is not an entity id", id);
        int rc = load_entity(db, id, &e);
        if (rc != HUB_OK)
            return rc;
        if (!e.found || strcmp(e.type, type_name) != 0) {
            snprintf(err, errlen, "no %s %s on this hub", type_name, id);
            return HUB_ENOTFOUND;
        }
        snprintf(newid, sizeof newid, "%s", id);
    } else {
        if (fs_uuid_v7(newid) != FS_OK) {
            snprintf(err, errlen, "no randomness for a new id");
            return HUB_ESTORAGE;
        }
        bad |= fs_entity_check_record(type, fields, &p) != FS_OK;
    }
    if (bad) {
        fs_problems_format(&p, "; ", err, errlen);
        return HUB_EBADINPUT;
    }
    int64_t now = (int64_t)fs_now_ms();
    uint64_t clock = 0;
    char hlc[FS_HLC_TEXT_LEN + 1];
    fs_hlc_format(fs_hlc_tick(&clock, (uint64_t)now), hlc);
    int rc = HUB_OK;
    if (!e.found)
        rc = hub__sql_run(db,
                          "INSERT INTO entities (id, type, created_ms, "
                          "updated_ms) VALUES (?, ?, 0, 0)",
                          HUB_ARGS(HUB_TEXT(newid), HUB_TEXT(type_name)));
    cJSON_ArrayForEach(f, fields)
    {
        if (rc != HUB_OK)
            break;
        hub_field cur;
        rc = hub__entity_field(db, newid, f->string, &cur);
        free(cur.value);
        char *text = cJSON_PrintUnformatted(f);
        if (rc == HUB_OK)
            rc = text ? hub__entity_write(db, newid, f->string, cur.version + 1,
                                          cur.version, text, hlc, "", actor,
                                          "admin", now)
                      : HUB_ENOMEM;
        free(text);
    }
    char area[FS_ID_MAX + 1];
    int is_area = 0;
    if (rc == HUB_OK)
        rc = scope_now(db, newid, type, area, sizeof area, &is_area);
    if (rc == HUB_OK)
        rc = set_entity(db, newid, area, 0, now);
    if (rc == HUB_OK)
        rc = hub__entity_log(db, "entity", newid, 0, now);
    if (rc == HUB_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "entity", newid);
        cJSON_AddStringToObject(d, "type", type_name);
        cJSON_AddItemToObject(d, "fields", cJSON_Duplicate(fields, 1));
        rc = hub__audit(db, actor, "entity.write", d);
    }
    if (rc == HUB_OK && id_out)
        memcpy(id_out, newid, sizeof newid);
    return rc;
}
