/*
 * blobguard.c - see blobguard.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "blobguard.h"
#include "blobs.h"
#include "errors.h"
#include "forms.h"
#include "fs_form.h"
#include "fs_seal.h"
#include "http.h"
#include "stmtcache.h"

#define MIB(x) ((double)(x) / (1024.0 * 1024.0))

/* The files dev's submissions reference, each once, with the largest
 * size declared for it. */
static const char SQL_FILES[] =
    "SELECT json_extract(j.value, '$.sha256') AS h, "
    "max(json_extract(j.value, '$.size')) FROM submissions s, "
    "json_each(s.answers) j WHERE s.device_id = ?1 AND j.type = 'object' "
    "AND json_type(j.value, '$.sha256') = 'text' GROUP BY h";

/* The sum of the declared sizes: an upper bound of dev's bytes, since the
 * hub never holds more of a file than its declared size. */
static const char SQL_DECLARED[] =
    "SELECT coalesce(sum(n), 0) FROM (SELECT "
    "max(json_extract(j.value, '$.size')) AS n FROM submissions s, "
    "json_each(s.answers) j WHERE s.device_id = ?1 AND j.type = 'object' "
    "AND json_type(j.value, '$.sha256') = 'text' "
    "GROUP BY json_extract(j.value, '$.sha256'))";

/* dev's bytes at the hub into *used; HUB_OK or a HUB_E* code. Only when
 * the declared sizes could pass the quota does it look at the disk: a
 * device well within its quota costs one query, no stat. */
static int device_bytes(sqlite3 *db, const hub_device *dev, const char *dir,
                        long long limit, long long *used)
{
    int err = HUB_OK;
    sqlite3_stmt *st =
        hub__sql(db, SQL_DECLARED, HUB_ARGS(HUB_TEXT(dev->id)), &err);
    if (!st)
        return err;
    int r = hub__sql_step(st);
    if (r < 0)
        return r;
    long long declared = r == 1 ? sqlite3_column_int64(st, 0) : 0;
    hub__sql_end(st);
    *used = declared;
    if (declared <= limit)
        return HUB_OK;

    long long sum = 0;
    st = hub__sql(db, SQL_FILES, HUB_ARGS(HUB_TEXT(dev->id)), &err);
    if (!st)
        return err;
    while ((r = hub__sql_step(st)) == 1) {
        const char *hash = hub__col(st, 0);
        char path[4200];
        struct stat sb;
        if (!hub__blob_name_ok(hash))
            continue; /* validated at push; never a path */
        snprintf(path, sizeof path, "%s/%s", dir, hash);
        if (stat(path, &sb) == 0) {
            sum += (long long)sb.st_size;
            continue;
        }
        snprintf(path, sizeof path, "%s/.part-%s", dir, hash);
        if (stat(path, &sb) == 0)
            sum += (long long)sb.st_size;
    }
    if (r < 0)
        return r;
    *used = sum;
    return HUB_OK;
}

int hub__blob_room(const hub *h, sqlite3 *db, const hub_device *dev,
                   const char *dir, long long add, const char **code, char *why,
                   size_t cap)
{
    long long used = 0;
    int err = device_bytes(db, dev, dir, h->attach_quota - add, &used);
    if (err != HUB_OK) {
        *code = "storage";
        snprintf(why, cap, "the hub cannot read its submissions");
        return hub__http_status(err);
    }
    if (used + add > h->attach_quota) {
        fprintf(stderr,
                "fieldsync-hub: device %s over its attachment quota "
                "(%lld + %lld > %lld bytes)\n",
                dev->id, used, add, h->attach_quota);
        *code = "quota";
        snprintf(why, cap,
                 "this device has %lld bytes (%.1f MiB) of files at the hub "
                 "and may have %lld (%.1f MiB); these %lld bytes would pass "
                 "that, and nothing of them was kept. Ask the hub's admin "
                 "to raise the quota (fieldsync-hub serve --attach-quota)",
                 used, MIB(used), h->attach_quota, MIB(h->attach_quota), add);
        return 413;
    }

    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0) {
        *code = "storage";
        snprintf(why, cap, "the hub cannot see its free disk space: %s",
                 strerror(errno));
        return hub__http_status(HUB_ESTORAGE);
    }
    /* In double: f_bavail * f_frsize can pass what long long holds on
     * no real disk, but the floor is an admin's number. */
    double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
    if (avail - (double)add < (double)h->attach_floor) {
        fprintf(stderr,
                "fieldsync-hub: attachment chunk refused: %.0f bytes free, "
                "the floor is %lld\n",
                avail, h->attach_floor);
        *code = "insufficient_storage";
        snprintf(why, cap,
                 "the hub's disk has %.1f MiB free and keeps at least %.1f "
                 "MiB free for its database; nothing of these %lld bytes "
                 "was kept. Send them again later: the hub's admin frees "
                 "space or lowers the floor (fieldsync-hub serve "
                 "--attach-floor)",
                 MIB(avail), MIB(h->attach_floor), add);
        return 507;
    }
    return 0;
}

int hub__blob_admit(struct mg_connection *conn, const hub *h, sqlite3 *db,
                    const hub_device *dev, const char *dir, long long add)
{
    const char *code = NULL;
    char why[512];
    int status = hub__blob_room(h, db, dev, dir, add, &code, why, sizeof why);
    if (status != 0)
        hub__reply_error(conn, status, code, "%s", why);
    return status;
}

/* The references of dev's submissions to a file: which form version and
 * field, and the type each declares. */
static const char SQL_REFS[] =
    "SELECT s.id, s.form_id, s.form_version, j.key, "
    "json_extract(j.value, '$.type') FROM submissions s, "
    "json_each(s.answers) j WHERE s.device_id = ?1 AND j.type = 'object' "
    "AND json_extract(j.value, '$.sha256') = ?2 ORDER BY s.rowid";

int hub__blob_sniff(struct mg_connection *conn, sqlite3 *db,
                    const hub_device *dev, const char *hash,
                    const unsigned char *head, size_t n)
{
    int err = HUB_OK, r;
    sqlite3_stmt *st = hub__sql(
        db, SQL_REFS, HUB_ARGS(HUB_TEXT(dev->id), HUB_TEXT(hash)), &err);
    if (!st)
        return conn ? hub__reply_err(conn, err, "storage",
                                     "the hub cannot read its submissions")
                    : 500;
    const char *sniffed = fs_sniff_type(head, n);
    while ((r = hub__sql_step(st)) == 1) {
        char id[64], field[160], declared[160];
        snprintf(id, sizeof id, "%s", hub__col(st, 0));
        snprintf(field, sizeof field, "%s", hub__col(st, 3));
        snprintf(declared, sizeof declared, "%s", hub__col(st, 4));
        fs_form *form =
            hub__form_at(db, hub__col(st, 1), sqlite3_column_int64(st, 2));
        const fs_field *fld = form ? fs_form_field_named(form, field) : NULL;
        if (!fld) {
            fs_form_free(form);
            hub__sql_end(st);
            if (!conn)
                return 500;
            return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                                  "the hub cannot read the form of "
                                  "submission %s",
                                  id);
        }
        /* A sealed field's file is ciphertext: its type is the sealed
         * type, and its bytes must begin as a sealed file does. */
        int sealed = (fs_field_flags(fld) & FS_FIELD_SEALED) != 0;
        size_t ml = sizeof FS_SEAL_FILE_MAGIC - 1;
        const char *type =
            sealed ? (n >= ml && memcmp(head, FS_SEAL_FILE_MAGIC, ml) == 0
                          ? FS_SEALED_FILE_TYPE
                          : NULL)
                   : fs_field_file_type(fld, head, n);
        int ok = type && strcmp(type, declared) == 0 &&
                 (sealed || fs_field_type_allowed(fld, type));
        if (!ok) {
            char ftype[32];
            int takes = type && (sealed || fs_field_type_allowed(fld, type));
            snprintf(ftype, sizeof ftype, "%s",
                     fs_field_type_name(fs_field_type_of(fld)));
            fs_form_free(form);
            hub__sql_end(st);
            fprintf(stderr,
                    "fieldsync-hub: blob %.12s refused: its bytes are %s, "
                    "submission %s declares %s\n",
                    hash, sniffed ? sniffed : "of no known type", id, declared);
            if (conn)
                hub__reply_error(
                    conn, 415, "wrong_type",
                    "the file's bytes are %s, but submission %s "
                    "declares %s for its %s field %s%s; nothing "
                    "was kept. Record the field again with a file "
                    "of a type it takes",
                    sniffed ? sniffed : "of no type the hub knows", id,
                    declared, ftype, field,
                    type && !takes ? ", which does not take that type" : "");
            return 415;
        }
        fs_form_free(form);
    }
    if (r < 0)
        return conn ? hub__reply_err(conn, r, "storage",
                                     "the hub cannot read its submissions")
                    : 500;
    return 0;
}
