/*
 * stmtcache.c - see stmtcache.h.
 */
#include <string.h>

#include "errors.h"
#include "stmtcache.h"

/* Far more than any one thread uses at once; when full, the oldest entry
 * not in use is finalized and replaced. */
#define CACHE_MAX 64

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

/* The slot for a new entry: a free one, else the oldest whose statement
 * is not in use (a caller may be reading its rows). -1 when every one
 * is. */
static int free_slot(void)
{
    if (tc.n < CACHE_MAX)
        return tc.n++;
    for (int k = 0; k < CACHE_MAX; k++) {
        int slot = (tc.next + k) % CACHE_MAX;
        if (!sqlite3_stmt_busy(tc.e[slot].st)) {
            tc.next = (slot + 1) % CACHE_MAX;
            sqlite3_finalize(tc.e[slot].st);
            return slot;
        }
    }
    return -1;
}

/* The cached statement for sql, reset and with its bindings cleared;
 * NULL with *rc the SQLite code when it cannot be prepared. */
static sqlite3_stmt *cached(sqlite3 *db, const char *sql, int *rc)
{
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
    int slot = free_slot();
    if (slot < 0) {
        *rc = SQLITE_NOMEM;
        return NULL;
    }
    sqlite3_stmt *st = NULL;
    *rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (*rc != SQLITE_OK) {
        sqlite3_finalize(st);
        /* The slot stays at the end, unused. */
        if (slot == tc.n - 1)
            tc.n--;
        else
            tc.e[slot] = tc.e[--tc.n];
        return NULL;
    }
    tc.e[slot].sql = sql;
    tc.e[slot].st = st;
    return st;
}

int hub__sql_bind(sqlite3_stmt *st, const hub_arg *args, size_t n)
{
    int rc = SQLITE_OK;
    /* SQL built at run time may leave the last parameters out. */
    size_t count = (size_t)sqlite3_bind_parameter_count(st);
    if (n > count)
        n = count;
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        int at = (int)i + 1;
        const hub_arg *a = &args[i];
        if (a->type == HUB_ARG_INT)
            rc = sqlite3_bind_int64(st, at, a->i);
        else if (a->type == HUB_ARG_TEXT && a->text)
            rc = sqlite3_bind_text(st, at, a->text, -1, SQLITE_STATIC);
        else
            rc = sqlite3_bind_null(st, at);
    }
    return hub__sqlite_err(rc);
}

sqlite3_stmt *hub__sql(sqlite3 *db, const char *sql, const hub_arg *args,
                       size_t n, int *err)
{
    int rc;
    sqlite3_stmt *st = cached(db, sql, &rc);
    *err = hub__sqlite_err(rc);
    if (st && *err == HUB_OK)
        *err = hub__sql_bind(st, args, n);
    return *err == HUB_OK ? st : NULL;
}

int hub__sql_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : hub__sqlite_err(rc);
}

void hub__sql_end(sqlite3_stmt *st)
{
    if (st)
        sqlite3_reset(st);
}

int hub__sql_run(sqlite3 *db, const char *sql, const hub_arg *args, size_t n)
{
    int err;
    sqlite3_stmt *st = hub__sql(db, sql, args, n, &err);
    if (!st)
        return err;
    int rc = hub__sql_step(st);
    /* A row (from RETURNING or a pragma) is not wanted. */
    hub__sql_end(st);
    return rc > 0 ? HUB_OK : rc;
}

cJSON *hub__sql_json(sqlite3 *db, const char *sql, const hub_arg *args,
                     size_t n, cJSON *(*row)(sqlite3_stmt *st))
{
    int rc;
    sqlite3_stmt *st = hub__sql(db, sql, args, n, &rc);
    if (!st)
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    while (hub__sql_step(st) > 0)
        cJSON_AddItemToArray(arr, row(st));
    return arr;
}

const char *hub__col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}
