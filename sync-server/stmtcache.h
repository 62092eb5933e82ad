/*
 * stmtcache.h - prepared statements kept for the life of a worker's
 * database connection.
 *
 * Every worker thread owns one connection (server.c), and the push path
 * runs the same dozen statements for every changeset; preparing them each
 * time cost more than some of the inserts they run. The cache belongs to
 * the calling thread and is keyed by the SQL text's address, so callers
 * pass string literals.
 *
 * Rules for callers:
 *  - a statement from hub__stmt is borrowed until the next hub__stmt call
 *    with the same SQL on this thread; reset it (sqlite3_reset) when done
 *    so it holds no read snapshot. dispatch() resets every cached
 *    statement after each request as well, as a safety net;
 *  - hub__stmt_release(db) must run before db is closed (exit_thread).
 */
#ifndef HUB_STMTCACHE_H
#define HUB_STMTCACHE_H

#include <sqlite3.h>

/* The calling thread's prepared statement for sql on db, reset and with
 * its bindings cleared. NULL when it cannot be prepared (the reason is in
 * sqlite3_errmsg(db), *rc the SQLite code). sql must be a string that
 * lives as long as the thread (a literal). */
sqlite3_stmt *hub__stmt(sqlite3 *db, const char *sql, int *rc);

/* Runs sql (no result rows: BEGIN, SAVEPOINT, COMMIT ...) through the
 * cache. Returns SQLITE_OK or the error. */
int hub__stmt_exec(sqlite3 *db, const char *sql);

/* Resets every statement this thread has cached (end of a request). */
void hub__stmt_reset_all(void);

/* Finalizes every statement this thread has cached for db. */
void hub__stmt_release(sqlite3 *db);

#endif
