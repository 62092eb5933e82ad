/*
 * review.c - reviewers and admins mark submissions received, has_issues,
 * approved or rejected, with a comment; the state travels back to the
 * device that sent the submission through its own change-log row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hierarchy.h"
#include "hub.h"
#include "review.h"
#include "errors.h"
#include "stmtcache.h"
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
                const char *comment, const char *actor, const char *areas)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT rev, device_id, area FROM submissions "
                                "WHERE id = ? ORDER BY rev DESC LIMIT 1",
                                HUB_ARGS(HUB_TEXT(id)), &rc);
    if (!st || (rc = hub__sql_step(st)) < 0)
        return rc;
    /* Outside the reviewer's areas it does not exist for them. */
    if (rc == 0 || hub__area_covered(db, areas, hub__col(st, 2)) != 1) {
        hub__sql_end(st);
        return HUB_ENOTFOUND;
    }
    int64_t rev = sqlite3_column_int64(st, 0);
    char device[FS_UUID_LEN + 1];
    snprintf(device, sizeof device, "%s", hub__col(st, 1));
    hub__sql_end(st);

    int64_t now = (int64_t)fs_now_ms();
    rc = hub__sql_run(db,
                      "UPDATE submissions SET review_state = ?, "
                      "review_comment = ?, reviewed_ms = ? WHERE id = ? AND "
                      "rev = ?",
                      HUB_ARGS(HUB_TEXT(state), HUB_TEXT(comment), HUB_INT(now),
                               HUB_TEXT(id), HUB_INT(rev)));
    if (rc != HUB_OK)
        return rc;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "id", id);
    cJSON_AddNumberToObject(p, "rev", (double)rev);
    cJSON_AddStringToObject(p, "state", state);
    cJSON_AddStringToObject(p, "comment", comment);
    char *payload = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    rc = hub__sql_run(db,
                      "INSERT INTO change_log (kind, ref, payload, "
                      "created_ms, device_id) VALUES ('review', ?, ?, ?, ?)",
                      HUB_ARGS(HUB_TEXT(id), HUB_TEXT(payload ? payload : "{}"),
                               HUB_INT(now), HUB_TEXT(device)));
    free(payload);
    if (rc != HUB_OK)
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
    int rc = hub__exec(db, "BEGIN IMMEDIATE") == 0 ? HUB_OK : HUB_ESTORAGE;
    if (rc == HUB_OK)
        rc = hub__review(db, id, state, comment, "cli", "*");
    if (rc == HUB_OK && hub__exec(db, "COMMIT") != 0)
        rc = HUB_ESTORAGE;
    if (rc != HUB_OK) {
        if (rc != HUB_ENOTFOUND)
            fprintf(stderr, "fieldsync-hub: cannot record the review: %s\n",
                    sqlite3_errmsg(db));
        else
            fprintf(stderr, "fieldsync-hub: no submission %s\n", id);
        hub__exec(db, "ROLLBACK");
        hub__close(db);
        /* 1 for an unknown submission too: what this command has always
         * answered, and scripts rely on. */
        return 1;
    }
    hub__close(db);
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
    int rc = hub__tx_begin(db, &h->write_lock);
    if (rc == HUB_OK)
        rc = hub__tx_end(db, &h->write_lock,
                         hub__review(db, id->valuestring, state->valuestring,
                                     comment ? comment->valuestring : "", actor,
                                     who.areas));
    int status = 200;
    if (rc == HUB_ENOTFOUND) {
        status = hub__reply_err(conn, rc, "not_found",
                                "no submission %s in this token's areas",
                                id->valuestring);
    } else if (rc != HUB_OK) {
        status = hub__reply_err(conn, rc, "storage",
                                "could not record the review: %s",
                                hub__storage_detail(rc));
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "submission", id->valuestring);
        cJSON_AddStringToObject(o, "state", state->valuestring);
        hub__reply_obj(conn, 200, o);
    }
    cJSON_Delete(req);
    return status;
}
