/*
 * http.h - reading requests and writing JSON replies on CivetWeb: the
 * worker's database connection, bodies under a size limit, bearer-token
 * authentication, query parameters.
 *
 * Functions that may answer the request themselves say so: after a
 * non-zero return the reply was sent and the handler only returns.
 */
#ifndef HUB_HTTP_H
#define HUB_HTTP_H

#include <stddef.h>

#include <civetweb.h>
#include <sqlite3.h>

#include "fs_protocol.h"
#include "scope.h"

/* The calling worker thread's own database connection (borrowed for the
 * thread's life; server.c opens and closes it). */
sqlite3 *hub__db(struct mg_connection *conn);

/* Sends body with status and Content-Type: application/json, gzipped when
 * the client accepts it and it pays. */
void hub__reply(struct mg_connection *conn, int status, const char *body,
                size_t len);
/* Sends {"error": code, "message": ...} with status. */
void hub__reply_error(struct mg_connection *conn, int status, const char *code,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sends a cJSON object (consumed) with status. */
void hub__reply_obj(struct mg_connection *conn, int status, cJSON *obj);

/* The HTTP status of a hub error code (errors.h): 200 for HUB_OK, 400,
 * 404, 403, 409, 503, 507. The one place codes become statuses. */
int hub__http_status(int err);
/* Sends {"error": code, "message": ...} with the status of err and
 * returns that status. */
int hub__reply_err(struct mg_connection *conn, int err, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reads the whole request body into out (caller frees with fs_buf_free),
 * refusing (and answering) bodies without Content-Length or longer than
 * max before reading them. Returns 0, or -1 after the error reply. */
int hub__read_body(struct mg_connection *conn, size_t max, fs_buf *out);

/* hub__read_body, then fs_json_parse under the hub's limits. Returns 0
 * with *out the caller's (cJSON_Delete), or -1 after the error reply. */
int hub__read_json(struct mg_connection *conn, size_t max, cJSON **out);

/* Checks the bearer token and what it may do: kinds is a mask of
 * HUB_DEVICE and HUB_API, roles a NULL-terminated list (NULL: any role).
 * Fills who. Returns 0, or -1 after the 401, 403 or 429 reply was sent. */
int hub__auth(struct mg_connection *conn, hub_device *who, int kinds,
              const char *const *roles);
/* Looks up the enrolled device whose token is token (not a bearer
 * header: OpenRosa clients carry it in the URL path). Returns 1 with who
 * and *revoked filled, 0 when no device has it, or a storage error. */
int hub__device_by_token(sqlite3 *db, const char *token, hub_device *who,
                         int *revoked);
/* hub__auth for device endpoints. */
int hub__auth_device(struct mg_connection *conn, hub_device *dev);

/* Notes that dev reached the hub (devices.last_seen_ms) on a request that
 * writes nothing else (a pull, an OpenRosa form list); pushes note it in
 * their own transaction. */
void hub__device_seen(sqlite3 *db, const hub_device *dev);

/* 1 when the request method is m, else answers 405 and returns 0. */
int hub__method_is(struct mg_connection *conn, const char *m);

/* Start of every admin API handler: the method, then an API token of
 * one of roles. Returns 0, or the status already answered (405, 403). */
int hub__api_begin(struct mg_connection *conn, const char *method,
                   hub_device *who, const char *const *roles);

/* Integer query parameter name; def when absent. -1 (after a 400 reply)
 * when present but not an integer in [min, max]. */
int hub__query_int(struct mg_connection *conn, const char *name, long long def,
                   long long min, long long max, long long *out);
/* String query parameter into out ("" when absent); valid (may be NULL)
 * checks its syntax. -1 after a 400 reply. */
int hub__query_str(struct mg_connection *conn, const char *name,
                   int (*valid)(const char *), char *out, size_t cap);
/* ?format=json|csv (default json) as HUB_FMT_JSON or HUB_FMT_CSV
 * (output.h). -1 after a 400 reply. */
int hub__query_format(struct mg_connection *conn, int *format);

#endif
