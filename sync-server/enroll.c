/*
 * enroll.c - enrolment (enroll.h): an admin issues a one-time code; with
 * POST /api/v1/enroll a device trades it for its id and a random 256-bit
 * bearer token. The hub keeps only SHA-256 hashes of codes and tokens.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "enroll.h"
#include "db.h"
#include "errors.h"
#include "stmtcache.h"
#include "audit.h"
#include "http.h"
#include "ratelimit.h"
#include "scope.h"
#include "server.h"

#define ENROLL_BODY_MAX 4096

/* Codes use an alphabet without look-alikes (no 0/O, 1/I/L) so they can
 * be read out over a phone: 12 symbols of 32, 60 bits, single use and
 * short-lived. */
static const char code_alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

int hub__enrol_code_create(sqlite3 *db, const char *name, const char *role,
                           const char *areas, const char *forms,
                           double expires_hours, const char *actor,
                           char code[16])
{
    unsigned char raw[12];
    if (fs_random_bytes(raw, sizeof raw) != FS_OK)
        return HUB_ESTORAGE;
    char norm[13];
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
    int64_t now = (int64_t)fs_now_ms();
    int rc = hub__sql_run(
        db,
        "INSERT INTO enrol_codes (code_hash, name, role, "
        "created_ms, expires_ms, areas, forms) VALUES (?, "
        "?, ?, ?, ?, ?, ?)",
        HUB_ARGS(HUB_TEXT(hash), HUB_TEXT(name), HUB_TEXT(role), HUB_INT(now),
                 HUB_INT(now + (int64_t)(expires_hours * 3600e3)),
                 HUB_TEXT(areas), HUB_TEXT(forms)));
    if (rc != HUB_OK)
        return rc;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", name);
    cJSON_AddStringToObject(d, "role", role);
    cJSON_AddStringToObject(d, "areas", areas);
    cJSON_AddStringToObject(d, "forms", forms);
    cJSON_AddNumberToObject(d, "expires_hours", expires_hours);
    return hub__audit(db, actor, "enrolment_code.create", d);
}

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

/* HUB_OK when code_hash names a code not used and not expired,
 * HUB_EFORBIDDEN when not, or a storage error; reads only. */
static int code_usable(sqlite3 *db, const char *code_hash)
{
    int rc;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT 1 FROM enrol_codes WHERE code_hash = ? "
        "AND used_ms IS NULL AND expires_ms > ?",
        HUB_ARGS(HUB_TEXT(code_hash), HUB_INT((int64_t)fs_now_ms())), &rc);
    if (!st || (rc = hub__sql_step(st)) < 0)
        return rc;
    hub__sql_end(st);
    return rc == 0 ? HUB_EFORBIDDEN : HUB_OK;
}

/* Trades the code for a new device in the caller's transaction: HUB_OK
 * with dev and token filled, HUB_EFORBIDDEN when the code is unknown,
 * used or expired, or a storage error. */
static int claim(sqlite3 *db, const char *code_hash, const char *name_in,
                 hub_device *dev, char token[65])
{
    int64_t now = (int64_t)fs_now_ms();
    int rc;
    sqlite3_stmt *st =
        hub__sql(db,
                 "SELECT name, role, areas, forms FROM "
                 "enrol_codes WHERE code_hash = ? AND used_ms "
                 "IS NULL AND expires_ms > ?",
                 HUB_ARGS(HUB_TEXT(code_hash), HUB_INT(now)), &rc);
    if (!st || (rc = hub__sql_step(st)) < 0)
        return rc;
    if (rc == 0)
        return HUB_EFORBIDDEN;
    /* The name the admin gave the code is the device's name: a device
     * cannot pass itself off as another in the admin's lists and audit
     * log. Its own suggestion counts only when the admin gave none. */
    const char *admin_name = hub__col(st, 0);
    snprintf(dev->name, sizeof dev->name, "%s",
             admin_name[0] || !name_in ? admin_name : name_in);
    snprintf(dev->role, sizeof dev->role, "%s", hub__col(st, 1));
    snprintf(dev->areas, sizeof dev->areas, "%s", hub__col(st, 2));
    snprintf(dev->forms, sizeof dev->forms, "%s", hub__col(st, 3));
    hub__sql_end(st);

    unsigned char raw[32];
    if (fs_uuid_v7(dev->id) != FS_OK ||
        fs_random_bytes(raw, sizeof raw) != FS_OK)
        return HUB_ESTORAGE;
    fs_hex(raw, sizeof raw, token);
    char token_hash[65];
    fs_sha256_hex(token, 64, token_hash);
    rc = hub__sql_run(db,
                      "INSERT INTO devices (id, name, role, token_hash, "
                      "enrolled_ms, areas, forms) VALUES (?, ?, ?, ?, ?, ?, "
                      "?)",
                      HUB_ARGS(HUB_TEXT(dev->id), HUB_TEXT(dev->name),
                               HUB_TEXT(dev->role), HUB_TEXT(token_hash),
                               HUB_INT(now), HUB_TEXT(dev->areas),
                               HUB_TEXT(dev->forms)));
    if (rc == HUB_OK)
        rc = hub__sql_run(
            db,
            "UPDATE enrol_codes SET used_ms = ?, device_id = ? "
            "WHERE code_hash = ?",
            HUB_ARGS(HUB_INT(now), HUB_TEXT(dev->id), HUB_TEXT(code_hash)));
    if (rc != HUB_OK)
        return rc;
    cJSON *detail = cJSON_CreateObject();
    cJSON_AddStringToObject(detail, "device", dev->id);
    cJSON_AddStringToObject(detail, "name", dev->name);
    if (name_in && name_in[0] && strcmp(name_in, dev->name) != 0)
        cJSON_AddStringToObject(detail, "requested_name", name_in);
    cJSON_AddStringToObject(detail, "role", dev->role);
    cJSON_AddStringToObject(detail, "areas", dev->areas);
    return hub__audit(db, "enrolment", "device.enrol", detail);
}

int hub__enrol_claim(sqlite3 *db, const char *code, const char *name,
                     hub_device *dev, char token[65])
{
    char norm[80], code_hash[65];
    normalise_code(code, norm, sizeof norm);
    fs_sha256_hex(norm, strlen(norm), code_hash);
    memset(dev, 0, sizeof *dev);
    return claim(db, code_hash, name, dev, token);
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

    /* Guesses are limited per client address, and an unknown code is
     * refused on a read: a stream of guesses never queues the writers
     * behind the global write lock. */
    const char *addr = mg_get_request_info(conn)->remote_addr;
    if (!hub__ratelimit_take(h->enrol, addr)) {
        cJSON_Delete(req);
        fprintf(stderr, "fieldsync-hub: enrolment attempts from %s limited\n",
                addr);
        hub__reply_error(conn, 429, "rate_limited",
                         "too many enrolment attempts from this address; "
                         "check the code and retry after the time in "
                         "Retry-After");
        return 429;
    }
    sqlite3 *db = hub__db(conn);
    hub_device dev;
    char token[65];
    int rc = code_usable(db, code_hash);
    if (rc == HUB_OK)
        hub__ratelimit_give(h->enrol, addr);
    if (rc == HUB_OK)
        rc = hub__tx_begin(db, &h->write_lock);
    if (rc == HUB_OK)
        rc = hub__tx_end(db, &h->write_lock,
                         hub__enrol_claim(db, code->valuestring,
                                          name ? name->valuestring : NULL, &dev,
                                          token));
    cJSON_Delete(req);
    if (rc == HUB_EFORBIDDEN)
        return hub__reply_err(conn, rc, "invalid_code",
                              "this enrolment code is unknown, already used "
                              "or expired; ask your hub admin for a new one");
    if (rc != HUB_OK)
        return hub__reply_err(conn, rc, "storage",
                              "the hub could not enrol the device (%s); try "
                              "again later",
                              hub__storage_detail(rc));
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
