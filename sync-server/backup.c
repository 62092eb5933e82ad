/*
 * backup.c - `fieldsync-hub backup` and `restore`: an online copy of the
 * hub's database while it serves, and putting such a copy in place.
 *
 * Both write the new file under a temporary name beside its destination
 * (mode 0600), fsync it, rename it over the destination and fsync the
 * directory: after a crash the destination is either the old file or the
 * whole new one, never a part.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "fs_schema.h"

/* A path's directory into dir ("." when it has none). */
static int dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    if (slash == path)
        n = 1; /* "/x": the root */
    if (n + 1 > cap)
        return -1;
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    return 0;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Makes an empty file beside dest, mode 0600; its name goes to tmp. */
static int make_temp(const char *dest, char *tmp, size_t cap)
{
    int n = snprintf(tmp, cap, "%s.tmp-XXXXXX", dest);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkstemp(tmp); /* 0600 */
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* Copies every page of src's main database into the file at dest_path
 * as one read transaction of src (a consistent snapshot; in WAL mode the
 * hub's writers go on meanwhile). */
static int copy_pages(sqlite3 *src, const char *dest_path, char *err,
                      size_t cap)
{
    sqlite3 *dst = NULL;
    int rc = sqlite3_open_v2(dest_path, &dst,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
        if (!b) {
            rc = sqlite3_errcode(dst);
        } else {
            /* -1: all pages in one step, so one snapshot. BUSY comes
             * only while another connection holds an exclusive lock
             * (a checkpoint truncating the log): wait and retry. */
            do {
                rc = sqlite3_backup_step(b, -1);
                if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                    sqlite3_sleep(50);
            } while (rc == SQLITE_OK || rc == SQLITE_BUSY ||
                     rc == SQLITE_LOCKED);
            int frc = sqlite3_backup_finish(b);
            if (rc == SQLITE_DONE)
                rc = frc;
        }
    }
    if (rc != SQLITE_OK)
        snprintf(err, cap, "%s", dst ? sqlite3_errmsg(dst) : "out of memory");
    if (sqlite3_close(dst) != SQLITE_OK && rc == SQLITE_OK) {
        snprintf(err, cap, "cannot close the copy");
        rc = SQLITE_ERROR;
    }
    return rc == SQLITE_OK ? 0 : -1;
}

/* fsyncs tmp, renames it to dest, fsyncs dest's directory. */
static int put_in_place(const char *tmp, const char *dest)
{
    char dir[PATH_MAX];
    if (fsync_path(tmp, O_RDWR) != 0 || rename(tmp, dest) != 0)
        return -1;
    if (dir_of(dest, dir, sizeof dir) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

/* The single-row answer of a pragma or query, into out. */
static int one_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    out[0] = '\0';
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", t ? t : "");
    } else {
        snprintf(out, cap, "%s", sqlite3_errmsg(db));
        rc = SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

int hub_backup(const char *db_path, const char *out_path, FILE *out)
{
    char tmp[PATH_MAX] = "", err[256] = "", count[32];
    sqlite3 *src = NULL;
    int status = 1;

    if (!out_path || !out_path[0]) {
        fprintf(stderr, "fieldsync-hub: backup needs -o FILE, the copy to "
                        "write\n");
        return 2;
    }
    /* Not SQLITE_OPEN_CREATE: a mistyped --db must not back up a new,
     * empty database. Read-write because a WAL reader needs the shared
     * memory file. */
    if (sqlite3_open_v2(db_path, &src,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        fprintf(stderr,
                "fieldsync-hub: cannot open the hub database %s: %s (check "
                "--db)\n",
                db_path, src ? sqlite3_errmsg(src) : "out of memory");
        status = 2;
        goto out;
    }
    sqlite3_busy_timeout(src, 30000);
    if (one_text(src, "SELECT count(*) FROM submissions", count,
                 sizeof count) != 0) {
        fprintf(stderr,
                "fieldsync-hub: %s is not a hub database (%s); nothing "
                "written\n",
                db_path, count);
        status = 2;
        goto out;
    }
    if (make_temp(out_path, tmp, sizeof tmp) != 0) {
        fprintf(stderr, "fieldsync-hub: cannot create a file beside %s: %s\n",
                out_path, strerror(errno));
        tmp[0] = '\0';
        goto out;
    }
    if (copy_pages(src, tmp, err, sizeof err) != 0) {
        fprintf(stderr, "fieldsync-hub: backup of %s failed: %s\n", db_path,
                err);
        goto out;
    }
    if (put_in_place(tmp, out_path) != 0) {
        fprintf(stderr, "fieldsync-hub: cannot write %s: %s\n", out_path,
                strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
    struct stat sb;
    if (stat(out_path, &sb) != 0)
        sb.st_size = 0;
    fprintf(out, "backup of %s written to %s (%lld bytes)\n", db_path, out_path,
            (long long)sb.st_size);
    status = 0;
out:
    if (tmp[0])
        unlink(tmp);
    sqlite3_close(src);
    return status;
}

/* Removes path's -wal and -shm files: a log left by the database that a
 * restore replaces would otherwise be applied to the restored one. */
static int remove_log(const char *path)
{
    static const char *const sfx[] = {"-wal", "-shm"};
    char p[PATH_MAX];
    for (size_t i = 0; i < 2; i++) {
        int n = snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        if (n < 0 || (size_t)n >= sizeof p ||
            (unlink(p) != 0 && errno != ENOENT))
            return -1;
    }
    return 0;
}

int hub_restore(const char *backup_path, const char *db_path, int force,
                FILE *out)
{
    char tmp[PATH_MAX] = "", err[512] = "", check[256], count[32];
    sqlite3 *src = NULL, *db = NULL;
    struct stat sb;
    int status = 1;

    if (!backup_path) {
        fprintf(stderr, "fieldsync-hub: restore needs the backup FILE\n");
        return 2;
    }
    if (stat(db_path, &sb) == 0 && !force) {
        fprintf(stderr,
                "fieldsync-hub: %s exists, and a hub may be serving it: "
                "restore into a new --db path and point the hub there, or "
                "stop the hub and add --force to replace it\n",
                db_path);
        return 2;
    }
    if (sqlite3_open_v2(backup_path, &src,
                        SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        fprintf(stderr, "fieldsync-hub: cannot open the backup %s: %s\n",
                backup_path, src ? sqlite3_errmsg(src) : "out of memory");
        status = 2;
        goto out;
    }
    if (make_temp(db_path, tmp, sizeof tmp) != 0) {
        fprintf(stderr, "fieldsync-hub: cannot create a file beside %s: %s\n",
                db_path, strerror(errno));
        tmp[0] = '\0';
        goto out;
    }
    if (copy_pages(src, tmp, err, sizeof err) != 0) {
        fprintf(stderr,
                "fieldsync-hub: cannot read the backup %s: %s; nothing "
                "changed\n",
                backup_path, err);
        status = 2;
        goto out;
    }
    /* The copy as the hub will open it: migrated to this version's
     * schema (a backup from an older hub), then checked whole. */
    if (fs_db_open(tmp, &fs_schema_hub, 0, &db, err, sizeof err) != 0) {
        fprintf(stderr,
                "fieldsync-hub: %s is not a usable hub backup: %s; "
                "nothing changed\n",
                backup_path, err);
        status = 2;
        goto out;
    }
    if (one_text(db, "PRAGMA integrity_check", check, sizeof check) != 0 ||
        strcmp(check, "ok") != 0) {
        fprintf(stderr,
                "fieldsync-hub: the backup %s fails SQLite's integrity "
                "check (%s); nothing changed: use an older backup\n",
                backup_path, check);
        status = 2;
        goto out;
    }
    if (one_text(db, "SELECT count(*) FROM submissions", count, sizeof count) !=
            0 ||
        one_text(db, "PRAGMA wal_checkpoint(TRUNCATE)", check, sizeof check) !=
            0) {
        fprintf(stderr, "fieldsync-hub: cannot read the restored copy: %s\n",
                count);
        goto out;
    }
    if (sqlite3_close(db) != SQLITE_OK) {
        fprintf(stderr, "fieldsync-hub: cannot close the restored copy\n");
        db = NULL;
        goto out;
    }
    db = NULL;
    if (remove_log(tmp) != 0 || (force && remove_log(db_path) != 0) ||
        put_in_place(tmp, db_path) != 0) {
        fprintf(stderr,
                "fieldsync-hub: cannot put the restored copy at %s: "
                "%s\n",
                db_path, strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
    fprintf(out, "restored %s into %s: %s submission(s), integrity check ok\n",
            backup_path, db_path, count);
    status = 0;
out:
    sqlite3_close(db);
    sqlite3_close(src);
    if (tmp[0]) {
        unlink(tmp);
        remove_log(tmp);
    }
    return status;
}
