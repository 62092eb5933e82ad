/*
 * admin.c - admin commands that work on the hub database file: enrolment
 * codes, form publishing, device list and what the hub holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs_form.h"
#include "fs_schema.h"
#include "hub.h"
#include "hub_int.h"

#define FORM_FILE_MAX (4 * 1024 * 1024)

sqlite3 *hub__open(const char *path)
{
    sqlite3 *db = NULL;
    char err[512];
    if (fs_db_open(path, &fs_schema_hub, 1, &db, err, sizeof err) != 0) {
        fprintf(stderr, "fieldsync-hub: %s\n", err);
        return NULL;
    }
    return db;
}

int hub__exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "fieldsync-hub: database error: %s\n",
                msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int hub__audit(sqlite3 *db, const char *actor, const char *action,
               cJSON *detail)
{
    char *text = detail ? cJSON_PrintUnformatted(detail) : NULL;
    cJSON_Delete(detail);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO audit_log (at_ms, actor, "
                                "action, detail) VALUES (?, ?, ?, ?)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)fs_now_ms());
        sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, text ? text : "{}", -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    free(text);
    return rc;
}

/* Codes use an alphabet without look-alikes (no 0/O, 1/I/L) so they can
 * be read out over a phone: 12 symbols of 32, 60 bits, single use and
 * short-lived. */
static const char code_alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

int hub_enroll_code(const char *db_path, const char *name, const char *role,
                    const char *areas, const char *forms, double expires_hours,
                    FILE *out)
{
    char area_list[HUB_SCOPE_MAX], form_list[HUB_SCOPE_MAX], why[200];
    if (hub__scope_parse(areas, fs_valid_area_code, area_list, sizeof area_list,
                         why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --areas: %s\n", why);
        return 2;
    }
    if (hub__scope_parse(forms, fs_valid_form_id, form_list, sizeof form_list,
                         why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --forms: %s\n", why);
        return 2;
    }
    if (name && !fs_valid_name(name)) {
        fprintf(stderr, "fieldsync-hub: --name must be printable text of "
                        "1 to 128 bytes\n");
        return 2;
    }
    if (expires_hours <= 0 || expires_hours > 24 * 365) {
        fprintf(stderr, "fieldsync-hub: --expires must be between 0 and "
                        "8760 hours\n");
        return 2;
    }
    unsigned char raw[12];
    if (fs_random_bytes(raw, sizeof raw) != FS_OK) {
        fprintf(stderr, "fieldsync-hub: no randomness available\n");
        return 1;
    }
    char code[16], norm[13];
    size_t j = 0;
    for (size_t i = 0; i < 12; i++) {
        char c = code_alphabet[raw[i] % (sizeof code_alphabet - 1)];
        norm[i] = c;
        if (i > 0 && i % 4 == 0)
            code[j++] = '-';
        code[j++] = c;
    }
    norm[12] = '\0';
    code[j] = '\0';
    char hash[65];
    fs_sha256_hex(norm, 12, hash);

    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    int64_t now = (int64_t)fs_now_ms();
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO enrol_codes (code_hash, name, "
                                "role, created_ms, expires_ms, areas, forms) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name ? name : "device", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int64(st, 5, now + (int64_t)(expires_hours * 3600e3));
        sqlite3_bind_text(st, 6, area_list, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, form_list, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", name ? name : "device");
        cJSON_AddStringToObject(d, "role", role);
        cJSON_AddStringToObject(d, "areas", area_list);
        cJSON_AddStringToObject(d, "forms", form_list);
        cJSON_AddNumberToObject(d, "expires_hours", expires_hours);
        rc = hub__audit(db, "cli", "enrolment_code.create", d);
    }
    if (rc != SQLITE_OK) {
        fprintf(stderr, "fieldsync-hub: cannot store the code: %s\n",
                sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    sqlite3_close(db);
    fprintf(out, "%s\n", code);
    return 0;
}

char *hub__read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fieldsync-hub: cannot open %s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    fs_buf b;
    fs_buf_init(&b, max);
    char chunk[8192];
    size_t n;
    int rc = FS_OK;
    while (rc == FS_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = fs_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (rc != FS_OK || bad) {
        fprintf(stderr, "fieldsync-hub: cannot read %s: %s\n", path,
                rc == FS_ETOOBIG ? "the file is too large" : "read error");
        fs_buf_free(&b);
        return NULL;
    }
    if (fs_buf_append(&b, "", 0) != FS_OK) {
        fs_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return (char *)b.data;
}

/* Prints every problem of a definition, one per line with its JSON
 * path, so an admin fixes the file in one go. */
static void print_problems(const fs_problems *p, const char *file)
{
    for (size_t i = 0; i < p->n; i++)
        fprintf(stderr, "fieldsync-hub: %s: %s: %s\n", file, p->items[i].where,
                p->items[i].msg);
    if (p->dropped > 0)
        fprintf(stderr, "fieldsync-hub: %s: ... and %zu more problems\n", file,
                p->dropped);
}

/* The version rules against the newest published version of the same
 * form (FORMS.md, "Versions"): 0 when f may be published, 1 when not
 * (reasons printed), -1 on a database error. */
static int check_versions(sqlite3 *db, const fs_form *f, const char *file)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT version, definition FROM forms "
                                "WHERE id = ? ORDER BY version DESC LIMIT 1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, fs_form_id(f), -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : -1;
    }
    int64_t latest = sqlite3_column_int64(st, 0);
    int status = 0;
    if (latest > fs_form_version(f)) {
        fprintf(stderr,
                "fieldsync-hub: %s: $.version: form %s has version %lld "
                "published already; publish a version above it\n",
                file, fs_form_id(f), (long long)latest);
        status = 1;
    } else {
        const char *text = (const char *)sqlite3_column_text(st, 1);
        fs_form *old = NULL;
        fs_problems p;
        fs_problems_init(&p);
        if (text &&
            fs_form_parse(text, (size_t)sqlite3_column_bytes(st, 1), 0, &old,
                          NULL) == FS_OK &&
            fs_form_check_upgrade(old, f, &p) != FS_OK) {
            print_problems(&p, file);
            fprintf(stderr,
                    "fieldsync-hub: %s: version %lld breaks the "
                    "version rules against version %lld\n",
                    file, (long long)fs_form_version(f), (long long)latest);
            status = 1;
        }
        /* A published version this hub can no longer read does not block
         * its successor: the successor is what fixes it. */
        fs_form_free(old);
    }
    sqlite3_finalize(st);
    return status;
}

int hub_form_publish(const char *db_path, const char *file, FILE *out)
{
    size_t len = 0;
    char *text = hub__read_file(file, FORM_FILE_MAX, &len);
    if (!text)
        return 1;
    int status = hub_form_publish_json(db_path, file, text, len, out);
    free(text);
    return status;
}

int hub_form_publish_json(const char *db_path, const char *file,
                          const char *text, size_t len, FILE *out)
{
    fs_form *form = NULL;
    fs_problems probs;
    fs_problems_init(&probs);
    int rc = fs_form_parse(text, len, FS_FORM_STRICT, &form, &probs);
    if (rc != FS_OK) {
        print_problems(&probs, file);
        if (rc == FS_ENOMEM)
            fprintf(stderr, "fieldsync-hub: out of memory\n");
        else
            fprintf(stderr,
                    "fieldsync-hub: %s: not published; fix the "
                    "problems above\n",
                    file);
        return 1;
    }
    char *canon = cJSON_PrintUnformatted(fs_form_json(form));
    if (!canon) {
        fprintf(stderr, "fieldsync-hub: out of memory\n");
        fs_form_free(form);
        return 1;
    }
    char digest[65];
    fs_sha256_hex(canon, strlen(canon), digest);
    const char *id = fs_form_id(form);
    int64_t version = fs_form_version(form);
    int status = 1;
    sqlite3 *db = hub__open(db_path);
    sqlite3_stmt *st = NULL;
    if (!db || hub__exec(db, "BEGIN IMMEDIATE") != 0)
        goto out;
    rc = sqlite3_prepare_v2(db,
                            "SELECT digest FROM forms WHERE id = ? AND "
                            "version = ?",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int same =
            strcmp((const char *)sqlite3_column_text(st, 0), digest) == 0;
        sqlite3_finalize(st);
        st = NULL;
        hub__exec(db, "ROLLBACK");
        if (same) {
            fprintf(out,
                    "form %s version %lld is already published, "
                    "unchanged\n",
                    id, (long long)version);
            status = 0;
        } else {
            fprintf(stderr,
                    "fieldsync-hub: form %s version %lld is already "
                    "published with other content, and a published "
                    "version never changes; publish the change as a new "
                    "version\n",
                    id, (long long)version);
        }
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    rc = check_versions(db, form, file);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr,
                    "fieldsync-hub: cannot read the published "
                    "versions: %s\n",
                    sqlite3_errmsg(db));
        else
            fprintf(stderr, "fieldsync-hub: %s: not published\n", file);
        hub__exec(db, "ROLLBACK");
        goto out;
    }
    int64_t now = (int64_t)fs_now_ms();
    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO forms (id, version, title, "
                            "definition, digest, published_ms) VALUES "
                            "(?, ?, ?, ?, ?, ?)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_text(st, 3, fs_form_title(form, NULL), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, canon, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, digest, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    st = NULL;
    char ref[FS_ID_MAX + 24];
    snprintf(ref, sizeof ref, "%s@%lld", id, (long long)version);
    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO change_log (kind, ref, payload, "
                            "created_ms) VALUES ('form', ?, ?, ?)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, canon, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    st = NULL;
    if (hub__exec(db, "COMMIT") != 0)
        goto fail;
    fprintf(out, "published form %s version %lld\n", id, (long long)version);
    status = 0;
    goto out;
fail:
    fprintf(stderr, "fieldsync-hub: cannot publish %s: %s\n", file,
            sqlite3_errmsg(db));
    sqlite3_finalize(st);
    st = NULL;
    hub__exec(db, "ROLLBACK");
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(canon);
    fs_form_free(form);
    return status;
}

static void print_time(FILE *out, int64_t ms)
{
    if (ms <= 0) {
        fprintf(out, "%-20s", "never");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(out, "%-20s", buf);
}

int hub_devices(const char *db_path, int json, FILE *out)
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, name, role, acked_seq, "
                           "coalesce(last_seen_ms, 0), revoked_ms IS NOT "
                           "NULL FROM devices ORDER BY enrolled_ms",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "fieldsync-hub: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    if (!json)
        fprintf(out, "%-36s  %-20s  %-12s  %8s  %-20s  %s\n", "DEVICE", "NAME",
                "ROLE", "ACKED", "LAST SEEN (UTC)", "STATE");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *role = (const char *)sqlite3_column_text(st, 2);
        int64_t acked = sqlite3_column_int64(st, 3);
        int64_t seen = sqlite3_column_int64(st, 4);
        int revoked = sqlite3_column_int(st, 5);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", id);
            cJSON_AddStringToObject(o, "name", name);
            cJSON_AddStringToObject(o, "role", role);
            cJSON_AddNumberToObject(o, "acked_seq", (double)acked);
            cJSON_AddNumberToObject(o, "last_seen_ms", (double)seen);
            cJSON_AddBoolToObject(o, "revoked", revoked);
            cJSON_AddItemToArray(arr, o);
        } else {
            fprintf(out, "%-36s  %-20s  %-12s  %8lld  ", id, name, role,
                    (long long)acked);
            print_time(out, seen);
            fprintf(out, "  %s\n", revoked ? "revoked" : "active");
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (json) {
        char *t = cJSON_Print(arr);
        fprintf(out, "%s\n", t);
        free(t);
        cJSON_Delete(arr);
    }
    return 0;
}

/* Rows of (key..., count) from sql into a JSON array or a table. */
static int stats_section(sqlite3 *db, const char *sql, const char *title,
                         const char *const *cols, int ncols, cJSON *arr,
                         FILE *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "fieldsync-hub: %s\n", sqlite3_errmsg(db));
        return -1;
    }
    if (!arr) {
        fprintf(out, "%s\n", title);
        for (int c = 0; c < ncols; c++)
            fprintf(out, c == 0 ? "  %-28s" : "  %11s", cols[c]);
        fputc('\n', out);
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *o = arr ? cJSON_CreateObject() : NULL;
        for (int c = 0; c < ncols; c++) {
            if (sqlite3_column_type(st, c) == SQLITE_INTEGER) {
                long long v = sqlite3_column_int64(st, c);
                if (o)
                    cJSON_AddNumberToObject(o, cols[c], (double)v);
                else
                    fprintf(out, c == 0 ? "  %-28lld" : "  %11lld", v);
            } else {
                const char *v = (const char *)sqlite3_column_text(st, c);
                if (!v || !v[0])
                    v = "(none)";
                if (o)
                    cJSON_AddStringToObject(o, cols[c], v);
                else
                    fprintf(out, c == 0 ? "  %-28s" : "  %11s", v);
            }
        }
        if (o)
            cJSON_AddItemToArray(arr, o);
        else
            fputc('\n', out);
    }
    sqlite3_finalize(st);
    return 0;
}

int hub_stats(const char *db_path, int json, FILE *out)
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    static const char *const form_cols[] = {"form", "version", "submissions"};
    static const char *const area_cols[] = {"area", "submissions"};
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *forms = json ? cJSON_AddArrayToObject(root, "forms") : NULL;
    cJSON *areas = json ? cJSON_AddArrayToObject(root, "areas") : NULL;
    sqlite3_stmt *st = NULL;
    long long total = 0, devices = 0, held = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM submissions), "
                           "(SELECT count(*) FROM devices), "
                           "(SELECT count(*) FROM held_changes)",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        total = sqlite3_column_int64(st, 0);
        devices = sqlite3_column_int64(st, 1);
        held = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (json) {
        cJSON_AddNumberToObject(root, "submissions", (double)total);
        cJSON_AddNumberToObject(root, "devices", (double)devices);
        cJSON_AddNumberToObject(root, "held_changes", (double)held);
    } else {
        fprintf(out, "%lld submissions from %lld devices", total, devices);
        if (held > 0)
            fprintf(out, "; %lld changes held for review", held);
        fprintf(out, "\n\n");
    }
    int rc = stats_section(db,
                           "SELECT form_id, form_version, count(*) FROM "
                           "submissions GROUP BY form_id, form_version "
                           "ORDER BY form_id, form_version",
                           "Per form:", form_cols, 3, forms, out);
    if (rc == 0 && !json)
        fputc('\n', out);
    if (rc == 0)
        rc = stats_section(db,
                           "SELECT area, count(*) FROM submissions "
                           "GROUP BY area ORDER BY area",
                           "Per area:", area_cols, 2, areas, out);
    sqlite3_close(db);
    if (json) {
        char *t = cJSON_Print(root);
        fprintf(out, "%s\n", t);
        free(t);
        cJSON_Delete(root);
    }
    return rc == 0 ? 0 : 1;
}
