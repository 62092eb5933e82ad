/*
 * push.c - POST /api/v1/push: receive one changeset from a device, and
 * answer it once it is durable.
 *
 * The order of work is what makes retries safe:
 *   1. here, in the request's own thread: authenticate, read the body
 *      (bounded), decode it (fs_changeset_decode, bounded), check each
 *      submission against its form and hash its content
 *      (hub__merge_prepare) - work that needs no write transaction;
 *   2. the merge queue (mergeq.c): in one write transaction compare the
 *      changeset's first sequence with the device's acknowledged
 *      sequence, merge (hub__merge), store the receipt with the exact
 *      reply and advance the sequence; COMMIT durably;
 *   3. here again, only after that COMMIT: answer the stored reply, a
 *      409 with the hub's sequence, or 503/507 when nothing was stored.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hierarchy.h"
#include "push.h"
#include "errors.h"
#include "http.h"
#include "merge.h"
#include "mergeq.h"
#include "scope.h"
#include "server.h"

/* A push out of sequence: 409 with the hub's sequence. */
static int reply_seq(struct mg_connection *conn, const char *code,
                     int64_t hub_seq, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "error", code);
        cJSON_AddStringToObject(o, "message", msg);
        cJSON_AddNumberToObject(o, "hub_seq", (double)hub_seq);
    }
    int status = hub__http_status(HUB_ECONFLICT);
    hub__reply_obj(conn, status, o);
    return status;
}

static int decode_status(int code)
{
    return code == FS_ETOOBIG ? 413 : 400;
}

/* Nothing of the push was stored (err, detail: SQLite's words). Returns
 * the status sent. */
static int reply_storage_error(struct mg_connection *conn, int err,
                               const char *detail)
{
    if (err == HUB_EFULL)
        return hub__reply_err(conn, err, "storage_full",
                              "the hub's disk is full, nothing of this push "
                              "was stored; the agent keeps it and will "
                              "retry");
    return hub__reply_err(conn, err, "storage",
                          "the hub could not store this push (%s); nothing "
                          "of it was stored, retry later",
                          detail);
}

/* Reads, decodes and checks one push. Returns 0 with *csp, results and
 * digests set (caller frees all three), or the HTTP status already
 * answered. */
static int prepare_push(struct mg_connection *conn, hub *h,
                        const hub_device *dev, int gzipped, fs_changeset **csp,
                        char digest[65], fs_result **resultsp,
                        hub_digest **digestsp)
{
    fs_buf body;
    if (hub__read_body(conn, h->limits.max_compressed, &body) != 0)
        return 400;

    hub__mergeq_decode_begin(h->mergeq);
    fs_changeset *cs = NULL;
    fs_result *results = NULL;
    hub_digest *digests = NULL;
    fs_err err = {0};
    int status = 0;
    int rc = fs_changeset_decode(body.data, body.len, gzipped, &h->limits, &cs,
                                 digest, &err);
    fs_buf_free(&body);
    if (rc != FS_OK) {
        hub__reply_error(conn, decode_status(rc), fs_errname(rc), "%s",
                         err.msg);
        status = 400;
        goto out;
    }
    if (strcmp(cs->device, dev->id) != 0) {
        hub__reply_error(conn, 403, "device_mismatch",
                         "the changeset names device %s but the token "
                         "belongs to %s",
                         cs->device, dev->id);
        status = 403;
        goto out;
    }
    hub__scope_filter(hub__db(conn), dev, cs);

    /* Form checks and content digests need no write transaction: done
     * here, beside other requests, not by the one writer. */
    results = calloc(cs->n ? cs->n : 1, sizeof *results);
    digests = calloc(cs->n ? cs->n : 1, sizeof *digests);
    rc = results && digests
             ? hub__merge_prepare(hub__db(conn), cs, results, digests)
             : HUB_ENOMEM;
    if (rc != HUB_OK) {
        fprintf(stderr, "fieldsync-hub: push from %s (%s) not checked: %s\n",
                dev->name, dev->id, hub__storage_detail(rc));
        status = reply_storage_error(conn, rc, hub__storage_detail(rc));
    }
out:
    hub__mergeq_decode_end(h->mergeq, status == 0);
    if (status != 0) {
        free(results);
        free(digests);
        fs_changeset_free(cs);
        return status;
    }
    *csp = cs;
    *resultsp = results;
    *digestsp = digests;
    return 0;
}

int hub__handle_push(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    if (!hub__method_is(conn, "POST"))
        return 405;
    hub_device dev;
    if (hub__auth_device(conn, &dev) != 0)
        return 401;

    const char *ce = mg_get_header(conn, "Content-Encoding");
    int gzipped = 0;
    if (ce && strcasecmp(ce, "gzip") == 0) {
        gzipped = 1;
    } else if (ce && strcasecmp(ce, "identity") != 0) {
        hub__reply_error(conn, 415, "bad_encoding",
                         "Content-Encoding %.40s is not supported; send "
                         "gzip",
                         ce);
        return 415;
    }

    fs_changeset *cs = NULL;
    fs_result *results = NULL;
    hub_digest *digests = NULL;
    char digest[65];
    hub_push job;
    memset(&job, 0, sizeof job);
    job.device = dev.id;
    /* On the way from here until queued: a push of this device that
     * skips ahead may wait for this one. */
    hub__mergeq_expect(h->mergeq, &job);
    int rc =
        prepare_push(conn, h, &dev, gzipped, &cs, digest, &results, &digests);
    if (rc != 0) {
        hub__mergeq_drop(h->mergeq, &job);
        return rc;
    }

    job.cs = cs;
    job.digest = digest;
    job.results = results;
    job.digests = digests;
    hub__mergeq_submit(h->mergeq, &job);

    /* Durable now (or nothing of it stored): only from here on may the
     * device forget the batch. */
    int status;
    if (job.err == HUB_OK) {
        hub__reply(conn, 200, job.text, strlen(job.text));
        status = 200;
    } else if (job.err == HUB_EQUOTA) {
        fprintf(stderr,
                "fieldsync-hub: push %lld-%lld of %s (%s) refused: its held "
                "changes would pass their quota\n",
                (long long)cs->first_seq, (long long)cs->last_seq, dev.name,
                dev.id);
        status = hub__reply_err(
            conn, job.err, "held_quota",
            "this push would leave %lld refused changes (%lld bytes) held "
            "on the hub for this device, past its quota of %lld changes or "
            "%lld bytes; nothing of it was stored and the device keeps it. "
            "A hub admin reviews the held changes (fieldsync-hub held) and "
            "clears them, or raises --held-max/--held-max-bytes",
            (long long)job.held_n, (long long)job.held_bytes,
            (long long)h->held.max, (long long)h->held.max_bytes);
    } else if (job.err == HUB_ECONFLICT) {
        char msg[256];
        if (strcmp(job.code, "seq_behind") == 0)
            snprintf(msg, sizeof msg,
                     "the hub has acknowledged this device up to sequence "
                     "%lld, and changes %lld..%lld are not a replay of "
                     "what it received; renumber after %lld and send again",
                     (long long)job.acked, (long long)cs->first_seq,
                     (long long)cs->last_seq, (long long)job.acked);
        else
            snprintf(msg, sizeof msg,
                     "the hub expected sequence %lld next but this "
                     "changeset starts at %lld; send again from %lld",
                     (long long)job.acked + 1, (long long)cs->first_seq,
                     (long long)job.acked + 1);
        status = reply_seq(conn, job.code, job.acked, msg);
    } else {
        fprintf(stderr, "fieldsync-hub: push from %s (%s) not stored: %s\n",
                dev.name, dev.id, job.errmsg);
        status = reply_storage_error(conn, job.err, job.detail);
    }
    free(job.text);
    free(results);
    free(digests);
    fs_changeset_free(cs);
    return status;
}
