/*
 * waveassign.c - `wave assign` by a filter or a list (waveassign.h).
 *
 * The submissions that match are read from the mapping_submissions view,
 * the one definition of a submission's current revision and wave, so
 * "--in-wave W" and "--from/--to" mean what coverage and indicators
 * count.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "waveassign.h"
#include "audit.h"
#include "cli.h"
#include "db.h"
#include "errors.h"
#include "mapping.h"
#include "stmtcache.h"

#define DAY_MS (24LL * 3600 * 1000)
#define IDS_FILE_MAX (64u << 20)

/* Checks that every name m gives is known; HUB_OK, HUB_EBADINPUT with
 * the reason in err, or a storage error. */
static int check_names(sqlite3 *db, const hub_wave_match *m, char *err,
                       size_t cap)
{
    static const char waves_sql[] = "SELECT 1 FROM waves WHERE name = ?1";
    const char *wv[2] = {m->wave, m->in_wave};
    for (int i = 0; i < 2; i++) {
        if (i == 1 && !wv[i])
            continue;
        int w = wv[i] && fs_valid_area_code(wv[i])
                    ? hub__row_exists(db, waves_sql, wv[i])
                    : 0;
        if (w < 0)
            return w;
        if (!w)
            return hub__errf(err, cap,
                             "no wave '%s'; see `fieldsync-hub wave list`",
                             wv[i] ? wv[i] : "");
    }
    int f =
        m->form && fs_valid_form_id(m->form)
            ? hub__row_exists(db, "SELECT 1 FROM forms WHERE id = ?1", m->form)
            : 1;
    if (f < 0)
        return f;
    if (!f || (m->form && !fs_valid_form_id(m->form)))
        return hub__errf(err, cap,
                         "no form '%s' at this hub; see `fieldsync-hub form "
                         "list`",
                         m->form);
    /* An area is known when the registry has it or a submission names
     * it (areas need not be imported to be collected in). */
    int a = m->area && fs_valid_area_code(m->area)
                ? hub__row_exists(
                      db,
                      "SELECT 1 FROM mapping_areas WHERE code = ?1 UNION "
                      "ALL SELECT 1 FROM submissions WHERE area = ?1",
                      m->area)
                : 1;
    if (a < 0)
        return a;
    if (!a || (m->area && !fs_valid_area_code(m->area)))
        return hub__errf(err, cap,
                         "no area '%s' at this hub; see `fieldsync-hub areas "
                         "list`",
                         m->area);
    if (m->ids) {
        int rc;
        sqlite3_stmt *st = NULL;
        char *text = cJSON_PrintUnformatted(m->ids);
        if (!text)
            return HUB_ENOMEM;
        st = hub__sql(db,
                      "SELECT value FROM json_each(?1) WHERE value NOT IN "
                      "(SELECT id FROM submissions) LIMIT 1",
                      HUB_ARGS(HUB_TEXT(text)), &rc);
        if (st && (rc = hub__sql_step(st)) > 0) {
            rc = hub__errf(err, cap, "no submission %s at this hub",
                           hub__col(st, 0));
            hub__sql_end(st);
        }
        free(text);
        if (rc != HUB_OK)
            return rc;
    }
    return HUB_OK;
}

/* The ids of the submissions m matches, as a JSON array (NULL with *rc
 * set on failure). */
static cJSON *matching(sqlite3 *db, const hub_wave_match *m, int64_t from_ms,
                       int64_t to_ms, int *rc)
{
    char *ids = m->ids ? cJSON_PrintUnformatted(m->ids) : NULL;
    if (m->ids && !ids) {
        *rc = HUB_ENOMEM;
        return NULL;
    }
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT m.id FROM mapping_submissions m WHERE (?1 IS NULL OR "
        "m.form_id = ?1) AND (?2 IS NULL OR hub_area_in(?2, m.area)) AND (?3 "
        "IS NULL OR "
        "m.dated_ms >= ?3) AND (?4 IS NULL OR m.dated_ms < ?4) AND (?5 IS "
        "NULL OR m.wave = ?5) AND (?6 IS NULL OR m.id IN (SELECT value FROM "
        "json_each(?6))) ORDER BY m.id",
        HUB_ARGS(HUB_TEXT(m->form), HUB_TEXT(m->area),
                 m->from ? HUB_INT(from_ms) : HUB_NULL,
                 m->to ? HUB_INT(to_ms) : HUB_NULL, HUB_TEXT(m->in_wave),
                 HUB_TEXT(ids)),
        rc);
    cJSON *arr = st ? cJSON_CreateArray() : NULL;
    int r = 0;
    while (arr && (r = hub__sql_step(st)) > 0)
        cJSON_AddItemToArray(arr, cJSON_CreateString(hub__col(st, 0)));
    free(ids);
    if (arr && r < 0) {
        cJSON_Delete(arr);
        arr = NULL;
        *rc = r;
    }
    return arr;
}

int hub__wave_assign_match(sqlite3 *db, const hub_wave_match *m, int dry_run,
                           const char *actor, long long *count, char *err,
                           size_t cap)
{
    int64_t from_ms = 0, to_ms = 0;
    *count = 0;
    if (m->from && hub__date_ms(m->from, &from_ms) != 0)
        return hub__errf(err, cap, "--from must be a date YYYY-MM-DD, not '%s'",
                         m->from);
    if (m->to && hub__date_ms(m->to, &to_ms) != 0)
        return hub__errf(err, cap, "--to must be a date YYYY-MM-DD, not '%s'",
                         m->to);
    to_ms += DAY_MS; /* --to is inclusive */
    if (m->from && m->to && from_ms >= to_ms)
        return hub__errf(err, cap, "--to (%s) is before --from (%s)", m->to,
                         m->from);
    int rc = check_names(db, m, err, cap);
    if (rc != HUB_OK)
        return rc;
    cJSON *ids = matching(db, m, from_ms, to_ms, &rc);
    if (!ids)
        return rc;
    *count = cJSON_GetArraySize(ids);
    char *text = *count > 0 ? cJSON_PrintUnformatted(ids) : NULL;
    if (*count == 0)
        rc = hub__errf(err, cap,
                       "no submission matches; check the filter "
                       "(wave list, form list, areas list)");
    else if (!text)
        rc = HUB_ENOMEM;
    else if (!dry_run)
        rc = hub__sql_run(
            db,
            "INSERT INTO wave_assignments (submission_id, wave, assigned_ms, "
            "actor) SELECT value, ?2, ?3, ?4 FROM json_each(?1) WHERE true "
            "ON CONFLICT (submission_id) DO UPDATE SET wave = ?2, "
            "assigned_ms = ?3, actor = ?4",
            HUB_ARGS(HUB_TEXT(text), HUB_TEXT(m->wave), HUB_INT(fs_now_ms()),
                     HUB_TEXT(actor)));
    free(text);
    if (rc != HUB_OK || dry_run) {
        cJSON_Delete(ids);
        return rc;
    }
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "wave", m->wave);
    cJSON *f = cJSON_AddObjectToObject(d, "filter");
    const char *const keys[] = {"form", "area", "from", "to", "in_wave"};
    const char *const vals[] = {m->form, m->area, m->from, m->to, m->in_wave};
    for (int i = 0; i < 5; i++)
        if (vals[i])
            cJSON_AddStringToObject(f, keys[i], vals[i]);
    if (m->ids)
        cJSON_AddNumberToObject(f, "listed", cJSON_GetArraySize(m->ids));
    cJSON_AddNumberToObject(d, "count", (double)*count);
    cJSON_AddItemToObject(d, "submissions", ids);
    return hub__audit(db, actor, "wave.assign", d);
}

/* Adds the ids of the file's lines to arr; 0, or -1 after saying which
 * line is not an id. */
static int read_ids(const char *path, cJSON *arr)
{
    size_t len = 0;
    char *text = hub__read_file(path, IDS_FILE_MAX, &len);
    if (!text)
        return -1;
    int rc = 0;
    long line = 0;
    for (char *p = text; p && *p && rc == 0; line++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        while (isspace((unsigned char)*p))
            p++;
        size_t n = strlen(p);
        while (n > 0 && isspace((unsigned char)p[n - 1]))
            p[--n] = '\0';
        if (n > 0 && p[0] != '#') {
            if (fs_valid_uuid(p)) {
                cJSON_AddItemToArray(arr, cJSON_CreateString(p));
            } else {
                fprintf(stderr,
                        "fieldsync-hub: %s line %ld: '%.40s' is not a "
                        "submission id; nothing was changed\n",
                        path, line + 1, p);
                rc = -1;
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    return rc;
}

int hub_wave_assign_many(const char *db_path, const hub_wave_match *given,
                         const char *id, const char *ids_file, int dry_run,
                         FILE *out)
{
    hub_wave_match m = *given;
    cJSON *ids = NULL;
    if (id || ids_file) {
        ids = cJSON_CreateArray();
        if (id && !fs_valid_uuid(id)) {
            fprintf(stderr,
                    "fieldsync-hub: '%s' is not a submission id; nothing "
                    "was changed\n",
                    id);
            cJSON_Delete(ids);
            return 2;
        }
        if (id)
            cJSON_AddItemToArray(ids, cJSON_CreateString(id));
        if (ids_file && read_ids(ids_file, ids) != 0) {
            cJSON_Delete(ids);
            return 2;
        }
        if (cJSON_GetArraySize(ids) == 0) {
            fprintf(stderr,
                    "fieldsync-hub: %s lists no submission id; nothing was "
                    "changed\n",
                    ids_file);
            cJSON_Delete(ids);
            return 2;
        }
        m.ids = ids;
    }
    sqlite3 *db = hub__cli_begin(db_path);
    if (!db) {
        cJSON_Delete(ids);
        return 1;
    }
    char err[512] = "";
    long long n = 0;
    int rc =
        hub__wave_assign_match(db, &m, dry_run, "cli", &n, err, sizeof err);
    cJSON_Delete(ids);
    /* A dry run changes nothing: its transaction is rolled back. */
    if (rc == HUB_OK && dry_run) {
        hub__exec(db, "ROLLBACK");
        hub__close(db);
        fprintf(out,
                "%lld submission%s would be put in wave %s (dry run: "
                "nothing was changed)\n",
                n, n == 1 ? "" : "s", m.wave);
        return 0;
    }
    if (rc == HUB_EBADINPUT)
        snprintf(err + strlen(err), sizeof err - strlen(err),
                 "; nothing was changed");
    int status = hub__cli_end(db, rc, "wave assign", err);
    if (status == 0)
        fprintf(out, "%lld submission%s put in wave %s\n", n, n == 1 ? "" : "s",
                m.wave);
    return status;
}
