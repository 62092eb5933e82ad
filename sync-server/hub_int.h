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
    struct hub_ratelimit *rate; /* NULL: no limit */
} hub;

/* Scopes (areas, forms) are '*' or codes joined by commas. */
#define HUB_SCOPE_MAX 2048

/* Who made a request: an enrolled device or a person's API token. */
enum { HUB_DEVICE = 1, HUB_API = 2 };

typedef struct hub_device {
    int kind;                 /* HUB_DEVICE or HUB_API */
    char id[FS_UUID_LEN + 1];
    char name[FS_NAME_MAX + 1];
    char role[32];            /* admin, reviewer, outreach, enumerator */
    char areas[HUB_SCOPE_MAX];
    char forms[HUB_SCOPE_MAX]; /* devices only; '*' for API tokens */
    int64_t acked_seq;        /* devices only */
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

/* hub__read_body, then fs_json_parse under the hub's limits. Returns 0
 * with *out the caller's (cJSON_Delete), or -1 after the error reply. */
int hub__read_json(struct mg_connection *conn, size_t max, cJSON **out);

/* Checks the bearer token and what it may do: kinds is a mask of
 * HUB_DEVICE and HUB_API, roles a NULL-terminated list (NULL: any role).
 * Fills who. Returns 0, or -1 after the 401, 403 or 429 reply was sent. */
int hub__auth(struct mg_connection *conn, hub_device *who, int kinds,
              const char *const *roles);
/* hub__auth for device endpoints. */
int hub__auth_device(struct mg_connection *conn, hub_device *dev);

/* Integer query parameter name; def when absent. -1 (after a 400 reply)
 * when present but not an integer in [min, max]. */
int hub__query_int(struct mg_connection *conn, const char *name,
                   long long def, long long min, long long max,
                   long long *out);

/* 1 when the request method is m, else answers 405 and returns 0. */
int hub__method_is(struct mg_connection *conn, const char *m);

/* ---- scope.c: areas and forms -------------------------------------- */

/* 1 when item is in scope ('*' or a comma list), else 0. */
int hub__scope_has(const char *scope, const char *item);
/* Normalises a user's list ("N-01, N-02" or "*") into out, checking each
 * item with valid(). Returns 0, or -1 with a message in err. */
int hub__scope_parse(const char *in, int (*valid)(const char *), char *out,
                     size_t cap, char *err, size_t errlen);
/* Marks every change of cs outside dev's areas as refused (FS_ESCOPE). */
void hub__scope_filter(const hub_device *dev, fs_changeset *cs);
/* The scope as a JSON value: "*" or an array of strings. */
cJSON *hub__scope_json(const char *scope);

/* ---- ratelimit.c ----------------------------------------------------- */

/* A token bucket per principal: rate requests a second, bursts of
 * 2 x rate. */
struct hub_ratelimit *hub__ratelimit_new(double rate);
void hub__ratelimit_free(struct hub_ratelimit *rl);
/* 1 when id may make a request now, else 0. */
int hub__ratelimit_take(struct hub_ratelimit *rl, const char *id);

/* ---- audit ----------------------------------------------------------- */

/* Appends to the audit log inside the caller's transaction (or alone).
 * detail is a JSON object (consumed). Returns SQLITE_OK or an error. */
int hub__audit(sqlite3 *db, const char *actor, const char *action,
               cJSON *detail);

/* Revokes a device (table "devices") or API token ("api_tokens") in the
 * caller's transaction; *found is 1 when one was revoked now. */
int hub__revoke(sqlite3 *db, const char *table, const char *id,
                const char *actor, int *found);

/* ---- handlers -------------------------------------------------------- */

int hub__handle_push(struct mg_connection *conn, void *hubp);
int hub__handle_pull(struct mg_connection *conn, void *hubp);
int hub__handle_enroll(struct mg_connection *conn, void *hubp);
/* Admin API (adminapi.c). */
int hub__handle_admin_whoami(struct mg_connection *conn, void *hubp);
int hub__handle_admin_forms(struct mg_connection *conn, void *hubp);
int hub__handle_admin_devices(struct mg_connection *conn, void *hubp);
int hub__handle_admin_revoke(struct mg_connection *conn, void *hubp);
int hub__handle_admin_stats(struct mg_connection *conn, void *hubp);
int hub__handle_admin_submissions(struct mg_connection *conn, void *hubp);
int hub__handle_admin_audit(struct mg_connection *conn, void *hubp);
int hub__handle_admin_review(struct mg_connection *conn, void *hubp);

/* ---- webui.c: the admin page ---------------------------------------- */

/* Serves the admin page's file at the request's path: returns the HTTP
 * status sent, or 0 (nothing sent) when no file has that path. */
int hub__web_serve(struct mg_connection *conn);

/* ---- review.c -------------------------------------------------------- */

int hub__review_state_valid(const char *state);
/* Sets the review of a submission's newest revision in the caller's
 * transaction and queues it for the device that sent it. *found is 0
 * when there is no such submission within areas. */
int hub__review(sqlite3 *db, const char *id, const char *state,
                const char *comment, const char *actor, const char *areas,
                int *found);

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
