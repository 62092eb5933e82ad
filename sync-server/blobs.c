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
 * (by sha256 and size), so the store cannot be used as a drop box; what
 * it may keep here is bounded by its quota and the disk's free-space
 * floor, and a whole file must be the type its submissions declare
 * (blobguard.h).
 *
 * A chunk's body is read without the lock (patch_chunk says why), and a
 * body cut short keeps what arrived: the device resumes from there.
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
#include "blobguard.h"
#include "errors.h"
#include "http.h"
#include "scope.h"
#include "server.h"
#include "stmtcache.h"

/* One upload appends at a time: two devices sending the same file must
 * not interleave their chunks. Held to check an offset and to write, never
 * while a body is read from the network. */
static pthread_mutex_t blob_lock = PTHREAD_MUTEX_INITIALIZER;

int hub__blob_name_ok(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

void hub__blob_dir_of(const char *db_path, char *out, size_t cap)
{
    const char *slash = strrchr(db_path, '/');

    if (slash)
        snprintf(out, cap, "%.*s/blobs", (int)(slash - db_path), db_path);
    else
        snprintf(out, cap, "blobs");
}

static void blob_dir(const hub *h, char *out, size_t cap)
{
    hub__blob_dir_of(h->db_path, out, cap);
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

/* Hashes the file at path into hex through a fixed buffer, so a file of
 * any size costs the hub HUB_BLOB_READ bytes of memory; its first
 * FS_SNIFF_BYTES go to head (*nhead of them). */
static int hash_file(const char *path, char hex[65],
                     unsigned char head[FS_SNIFF_BYTES], size_t *nhead)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = f ? malloc(HUB_BLOB_READ) : NULL;
    fs_sha256_ctx c;
    size_t n;

    *nhead = 0;
    if (!buf) {
        if (f)
            fclose(f);
        return -1;
    }
    fs_sha256_init(&c);
    while ((n = fread(buf, 1, HUB_BLOB_READ, f)) > 0) {
        if (*nhead < FS_SNIFF_BYTES) {
            size_t k =
                FS_SNIFF_BYTES - *nhead < n ? FS_SNIFF_BYTES - *nhead : n;
            memcpy(head + *nhead, buf, k);
            *nhead += k;
        }
        fs_sha256_update(&c, buf, n);
    }
    int bad = ferror(f);
    fclose(f);
    free(buf);
    return fs_sha256_final_hex(&c, hex) == FS_OK && !bad ? 0 : -1;
}

/* The whole file is here: checked (hash, then type), then visible under
 * its hash. */
static int finish_blob(struct mg_connection *conn, const hub_device *dev,
                       const char *dir, const char *part, const char *final,
                       const char *hash, long long size)
{
    char got[65];
    unsigned char head[FS_SNIFF_BYTES];
    size_t nhead = 0;

    if (hash_file(part, got, head, &nhead) != 0) {
        /* Deleted: a whole .part left behind would tell the device the
         * hub holds every byte while the file never becomes visible. */
        unlink(part);
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "the hub cannot read the upload back; nothing "
                              "was kept: send the file again from offset 0");
    }
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
    /* Checked against every reference of this device's submissions; a
     * file is deleted whole on a refusal, so nothing of it stays. */
    int st = hub__blob_sniff(conn, hub__db(conn), dev, hash, head, nhead);
    if (st != 0) {
        unlink(part);
        return st;
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
 * the file was checked and renamed into place, so the device was never
 * answered. Finished now as the last chunk would have been: the offset is
 * then the size (checked and renamed) or 0 (its bytes do not hash to the
 * name, or are not the type declared: removed), or -1 when the store
 * failed. Without this the offset would say "whole" for a file never made
 * visible. The lock is held. */
static long long settle_part(struct mg_connection *conn, const hub_device *dev,
                             const char *dir, const char *part,
                             const char *final, const char *hash,
                             long long size)
{
    char got[65];
    unsigned char head[FS_SNIFF_BYTES];
    size_t nhead = 0;

    if (hash_file(part, got, head, &nhead) != 0)
        return -1;
    if (strcmp(got, hash) != 0 ||
        hub__blob_sniff(NULL, hub__db(conn), dev, hash, head, nhead) != 0) {
        unlink(part);
        fprintf(stderr,
                "fieldsync-hub: blob %.12s refused after a restart: its "
                "bytes hash to %.12s or are not the type declared\n",
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

/* The hub's offset of a file: its size when whole, else the length of
 * its .part (0 when none). The lock is held. */
static long long current_offset(const char *part, const char *final,
                                long long size)
{
    struct stat sb;

    if (stat(final, &sb) == 0)
        return size;
    return stat(part, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* Appends buf[0..n) to part at off, durably; the lock is held. 0, or -1
 * with the part cut back to off (a short write leaves bytes the device
 * was not told of). */
static int append_durably(const char *dir, const char *part, long long off,
                          const char *buf, size_t n)
{
    int fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ssize_t w = fd >= 0 ? write(fd, buf, n) : -1;
    int ok = w == (ssize_t)n && fsync(fd) == 0;
    if (fd >= 0)
        ok &= close(fd) == 0;
    if (ok && off == 0)
        ok = fsync_path(dir, O_RDONLY) == 0; /* the new name is durable */
    if (ok)
        return 0;
    if (truncate(part, off) != 0 && off == 0)
        unlink(part);
    return -1;
}

/* 400 short_chunk, with the offset the hub holds now beside the error,
 * so a device still listening resumes from it. */
static int reply_short(struct mg_connection *conn, long long got, long long len,
                       long long now, long long size, int kept)
{
    char msg[320];
    if (kept)
        snprintf(msg, sizeof msg,
                 "the chunk ended after %lld of %lld bytes; the hub kept "
                 "them and holds %lld of %lld bytes now: send the chunk "
                 "that starts at %lld",
                 got, len, now, size, now);
    else
        snprintf(msg, sizeof msg,
                 "the chunk ended after %lld of %lld bytes and nothing of "
                 "it was kept; the hub holds %lld of %lld bytes: send the "
                 "chunk that starts at %lld",
                 got, len, now, size, now);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", "short_chunk");
    cJSON_AddStringToObject(j, "message", msg);
    cJSON_AddNumberToObject(j, "offset", (double)now);
    cJSON_AddNumberToObject(j, "size", (double)size);
    hub__reply_obj(conn, 400, j);
    return 400;
}

/* One PATCH. The offset, the limits and the disk are checked under the
 * lock; the body is read without it (a 2G device takes seconds per
 * chunk, and every other upload would wait behind it); then, under the
 * lock again, the offset is checked once more (another device sending
 * the same file may have moved it: 409) and what arrived is appended
 * and fsynced. A body cut short keeps the bytes that did arrive: the
 * file's hash at the end checks them like any others. */
static int patch_chunk(struct mg_connection *conn, const hub *h,
                       const hub_device *dev, const char *dir, const char *part,
                       const char *final, const char *hash, long long size)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    sqlite3 *db = hub__db(conn);
    long long len = ri->content_length;
    const char *uo = mg_get_header(conn, "Upload-Offset");
    char *end = NULL;
    long long want = uo ? strtoll(uo, &end, 10) : -1;

    if (!uo || end == uo || *end != '\0' || want < 0) {
        hub__reply_error(conn, 400, "no_offset",
                         "a chunk names where it starts in an "
                         "Upload-Offset header; HEAD tells the offset");
        return 400;
    }
    pthread_mutex_lock(&blob_lock);
    long long off = current_offset(part, final, size);
    int status = 0;
    if (want != off) {
        status = reply_offset(conn, 409, off, size, 0);
    } else if (len < 1 || len > HUB_BLOB_CHUNK_MAX) {
        hub__reply_error(conn, 413, "chunk_size",
                         "a chunk is 1 to %d bytes with a Content-Length",
                         HUB_BLOB_CHUNK_MAX);
        status = 413;
    } else if (off + len > size) {
        hub__reply_error(conn, 413, "past_length",
                         "this chunk ends at %lld, past the file's declared "
                         "size of %lld bytes; nothing was kept",
                         off + len, size);
        status = 413;
    } else if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        status = hub__reply_err(conn, HUB_ESTORAGE, "storage",
                                "the hub cannot create its file store");
    } else {
        status = hub__blob_admit(conn, h, db, dev, dir, len);
    }
    pthread_mutex_unlock(&blob_lock);
    if (status != 0)
        return status;

    char *buf = malloc((size_t)len);
    if (!buf)
        return hub__reply_err(conn, HUB_ENOMEM, "storage",
                              "the hub is out of memory");
    long long got = 0;
    while (got < len) {
        int r = mg_read(conn, buf + got, (size_t)(len - got));
        if (r <= 0)
            break;
        got += r;
    }

    pthread_mutex_lock(&blob_lock);
    long long now = current_offset(part, final, size);
    if (got == 0) {
        status = reply_short(conn, got, len, now, size, 0);
    } else if (access(final, F_OK) == 0) { /* another device finished it */
        status = reply_offset(conn, 200, size, size, 0);
    } else if (now != off) {
        status = reply_offset(conn, 409, now, size, 0);
    } else {
        /* Again, with the lock held from here to the write: another
         * upload may have taken the room meanwhile. */
        status = hub__blob_admit(conn, h, db, dev, dir, got);
        if (status == 0 &&
            append_durably(dir, part, off, buf, (size_t)got) != 0)
            status = hub__reply_err(conn, HUB_ESTORAGE, "storage",
                                    "the hub cannot write the chunk (disk "
                                    "full?); nothing of it was kept");
        if (status == 0 && got < len)
            status = reply_short(conn, got, len, off + got, size, 1);
        else if (status == 0 && off + got == size)
            status = finish_blob(conn, dev, dir, part, final, hash, size);
        else if (status == 0)
            status = reply_offset(conn, 200, off + got, size, 0);
    }
    pthread_mutex_unlock(&blob_lock);
    free(buf);
    return status;
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
    if (!hub__blob_name_ok(hash)) {
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
    blob_dir(h, dir, sizeof dir);
    snprintf(part, sizeof part, "%s/.part-%s", dir, hash);
    snprintf(final, sizeof final, "%s/%s", dir, hash);

    pthread_mutex_lock(&blob_lock);
    long long off = current_offset(part, final, size);
    if (off == size && access(final, F_OK) != 0)
        off = settle_part(conn, &dev, dir, part, final, hash, size);
    pthread_mutex_unlock(&blob_lock);
    if (off < 0)
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "the hub cannot finish the file: %s",
                              strerror(errno));
    if (!head && !get)
        return patch_chunk(conn, h, &dev, dir, part, final, hash, size);
    return reply_offset(conn, 200, off, size, head);
}

/* Shared with the batch upload (blobbatch.c), which takes the same lock
 * so that a batch and a PATCH of one hash never write it at once, and
 * with OpenRosa's media files (ormedia.c). */
void hub__blob_dir(const hub *h, char *out, size_t cap)
{
    blob_dir(h, out, cap);
}

void hub__blob_lock(void)
{
    pthread_mutex_lock(&blob_lock);
}

void hub__blob_unlock(void)
{
    pthread_mutex_unlock(&blob_lock);
}
