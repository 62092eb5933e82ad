/*
 * db.c - see db.h.
 */
#include <stdio.h>

#include "db.h"
#include "fs_schema.h"

sqlite3 *hub__open(const char *path)
{
    sqlite3 *db = NULL;
    char err[512];
    if (fs_db_open(path, &fs_schema_hub, 1, &db, err, sizeof err) != 0) {
        fprintf(stderr, "fieldsync-hub: %s\n", err);
        return NULL;
    }
    return db;
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
