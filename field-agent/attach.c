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
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "fs_protocol.h"
#include "image.h"
#include "net.h"
#include "store.h"
#include "sync.h"
#include "trace.h"

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = fd >= 0 ? fsync(fd) : -1;

    if (fd >= 0)
        close(fd);
    return r;
}

/* A new temporary file in dir: .tmp-PID-N, never an existing one. */
static int open_tmp(fa_agent *ag, const char *dir, char *tmp, size_t cap)
{
    static unsigned long seq;
    for (int tries = 0; tries < 100; tries++) {
        unsigned long n = __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED);
        snprintf(tmp, cap, "%s/.tmp-%ld-%lu", dir, (long)getpid(), n);
        int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST) {
            if (fd < 0)
                fa__fail(ag, FA_ESTORE, "cannot write %s: %s", tmp,
                         strerror(errno));
            return fd;
        }
    }
    fa__fail(ag, FA_ESTORE, "cannot create a temporary file in %s", dir);
    return -1;
}

static int too_big(fa_agent *ag, const char *field, const fa__attach_src *src,
                   long long size, long max, const char *after)
{
    if (max == FA_ATTACH_IMAGE_IN_MAX && size != 0)
        return fa__fail(ag, FA_EINPUT,
                        "%s: %s is %s%lld bytes; this field scales photos "
                        "of up to %ld bytes down (a smaller file, or a "
                        "lower resolution)",
                        field, src->label, size >= 0 ? "" : "more than ",
                        size >= 0 ? size : (long long)max, max);
    if (size >= 0)
        return fa__fail(ag, FA_EINPUT,
                        "%s: %s is %lld bytes%s; this field takes 1 to %ld "
                        "bytes (a smaller file, or a lower resolution)",
                        field, src->label, size, after, max);
    return fa__fail(ag, FA_EINPUT,
                    "%s: %s is more than %ld bytes; this field takes 1 to %ld "
                    "bytes (a smaller file, or a lower resolution)",
                    field, src->label, max, max);
}

/* The content type of the first bytes, checked against the field. */
static int check_type(fa_agent *ag, const fs_field *fld,
                      const fa__attach_src *src, const unsigned char *head,
                      size_t n, const char **type)
{
    const char *field = fs_field_name(fld);
    /* From the bytes, never the name; the hub checks it the same way. */
    *type = fs_field_file_type(fld, head, n);
    if (!*type || !fs_field_type_allowed(fld, *type))
        return fa__fail(ag, FA_EINPUT,
                        "%s: %s is %s, which this %s field does not take",
                        field, src->label, *type ? *type : "of an unknown type",
                        fs_field_type_name(fs_field_type_of(fld)));
    return FA_OK;
}

/* The largest input taken: max_bytes, or for an image the agent scales
 * down (its form sets max_pixels) what a camera makes, up to
 * FA_ATTACH_IMAGE_IN_MAX; what is stored is within max_bytes. */
static long input_limit(const fs_field *fld, const char *type)
{
    long max = fs_field_max_bytes(fld);
    if (type && fs_field_max_pixels(fld) > 0 && fa__image_cleans(type) &&
        max < FA_ATTACH_IMAGE_IN_MAX)
        return FA_ATTACH_IMAGE_IN_MAX;
    return max;
}

int fa__attach_store(fa_agent *ag, const fs_field *fld,
                     const fa__attach_src *src, cJSON **ref_out)
{
    const char *field = fs_field_name(fld);
    const long max = fs_field_max_bytes(fld);
    char dir[4096], final[4200], tmp[4300], tmp2[4300] = "";
    *ref_out = NULL;
    /* A size known beforehand is checked at once (the most any file of
     * this field may be); the bytes read are checked too. */
    if (src->size == 0 || src->size > input_limit(fld, "image/jpeg"))
        return too_big(ag, field, src, src->size,
                       src->size == 0 ? max : input_limit(fld, "image/jpeg"),
                       "");
    snprintf(dir, sizeof dir, "%s/%s", ag->dir, FA_ATTACH_DIR);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fa__fail(ag, FA_ESTORE, "cannot create %s: %s", dir,
                        strerror(errno));
    int fd = open_tmp(ag, dir, tmp, sizeof tmp), fd2 = -1;
    if (fd < 0)
        return FA_ESTORE;
    unsigned char *buf = malloc(FA_ATTACH_CHUNK), head[16];
    int rc = buf ? FA_OK : fa__fail(ag, FA_ESTORE, "out of memory");
    fs_sha256_ctx sha;
    fs_sha256_init(&sha);
    long long total = 0;
    size_t hn = 0;
    const char *type = NULL;
    /* The file in chunks: hashed, its first bytes sniffed, copied. */
    while (rc == FA_OK) {
        long r = src->read(src->ctx, buf, FA_ATTACH_CHUNK);
        if (r < 0) {
            rc = fa__fail(ag, FA_EINPUT, "%s: cannot read %s%s%s", field,
                          src->label, errno ? ": " : "",
                          errno ? strerror(errno) : "");
            break;
        }
        if (r == 0)
            break;
        if (hn < sizeof head) {
            size_t take =
                sizeof head - hn < (size_t)r ? sizeof head - hn : (size_t)r;
            memcpy(head + hn, buf, take);
            hn += take;
            if (hn == sizeof head)
                rc = check_type(ag, fld, src, head, hn, &type);
            if (rc != FA_OK)
                break;
        }
        total += r;
        if (total > input_limit(fld, type)) {
            rc = too_big(ag, field, src, src->size, input_limit(fld, type), "");
            break;
        }
        fs_sha256_update(&sha, buf, (size_t)r);
        if (fs_write_full(fd, buf, (size_t)r) != 0)
            rc = fa__fail(ag, FA_ESTORE, "cannot write %s: %s", tmp,
                          strerror(errno));
    }
    char hash[65];
    if (fs_sha256_final_hex(&sha, hash) != FS_OK && rc == FA_OK)
        rc = fa__fail(ag, FA_ESTORE, "cannot hash %s: out of memory",
                      src->label);
    free(buf);
    if (rc == FA_OK && total == 0)
        rc = too_big(ag, field, src, 0, max, "");
    if (rc == FA_OK && !type)
        rc = check_type(ag, fld, src, head, hn, &type);
    if (rc == FA_OK && fa__image_cleans(type)) {
        /* A photo is stored without its metadata, scaled down to the
         * field's max_pixels: a second file, hashed as it is written. */
        fa__sink sink;
        fd2 = open_tmp(ag, dir, tmp2, sizeof tmp2);
        rc = fd2 < 0 ? FA_ESTORE : FA_OK;
        if (rc == FA_OK && fa__sink_open(&sink, fd2) != 0)
            rc = fa__fail(ag, FA_ESTORE, "out of memory");
        if (rc == FA_OK)
            rc = fa__image_clean(ag, field, src->label, fd, type,
                                 fs_field_max_pixels(fld), &sink, NULL, NULL);
        if (fd2 >= 0 && fa__sink_close(&sink, hash) != 0 && rc == FA_OK)
            rc = fa__fail(ag, FA_ESTORE, "cannot write %s: %s", tmp2,
                          strerror(sink.err));
        if (rc == FA_OK) {
            total = sink.n;
            close(fd);
            unlink(tmp);
            fd = fd2, fd2 = -1;
            memcpy(tmp, tmp2, sizeof tmp);
            tmp2[0] = '\0';
        }
    }
    if (rc == FA_OK && total > max)
        rc = too_big(ag, field, src, total, max,
                     fs_field_max_pixels(fld) > 0 ? " once scaled down" : "");
    /* Durable under its hash; a copy already there is replaced by this
     * one, which mends a damaged copy. */
    if (rc == FA_OK) {
        snprintf(final, sizeof final, "%s/%s", dir, hash);
        int bad = fsync(fd) != 0;
        bad |= close(fd) != 0;
        fd = -1;
        if (bad || rename(tmp, final) != 0 || fsync_dir(dir) != 0)
            rc = fa__fail(ag, FA_ESTORE, "cannot store the file in %s: %s", dir,
                          strerror(errno));
        else
            tmp[0] = '\0';
    }
    if (fd >= 0)
        close(fd);
    if (fd2 >= 0)
        close(fd2);
    if (tmp[0])
        unlink(tmp);
    if (tmp2[0])
        unlink(tmp2);
    if (rc != FA_OK)
        return rc;
    cJSON *ref = cJSON_CreateObject();
    if (!ref || !cJSON_AddStringToObject(ref, "sha256", hash) ||
        !cJSON_AddNumberToObject(ref, "size", (double)total) ||
        !cJSON_AddStringToObject(ref, "type", type) ||
        !cJSON_AddStringToObject(
            ref, "name", src->name && src->name[0] ? src->name : "file")) {
        cJSON_Delete(ref);
        return fa__fail(ag, FA_ESTORE, "out of memory");
    }
    *ref_out = ref;
    return FA_OK;
}

static long read_fd(void *ctx, void *buf, size_t n)
{
    for (;;) {
        errno = 0;
        ssize_t r = read(*(int *)ctx, buf, n);
        if (r < 0 && errno == EINTR)
            continue;
        return (long)r;
    }
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
    const char *base = strrchr(path, '/');
    fa__attach_src src = {.label = path,
                          .name = base ? base + 1 : path,
                          .size = (long long)sb.st_size,
                          .read = read_fd,
                          .ctx = &fd};
    cJSON *ref = NULL;
    int rc = fa__attach_store(ag, fld, &src, &ref);
    close(fd);
    if (rc == FA_OK && !cJSON_AddItemToObject(answers, field, ref)) {
        cJSON_Delete(ref);
        rc = fa__fail(ag, FA_ESTORE, "out of memory");
    }
    return rc;
}

/* 1 when this device's copy of the file still hashes to its name (read
 * through a fixed buffer). */
static int copy_intact(fa_agent *ag, const char *hash, long long size)
{
    char file[4200], got[65];
    snprintf(file, sizeof file, "%s/%s/%s", ag->dir, FA_ATTACH_DIR, hash);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    unsigned char *buf = fd >= 0 ? malloc(FA_ATTACH_CHUNK) : NULL;
    if (!buf) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    fs_sha256_ctx c;
    fs_sha256_init(&c);
    long long total = 0;
    ssize_t r;
    while ((r = read(fd, buf, FA_ATTACH_CHUNK)) > 0) {
        fs_sha256_update(&c, buf, (size_t)r);
        total += r;
    }
    int ok = fs_sha256_final_hex(&c, got) == FS_OK && r == 0;
    free(buf);
    close(fd);
    return ok && total == size && strcmp(got, hash) == 0;
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
        /* Recorded again: the store's copy was written anew, so one
         * marked damaged is whole again and goes on the next sync. */
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

/* 1 when the hub's JSON reply names error code. */
static int hub_error_is(const fa__http *h, const char *code)
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

/* Bytes per PATCH. Each PATCH waits a round trip for its answer, and a
 * drop loses what of the chunk is still on the way, so a chunk is sized
 * to about FA_CHUNK_SECS of the link as measured by the chunks before:
 * on a 2G link (8 kB/s) about 32 KiB, where a round trip of 0.3 s costs
 * 7% and a drop loses 2 s on average; on a fast link up to the hub's
 * 1 MiB, where small chunks would be mostly round trips and fsyncs.
 * With a drop every D seconds the overhead RTT/T + T/(2D) is least at
 * T = sqrt(2 RTT D): 4.2 s for 0.3 s and 30 s. FIELDSYNC_ATTACH_CHUNK
 * (1 KiB to 1 MiB) fixes the size instead, for link tests and benches. */
#define FA_CHUNK_SECS 4.0
#define FA_CHUNK_FIRST (32 * 1024)
#define FA_CHUNK_MIN (16 * 1024)
#define FA_CHUNK_MAX (1024 * 1024) /* the hub's limit (PROTOCOL.md 4.7) */

typedef struct chunker {
    size_t size; /* bytes of the next PATCH */
    int fixed;   /* set by FIELDSYNC_ATTACH_CHUNK */
} chunker;

static void chunker_init(chunker *c)
{
    const char *e = getenv("FIELDSYNC_ATTACH_CHUNK");
    char *end = NULL;
    long v = e ? strtol(e, &end, 10) : 0;

    c->fixed = e && end != e && *end == '\0' && v >= 1024 && v <= FA_CHUNK_MAX;
    c->size = c->fixed ? (size_t)v : FA_CHUNK_FIRST;
}

/* A chunk of n bytes was taken secs after it was started: the next is
 * halfway between this one and FA_CHUNK_SECS of the rate just seen,
 * in whole 4 KiB, within FA_CHUNK_MIN .. FA_CHUNK_MAX. */
static void chunker_taken(chunker *c, long long n, double secs)
{
    if (c->fixed || n <= 0)
        return;
    double want =
        secs > 0.001 ? (double)n / secs * FA_CHUNK_SECS : FA_CHUNK_MAX;
    double next = ((double)c->size + want) / 2;
    if (next < FA_CHUNK_MIN)
        next = FA_CHUNK_MIN;
    if (next > FA_CHUNK_MAX)
        next = FA_CHUNK_MAX;
    c->size = (size_t)next / 4096 * 4096;
}

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

/* A busy hub (429) is waited for, not counted as a drop: a large file is
 * many requests, and the hub's per-device rate limit answers some of
 * them so. At most this many waits in a row. */
#define FA_ATTACH_BUSY_WAITS 60

static void wait_busy(void)
{
    struct timespec ts = {1, 0}; /* the hub's Retry-After for its limit */
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One file, from the hub's offset to its end. Drops (no answer, a busy
 * hub) are retried max_attempts times in a row; the count starts over
 * after every chunk the hub takes, so a long upload over a flaky link
 * keeps going. A 409 (the hub holds other bytes) is not a drop: the
 * offset is asked again, at most FA_ATTACH_CONFLICTS times in a row. */
static int send_one(fa__sync *s, const char *hash, long long size, chunker *ck,
                    int *damaged)
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
    size_t cap = 0;
    unsigned char *buf = NULL;
    int rc = FA_OK;
    long long off = -1;
    int drops = 0, conflicts = 0, refusals = 0, busy = 0;
    while (rc == FA_OK && off < size) {
        if (off < 0) { /* ask where the hub's durable bytes end */
            rc = fa__sync_request(s, s->h, "GET", path, NULL, 0, 0, 0);
            fa__trace_note(s->o->trace_dir, "blob GET %.12s", hash);
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
        size_t n =
            (size_t)(size - off < (long long)ck->size ? size - off
                                                      : (long long)ck->size);
        if (n > cap) { /* grows with the link, never past FA_CHUNK_MAX */
            unsigned char *b = realloc(buf, n);
            if (!b) {
                rc = fa__fail(ag, FA_ESTORE, "out of memory");
                break;
            }
            buf = b;
            cap = n;
        }
        ssize_t r = pread(fd, buf, n, (off_t)off);
        if (r != (ssize_t)n) {
            rc = fa__fail(ag, FA_ESTORE, "cannot read %s", file);
            break;
        }
        double t0 = now_secs();
        rc = fa__http_patch(ag, s->h, path, off, buf, n);
        fa__trace_note(s->o->trace_dir, "blob PATCH %.12s %zu", hash, n);
        if (rc == FA_EUNREACHABLE && ++drops < s->o->max_attempts) {
            rc = FA_OK; /* resume from what the hub holds */
            off = -1;
            continue;
        }
        if (rc != FA_OK)
            break;
        long long now = reply_offset(s->h);
        if (s->h->status == 200 && now > off) {
            drops = conflicts = busy = 0;
            chunker_taken(ck, now - off, now_secs() - t0);
            rc = note_sent(ag, hash, now, now - off);
            off = now;
        } else if (s->h->status == 409) {
            off = -1; /* the hub holds other bytes: ask again */
            if (++conflicts > FA_ATTACH_CONFLICTS)
                rc = fa__http_fail(ag, s->h, FA_EREFUSED, "uploading a file");
        } else if (s->h->status == 429 && ++busy <= FA_ATTACH_BUSY_WAITS) {
            wait_busy(); /* the same chunk again */
        } else if (s->h->status == 422 &&
                   (rc = note_sent(ag, hash, 0, 0)) != FA_OK) {
            break; /* the hub kept nothing of it: noted before anything */
        } else if (s->h->status == 422 && !copy_intact(ag, hash, size)) {
            rc = mark_damaged(s, hash, damaged);
            off = -2;
            break;
        } else if (s->h->status == 422 && ++refusals < s->o->max_attempts) {
            /* Damaged on the way (the copy here is whole): the hub kept
             * nothing, so from 0 again. */
            off = -1;
        } else if (s->h->status == 507) {
            /* The hub's disk is at its floor: retrying at once will not
             * free it. The file waits here and goes on a later sync. */
            char msg[FA_MSG_MAX];
            fa__http_error_message(s->h, msg, sizeof msg);
            rc = fa__fail(ag, FA_EPARTIAL,
                          "uploading a file: %s; the file waits on this "
                          "device (%lld of %lld bytes at the hub) and is "
                          "sent on a later sync, nothing is lost",
                          msg, off, size);
        } else if (s->h->status == 413 && hub_error_is(s->h, "quota")) {
            char msg[FA_MSG_MAX];
            fa__http_error_message(s->h, msg, sizeof msg);
            rc = fa__fail(ag, FA_EREFUSED,
                          "uploading a file: %s; the file waits on this "
                          "device and is sent once the hub takes it",
                          msg);
        } else if ((fa__sync_transient(s->h->status) ||
                    (s->h->status == 400 &&
                     hub_error_is(s->h, "short_chunk"))) &&
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
    int rc = fa__attach_send_batches(s); /* small files first, many a request */
    if (rc != FA_OK)
        return rc;
    rc = fa__prepare(ag, &st, "listing the files to send",
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
    chunker ck; /* one link: what a file measured sizes the next one's */
    chunker_init(&ck);
    for (size_t i = 0; rc == FA_OK && i < n; i++) {
        fa__sync_progress(s, "files", (long long)i, (long long)n);
        rc = send_one(s, hashes[i], sizes[i], &ck, &damaged);
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

const char *fa__attach_sniff(const unsigned char *b, size_t n)
{
    return fs_sniff_type(b, n);
}
