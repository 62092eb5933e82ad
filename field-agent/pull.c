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
#include "seal.h"
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
    /* A published version never changes, so an existing row is kept. */
    int rc = text ? fa__exec(ag, "saving a form",
                             "INSERT OR IGNORE INTO forms (id, version, "
                             "title, definition) VALUES (?, ?, ?, ?)",
                             "titt", id->valuestring, (int64_t)ver->valuedouble,
                             t, text)
                  : fa__store_error(ag, "saving a form");
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
    /* A submission purged since (out of scope) has nothing to update. */
    return fa__exec(ag, "saving a review",
                    "UPDATE submissions SET review_state = ?, review_comment "
                    "= ? WHERE id = ? AND rev = ?",
                    "ttti", state->valuestring, comment->valuestring,
                    id->valuestring, (int64_t)rev->valuedouble);
}

/* A sub-quota of this device (kind "quota"): kept to count offline. */
static int apply_quota(fa_agent *ag, const cJSON *payload)
{
    /* Numbers, then texts, in the order of the columns below. */
    static const char *const names[] = {"id",   "target", "start_ms", "end_ms",
                                        "area", "wave",   "form"};
    const cJSON *v[7];
    const cJSON *stratum = cJSON_GetObjectItemCaseSensitive(payload, "stratum");
    int ok = cJSON_IsObject(stratum);
    for (int i = 0; i < 7; i++) {
        v[i] = cJSON_GetObjectItemCaseSensitive(payload, names[i]);
        ok &= i < 4 ? cJSON_IsNumber(v[i]) : cJSON_IsString(v[i]);
    }
    if (!ok)
        return fa__fail(ag, FA_EREFUSED, "the hub sent a malformed quota");
    char *st_text = cJSON_PrintUnformatted(stratum);
    int rc =
        st_text
            ? fa__exec(ag, "saving a quota",
                       "INSERT OR REPLACE INTO quotas (id, target, "
                       "start_ms, end_ms, area, wave, form_id, stratum) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       "iiiitttt", (int64_t)v[0]->valuedouble,
                       (int64_t)v[1]->valuedouble, (int64_t)v[2]->valuedouble,
                       (int64_t)v[3]->valuedouble, v[4]->valuestring,
                       v[5]->valuestring, v[6]->valuestring, st_text)
            : fa__store_error(ag, "saving a quota");
    free(st_text);
    return rc;
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
    for (const cJSON *c = changes->child; c && rc == FA_OK; c = c->next) {
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(c, "kind");
        const cJSON *payload = cJSON_GetObjectItemCaseSensitive(c, "payload");
        const char *k = cJSON_IsString(kind) ? kind->valuestring : "";
        if (strcmp(k, "form") == 0)
            rc = apply_form(ag, payload);
        else if (strcmp(k, "review") == 0)
            rc = apply_review(ag, payload);
        else if (strcmp(k, "entity") == 0 || strcmp(k, "resolution") == 0 ||
                 strcmp(k, "entity_delete") == 0)
            rc = fa__entity_apply(ag, k, payload);
        else if (strcmp(k, "quota") == 0)
            rc = apply_quota(ag, payload);
        else if (strcmp(k, "seal_key") == 0)
            rc = fa__seal_key_apply(ag, payload);
        else if (strcmp(k, "scope") == 0)
            rc = fa__scope_apply(ag, payload, &rep->purged);
        else
            /* A kind this agent does not know yet comes from a newer hub:
             * skipped; a newer agent will pull it after a reset. */
            continue;
        rep->pulled++;
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
        if (h->status != 200)
            return fa__http_fail(ag, h, FA_EREFUSED,
                                 "the hub refused the download");
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
