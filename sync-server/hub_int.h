/*
 * hub_int.h - internals shared by the hub's modules.
 */
#ifndef HUB_INT_H
#define HUB_INT_H

#include <pthread.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdint.h>

#include <civetweb.h>

#include "fs_entity.h"
#include "fs_protocol.h"
#include "hub.h"

/* Process-wide hub state, shared (read-only after start, except the
 * mutex) by every worker thread. */
typedef struct hub {
    char *db_path;
    fs_limits limits;
    /* Merges are serialised in the process: one writer at a time is what
     * SQLite allows anyway, and a mutex queues writers fairly instead of
     * letting them spin on SQLITE_BUSY. */
    pthread_mutex_t write_lock;
    struct hub_ratelimit *rate;    /* NULL: no limit */
    struct hub_checkpointer *ckpt; /* NULL: SQLite's own checkpoints */
} hub;

/* Scopes (areas, forms) are '*' or codes joined by commas. */
#define HUB_SCOPE_MAX 2048

/* Who made a request: an enrolled device or a person's API token. */
enum { HUB_DEVICE = 1, HUB_API = 2 };

typedef struct hub_device {
    int kind; /* HUB_DEVICE or HUB_API */
    char id[FS_UUID_LEN + 1];
    char name[FS_NAME_MAX + 1];
    char role[32]; /* admin, reviewer, outreach, enumerator */
    char areas[HUB_SCOPE_MAX];
    char forms[HUB_SCOPE_MAX]; /* devices only; '*' for API tokens */
    int64_t acked_seq;         /* devices only */
} hub_device;

/* ---- http.c: requests and replies ------------------------------------ */

/* The calling worker thread's own database connection. */
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
int hub__query_int(struct mg_connection *conn, const char *name, long long def,
                   long long min, long long max, long long *out);

/* 1 when the request method is m, else answers 405 and returns 0. */
int hub__method_is(struct mg_connection *conn, const char *m);

/* Start of every admin API handler: the method, then an API token of
 * one of roles. Returns 0, or the status already answered (405, 403). */
int hub__api_begin(struct mg_connection *conn, const char *method,
                   hub_device *who, const char *const *roles);

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

/* ---- output.c: tables and streamed exports ---------------------------- */

enum { HUB_FMT_TEXT = 0, HUB_FMT_JSON = 1, HUB_FMT_CSV = 2 };

/* Where output goes: a FILE, or a chunked HTTP reply (headers sent by
 * hub__sink_http). Writes are buffered; a failed write (client gone,
 * disk full) sets failed and later writes do nothing. */
typedef struct hub_sink {
    FILE *file;
    struct mg_connection *conn;
    int failed;
    int64_t bytes; /* written so far */
    size_t len;
    char buf[16384];
} hub_sink;

void hub__sink_file(hub_sink *s, FILE *f);
/* Sends a 200 with ctype and Transfer-Encoding: chunked; filename (may
 * be NULL) names the download. */
void hub__sink_http(hub_sink *s, struct mg_connection *conn, const char *ctype,
                    const char *filename);
int hub__sink_write(hub_sink *s, const char *p, size_t n);
int hub__sink_puts(hub_sink *s, const char *str);
int hub__sink_printf(hub_sink *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One CSV field (RFC 4180 quoting), preceded by a comma unless first;
 * NULL writes an empty field. */
int hub__sink_csv(hub_sink *s, const char *v, int first);
/* Flushes and ends the chunked reply. 0, or -1 when any write failed. */
int hub__sink_end(hub_sink *s);

/* Flat rows (a cJSON array of objects) as CSV with a header of cols
 * (NULL-terminated), or as aligned text. */
int hub__rows_csv(hub_sink *s, const cJSON *rows, const char *const *cols);
int hub__rows_text(FILE *out, const cJSON *rows, const char *const *cols);
/* Prints root as JSON, or its array root[key] as CSV or text. */
int hub__print_rows(FILE *out, int format, const cJSON *root, const char *key,
                    const char *const *cols);
/* Replies root (consumed) as JSON, or root[key] as CSV. */
void hub__reply_rows(struct mg_connection *conn, int format, cJSON *root,
                     const char *key, const char *const *cols,
                     const char *filename);
/* ?format=json|csv (default json). -1 after a 400 reply. */
int hub__query_format(struct mg_connection *conn, int *format);
/* String query parameter into out ("" when absent); valid (may be NULL)
 * checks its syntax. -1 after a 400 reply. */
int hub__query_str(struct mg_connection *conn, const char *name,
                   int (*valid)(const char *), char *out, size_t cap);

/* ---- mapping.c: waves, quotas, coverage ------------------------------ */

/* Results of the mapping functions besides 0: bad input (a message for
 * people in err, nothing changed) or a storage error. */
enum { HUB_EBADINPUT = 1, HUB_ESTORAGE = -1 };

/* "YYYY-MM-DD" -> milliseconds at 00:00 UTC. 0, or -1 when not a date. */
int hub__parse_date(const char *s, int64_t *ms);

/* Adds or redates wave name over the inclusive dates start..end, refused
 * when it overlaps another wave. Audited as actor. In the caller's
 * transaction. */
int hub__wave_add(sqlite3 *db, const char *name, const char *title,
                  const char *start, const char *end, const char *actor,
                  char *err, size_t cap);
/* Puts submission id in wave whatever its dates say. */
int hub__wave_assign(sqlite3 *db, const char *wave, const char *id,
                     const char *actor, char *err, size_t cap);
/* {"waves": [...]} or NULL on a storage error. */
cJSON *hub__waves_json(sqlite3 *db);
extern const char *const hub__wave_cols[];
/* 1 when wave is NULL, "" or a known wave, 0 when not, -1 on error. */
int hub__wave_exists(sqlite3 *db, const char *wave);

typedef struct hub_quota {
    const char *area, *wave, *form;
    const char *stratum; /* "FIELD=VALUE,..." or NULL */
    const char *device;  /* a device id for a sub-quota, or NULL */
    long long target;
} hub_quota;

int hub__quota_set(sqlite3 *db, const hub_quota *q, const char *actor,
                   char *err, size_t cap);
/* Quotas of wave ("" or NULL: all) within scope; with_counts adds what
 * was collected toward each: {"coverage": [...]}, else {"quotas": [...]}.
 * NULL on a storage error. */
cJSON *hub__coverage_json(sqlite3 *db, const char *wave, const char *scope,
                          int with_counts);
extern const char *const hub__coverage_cols[];
extern const char *const hub__quota_cols[];

struct fs_form;
/* The newest published version of form id (caller frees), or NULL. */
struct fs_form *hub__form_latest(sqlite3 *db, const char *id);
/* Version version of form id (0: the newest), or NULL. */
struct fs_form *hub__form_at(sqlite3 *db, const char *id, int64_t version);
/* Formats a message for people into err; returns HUB_EBADINPUT. */
int hub__errf(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads a whole file of at most max bytes, NUL-terminated (caller
 * frees); NULL after printing why. */
char *hub__read_file(const char *path, size_t max, size_t *len);

/* ---- mapind.c: indicators ------------------------------------------- */

/* {"form", "indicator", "by", "k", ..., "cells": [...]} for the counted
 * submissions within scope. 0, HUB_EBADINPUT (err) or HUB_ESTORAGE. */
int hub__indicators(sqlite3 *db, const hub_ind_request *req, const char *scope,
                    cJSON **out, char *err, size_t cap);
/* {..., "from", "to", "changes": [...]}: the change per area (and
 * category) from wave req->from to req->to. */
int hub__change(sqlite3 *db, const hub_ind_request *req, const char *scope,
                cJSON **out, char *err, size_t cap);
int hub__handle_admin_indicators(struct mg_connection *conn, void *hubp);
int hub__handle_admin_change(struct mg_connection *conn, void *hubp);

/* ---- export.c ------------------------------------------------------- */

typedef struct hub_exporter hub_exporter;
/* Checks req (form, version, language, indicator) within scope and gets
 * ready to write; nothing is written. 0 with *out the caller's
 * (hub__export_free), HUB_EBADINPUT (err) or HUB_ESTORAGE. */
int hub__export_prepare(sqlite3 *db, const hub_export_req *req,
                        const char *scope, hub_exporter **out, char *err,
                        size_t cap);
/* 1 when the export includes personal or sensitive fields: the caller
 * audits it (with hub__export_detail) before hub__export_write. */
int hub__export_personal(const hub_exporter *ex);
cJSON *hub__export_detail(const hub_exporter *ex);
/* Streams the export into s. 0 or HUB_ESTORAGE; a failed sink shows in
 * s->failed. */
int hub__export_write(hub_exporter *ex, hub_sink *s);
void hub__export_free(hub_exporter *ex);
int hub__handle_admin_export(struct mg_connection *conn, void *hubp);

/* ---- areas.c -------------------------------------------------------- */

/* {"areas": [{code, name, parent, level, geometry (its type)}]}, cities
 * first; NULL on a storage error. */
cJSON *hub__areas_json(sqlite3 *db);
extern const char *const hub__area_cols[];
int hub__handle_admin_areas(struct mg_connection *conn, void *hubp);

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
/* Mapping dataset (mapapi.c). */
int hub__handle_admin_waves(struct mg_connection *conn, void *hubp);
int hub__handle_admin_quotas(struct mg_connection *conn, void *hubp);
int hub__handle_admin_coverage(struct mg_connection *conn, void *hubp);
/* GET, an admin or reviewer token, ?format. -1 after the reply. */
int hub__map_begin(struct mg_connection *conn, hub_device *who, int *format);
/* Query parameter name naming a known wave ("" when absent). -1 after
 * the reply. */
int hub__query_wave(struct mg_connection *conn, const char *name, char *wave,
                    size_t cap);

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

/* ---- push.c: the merge thread -------------------------------------- */

/* Starts the thread that merges and commits queued pushes, on its own
 * connection; -1 (said on stderr) when it cannot. */
int hub__merger_start(hub *h);
/* Stops it once no push is in flight (after mg_stop). */
void hub__merger_stop(void);

/* ---- checkpoint.c: WAL checkpoints off the writers' path ------------ */

typedef struct hub_checkpointer hub_checkpointer;

/* Starts the checkpoint thread on its own connection to db_path; NULL
 * when it cannot (the hub then keeps SQLite's default checkpoints). */
hub_checkpointer *hub__checkpointer_start(const char *db_path);
/* Makes db's commits hand their checkpoints to c (a worker connection). */
void hub__checkpointer_attach(hub_checkpointer *c, sqlite3 *db);
/* Stops and joins the thread, after the last writer has finished. */
void hub__checkpointer_stop(hub_checkpointer *c);

/* ---- merge.c --------------------------------------------------------- */

/* The SHA-256 (hex) of one submission's content. */
typedef struct hub_digest {
    char hex[65];
} hub_digest;

/* The part of a merge that does not depend on the hub's data, run by the
 * request's own thread outside any transaction so that the one writer
 * does only the SQL: fills results[i] (cs->n of them) with the seq and,
 * for a change that cannot be accepted (decode error, unknown form,
 * answers that fail the form), the refusal; digests[i] with each
 * remaining submission's content digest. Published forms are parsed once
 * per thread. Returns SQLITE_OK or a storage/memory error. */
int hub__merge_prepare(sqlite3 *db, const fs_changeset *cs, fs_result *results,
                       hub_digest *digests);

/* Merges every change of cs for device_id inside the caller's open
 * transaction; reply->results and digests come from hub__merge_prepare.
 * Returns SQLITE_OK or the SQLite error that must roll the transaction
 * back. */
int hub__merge(sqlite3 *db, const char *device_id, const fs_changeset *cs,
               const hub_digest *digests, fs_push_reply *reply);

/* Frees the calling thread's parsed forms (a worker's exit_thread). */
void hub__merge_release(void);

/* ---- entity.c: the registry (PROTOCOL.md section 7) ------------------ */

/* The entity types built into this hub (schema/entities.json), parsed
 * once; NULL only when that document is broken. */
const struct fs_entity_types *hub__entity_types(void);

/* The current version of one field of an entity. */
typedef struct hub_field {
    int found;   /* 0: the field was never written (version 0) */
    char *value; /* canonical JSON, owned (free); NULL when not found */
    int64_t version;
    char hlc[FS_HLC_TEXT_LEN + 1];
    char device[FS_UUID_LEN + 1]; /* "" for versions the hub wrote */
    char collector[FS_NAME_MAX + 8];
} hub_field;

int hub__entity_field(sqlite3 *db, const char *id, const char *name,
                      hub_field *f);
/* Records version `version` of a field (on top of base) and makes it the
 * current one. origin: "device", "resolution" or "admin". */
int hub__entity_write(sqlite3 *db, const char *id, const char *name,
                      int64_t version, int64_t base, const char *value,
                      const char *hlc, const char *device,
                      const char *collector, const char *origin, int64_t now);
/* Appends the entity's current state to the change log for devices of
 * its area: kind "entity", "resolution" (conflict > 0) or
 * "entity_delete". */
int hub__entity_log(sqlite3 *db, const char *kind, const char *id,
                    int64_t conflict, int64_t now);
/* Queues, for one device whose areas grew from old to areas, every
 * entity of the added areas (a cursor that passed them still gets them). */
int hub__entity_requeue(sqlite3 *db, const char *device, const char *old,
                        const char *areas, int64_t now);
/* Marks an entity deleted by device (a tombstone) and logs it. */
int hub__entity_tombstone(sqlite3 *db, const char *id, const char *device,
                          const char *collector, const char *hlc, int64_t now);

/* Marks r refused with error code and a message (merge.c). */
void hub__refuse(fs_result *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Merges one entity change of device inside the push transaction,
 * filling r: applied (fast-forward or converged), divergent with error
 * "conflict" (a conflict was opened or joined), duplicate (merged
 * before) or refused. Returns SQLITE_OK or the error that must roll the
 * push back. */
int hub__merge_entity(sqlite3 *db, const char *device,
                      const fs_entity_change *ent, fs_result *r, int64_t now);

/* Writes fields of an entity as a hub admin, e.g. areas imported from a
 * GeoJSON file: call it inside your own transaction (BEGIN IMMEDIATE ...
 * COMMIT), once per feature.
 *   type_name  "area", "stakeholder" or "mechanism" (schema/ENTITIES.md)
 *   id         an existing entity of that type, or NULL/"" to create one
 *              (then every required field must be given)
 *   fields     JSON object field -> value (borrowed), checked against
 *              the type; null clears a field. An area's geometry is the
 *              GeoJSON geometry object as text, e.g. the string
 *              "{"type":"Polygon","coordinates":[...]}".
 *   actor      who, for the audit log ("cli", "token:<name>")
 *   id_out     receives the entity id (may be NULL)
 * Each field becomes a new version on top of the current one (origin
 * "admin"; an admin write is authoritative and opens no conflict), the
 * entity is logged for every device of its area to pull, and the write
 * is audited ("entity.write"). Returns SQLITE_OK; SQLITE_MISUSE or
 * SQLITE_NOTFOUND with a sentence in err for bad input (nothing
 * written); another SQLite code for a storage error (roll back). */
int hub__entity_admin_write(sqlite3 *db, const char *type_name, const char *id,
                            const cJSON *fields, const char *actor,
                            char id_out[FS_UUID_LEN + 1], char *err,
                            size_t errlen);

/* ---- conflicts.c ------------------------------------------------------ */

/* One competing value of a conflict. */
typedef struct hub_candidate {
    int n;
    char *value; /* owned */
    char hlc[FS_HLC_TEXT_LEN + 1];
    char device[FS_UUID_LEN + 1];
    char collector[FS_NAME_MAX + 8];
    int64_t version; /* 0 when it never became current */
} hub_candidate;

/* The open conflict (kind, ref, field), opened now when there is none. */
int hub__conflict_open(sqlite3 *db, const char *kind, const char *ref,
                       const char *field, const char *area, int64_t now,
                       int64_t *id);
/* Adds a competing value unless the same (device, hlc, value) is there.
 * version <= 0 stores none. */
int hub__conflict_add(sqlite3 *db, int64_t id, const char *value,
                      const char *device, const char *collector,
                      const char *hlc, int64_t version, int64_t now);
/* The competitor with the highest (HLC, device id); w->value is owned. */
int hub__conflict_winner(sqlite3 *db, int64_t id, hub_candidate *w);
int hub__conflict_set_version(sqlite3 *db, int64_t id, int n, int64_t version);
/* An amendment (base_rev > 0) whose base is no longer the newest
 * revision: opens a 'submission' conflict holding both and sets r to
 * divergent/"conflict". *handled is 0 when the amendment is not one
 * (merge it as usual). */
int hub__amend_conflict(sqlite3 *db, const char *device, const fs_submission *s,
                        fs_result *r, int64_t now, int *handled);

int hub__handle_admin_conflicts(struct mg_connection *conn, void *hubp);
int hub__handle_admin_resolve(struct mg_connection *conn, void *hubp);
int hub__handle_admin_duplicates(struct mg_connection *conn, void *hubp);

/* ---- admin.c --------------------------------------------------------- */

/* Opens the hub database at path, creating and migrating it; prints the
 * reason to stderr on failure. */
sqlite3 *hub__open(const char *path);

/* Ends an admin command's transaction (correct.c): commits when rc is
 * SQLITE_OK, else rolls back and prints "what: err" (err, when empty,
 * the SQLite message); closes db. Returns the exit status: 0, 2 for bad
 * input (SQLITE_MISUSE, SQLITE_NOTFOUND), 1 for storage errors. */
int hub__cli_end(sqlite3 *db, int rc, const char *what, const char *err);

/* Exec helper: runs sql; on failure prints it with context. */
int hub__exec(sqlite3 *db, const char *sql);

#endif
