/*
 * store.c - the agent's local database: opening it, settings, and
 * transactions. Every write the user makes commits together with its
 * outbox row (outbox.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "drafts.h"
#include "fs_schema.h"
#include "store.h"

int fa__fail(fa_agent *ag, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ag->err, sizeof ag->err, fmt, ap);
    va_end(ap);
    return code;
}

const char *fa_last_error(const fa_agent *ag)
{
    return ag ? ag->err : "";
}

int fa__store_error(fa_agent *ag, const char *what)
{
    int ext = sqlite3_extended_errcode(ag->db);
    if ((ext & 0xff) == SQLITE_FULL)
        return fa__fail(ag, FA_ESTORE,
                        "%s: the device's storage is full; nothing was "
                        "changed. Free some space (records already saved "
                        "are kept) and try again",
                        what);
    return fa__fail(ag, FA_ESTORE, "%s: local database error: %s", what,
                    sqlite3_errmsg(ag->db));
}

/* mkdir -p: the directories above dir that are missing (mode 0755, as
 * mkdir -p makes them, before the umask), then dir itself with mode.
 * A directory just made keeps its name after a power cut only once the
 * directory holding it was synced. Returns 0, or -1 with errno set. */
static int make_dirs(const char *dir, mode_t mode)
{
    char path[FA_PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, n + 1);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
    for (char *p = path + 1;; p++) {
        int last = *p == '\0';
        if (*p != '/' && !last)
            continue;
        char c = *p;
        *p = '\0';
        int made = mkdir(path, last ? mode : 0755) == 0;
        if (!made && errno != EEXIST)
            return -1;
        if (made && fs_sync_parent_dir(path) != 0)
            return -1;
        if (last)
            return 0;
        *p = c;
    }
}

int fa_open(const char *dir, fa_agent **out, char *err, size_t errlen)
{
    *out = NULL;
    if (make_dirs(dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create the agent directory %s: %s", dir,
                 strerror(errno));
        return FA_ESTORE;
    }
    fa_agent *ag = calloc(1, sizeof *ag);
    if (!ag) {
        snprintf(err, errlen, "out of memory");
        return FA_ESTORE;
    }
    ag->dir = strdup(dir);
    fs_limits_default(&ag->limits);
    char path[FA_PATH_MAX];
    snprintf(path, sizeof path, "%s/agent.db", dir);
    if (!ag->dir ||
        fs_db_open(path, &fs_schema_agent, 1, &ag->db, err, errlen) != 0) {
        /* Opening needs a little space (the write-ahead log and its
         * index are made anew at each start): on a full disk SQLite only
         * says "disk I/O error", so say what it is. */
        struct statvfs vfs;
        if (statvfs(dir, &vfs) == 0 &&
            (unsigned long long)vfs.f_bavail * vfs.f_frsize < 65536)
            snprintf(err, errlen,
                     "the device's storage is full, the agent database "
                     "%s cannot be opened; nothing was changed and "
                     "records already saved are kept. Free some space "
                     "and try again",
                     path);
        fa_close(ag);
        return FA_ESTORE;
    }
    /* A device's working set is a few pages (the outbox tail, one
     * changeset); SQLite's default 2 MB page cache is a quarter of the
     * memory a cheap device can spare for the agent. */
    sqlite3_exec(ag->db, "PRAGMA cache_size = -256", NULL, NULL, NULL);
    /* Deleted rows are overwritten with zeros, not left in free pages:
     * a finalized draft of a sealed form leaves no plaintext behind
     * (seal.c). */
    sqlite3_exec(ag->db, "PRAGMA secure_delete = ON", NULL, NULL, NULL);
    /* The token is in this file: only its owner may read it. */
    chmod(path, 0600);
    *out = ag;
    return FA_OK;
}

void fa_close(fa_agent *ag)
{
    if (!ag)
        return;
    fa__drafts_free(ag);
    sqlite3_close(ag->db);
    free(ag->dir);
    free(ag);
}

/* ---- statements -------------------------------------------------------- */

static int prepare_v(fa_agent *ag, sqlite3_stmt **st, const char *what,
                     const char *sql, const char *types, va_list ap)
{
    *st = NULL;
    if (sqlite3_prepare_v2(ag->db, sql, -1, st, NULL) != SQLITE_OK)
        return what ? fa__store_error(ag, what) : FA_ESTORE;
    for (int i = 0; types[i]; i++) {
        if (types[i] == 't')
            sqlite3_bind_text(*st, i + 1, va_arg(ap, const char *), -1,
                              SQLITE_STATIC);
        else
            sqlite3_bind_int64(*st, i + 1, va_arg(ap, int64_t));
    }
    return FA_OK;
}

int fa__prepare(fa_agent *ag, sqlite3_stmt **st, const char *what,
                const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = prepare_v(ag, st, what, sql, types, ap);
    va_end(ap);
    return rc;
}

int fa__exec(fa_agent *ag, const char *what, const char *sql, const char *types,
             ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = prepare_v(ag, &st, what, sql, types, ap);
    va_end(ap);
    if (rc != FA_OK)
        return rc;
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FA_OK : fa__store_error(ag, what);
}

const char *fa__col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

cJSON *fa__row_json(sqlite3_stmt *st, const char *types,
                    const char *const *names)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; types[i]; i++) {
        if (types[i] == 't')
            cJSON_AddStringToObject(o, names[i], fa__col_text(st, i));
        else if (types[i] == 'n')
            cJSON_AddNumberToObject(o, names[i],
                                    (double)sqlite3_column_int64(st, i));
        else if (types[i] == 'b')
            cJSON_AddBoolToObject(o, names[i], sqlite3_column_int(st, i));
        else
            cJSON_AddItemToObject(o, names[i],
                                  fs_json_parse_stored(fa__col_text(st, i)));
    }
    return o;
}

/* ---- settings ---------------------------------------------------------- */

int fa__meta_get(fa_agent *ag, const char *key, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (fa__prepare(ag, &st, "reading settings",
                    "SELECT value FROM meta WHERE key = ?", "t", key) != FA_OK)
        return FA_ESTORE;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fa__store_error(ag, "reading settings");
    return FA_OK;
}

int fa__meta_get_int(fa_agent *ag, const char *key, int64_t def, int64_t *out)
{
    char buf[32];
    int rc = fa__meta_get(ag, key, buf, sizeof buf);
    if (rc != FA_OK)
        return rc;
    *out = def;
    if (buf[0]) {
        char *end = NULL;
        long long v = strtoll(buf, &end, 10);
        if (*end == '\0')
            *out = v;
    }
    return FA_OK;
}

int fa__meta_get_all(fa_agent *ag, const fa__setting *s, size_t n)
{
    int rc = FA_OK;
    for (size_t i = 0; i < n && rc == FA_OK; i++)
        rc = s[i].text ? fa__meta_get(ag, s[i].key, s[i].text, s[i].cap)
                       : fa__meta_get_int(ag, s[i].key, 0, s[i].num);
    return rc;
}

int fa__meta_set(fa_agent *ag, const char *key, const char *value)
{
    return fa__exec(ag, "saving settings",
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT "
                    "(key) DO UPDATE SET value = excluded.value",
                    "tt", key, value);
}

int fa__meta_set_int(fa_agent *ag, const char *key, int64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)value);
    return fa__meta_set(ag, key, buf);
}

/* ---- transactions ------------------------------------------------------ */

int fa__begin(fa_agent *ag)
{
    if (sqlite3_exec(ag->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fa__store_error(ag, "starting a transaction");
    return FA_OK;
}

int fa__commit(fa_agent *ag)
{
    if (sqlite3_exec(ag->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = fa__store_error(ag, "saving");
        fa__rollback(ag);
        return rc;
    }
    if (ag->sealed_commit) {
        /* The draft's plaintext may still be in earlier page versions in
         * the write-ahead log: copy the current pages back and empty it.
         * Should a reader hold it open, the next sealed commit (or the
         * last close) tries again. */
        int log = 0, done = 0;
        if (sqlite3_wal_checkpoint_v2(ag->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                      &log, &done) == SQLITE_OK)
            ag->sealed_commit = 0;
    }
    return FA_OK;
}

void fa__rollback(fa_agent *ag)
{
    ag->sealed_commit = 0;
    if (!sqlite3_get_autocommit(ag->db))
        sqlite3_exec(ag->db, "ROLLBACK", NULL, NULL, NULL);
}
