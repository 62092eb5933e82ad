/*
 * forms.c - see forms.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forms.h"
#include "errors.h"
#include "stmtcache.h"

fs_form *hub__form_latest(sqlite3 *db, const char *id)
{
    return hub__form_at(db, id, 0);
}

fs_form *hub__form_at(sqlite3 *db, const char *id, int64_t version)
{
    int rc;
    fs_form *f = NULL;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT definition FROM forms WHERE id = ?1 "
                                "AND (?2 = 0 OR version = ?2) ORDER BY "
                                "version DESC LIMIT 1",
                                HUB_ARGS(HUB_TEXT(id), HUB_INT(version)), &rc);
    if (st && hub__sql_step(st) > 0) {
        fs_form_parse(hub__col(st, 0), (size_t)sqlite3_column_bytes(st, 0), 0,
                      &f, NULL);
        hub__sql_end(st);
    }
    return f;
}

cJSON *hub__form_marked(sqlite3 *db, const char *id)
{
    const unsigned marks = FS_FIELD_PERSONAL | FS_FIELD_SENSITIVE;
    cJSON *names = cJSON_CreateArray();
    int rc;
    sqlite3_stmt *st = hub__sql(
        db, "SELECT definition FROM forms WHERE id = ?1 ORDER BY version",
        HUB_ARGS(HUB_TEXT(id)), &rc);
    while (names && st && (rc = hub__sql_step(st)) > 0) {
        fs_form *f = NULL;
        if (fs_form_parse(hub__col(st, 0), (size_t)sqlite3_column_bytes(st, 0),
                          0, &f, NULL) != 0 ||
            !f) {
            rc = HUB_ESTORAGE;
            hub__sql_end(st);
            break;
        }
        for (size_t i = 0; i < fs_form_field_count(f); i++) {
            const fs_field *fld = fs_form_field(f, i);
            if ((fs_field_flags(fld) & marks) &&
                !hub__name_in(names, fs_field_name(fld)))
                cJSON_AddItemToArray(names,
                                     cJSON_CreateString(fs_field_name(fld)));
        }
        fs_form_free(f);
    }
    if (rc != 0 || !names) {
        cJSON_Delete(names);
        return NULL;
    }
    return names;
}

int hub__name_in(const cJSON *names, const char *name)
{
    const cJSON *n;
    cJSON_ArrayForEach(n, names)
    {
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return 1;
    }
    return 0;
}

int hub__form_marks(sqlite3 *db, const char *id, const char *name,
                    unsigned *flags)
{
    cJSON *names = hub__form_marked(db, id);
    *flags = FS_FIELD_PERSONAL | FS_FIELD_SENSITIVE;
    if (!names)
        return HUB_ESTORAGE;
    if (!hub__name_in(names, name))
        *flags = 0;
    cJSON_Delete(names);
    return HUB_OK;
}

/* The version rules (FORMS.md, "Versions") against the newest published
 * version of the same form. */
static int check_versions(sqlite3 *db, const fs_form *f, fs_problems *p,
                          char *err, size_t cap)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT version, definition FROM forms WHERE "
                                "id = ? ORDER BY version DESC LIMIT 1",
                                HUB_ARGS(HUB_TEXT(fs_form_id(f))), &rc);
    if (!st || (rc = hub__sql_step(st)) <= 0)
        return rc;
    int64_t latest = sqlite3_column_int64(st, 0);
    if (latest > fs_form_version(f)) {
        hub__sql_end(st);
        return hub__errf(err, cap,
                         "$.version: form %s has version %lld published "
                         "already; publish a version above it",
                         fs_form_id(f), (long long)latest);
    }
    fs_form *old = NULL;
    rc = HUB_OK;
    if (fs_form_parse(hub__col(st, 1), (size_t)sqlite3_column_bytes(st, 1), 0,
                      &old, NULL) == FS_OK &&
        fs_form_check_upgrade(old, f, p) != FS_OK)
        rc = hub__errf(err, cap,
                       "version %lld breaks the version rules against "
                       "version %lld",
                       (long long)fs_form_version(f), (long long)latest);
    /* A published version this hub can no longer read does not block its
     * successor: the successor is what fixes it. */
    fs_form_free(old);
    hub__sql_end(st);
    return rc;
}

int hub__form_publish(sqlite3 *db, const fs_form *form, int *unchanged,
                      fs_problems *p, char *err, size_t cap)
{
    *unchanged = 0;
    char *canon = cJSON_PrintUnformatted(fs_form_json(form));
    if (!canon)
        return HUB_ENOMEM;
    char digest[65];
    fs_sha256_hex(canon, strlen(canon), digest);
    const char *id = fs_form_id(form);
    int64_t version = fs_form_version(form);
    int rc;
    sqlite3_stmt *st =
        hub__sql(db, "SELECT digest FROM forms WHERE id = ? AND version = ?",
                 HUB_ARGS(HUB_TEXT(id), HUB_INT(version)), &rc);
    if (st && (rc = hub__sql_step(st)) > 0) {
        *unchanged = strcmp(hub__col(st, 0), digest) == 0;
        hub__sql_end(st);
        if (*unchanged)
            rc = HUB_OK;
        else {
            snprintf(err, cap,
                     "form %s version %lld is already published with other "
                     "content, and a published version never changes; "
                     "publish the change as a new version",
                     id, (long long)version);
            rc = HUB_ECONFLICT;
        }
        free(canon);
        return rc;
    }
    if (rc == HUB_OK)
        rc = check_versions(db, form, p, err, cap);
    int64_t now = (int64_t)fs_now_ms();
    if (rc == HUB_OK)
        rc = hub__sql_run(db,
                          "INSERT INTO forms (id, version, title, definition, "
                          "digest, published_ms) VALUES (?, ?, ?, ?, ?, ?)",
                          HUB_ARGS(HUB_TEXT(id), HUB_INT(version),
                                   HUB_TEXT(fs_form_title(form, NULL)),
                                   HUB_TEXT(canon), HUB_TEXT(digest),
                                   HUB_INT(now)));
    char ref[FS_ID_MAX + 24];
    snprintf(ref, sizeof ref, "%s@%lld", id, (long long)version);
    if (rc == HUB_OK)
        rc = hub__sql_run(
            db,
            "INSERT INTO change_log (kind, ref, payload, "
            "created_ms) VALUES ('form', ?, ?, ?)",
            HUB_ARGS(HUB_TEXT(ref), HUB_TEXT(canon), HUB_INT(now)));
    free(canon);
    return rc;
}
