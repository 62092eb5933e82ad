/*
 * enroll.c - POST /api/v1/enroll: a device trades a one-time enrolment
 * code, issued by an admin, for its id and a random 256-bit bearer token.
 * The hub keeps only SHA-256 hashes of codes and tokens.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "enroll.h"
#include "audit.h"
#include "http.h"
#include "scope.h"
#include "server.h"

#define ENROLL_BODY_MAX 4096

/* Upper-cases a code and drops the dashes and spaces people type. */
static void normalise_code(const char *in, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < cap; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == '-' || ch == ' ')
            continue;
        out[j++] = (char)toupper(ch);
    }
    out[j] = '\0';
}

static int claim(sqlite3 *db, const char *code_hash, const char *name_in,
                 hub_device *dev, char token[65], int *status)
{
    int64_t now = (int64_t)fs_now_ms();
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT name, role, areas, forms FROM "
                                "enrol_codes WHERE "
                                "code_hash = ? AND used_ms IS NULL AND "
                                "expires_ms > ?",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, code_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        *status = 403;
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    const char *name = name_in && name_in[0]
                           ? name_in
                           : (const char *)sqlite3_column_text(st, 0);
    snprintf(dev->name, sizeof dev->name, "%s", name);
    snprintf(dev->role, sizeof dev->role, "%s",
             (const char *)sqlite3_column_text(st, 1));
    snprintf(dev->areas, sizeof dev->areas, "%s",
             (const char *)sqlite3_column_text(st, 2));
    snprintf(dev->forms, sizeof dev->forms, "%s",
             (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);

    unsigned char raw[32];
    if (fs_uuid_v7(dev->id) != FS_OK ||
        fs_random_bytes(raw, sizeof raw) != FS_OK)
        return SQLITE_ERROR;
    fs_hex(raw, sizeof raw, token);
    char token_hash[65];
    fs_sha256_hex(token, 64, token_hash);

    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO devices (id, name, role, "
                            "token_hash, enrolled_ms, areas, forms) VALUES "
                            "(?, ?, ?, ?, ?, ?, ?)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, dev->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, dev->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, dev->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, token_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_text(st, 6, dev->areas, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, dev->forms, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rc;

    rc = sqlite3_prepare_v2(db,
                            "UPDATE enrol_codes SET used_ms = ?, "
                            "device_id = ? WHERE code_hash = ?",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, dev->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, code_hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rc;
    cJSON *detail = cJSON_CreateObject();
    cJSON_AddStringToObject(detail, "device", dev->id);
    cJSON_AddStringToObject(detail, "name", dev->name);
    cJSON_AddStringToObject(detail, "role", dev->role);
    cJSON_AddStringToObject(detail, "areas", dev->areas);
    *status = 200;
    return hub__audit(db, "enrolment", "device.enrol", detail);
}

int hub__handle_enroll(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    if (!hub__method_is(conn, "POST"))
        return 405;
    cJSON *req = NULL;
    if (hub__read_json(conn, ENROLL_BODY_MAX, &req) != 0)
        return 400;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(req, "code");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
    if (!cJSON_IsString(code) || strlen(code->valuestring) > 64) {
        cJSON_Delete(req);
        hub__reply_error(conn, 400, "malformed",
                         "send {\"code\": \"<enrolment code>\"} with the "
                         "code an admin gave you");
        return 400;
    }
    if (name && (!cJSON_IsString(name) ||
                 (name->valuestring[0] && !fs_valid_name(name->valuestring)))) {
        cJSON_Delete(req);
        hub__reply_error(conn, 400, "bad_identifier",
                         "name must be printable text of 1 to %d bytes",
                         FS_NAME_MAX);
        return 400;
    }
    char norm[80], code_hash[65];
    normalise_code(code->valuestring, norm, sizeof norm);
    fs_sha256_hex(norm, strlen(norm), code_hash);

    sqlite3 *db = hub__db(conn);
    hub_device dev;
    memset(&dev, 0, sizeof dev);
    char token[65];
    int status = 500;
    pthread_mutex_lock(&h->write_lock);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = claim(db, code_hash, name ? name->valuestring : NULL, &dev, token,
                   &status);
    if (rc == SQLITE_OK && status == 200)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK || status != 200)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&h->write_lock);
    cJSON_Delete(req);

    if (rc != SQLITE_OK) {
        hub__reply_error(conn, 503, "storage",
                         "the hub could not enrol the device (%s); try "
                         "again later",
                         sqlite3_errstr(rc));
        return 503;
    }
    if (status != 200) {
        hub__reply_error(conn, 403, "invalid_code",
                         "this enrolment code is unknown, already used or "
                         "expired; ask your hub admin for a new one");
        return 403;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "device_id", dev.id);
    cJSON_AddStringToObject(o, "token", token);
    cJSON_AddStringToObject(o, "name", dev.name);
    cJSON_AddStringToObject(o, "role", dev.role);
    cJSON_AddItemToObject(o, "areas", hub__scope_json(dev.areas));
    cJSON_AddItemToObject(o, "forms", hub__scope_json(dev.forms));
    cJSON_AddNumberToObject(o, "protocol", FS_PROTOCOL_VERSION);
    fprintf(stderr, "fieldsync-hub: enrolled device %s (%s)\n", dev.name,
            dev.id);
    hub__reply_obj(conn, 200, o);
    return 200;
}
