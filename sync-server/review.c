/*
 * review.c - reviewers and admins mark submissions received, has_issues,
 * approved or rejected, with a comment; the state travels back to the
 * device that sent the submission through its own change-log row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "review.h"
#include "audit.h"
#include "db.h"
#include "http.h"
#include "scope.h"
#include "server.h"

#define COMMENT_MAX 1000

static const char *const states[] = {"received", "has_issues", "approved",
                                     "rejected", NULL};

int hub__review_state_valid(const char *state)
{
    for (size_t i = 0; states[i]; i++)
        if (strcmp(states[i], state) == 0)
            return 1;
    return 0;
}

int hub__review(sqlite3 *db, const char *id, const char *state,
                const char *comment, const char *actor, const char *areas,
                int *found)
{
    *found = 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT rev, device_id, area FROM submissions "
                                "WHERE id = ? ORDER BY rev DESC LIMIT 1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int64_t rev = 0;
    char device[FS_UUID_LEN + 1] = "";
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rev = sqlite3_column_int64(st, 0);
        snprintf(device, sizeof device, "%s", sqlite3_column_text(st, 1));
        /* Outside the reviewer's areas it does not exist for them. */
        *found =
            hub__scope_has(areas, (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return rc;
    if (!*found)
        return SQLITE_OK;

    int64_t now = (int64_t)fs_now_ms();
    rc = sqlite3_prepare_v2(db,
                            "UPDATE submissions SET review_state = ?, "
                            "review_comment = ?, reviewed_ms = ? WHERE id = "
                            "? AND rev = ?",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, comment, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, rev);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rc;

    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "id", id);
    cJSON_AddNumberToObject(p, "rev", (double)rev);
    cJSON_AddStringToObject(p, "state", state);
    cJSON_AddStringToObject(p, "comment", comment);
    char *payload = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO change_log (kind, ref, payload, "
                            "created_ms, device_id) VALUES ('review', ?, ?, "
                            "?, ?)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, payload ? payload : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_text(st, 4, device, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    free(payload);
    if (rc != SQLITE_OK)
        return rc;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "submission", id);
    cJSON_AddNumberToObject(d, "rev", (double)rev);
    cJSON_AddStringToObject(d, "state", state);
    cJSON_AddStringToObject(d, "comment", comment);
    return hub__audit(db, actor, "submission.review", d);
}

int hub_review(const char *db_path, const char *id, const char *state,
               const char *comment, FILE *out)
{
    if (!fs_valid_uuid(id)) {
        fprintf(stderr, "fieldsync-hub: '%s' is not a submission id\n", id);
        return 2;
    }
    if (!state || !hub__review_state_valid(state)) {
        fprintf(stderr, "fieldsync-hub: --state must be received, "
                        "has_issues, approved or rejected\n");
        return 2;
    }
    if (!comment)
        comment = "";
    if (strlen(comment) > COMMENT_MAX ||
        !fs_utf8_valid(comment, strlen(comment))) {
        fprintf(stderr,
                "fieldsync-hub: --comment must be UTF-8 text of at "
                "most %d bytes\n",
                COMMENT_MAX);
        return 2;
    }
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    int found = 0;
    int rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? SQLITE_OK : SQLITE_ERROR;
    if (rc == SQLITE_OK)
        rc = hub__review(db, id, state, comment, "cli", "*", &found);
    if (rc == SQLITE_OK && found && hub__exec(db, "COMMIT") != 0)
        rc = SQLITE_ERROR;
    if (rc != SQLITE_OK || !found) {
        if (rc != SQLITE_OK)
            fprintf(stderr, "fieldsync-hub: cannot record the review: %s\n",
                    sqlite3_errmsg(db));
        else
            fprintf(stderr, "fieldsync-hub: no submission %s\n", id);
        hub__exec(db, "ROLLBACK");
        sqlite3_close(db);
        return 1;
    }
    sqlite3_close(db);
    fprintf(out,
            "submission %s: %s; the device that sent it sees this on "
            "its next sync\n",
            id, state);
    return 0;
}

int hub__handle_admin_review(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    hub_device who;
    static const char *const reviewers[] = {"admin", "reviewer", NULL};
    int bad = hub__api_begin(conn, "POST", &who, reviewers);
    if (bad)
        return bad;
    cJSON *req = NULL;
    if (hub__read_json(conn, 8192, &req) != 0)
        return 400;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "submission");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(req, "state");
    const cJSON *comment = cJSON_GetObjectItemCaseSensitive(req, "comment");
    if (!cJSON_IsString(id) || !fs_valid_uuid(id->valuestring) ||
        !cJSON_IsString(state) ||
        !hub__review_state_valid(state->valuestring) ||
        (comment && (!cJSON_IsString(comment) ||
                     strlen(comment->valuestring) > COMMENT_MAX))) {
        cJSON_Delete(req);
        hub__reply_error(conn, 400, "malformed",
                         "send {\"submission\": ID, \"state\": received|"
                         "has_issues|approved|rejected, \"comment\": text "
                         "of at most %d bytes}",
                         COMMENT_MAX);
        return 400;
    }
    char actor[FS_NAME_MAX + 8];
    snprintf(actor, sizeof actor, "token:%s", who.name);
    sqlite3 *db = hub__db(conn);
    int found = 0;
    pthread_mutex_lock(&h->write_lock);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = hub__review(db, id->valuestring, state->valuestring,
                         comment ? comment->valuestring : "", actor, who.areas,
                         &found);
    if (rc == SQLITE_OK && found)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK || !found)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&h->write_lock);
    int status = 200;
    if (rc != SQLITE_OK) {
        hub__reply_error(conn, 503, "storage",
                         "could not record the "
                         "review: %s",
                         sqlite3_errstr(rc));
        status = 503;
    } else if (!found) {
        hub__reply_error(conn, 404, "not_found",
                         "no submission %s in this token's areas",
                         id->valuestring);
        status = 404;
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "submission", id->valuestring);
        cJSON_AddStringToObject(o, "state", state->valuestring);
        hub__reply_obj(conn, 200, o);
    }
    cJSON_Delete(req);
    return status;
}
