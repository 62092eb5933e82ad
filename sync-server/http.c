/*
 * http.c - reading requests and writing JSON replies on CivetWeb.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "framing.h"
#include "errors.h"
#include "output.h"
#include "ratelimit.h"
#include "scope.h"
#include "server.h"
#include "stmtcache.h"

/* Replies shorter than this go uncompressed: gzip's 18-byte frame and the
 * extra header cost more than they save. */
#define GZIP_MIN 512

sqlite3 *hub__db(struct mg_connection *conn)
{
    return mg_get_thread_pointer(conn);
}

static int accepts_gzip(struct mg_connection *conn)
{
    const char *ae = mg_get_header(conn, "Accept-Encoding");
    return ae && strstr(ae, "gzip") != NULL;
}

void hub__reply(struct mg_connection *conn, int status, const char *body,
                size_t len)
{
    fs_buf gz;
    fs_buf_init(&gz, len + 1024);
    int zipped = len >= GZIP_MIN && accepts_gzip(conn) &&
                 fs_gzip(body, len, 6, &gz) == FS_OK && gz.len < len;
    const void *out = zipped ? (const void *)gz.data : (const void *)body;
    size_t outlen = zipped ? gz.len : len;
    char clen[32];
    snprintf(clen, sizeof clen, "%zu", outlen);

    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", "application/json", -1);
    mg_response_header_add(conn, "Content-Length", clen, -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    if (zipped)
        mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
    if (status == 401)
        mg_response_header_add(conn, "WWW-Authenticate",
                               "Bearer realm=\"fieldsync\"", -1);
    if (status == 503 || status == 507)
        mg_response_header_add(conn, "Retry-After", "5", -1);
    else if (status == 429)
        mg_response_header_add(conn, "Retry-After", "1", -1);
    mg_response_header_send(conn);
    mg_write(conn, out, outlen);
    fs_buf_free(&gz);
}

void hub__reply_obj(struct mg_connection *conn, int status, cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) {
        static const char oom[] =
            "{\"error\":\"no_memory\",\"message\":\"the hub is out of "
            "memory; try again later\"}";
        hub__reply(conn, 503, oom, sizeof oom - 1);
        return;
    }
    hub__reply(conn, status, text, strlen(text));
    free(text);
}

/* Sends {"error": code, "message": msg} with status. */
static void reply_msg(struct mg_connection *conn, int status, const char *code,
                      const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "error", code);
        cJSON_AddStringToObject(o, "message", msg);
    }
    hub__reply_obj(conn, status, o);
}

/* hub__reply_error with the arguments of fmt in ap. */
static void reply_verror(struct mg_connection *conn, int status,
                         const char *code, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    reply_msg(conn, status, code, msg);
}

void hub__reply_error(struct mg_connection *conn, int status, const char *code,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_verror(conn, status, code, fmt, ap);
    va_end(ap);
}

int hub__http_status(int err)
{
    switch (err) {
    case HUB_OK:
        return 200;
    case HUB_EBADINPUT:
        return 400;
    case HUB_EFORBIDDEN:
    case HUB_EQUOTA:
        return 403;
    case HUB_ENOTFOUND:
        return 404;
    case HUB_ECONFLICT:
        return 409;
    case HUB_EFULL:
        return 507;
    default:
        return 503;
    }
}

int hub__reply_err(struct mg_connection *conn, int err, const char *code,
                   const char *fmt, ...)
{
    int status = hub__http_status(err);
    va_list ap;
    va_start(ap, fmt);
    reply_verror(conn, status, code, fmt, ap);
    va_end(ap);
    return status;
}

int hub__read_body(struct mg_connection *conn, size_t max, fs_buf *out)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *te = mg_get_header(conn, "Transfer-Encoding");
    if (te && strcasecmp(te, "identity") != 0) {
        hub__reply_error(conn, 413, "chunked_body",
                         "chunked request bodies are not accepted; send "
                         "the body with a Content-Length of at most %zu "
                         "bytes",
                         max);
        return -1;
    }
    if (ri->content_length < 0) {
        hub__reply_error(conn, 411, "length_required",
                         "the request has no Content-Length; send one");
        return -1;
    }
    if ((unsigned long long)ri->content_length > max) {
        hub__reply_error(conn, 413, "too_big",
                         "the request body is %lld bytes; this hub accepts "
                         "at most %zu (send smaller batches)",
                         ri->content_length, max);
        return -1;
    }
    size_t want = (size_t)ri->content_length;
    fs_buf_init(out, max);
    unsigned char chunk[16384];
    while (out->len < want) {
        size_t n = want - out->len;
        if (n > sizeof chunk)
            n = sizeof chunk;
        int got = mg_read(conn, chunk, n);
        if (got <= 0) {
            /* Stalled or cut: what is left of the body is not awaited. */
            hub__close_after(conn);
            hub__reply_error(conn, 400, "short_body",
                             "the connection ended after %zu of %zu body "
                             "bytes; send the request again",
                             out->len, want);
            fs_buf_free(out);
            return -1;
        }
        if (fs_buf_append(out, chunk, (size_t)got) != FS_OK) {
            hub__reply_error(conn, 503, "no_memory", "hub out of memory");
            fs_buf_free(out);
            return -1;
        }
    }
    return 0;
}

int hub__read_json(struct mg_connection *conn, size_t max, cJSON **out)
{
    const hub *h = mg_get_request_info(conn)->user_data;
    fs_buf body;
    *out = NULL;
    if (hub__read_body(conn, max, &body) != 0)
        return -1;
    fs_err err = {0};
    int rc =
        fs_json_parse((const char *)body.data, body.len, &h->limits, out, &err);
    fs_buf_free(&body);
    if (rc != FS_OK) {
        hub__reply_error(conn, rc == FS_ETOOBIG ? 413 : 400, fs_errname(rc),
                         "%s", err.msg);
        return -1;
    }
    return 0;
}

/* Looks the token hash up in one table. Returns 1 found, 0 not, or a
 * storage error. sql is a literal: every request runs it, and preparing
 * it against the hub's schema cost more than the lookup (stmtcache.h). */
static int lookup(sqlite3 *db, const char *sql, const char *hash, int kind,
                  hub_device *who, int *revoked)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db, sql, HUB_ARGS(HUB_TEXT(hash)), &rc);
    if (!st || (rc = hub__sql_step(st)) <= 0)
        return rc;
    who->kind = kind;
    snprintf(who->id, sizeof who->id, "%s", hub__col(st, 0));
    snprintf(who->name, sizeof who->name, "%s", hub__col(st, 1));
    snprintf(who->role, sizeof who->role, "%s", hub__col(st, 2));
    snprintf(who->areas, sizeof who->areas, "%s", hub__col(st, 3));
    snprintf(who->forms, sizeof who->forms, "%s", hub__col(st, 4));
    who->acked_seq = sqlite3_column_int64(st, 5);
    *revoked = sqlite3_column_int(st, 6);
    who->last_seen_ms = sqlite3_column_int64(st, 7);
    hub__sql_end(st);
    return 1;
}

int hub__device_by_token(sqlite3 *db, const char *token, hub_device *who,
                         int *revoked)
{
    size_t toklen = strlen(token);
    memset(who, 0, sizeof *who);
    *revoked = 0;
    if (toklen == 0 || toklen > 128)
        return 0;
    char hash[65];
    fs_sha256_hex(token, toklen, hash);
    return lookup(db,
                  "SELECT id, name, role, areas, forms, acked_seq, "
                  "revoked_ms IS NOT NULL, coalesce(last_seen_ms, 0) FROM "
                  "devices WHERE token_hash = ?",
                  hash, HUB_DEVICE, who, revoked);
}

int hub__auth(struct mg_connection *conn, hub_device *who, int kinds,
              const char *const *roles)
{
    const char *h = mg_get_header(conn, "Authorization");
    static const char prefix[] = "Bearer ";
    memset(who, 0, sizeof *who);
    if (!h || strncasecmp(h, prefix, sizeof prefix - 1) != 0) {
        hub__reply_error(conn, 401, "no_token",
                         "this request needs a bearer token: a device's "
                         "(enrol it first) or an admin API token");
        return -1;
    }
    const char *tok = h + sizeof prefix - 1;
    size_t toklen = strlen(tok);
    if (toklen == 0 || toklen > 128) {
        hub__reply_error(conn, 401, "bad_token",
                         "the bearer token is not one this hub issued");
        return -1;
    }
    char hash[65];
    fs_sha256_hex(tok, toklen, hash);

    sqlite3 *db = hub__db(conn);
    int revoked = 0;
    int found = lookup(db,
                       "SELECT id, name, role, areas, forms, acked_seq, "
                       "revoked_ms IS NOT NULL, coalesce(last_seen_ms, 0) "
                       "FROM devices WHERE token_hash = ?",
                       hash, HUB_DEVICE, who, &revoked);
    if (found == 0)
        found = lookup(db,
                       "SELECT id, name, role, areas, '*', 0, revoked_ms IS "
                       "NOT NULL, 0 FROM api_tokens WHERE token_hash = ?",
                       hash, HUB_API, who, &revoked);
    if (found < 0) {
        hub__reply_error(conn, 503, "storage",
                         "the hub cannot read its database; try later");
        return -1;
    }
    if (found == 0) {
        hub__reply_error(conn, 401, "bad_token",
                         "the bearer token is not one this hub issued; "
                         "enrol the device again or ask for a new token");
        return -1;
    }
    if (revoked) {
        hub__reply_error(conn, 401, "revoked",
                         "this %s was revoked by a hub admin; ask them for "
                         "a new enrolment code or token",
                         who->kind == HUB_DEVICE ? "device" : "token");
        return -1;
    }
    const hub *hb = mg_get_request_info(conn)->user_data;
    if (!hub__ratelimit_take(hb->rate, who->id)) {
        hub__reply_error(conn, 429, "rate_limited",
                         "too many requests from %s; slow down and retry "
                         "after the time in Retry-After",
                         who->name);
        return -1;
    }
    if (!(who->kind & kinds)) {
        hub__reply_error(conn, 403, "forbidden",
                         who->kind == HUB_DEVICE
                             ? "device tokens cannot use this endpoint; it "
                               "is for hub admins and reviewers"
                             : "API tokens cannot use this endpoint; it is "
                               "for enrolled devices");
        return -1;
    }
    if (roles) {
        int ok = 0;
        for (size_t i = 0; roles[i]; i++)
            ok |= strcmp(roles[i], who->role) == 0;
        if (!ok) {
            hub__reply_error(conn, 403, "forbidden",
                             "the role %s may not do this", who->role);
            return -1;
        }
    }
    return 0;
}

int hub__auth_device(struct mg_connection *conn, hub_device *dev)
{
    return hub__auth(conn, dev, HUB_DEVICE, NULL);
}

/* At most one write a minute per device: a pull or a form list is a
 * read, and a phone polling must not queue writers behind the merge. */
#define SEEN_EVERY_MS 60000

void hub__device_seen(sqlite3 *db, const hub_device *dev)
{
    if (dev->kind != HUB_DEVICE)
        return;
    int64_t now = (int64_t)fs_now_ms();
    if (now - dev->last_seen_ms < SEEN_EVERY_MS)
        return;
    /* Best effort: a busy or failing database costs the device nothing
     * but a "last seen" a minute late. */
    (void)hub__sql_run(db,
                       "UPDATE devices SET last_seen_ms = ?1 WHERE id = ?2 "
                       "AND coalesce(last_seen_ms, 0) < ?1",
                       HUB_ARGS(HUB_INT(now), HUB_TEXT(dev->id)));
}

int hub__query_int(struct mg_connection *conn, const char *name, long long def,
                   long long min, long long max, long long *out)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char val[32];
    *out = def;
    if (!ri->query_string)
        return 0;
    int n = mg_get_var(ri->query_string, strlen(ri->query_string), name, val,
                       sizeof val);
    if (n == -1)
        return 0;
    char *end = NULL;
    long long v = strtoll(val, &end, 10);
    if (n <= 0 || *end != '\0' || v < min || v > max) {
        hub__reply_error(conn, 400, "bad_parameter",
                         "query parameter %s must be an integer from %lld "
                         "to %lld",
                         name, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int hub__api_begin(struct mg_connection *conn, const char *method,
                   hub_device *who, const char *const *roles)
{
    if (!hub__method_is(conn, method))
        return 405;
    if (hub__auth(conn, who, HUB_API, roles) != 0)
        return 403;
    return 0;
}

int hub__method_is(struct mg_connection *conn, const char *m)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (strcmp(ri->request_method, m) == 0)
        return 1;
    mg_response_header_start(conn, 405);
    mg_response_header_add(conn, "Allow", m, -1);
    char body[160];
    int n = snprintf(body, sizeof body,
                     "{\"error\":\"method_not_allowed\",\"message\":\"use "
                     "%s for this endpoint\"}",
                     m);
    char clen[16];
    snprintf(clen, sizeof clen, "%d", n);
    mg_response_header_add(conn, "Content-Type", "application/json", -1);
    mg_response_header_add(conn, "Content-Length", clen, -1);
    mg_response_header_send(conn);
    mg_write(conn, body, (size_t)n);
    return 0;
}

int hub__query_str(struct mg_connection *conn, const char *name,
                   int (*valid)(const char *), char *out, size_t cap)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    out[0] = '\0';
    if (!ri->query_string)
        return 0;
    int n =
        mg_get_var(ri->query_string, strlen(ri->query_string), name, out, cap);
    if (n == -1) {
        out[0] = '\0';
        return 0;
    }
    if (n < 0 || (valid && !valid(out))) {
        out[0] = '\0';
        hub__reply_error(conn, 400, "bad_parameter",
                         "query parameter %s is not valid (too long or "
                         "wrong characters)",
                         name);
        return -1;
    }
    return 0;
}

int hub__query_format(struct mg_connection *conn, int *format)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char v[16] = "";
    *format = HUB_FMT_JSON;
    if (!ri->query_string ||
        mg_get_var(ri->query_string, strlen(ri->query_string), "format", v,
                   sizeof v) == -1)
        return 0;
    if (strcmp(v, "csv") == 0)
        *format = HUB_FMT_CSV;
    else if (strcmp(v, "json") != 0) {
        hub__reply_error(conn, 400, "bad_parameter",
                         "format must be json or csv");
        return -1;
    }
    return 0;
}
