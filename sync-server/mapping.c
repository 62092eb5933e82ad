/*
 * mapping.c - waves, quotas and coverage of the mapping dataset: the
 * checks and queries both the CLI and the admin API use.
 *
 * Functions here return HUB_OK, HUB_EBADINPUT with a message for people
 * in err (nothing changed), or a storage error (errors.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs_form.h"
#include "mapping.h"
#include "forms.h"
#include "stmtcache.h"
#include "audit.h"
#include "errors.h"

#define DAY_MS (24LL * 3600 * 1000)

/* "YYYY-MM-DD" -> milliseconds at 00:00 UTC of that day. 0, or -1 when
 * not a date. */
static int parse_date(const char *s, int64_t *ms)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
                 (s[3] - '0') - 1900;
    tm.tm_mon = (s[5] - '0') * 10 + (s[6] - '0') - 1;
    tm.tm_mday = (s[8] - '0') * 10 + (s[9] - '0');
    int mon = tm.tm_mon, mday = tm.tm_mday;
    time_t t = timegm(&tm);
    /* timegm normalises 2026-02-30 to March: refuse what moved. */
    if (t == (time_t)-1 || tm.tm_mon != mon || tm.tm_mday != mday ||
        tm.tm_year < 70)
        return -1;
    *ms = (int64_t)t * 1000;
    return 0;
}

int hub__date_ms(const char *s, int64_t *ms)
{
    return parse_date(s, ms);
}

/* Queues the sub-quotas of devices (their current target and their
 * wave's dates) of wave (or the one quota id, when wave is NULL) for
 * those devices to pull (kind "quota"), so that they count offline. */
static int log_quotas(sqlite3 *db, const char *wave, int64_t id)
{
#define LOG_QUOTAS                                                             \
    "INSERT INTO change_log (kind, ref, payload, created_ms, device_id) "      \
    "SELECT 'quota', 'quota:' || q.id, json_object('id', q.id, 'area', "       \
    "q.area, 'wave', q.wave, 'form', q.form_id, 'stratum', "                   \
    "json(q.stratum), 'target', q.target, 'start_ms', w.start_ms, "            \
    "'end_ms', w.end_ms), ?2, q.device_id FROM quotas q JOIN waves w ON "      \
    "w.name = q.wave WHERE q.device_id <> '' AND "
    if (wave)
        return hub__sql_run(db, LOG_QUOTAS "q.wave = ?1",
                            HUB_ARGS(HUB_TEXT(wave), HUB_INT(fs_now_ms())));
    return hub__sql_run(db, LOG_QUOTAS "q.id = ?1",
                        HUB_ARGS(HUB_INT(id), HUB_INT(fs_now_ms())));
#undef LOG_QUOTAS
}

/* 1 when a row answers q with v bound as ?1, 0 when none, or a storage
 * error. */
static int exists(sqlite3 *db, const char *q, const char *v)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db, q, HUB_ARGS(HUB_TEXT(v)), &rc);
    if (st && (rc = hub__sql_step(st)) > 0)
        hub__sql_end(st);
    return rc;
}

int hub__row_exists(sqlite3 *db, const char *q, const char *v)
{
    return exists(db, q, v);
}

int hub__wave_add(sqlite3 *db, const char *name, const char *title,
                  const char *start, const char *end, const char *actor,
                  char *err, size_t cap)
{
    int64_t s_ms = 0, e_ms = 0;
    if (!name || !fs_valid_area_code(name))
        return hub__errf(
            err, cap,
            "the wave needs a name of letters, digits, '.', '_' or "
            "'-' (e.g. baseline, follow-up-3m), not '%s'",
            name);
    if (parse_date(start, &s_ms) != 0)
        return hub__errf(err, cap,
                         "--start must be a date YYYY-MM-DD, not '%s'", start);
    if (parse_date(end, &e_ms) != 0)
        return hub__errf(err, cap, "--end must be a date YYYY-MM-DD, not '%s'",
                         end);
    e_ms += DAY_MS; /* the end date is inclusive */
    if (s_ms >= e_ms)
        return hub__errf(err, cap, "the wave ends before it starts (%s)", end);
    if (title && !fs_valid_name(title))
        return hub__errf(err, cap,
                         "--title must be printable text of 1 to 128 "
                         "bytes");
    int rc;
    sqlite3_stmt *st =
        hub__sql(db,
                 "SELECT name, start_date, end_date FROM "
                 "waves WHERE start_ms < ?2 AND ?1 < end_ms "
                 "AND name <> ?3",
                 HUB_ARGS(HUB_INT(s_ms), HUB_INT(e_ms), HUB_TEXT(name)), &rc);
    if (st && (rc = hub__sql_step(st)) > 0) {
        snprintf(err, cap,
                 "wave %s overlaps wave %s (%s to %s); waves may not "
                 "overlap, so that each date belongs to one wave",
                 name, hub__col(st, 0), hub__col(st, 1), hub__col(st, 2));
        hub__sql_end(st);
        return HUB_EBADINPUT;
    }
    if (rc == HUB_OK)
        rc =
            hub__sql_run(db,
                         "INSERT INTO waves (name, title, start_date, "
                         "end_date, start_ms, end_ms, created_ms) VALUES "
                         "(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) "
                         "DO UPDATE SET title = ?2, start_date = ?3, "
                         "end_date = ?4, start_ms = ?5, end_ms = ?6",
                         HUB_ARGS(HUB_TEXT(name), HUB_TEXT(title ? title : ""),
                                  HUB_TEXT(start), HUB_TEXT(end), HUB_INT(s_ms),
                                  HUB_INT(e_ms), HUB_INT(fs_now_ms())));
    /* Devices count their sub-quotas by the wave's dates: send them the
     * new ones. */
    if (rc == HUB_OK)
        rc = log_quotas(db, name, 0);
    if (rc != HUB_OK)
        return rc;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "wave", name);
    cJSON_AddStringToObject(d, "start", start);
    cJSON_AddStringToObject(d, "end", end);
    return hub__audit(db, actor, "wave.set", d);
}

int hub__wave_set(sqlite3 *db, const char *wave, const char *id,
                  const char *actor)
{
    return hub__sql_run(db,
                        "INSERT INTO wave_assignments (submission_id, wave, "
                        "assigned_ms, actor) VALUES (?1, ?2, ?3, ?4) ON "
                        "CONFLICT (submission_id) DO UPDATE SET wave = ?2, "
                        "assigned_ms = ?3, actor = ?4",
                        HUB_ARGS(HUB_TEXT(id), HUB_TEXT(wave),
                                 HUB_INT(fs_now_ms()), HUB_TEXT(actor)));
}

int hub__wave_assign(sqlite3 *db, const char *wave, const char *id,
                     const char *actor, char *err, size_t cap)
{
    if (!id || !fs_valid_uuid(id))
        return hub__errf(err, cap, "'%s' is not a submission id", id);
    int w = wave && fs_valid_area_code(wave)
                ? exists(db, "SELECT 1 FROM waves WHERE name = ?1", wave)
                : 0;
    int s = exists(db, "SELECT 1 FROM submissions WHERE id = ?1", id);
    if (w < 0 || s < 0)
        return w < 0 ? w : s;
    if (!w)
        return hub__errf(err, cap,
                         "no wave '%s'; see `fieldsync-hub wave list`", wave);
    if (!s)
        return hub__errf(err, cap, "no submission %s at this hub", id);
    int rc = hub__wave_set(db, wave, id, actor);
    if (rc != HUB_OK)
        return rc;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "submission", id);
    cJSON_AddStringToObject(d, "wave", wave);
    return hub__audit(db, actor, "wave.assign", d);
}

cJSON *hub__waves_json(sqlite3 *db)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT w.name, w.title, w.start_date, "
                                "w.end_date, (SELECT coalesce(sum(c.n), 0) "
                                "FROM agg_answers c WHERE c.form_id IN "
                                "(SELECT id FROM forms) AND c.field = '' AND "
                                "c.wave = w.name) FROM waves w ORDER BY "
                                "w.start_ms",
                                NULL, 0, &rc);
    if (!st)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "waves");
    while (hub__sql_step(st) > 0) {
        cJSON *o = cJSON_CreateObject();
        static const char *const keys[] = {"wave", "title", "start", "end"};
        for (int c = 0; c < 4; c++)
            cJSON_AddStringToObject(o, keys[c], hub__col(st, c));
        cJSON_AddNumberToObject(o, "submissions",
                                (double)sqlite3_column_int64(st, 4));
        cJSON_AddItemToArray(arr, o);
    }
    return root;
}

const char *const hub__wave_cols[] = {"wave", "title",       "start",
                                      "end",  "submissions", NULL};

/* 1 when fld is a select_one field with choice code v. */
static int has_choice(const fs_field *fld, const char *v)
{
    for (size_t i = 0; i < fs_field_choice_count(fld); i++)
        if (strcmp(fs_field_choice(fld, i, NULL, NULL), v) == 0)
            return 1;
    return 0;
}

#define STRATUM_MAX 8

typedef struct pair {
    const char *k, *v;
} pair;

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const pair *)a)->k, ((const pair *)b)->k);
}

/* "gender=woman,age_band=18-24" -> canonical JSON object, keys sorted so
 * that one stratum has one spelling (UNIQUE then catches a quota set
 * twice), after checking each field is a select_one of form f with that
 * choice. */
static int parse_stratum(const fs_form *f, const char *in, char *out,
                         size_t outcap, char *err, size_t cap)
{
    char buf[512];
    pair p[STRATUM_MAX];
    size_t n = 0;
    if (strlen(in) >= sizeof buf)
        return hub__errf(err, cap, "--stratum is too long");
    snprintf(buf, sizeof buf, "%s", in);
    char *save = NULL;
    for (char *part = strtok_r(buf, ",", &save); part;
         part = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(part, '=');
        if (!eq)
            return hub__errf(
                err, cap,
                "--stratum takes FIELD=VALUE pairs joined by "
                "commas, e.g. gender=woman,age_band=18-24; got '%s'",
                part);
        *eq = '\0';
        const fs_field *fld = fs_form_field_named(f, part);
        if (!fld || fs_field_type_of(fld) != FS_FIELD_SELECT_ONE)
            return hub__errf(err, cap,
                             "--stratum: '%s' is not a select_one field of the "
                             "form",
                             part);
        if (fs_field_flags(fld) & FS_FIELD_SEALED)
            return hub__errf(err, cap,
                             "--stratum: '%s' is sealed: neither the hub nor "
                             "a device can count by it after finalize",
                             part);
        if (!has_choice(fld, eq + 1)) {
            snprintf(err, cap, "--stratum: '%s' is not a choice of %s", eq + 1,
                     part);
            return HUB_EBADINPUT;
        }
        for (size_t i = 0; i < n; i++)
            if (strcmp(p[i].k, part) == 0)
                return hub__errf(err, cap, "--stratum names %s twice", part);
        if (n == STRATUM_MAX)
            return hub__errf(err, cap, "--stratum takes at most 8 fields");
        p[n].k = part;
        p[n++].v = eq + 1;
    }
    qsort(p, n, sizeof p[0], pair_cmp);
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++)
        cJSON_AddStringToObject(o, p[i].k, p[i].v);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!t || strlen(t) >= outcap) {
        free(t);
        return hub__errf(err, cap, "--stratum is too long");
    }
    snprintf(out, outcap, "%s", t);
    free(t);
    return 0;
}

int hub__quota_set(sqlite3 *db, const hub_quota *q, const char *actor,
                   char *err, size_t cap)
{
    if (!q->area || !fs_valid_area_code(q->area))
        return hub__errf(err, cap, "--area must be an area code, not '%s'",
                         q->area);
    if (!q->form || !fs_valid_form_id(q->form))
        return hub__errf(err, cap, "--form must be a form id, not '%s'",
                         q->form);
    if (q->target < 0 || q->target > 10000000)
        return hub__errf(err, cap,
                         "--target must be a count from 0 to 10000000");
    int w = q->wave && fs_valid_area_code(q->wave)
                ? exists(db, "SELECT 1 FROM waves WHERE name = ?1", q->wave)
                : 0;
    if (w < 0)
        return w;
    if (!w)
        return hub__errf(err, cap,
                         "no wave '%s'; add it first with `fieldsync-hub wave "
                         "add`",
                         q->wave);
    const char *dev = q->device ? q->device : "";
    if (dev[0]) {
        int d = fs_valid_uuid(dev)
                    ? exists(db, "SELECT 1 FROM devices WHERE id = ?1", dev)
                    : 0;
        if (d < 0)
            return d;
        if (!d)
            return hub__errf(err, cap,
                             "no device %s; see `fieldsync-hub devices`", dev);
    }
    fs_form *f = hub__form_latest(db, q->form);
    if (!f)
        return hub__errf(err, cap, "no published form '%s'", q->form);
    char stratum[600] = "{}";
    int rc = 0;
    if (q->stratum && q->stratum[0])
        rc = parse_stratum(f, q->stratum, stratum, sizeof stratum, err, cap);
    fs_form_free(f);
    if (rc != 0)
        return rc;
    rc = hub__sql_run(db,
                      "INSERT INTO quotas (area, wave, form_id, stratum, "
                      "device_id, target, updated_ms) VALUES (?1, ?2, ?3, "
                      "?4, ?5, ?6, ?7) ON CONFLICT (area, wave, form_id, "
                      "stratum, device_id) DO UPDATE SET target = ?6, "
                      "updated_ms = ?7",
                      HUB_ARGS(HUB_TEXT(q->area), HUB_TEXT(q->wave),
                               HUB_TEXT(q->form), HUB_TEXT(stratum),
                               HUB_TEXT(dev), HUB_INT(q->target),
                               HUB_INT(fs_now_ms())));
    if (rc != HUB_OK)
        return rc;
    if (dev[0]) {
        sqlite3_stmt *st = hub__sql(
            db,
            "SELECT id FROM quotas WHERE area = ? AND "
            "wave = ? AND form_id = ? AND stratum = "
            "? AND device_id = ?",
            HUB_ARGS(HUB_TEXT(q->area), HUB_TEXT(q->wave), HUB_TEXT(q->form),
                     HUB_TEXT(stratum), HUB_TEXT(dev)),
            &rc);
        if (!st || (rc = hub__sql_step(st)) <= 0)
            return rc < 0 ? rc : HUB_ESTORAGE; /* stored a moment ago */
        int64_t id = sqlite3_column_int64(st, 0);
        hub__sql_end(st);
        rc = log_quotas(db, NULL, id);
        if (rc != HUB_OK)
            return rc;
    }
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "area", q->area);
    cJSON_AddStringToObject(d, "wave", q->wave);
    cJSON_AddStringToObject(d, "form", q->form);
    cJSON_AddStringToObject(d, "stratum", stratum);
    cJSON_AddStringToObject(d, "device", dev);
    cJSON_AddNumberToObject(d, "target", (double)q->target);
    return hub__audit(db, actor, "quota.set", d);
}

/* {"gender":"woman","age_band":"18-24"} -> "age_band=18-24,gender=woman"
 * (the stored object is sorted already). */
static void stratum_text(const char *json, char *out, size_t cap)
{
    cJSON *o = fs_json_parse_stored(json);
    size_t len = 0;
    out[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        if (!cJSON_IsString(it))
            continue;
        int n = snprintf(out + len, cap - len, "%s%s=%s", len ? "," : "",
                         it->string, it->valuestring);
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
    cJSON_Delete(o);
}

/* SQL that keeps rows whose column area is in the scope bound as ?1. */
#define AREA_IN_SCOPE(col) "hub_area_in(?1, " col ")"

/* Quotas with what was collected toward each, from the aggregates
 * (schema/hub-10.sql). A quota on an area counts what was recorded in it
 * and in every area below it (sub: each quota's area with its
 * descendants in the registry). A quota without a stratum, or with one
 * field in it, sums the counts per answer; one of several fields sums the
 * cells (counted submissions per form x wave x area x device x kept
 * answers) where no field of the stratum differs in the answers. */
static const char coverage_sql[] =
    "WITH RECURSIVE a(code, parent) AS MATERIALIZED (SELECT code, parent "
    "FROM mapping_areas), sub(top, code) AS (SELECT DISTINCT area, area "
    "FROM quotas UNION SELECT sub.top, a.code FROM sub JOIN a ON a.parent "
    "= sub.code) "
    "SELECT q.area, q.wave, q.form_id, q.stratum, q.device_id, q.target, "
    "CASE WHEN (SELECT count(*) FROM json_each(q.stratum)) <= 1 THEN "
    "(SELECT coalesce(sum(g.n), 0) FROM agg_answers g WHERE g.form_id = "
    "q.form_id AND g.field = coalesce((SELECT j.key FROM json_each(q.stratum) "
    "j), '') AND g.wave = q.wave AND g.area IN (SELECT sub.code FROM sub "
    "WHERE sub.top = q.area) AND (q.device_id = '' "
    "OR g.device_id = q.device_id) AND g.value = coalesce((SELECT "
    "json_quote(j.value) FROM json_each(q.stratum) j), '')) ELSE "
    "(SELECT coalesce(sum(m.n), 0) FROM agg_cells m WHERE m.form_id = "
    "q.form_id AND m.wave = q.wave AND m.area IN (SELECT sub.code FROM sub "
    "WHERE sub.top = q.area) AND (q.device_id = '' "
    "OR m.device_id = q.device_id) AND NOT EXISTS (SELECT 1 FROM "
    "json_each(q.stratum) j WHERE json_extract(m.answers, '$.' || j.key) IS "
    "NOT j.value)) END FROM quotas q "
    "WHERE (?2 = '' OR q.wave = ?2) AND " AREA_IN_SCOPE(
        "q.area") " ORDER BY q.wave, q.area, q.form_id, "
                  "q.device_id, "
                  "q.stratum <> '{}', "
                  "q.stratum";

cJSON *hub__coverage_json(sqlite3 *db, const char *wave, const char *scope,
                          int with_counts)
{
    int rc;
    sqlite3_stmt *st =
        hub__sql(db, coverage_sql,
                 HUB_ARGS(HUB_TEXT(scope), HUB_TEXT(wave ? wave : "")), &rc);
    if (!st)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr =
        cJSON_AddArrayToObject(root, with_counts ? "coverage" : "quotas");
    while ((rc = hub__sql_step(st)) > 0) {
        cJSON *o = cJSON_CreateObject();
        char strat[600];
        stratum_text(hub__col(st, 3), strat, sizeof strat);
        cJSON_AddStringToObject(o, "area", hub__col(st, 0));
        cJSON_AddStringToObject(o, "wave", hub__col(st, 1));
        cJSON_AddStringToObject(o, "form", hub__col(st, 2));
        cJSON_AddStringToObject(o, "stratum", strat);
        cJSON_AddStringToObject(o, "device", hub__col(st, 4));
        int64_t target = sqlite3_column_int64(st, 5);
        int64_t got = sqlite3_column_int64(st, 6);
        cJSON_AddNumberToObject(o, "target", (double)target);
        if (with_counts) {
            cJSON_AddNumberToObject(o, "collected", (double)got);
            cJSON_AddNumberToObject(o, "remaining",
                                    (double)(got < target ? target - got : 0));
            if (target > 0)
                cJSON_AddNumberToObject(o, "percent",
                                        (double)(got * 100 / target));
            else
                cJSON_AddNullToObject(o, "percent");
        }
        cJSON_AddItemToArray(arr, o);
    }
    if (rc < 0) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

const char *const hub__coverage_cols[] = {
    "wave",   "area",      "form",      "stratum", "device",
    "target", "collected", "remaining", "percent", NULL};
const char *const hub__quota_cols[] = {"wave",   "area",   "form", "stratum",
                                       "device", "target", NULL};

int hub__wave_exists(sqlite3 *db, const char *wave)
{
    if (!wave || !wave[0])
        return 1;
    if (!fs_valid_area_code(wave))
        return 0;
    int w = exists(db, "SELECT 1 FROM waves WHERE name = ?1", wave);
    return w < 0 ? -1 : w;
}
