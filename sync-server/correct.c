/*
 * correct.c - an admin correction of a submission: a new revision made on
 * the hub, on top of the newest one, checked against its form like any
 * other. An amendment from the field based on the older revision then
 * meets it as a conflict (merge.c), never as an overwrite.
 * Also the admin's direct write of a registry entity (entity put).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_form.h"
#include "hub.h"
#include "errors.h"
#include "stmtcache.h"
#include "audit.h"
#include "cli.h"
#include "db.h"
#include "entity.h"

#define ANSWERS_MAX (1024 * 1024)

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fs_buf b;
    fs_buf_init(&b, ANSWERS_MAX);
    char chunk[8192];
    size_t n;
    int ok = 1;
    while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ok = fs_buf_append(&b, chunk, n) == FS_OK;
    ok = ok && !ferror(f) && fs_buf_append(&b, "", 0) == FS_OK;
    fclose(f);
    if (!ok) {
        fs_buf_free(&b);
        errno = EFBIG;
        return NULL;
    }
    *len = b.len;
    return (char *)b.data;
}

/* Checks answers against the form of the newest revision and inserts the
 * next revision, in the caller's transaction. Returns HUB_OK,
 * HUB_ENOTFOUND / HUB_EBADINPUT with a sentence in err, or a storage
 * error. *rev_out is the new revision. */
static int correct(sqlite3 *db, const char *id, const cJSON *answers,
                   const char *actor, int64_t *rev_out, char *err,
                   size_t errlen)
{
    int rc;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT s.rev, s.form_id, s.form_version, s.area, f.definition FROM "
        "submissions s LEFT JOIN forms f ON f.id = s.form_id AND f.version "
        "= s.form_version WHERE s.id = ? ORDER BY s.rev DESC LIMIT 1",
        HUB_ARGS(HUB_TEXT(id)), &rc);
    if (!st || (rc = hub__sql_step(st)) < 0)
        return rc;
    if (rc == 0) {
        snprintf(err, errlen, "no submission %s", id);
        return HUB_ENOTFOUND;
    }
    int64_t rev = sqlite3_column_int64(st, 0);
    char form_id[FS_ID_MAX + 1], area[FS_ID_MAX + 1];
    int64_t version = sqlite3_column_int64(st, 2);
    snprintf(form_id, sizeof form_id, "%s", hub__col(st, 1));
    snprintf(area, sizeof area, "%s", hub__col(st, 3));
    fs_form *form = NULL;
    const char *def = (const char *)sqlite3_column_text(st, 4);
    if (def)
        fs_form_parse(def, strlen(def), 0, &form, NULL);
    hub__sql_end(st);
    fs_problems p;
    fs_problems_init(&p);
    if (!form || fs_answers_validate(form, answers, area, &p) != FS_OK ||
        fs_answers_check_sealed(form, answers, &p) != FS_OK) {
        if (form)
            fs_problems_format(&p, "; ", err, errlen);
        else
            snprintf(err, errlen, "form %s v%lld is not readable here", form_id,
                     (long long)version);
        fs_form_free(form);
        return HUB_EBADINPUT;
    }
    fs_form_free(form);
    char *text = cJSON_PrintUnformatted(answers);
    if (!text)
        return HUB_ENOMEM;
    char digest[65], hlc[FS_HLC_TEXT_LEN + 1];
    fs_sha256_hex(text, strlen(text), digest);
    uint64_t clock = 0;
    int64_t now = (int64_t)fs_now_ms();
    fs_hlc_format(fs_hlc_tick(&clock, (uint64_t)now), hlc);
    rc = hub__sql_run(
        db,
        "INSERT INTO submissions (id, rev, base_rev, form_id, form_version, "
        "area, device_id, collector, hlc, created_ms, received_ms, answers, "
        "digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', ?7, ?8, ?9, ?9, ?10, "
        "?11)",
        HUB_ARGS(HUB_TEXT(id), HUB_INT(rev + 1), HUB_INT(rev),
                 HUB_TEXT(form_id), HUB_INT(version), HUB_TEXT(area),
                 HUB_TEXT(actor), HUB_TEXT(hlc), HUB_INT(now), HUB_TEXT(text),
                 HUB_TEXT(digest)));
    free(text);
    if (rc != HUB_OK)
        return rc;
    *rev_out = rev + 1;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "submission", id);
    cJSON_AddNumberToObject(d, "rev", (double)(rev + 1));
    cJSON_AddNumberToObject(d, "base_rev", (double)rev);
    return hub__audit(db, actor, "submission.correct", d);
}

int hub_correct(const char *db_path, const char *id, const char *file,
                FILE *out)
{
    if (!fs_valid_uuid(id)) {
        fprintf(stderr, "fieldsync-hub: '%s' is not a submission id\n", id);
        return 2;
    }
    if (!file) {
        fprintf(stderr, "fieldsync-hub: give the corrected answers with "
                        "--answers FILE.json\n");
        return 2;
    }
    size_t len = 0;
    char *text = read_file(file, &len);
    if (!text) {
        fprintf(stderr, "fieldsync-hub: cannot read %s: %s\n", file,
                strerror(errno));
        return 2;
    }
    cJSON *answers = NULL;
    fs_err perr = {0, ""};
    int prc = fs_json_parse(text, len, NULL, &answers, &perr);
    free(text);
    if (prc != FS_OK || !cJSON_IsObject(answers)) {
        fprintf(stderr, "fieldsync-hub: %s: %s\n", file,
                prc != FS_OK ? perr.msg
                             : "must be a JSON object of field names and "
                               "values");
        cJSON_Delete(answers);
        return 2;
    }
    sqlite3 *db = hub__open(db_path);
    if (!db) {
        cJSON_Delete(answers);
        return 1;
    }
    char err[FS_ERRMSG_MAX * 4] = "";
    int64_t rev = 0;
    int rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? HUB_OK : HUB_ESTORAGE;
    if (rc == HUB_OK)
        rc = correct(db, id, answers, "cli", &rev, err, sizeof err);
    cJSON_Delete(answers);
    int status = hub__cli_end(db, rc, "not corrected", err);
    if (status != 0)
        return status;
    fprintf(out, "submission %s: revision %lld stored\n", id, (long long)rev);
    return 0;
}

int hub_entity_put(const char *db_path, const char *type, const char *id,
                   const char *fields_json, FILE *out)
{
    cJSON *fields = NULL;
    fs_err perr = {0, ""};
    if (!fields_json ||
        fs_json_parse(fields_json, strlen(fields_json), NULL, &fields, &perr) !=
            FS_OK ||
        !cJSON_IsObject(fields)) {
        fprintf(stderr,
                "fieldsync-hub: --fields takes a JSON object of "
                "field names and values, e.g. '{\"status\": "
                "\"active\"}'%s%s\n",
                perr.msg[0] ? ": " : "", perr.msg);
        cJSON_Delete(fields);
        return 2;
    }
    sqlite3 *db = hub__open(db_path);
    if (!db) {
        cJSON_Delete(fields);
        return 1;
    }
    char err[512] = "", newid[FS_UUID_LEN + 1] = "";
    int rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? HUB_OK : HUB_ESTORAGE;
    if (rc == HUB_OK)
        rc = hub__entity_admin_write(db, type, id, fields, "cli", newid, err,
                                     sizeof err);
    cJSON_Delete(fields);
    int status = hub__cli_end(db, rc, "not written", err);
    if (status != 0)
        return status;
    fprintf(out, "%s\n", newid);
    return 0;
}
