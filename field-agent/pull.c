/*
 * pull.c - taking what the hub has for this device: its change log
 * (forms, reviews, registry versions and resolutions, quotas, scope
 * changes) after the device's cursor, page by page, each page applied
 * together with the new cursor in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entity.h"
#include "pull.h"
#include "scope.h"
#include "store.h"

#define MAX_PAGES 100000

static int apply_form(fa_agent *ag, const cJSON *def)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(def, "id");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(def, "version");
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(def, "title");
    if (!cJSON_IsString(id) || !fs_valid_form_id(id->valuestring) ||
        !cJSON_IsNumber(ver) || ver->valuedouble < 1)
        return fa__fail(ag, FA_EREFUSED,
                        "the hub sent a form without a "
                        "valid id and version");
    const char *t = cJSON_IsString(title) ? title->valuestring : "";
    if (cJSON_IsObject(title) && cJSON_IsString(title->child))
        t = title->child->valuestring;
    char *text = cJSON_PrintUnformatted(def);
    sqlite3_stmt *st = NULL;
    int rc = FA_OK;
    /* A published version never changes, so an existing row is kept. */
    if (!text || sqlite3_prepare_v2(ag->db,
                                    "INSERT OR IGNORE INTO forms (id, "
                                    "version, title, definition) VALUES "
                                    "(?, ?, ?, ?)",
                                    -1, &st, NULL) != SQLITE_OK) {
        rc = fa__store_error(ag, "saving a form");
    } else {
        sqlite3_bind_text(st, 1, id->valuestring, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)ver->valuedouble);
        sqlite3_bind_text(st, 3, t, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = fa__store_error(ag, "saving a form");
    }
    sqlite3_finalize(st);
    free(text);
    return rc;
}

static int apply_review(fa_agent *ag, const cJSON *payload)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(payload, "id");
    const cJSON *rev = cJSON_GetObjectItemCaseSensitive(payload, "rev");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(payload, "state");
    const cJSON *comment = cJSON_GetObjectItemCaseSensitive(payload, "comment");
    if (!cJSON_IsString(id) || !cJSON_IsNumber(rev) || !cJSON_IsString(state) ||
        !cJSON_IsString(comment))
        return fa__fail(ag, FA_EREFUSED, "the hub sent a malformed review");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ag->db,
                           "UPDATE submissions SET review_state = ?, "
                           "review_comment = ? WHERE id = ? AND rev = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return fa__store_error(ag, "saving a review");
    sqlite3_bind_text(st, 1, state->valuestring, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, comment->valuestring, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id->valuestring, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)rev->valuedouble);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    /* A submission purged since (out of scope) has nothing to update. */
    return rc == SQLITE_DONE ? FA_OK : fa__store_error(ag, "saving a review");
}

/* A sub-quota of this device (kind "quota"): kept to count offline. */
static int apply_quota(fa_agent *ag, const cJSON *payload)
{
    static const char *const text[] = {"area", "wave", "form"};
    static const char *const num[] = {"id", "target", "start_ms", "end_ms"};
    const cJSON *stratum = cJSON_GetObjectItemCaseSensitive(payload, "stratum");
    int ok = cJSON_IsObject(stratum);
    for (int i = 0; i < 3; i++)
        ok &=
            cJSON_IsString(cJSON_GetObjectItemCaseSensitive(payload, text[i]));
    for (int i = 0; i < 4; i++)
        ok &= cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(payload, num[i]));
    if (!ok)
        return fa__fail(ag, FA_EREFUSED, "the hub sent a malformed quota");
    char *st_text = cJSON_PrintUnformatted(stratum);
    sqlite3_stmt *st = NULL;
    if (!st_text ||
        sqlite3_prepare_v2(ag->db,
                           "INSERT OR REPLACE INTO quotas (id, area, wave, "
                           "form_id, stratum, target, start_ms, end_ms) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        free(st_text);
        return fa__store_error(ag, "saving a quota");
    }
    sqlite3_bind_int64(
        st, 1, (sqlite3_int64)cJSON_GetObjectItem(payload, "id")->valuedouble);
    for (int i = 0; i < 3; i++)
        sqlite3_bind_text(
            st, 2 + i,
            cJSON_GetObjectItemCaseSensitive(payload, text[i])->valuestring, -1,
            SQLITE_STATIC);
    sqlite3_bind_text(st, 5, st_text, -1, free);
    for (int i = 1; i < 4; i++)
        sqlite3_bind_int64(
            st, 5 + i,
            (sqlite3_int64)cJSON_GetObjectItemCaseSensitive(payload, num[i])
                ->valuedouble);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FA_OK : fa__store_error(ag, "saving a quota");
}

/* Applies one page and its cursor in one transaction. */
static int apply_page(fa_agent *ag, const cJSON *page, fa_sync_report *rep)
{
    const cJSON *changes = cJSON_GetObjectItemCaseSensitive(page, "changes");
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(page, "next");
    if (!cJSON_IsArray(changes) || !cJSON_IsNumber(next))
        return fa__fail(ag, FA_EREFUSED,
                        "the hub sent a page of changes "
                        "without changes or cursor");
    int rc = fa__begin(ag);
    const cJSON *c;
    cJSON_ArrayForEach(c, changes)
    {
        if (rc != FA_OK)
            break;
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(c, "kind");
        const cJSON *payload = cJSON_GetObjectItemCaseSensitive(c, "payload");
        if (cJSON_IsString(kind) && strcmp(kind->valuestring, "form") == 0) {
            rc = apply_form(ag, payload);
            rep->pulled++;
        } else if (cJSON_IsString(kind) &&
                   strcmp(kind->valuestring, "review") == 0) {
            rc = apply_review(ag, payload);
            rep->pulled++;
        } else if (cJSON_IsString(kind) &&
                   (strcmp(kind->valuestring, "entity") == 0 ||
                    strcmp(kind->valuestring, "resolution") == 0 ||
                    strcmp(kind->valuestring, "entity_delete") == 0)) {
            rc = fa__entity_apply(ag, kind->valuestring, payload);
            rep->pulled++;
        } else if (cJSON_IsString(kind) &&
                   strcmp(kind->valuestring, "quota") == 0) {
            rc = apply_quota(ag, payload);
            rep->pulled++;
        } else if (cJSON_IsString(kind) &&
                   strcmp(kind->valuestring, "scope") == 0) {
            rc = fa__scope_apply(ag, payload, &rep->purged);
            rep->pulled++;
        }
        /* Kinds this agent does not know yet come from a newer hub; they
         * are skipped, and a newer agent will pull them after a reset. */
    }
    if (rc == FA_OK)
        rc = fa__meta_set_int(ag, "cursor", (int64_t)next->valuedouble);
    if (rc == FA_OK)
        rc = fa__commit(ag);
    else
        fa__rollback(ag);
    return rc;
}

int fa__pull_all(fa__sync *s, int64_t *hub_acked)
{
    fa_agent *ag = s->ag;
    fa__http *h = s->h;
    *hub_acked = -1;
    for (int pages = 0; pages < MAX_PAGES; pages++) {
        int64_t cursor = 0;
        int rc = fa__meta_get_int(ag, "cursor", 0, &cursor);
        if (rc != FA_OK)
            return rc;
        char path[96];
        snprintf(path, sizeof path, "/api/v1/pull?after=%lld",
                 (long long)cursor);
        rc = fa__sync_request(s, h, "GET", path, NULL, 0, 0, 0);
        if (rc != FA_OK)
            return rc;
        if (h->status != 200) {
            char msg[FA_MSG_MAX];
            fa__http_error_message(h, msg, sizeof msg);
            return fa__fail(ag, FA_EREFUSED,
                            "the hub refused the download: "
                            "%s",
                            msg);
        }
        cJSON *page = NULL;
        fs_err perr;
        fs_limits lim = ag->limits;
        lim.max_depth = 48; /* form definitions nest */
        lim.max_decompressed = h->reply.max;
        if (fs_json_parse((const char *)h->reply.data, h->reply.len, &lim,
                          &page, &perr) != FS_OK)
            return fa__fail(ag, FA_EREFUSED, "the hub's page is not JSON: %s",
                            perr.msg);
        rc = apply_page(ag, page, s->rep);
        const cJSON *more = cJSON_GetObjectItemCaseSensitive(page, "more");
        const cJSON *acked =
            cJSON_GetObjectItemCaseSensitive(page, "acked_seq");
        if (cJSON_IsNumber(acked))
            *hub_acked = (int64_t)acked->valuedouble;
        int again = cJSON_IsTrue(more);
        cJSON_Delete(page);
        if (rc != FA_OK || !again)
            return rc;
        fa__sync_progress(s, "receiving", s->rep->pulled, 0);
    }
    return FA_OK;
}
