/*
 * ormedia.c - media parts of an OpenRosa submission (ormedia.h).
 *
 * A part is written to blobs/.or-XXXXXX as it arrives, never held in
 * memory whole, and hashed on the way. Nothing of it is visible under a
 * hash until hub__ormedia_commit: then it is fsynced (already, at the
 * end of the part), renamed to blobs/SHA256 (or deleted when that file
 * is there already: identical files are stored once) and the directory
 * fsynced, and only after that is its row written, so a row always
 * names a file that is on disk. A refused submission deletes its
 * temporary files; a hub stopped in between leaves a .or- file that is
 * never read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "blobguard.h"
#include "blobs.h"
#include "errors.h"
#include "fs_protocol.h"
#include "ormedia.h"
#include "stmtcache.h"

static void failed(hub_or_files *fs, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void failed(hub_or_files *fs, int status, const char *fmt, ...)
{
    if (fs->err)
        return;
    fs->err = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fs->why, sizeof fs->why, fmt, ap);
    va_end(ap);
}

void hub__ormedia_init(hub_or_files *fs, const hub *h, sqlite3 *db,
                       const hub_device *dev, long long body)
{
    memset(fs, 0, sizeof *fs);
    fs->h = h;
    fs->db = db;
    fs->dev = dev;
    fs->body = body;
}

static hub_or_file *open_part(hub_or_files *fs)
{
    hub_or_file *f = fs->n > 0 ? &fs->v[fs->n - 1] : NULL;
    return f && f->md ? f : NULL;
}

int hub__ormedia_begin(hub_or_files *fs, const char *name)
{
    if (fs->err)
        return -1;
    if (hub__ormedia_end(fs) != 0)
        return -1;
    if (fs->n == HUB_ORMEDIA_PARTS_MAX) {
        failed(fs, 413,
               "the submission carries more than %d files in one request",
               HUB_ORMEDIA_PARTS_MAX);
        return -1;
    }
    if (!fs->v) {
        fs->v = calloc(HUB_ORMEDIA_PARTS_MAX, sizeof *fs->v);
        if (!fs->v) {
            failed(fs, 503, "out of memory");
            return -1;
        }
    }
    /* Only the base name: Collect sends names such as 1712345.jpg. */
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (!base[0] || strlen(base) > HUB_ORMEDIA_NAME_MAX) {
        failed(fs, 400, "a file part's name must be 1 to %d bytes",
               HUB_ORMEDIA_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->v[i].name, base) == 0) {
            failed(fs, 400, "the file %.80s is sent twice in one request",
                   base);
            return -1;
        }
    char dir[4096];
    hub__blob_dir(fs->h, dir, sizeof dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        failed(fs, 503, "the hub cannot create its file store: %s",
               strerror(errno));
        return -1;
    }
    if (fs->n == 0) {
        /* The whole body counts, its XML too: an upper bound of the
         * files' bytes known before any is read. Without a length only
         * a device already over its quota, or a disk already at its
         * floor, is refused here; max_bytes still bounds each part. */
        const char *code = NULL;
        char why[512];
        int st =
            hub__blob_room(fs->h, fs->db, fs->dev, dir,
                           fs->body > 0 ? fs->body : 0, &code, why, sizeof why);
        if (st != 0) {
            failed(fs, st, "%s (%s)", why, code);
            return -1;
        }
    }
    hub_or_file *f = &fs->v[fs->n];
    memset(f, 0, sizeof *f);
    f->fd = -1;
    snprintf(f->name, sizeof f->name, "%s", base);
    snprintf(f->tmp, sizeof f->tmp, "%s/.or-XXXXXX", dir);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        f->tmp[0] = '\0';
        failed(fs, 503, "the hub cannot write to its file store: %s",
               strerror(errno));
        return -1;
    }
    fs->n++;
    f->md = EVP_MD_CTX_new();
    if (!f->md || EVP_DigestInit_ex(f->md, EVP_sha256(), NULL) != 1) {
        failed(fs, 503, "out of memory");
        return -1;
    }
    return 0;
}

void hub__ormedia_limit(hub_or_files *fs, long long limit, const char *field)
{
    hub_or_file *f = open_part(fs);
    if (f && limit > 0) {
        f->limit = limit;
        snprintf(f->field, sizeof f->field, "%s", field);
    }
}

int hub__ormedia_write(hub_or_files *fs, const void *p, size_t n)
{
    hub_or_file *f = open_part(fs);
    if (fs->err || !f)
        return -1;
    if (f->limit > 0 && f->size + (long long)n > f->limit) {
        failed(fs, 413,
               "%s: %.80s is more than the %lld bytes this field takes; "
               "nothing was stored",
               f->field, f->name, f->limit);
        return -1;
    }
    if (f->size + (long long)n > HUB_ORMEDIA_FILE_MAX) {
        failed(fs, 413,
               "the file %.80s is larger than any field takes (%lld bytes); "
               "nothing was stored",
               f->name, HUB_ORMEDIA_FILE_MAX);
        return -1;
    }
    if (f->headlen < sizeof f->head) {
        size_t k = sizeof f->head - f->headlen;
        k = k < n ? k : n;
        memcpy(f->head + f->headlen, p, k);
        f->headlen += k;
    }
    const char *c = p;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(f->fd, c + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            failed(fs, 507,
                   "the hub cannot store the file %.80s (disk full?); "
                   "nothing was stored, send again later",
                   f->name);
            return -1;
        }
        done += (size_t)w;
    }
    EVP_DigestUpdate(f->md, p, n);
    f->size += (long long)n;
    return 0;
}

int hub__ormedia_end(hub_or_files *fs)
{
    hub_or_file *f = open_part(fs);
    if (!f)
        return fs->err ? -1 : 0;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_DigestFinal_ex(f->md, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(f->md);
    f->md = NULL;
    if (ok)
        fs_hex(md, 32, f->sha256);
    f->type = fs_sniff_type(f->head, f->headlen);
    if (ok && !fs->err)
        ok = fsync(f->fd) == 0;
    if (close(f->fd) != 0)
        ok = 0;
    f->fd = -1;
    if (!ok)
        failed(fs, 503, "the hub cannot store the file %.80s; send again later",
               f->name);
    return fs->err ? -1 : 0;
}

hub_or_file *hub__ormedia_find(hub_or_files *fs, const char *name)
{
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->v[i].name, name) == 0)
            return &fs->v[i];
    return NULL;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    int r = fd >= 0 ? fsync(fd) : -1;
    if (fd >= 0)
        close(fd);
    return r;
}

int hub__ormedia_commit(hub_or_files *fs, sqlite3 *db, const char *device,
                        const char *instance)
{
    char dir[4096], final[4200];
    int moved = 0;

    hub__blob_dir(fs->h, dir, sizeof dir);
    for (size_t i = 0; i < fs->n; i++) {
        hub_or_file *f = &fs->v[i];
        if (!f->used || !f->tmp[0])
            continue;
        struct stat sb;
        snprintf(final, sizeof final, "%s/%s", dir, f->sha256);
        if (stat(final, &sb) == 0 && sb.st_size == f->size) {
            unlink(f->tmp); /* stored once already */
        } else if (rename(f->tmp, final) != 0) {
            snprintf(fs->why, sizeof fs->why,
                     "the hub cannot store the file %.80s: %s", f->name,
                     strerror(errno));
            return -1;
        } else {
            moved = 1;
            fprintf(stderr,
                    "fieldsync-hub: blob %.12s stored (%lld bytes, "
                    "OpenRosa)\n",
                    f->sha256, f->size);
        }
        f->tmp[0] = '\0';
    }
    if (moved && fsync_dir(dir) != 0) {
        snprintf(fs->why, sizeof fs->why, "the hub cannot store the files");
        return -1;
    }
    for (size_t i = 0; i < fs->n; i++) {
        hub_or_file *f = &fs->v[i];
        if (!f->used)
            continue;
        int rc = hub__sql_run(
            db,
            "INSERT OR REPLACE INTO openrosa_files (device_id, instance, "
            "name, sha256, size, type, received_ms) VALUES (?, ?, ?, ?, ?, "
            "?, ?)",
            HUB_ARGS(HUB_TEXT(device), HUB_TEXT(instance), HUB_TEXT(f->name),
                     HUB_TEXT(f->sha256), HUB_INT(f->size),
                     HUB_TEXT(f->type ? f->type : "application/octet-stream"),
                     HUB_INT((long long)fs_now_ms())));
        if (rc != HUB_OK) {
            snprintf(fs->why, sizeof fs->why,
                     "the hub cannot record the file %.80s", f->name);
            return -1;
        }
    }
    return 0;
}

void hub__ormedia_free(hub_or_files *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        hub_or_file *f = &fs->v[i];
        if (f->md)
            EVP_MD_CTX_free(f->md);
        if (f->fd >= 0)
            close(f->fd);
        if (f->tmp[0])
            unlink(f->tmp);
    }
    free(fs->v);
    fs->v = NULL;
    fs->n = 0;
}

int hub__ormedia_lookup(sqlite3 *db, const char *device, const char *instance,
                        const char *name, hub_or_ref *ref)
{
    int rc;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT sha256, size, type FROM openrosa_files WHERE device_id = ? "
        "AND instance = ? AND name = ?",
        HUB_ARGS(HUB_TEXT(device), HUB_TEXT(instance), HUB_TEXT(name)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc > 0) {
        snprintf(ref->sha256, sizeof ref->sha256, "%s", hub__col(st, 0));
        ref->size = sqlite3_column_int64(st, 1);
        snprintf(ref->type, sizeof ref->type, "%s", hub__col(st, 2));
    }
    hub__sql_end(st);
    return rc < 0 ? rc : rc > 0;
}
