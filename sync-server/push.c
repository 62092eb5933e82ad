/*
 * push.c - POST /api/v1/push: receive one changeset from a device.
 *
 * The order of work is what makes retries safe:
 *   1. authenticate, read the body (bounded), decode it (bounded);
 *   2. in one write transaction: compare the changeset's first sequence
 *      with the device's acknowledged sequence, merge, store the receipt
 *      (with the exact reply) and advance the sequence;
 *   3. COMMIT durably (synchronous=FULL), and only then answer.
 * A lost answer leads the agent to send the same changeset again; step 2
 * finds its receipt and answers the stored reply without changing data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hub_int.h"

static void reply_seq(struct mg_connection *conn, const char *code,
                      int64_t hub_seq, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "error", code);
        cJSON_AddStringToObject(o, "message", msg);
        cJSON_AddNumberToObject(o, "hub_seq", (double)hub_seq);
    }
    hub__reply_obj(conn, 409, o);
}

static int decode_status(int code)
{
    return code == FS_ETOOBIG ? 413 : 400;
}

/* Looks up the receipt of exactly this changeset. Returns 1 and a copy of
 * the stored reply (caller frees) when it is a replay of the same content,
 * 0 when there is none or the content differs, -1 on a storage error. */
static int find_receipt(sqlite3 *db, const char *device,
                        const fs_changeset *cs, const char *digest,
                        char **reply)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT digest, reply FROM receipts WHERE "
                                "device_id = ? AND first_seq = ? AND "
                                "last_seq = ?",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cs->first_seq);
    sqlite3_bind_int64(st, 3, cs->last_seq);
    int out = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 0);
        if (d && strcmp(d, digest) == 0) {
            *reply = strdup((const char *)sqlite3_column_text(st, 1));
            out = *reply ? 1 : -1;
        }
    } else if (rc != SQLITE_DONE) {
        out = -1;
    }
    sqlite3_finalize(st);
    return out;
}

static int read_acked(sqlite3 *db, const char *device, int64_t *acked)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT acked_seq FROM devices WHERE id = ?",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *acked = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else {
        rc = rc == SQLITE_DONE ? SQLITE_NOTFOUND : rc;
    }
    sqlite3_finalize(st);
    return rc;
}

static int store_receipt(sqlite3 *db, const char *device,
                         const fs_changeset *cs, const char *digest,
                         const char *reply, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db,
        "INSERT INTO receipts (device_id, first_seq, last_seq, digest, "
        "reply, received_ms) VALUES (?, ?, ?, ?, ?, ?)",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cs->first_seq);
    sqlite3_bind_int64(st, 3, cs->last_seq);
    sqlite3_bind_text(st, 4, digest, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, reply, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rc;

    rc = sqlite3_prepare_v2(db,
                            "UPDATE devices SET acked_seq = ?, "
                            "last_push_ms = ?, last_seen_ms = ? "
                            "WHERE id = ?",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, cs->last_seq);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, device, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void reply_storage_error(struct mg_connection *conn, sqlite3 *db,
                                int rc)
{
    if ((rc & 0xff) == SQLITE_FULL)
        hub__reply_error(conn, 507, "storage_full",
                         "the hub's disk is full, nothing of this push was "
                         "stored; the agent keeps it and will retry");
    else
        hub__reply_error(conn, 503, "storage",
                         "the hub could not store this push (%s); nothing "
                         "of it was stored, retry later",
                         sqlite3_errstr(rc));
    (void)db;
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

    fs_buf body;
    if (hub__read_body(conn, h->limits.max_compressed, &body) != 0)
        return 400;

    fs_changeset *cs = NULL;
    fs_err err = {0};
    char digest[65];
    int rc = fs_changeset_decode(body.data, body.len, gzipped, &h->limits,
                                 &cs, digest, &err);
    fs_buf_free(&body);
    if (rc != FS_OK) {
        hub__reply_error(conn, decode_status(rc), fs_errname(rc), "%s",
                         err.msg);
        return 400;
    }
    if (strcmp(cs->device, dev.id) != 0) {
        hub__reply_error(conn, 403, "device_mismatch",
                         "the changeset names device %s but the token "
                         "belongs to %s",
                         cs->device, dev.id);
        fs_changeset_free(cs);
        return 403;
    }

    sqlite3 *db = hub__db(conn);
    fs_push_reply reply = {0};
    char *text = NULL;
    int status = 200;
    int64_t acked = 0;

    pthread_mutex_lock(&h->write_lock);
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = read_acked(db, dev.id, &acked);
    if (rc != SQLITE_OK)
        goto storage_fail;

    if (cs->first_seq <= acked) {
        int found = find_receipt(db, dev.id, cs, digest, &text);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        pthread_mutex_unlock(&h->write_lock);
        if (found == 1) {
            hub__reply(conn, 200, text, strlen(text));
        } else if (found == 0) {
            char msg[256];
            snprintf(msg, sizeof msg,
                     "the hub has acknowledged this device up to sequence "
                     "%lld, and changes %lld..%lld are not a replay of what "
                     "it received; renumber after %lld and send again",
                     (long long)acked, (long long)cs->first_seq,
                     (long long)cs->last_seq, (long long)acked);
            reply_seq(conn, "seq_behind", acked, msg);
            status = 409;
        } else {
            reply_storage_error(conn, db, SQLITE_ERROR);
            status = 503;
        }
        goto out;
    }
    if (cs->first_seq != acked + 1) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        pthread_mutex_unlock(&h->write_lock);
        char msg[256];
        snprintf(msg, sizeof msg,
                 "the hub expected sequence %lld next but this changeset "
                 "starts at %lld; send again from %lld",
                 (long long)acked + 1, (long long)cs->first_seq,
                 (long long)acked + 1);
        reply_seq(conn, "seq_gap", acked, msg);
        status = 409;
        goto out;
    }

    reply.first_seq = cs->first_seq;
    reply.last_seq = cs->last_seq;
    reply.acked_seq = cs->last_seq;
    reply.n = cs->n;
    reply.results = calloc(cs->n, sizeof *reply.results);
    if (!reply.results) {
        rc = SQLITE_NOMEM;
        goto storage_fail;
    }
    rc = hub__merge(db, dev.id, cs, &reply);
    if (rc != SQLITE_OK)
        goto storage_fail;
    text = fs_push_reply_encode(&reply);
    if (!text) {
        rc = SQLITE_NOMEM;
        goto storage_fail;
    }
    rc = store_receipt(db, dev.id, cs, digest, text, (int64_t)fs_now_ms());
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto storage_fail;
    pthread_mutex_unlock(&h->write_lock);
    /* Durable now: only from here on may the device forget the batch. */
    hub__reply(conn, 200, text, strlen(text));
    goto out;

storage_fail:
    fprintf(stderr, "fieldsync-hub: push from %s (%s) not stored: %s\n",
            dev.name, dev.id, sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&h->write_lock);
    reply_storage_error(conn, db, rc);
    status = 503;
out:
    free(text);
    free(reply.results);
    fs_changeset_free(cs);
    return status;
}
