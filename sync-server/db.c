/*
 * db.c - see db.h.
 */
#include <stdio.h>

#include "db.h"
#include "errors.h"
#include "fs_schema.h"
#include "hierarchy.h"
#include "stmtcache.h"

sqlite3 *hub__open(const char *path)
{
    sqlite3 *db = NULL;
    char err[512];
    if (fs_db_open(path, &fs_schema_hub, 1, &db, err, sizeof err) != 0) {
        fprintf(stderr, "fieldsync-hub: %s\n", err);
        return NULL;
    }
    if (hub__hierarchy_register(db) != 0) {
        fprintf(stderr,
                "fieldsync-hub: %s: cannot register the area "
                "hierarchy function\n",
                path);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

void hub__close(sqlite3 *db)
{
    hub__stmt_release(db);
    sqlite3_close(db);
}

int hub__exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "fieldsync-hub: database error: %s\n",
                msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int hub__tx_begin(sqlite3 *db, pthread_mutex_t *lock)
{
    if (lock)
        pthread_mutex_lock(lock);
    int rc = hub__sql_run(db, "BEGIN IMMEDIATE", NULL, 0);
    if (rc != HUB_OK && lock)
        pthread_mutex_unlock(lock);
    return rc;
}

int hub__tx_end(sqlite3 *db, pthread_mutex_t *lock, int err)
{
    if (err == HUB_OK)
        err = hub__sql_run(db, "COMMIT", NULL, 0);
    if (err != HUB_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (lock)
        pthread_mutex_unlock(lock);
    return err;
}
