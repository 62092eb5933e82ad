/*
 * conflictapi.c - the admin API on conflicts and duplicates
 * (conflictapi.h): list (paged), resolve, duplicates. Admins only;
 * an admin token limited to areas sees those areas only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conflictapi.h"
#include "adminapi.h"
#include "conflicts.h"
#include "db.h"
#include "dupes.h"
#include "errors.h"
#include "http.h"
#include "resolve.h"
#include "scope.h"
#include "server.h"

static const char *const admin_only[] = {"admin", NULL};

/* ?personal=1, audited as action with the token's areas. */
static int personal_read(struct mg_connection *conn, void *hubp,
                         const hub_device *who, const char *action,
                         int *personal)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "areas", who->areas);
    return hub__personal_read(conn, hubp, who, action, d, personal);
}

int hub__handle_admin_conflicts(struct mg_connection *conn, void *hubp)
{
    hub_device who;
    int bad = hub__api_begin(conn, "GET", &who, admin_only);
    if (bad)
        return bad;
    long long all = 0, after = 0, limit = 0;
    if (hub__query_int(conn, "all", 0, 0, 1, &all) != 0 ||
        hub__query_int(conn, "after", 0, 0, INT64_MAX, &after) != 0 ||
        hub__query_int(conn, "limit", 100, 1, 1000, &limit) != 0)
        return 400;
    int personal = 0;
    bad = personal_read(conn, hubp, &who, "conflicts.read_personal", &personal);
    if (bad)
        return bad;
    cJSON *arr =
        hub__conflicts_json(hub__db(conn), (int)all, who.areas, after, limit);
    if (!arr)
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "cannot read the conflicts");
    if (!personal)
        hub__conflicts_mask(hub__db(conn), arr);
    /* The cursor of the next page: the last id of this one. */
    const cJSON *last = cJSON_GetArrayItem(arr, cJSON_GetArraySize(arr) - 1);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "conflicts", arr);
    cJSON_AddNumberToObject(
        root, "next",
        last ? cJSON_GetObjectItemCaseSensitive(last, "id")->valuedouble
             : (double)after);
    hub__reply_obj(conn, 200, root);
    return 200;
}

int hub__handle_admin_resolve(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    hub_device who;
    int bad = hub__api_begin(conn, "POST", &who, admin_only);
    if (bad)
        return bad;
    cJSON *req = NULL;
    if (hub__read_json(conn, 128 * 1024, &req) != 0)
        return 400;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "conflict");
    const cJSON *choose = cJSON_GetObjectItemCaseSensitive(req, "choose");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(req, "value");
    if (!cJSON_IsObject(req) || !cJSON_IsNumber(id) || id->valuedouble < 1 ||
        id->valuedouble > 1e15 ||
        id->valuedouble != (double)(int64_t)id->valuedouble ||
        (choose != NULL) == (value != NULL) ||
        (choose && (!cJSON_IsNumber(choose) || choose->valuedouble < 1 ||
                    choose->valuedouble > 1e6 ||
                    choose->valuedouble != (int)choose->valuedouble))) {
        cJSON_Delete(req);
        return hub__reply_err(conn, HUB_EBADINPUT, "malformed",
                              "send {\"conflict\": N, \"choose\": N} or "
                              "{\"conflict\": N, \"value\": V}");
    }
    char actor[FS_NAME_MAX + 8], err[512] = "";
    snprintf(actor, sizeof actor, "token:%s", who.name);
    sqlite3 *db = hub__db(conn);
    int rc = hub__tx_begin(db, &h->write_lock);
    if (rc == HUB_OK)
        rc =
            hub__tx_end(db, &h->write_lock,
                        hub__resolve(db, (int64_t)id->valuedouble,
                                     choose ? (int)choose->valuedouble : 0,
                                     value, actor, who.areas, err, sizeof err));
    int status;
    if (rc == HUB_ENOTFOUND)
        status = hub__reply_err(conn, rc, "not_found", "%s", err);
    else if (rc == HUB_EBADINPUT)
        status = hub__reply_err(conn, rc, "bad_parameter", "%s", err);
    else if (rc != HUB_OK)
        status = hub__reply_err(conn, rc, "storage", "could not resolve: %s",
                                hub__storage_detail(rc));
    else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "resolved", id->valuedouble);
        hub__reply_obj(conn, 200, o);
        status = 200;
    }
    cJSON_Delete(req);
    return status;
}

int hub__handle_admin_duplicates(struct mg_connection *conn, void *hubp)
{
    hub_device who;
    int bad = hub__api_begin(conn, "GET", &who, admin_only);
    if (bad)
        return bad;
    int personal = 0;
    bad =
        personal_read(conn, hubp, &who, "duplicates.read_personal", &personal);
    if (bad)
        return bad;
    cJSON *arr = hub__duplicates_json(hub__db(conn), who.areas);
    if (!arr)
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "cannot read submissions");
    /* The key is the respondent's identifying answers. */
    cJSON *g;
    cJSON *masked = personal ? NULL : arr;
    cJSON_ArrayForEach(g, masked)
    {
        cJSON_ReplaceItemInObjectCaseSensitive(g, "key", cJSON_CreateNull());
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "duplicates", arr);
    hub__reply_obj(conn, 200, root);
    return 200;
}
