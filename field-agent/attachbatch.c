/*
 * attachbatch.c - small files in batches (PROTOCOL.md 4.7, "Small files
 * in batches"): before the per-file uploads of attach.c, the files of at
 * most FA_BATCH_FILE bytes go many to a request, so that thousands of
 * tiny files cost a round trip per batch instead of two per file.
 *
 * Each file is read from the store and hashed as it goes in; a copy that
 * no longer hashes to its name is left out (the per-file path sends it,
 * and the hub refuses it with a message the user sees). A file the hub
 * answers "stored" or "had" is marked sent; any other answer leaves it
 * to the per-file path. A batch that gets no answer is sent again by the
 * retries of fa__sync_request and else at the next sync: the hub stores
 * each file whole or not at all, so nothing is ever half there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "fs_protocol.h"
#include "net.h"
#include "store.h"
#include "sync.h"
#include "trace.h"

typedef struct bfile {
    char hash[65];
    long long size;
} bfile;

/* The files waiting that fit a batch, and how many wait in all. */
static int list_small(fa_agent *ag, bfile **out, size_t *n, long long *all)
{
    sqlite3_stmt *st = NULL;
    int rc = fa__prepare(ag, &st, "listing the files to send",
                         "SELECT sha256, size FROM attachments WHERE sent < "
                         "size AND damaged = 0 ORDER BY sha256",
                         "");
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    *all = 0;
    while (rc == FA_OK && sqlite3_step(st) == SQLITE_ROW) {
        long long size = sqlite3_column_int64(st, 1);
        ++*all;
        if (size < 1 || size > FA_BATCH_FILE)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            bfile *a = realloc(*out, cap * sizeof **out);
            if (!a) {
                rc = fa__fail(ag, FA_ESTORE, "out of memory");
                break;
            }
            *out = a;
        }
        snprintf((*out)[*n].hash, sizeof(*out)[*n].hash, "%s",
                 fa__col_text(st, 0));
        (*out)[(*n)++].size = size;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Appends the store's copy of f to bytes; 0 when it is there whole and
 * hashes to its name, -1 when it must be left to the per-file path. */
static int read_checked(fa_agent *ag, const bfile *f, fs_buf *bytes)
{
    char path[4200];
    unsigned char buf[FA_BATCH_FILE + 1];
    snprintf(path, sizeof path, "%s/%s/%s", ag->dir, FA_ATTACH_DIR, f->hash);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t r = read(fd, buf + got, sizeof buf - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    char hex[65];
    if ((long long)got != f->size)
        return -1;
    fs_sha256_hex(buf, got, hex);
    if (strcmp(hex, f->hash) != 0)
        return -1;
    return fs_buf_append(bytes, buf, got) == FS_OK ? 0 : -1;
}

/* Marks the files the hub answered "stored" or "had" as sent, in one
 * transaction. *sent counts them. */
static int take_reply(fa__sync *s, const bfile *in, size_t n, long long *sent)
{
    fa_agent *ag = s->ag;
    fs_limits lim;
    fs_limits_default(&lim);
    cJSON *doc = NULL;
    fs_json_parse((const char *)s->h->reply.data, s->h->reply.len, &lim, &doc,
                  NULL);
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(doc, "files");
    if (!cJSON_IsArray(files)) {
        cJSON_Delete(doc);
        return fa__fail(ag, FA_EREFUSED,
                        "the hub's answer to a batch of files lists no "
                        "files; it is not a fieldsync hub or is broken");
    }
    int rc = fa__begin(ag);
    long long bytes = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, files)
    {
        if (rc != FA_OK)
            break;
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(it, "sha256");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "status");
        if (!cJSON_IsString(h) || !cJSON_IsString(st) ||
            (strcmp(st->valuestring, "stored") != 0 &&
             strcmp(st->valuestring, "had") != 0))
            continue; /* left to the per-file path */
        for (size_t i = 0; i < n; i++) {
            if (strcmp(in[i].hash, h->valuestring) != 0)
                continue;
            rc = fa__exec(ag, "noting the upload",
                          "UPDATE attachments SET sent = size WHERE "
                          "sha256 = ? AND sent < size",
                          "t", in[i].hash);
            if (rc == FA_OK && sqlite3_changes(ag->db) > 0) {
                ++*sent;
                bytes += in[i].size;
            }
            break;
        }
    }
    int64_t total = 0;
    if (rc == FA_OK && bytes > 0)
        rc = fa__meta_get_int(ag, "attachment_bytes_sent", 0, &total);
    if (rc == FA_OK && bytes > 0)
        rc = fa__meta_set_int(ag, "attachment_bytes_sent", total + bytes);
    if (rc == FA_OK)
        rc = fa__commit(ag);
    else
        fa__rollback(ag);
    cJSON_Delete(doc);
    return rc;
}

/* Sends one batch: files in[0..n) whose bytes are in bytes, in order.
 * *gone is set when the hub takes no batches (an older hub). */
static int send_batch(fa__sync *s, const bfile *in, size_t n,
                      const fs_buf *bytes, long long *sent, int *gone)
{
    fa_agent *ag = s->ag;
    fs_buf body;
    fs_buf_init(&body, (size_t)FA_BATCH_BYTES * 2);
    int ok = fs_buf_append(&body, "{\"files\":[", 10) == FS_OK;
    for (size_t i = 0; ok && i < n; i++) {
        char one[128];
        int len =
            snprintf(one, sizeof one, "%s{\"sha256\":\"%s\",\"size\":%lld}",
                     i ? "," : "", in[i].hash, in[i].size);
        ok = fs_buf_append(&body, one, (size_t)len) == FS_OK;
    }
    ok = ok && fs_buf_append(&body, "]}\n", 3) == FS_OK &&
         fs_buf_append(&body, bytes->data, bytes->len) == FS_OK;
    if (!ok) {
        fs_buf_free(&body);
        return fa__fail(ag, FA_ESTORE, "out of memory");
    }
    int rc = fa__sync_request(s, s->h, "POST", "/api/v1/blobs", body.data,
                              body.len, 0, 0);
    fa__trace_note(s->o->trace_dir, "blobs batch %zu files %zu bytes: %ld", n,
                   body.len, rc == FA_OK ? s->h->status : 0L);
    fs_buf_free(&body);
    if (rc != FA_OK)
        return rc;
    long st = s->h->status;
    if (st == 200)
        return take_reply(s, in, n, sent);
    if (st == 404 || st == 405 || st == 413 || st == 415) {
        *gone = 1; /* a hub without batches, or with lower limits */
        return FA_OK;
    }
    return fa__http_fail(ag, s->h, FA_EREFUSED, "sending a batch of files");
}

int fa__attach_send_batches(fa__sync *s)
{
    fa_agent *ag = s->ag;
    const char *env = getenv("FIELDSYNC_FILE_BATCH");
    if (env && strcmp(env, "0") == 0)
        return FA_OK; /* one file per request, as before batches */
    bfile *files = NULL;
    size_t n = 0;
    long long all = 0, sent = 0;
    int rc = list_small(ag, &files, &n, &all);
    bfile *in = rc == FA_OK && n ? malloc(FA_BATCH_FILES * sizeof *in) : NULL;
    if (rc == FA_OK && n && !in)
        rc = fa__fail(ag, FA_ESTORE, "out of memory");
    fs_buf bytes;
    fs_buf_init(&bytes, FA_BATCH_BYTES + FA_BATCH_FILE);
    size_t i = 0;
    int gone = 0;
    while (rc == FA_OK && !gone && i < n) {
        size_t k = 0;
        fs_buf_reset(&bytes);
        /* A header entry is about 90 bytes beside the file's own. */
        while (i < n && k < FA_BATCH_FILES &&
               (k == 0 || bytes.len + (k + 1) * 90 + (size_t)files[i].size <=
                              FA_BATCH_BYTES)) {
            if (read_checked(ag, &files[i], &bytes) == 0)
                in[k++] = files[i];
            i++;
        }
        if (k > 0)
            rc = send_batch(s, in, k, &bytes, &sent, &gone);
        /* A batch is whole or nothing: over a link that keeps dropping,
         * sending it again may never get through, while the per-file path
         * resumes from what the hub holds. So after a batch that did not
         * get through, the rest of this sync's files go one at a time
         * (which reports the link or the hub's answer if it fails too). */
        if (rc == FA_EUNREACHABLE || rc == FA_EREFUSED) {
            fa__trace_note(s->o->trace_dir, "blobs batch failed: %s", ag->err);
            gone = 1;
            rc = FA_OK;
        }
        fa__sync_progress(s, "files", sent, all);
    }
    fs_buf_free(&bytes);
    free(in);
    free(files);
    return rc;
}
