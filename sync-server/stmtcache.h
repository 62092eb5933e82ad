/*
 * stmtcache.h - the hub's prepared statements: kept for the life of a
 * thread's database connection, bound by type, stepped and read through
 * one small set of helpers that speak the hub's error codes (errors.h).
 *
 * Every worker thread owns one connection (server.c), and the push path
 * runs the same dozen statements for every changeset; preparing them each
 * time cost more than some of the inserts they run. The cache belongs to
 * the calling thread and is keyed by the SQL text's address, so callers
 * pass string literals (SQL built at run time goes through
 * sqlite3_prepare_v2 and hub__sql_bind instead).
 *
 * Rules for callers:
 *  - a statement from hub__sql is borrowed until the next
 *    call with the same SQL on this thread; hub__sql_step resets it when
 *    the rows end or a step fails; a caller that stops early calls
 *    hub__sql_end so that it holds no read snapshot. dispatch() resets
 *    every cached statement after each request as well, as a safety net;
 *  - a statement in use (stepped, not reset) is never evicted;
 *  - hub__stmt_release(db) must run before db is closed (hub__close does
 *    it; a worker's exit_thread too).
 */
#ifndef HUB_STMTCACHE_H
#define HUB_STMTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "fs_protocol.h"

/* One value to bind, by type: HUB_TEXT(s) (s borrowed until the
 * statement is reset; NULL binds NULL), HUB_INT(v), HUB_NULL. */
typedef struct hub_arg {
    enum { HUB_ARG_NULL, HUB_ARG_TEXT, HUB_ARG_INT } type;
    const char *text;
    int64_t i;
} hub_arg;

#define HUB_TEXT(s) ((hub_arg){HUB_ARG_TEXT, (s), 0})
#define HUB_INT(v) ((hub_arg){HUB_ARG_INT, NULL, (int64_t)(v)})
#define HUB_NULL ((hub_arg){HUB_ARG_NULL, NULL, 0})
/* The argument list of hub__sql and hub__sql_run: ?1, ?2, ... in
 * order. */
#define HUB_ARGS(...)                                                          \
    (const hub_arg[]){__VA_ARGS__},                                            \
        sizeof((const hub_arg[]){__VA_ARGS__}) / sizeof(hub_arg)

/* The thread's cached statement for sql (a literal) on db, reset, with
 * args (n of them, may be NULL and 0) bound. NULL with *err a HUB_E*
 * code when it cannot be prepared (the reason in sqlite3_errmsg(db)). */
sqlite3_stmt *hub__sql(sqlite3 *db, const char *sql, const hub_arg *args,
                       size_t n, int *err);
/* Steps st: 1 when a row is ready, 0 when the rows ended, or a HUB_E*
 * code; st is reset in the last two cases. */
int hub__sql_step(sqlite3_stmt *st);
/* Resets st after a caller stopped reading rows early (NULL is fine). */
void hub__sql_end(sqlite3_stmt *st);
/* Runs sql once (no rows wanted: INSERT, UPDATE, DELETE, BEGIN ...):
 * HUB_OK or a HUB_E* code. */
int hub__sql_run(sqlite3 *db, const char *sql, const hub_arg *args, size_t n);
/* Binds args to st (a statement the caller prepared); args beyond the
 * statement's highest parameter are left out. HUB_OK or a HUB_E* code. */
int hub__sql_bind(sqlite3_stmt *st, const hub_arg *args, size_t n);
/* The rows of sql as a JSON array (caller frees), row making each
 * element from the statement on its row. NULL on a storage error. */
cJSON *hub__sql_json(sqlite3 *db, const char *sql, const hub_arg *args,
                     size_t n, cJSON *(*row)(sqlite3_stmt *st));
/* Column i of the current row as text; "" for NULL. Borrowed until the
 * next step. */
const char *hub__col(sqlite3_stmt *st, int i);

/* Resets every statement this thread has cached (end of a request). */
void hub__stmt_reset_all(void);

/* Finalizes every statement this thread has cached for db. */
void hub__stmt_release(sqlite3 *db);

#endif
