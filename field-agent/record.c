/*
 * record.c - recording finalized submissions offline, and what the device
 * holds (forms, status).
 *
 * The transactional outbox: the submission row and its outbox row are
 * written in one SQLite transaction, so a record either exists and will
 * be sent, or does not exist at all - whatever happens to the power.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drafts.h"
#include "fs_form.h"

#define ANSWERS_MAX (1024 * 1024)

/* Checks answers with the validator the hub also runs, and lists every
 * problem at once, one per line ("field: reason"), so a user fixes the
 * file in one go. */
static int check_answers(fa_agent *ag, const fs_form *form,
                         const cJSON *answers, const char *area)
{
    fs_problems p;
    fs_problems_init(&p);
    int rc = fs_answers_validate(form, answers, area, &p);
    if (rc == FS_OK)
        return FA_OK;
    if (rc == FS_ENOMEM)
        return fa__fail(ag, FA_ESTORE, "out of memory");
    size_t used = 0;
    ag->err[0] = '\0';
    for (size_t i = 0; i < p.n && used < sizeof ag->err; i++) {
        int n = snprintf(ag->err + used, sizeof ag->err - used, "%s%s: %s",
                         i ? "\n" : "", p.items[i].where, p.items[i].msg);
        if (n < 0 || (size_t)n >= sizeof ag->err - used) {
            /* Keep whole lines only; say how many did not fit. */
            ag->err[used] = '\0';
            snprintf(ag->err + used, sizeof ag->err - used,
                     "\n... and %zu more", fs_problems_total(&p) - i);
            used = sizeof ag->err;
            break;
        }
        used += (size_t)n;
    }
    if (p.dropped > 0 && used < sizeof ag->err)
        snprintf(ag->err + used, sizeof ag->err - used, "\n... and %zu more",
                 p.dropped);
    return FA_EINPUT;
}

int fa_record(fa_agent *ag, const char *form_id, int64_t version,
              const char *area, const char *answers_json, char *id_out)
{
    if (!fs_valid_form_id(form_id))
        return fa__fail(ag, FA_EINPUT,
                        "'%s' is not a form id (lower-case letters, digits "
                        "and _); `fieldsync-agent forms` lists them",
                        form_id);
    if (area && area[0] && !fs_valid_area_code(area))
        return fa__fail(ag, FA_EINPUT,
                        "'%s' is not an area code (letters, digits, . _ -, "
                        "at most 64)",
                        area);
    cJSON *answers = NULL;
    fs_err perr = {0};
    size_t alen = strlen(answers_json);
    if (alen > ANSWERS_MAX)
        return fa__fail(ag, FA_EINPUT, "the answers are larger than 1 MiB");
    if (fs_json_parse(answers_json, alen, &ag->limits, &answers, &perr) !=
        FS_OK)
        return fa__fail(ag, FA_EINPUT, "the answers are not valid JSON: %s",
                        perr.msg);
    if (!cJSON_IsObject(answers)) {
        cJSON_Delete(answers);
        return fa__fail(ag, FA_EINPUT,
                        "the answers must be a JSON object of field names "
                        "and values, e.g. {\"age_band\": \"25-34\"}");
    }
    char areas[2048];
    int rc = fa__meta_get(ag, "areas", areas, sizeof areas);
    if (rc == FA_OK && areas[0] && !fs_scope_has(areas, area ? area : "")) {
        cJSON_Delete(answers);
        return fa__fail(ag, FA_EINPUT,
                        "this device records for areas %s only; give one "
                        "of them with --area",
                        areas);
    }
    if (rc != FA_OK) {
        cJSON_Delete(answers);
        return rc;
    }
    fs_form *form = NULL;
    rc = fa__form_load(ag, form_id, &version, &form);
    if (rc == FA_OK)
        rc = check_answers(ag, form, answers, area);
    fs_form_free(form);
    char *canon = rc == FA_OK ? cJSON_PrintUnformatted(answers) : NULL;
    cJSON_Delete(answers);
    if (rc != FA_OK)
        return rc;
    if (!canon)
        return fa__fail(ag, FA_ESTORE, "out of memory");

    char id[FS_UUID_LEN + 1];
    if (fs_uuid_v7(id) != FS_OK) {
        free(canon);
        return fa__fail(ag, FA_ESTORE, "the system has no randomness");
    }
    rc = fa__begin(ag);
    if (rc == FA_OK)
        rc = fa__store_submission(ag, id, 0, form_id, version, area, canon);
    if (rc == FA_OK)
        rc = fa__commit(ag);
    else
        fa__rollback(ag);
    if (rc == FA_OK && id_out)
        memcpy(id_out, id, sizeof id);
    free(canon);
    return rc;
}

int fa_forms(fa_agent *ag, int json, const char *lang, FILE *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ag->db,
                           "SELECT id, version, title, definition FROM forms "
                           "ORDER BY id, version",
                           -1, &st, NULL) != SQLITE_OK)
        return fa__store_error(ag, "reading forms");
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        long long v = sqlite3_column_int64(st, 1);
        /* The title in the chosen language, with the form's fallback;
         * the stored default title if the definition cannot be read. */
        fs_form *f = NULL;
        fs_form_parse((const char *)sqlite3_column_text(st, 3),
                      (size_t)sqlite3_column_bytes(st, 3), 0, &f, NULL);
        const char *title = f ? fs_form_title(f, lang)
                              : (const char *)sqlite3_column_text(st, 2);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", id);
            cJSON_AddNumberToObject(o, "version", (double)v);
            cJSON_AddStringToObject(o, "title", title);
            cJSON_AddItemToArray(arr, o);
        } else {
            fprintf(out, "%-32s  v%-4lld  %s\n", id, v, title);
        }
        fs_form_free(f);
        n++;
    }
    sqlite3_finalize(st);
    if (json) {
        char *t = cJSON_Print(arr);
        fprintf(out, "%s\n", t);
        free(t);
        cJSON_Delete(arr);
    } else if (n == 0) {
        fprintf(out, "no forms on this device yet; run `fieldsync-agent "
                     "sync` to fetch them from the hub\n");
    }
    return FA_OK;
}

static long long count(fa_agent *ag, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(ag->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void fmt_time(int64_t ms, char *buf, size_t cap)
{
    if (ms <= 0) {
        snprintf(buf, cap, "never");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* This device's quotas and what it recorded toward each, counted here:
 * the newest revision of each submission first recorded within the
 * wave's dates, for the quota's form and area, holding its stratum, not
 * rejected by the hub. */
static const char quota_sql[] =
    "SELECT q.wave, q.area, q.form_id, q.stratum, q.target, (SELECT "
    "count(*) FROM submissions s WHERE s.area = q.area AND s.form_id = "
    "q.form_id AND s.review_state <> 'rejected' AND s.rev = (SELECT "
    "max(rev) FROM submissions s2 WHERE s2.id = s.id) AND (SELECT "
    "min(created_ms) FROM submissions s3 WHERE s3.id = s.id) BETWEEN "
    "q.start_ms AND q.end_ms - 1 AND NOT EXISTS (SELECT 1 FROM "
    "json_each(q.stratum) j WHERE json_extract(s.answers, '$.' || j.key) "
    "IS NOT j.value)) FROM quotas q WHERE q.target > 0 ORDER BY q.wave, "
    "q.area, q.form_id, q.stratum";

/* Quotas as JSON (arr not NULL) or text lines. */
static void quotas_out(fa_agent *ag, cJSON *arr, FILE *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ag->db, quota_sql, -1, &st, NULL) != SQLITE_OK)
        return;
    int first = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *wave = (const char *)sqlite3_column_text(st, 0);
        const char *area = (const char *)sqlite3_column_text(st, 1);
        const char *form = (const char *)sqlite3_column_text(st, 2);
        const char *strat = (const char *)sqlite3_column_text(st, 3);
        long long target = sqlite3_column_int64(st, 4);
        long long done = sqlite3_column_int64(st, 5);
        if (arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "wave", wave);
            cJSON_AddStringToObject(o, "area", area);
            cJSON_AddStringToObject(o, "form", form);
            cJSON_AddItemToObject(o, "stratum", cJSON_Parse(strat));
            cJSON_AddNumberToObject(o, "target", (double)target);
            cJSON_AddNumberToObject(o, "recorded", (double)done);
            cJSON_AddItemToArray(arr, o);
            continue;
        }
        if (first)
            fprintf(out, "\nquotas (counted on this device):\n");
        first = 0;
        fprintf(out, "  %s %s %s%s%s: %lld of %lld%s\n", wave, area, form,
                strcmp(strat, "{}") ? " " : "",
                strcmp(strat, "{}") ? strat : "", done, target,
                done >= target ? " (reached)" : "");
    }
    sqlite3_finalize(st);
}

int fa_status(fa_agent *ag, int json, void *outp)
{
    FILE *out = outp;
    char hub[512], device[64], name[FS_NAME_MAX + 1], outcome[512];
    int64_t acked = 0, last_ms = 0;
    int rc = fa__meta_get(ag, "hub_url", hub, sizeof hub);
    if (rc == FA_OK)
        rc = fa__meta_get(ag, "device_id", device, sizeof device);
    if (rc == FA_OK)
        rc = fa__meta_get(ag, "device_name", name, sizeof name);
    if (rc == FA_OK)
        rc = fa__meta_get(ag, "last_sync_outcome", outcome, sizeof outcome);
    if (rc == FA_OK)
        rc = fa__meta_get_int(ag, "acked_seq", 0, &acked);
    if (rc == FA_OK)
        rc = fa__meta_get_int(ag, "last_sync_ms", 0, &last_ms);
    if (rc != FA_OK)
        return rc;
    char q[128];
    snprintf(q, sizeof q, "SELECT count(*) FROM outbox WHERE seq > %lld",
             (long long)acked);
    long long pending = count(ag, q);
    long long refused =
        count(ag, "SELECT count(*) FROM submissions WHERE state='refused'");
    long long total = count(ag, "SELECT count(*) FROM submissions");
    long long forms = count(ag, "SELECT count(*) FROM forms");
    long long attention = count(ag, "SELECT count(*) FROM submissions "
                                    "WHERE review_state IN ('has_issues', "
                                    "'rejected')");
    long long reg_conflicts = count(ag, "SELECT count(*) FROM "
                                        "entity_changes WHERE hub_error = "
                                        "'conflict'");
    long long reg_refused = count(ag, "SELECT count(*) FROM entity_changes "
                                      "WHERE state = 'refused'");
    char when[64];
    fmt_time(last_ms, when, sizeof when);

    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "hub", hub);
        cJSON_AddStringToObject(o, "device_id", device);
        cJSON_AddStringToObject(o, "device_name", name);
        cJSON_AddBoolToObject(o, "enrolled", device[0] != '\0');
        cJSON_AddNumberToObject(o, "submissions", (double)total);
        cJSON_AddNumberToObject(o, "pending", (double)pending);
        cJSON_AddNumberToObject(o, "refused", (double)refused);
        cJSON_AddNumberToObject(o, "needs_attention", (double)attention);
        cJSON_AddNumberToObject(o, "forms", (double)forms);
        cJSON_AddNumberToObject(o, "entity_conflicts", (double)reg_conflicts);
        cJSON_AddNumberToObject(o, "entity_refused", (double)reg_refused);
        cJSON_AddNumberToObject(o, "acked_seq", (double)acked);
        cJSON_AddNumberToObject(o, "last_sync_ms", (double)last_ms);
        cJSON_AddStringToObject(o, "last_sync_outcome", outcome);
        quotas_out(ag, cJSON_AddArrayToObject(o, "quotas"), out);
        char *t = cJSON_Print(o);
        fprintf(out, "%s\n", t);
        free(t);
        cJSON_Delete(o);
        return FA_OK;
    }
    if (device[0])
        fprintf(out, "hub:         %s\ndevice:      %s (%s)\n", hub, name,
                device);
    else
        fprintf(out, "not enrolled: run `fieldsync-agent enroll --hub URL "
                     "--code CODE`\n");
    fprintf(out,
            "submissions: %lld on this device, %lld waiting to be "
            "sent\n",
            total, pending);
    fprintf(out, "forms:       %lld\n", forms);
    fprintf(out, "last sync:   %s%s%s\n", when, outcome[0] ? ": " : "",
            outcome);
    quotas_out(ag, NULL, out);
    if (attention > 0) {
        fprintf(out, "\n%lld submission(s) need attention (hub review):\n",
                attention);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(ag->db,
                               "SELECT id, form_id, review_state, "
                               "review_comment FROM submissions WHERE "
                               "review_state IN ('has_issues', 'rejected') "
                               "ORDER BY created_ms",
                               -1, &st, NULL) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW)
                fprintf(out, "  %s  %s: %s: %s\n", sqlite3_column_text(st, 0),
                        sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
                        sqlite3_column_text(st, 3));
        }
        sqlite3_finalize(st);
        fprintf(out, "  (correct one with `fieldsync-agent amend ID`)\n");
    }
    if (reg_conflicts + reg_refused > 0)
        fprintf(out,
                "\nregistry: %lld edit(s) met another device's edit "
                "(a hub admin settles them), %lld refused; see "
                "`fieldsync-agent entity show ID`\n",
                reg_conflicts, reg_refused);
    if (refused > 0) {
        fprintf(out,
                "\n%lld submission(s) refused by the hub, kept on "
                "this device:\n",
                refused);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(ag->db,
                               "SELECT id, form_id, hub_message FROM "
                               "submissions WHERE state = 'refused' ORDER "
                               "BY created_ms",
                               -1, &st, NULL) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW)
                fprintf(out, "  %s  %s: %s\n", sqlite3_column_text(st, 0),
                        sqlite3_column_text(st, 1), sqlite3_column_text(st, 2));
        }
        sqlite3_finalize(st);
    }
    return FA_OK;
}
