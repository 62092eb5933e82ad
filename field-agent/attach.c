/*
 * attach.c - files that answer image, audio and file fields. The file is
 * copied into the agent directory under blobs/, named by its SHA-256, and
 * made durable (temporary name, fsync, rename, directory fsync) before
 * the submission that references it commits: a crash leaves either no
 * submission, or a submission whose files are all on disk. A stray file
 * without a submission is harmless; identical files are stored once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "fs_protocol.h"
#include "net.h"
#include "store.h"
#include "sync.h"

/* The content type from a file's first bytes; NULL when unknown. Never
 * trusted from the file name. */
static const char *sniff(const unsigned char *b, size_t n)
{
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return "image/jpeg";
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return "image/webp";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WAVE", 4) == 0)
        return "audio/wav";
    if (n >= 4 && memcmp(b, "OggS", 4) == 0)
        return "audio/ogg";
    if (n >= 3 && memcmp(b, "ID3", 3) == 0)
        return "audio/mpeg";
    if (n >= 12 && memcmp(b + 4, "ftypM4A", 7) == 0)
        return "audio/mp4";
    if (n >= 5 && memcmp(b, "%PDF-", 5) == 0)
        return "application/pdf";
    return NULL;
}

static int read_file(fa_agent *ag, const char *field, const char *path,
                     long max, unsigned char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;

    if (fd < 0)
        return fa__fail(ag, FA_EINPUT, "%s: cannot open %s: %s", field, path,
                        strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return fa__fail(ag, FA_EINPUT, "%s: %s is not a regular file", field,
                        path);
    }
    if (sb.st_size == 0 || sb.st_size > max) {
        close(fd);
        return fa__fail(ag, FA_EINPUT,
                        "%s: %s is %lld bytes; this field takes 1 to %ld "
                        "bytes (a smaller file, or a lower resolution)",
                        field, path, (long long)sb.st_size, max);
    }
    size_t n = (size_t)sb.st_size, got = 0;
    unsigned char *buf = malloc(n);
    if (!buf) {
        close(fd);
        return fa__fail(ag, FA_ESTORE, "out of memory for %s", path);
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(buf);
            close(fd);
            return fa__fail(ag, FA_EINPUT, "%s: cannot read %s", field, path);
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *len = n;
    return FA_OK;
}

/* 1 when this device's copy of the file still hashes to its name. */
static int copy_intact(fa_agent *ag, const char *hash, long long size)
{
    char file[4200], got[65];
    unsigned char *buf = NULL;
    size_t n = 0;

    snprintf(file, sizeof file, "%s/%s/%s", ag->dir, FA_ATTACH_DIR, hash);
    if (read_file(ag, "copy", file, size, &buf, &n) != FA_OK)
        return 0;
    fs_sha256_hex(buf, n, got);
    free(buf);
    return (long long)n == size && strcmp(got, hash) == 0;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = fd >= 0 ? fsync(fd) : -1;

    if (fd >= 0)
        close(fd);
    return r;
}

/* blobs/HASH, durable on return; an existing complete file is kept. */
static int store_blob(fa_agent *ag, const char *hash, const unsigned char *p,
                      size_t n)
{
    char dir[4096], final[4200], tmp[4300];
    struct stat sb;

    snprintf(dir, sizeof dir, "%s/%s", ag->dir, FA_ATTACH_DIR);
    snprintf(final, sizeof final, "%s/%s", dir, hash);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fa__fail(ag, FA_ESTORE, "cannot create %s: %s", dir,
                        strerror(errno));
    if (stat(final, &sb) == 0 && (size_t)sb.st_size == n &&
        copy_intact(ag, hash, (long long)n))
        return FA_OK; /* stored once: the name is the content's hash */
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%ld", dir, hash, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return fa__fail(ag, FA_ESTORE, "cannot write %s: %s", tmp,
                        strerror(errno));
    int bad = write_all(fd, p, n) != 0 || fsync(fd) != 0;
    bad |= close(fd) != 0;
    if (bad || rename(tmp, final) != 0 || fsync_dir(dir) != 0) {
        int e = errno;
        unlink(tmp);
        return fa__fail(ag, FA_ESTORE, "cannot store the file in %s: %s", dir,
                        strerror(e));
    }
    return FA_OK;
}

int fa__attach_file(fa_agent *ag, const fs_form *form, cJSON *answers,
                    const char *spec)
{
    const char *eq = strchr(spec, '=');
    char field[128];

    if (!eq || eq == spec || eq[1] == '\0' ||
        (size_t)(eq - spec) >= sizeof field)
        return fa__fail(ag, FA_EINPUT,
                        "--attach takes FIELD=PATH, e.g. "
                        "--attach photo=flipchart.jpg, not '%s'",
                        spec);
    memcpy(field, spec, (size_t)(eq - spec));
    field[eq - spec] = '\0';
    const char *path = eq + 1;
    const fs_field *fld = fs_form_field_named(form, field);
    if (!fld || !fs_field_type_is_attachment(fs_field_type_of(fld)))
        return fa__fail(ag, FA_EINPUT,
                        "%s: not an image, audio or file field of this "
                        "form; `fieldsync-agent forms` lists the fields",
                        field);
    if (cJSON_GetObjectItemCaseSensitive(answers, field))
        return fa__fail(ag, FA_EINPUT,
                        "%s: answered twice (in the answers and by --attach)",
                        field);
    unsigned char *buf = NULL;
    size_t n = 0;
    int rc = read_file(ag, field, path, fs_field_max_bytes(fld), &buf, &n);
    if (rc != FA_OK)
        return rc;
    const char *type = sniff(buf, n);
    if (!type && fs_field_type_of(fld) == FS_FIELD_FILE)
        type = "application/octet-stream";
    if (!type || !fs_field_type_allowed(fld, type)) {
        free(buf);
        return fa__fail(ag, FA_EINPUT,
                        "%s: %s is %s, which this %s field does not take",
                        field, path, type ? type : "of an unknown type",
                        fs_field_type_name(fs_field_type_of(fld)));
    }
    char hash[65];
    fs_sha256_hex(buf, n, hash);
    rc = store_blob(ag, hash, buf, n);
    free(buf);
    if (rc != FA_OK)
        return rc;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    cJSON *ref = cJSON_CreateObject();
    if (!ref || !cJSON_AddStringToObject(ref, "sha256", hash) ||
        !cJSON_AddNumberToObject(ref, "size", (double)n) ||
        !cJSON_AddStringToObject(ref, "type", type) ||
        !cJSON_AddStringToObject(ref, "name", base[0] ? base : "file") ||
        !cJSON_AddItemToObject(answers, field, ref)) {
        cJSON_Delete(ref);
        return fa__fail(ag, FA_ESTORE, "out of memory");
    }
    return FA_OK;
}

int fa__attach_rows(fa_agent *ag, const fs_form *form, const char *id,
                    const cJSON *answers)
{
    size_t nf = fs_form_field_count(form);

    for (size_t i = 0; i < nf; i++) {
        const fs_field *fld = fs_form_field(form, i);
        if (!fs_field_type_is_attachment(fs_field_type_of(fld)))
            continue;
        const cJSON *ref =
            cJSON_GetObjectItemCaseSensitive(answers, fs_field_name(fld));
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(ref, "sha256");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(ref, "size");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(ref, "type");
        if (!cJSON_IsString(h) || !cJSON_IsNumber(sz) || !cJSON_IsString(ty))
            continue; /* not answered (validated before) */
        char path[4200];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s/%s", ag->dir, FA_ATTACH_DIR,
                 h->valuestring);
        if (stat(path, &sb) != 0 || (double)sb.st_size != sz->valuedouble)
            return fa__fail(ag, FA_EINPUT,
                            "%s: the file is not in this device's store; "
                            "give it with --attach %s=PATH",
                            fs_field_name(fld), fs_field_name(fld));
        int rc = fa__exec(ag, "storing the attachment",
                          "INSERT OR IGNORE INTO attachments(sha256, size, "
                          "type) VALUES (?, ?, ?)",
                          "tit", h->valuestring, (int64_t)sz->valuedouble,
                          ty->valuestring);
        /* Recorded again: a damaged copy was mended by store_blob. */
        if (rc == FA_OK &&
            copy_intact(ag, h->valuestring, (long long)sz->valuedouble))
            rc = fa__exec(ag, "storing the attachment",
                          "UPDATE attachments SET damaged = 0, sent = 0 "
                          "WHERE sha256 = ? AND damaged = 1",
                          "t", h->valuestring);
        if (rc == FA_OK)
            rc = fa__exec(ag, "storing the attachment",
                          "INSERT INTO submission_attachments(submission_id, "
                          "field, sha256) VALUES (?, ?, ?)",
                          "ttt", id, fs_field_name(fld), h->valuestring);
        if (rc != FA_OK)
            return rc;
    }
    return FA_OK;
}

/* ---- upload ---------------------------------------------------------- */

/* The hub's offset from its JSON reply; -1 when there is none. */
static long long reply_offset(const fa__http *h)
{
    /* The reply is read under the wire limits, like every hub reply. */
    fs_limits lim;
    fs_limits_default(&lim);
    cJSON *doc = NULL;
    fs_json_parse((const char *)h->reply.data, h->reply.len, &lim, &doc, NULL);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, "offset");
    long long off = cJSON_IsNumber(o) ? (long long)o->valuedouble : -1;
    cJSON_Delete(doc);
    return off;
}

/* 1 when the hub's JSON error reply names code. */
static int reply_error_is(const fa__http *h, const char *code)
{
    fs_limits lim;
    fs_limits_default(&lim);
    cJSON *doc = NULL;
    fs_json_parse((const char *)h->reply.data, h->reply.len, &lim, &doc, NULL);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
    int is = cJSON_IsString(e) && strcmp(e->valuestring, code) == 0;
    cJSON_Delete(doc);
    return is;
}

static int note_sent(fa_agent *ag, const char *hash, long long off,
                     long long bytes)
{
    int64_t total = 0;
    int rc = fa__exec(ag, "noting the upload",
                      "UPDATE attachments SET sent = ? WHERE sha256 = ?", "it",
                      (int64_t)off, hash);
    if (rc == FA_OK && bytes > 0)
        rc = fa__meta_get_int(ag, "attachment_bytes_sent", 0, &total);
    if (rc == FA_OK && bytes > 0)
        rc = fa__meta_set_int(ag, "attachment_bytes_sent", total + bytes);
    return rc;
}

/* Bytes per PATCH: FA_ATTACH_CHUNK, or FIELDSYNC_ATTACH_CHUNK (1 KiB to
 * 1 MiB, the hub's limit) for link tests and benches. */
static size_t chunk_size(void)
{
    const char *e = getenv("FIELDSYNC_ATTACH_CHUNK");
    char *end = NULL;
    long v = e ? strtol(e, &end, 10) : 0;

    if (!e || end == e || *end != '\0' || v < 1024 || v > 1024 * 1024)
        return FA_ATTACH_CHUNK;
    return (size_t)v;
}

/* The hub refused the whole file at its hash check and this device's
 * copy does not hash to its name either: the copy is damaged. It is
 * marked, not sent again, and `status` says to record it again. */
static int mark_damaged(fa__sync *s, const char *hash, int *damaged)
{
    fa_agent *ag = s->ag;
    int rc = fa__exec(ag, "marking a damaged file",
                      "UPDATE attachments SET damaged = 1, sent = 0 WHERE "
                      "sha256 = ?",
                      "t", hash);
    if (rc == FA_OK) {
        (*damaged)++;
        fprintf(stderr,
                "fieldsync-agent: the file %.12s on this device is damaged "
                "(its bytes no longer hash to its name) and the hub refused "
                "it; it will not be sent again until you record the "
                "original again with `record ... --attach FIELD=PATH`\n",
                hash);
    }
    return rc;
}

/* One file, from the hub's offset to its end. Drops (no answer, a busy
 * hub) are retried max_attempts times in a row; the count starts over
 * after every chunk the hub takes, so a long upload over a flaky link
 * keeps going. A 409 (the hub holds other bytes) is not a drop: the
 * offset is asked again, at most FA_ATTACH_CONFLICTS times in a row. */
static int send_one(fa__sync *s, const char *hash, long long size, int *damaged)
{
    fa_agent *ag = s->ag;
    char path[128], file[4200];
    snprintf(path, sizeof path, "/api/v1/blobs/%s", hash);
    snprintf(file, sizeof file, "%s/%s/%s", ag->dir, FA_ATTACH_DIR, hash);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fa__fail(ag, FA_ESTORE,
                        "the file %s is missing from this device's store",
                        hash);
    size_t chunk = chunk_size();
    unsigned char *buf = malloc(chunk);
    int rc = buf ? FA_OK : fa__fail(ag, FA_ESTORE, "out of memory");
    long long off = -1;
    int drops = 0, conflicts = 0, refusals = 0;
    while (rc == FA_OK && off < size) {
        if (off < 0) { /* ask where the hub's durable bytes end */
            rc = fa__sync_request(s, s->h, "GET", path, NULL, 0, 0, 0);
            if (rc != FA_OK)
                break;
            if (s->h->status == 404) {
                off = -2; /* not referenced yet: the next sync */
                break;
            }
            off = s->h->status == 200 ? reply_offset(s->h) : -1;
            if (off < 0 || off > size) {
                rc = fa__http_fail(ag, s->h, FA_EREFUSED,
                                   "the hub did not say its offset");
                break;
            }
            /* What the hub holds now: less than before after it refused
             * the file at its hash check (nothing kept). */
            rc = note_sent(ag, hash, off, 0);
            continue;
        }
        size_t n = (size_t)(size - off < (long long)chunk ? size - off
                                                          : (long long)chunk);
        ssize_t r = pread(fd, buf, n, (off_t)off);
        if (r != (ssize_t)n) {
            rc = fa__fail(ag, FA_ESTORE, "cannot read %s", file);
            break;
        }
        rc = fa__http_patch(ag, s->h, path, off, buf, n);
        if (rc == FA_EUNREACHABLE && ++drops < s->o->max_attempts) {
            rc = FA_OK; /* resume from what the hub holds */
            off = -1;
            continue;
        }
        if (rc != FA_OK)
            break;
        long long now = reply_offset(s->h);
        if (s->h->status == 200 && now > off) {
            drops = conflicts = 0;
            rc = note_sent(ag, hash, now, now - off);
            off = now;
        } else if (s->h->status == 409) {
            off = -1; /* the hub holds other bytes: ask again */
            if (++conflicts > FA_ATTACH_CONFLICTS)
                rc = fa__http_fail(ag, s->h, FA_EREFUSED, "uploading a file");
        } else if (s->h->status == 422 && !copy_intact(ag, hash, size)) {
            rc = mark_damaged(s, hash, damaged);
            off = -2;
            break;
        } else if (s->h->status == 422 && ++refusals < s->o->max_attempts) {
            /* Damaged on the way (the copy here is whole): the hub kept
             * nothing, so from 0 again. */
            off = -1;
        } else if ((fa__sync_transient(s->h->status) ||
                    (s->h->status == 400 &&
                     reply_error_is(s->h, "short_chunk"))) &&
                   ++drops < s->o->max_attempts) {
            off = -1; /* busy, or the chunk was cut short on the way */
        } else {
            rc = fa__http_fail(ag, s->h, FA_EREFUSED, "uploading a file");
        }
    }
    if (rc == FA_OK && off == size)
        rc = note_sent(ag, hash, size, 0);
    free(buf);
    close(fd);
    return rc;
}

int fa__attach_send(fa__sync *s)
{
    fa_agent *ag = s->ag;
    sqlite3_stmt *st = NULL;
    int rc = fa__prepare(ag, &st, "listing the files to send",
                         "SELECT sha256, size FROM attachments WHERE sent < "
                         "size AND damaged = 0 ORDER BY sha256",
                         "");
    /* Read the list first: sending updates the table. */
    char(*hashes)[65] = NULL;
    long long *sizes = NULL;
    size_t n = 0, cap = 0;
    while (rc == FA_OK && sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            void *a = realloc(hashes, cap * sizeof *hashes);
            if (a)
                hashes = a;
            void *b = a ? realloc(sizes, cap * sizeof *sizes) : NULL;
            if (b)
                sizes = b;
            if (!a || !b) {
                rc = fa__fail(ag, FA_ESTORE, "out of memory");
                break;
            }
        }
        snprintf(hashes[n], sizeof hashes[n], "%s", fa__col_text(st, 0));
        sizes[n++] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    int damaged = 0;
    for (size_t i = 0; rc == FA_OK && i < n; i++) {
        fa__sync_progress(s, "files", (long long)i, (long long)n);
        rc = send_one(s, hashes[i], sizes[i], &damaged);
    }
    free(hashes);
    free(sizes);
    if (rc == FA_OK && damaged > 0)
        rc = fa__fail(ag, FA_EREFUSED,
                      "%d file(s) in this device's store are damaged and "
                      "were refused by the hub; record the originals again "
                      "with --attach FIELD=PATH (`fieldsync-agent status` "
                      "counts them)",
                      damaged);
    return rc;
}
