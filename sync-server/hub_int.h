/*
 * hub_int.h - internals shared by the hub's modules.
 */
#ifndef HUB_INT_H
#define HUB_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include <civetweb.h>

#include "fs_protocol.h"

/* Process-wide hub state, shared (read-only after start, except the
 * mutex) by every worker thread. */
typedef struct hub {
    char *db_path;
    fs_limits limits;
    /* Merges are serialised in the process: one writer at a time is what
     * SQLite allows anyway, and a mutex queues writers fairly instead of
     * letting them spin on SQLITE_BUSY. */
    pthread_mutex_t write_lock;
} hub;

/* The authenticated device of a request. */
typedef struct hub_device {
    char id[FS_UUID_LEN + 1];
    char name[FS_NAME_MAX + 1];
    char role[32];
    int64_t acked_seq;
} hub_device;

/* ---- http.c: requests and replies ------------------------------------ */

/* The calling worker thread's own database connection. */
sqlite3 *hub__db(struct mg_connection *conn);

/* Sends body with status and Content-Type: application/json, gzipped when
 * the client accepts it and it pays. */
void hub__reply(struct mg_connection *conn, int status, const char *body,
                size_t len);
/* Sends {"error": code, "message": ...} with status. */
void hub__reply_error(struct mg_connection *conn, int status,
                      const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sends a cJSON object (consumed) with status. */
void hub__reply_obj(struct mg_connection *conn, int status, cJSON *obj);

/* Reads the whole request body into out, refusing (and answering) bodies
 * without Content-Length or longer than max before reading them. Returns
 * 0, or -1 after the error reply was sent. */
int hub__read_body(struct mg_connection *conn, size_t max, fs_buf *out);

/* Checks the bearer token; fills dev. Returns 0, or -1 after a 401 was
 * sent. */
int hub__auth_device(struct mg_connection *conn, hub_device *dev);

/* Integer query parameter name; def when absent. -1 (after a 400 reply)
 * when present but not an integer in [min, max]. */
int hub__query_int(struct mg_connection *conn, const char *name,
                   long long def, long long min, long long max,
                   long long *out);

/* 1 when the request method is m, else answers 405 and returns 0. */
int hub__method_is(struct mg_connection *conn, const char *m);

/* ---- handlers -------------------------------------------------------- */

int hub__handle_push(struct mg_connection *conn, void *hubp);
int hub__handle_pull(struct mg_connection *conn, void *hubp);
int hub__handle_enroll(struct mg_connection *conn, void *hubp);

/* ---- merge.c --------------------------------------------------------- */

/* Merges every change of cs for device_id inside the caller's open
 * transaction, filling reply->results. Returns SQLITE_OK or the SQLite
 * error that must roll the transaction back. */
int hub__merge(sqlite3 *db, const char *device_id, const fs_changeset *cs,
               fs_push_reply *reply);

/* ---- admin.c --------------------------------------------------------- */

/* Opens the hub database at path, creating and migrating it; prints the
 * reason to stderr on failure. */
sqlite3 *hub__open(const char *path);

/* Exec helper: runs sql; on failure prints it with context. */
int hub__exec(sqlite3 *db, const char *sql);

#endif
