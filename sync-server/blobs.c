/*
 * blobs.c - resumable uploads of attachment files (PROTOCOL.md,
 * "Attachments").
 *
 * A file is known by the SHA-256 of its bytes. While it arrives it is
 * blobs/.part-HASH; its length is the hub's offset, and every chunk is
 * fsynced before the reply says the new offset, so an offset the device
 * was told is durable. A chunk is appended only at the current offset
 * (409 with the offset otherwise). When the declared size is reached the
 * whole file is hashed: a match is fsynced and renamed to blobs/HASH
 * (the directory fsynced), a mismatch is deleted. A file is never
 * visible under its hash until it is whole and checked, and identical
 * files from any number of submissions are stored once.
 *
 * A device may upload only a file one of its own submissions references
 * (by sha256 and size), so the store cannot be used as a drop box.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobs.h"
#include "errors.h"
#include "http.h"
#include "scope.h"
#include "server.h"
#include "stmtcache.h"

/* One upload appends at a time: two devices sending the same file must
 * not interleave their chunks. */
static pthread_mutex_t blob_lock = PTHREAD_MUTEX_INITIALIZER;

static int valid_hash(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* blobs/ in the directory of the database. */
static void blob_dir(const hub *h, char *out, size_t cap)
{
    const char *slash = strrchr(h->db_path, '/');

    if (slash)
        snprintf(out, cap, "%.*s/blobs", (int)(slash - h->db_path), h->db_path);
    else
        snprintf(out, cap, "blobs");
}

/* The size a submission of dev declares for hash: > 0, 0 when none of
 * its submissions references it, or a negative HUB_E* code. */
static long long declared_size(sqlite3 *db, const hub_device *dev,
                               const char *hash)
{
    int err = HUB_OK;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT max(json_extract(j.value, '$.size')) FROM submissions s, "
        "json_each(s.answers) j WHERE s.device_id = ?1 AND "
        "j.type = 'object' AND json_extract(j.value, '$.sha256') = ?2",
        HUB_ARGS(HUB_TEXT(dev->id), HUB_TEXT(hash)), &err);
    if (!st)
        return err;
    int r = hub__sql_step(st);
    if (r < 0)
        return r;
    long long n = r == 1 ? sqlite3_column_int64(st, 0) : 0;
    hub__sql_end(st);
    return n > 0 ? n : 0;
}

/* The reply: Upload-Offset and Upload-Length headers, and for other than
 * HEAD the same as JSON. */
static int reply_offset(struct mg_connection *conn, int status, long long off,
                        long long size, int head)
{
    char body[160], o[32], s[32];
    int n = snprintf(body, sizeof body,
                     "{\"offset\":%lld,\"size\":%lld,\"complete\":%s}", off,
                     size, off == size ? "true" : "false");

    snprintf(o, sizeof o, "%lld", off);
    snprintf(s, sizeof s, "%lld", size);
    if (!head && status != 200) {
        hub__reply_error(conn, status, "offset_mismatch",
                         "the hub holds %lld of %lld bytes of this file; "
                         "send the chunk that starts at %lld",
                         off, size, off);
        return status;
    }
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", "application/json", -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(conn, "Upload-Offset", o, -1);
    mg_response_header_add(conn, "Upload-Length", s, -1);
    if (!head) {
        char clen[16];
        snprintf(clen, sizeof clen, "%d", n);
        mg_response_header_add(conn, "Content-Length", clen, -1);
    }
    mg_response_header_send(conn);
    if (!head)
        mg_write(conn, body, (size_t)n);
    return status;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    int r = fd >= 0 ? fsync(fd) : -1;

    if (fd >= 0)
        close(fd);
    return r;
}

/* Hashes the file at path into hex. */
static int hash_file(const char *path, size_t size, char hex[65])
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = f ? malloc(size ? size : 1) : NULL;
    int ok = buf && fread(buf, 1, size, f) == size;

    if (ok)
        fs_sha256_hex(buf, size, hex);
    free(buf);
    if (f)
        fclose(f);
    return ok ? 0 : -1;
}

/* The whole file is here: checked, then visible under its hash. */
static int finish_blob(struct mg_connection *conn, const char *dir,
                       const char *part, const char *final, const char *hash,
                       long long size)
{
    char got[65];

    if (hash_file(part, (size_t)size, got) != 0)
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "the hub cannot read the upload back");
    if (strcmp(got, hash) != 0) {
        unlink(part);
        fprintf(stderr,
                "fieldsync-hub: blob %.12s refused: its bytes hash to "
                "%.12s\n",
                hash, got);
        hub__reply_error(conn, 422, "hash_mismatch",
                         "the %lld bytes received hash to %s, not to the "
                         "file's name; nothing was kept: send the file again "
                         "from offset 0",
                         size, got);
        return 422;
    }
    if (rename(part, final) != 0 || fsync_path(dir, O_RDONLY) != 0)
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "the hub cannot store the file: %s",
                              strerror(errno));
    fprintf(stderr, "fieldsync-hub: blob %.12s stored (%lld bytes)\n", hash,
            size);
    return reply_offset(conn, 200, size, size, 0);
}

/* A .part as long as the file with no file beside it: the hub stopped
 * (a crash, a power cut) after the last chunk was made durable and before
 * the file was renamed into place, so the device was never answered.
 * Finished now, as the last chunk would have: the offset is then the
 * size (renamed) or 0 (its bytes did not hash to the name; removed), or
 * -1 when the store failed. Without this the offset would say "whole"
 * for a file never made visible. The lock is held. */
static long long settle_part(const char *dir, const char *part,
                             const char *final, const char *hash,
                             long long size)
{
    char got[65];

    if (hash_file(part, (size_t)size, got) != 0)
        return -1;
    if (strcmp(got, hash) != 0) {
        unlink(part);
        fprintf(stderr,
                "fieldsync-hub: blob %.12s refused: its bytes hash to "
                "%.12s\n",
                hash, got);
        return 0;
    }
    if (rename(part, final) != 0 || fsync_path(dir, O_RDONLY) != 0)
        return -1;
    fprintf(stderr,
            "fieldsync-hub: blob %.12s stored (%lld bytes, finished after a "
            "restart)\n",
            hash, size);
    return size;
}

/* Appends the request body at off; the lock is held. */
static int append_chunk(struct mg_connection *conn, const char *dir,
                        const char *part, const char *final, const char *hash,
                        long long off, long long size)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    long long len = ri->content_length;

    if (len < 1 || len > HUB_BLOB_CHUNK_MAX) {
        hub__reply_error(conn, 413, "chunk_size",
                         "a chunk is 1 to %d bytes with a Content-Length",
                         HUB_BLOB_CHUNK_MAX);
        return 413;
    }
    if (off + len > size) {
        hub__reply_error(conn, 413, "past_length",
                         "this chunk ends at %lld, past the file's declared "
                         "size of %lld bytes; nothing was kept",
                         off + len, size);
        return 413;
    }
    char *buf = malloc((size_t)len);
    long long got = 0;
    while (buf && got < len) {
        int r = mg_read(conn, buf + got, (size_t)(len - got));
        if (r <= 0)
            break;
        got += r;
    }
    if (!buf || got != len) {
        free(buf);
        hub__reply_error(conn, 400, "short_chunk",
                         "the chunk ended after %lld of %lld bytes; ask the "
                         "offset (HEAD) and send again",
                         got, len);
        return 400;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        free(buf);
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "the hub cannot create its file store");
    }
    int fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ssize_t w = fd >= 0 ? write(fd, buf, (size_t)len) : -1;
    int ok = w == len && fsync(fd) == 0;
    if (fd >= 0)
        ok &= close(fd) == 0;
    if (ok && off == 0)
        ok = fsync_path(dir, O_RDONLY) == 0; /* the new name is durable */
    free(buf);
    if (!ok) {
        /* A short write leaves bytes the device was not told of: cut
         * them so the offset stays what was acknowledged. */
        if (truncate(part, off) != 0 && off == 0)
            unlink(part);
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "the hub cannot write the chunk (disk full?); "
                              "nothing of it was kept");
    }
    if (off + len == size)
        return finish_blob(conn, dir, part, final, hash, size);
    return reply_offset(conn, 200, off + len, size, 0);
}

int hub__handle_blob(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *m = ri->request_method;
    int head = strcmp(m, "HEAD") == 0, get = strcmp(m, "GET") == 0;

    if (!head && !get && strcmp(m, "PATCH") != 0) {
        hub__reply_error(conn, 405, "method_not_allowed",
                         "use HEAD or GET (the offset) or PATCH (a chunk) "
                         "for a file");
        return 405;
    }
    hub_device dev;
    if (hub__auth_device(conn, &dev) != 0)
        return 401;
    const char *hash = strrchr(ri->local_uri, '/') + 1;
    if (!valid_hash(hash)) {
        hub__reply_error(conn, 404, "not_found",
                         "a file is /api/v1/blobs/ and its SHA-256 in 64 "
                         "lower-case hex digits");
        return 404;
    }
    long long size = declared_size(hub__db(conn), &dev, hash);
    if (size < 0)
        return hub__reply_err(conn, (int)size, "storage",
                              "the hub cannot read its submissions");
    if (size == 0) {
        hub__reply_error(conn, 404, "not_referenced",
                         "no submission of this device references this file; "
                         "push the submission first");
        return 404;
    }
    char dir[4096], part[4200], final[4200];
    struct stat sb;
    blob_dir(h, dir, sizeof dir);
    snprintf(part, sizeof part, "%s/.part-%s", dir, hash);
    snprintf(final, sizeof final, "%s/%s", dir, hash);

    pthread_mutex_lock(&blob_lock);
    long long off = stat(final, &sb) == 0  ? size
                    : stat(part, &sb) == 0 ? (long long)sb.st_size
                                           : 0;
    if (off == size && stat(final, &sb) != 0)
        off = settle_part(dir, part, final, hash, size);
    int status;
    if (off < 0) {
        status = hub__reply_err(conn, HUB_ESTORAGE, "storage",
                                "the hub cannot finish the file: %s",
                                strerror(errno));
    } else if (head || get) {
        status = reply_offset(conn, 200, off, size, head);
    } else {
        const char *uo = mg_get_header(conn, "Upload-Offset");
        char *end = NULL;
        long long want = uo ? strtoll(uo, &end, 10) : -1;
        if (!uo || end == uo || *end != '\0' || want < 0) {
            hub__reply_error(conn, 400, "no_offset",
                             "a chunk names where it starts in an "
                             "Upload-Offset header; HEAD tells the offset");
            status = 400;
        } else if (want != off) {
            status = reply_offset(conn, 409, off, size, 0);
        } else {
            status = append_chunk(conn, dir, part, final, hash, off, size);
        }
    }
    pthread_mutex_unlock(&blob_lock);
    return status;
}
