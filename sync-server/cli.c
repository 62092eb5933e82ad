/*
 * cli.c - see cli.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "errors.h"
#include "fs_protocol.h"

int hub__exit_status(int err)
{
    switch (err) {
    case HUB_OK:
        return 0;
    case HUB_EBADINPUT:
    case HUB_ENOTFOUND:
    case HUB_EFORBIDDEN:
    case HUB_ECONFLICT:
        return 2;
    default:
        return 1;
    }
}

sqlite3 *hub__cli_begin(const char *db_path)
{
    sqlite3 *db = hub__open(db_path);
    if (db && hub__exec(db, "BEGIN IMMEDIATE") != 0) {
        hub__close(db);
        return NULL;
    }
    return db;
}

int hub__cli_end(sqlite3 *db, int err, const char *what, const char *msg)
{
    if (err == HUB_OK && hub__exec(db, "COMMIT") != 0)
        err = HUB_ESTORAGE;
    if (err != HUB_OK) {
        fprintf(stderr, "fieldsync-hub: %s: %s\n", what,
                msg[0] ? msg : sqlite3_errmsg(db));
        hub__exec(db, "ROLLBACK");
    }
    hub__close(db);
    return hub__exit_status(err);
}

char *hub__read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fieldsync-hub: cannot open %s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    fs_buf b;
    fs_buf_init(&b, max);
    char chunk[8192];
    size_t n;
    int rc = FS_OK;
    while (rc == FS_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = fs_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (rc != FS_OK || bad) {
        fprintf(stderr, "fieldsync-hub: cannot read %s: %s\n", path,
                rc == FS_ETOOBIG ? "the file is too large" : "read error");
        fs_buf_free(&b);
        return NULL;
    }
    if (fs_buf_append(&b, "", 0) != FS_OK) {
        fs_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return (char *)b.data;
}
