#include "fs_schema.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern const char fs_sql_agent_1[];
extern const char fs_sql_agent_2[];
extern const char fs_sql_agent_3[];
extern const char fs_sql_agent_4[];
extern const char fs_sql_agent_5[];
extern const char fs_sql_agent_6[];
extern const char fs_sql_agent_7[];
extern const char fs_sql_agent_8[];
extern const char fs_sql_hub_1[];
extern const char fs_sql_hub_2[];
extern const char fs_sql_hub_3[];
extern const char fs_sql_hub_4[];
extern const char fs_sql_hub_5[];
extern const char fs_sql_hub_6[];
extern const char fs_sql_hub_7[];
extern const char fs_sql_hub_8[];
extern const char fs_sql_hub_9[];
extern const char fs_sql_hub_10[];
extern const char fs_sql_hub_11[];
extern const char fs_sql_hub_12[];
extern const char fs_sql_hub_13[];

static const char *const agent_steps[] = {
    fs_sql_agent_1, fs_sql_agent_2, fs_sql_agent_3, fs_sql_agent_4,
    fs_sql_agent_5, fs_sql_agent_6, fs_sql_agent_7, fs_sql_agent_8};
static const char *const hub_steps[] = {
    fs_sql_hub_1,  fs_sql_hub_2,  fs_sql_hub_3, fs_sql_hub_4, fs_sql_hub_5,
    fs_sql_hub_6,  fs_sql_hub_7,  fs_sql_hub_8, fs_sql_hub_9, fs_sql_hub_10,
    fs_sql_hub_11, fs_sql_hub_12, fs_sql_hub_13};

const fs_schema fs_schema_agent = {"agent", agent_steps, 8};
const fs_schema fs_schema_hub = {"hub", hub_steps, 13};

static int get_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    else
        rc = SQLITE_ERROR;
    sqlite3_finalize(st);
    return rc;
}

int fs_schema_migrate(sqlite3 *db, const fs_schema *schema, char *err,
                      size_t errlen)
{
    int version = 0;
    if (get_version(db, &version) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read the %s database version: %s",
                 schema->name, sqlite3_errmsg(db));
        return -1;
    }
    if (version > schema->nsteps) {
        snprintf(err, errlen,
                 "the %s database has schema version %d but this program "
                 "knows only up to %d; use a newer fieldsync",
                 schema->name, version, schema->nsteps);
        return -1;
    }
    for (int v = version; v < schema->nsteps; v++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        char *msg = NULL;
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) !=
                SQLITE_OK ||
            sqlite3_exec(db, schema->steps[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, bump, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen,
                     "cannot migrate the %s database to version %d: %s",
                     schema->name, v + 1, msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

int fs_sync_parent_dir(const char *path)
{
    char dir[4096];
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    while (len > 0 && path[len - 1] != '/')
        len--; /* back to the slash before the last part, if any */
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len >= sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (len == 0) {
        dir[0] = '.';
        len = 1;
    } else {
        memcpy(dir, path, len);
    }
    dir[len] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int fs_db_open(const char *path, const fs_schema *schema, int create,
               sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (create)
        flags |= SQLITE_OPEN_CREATE;
    *out = NULL;
    int is_new = create && access(path, F_OK) != 0;
    /* The database holds personal data: made readable by its owner only,
     * whatever the umask. SQLite gives its -wal and -shm files the mode of
     * the database file. */
    if (is_new) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s database %s: %s",
                     schema->name, path, strerror(errno));
            goto fail;
        }
        if (fd >= 0)
            close(fd);
    }
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s database %s: %s", schema->name,
                 path, db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 30000);
    /* WAL lets readers run beside the one writer; synchronous=FULL makes a
     * returned COMMIT durable across power loss, which is what an
     * acknowledgement promises. */
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL;"
                     "PRAGMA synchronous=FULL;"
                     "PRAGMA foreign_keys=ON;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot set up %s database %s: %s", schema->name,
                 path, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        goto fail;
    }
    if (fs_schema_migrate(db, schema, err, errlen) != 0)
        goto fail;
    /* A database just made is lost with everything committed to it if
     * its name never reached the disk. */
    if (is_new && fs_sync_parent_dir(path) != 0) {
        snprintf(err, errlen, "cannot make the new %s database %s durable: %s",
                 schema->name, path, strerror(errno));
        goto fail;
    }
    *out = db;
    return 0;
fail:
    sqlite3_close(db);
    return -1;
}
