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
#include "conflicts.h"
#include "errors.h"
#include "stmtcache.h"
#include "audit.h"
#include "cli.h"
#include "db.h"
#include "entity.h"
#include "http.h"
#include "scope.h"
#include "server.h"

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
        "collector, hlc, version, received_ms) SELECT ?1, coalesce(max(n), "
        "0) + 1, ?2, ?3, ?4, ?5, ?6, ?7 FROM conflict_values WHERE "
        "conflict_id = ?1 AND NOT EXISTS (SELECT 1 FROM conflict_values "
        "WHERE conflict_id = ?1 AND device_id = ?3 AND hlc = ?5 AND value "
        "= ?2)",
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

int hub__amend_conflict(sqlite3 *db, const char *device, const fs_submission *s,
                        fs_result *r, int64_t now, int *handled)
{
    *handled = 0;
    /* The newest revision, unless this very revision is stored (then
     * the usual duplicate/divergent rules answer). */
    int rc;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT rev, answers, device_id, collector, hlc, area FROM "
        "submissions WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM "
        "submissions WHERE id = ?1 AND rev = ?2 AND device_id = ?3) ORDER "
        "BY rev DESC LIMIT 1",
        HUB_ARGS(HUB_TEXT(s->id), HUB_INT(s->rev), HUB_TEXT(device)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc <= 0 || sqlite3_column_int64(st, 0) == s->base_rev) {
        hub__sql_end(st);
        return rc < 0 ? rc : HUB_OK;
    }
    int64_t cur = sqlite3_column_int64(st, 0);
    char hlc[FS_HLC_TEXT_LEN + 1];
    fs_hlc_format(s->hlc, hlc);
    int64_t cid = 0;
    rc = hub__conflict_open(db, "submission", s->id, "", hub__col(st, 5), now,
                            &cid);
    if (rc == HUB_OK)
        rc = hub__conflict_add(db, cid, hub__col(st, 1), hub__col(st, 2),
                               hub__col(st, 3), hub__col(st, 4), cur, now);
    hub__sql_end(st);
    if (rc == HUB_OK)
        rc = hub__conflict_add(db, cid, s->answers_json, device, s->collector,
                               hlc, 0, now);
    if (rc != HUB_OK)
        return rc;
    *handled = 1;
    r->status = FS_RES_DIVERGENT;
    snprintf(r->error, sizeof r->error, "conflict");
    snprintf(r->message, sizeof r->message,
             "submission %s was corrected on the hub (revision %lld) after "
             "revision %lld that this amendment is based on; both are kept "
             "as conflict #%lld for a hub admin to settle",
             s->id, (long long)cur, (long long)s->base_rev, (long long)cid);
    return HUB_OK;
}

/* ---- listing ------------------------------------------------------------ */

static cJSON *raw_or_string(const char *json)
{
    cJSON *v = cJSON_Parse(json);
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
        "'open') AND (?2 = '*' OR instr(',' || ?2 || ',', ',' || "
        "c.area || ',') > 0) ORDER BY c.id LIMIT ?4",
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

/* ---- resolving ---------------------------------------------------------- */

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
static char *candidate(sqlite3 *db, int64_t id, int n, int64_t *version,
                       char *device, size_t cap)
{
    int rc;
    char *out = NULL;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT value, coalesce(version, 0), "
                                "device_id FROM conflict_values WHERE "
                                "conflict_id = ? AND n = ?",
                                HUB_ARGS(HUB_INT(id), HUB_INT(n)), &rc);
    if (st && hub__sql_step(st) > 0) {
        out = strdup(hub__col(st, 0));
        *version = sqlite3_column_int64(st, 1);
        snprintf(device, cap, "%s", hub__col(st, 2));
        hub__sql_end(st);
    }
    return out;
}

/* A stamp above every competitor's, so devices order the resolution
 * after what it settles. */
static void hub_stamp(sqlite3 *db, int64_t id, char out[FS_HLC_TEXT_LEN + 1])
{
    uint64_t state = 0;
    hub_candidate w;
    if (hub__conflict_winner(db, id, &w) == HUB_OK) {
        fs_hlc_parse(w.hlc, &state);
        free(w.value);
    }
    fs_hlc_format(fs_hlc_tick(&state, fs_now_ms()), out);
}

/* Resolves the field conflict c with value (canonical JSON). */
static int resolve_field(sqlite3 *db, int64_t id, const hub_conflict *c,
                         const char *value, const char *actor, int64_t now)
{
    hub_field cur;
    int rc = hub__entity_field(db, c->ref, c->field, &cur);
    free(cur.value);
    if (rc != HUB_OK)
        return rc;
    char hlc[FS_HLC_TEXT_LEN + 1];
    hub_stamp(db, id, hlc);
    rc = hub__entity_write(db, c->ref, c->field, cur.version + 1, cur.version,
                           value, hlc, "", actor, "resolution", now);
    return rc == HUB_OK ? hub__entity_log(db, "resolution", c->ref, id, now)
                        : rc;
}

/* Resolves a submission conflict by choosing the amendment: it becomes
 * the next revision on top of the hub's newest. */
static int resolve_submission(sqlite3 *db, const hub_conflict *c,
                              const char *answers, const char *device,
                              int64_t now)
{
    char digest[65];
    fs_sha256_hex(answers, strlen(answers), digest);
    return hub__sql_run(
        db,
        "INSERT INTO submissions (id, rev, base_rev, form_id, form_version, "
        "area, device_id, collector, hlc, created_ms, received_ms, answers, "
        "digest) SELECT id, rev + 1, rev, form_id, form_version, area, ?2, "
        "collector, hlc, created_ms, ?3, ?4, ?5 FROM submissions WHERE id "
        "= ?1 ORDER BY rev DESC LIMIT 1",
        HUB_ARGS(HUB_TEXT(c->ref), HUB_TEXT(device), HUB_INT(now),
                 HUB_TEXT(answers), HUB_TEXT(digest)));
}

int hub__resolve(sqlite3 *db, int64_t id, int choose, const cJSON *value,
                 const char *actor, const char *areas, char *err, size_t errlen)
{
    hub_conflict c;
    int rc = hub__conflict_load(db, id, &c);
    if (rc != HUB_OK)
        return rc;
    if (!c.found || !hub__scope_has(areas, c.area)) {
        snprintf(err, errlen, "no conflict #%lld", (long long)id);
        return HUB_ENOTFOUND;
    }
    if (strcmp(c.status, "open") != 0)
        return hub__errf(err, errlen, "conflict #%lld is already resolved",
                         (long long)id);
    if (value && strcmp(c.kind, "field") != 0)
        return hub__errf(err, errlen,
                         "conflict #%lld is a %s conflict: choose one "
                         "of its values with --choose N",
                         (long long)id, c.kind);
    char *chosen = NULL, device[FS_UUID_LEN + 1] = "";
    int64_t version = 0;
    if (!value) {
        chosen = candidate(db, id, choose, &version, device, sizeof device);
        if (!chosen)
            return hub__errf(err, errlen,
                             "conflict #%lld has no value %d; "
                             "`fieldsync-hub conflicts` lists them",
                             (long long)id, choose);
    } else {
        fs_problems p;
        fs_problems_init(&p);
        const fs_form *type = fs_entity_type(hub__entity_types(), c.type);
        if (!type || fs_entity_check_value(type, c.field, value, &p) != FS_OK) {
            fs_problems_format(&p, "; ", err, errlen);
            return HUB_EBADINPUT;
        }
        chosen = cJSON_PrintUnformatted(value);
        if (!chosen)
            return HUB_ENOMEM;
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
    if (rc == HUB_OK)
        rc = hub__sql_run(db,
                          "UPDATE conflicts SET status = 'resolved', "
                          "resolved_ms = ?, resolved_by = ?, resolution = ? "
                          "WHERE id = ?",
                          HUB_ARGS(HUB_INT(now), HUB_TEXT(actor),
                                   HUB_TEXT(chosen), HUB_INT(id)));
    if (rc == HUB_OK) {
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
    cJSON *answers = cJSON_Parse(hub__col(st, 8));
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
        "'\"dedupe_key\"') > 0 AND (?1 = '*' OR instr(',' || ?1 || ',', "
        "',' || s.area || ',') > 0) ORDER BY s.form_id, s.rowid",
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
        hub__conflicts_json(hub__db(conn), (int)all, who.areas, after, limit);
    if (!arr)
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "cannot read the conflicts");
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
        return hub__reply_err(conn, HUB_EBADINPUT, "malformed",
                              "send {\"conflict\": N, \"choose\": N} or "
                              "{\"conflict\": N, \"value\": V}");
    }
    char actor[FS_NAME_MAX + 8], err[512] = "";
    snprintf(actor, sizeof actor, "token:%s", who.name);
    sqlite3 *db = hub__db(conn);
    int rc = hub__tx_begin(db, &h->write_lock);
    if (rc == HUB_OK)
        rc =
            hub__tx_end(db, &h->write_lock,
                        hub__resolve(db, (int64_t)id->valuedouble,
                                     choose ? (int)choose->valuedouble : 0,
                                     value, actor, who.areas, err, sizeof err));
    int status;
    if (rc == HUB_ENOTFOUND)
        status = hub__reply_err(conn, rc, "not_found", "%s", err);
    else if (rc == HUB_EBADINPUT)
        status = hub__reply_err(conn, rc, "bad_parameter", "%s", err);
    else if (rc != HUB_OK)
        status = hub__reply_err(conn, rc, "storage", "could not resolve: %s",
                                hub__storage_detail(rc));
    else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "resolved", id->valuedouble);
        hub__reply_obj(conn, 200, o);
        status = 200;
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
    cJSON *arr = hub__duplicates_json(hub__db(conn), who.areas);
    if (!arr)
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "cannot read submissions");
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "duplicates", arr);
    hub__reply_obj(conn, 200, root);
    return 200;
}
