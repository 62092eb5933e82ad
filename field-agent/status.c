/*
 * status.c - what the device can say about itself: its hub and
 * enrolment, what waits to be sent, what the hub refused or a reviewer
 * sent back, and its quotas counted offline. One document (agent.h,
 * fa_status) that `status` prints and the form app's home screen shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "scope.h"

static long long count(fa_agent *ag, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (fa__prepare(ag, &st, NULL, sql, "") == FA_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* This device's quotas and what it recorded toward each, counted here
 * the way the hub counts (schema/INDICATORS.md, "Waves"): the newest
 * revision of each submission whose day falls within the wave's dates,
 * for the quota's form and area (or an area below it, by the parents of
 * the area entities the device holds), holding its stratum, not rejected by
 * the hub. The day is the answer to the date field the form version
 * names as "wave_date", else the day it was first recorded; fw reads
 * each form version's wave_date once. */
#define DATE_GLOB "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"
static const char quota_sql[] =
    "WITH fw AS MATERIALIZED (SELECT id, version, definition ->> "
    "'$.wave_date' AS field FROM forms), " FA_HELD_AREAS " "
    "SELECT q.wave, q.area, q.form_id, q.stratum, q.target, (SELECT "
    "count(*) FROM submissions s WHERE s.area IN (WITH RECURSIVE "
    "below(code) AS (SELECT q.area UNION SELECT held.code FROM held JOIN "
    "below ON held.parent = below.code) SELECT code FROM below) AND "
    "s.form_id = "
    "q.form_id AND s.review_state <> 'rejected' AND s.rev = (SELECT "
    "max(rev) FROM submissions s2 WHERE s2.id = s.id) AND coalesce((SELECT "
    "unixepoch(d.day) * 1000 FROM (SELECT s.answers ->> ('$.' || (SELECT "
    "fw.field FROM fw WHERE fw.id = s.form_id AND fw.version = "
    "s.form_version)) AS day) d WHERE d.day GLOB " DATE_GLOB
    "), (SELECT min(created_ms) FROM submissions s3 WHERE s3.id = s.id)) "
    "BETWEEN q.start_ms AND q.end_ms - 1 AND NOT EXISTS (SELECT 1 FROM "
    "json_each(q.stratum) j WHERE json_extract(s.answers, '$.' || j.key) "
    "IS NOT j.value)) FROM quotas q WHERE q.target > 0 ORDER BY q.wave, "
    "q.area, q.form_id, q.stratum";
#undef DATE_GLOB

/* One object per row of sql, as fa__row_json makes it. */
static void add_rows(fa_agent *ag, cJSON *arr, const char *sql,
                     const char *types, const char *const *names)
{
    sqlite3_stmt *st = NULL;
    if (fa__prepare(ag, &st, NULL, sql, "") == FA_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            cJSON_AddItemToArray(arr, fa__row_json(st, types, names));
    }
    sqlite3_finalize(st);
}

int fa_status(fa_agent *ag, cJSON **out)
{
    char hub[FA_URL_MAX], device[64], name[FS_NAME_MAX + 1], outcome[512];
    int64_t acked = 0, last_ms = 0;
    *out = NULL;
    const fa__setting settings[] = {
        {"hub_url", hub, sizeof hub, NULL},
        {"device_id", device, sizeof device, NULL},
        {"device_name", name, sizeof name, NULL},
        {"last_sync_outcome", outcome, sizeof outcome, NULL},
        {"acked_seq", NULL, 0, &acked},
        {"last_sync_ms", NULL, 0, &last_ms},
    };
    int rc = fa__meta_get_all(ag, settings, 6);
    if (rc != FA_OK)
        return rc;
    char q[128];
    snprintf(q, sizeof q, "SELECT count(*) FROM outbox WHERE seq > %lld",
             (long long)acked);
    static const struct {
        const char *name, *sql;
    } counts[] = {
        {"submissions", "SELECT count(*) FROM submissions"},
        {"pending", NULL},
        {"refused", "SELECT count(*) FROM submissions WHERE state='refused'"},
        {"needs_attention", "SELECT count(*) FROM submissions WHERE "
                            "review_state IN ('has_issues', 'rejected')"},
        {"forms", "SELECT count(*) FROM forms"},
        {"entity_conflicts", "SELECT count(*) FROM entity_changes WHERE "
                             "hub_error = 'conflict'"},
        {"entity_refused", "SELECT count(*) FROM entity_changes WHERE "
                           "state = 'refused'"},
        {"attachments_waiting",
         "SELECT count(*) FROM attachments WHERE sent < size AND "
         "damaged = 0"},
        {"attachments_damaged",
         "SELECT count(*) FROM attachments WHERE damaged = 1"},
        {"attachment_bytes_sent", "SELECT coalesce(max(CAST(value AS "
                                  "INTEGER)), 0) FROM meta WHERE key = "
                                  "'attachment_bytes_sent'"},
        {"attachment_bytes_left",
         "SELECT coalesce(sum(size - sent), 0) FROM attachments"},
    };
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "hub", hub);
    cJSON_AddStringToObject(o, "device_id", device);
    cJSON_AddStringToObject(o, "device_name", name);
    cJSON_AddBoolToObject(o, "enrolled", device[0] != '\0');
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        cJSON_AddNumberToObject(
            o, counts[i].name,
            (double)count(ag, counts[i].sql ? counts[i].sql : q));
    cJSON_AddNumberToObject(o, "acked_seq", (double)acked);
    cJSON_AddNumberToObject(o, "last_sync_ms", (double)last_ms);
    cJSON_AddStringToObject(o, "last_sync_outcome", outcome);
    static const char *const quota[] = {"wave",    "area",   "form",
                                        "stratum", "target", "recorded"};
    add_rows(ag, cJSON_AddArrayToObject(o, "quotas"), quota_sql, "tttjnn",
             quota);
    static const char *const attention[] = {"id", "form", "review_state",
                                            "review_comment"};
    add_rows(ag, cJSON_AddArrayToObject(o, "attention_items"),
             "SELECT id, form_id, review_state, review_comment FROM "
             "submissions WHERE review_state IN ('has_issues', 'rejected') "
             "ORDER BY created_ms",
             "tttt", attention);
    static const char *const refused[] = {"id", "form", "hub_message"};
    add_rows(ag, cJSON_AddArrayToObject(o, "refused_items"),
             "SELECT id, form_id, hub_message FROM submissions WHERE state = "
             "'refused' ORDER BY created_ms",
             "ttt", refused);
    *out = o;
    return FA_OK;
}
