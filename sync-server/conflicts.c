/*
 * conflicts.c - disagreements for hub admins to settle: concurrent field
 * values and delete-versus-edit of registry entities, amendments whose
 * base revision was overtaken; listing and resolving them (CLI and JSON
 * API); and possible duplicate respondents (same form and dedupe key).
 *
 * A resolution is a new version written by the hub on top of the
 * current one and logged to the change log, so every device holding the
 * entity pulls it; an edit based on it then fast-forwards. Every
 * resolution is audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_form.h"
#include "hub.h"
#include "hub_int.h"

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* ---- recording --------------------------------------------------------- */

int hub__conflict_open(sqlite3 *db, const char *kind, const char *ref,
                       const char *field, const char *area, int64_t now,
                       int64_t *id)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT id FROM conflicts WHERE kind = ? AND "
                                "ref = ? AND field = ? AND status = 'open'",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, field, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return SQLITE_OK;
    if (rc != SQLITE_DONE)
        return rc;
    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO conflicts (kind, ref, field, area, "
                            "opened_ms) VALUES (?, ?, ?, ?, ?)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, field, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, area, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rc;
    *id = sqlite3_last_insert_rowid(db);
    return SQLITE_OK;
}

int hub__conflict_add(sqlite3 *db, int64_t id, const char *value,
                      const char *device, const char *collector,
                      const char *hlc, int64_t version, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db,
        /* The aggregate gives one row even when no row matches, so the
         * test for a value already there stands outside it. */
        "INSERT INTO conflict_values (conflict_id, n, value, device_id, "
        "collector, hlc, version, received_ms) SELECT ?1, m.n, ?2, ?3, ?4, "
        "?5, ?6, ?7 FROM (SELECT coalesce(max(n), 0) + 1 AS n FROM "
        "conflict_values WHERE conflict_id = ?1) AS m WHERE NOT EXISTS "
        "(SELECT 1 FROM conflict_values WHERE conflict_id = ?1 AND "
        "device_id = ?3 AND hlc = ?5 AND value = ?2)",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, collector, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, hlc, -1, SQLITE_STATIC);
    if (version > 0)
        sqlite3_bind_int64(st, 6, version);
    else
        sqlite3_bind_null(st, 6);
    sqlite3_bind_int64(st, 7, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int hub__conflict_winner(sqlite3 *db, int64_t id, hub_candidate *w)
{
    memset(w, 0, sizeof *w);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT n, value, hlc, device_id, collector, "
                                "coalesce(version, 0) FROM conflict_values "
                                "WHERE conflict_id = ? ORDER BY n",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    uint64_t best = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t h = 0;
        fs_hlc_parse(col(st, 2), &h);
        if (w->value && fs_hlc_cmp(h, col(st, 3), best, w->device) <= 0)
            continue;
        free(w->value);
        w->value = strdup(col(st, 1));
        if (!w->value) {
            rc = SQLITE_NOMEM;
            break;
        }
        best = h;
        w->n = sqlite3_column_int(st, 0);
        snprintf(w->hlc, sizeof w->hlc, "%s", col(st, 2));
        snprintf(w->device, sizeof w->device, "%s", col(st, 3));
        snprintf(w->collector, sizeof w->collector, "%s", col(st, 4));
        w->version = sqlite3_column_int64(st, 5);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(w->value);
        w->value = NULL;
        return rc;
    }
    return w->value ? SQLITE_OK : SQLITE_NOTFOUND;
}

int hub__conflict_set_version(sqlite3 *db, int64_t id, int n, int64_t version)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "UPDATE conflict_values SET version = ? "
                                "WHERE conflict_id = ? AND n = ?",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, version);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int(st, 3, n);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int hub__amend_conflict(sqlite3 *db, const char *device, const fs_submission *s,
                        fs_result *r, int64_t now, int *handled)
{
    *handled = 0;
    sqlite3_stmt *st = NULL;
    /* The newest revision, unless this very revision is stored (then
     * the usual duplicate/divergent rules answer). */
    int rc = sqlite3_prepare_v2(
        db,
        "SELECT rev, answers, device_id, collector, hlc, area FROM "
        "submissions WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM "
        "submissions WHERE id = ?1 AND rev = ?2 AND device_id = ?3) ORDER "
        "BY rev DESC LIMIT 1",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, s->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, s->rev);
    sqlite3_bind_text(st, 3, device, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW || sqlite3_column_int64(st, 0) == s->base_rev) {
        sqlite3_finalize(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    int64_t cur = sqlite3_column_int64(st, 0);
    char hlc[FS_HLC_TEXT_LEN + 1];
    fs_hlc_format(s->hlc, hlc);
    int64_t cid = 0;
    rc = hub__conflict_open(db, "submission", s->id, "", col(st, 5), now, &cid);
    if (rc == SQLITE_OK)
        rc = hub__conflict_add(db, cid, col(st, 1), col(st, 2), col(st, 3),
                               col(st, 4), cur, now);
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        rc = hub__conflict_add(db, cid, s->answers_json, device, s->collector,
                               hlc, 0, now);
    if (rc != SQLITE_OK)
        return rc;
    *handled = 1;
    r->status = FS_RES_DIVERGENT;
    snprintf(r->error, sizeof r->error, "conflict");
    snprintf(r->message, sizeof r->message,
             "submission %s was corrected on the hub (revision %lld) after "
             "revision %lld that this amendment is based on; both are kept "
             "as conflict #%lld for a hub admin to settle",
             s->id, (long long)cur, (long long)s->base_rev, (long long)cid);
    return SQLITE_OK;
}

/* ---- listing ------------------------------------------------------------ */

static cJSON *raw_or_string(const char *json)
{
    cJSON *v = cJSON_Parse(json);
    return v ? v : cJSON_CreateString(json);
}

/* Conflicts (open only unless all) within areas with id > after, oldest
 * first, at most limit (-1: all). */
static cJSON *conflicts_json(sqlite3 *db, int all, const char *areas,
                             int64_t after, int64_t limit)
{
    sqlite3_stmt *st = NULL, *vs = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT c.id, c.kind, c.ref, c.field, c.area, c.status, "
            "c.opened_ms, coalesce(c.resolved_by, ''), coalesce(c.resolution, "
            "''), coalesce(e.type, ''), coalesce(f.value, ''), "
            "coalesce(f.version, 0), (SELECT value FROM entity_fields n "
            "WHERE n.entity_id = c.ref AND n.name = 'name') FROM "
            "conflicts c LEFT JOIN entities e ON "
            "e.id = c.ref LEFT JOIN entity_fields f ON f.entity_id = c.ref "
            "AND f.name = c.field WHERE c.id > ?3 AND (?1 OR c.status = "
            "'open') AND (?2 = '*' OR instr(',' || ?2 || ',', ',' || "
            "c.area || ',') > 0) ORDER BY c.id LIMIT ?4",
            -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT v.n, v.value, v.device_id, coalesce(d.name, "
                           "''), v.collector, v.hlc, coalesce(v.version, 0), "
                           "v.received_ms FROM conflict_values v LEFT JOIN "
                           "devices d ON d.id = v.device_id WHERE "
                           "conflict_id = ? ORDER BY n",
                           -1, &vs, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    sqlite3_bind_int(st, 1, all);
    sqlite3_bind_text(st, 2, areas, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, after);
    sqlite3_bind_int64(st, 4, limit);
    cJSON *arr = cJSON_CreateArray();
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        int64_t id = sqlite3_column_int64(st, 0);
        const char *kind = col(st, 1);
        cJSON_AddNumberToObject(o, "id", (double)id);
        cJSON_AddStringToObject(o, "kind", kind);
        cJSON_AddStringToObject(
            o, strcmp(kind, "submission") == 0 ? "submission" : "entity",
            col(st, 2));
        if (strcmp(kind, "submission") != 0)
            cJSON_AddStringToObject(o, "type", col(st, 9));
        /* The entity's name, when it has one: what an admin knows it by. */
        if (sqlite3_column_type(st, 12) != SQLITE_NULL)
            cJSON_AddItemToObject(o, "name", raw_or_string(col(st, 12)));
        if (strcmp(kind, "field") == 0) {
            cJSON_AddStringToObject(o, "field", col(st, 3));
            cJSON *cur = cJSON_AddObjectToObject(o, "current");
            cJSON_AddItemToObject(cur, "value", raw_or_string(col(st, 10)));
            cJSON_AddNumberToObject(cur, "version",
                                    (double)sqlite3_column_int64(st, 11));
        }
        cJSON_AddStringToObject(o, "area", col(st, 4));
        cJSON_AddStringToObject(o, "status", col(st, 5));
        cJSON_AddNumberToObject(o, "opened_ms",
                                (double)sqlite3_column_int64(st, 6));
        if (strcmp(col(st, 5), "resolved") == 0) {
            cJSON_AddStringToObject(o, "resolved_by", col(st, 7));
            cJSON_AddItemToObject(o, "resolution", raw_or_string(col(st, 8)));
        }
        hub_candidate w;
        int64_t win_n = 0;
        if (hub__conflict_winner(db, id, &w) == SQLITE_OK) {
            win_n = w.n;
            free(w.value);
        }
        cJSON *vals = cJSON_AddArrayToObject(o, "values");
        sqlite3_reset(vs);
        sqlite3_bind_int64(vs, 1, id);
        while (sqlite3_step(vs) == SQLITE_ROW) {
            cJSON *v = cJSON_CreateObject();
            cJSON_AddNumberToObject(v, "n", sqlite3_column_int(vs, 0));
            cJSON_AddItemToObject(v, "value", raw_or_string(col(vs, 1)));
            cJSON_AddStringToObject(v, "device", col(vs, 2));
            cJSON_AddStringToObject(v, "device_name", col(vs, 3));
            cJSON_AddStringToObject(v, "collector", col(vs, 4));
            cJSON_AddStringToObject(v, "hlc", col(vs, 5));
            cJSON_AddNumberToObject(v, "version",
                                    (double)sqlite3_column_int64(vs, 6));
            cJSON_AddNumberToObject(v, "received_ms",
                                    (double)sqlite3_column_int64(vs, 7));
            /* Field conflicts: the provisional value is the highest
             * (HLC, device); delete conflicts keep the entity meanwhile;
             * submissions keep the hub's revision. */
            int prov = strcmp(kind, "field") == 0
                           ? sqlite3_column_int(vs, 0) == win_n
                       : strcmp(kind, "delete") == 0
                           ? strcmp(col(vs, 1), "\"keep\"") == 0
                           : sqlite3_column_int64(vs, 6) > 0;
            cJSON_AddBoolToObject(v, "provisional", prov);
            cJSON_AddItemToArray(vals, v);
        }
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(vs);
    return arr;
}

/* ---- resolving ---------------------------------------------------------- */

typedef struct conflict_row {
    int found;
    char kind[16];
    char ref[FS_UUID_LEN + 1];
    char field[FS_ID_MAX + 1];
    char area[FS_ID_MAX + 1];
    char status[16];
    char type[FS_ID_MAX + 1];
} conflict_row;

static int load_conflict(sqlite3 *db, int64_t id, conflict_row *c)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT c.kind, c.ref, c.field, c.area, "
                                "c.status, coalesce(e.type, '') FROM "
                                "conflicts c LEFT JOIN entities e ON e.id = "
                                "c.ref WHERE c.id = ?",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        c->found = 1;
        snprintf(c->kind, sizeof c->kind, "%s", col(st, 0));
        snprintf(c->ref, sizeof c->ref, "%s", col(st, 1));
        snprintf(c->field, sizeof c->field, "%s", col(st, 2));
        snprintf(c->area, sizeof c->area, "%s", col(st, 3));
        snprintf(c->status, sizeof c->status, "%s", col(st, 4));
        snprintf(c->type, sizeof c->type, "%s", col(st, 5));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The value of competitor n (owned), or NULL with *rc set. */
static char *candidate(sqlite3 *db, int64_t id, int n, int64_t *version,
                       char *device, size_t cap)
{
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT value, coalesce(version, 0), device_id "
                           "FROM conflict_values WHERE conflict_id = ? AND "
                           "n = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, n);
    if (sqlite3_step(st) == SQLITE_ROW) {
        out = strdup(col(st, 0));
        *version = sqlite3_column_int64(st, 1);
        snprintf(device, cap, "%s", col(st, 2));
    }
    sqlite3_finalize(st);
    return out;
}

/* A stamp above every competitor's, so devices order the resolution
 * after what it settles. */
static void hub_stamp(sqlite3 *db, int64_t id, char out[FS_HLC_TEXT_LEN + 1])
{
    uint64_t state = 0;
    hub_candidate w;
    if (hub__conflict_winner(db, id, &w) == SQLITE_OK) {
        fs_hlc_parse(w.hlc, &state);
        free(w.value);
    }
    fs_hlc_format(fs_hlc_tick(&state, fs_now_ms()), out);
}

/* Resolves the field conflict c with value (canonical JSON). */
static int resolve_field(sqlite3 *db, int64_t id, const conflict_row *c,
                         const char *value, const char *actor, int64_t now)
{
    hub_field cur;
    int rc = hub__entity_field(db, c->ref, c->field, &cur);
    free(cur.value);
    if (rc != SQLITE_OK)
        return rc;
    char hlc[FS_HLC_TEXT_LEN + 1];
    hub_stamp(db, id, hlc);
    rc = hub__entity_write(db, c->ref, c->field, cur.version + 1, cur.version,
                           value, hlc, "", actor, "resolution", now);
    return rc == SQLITE_OK ? hub__entity_log(db, "resolution", c->ref, id, now)
                           : rc;
}

/* Resolves a submission conflict by choosing the amendment: it becomes
 * the next revision on top of the hub's newest. */
static int resolve_submission(sqlite3 *db, const conflict_row *c,
                              const char *answers, const char *device,
                              int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db,
        "INSERT INTO submissions (id, rev, base_rev, form_id, form_version, "
        "area, device_id, collector, hlc, created_ms, received_ms, answers, "
        "digest) SELECT id, rev + 1, rev, form_id, form_version, area, ?2, "
        "collector, hlc, created_ms, ?3, ?4, ?5 FROM submissions WHERE id "
        "= ?1 ORDER BY rev DESC LIMIT 1",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    char digest[65];
    fs_sha256_hex(answers, strlen(answers), digest);
    sqlite3_bind_text(st, 1, c->ref, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, answers, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, digest, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Settles conflict id by choosing competitor choose (> 0) or writing
 * value (JSON, field conflicts only), inside the caller's transaction.
 * Returns SQLITE_OK; SQLITE_NOTFOUND / SQLITE_MISUSE with a sentence in
 * err (nothing changed); or a storage error. */
static int resolve(sqlite3 *db, int64_t id, int choose, const cJSON *value,
                   const char *actor, const char *areas, char *err,
                   size_t errlen)
{
    conflict_row c;
    int rc = load_conflict(db, id, &c);
    if (rc != SQLITE_OK)
        return rc;
    if (!c.found || !hub__scope_has(areas, c.area)) {
        snprintf(err, errlen, "no conflict #%lld", (long long)id);
        return SQLITE_NOTFOUND;
    }
    if (strcmp(c.status, "open") != 0) {
        snprintf(err, errlen, "conflict #%lld is already resolved",
                 (long long)id);
        return SQLITE_MISUSE;
    }
    if (value && strcmp(c.kind, "field") != 0) {
        snprintf(err, errlen,
                 "conflict #%lld is a %s conflict: choose one "
                 "of its values with --choose N",
                 (long long)id, c.kind);
        return SQLITE_MISUSE;
    }
    char *chosen = NULL, device[FS_UUID_LEN + 1] = "";
    int64_t version = 0;
    if (!value) {
        chosen = candidate(db, id, choose, &version, device, sizeof device);
        if (!chosen) {
            snprintf(err, errlen,
                     "conflict #%lld has no value %d; "
                     "`fieldsync-hub conflicts` lists them",
                     (long long)id, choose);
            return SQLITE_MISUSE;
        }
    } else {
        fs_problems p;
        fs_problems_init(&p);
        const fs_form *type = fs_entity_type(hub__entity_types(), c.type);
        if (!type || fs_entity_check_value(type, c.field, value, &p) != FS_OK) {
            fs_problems_format(&p, "; ", err, errlen);
            return SQLITE_MISUSE;
        }
        chosen = cJSON_PrintUnformatted(value);
        if (!chosen)
            return SQLITE_NOMEM;
    }
    int64_t now = (int64_t)fs_now_ms();
    if (strcmp(c.kind, "field") == 0) {
        rc = resolve_field(db, id, &c, chosen, actor, now);
    } else if (strcmp(c.kind, "delete") == 0) {
        if (strcmp(chosen, "\"delete\"") == 0) {
            char hlc[FS_HLC_TEXT_LEN + 1];
            hub_stamp(db, id, hlc);
            rc = hub__entity_tombstone(db, c.ref, "", actor, hlc, now);
        } else {
            rc = hub__entity_log(db, "resolution", c.ref, id, now);
        }
    } else if (version == 0) {
        /* The amendment wins; the hub's correction stays as history. */
        rc = resolve_submission(db, &c, chosen, device, now);
    }
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "UPDATE conflicts SET status = 'resolved', "
                                "resolved_ms = ?, resolved_by = ?, "
                                "resolution = ? WHERE id = ?",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, chosen, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, id);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "conflict", (double)id);
        cJSON_AddStringToObject(d, "kind", c.kind);
        cJSON_AddStringToObject(d, "ref", c.ref);
        cJSON_AddStringToObject(d, "field", c.field);
        if (value)
            cJSON_AddItemToObject(d, "value", cJSON_Duplicate(value, 1));
        else
            cJSON_AddNumberToObject(d, "choose", choose);
        rc = hub__audit(db, actor, "conflict.resolve", d);
    }
    free(chosen);
    return rc;
}

/* ---- duplicates ---------------------------------------------------------- */

/* Newest revisions of submissions whose form declares a dedupe key,
 * grouped by key; groups of two or more are possible duplicates. Nothing
 * is dropped or changed: this only lists. */
static cJSON *duplicates_json(sqlite3 *db, int all, const char *areas)
{
    (void)all; /* every group is listed: nothing is ever settled here */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT s.id, s.rev, s.form_id, s.form_version, s.area, "
            "s.device_id, s.collector, s.received_ms, s.answers, f.definition "
            "FROM submissions s JOIN forms f ON f.id = s.form_id AND "
            "f.version = s.form_version WHERE s.rev = (SELECT max(rev) FROM "
            "submissions WHERE id = s.id) AND instr(f.definition, "
            "'\"dedupe_key\"') > 0 AND (?1 = '*' OR instr(',' || ?1 || ',', "
            "',' || s.area || ',') > 0) ORDER BY s.form_id, s.rowid",
            -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, areas, -1, SQLITE_STATIC);
    cJSON *groups = cJSON_CreateObject(); /* key -> array of submissions */
    fs_form *form = NULL;
    char form_key[FS_ID_MAX + 24] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        char fk[FS_ID_MAX + 24];
        snprintf(fk, sizeof fk, "%s@%lld", col(st, 2),
                 (long long)sqlite3_column_int64(st, 3));
        if (strcmp(fk, form_key) != 0) {
            fs_form_free(form);
            form = NULL;
            fs_form_parse(col(st, 9), (size_t)sqlite3_column_bytes(st, 9), 0,
                          &form, NULL);
            snprintf(form_key, sizeof form_key, "%s", fk);
        }
        cJSON *answers = cJSON_Parse(col(st, 8));
        char key[1024];
        if (!form || !answers ||
            fs_answers_dedupe_key(form, answers, key, sizeof key) != FS_OK ||
            !key[0]) {
            cJSON_Delete(answers);
            continue;
        }
        cJSON_Delete(answers);
        cJSON *list = cJSON_GetObjectItemCaseSensitive(groups, key);
        if (!list)
            list = cJSON_AddArrayToObject(groups, key);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", col(st, 0));
        cJSON_AddNumberToObject(o, "rev", (double)sqlite3_column_int64(st, 1));
        cJSON_AddStringToObject(o, "area", col(st, 4));
        cJSON_AddStringToObject(o, "device", col(st, 5));
        cJSON_AddStringToObject(o, "collector", col(st, 6));
        cJSON_AddNumberToObject(o, "received_ms",
                                (double)sqlite3_column_int64(st, 7));
        cJSON_AddItemToArray(list, o);
    }
    sqlite3_finalize(st);
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

/* ---- command line ---------------------------------------------------------- */

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

typedef cJSON *(*list_fn)(sqlite3 *db, int all, const char *areas);

/* Reads a list for the command line; prints it as {"key": [...]} when
 * json is set. Returns the list for the caller to print as text, or NULL
 * when there is nothing more to do (*status says how it ended). */
static cJSON *cli_list(const char *db_path, list_fn fn, int all,
                       const char *key, int json, FILE *out, int *status)
{
    *status = 1;
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return NULL;
    cJSON *arr = fn(db, all, "*");
    sqlite3_close(db);
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

/* Every conflict, for the command line (no paging there). */
static cJSON *every_conflict(sqlite3 *db, int all, const char *areas)
{
    return conflicts_json(db, all, areas, 0, -1);
}

int hub_conflicts(const char *db_path, int all, int json, FILE *out)
{
    int status;
    cJSON *arr =
        cli_list(db_path, every_conflict, all, "conflicts", json, out, &status);
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

int hub_resolve(const char *db_path, const char *id_text, const char *value,
                const char *choose, FILE *out)
{
    int64_t id = 0, n = 0;
    if (parse_id(id_text, &id) != 0) {
        fprintf(stderr,
                "fieldsync-hub: '%s' is not a conflict number; "
                "`fieldsync-hub conflicts` lists them\n",
                id_text);
        return 2;
    }
    if ((value != NULL) == (choose != NULL)) {
        fprintf(stderr, "fieldsync-hub: give exactly one of --value V or "
                        "--choose N\n");
        return 2;
    }
    if (choose && parse_id(choose, &n) != 0) {
        fprintf(stderr,
                "fieldsync-hub: --choose takes the number of a "
                "listed value (1, 2, ...), not '%s'\n",
                choose);
        return 2;
    }
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    char err[512] = "";
    cJSON *v = NULL;
    int rc = SQLITE_OK;
    if (value) {
        /* The value is typed as on a device: by the field's type. */
        conflict_row c;
        rc = load_conflict(db, id, &c);
        const fs_form *type = rc == SQLITE_OK
                                  ? fs_entity_type(hub__entity_types(), c.type)
                                  : NULL;
        fs_problems p;
        fs_problems_init(&p);
        if (rc == SQLITE_OK && c.found && type &&
            strcmp(c.kind, "field") == 0 &&
            fs_entity_value_parse(type, c.field, value, &v, &p) != FS_OK) {
            fs_problems_format(&p, "; ", err, sizeof err);
            rc = SQLITE_MISUSE;
        }
        if (rc == SQLITE_OK && !v)
            v = cJSON_CreateString(value); /* resolve() says what is wrong */
    }
    if (rc == SQLITE_OK)
        rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? SQLITE_OK : SQLITE_ERROR;
    if (rc == SQLITE_OK)
        rc = resolve(db, id, (int)n, v, "cli", "*", err, sizeof err);
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
    cJSON *arr =
        cli_list(db_path, duplicates_json, 1, "duplicates", json, out, &status);
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

/* ---- JSON API ----------------------------------------------------------- */

static const char *const admin_only[] = {"admin", NULL};

int hub__handle_admin_conflicts(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    hub_device who;
    int bad = hub__api_begin(conn, "GET", &who, admin_only);
    if (bad)
        return bad;
    long long all = 0, after = 0, limit = 0;
    if (hub__query_int(conn, "all", 0, 0, 1, &all) != 0 ||
        hub__query_int(conn, "after", 0, 0, INT64_MAX, &after) != 0 ||
        hub__query_int(conn, "limit", 100, 1, 1000, &limit) != 0)
        return 400;
    cJSON *arr =
        conflicts_json(hub__db(conn), (int)all, who.areas, after, limit);
    if (!arr) {
        hub__reply_error(conn, 503, "storage", "cannot read the conflicts");
        return 503;
    }
    /* The cursor of the next page: the last id of this one. */
    const cJSON *last = cJSON_GetArrayItem(arr, cJSON_GetArraySize(arr) - 1);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "conflicts", arr);
    cJSON_AddNumberToObject(
        root, "next",
        last ? cJSON_GetObjectItemCaseSensitive(last, "id")->valuedouble
             : (double)after);
    hub__reply_obj(conn, 200, root);
    return 200;
}

int hub__handle_admin_resolve(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    hub_device who;
    int bad = hub__api_begin(conn, "POST", &who, admin_only);
    if (bad)
        return bad;
    cJSON *req = NULL;
    if (hub__read_json(conn, 128 * 1024, &req) != 0)
        return 400;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "conflict");
    const cJSON *choose = cJSON_GetObjectItemCaseSensitive(req, "choose");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(req, "value");
    if (!cJSON_IsObject(req) || !cJSON_IsNumber(id) || id->valuedouble < 1 ||
        id->valuedouble > 1e15 ||
        id->valuedouble != (double)(int64_t)id->valuedouble ||
        (choose != NULL) == (value != NULL) ||
        (choose && (!cJSON_IsNumber(choose) || choose->valuedouble < 1 ||
                    choose->valuedouble > 1e6 ||
                    choose->valuedouble != (int)choose->valuedouble))) {
        cJSON_Delete(req);
        hub__reply_error(conn, 400, "malformed",
                         "send {\"conflict\": N, \"choose\": N} or "
                         "{\"conflict\": N, \"value\": V}");
        return 400;
    }
    char actor[FS_NAME_MAX + 8], err[512] = "";
    snprintf(actor, sizeof actor, "token:%s", who.name);
    sqlite3 *db = hub__db(conn);
    pthread_mutex_lock(&h->write_lock);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = resolve(db, (int64_t)id->valuedouble,
                     choose ? (int)choose->valuedouble : 0, value, actor,
                     who.areas, err, sizeof err);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&h->write_lock);
    int status = 200;
    if (rc == SQLITE_NOTFOUND) {
        hub__reply_error(conn, 404, "not_found", "%s", err);
        status = 404;
    } else if (rc == SQLITE_MISUSE) {
        hub__reply_error(conn, 400, "bad_parameter", "%s", err);
        status = 400;
    } else if (rc != SQLITE_OK) {
        hub__reply_error(conn, 503, "storage", "could not resolve: %s",
                         sqlite3_errstr(rc));
        status = 503;
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "resolved", id->valuedouble);
        hub__reply_obj(conn, 200, o);
    }
    cJSON_Delete(req);
    return status;
}

int hub__handle_admin_duplicates(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    hub_device who;
    int bad = hub__api_begin(conn, "GET", &who, admin_only);
    if (bad)
        return bad;
    cJSON *arr = duplicates_json(hub__db(conn), 1, who.areas);
    if (!arr) {
        hub__reply_error(conn, 503, "storage", "cannot read submissions");
        return 503;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "duplicates", arr);
    hub__reply_obj(conn, 200, root);
    return 200;
}
