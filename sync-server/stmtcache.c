/*
 * stmtcache.c - see stmtcache.h.
 */
#include <string.h>

#include "stmtcache.h"

/* Far more than the push path uses; when full, the oldest entry is
 * finalized and replaced, so a caller never goes without a statement. */
#define CACHE_MAX 32

typedef struct entry {
    const char *sql; /* the caller's literal: compared by address */
    sqlite3_stmt *st;
} entry;

typedef struct cache {
    sqlite3 *db;
    int n, next;
    entry e[CACHE_MAX];
} cache;

static _Thread_local cache tc;

void hub__stmt_release(sqlite3 *db)
{
    if (tc.db != db)
        return;
    for (int i = 0; i < tc.n; i++)
        sqlite3_finalize(tc.e[i].st);
    memset(&tc, 0, sizeof tc);
}

void hub__stmt_reset_all(void)
{
    for (int i = 0; i < tc.n; i++)
        sqlite3_reset(tc.e[i].st);
}

sqlite3_stmt *hub__stmt(sqlite3 *db, const char *sql, int *rc)
{
    int dummy;
    if (!rc)
        rc = &dummy;
    /* A thread serves one connection; another db means the old one is
     * going away or gone: start over rather than mix them. */
    if (tc.db != db) {
        hub__stmt_release(tc.db);
        tc.db = db;
    }
    for (int i = 0; i < tc.n; i++) {
        if (tc.e[i].sql == sql) {
            sqlite3_stmt *st = tc.e[i].st;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            *rc = SQLITE_OK;
            return st;
        }
    }
    sqlite3_stmt *st = NULL;
    *rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                             NULL);
    if (*rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    int slot = tc.n;
    if (tc.n < CACHE_MAX) {
        tc.n++;
    } else {
        slot = tc.next;
        tc.next = (tc.next + 1) % CACHE_MAX;
        sqlite3_finalize(tc.e[slot].st);
    }
    tc.e[slot].sql = sql;
    tc.e[slot].st = st;
    return st;
}

int hub__stmt_exec(sqlite3 *db, const char *sql)
{
    int rc;
    sqlite3_stmt *st = hub__stmt(db, sql, &rc);
    if (!st)
        return rc;
    rc = sqlite3_step(st);
    /* reset returns the step's error again; the step's code is enough. */
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}
