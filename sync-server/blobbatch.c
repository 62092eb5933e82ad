/*
 * blobbatch.c - POST /api/v1/blobs: small whole files in one request
 * (PROTOCOL.md 4.7, "Small files in batches").
 *
 * The body is one line of JSON, {"files": [{"sha256", "size"}, ...]},
 * a line feed, and then the files' bytes one after another in that
 * order. The framing is checked whole before anything is written: a body
 * that breaks it is answered 400 and nothing is stored. Then each file
 * on its own: referenced by one of the device's submissions with that
 * size (the rule of the chunked path, blobs.c), hashed, and when it
 * matches written to a temporary name, fsynced and renamed to its hash;
 * the directory is fsynced once for the batch before the reply. A file
 * that fails its checks is answered with its reason and does not spoil
 * the others. The writes hold blobs.c's lock, so a batch and a PATCH of
 * the same hash never write it at once.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobbatch.h"
#include "blobguard.h"
#include "blobs.h"
#include "errors.h"
#include "http.h"
#include "server.h"
#include "stmtcache.h"

typedef struct bfile {
    char hash[65];
    long long size;
    const unsigned char *bytes; /* inside the body */
    const char *status;         /* the answer for this file */
} bfile;

static int malformed(struct mg_connection *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int malformed(struct mg_connection *conn, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hub__reply_error(conn, 400, "malformed",
                     "%s; nothing of the batch was stored (PROTOCOL.md 4.7)",
                     msg);
    return 400;
}

/* Reads the header line into files; 0, or the status already answered. */
static int parse_header(struct mg_connection *conn, const fs_buf *body,
                        bfile **out, size_t *count)
{
    const hub *h = mg_get_request_info(conn)->user_data;
    const unsigned char *lf = memchr(body->data, '\n', body->len);
    if (!lf)
        return malformed(conn, "no line feed ends the header line");
    size_t hlen = (size_t)(lf - body->data);
    cJSON *doc = NULL;
    fs_err err = {0};
    int rc =
        fs_json_parse((const char *)body->data, hlen, &h->limits, &doc, &err);
    if (rc != FS_OK) {
        hub__reply_error(conn, rc == FS_ETOOBIG ? 413 : 400, fs_errname(rc),
                         "the header line: %s; nothing of the batch was "
                         "stored",
                         err.msg);
        return rc == FS_ETOOBIG ? 413 : 400;
    }
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(doc, "files");
    int n = cJSON_IsArray(files) ? cJSON_GetArraySize(files) : -1;
    if (n < 1 || n > HUB_BLOB_BATCH_FILES) {
        cJSON_Delete(doc);
        if (n > HUB_BLOB_BATCH_FILES) {
            hub__reply_error(conn, 413, "too_big",
                             "the batch lists %d files; at most %d go in "
                             "one (send smaller batches)",
                             n, HUB_BLOB_BATCH_FILES);
            return 413;
        }
        return malformed(conn, "the header line is not {\"files\": [...]} "
                               "with 1 or more files");
    }
    bfile *f = calloc((size_t)n, sizeof *f);
    if (!f) {
        cJSON_Delete(doc);
        hub__reply_error(conn, 503, "no_memory", "hub out of memory");
        return 503;
    }
    const unsigned char *p = lf + 1, *end = body->data + body->len;
    int i = 0, status = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, files)
    {
        const cJSON *hs = cJSON_GetObjectItemCaseSensitive(it, "sha256");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(it, "size");
        if (!cJSON_IsString(hs) || !hub__blob_name_ok(hs->valuestring)) {
            status = malformed(conn,
                               "files[%d].sha256 is not 64 lower-case hex "
                               "digits",
                               i);
            break;
        }
        double d = cJSON_IsNumber(sz) ? sz->valuedouble : -1;
        if (d < 1 || d > HUB_BLOB_BATCH_FILE || d != (double)(long long)d) {
            status = malformed(conn,
                               "files[%d].size is not a whole number from 1 "
                               "to %d (larger files go in chunks)",
                               i, HUB_BLOB_BATCH_FILE);
            break;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(f[k].hash, hs->valuestring) == 0) {
                status = malformed(conn, "files[%d]: %.12s... is listed twice",
                                   i, hs->valuestring);
                break;
            }
        if (status)
            break;
        memcpy(f[i].hash, hs->valuestring, 65);
        f[i].size = (long long)d;
        if ((long long)(end - p) < f[i].size) {
            status = malformed(conn,
                               "the body ends inside files[%d]: it holds "
                               "fewer bytes than the header lists",
                               i);
            break;
        }
        f[i].bytes = p;
        p += f[i].size;
        i++;
    }
    if (!status && p != end)
        status = malformed(conn,
                           "the body holds %lld bytes more than the header "
                           "lists",
                           (long long)(end - p));
    cJSON_Delete(doc);
    if (status) {
        free(f);
        return status;
    }
    *out = f;
    *count = (size_t)n;
    return 0;
}

/* Marks each file the device may not upload: the rule of blobs.c (the
 * largest size among the device's submissions that reference the hash),
 * read for the whole batch in one pass over its submissions. */
static int check_referenced(sqlite3 *db, const hub_device *dev, bfile *f,
                            size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++)
        if (!cJSON_AddItemToArray(arr, cJSON_CreateString(f[i].hash))) {
            cJSON_Delete(arr);
            arr = NULL;
        }
    char *list = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!list)
        return HUB_ENOMEM;
    for (size_t i = 0; i < n; i++)
        f[i].status = "not_referenced";
    int err = HUB_OK;
    sqlite3_stmt *st =
        hub__sql(db,
                 "SELECT json_extract(j.value, '$.sha256') AS h, "
                 "max(json_extract(j.value, '$.size')) FROM submissions s, "
                 "json_each(s.answers) j WHERE s.device_id = ?1 AND "
                 "j.type = 'object' AND json_extract(j.value, '$.sha256') IN "
                 "(SELECT value FROM json_each(?2)) GROUP BY h",
                 HUB_ARGS(HUB_TEXT(dev->id), HUB_TEXT(list)), &err);
    int r = st ? 1 : err;
    while (st && (r = hub__sql_step(st)) == 1) {
        const char *hash = hub__col(st, 0);
        long long size = sqlite3_column_int64(st, 1);
        for (size_t i = 0; i < n; i++)
            if (strcmp(f[i].hash, hash) == 0 && f[i].size == size)
                f[i].status = NULL; /* may go on */
    }
    free(list);
    return r < 0 ? r : HUB_OK;
}

/* One checked file to blobs/HASH through a temporary name; the lock is
 * held. 0 when it is there under its hash (the directory not yet
 * fsynced). */
static int store_one(const char *dir, const bfile *f)
{
    char tmp[4200], final[4200], part[4200];
    snprintf(tmp, sizeof tmp, "%s/.batch-%s", dir, f->hash);
    snprintf(final, sizeof final, "%s/%s", dir, f->hash);
    snprintf(part, sizeof part, "%s/.part-%s", dir, f->hash);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int bad =
        fs_write_full(fd, f->bytes, (size_t)f->size) != 0 || fsync(fd) != 0;
    bad |= close(fd) != 0;
    if (bad || rename(tmp, final) != 0) {
        unlink(tmp);
        return -1;
    }
    /* A chunked upload of the same file that stopped half way is done
     * with: the file is whole under its name now. */
    unlink(part);
    return 0;
}

static int reply_files(struct mg_connection *conn, const bfile *f, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "files") : NULL;
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o) ||
            !cJSON_AddStringToObject(o, "sha256", f[i].hash) ||
            !cJSON_AddStringToObject(o, "status", f[i].status))
            arr = NULL;
    }
    if (!arr) {
        cJSON_Delete(root);
        hub__reply_error(conn, 503, "no_memory", "hub out of memory");
        return 503;
    }
    hub__reply_obj(conn, 200, root); /* consumes root */
    return 200;
}

int hub__handle_blob_batch(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    if (!hub__method_is(conn, "POST"))
        return 405;
    hub_device dev;
    if (hub__auth_device(conn, &dev) != 0)
        return 401;
    const char *ce = mg_get_header(conn, "Content-Encoding");
    if (ce && strcasecmp(ce, "identity") != 0) {
        hub__reply_error(conn, 415, "bad_encoding",
                         "a batch of files is sent as it is, without a "
                         "Content-Encoding");
        return 415;
    }
    fs_buf body;
    if (hub__read_body(conn, HUB_BLOB_BATCH_MAX, &body) != 0)
        return mg_get_request_info(conn)->content_length > HUB_BLOB_BATCH_MAX
                   ? 413
                   : 400;
    bfile *f = NULL;
    size_t n = 0;
    int status = parse_header(conn, &body, &f, &n);
    if (status) {
        fs_buf_free(&body);
        return status;
    }
    int err = check_referenced(hub__db(conn), &dev, f, n);
    if (err != HUB_OK) {
        free(f);
        fs_buf_free(&body);
        return hub__reply_err(conn, err, "storage",
                              "the hub cannot read its submissions");
    }
    /* Hashing needs no lock: it reads only the body. */
    size_t refused = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].status) {
            refused++;
            continue;
        }
        char got[65];
        fs_sha256_hex(f[i].bytes, (size_t)f[i].size, got);
        if (strcmp(got, f[i].hash) != 0) {
            f[i].status = "hash_mismatch";
            refused++;
            fprintf(stderr,
                    "fieldsync-hub: blob %.12s refused in a batch: its "
                    "bytes hash to %.12s\n",
                    f[i].hash, got);
            continue;
        }
        /* The type from the bytes, as for a chunked file (blobguard.c). */
        size_t hn = (size_t)f[i].size < FS_SNIFF_BYTES ? (size_t)f[i].size
                                                       : FS_SNIFF_BYTES;
        int bad = hub__blob_sniff(NULL, hub__db(conn), &dev, f[i].hash,
                                  f[i].bytes, hn);
        if (bad) {
            f[i].status = bad == 415 ? "wrong_type" : "storage";
            refused++;
        }
    }
    char dir[4096];
    hub__blob_dir(h, dir, sizeof dir);
    size_t stored = 0, had = 0, failed = 0;
    hub__blob_lock();
    int ok = mkdir(dir, 0700) == 0 || errno == EEXIST;
    /* The device's quota and the disk's floor, for the batch as a whole:
     * refused, nothing of it is kept (the agent then sends its files one
     * at a time, and hears the reason for each). */
    long long add = 0;
    for (size_t i = 0; i < n; i++) {
        char final[4200];
        struct stat sb;
        snprintf(final, sizeof final, "%s/%s", dir, f[i].hash);
        if (!f[i].status && stat(final, &sb) != 0)
            add += f[i].size;
    }
    int guard = ok && add > 0
                    ? hub__blob_admit(conn, h, hub__db(conn), &dev, dir, add)
                    : 0;
    if (guard) {
        hub__blob_unlock();
        free(f);
        fs_buf_free(&body);
        return guard;
    }
    for (size_t i = 0; i < n; i++) {
        if (f[i].status)
            continue;
        char final[4200];
        struct stat sb;
        snprintf(final, sizeof final, "%s/%s", dir, f[i].hash);
        if (stat(final, &sb) == 0) {
            f[i].status = "had";
            had++;
        } else if (ok && store_one(dir, &f[i]) == 0) {
            f[i].status = "stored";
            stored++;
        } else {
            f[i].status = "storage"; /* the chunked path says why */
            failed++;
        }
    }
    /* One directory fsync makes every rename of the batch durable; until
     * it returns no file is answered stored. */
    int synced = 1;
    if (stored > 0) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        synced = fd >= 0 && fsync(fd) == 0;
        if (fd >= 0)
            close(fd);
    }
    hub__blob_unlock();
    fprintf(stderr,
            "fieldsync-hub: blob batch from %s: %zu files, %zu stored, "
            "%zu had, %zu refused, %zu not written\n",
            dev.name, n, stored, had, refused, failed);
    if (!synced)
        status = hub__reply_err(conn, HUB_ESTORAGE, "storage",
                                "the hub cannot make the files durable: %s; "
                                "send the batch again",
                                strerror(errno));
    else
        status = reply_files(conn, f, n);
    free(f);
    fs_buf_free(&body);
    return status;
}
