/*
 * export.c - exports of the mapping dataset: CSV and JSON of a form's
 * submissions, GeoJSON of areas (with an indicator's values) and of
 * mechanisms as points.
 *
 * An export is checked first (hub__export_prepare: form, version,
 * language, indicator; nothing is written yet, so a bad request gets a
 * clear error) and then streamed row by row into a sink (a file or a
 * chunked HTTP reply): memory stays flat whatever the number of
 * submissions. Fields a form marks personal or sensitive are left out
 * unless asked for; the caller audits such a request before writing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hierarchy.h"
#include "fs_form.h"
#include "export.h"
#include "exportmedia.h"
#include "areas.h"
#include "entity.h"
#include "errors.h"
#include "mapind.h"
#include "forms.h"
#include "mapping.h"
#include "output.h"
#include "scope.h"
#include "seal.h"
#include "stmtcache.h"

struct hub_exporter {
    sqlite3 *db;
    int kind;
    char form[FS_ID_MAX + 1];
    int64_t version;      /* 0: every version (json, mechanisms) */
    fs_form *def;         /* the version's definition (newest when 0) */
    const fs_form *mtype; /* mechanisms: the registry's type (borrowed) */
    char lang[16];        /* labels instead of codes; "" codes */
    int personal;
    cJSON *marked; /* fields marked personal or sensitive in any version
                      of the form (forms.h); NULL for mechanisms */
    char scope[HUB_SCOPE_MAX];
    cJSON *cells; /* geojson areas: the indicator's cells, or NULL */
    char indicator[256], wave[FS_ID_MAX + 1];
    hub_export_progress progress;
    const hub_steward *steward; /* opens sealed answers, or NULL */
    hub_seal_forms forms;       /* sealed rows' form versions (json) */
};

static int bad(char *err, size_t cap, const char *what, const char *arg)
{
    snprintf(err, cap, "%s%s", what, arg ? arg : "");
    return HUB_EBADINPUT;
}

static int valid_lang(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 15)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              s[i] == '-'))
            return 0;
    return 1;
}

static int prepare_form(hub_exporter *ex, const hub_export_req *req, char *err,
                        size_t cap)
{
    const char *form = req->form;
    if (!form || !fs_valid_form_id(form))
        return bad(err, cap, "name the form with --form (?form=): ",
                   form ? form : "none given");
    snprintf(ex->form, sizeof ex->form, "%s", form);
    if (req->version && req->version[0]) {
        char *end = NULL;
        long long v = strtoll(req->version, &end, 10);
        if (*end != '\0' || v < 1 || v > 1000000000)
            return bad(err, cap, "the version must be a number from 1, not ",
                       req->version);
        ex->version = v;
    }
    ex->def = hub__form_at(ex->db, form, ex->version);
    if (!ex->def) {
        if (ex->version)
            snprintf(err, cap, "form %s has no published version %lld", form,
                     (long long)ex->version);
        else
            snprintf(err, cap, "no published form %s", form);
        return HUB_EBADINPUT;
    }
    /* Marks only tighten: a field marked in any version is left out of
     * every version's rows. Unreadable marks refuse the export. */
    ex->marked = hub__form_marked(ex->db, form);
    if (!ex->marked)
        return HUB_ESTORAGE;
    /* A CSV has one set of columns: one form version. */
    if (ex->kind == HUB_EXPORT_CSV && !ex->version)
        ex->version = fs_form_version(ex->def);
    if (req->labels && req->labels[0]) {
        if (!valid_lang(req->labels))
            return bad(err, cap,
                       "--labels takes a language code such as "
                       "en or fr, not ",
                       req->labels);
        snprintf(ex->lang, sizeof ex->lang, "%s", req->labels);
    }
    return 0;
}

static int prepare_areas(hub_exporter *ex, const hub_export_req *req, char *err,
                         size_t cap)
{
    if (!req->indicator || !req->indicator[0])
        return req->form ? bad(err, cap, "--form needs --indicator", NULL) : 0;
    if (!req->wave || !req->wave[0])
        return bad(err, cap, "an indicator on the map needs --wave", NULL);
    hub_ind_request ir = {req->form, req->indicator, NULL,   req->wave,
                          NULL,      NULL,           req->k, req->admin};
    cJSON *root = NULL;
    int rc = hub__indicators(ex->db, &ir, ex->scope, &root, err, cap);
    if (rc != 0)
        return rc;
    snprintf(ex->indicator, sizeof ex->indicator, "%s",
             cJSON_GetObjectItem(root, "indicator")->valuestring);
    snprintf(ex->wave, sizeof ex->wave, "%s", req->wave);
    ex->cells = cJSON_DetachItemFromObject(root, "cells");
    cJSON_Delete(root);
    return 0;
}

/* The first geopoint field of the form: where a mechanism is. */
static const fs_field *location_field(const fs_form *f)
{
    for (size_t i = 0; i < fs_form_field_count(f); i++)
        if (fs_field_type_of(fs_form_field(f, i)) == FS_FIELD_GEOPOINT)
            return fs_form_field(f, i);
    return NULL;
}

int hub__export_prepare(sqlite3 *db, const hub_export_req *req,
                        const char *scope, hub_exporter **out, char *err,
                        size_t cap)
{
    *out = NULL;
    hub_exporter *ex = calloc(1, sizeof *ex);
    if (!ex)
        return HUB_ESTORAGE;
    ex->db = db;
    ex->kind = req->kind;
    ex->personal = req->personal;
    ex->progress = req->progress;
    ex->steward = req->steward;
    snprintf(ex->scope, sizeof ex->scope, "%s", scope);
    int rc = 0;
    if (ex->kind == HUB_EXPORT_AREAS) {
        rc = prepare_areas(ex, req, err, cap);
    } else if (ex->kind == HUB_EXPORT_MECHANISMS) {
        /* Mechanisms are the registry's (schema/entities.json). */
        ex->mtype = fs_entity_type(hub__entity_types(), "mechanism");
        if (!ex->mtype || !location_field(ex->mtype))
            rc = HUB_ESTORAGE;
        snprintf(ex->form, sizeof ex->form, "mechanism");
    } else {
        rc = prepare_form(ex, req, err, cap);
    }
    if (rc != 0) {
        hub__export_free(ex);
        return rc;
    }
    *out = ex;
    return 0;
}

void hub__export_free(hub_exporter *ex)
{
    if (!ex)
        return;
    fs_form_free(ex->def);
    hub__seal_forms_free(&ex->forms);
    cJSON_Delete(ex->cells);
    cJSON_Delete(ex->marked);
    free(ex);
}

cJSON *hub__export_detail(const hub_exporter *ex)
{
    static const char *const kinds[] = {"", "csv", "json", "areas",
                                        "mechanisms"};
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "export", kinds[ex->kind]);
    cJSON_AddStringToObject(d, "form", ex->form);
    cJSON_AddNumberToObject(d, "version", (double)ex->version);
    cJSON_AddStringToObject(d, "areas", ex->scope);
    return d;
}

int hub__export_personal(const hub_exporter *ex)
{
    return ex->personal && ex->kind != HUB_EXPORT_AREAS;
}

/* ---- rows ----------------------------------------------------------- */

/* 1 when fld is left out of this export. */
static int hidden(const hub_exporter *ex, const fs_field *fld)
{
    if (fs_field_type_of(fld) == FS_FIELD_NOTE)
        return 1;
    return !ex->personal &&
           ((fs_field_flags(fld) & (FS_FIELD_PERSONAL | FS_FIELD_SENSITIVE)) ||
            hub__name_in(ex->marked, fs_field_name(fld)));
}

/* The counted rows of the export, for progress and the query itself:
 * newest revisions of the form (and version) within scope, in arrival
 * order. */
static const char rows_sql[] =
    "SELECT m.id, m.rev, m.form_version, m.area, m.wave, m.device_id, "
    "m.collector, m.created_ms, m.received_ms, m.review_state, m.answers "
    "FROM mapping_submissions m WHERE m.form_id = ?2 AND (?3 = 0 OR "
    "m.form_version = ?3) AND hub_area_in(?1, m.area) ORDER BY m.row_id";

static sqlite3_stmt *rows_query(const hub_exporter *ex, int64_t *total)
{
    int rc;
    *total = 0;
    sqlite3_stmt *st =
        ex->progress
            ? hub__sql(ex->db,
                       "SELECT count(*) FROM submissions s WHERE s.form_id = "
                       "?2 AND (?3 = 0 OR s.form_version = ?3) AND "
                       "s.base_rev = 0 AND hub_area_in(?1, s.area)",
                       HUB_ARGS(HUB_TEXT(ex->scope), HUB_TEXT(ex->form),
                                HUB_INT(ex->version)),
                       &rc)
            : NULL;
    if (st && hub__sql_step(st) > 0) {
        *total = sqlite3_column_int64(st, 0);
        hub__sql_end(st);
    }
    return hub__sql(
        ex->db, rows_sql,
        HUB_ARGS(HUB_TEXT(ex->scope), HUB_TEXT(ex->form), HUB_INT(ex->version)),
        &rc);
}

static void iso_time(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Progress every 1000 rows and at the end. */
static void tick(const hub_exporter *ex, int64_t done, int64_t total, int end)
{
    if (ex->progress && (end || done % 1000 == 0))
        ex->progress(done, total, end);
}

/* ---- CSV ------------------------------------------------------------ */

static const char *const csv_meta[] = {
    "submission_id", "rev",      "form_id",      "form_version",
    "area",          "wave",     "device_id",    "collector",
    "created",       "received", "review_state", NULL};

/* A field's column name: its name, or "answers.NAME" when the name is
 * one of the hub's own columns (a form may have a question called wave
 * or area), so that no two columns share a name. Field names have no
 * dots, so the prefixed name cannot meet another field's. */
static const char *field_column(const char *name, char *buf, size_t cap)
{
    for (size_t i = 0; csv_meta[i]; i++)
        if (strcmp(csv_meta[i], name) == 0) {
            snprintf(buf, cap, "answers.%s", name);
            return buf;
        }
    return name;
}

static void csv_header(const hub_exporter *ex, hub_sink *s)
{
    for (size_t i = 0; csv_meta[i]; i++)
        hub__sink_csv(s, csv_meta[i], i == 0);
    for (size_t i = 0; i < fs_form_field_count(ex->def); i++) {
        const fs_field *fld = fs_form_field(ex->def, i);
        if (hidden(ex, fld))
            continue;
        char colname[FS_ID_MAX + 16];
        const char *name =
            field_column(fs_field_name(fld), colname, sizeof colname);
        fs_field_type t = fs_field_type_of(fld);
        char col[2 * FS_ID_MAX + 2];
        if (t == FS_FIELD_GEOPOINT) {
            static const char *const parts[] = {"lat", "lon", "accuracy"};
            for (int p = 0; p < 3; p++) {
                snprintf(col, sizeof col, "%s/%s", name, parts[p]);
                hub__sink_csv(s, col, 0);
            }
            continue;
        }
        hub__sink_csv(s, name, 0);
        if (t != FS_FIELD_SELECT_MULTIPLE)
            continue;
        for (size_t c = 0; c < fs_field_choice_count(fld); c++) {
            snprintf(col, sizeof col, "%s/%s", name,
                     fs_field_choice(fld, c, NULL, NULL));
            hub__sink_csv(s, col, 0);
        }
    }
    hub__sink_write(s, "\r\n", 2);
}

/* The label of choice code in lang, or the code. */
static const char *choice_label(const fs_field *fld, const char *code,
                                const char *lang)
{
    for (size_t c = 0; c < fs_field_choice_count(fld); c++) {
        const char *label = NULL;
        if (strcmp(fs_field_choice(fld, c, lang, &label), code) == 0)
            return label ? label : code;
    }
    return code;
}

static int has_code(const cJSON *arr, const char *code)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        if (cJSON_IsString(e) && strcmp(e->valuestring, code) == 0)
            return 1;
    }
    return 0;
}

/* One answer as CSV field(s), codes or labels; a file as the name it
 * has in `export media` (id: the submission's). */
static void csv_answer(const hub_exporter *ex, const fs_field *fld,
                       const cJSON *v, const char *id, hub_sink *s)
{
    fs_field_type t = fs_field_type_of(fld);
    const char *lang = ex->lang[0] ? ex->lang : NULL;
    char num[64];
    if (fs_field_type_is_attachment(t)) {
        char name[320];
        if (hub__media_ref(v))
            hub__media_name(
                id, fs_field_name(fld),
                cJSON_GetObjectItemCaseSensitive(v, "type")->valuestring, name,
                sizeof name);
        hub__sink_csv(s, hub__media_ref(v) ? name : NULL, 0);
        return;
    }
    if (t == FS_FIELD_GEOPOINT) {
        static const char *const parts[] = {"lat", "lon", "accuracy"};
        for (int p = 0; p < 3; p++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, parts[p]);
            if (cJSON_IsNumber(x))
                snprintf(num, sizeof num, "%.15g", x->valuedouble);
            hub__sink_csv(s, cJSON_IsNumber(x) ? num : NULL, 0);
        }
        return;
    }
    if (t == FS_FIELD_SELECT_MULTIPLE) {
        /* One column of codes joined by spaces (labels by "; "), then a
         * 1/0 column per choice; all empty when unanswered. */
        fs_buf joined;
        fs_buf_init(&joined, 65536);
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            if (!cJSON_IsString(e))
                continue;
            const char *txt =
                lang ? choice_label(fld, e->valuestring, lang) : e->valuestring;
            if (joined.len)
                fs_buf_append(&joined, lang ? "; " : " ", lang ? 2 : 1);
            fs_buf_append(&joined, txt, strlen(txt));
        }
        fs_buf_append(&joined, "", 1);
        hub__sink_csv(
            s,
            cJSON_IsArray(v) && joined.data ? (const char *)joined.data : NULL,
            0);
        fs_buf_free(&joined);
        for (size_t c = 0; c < fs_field_choice_count(fld); c++)
            hub__sink_csv(s,
                          !cJSON_IsArray(v) ? NULL
                          : has_code(v, fs_field_choice(fld, c, NULL, NULL))
                              ? "1"
                              : "0",
                          0);
        return;
    }
    if (cJSON_IsString(v)) {
        hub__sink_csv(s,
                      lang && t == FS_FIELD_SELECT_ONE
                          ? choice_label(fld, v->valuestring, lang)
                          : v->valuestring,
                      0);
    } else if (cJSON_IsNumber(v)) {
        const char *label =
            lang && t == FS_FIELD_LIKERT
                ? fs_field_scale_label(fld, (int)v->valuedouble, lang)
                : NULL;
        snprintf(num, sizeof num, "%.15g", v->valuedouble);
        hub__sink_csv(s, label ? label : num, 0);
    } else if (cJSON_IsBool(v)) {
        hub__sink_csv(s, cJSON_IsTrue(v) ? "true" : "false", 0);
    } else {
        hub__sink_csv(s, NULL, 0);
    }
}

/* Opens the sealed answers of a row with the steward's key, or masks
 * them: 1 when they stay sealed (shown as "sealed"). The envelopes were
 * all checked before the first row (hub__export_unseal_check). */
static int unseal(const hub_exporter *ex, const fs_form *def, const char *id,
                  cJSON *answers)
{
    char err[256];
    if (ex->steward && hub__seal_reveal(ex->steward, def, id, answers, err,
                                        sizeof err) == HUB_OK)
        return 0;
    return hub__seal_mask(def, answers);
}

/* A sealed answer's cells: "sealed" in each of the field's columns. */
static void csv_sealed(const fs_field *fld, hub_sink *s)
{
    fs_field_type t = fs_field_type_of(fld);
    size_t n = t == FS_FIELD_GEOPOINT          ? 3
               : t == FS_FIELD_SELECT_MULTIPLE ? 1 + fs_field_choice_count(fld)
                                               : 1;
    for (size_t i = 0; i < n; i++)
        hub__sink_csv(s, "sealed", 0);
}

static void csv_row(const hub_exporter *ex, sqlite3_stmt *st, hub_sink *s)
{
    char created[32], received[32], version[24], rev[24];
    iso_time(sqlite3_column_int64(st, 7), created, sizeof created);
    iso_time(sqlite3_column_int64(st, 8), received, sizeof received);
    snprintf(rev, sizeof rev, "%lld", (long long)sqlite3_column_int64(st, 1));
    snprintf(version, sizeof version, "%lld",
             (long long)sqlite3_column_int64(st, 2));
    const char *meta[] = {hub__col(st, 0), rev,
                          ex->form,        version,
                          hub__col(st, 3), hub__col(st, 4),
                          hub__col(st, 5), hub__col(st, 6),
                          created,         received,
                          hub__col(st, 9)};
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
        hub__sink_csv(s, meta[i], i == 0);
    cJSON *answers = fs_json_parse_stored(hub__col(st, 10));
    int masked = unseal(ex, ex->def, hub__col(st, 0), answers);
    for (size_t i = 0; i < fs_form_field_count(ex->def); i++) {
        const fs_field *fld = fs_form_field(ex->def, i);
        if (hidden(ex, fld))
            continue;
        if (masked && (fs_field_flags(fld) & FS_FIELD_SEALED))
            csv_sealed(fld, s);
        else
            csv_answer(
                ex, fld,
                cJSON_GetObjectItemCaseSensitive(answers, fs_field_name(fld)),
                hub__col(st, 0), s);
    }
    cJSON_Delete(answers);
    hub__sink_write(s, "\r\n", 2);
}

/* ---- JSON ----------------------------------------------------------- */

/* Removes the fields of def this export leaves out. */
static void strip(const hub_exporter *ex, const fs_form *def, cJSON *answers)
{
    for (size_t i = 0; i < fs_form_field_count(def); i++) {
        const fs_field *fld = fs_form_field(def, i);
        if (hidden(ex, fld))
            cJSON_DeleteItemFromObjectCaseSensitive(answers,
                                                    fs_field_name(fld));
    }
    const cJSON *n;
    const cJSON *marked = ex->personal ? NULL : ex->marked;
    cJSON_ArrayForEach(n, marked)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(answers, n->valuestring);
    }
}

static void json_row(hub_exporter *ex, sqlite3_stmt *st, hub_sink *s, int first)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", hub__col(st, 0));
    cJSON_AddNumberToObject(o, "rev", (double)sqlite3_column_int64(st, 1));
    cJSON_AddNumberToObject(o, "form_version",
                            (double)sqlite3_column_int64(st, 2));
    cJSON_AddStringToObject(o, "area", hub__col(st, 3));
    cJSON_AddStringToObject(o, "wave", hub__col(st, 4));
    cJSON_AddStringToObject(o, "device", hub__col(st, 5));
    cJSON_AddStringToObject(o, "collector", hub__col(st, 6));
    cJSON_AddNumberToObject(o, "created_ms",
                            (double)sqlite3_column_int64(st, 7));
    cJSON_AddNumberToObject(o, "received_ms",
                            (double)sqlite3_column_int64(st, 8));
    cJSON_AddStringToObject(o, "review_state", hub__col(st, 9));
    cJSON *answers = fs_json_parse_stored(hub__col(st, 10));
    /* The row's own version says what is sealed. */
    const fs_form *def =
        cJSON_GetObjectItemCaseSensitive(answers, FS_SEALED_MEMBER)
            ? hub__seal_form(ex->db, &ex->forms, ex->form,
                             sqlite3_column_int64(st, 2))
            : ex->def;
    if (def)
        unseal(ex, def, hub__col(st, 0), answers);
    else
        cJSON_DeleteItemFromObjectCaseSensitive(answers, FS_SEALED_MEMBER);
    strip(ex, ex->def, answers);
    /* A file's reference gains the name it has in `export media`. */
    cJSON *a;
    cJSON_ArrayForEach(a, answers)
    {
        if (!hub__media_ref(a))
            continue;
        char name[320];
        hub__media_name(
            hub__col(st, 0), a->string,
            cJSON_GetObjectItemCaseSensitive(a, "type")->valuestring, name,
            sizeof name);
        cJSON_DeleteItemFromObjectCaseSensitive(a, "file");
        cJSON_AddStringToObject(a, "file", name);
    }
    cJSON_AddItemToObject(o, "answers", answers);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!first)
        hub__sink_write(s, ",\n", 2);
    if (t)
        hub__sink_puts(s, t);
    else
        s->failed = 1;
    free(t);
}

/* ---- GeoJSON -------------------------------------------------------- */

/* The cell of area (all categories) in the indicator's cells, or NULL. */
static const cJSON *area_cell(const cJSON *cells, const char *area)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cells)
    {
        if (strcmp(cJSON_GetObjectItem(c, "area")->valuestring, area) == 0 &&
            strcmp(cJSON_GetObjectItem(c, "category")->valuestring, "*") == 0)
            return c;
    }
    return NULL;
}

static void area_properties(const hub_exporter *ex, cJSON *p, const char *code)
{
    cJSON_AddStringToObject(p, "indicator", ex->indicator);
    cJSON_AddStringToObject(p, "wave", ex->wave);
    const cJSON *c = area_cell(ex->cells, code);
    static const char *const keys[] = {"n", "value", "status", "reason",
                                       "unreliable"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = c ? cJSON_GetObjectItem(c, keys[i]) : NULL;
        if (v)
            cJSON_AddItemToObject(p, keys[i], cJSON_Duplicate(v, 1));
        else if (strcmp(keys[i], "status") == 0)
            /* No counted submission there: nothing to hide or show. */
            cJSON_AddStringToObject(p, "status", "no_data");
        else
            cJSON_AddNullToObject(p, keys[i]);
    }
}

/* Of a checked geometry, the members GeoJSON defines and nothing else
 * (takes g, returns the object to write). */
static cJSON *clean_geometry(cJSON *g)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *type = cJSON_DetachItemFromObjectCaseSensitive(g, "type");
    cJSON *coords = cJSON_DetachItemFromObjectCaseSensitive(g, "coordinates");
    cJSON_Delete(g);
    if (!out || !type || !coords) {
        cJSON_Delete(out);
        cJSON_Delete(type);
        cJSON_Delete(coords);
        return cJSON_CreateNull();
    }
    cJSON_AddItemToObject(out, "type", type);
    cJSON_AddItemToObject(out, "coordinates", coords);
    return out;
}

static int write_areas(hub_exporter *ex, hub_sink *s)
{
    hub_levels lv;
    int rc = hub__levels_get(ex->db, &lv);
    if (rc != HUB_OK)
        return rc;
    sqlite3_stmt *st =
        hub__sql(ex->db,
                 "SELECT code, name, parent, level, geometry "
                 "FROM mapping_areas ORDER BY " HUB_LEVEL_ORDER("?1") ", code",
                 HUB_ARGS(HUB_TEXT(lv.text)), &rc);
    if (!st)
        return rc;
    hub__sink_puts(s, "{\"type\":\"FeatureCollection\",\"features\":[\n");
    int64_t done = 0;
    while (!s->failed && (rc = hub__sql_step(st)) > 0) {
        const char *code = hub__col(st, 0);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "code", code);
        cJSON_AddStringToObject(p, "name", hub__col(st, 1));
        if (sqlite3_column_type(st, 2) == SQLITE_NULL)
            cJSON_AddNullToObject(p, "parent");
        else
            cJSON_AddStringToObject(p, "parent", hub__col(st, 2));
        cJSON_AddStringToObject(p, "level", hub__col(st, 3));
        if (ex->cells)
            area_properties(ex, p, code);
        /* The stored boundary is text a device may have written: parsed
         * and checked again, and written by the serializer, so nothing
         * in it can close the feature and open another. One that is not
         * a geometry (stored before writes were checked) is null. */
        char why[256];
        cJSON *g = sqlite3_column_type(st, 4) == SQLITE_NULL
                       ? NULL
                       : hub__area_geometry(hub__col(st, 4), why, sizeof why);
        cJSON *feat = cJSON_CreateObject();
        cJSON_AddStringToObject(feat, "type", "Feature");
        cJSON_AddItemToObject(feat, "geometry",
                              g ? clean_geometry(g) : cJSON_CreateNull());
        cJSON_AddItemToObject(feat, "properties", p);
        char *text = cJSON_PrintUnformatted(feat);
        cJSON_Delete(feat);
        if (!text) {
            rc = HUB_ENOMEM;
            break;
        }
        if (done)
            hub__sink_puts(s, ",\n");
        hub__sink_puts(s, text);
        free(text);
        tick(ex, ++done, 0, 0);
    }
    hub__sql_end(st);
    hub__sink_puts(s, "\n]}\n");
    tick(ex, done, done, 1);
    return rc < 0 ? rc : HUB_OK;
}

/* A mechanism of the registry as a GeoJSON point feature; nothing when
 * it has no location. Columns: id, area, fields (a JSON object). Returns
 * 1 when written. */
static int mechanism_feature(const hub_exporter *ex, sqlite3_stmt *st,
                             const fs_field *loc, hub_sink *s, int first)
{
    cJSON *fields = fs_json_parse_stored(hub__col(st, 2));
    const cJSON *pt =
        cJSON_GetObjectItemCaseSensitive(fields, fs_field_name(loc));
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(pt, "lat");
    const cJSON *lon = cJSON_GetObjectItemCaseSensitive(pt, "lon");
    if (!cJSON_IsNumber(lat) || !cJSON_IsNumber(lon)) {
        cJSON_Delete(fields);
        return 0;
    }
    double x = lon->valuedouble, y = lat->valuedouble;
    strip(ex, ex->mtype, fields);
    cJSON_DeleteItemFromObjectCaseSensitive(fields, fs_field_name(loc));
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "id", hub__col(st, 0));
    cJSON_AddStringToObject(p, "area", hub__col(st, 1));
    cJSON *a;
    while ((a = fields->child) != NULL) {
        cJSON_DetachItemViaPointer(fields, a);
        /* Flat properties, as GIS tools expect. */
        if (!cJSON_IsArray(a) && !cJSON_IsObject(a))
            cJSON_AddItemToObject(p, a->string, a);
        else
            cJSON_Delete(a);
    }
    cJSON_Delete(fields);
    char *props = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    hub__sink_printf(s,
                     "%s{\"type\":\"Feature\",\"geometry\":{\"type\":"
                     "\"Point\",\"coordinates\":[%.9g,%.9g]},"
                     "\"properties\":",
                     first ? "" : ",\n", x, y);
    hub__sink_puts(s, props ? props : "{}");
    hub__sink_puts(s, "}");
    free(props);
    return 1;
}

static int write_mechanisms(hub_exporter *ex, hub_sink *s)
{
    const fs_field *loc = location_field(ex->mtype);
    int rc;
    sqlite3_stmt *st = hub__sql(
        ex->db,
        "SELECT e.id, e.area, json_group_object(f.name, json(f.value)) FROM "
        "entities e JOIN entity_fields f ON f.entity_id = e.id WHERE e.type "
        "= 'mechanism' AND e.deleted = 0 AND hub_area_in(?1, e.area) "
        "GROUP BY e.id ORDER BY "
        "e.created_ms, e.id",
        HUB_ARGS(HUB_TEXT(ex->scope)), &rc);
    if (!st)
        return rc;
    hub__sink_puts(s, "{\"type\":\"FeatureCollection\",\"features\":[\n");
    int64_t done = 0, written = 0;
    while (!s->failed && (rc = hub__sql_step(st)) > 0) {
        written += mechanism_feature(ex, st, loc, s, written == 0);
        tick(ex, ++done, 0, 0);
    }
    hub__sql_end(st);
    hub__sink_puts(s, "\n]}\n");
    tick(ex, done, done, 1);
    return rc < 0 ? rc : HUB_OK;
}

/* ---- driver --------------------------------------------------------- */

int hub__export_unseal_check(hub_exporter *ex, int64_t *n, char *err,
                             size_t cap)
{
    *n = 0;
    if (!ex->steward ||
        (ex->kind != HUB_EXPORT_CSV && ex->kind != HUB_EXPORT_JSON))
        return HUB_OK;
    int64_t total = 0;
    sqlite3_stmt *st = rows_query(ex, &total);
    if (!st)
        return HUB_ESTORAGE;
    int rc, out = HUB_OK, opened = 0;
    hub_seal_forms forms = {0};
    while (out == HUB_OK && (rc = hub__sql_step(st)) > 0) {
        cJSON *answers = fs_json_parse_stored(hub__col(st, 10));
        out = hub__seal_reveal_row(ex->db, &forms, ex->steward, ex->form,
                                   sqlite3_column_int64(st, 2), hub__col(st, 0),
                                   answers, &opened, err, cap);
        *n += opened && out == HUB_OK;
        /* The plaintext of this check is not kept. */
        cJSON_Delete(answers);
    }
    if (out != HUB_OK)
        hub__sql_end(st);
    else if (rc < 0)
        out = rc;
    hub__seal_forms_free(&forms);
    return out;
}

int hub__export_write(hub_exporter *ex, hub_sink *s)
{
    if (ex->kind == HUB_EXPORT_AREAS)
        return write_areas(ex, s);
    if (ex->kind == HUB_EXPORT_MECHANISMS)
        return write_mechanisms(ex, s);
    int64_t total = 0, done = 0;
    sqlite3_stmt *st = rows_query(ex, &total);
    if (!st)
        return HUB_ESTORAGE;
    if (ex->kind == HUB_EXPORT_CSV)
        csv_header(ex, s);
    else {
        /* "version": null when every version is exported. */
        char v[24] = "null";
        if (ex->version)
            snprintf(v, sizeof v, "%lld", (long long)ex->version);
        hub__sink_printf(s,
                         "{\"form\":\"%s\",\"version\":%s,"
                         "\"personal_included\":%s,\"submissions\":[\n",
                         ex->form, v, ex->personal ? "true" : "false");
    }
    int rc = HUB_OK;
    while (!s->failed && (rc = hub__sql_step(st)) > 0) {
        if (ex->kind == HUB_EXPORT_CSV)
            csv_row(ex, st, s);
        else
            json_row(ex, st, s, done == 0);
        tick(ex, ++done, total, 0);
    }
    hub__sql_end(st);
    if (ex->kind != HUB_EXPORT_CSV)
        hub__sink_puts(s, "\n]}\n");
    tick(ex, done, total, 1);
    return rc < 0 ? rc : HUB_OK;
}
