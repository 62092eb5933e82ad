/*
 * pull.c - GET /api/v1/pull?after=N&limit=M: one page of the hub's change
 * log after the device's cursor. The agent applies the page and its new
 * cursor in one transaction, so a page lost in transit is simply asked
 * for again.
 */
#include <stdio.h>
#include <string.h>

#include "hierarchy.h"
#include "pull.h"
#include "errors.h"
#include "stmtcache.h"
#include "http.h"
#include "scope.h"

#define PULL_DEFAULT 100
#define PULL_MAX 500
/* A page stops growing past this many payload bytes, so one page fits a
 * slow link's timeout even when forms are large. */
#define PULL_BYTES (256 * 1024)

/* ref of a form row is "id@version". */
static int form_in_scope(const hub_device *dev, sqlite3_stmt *st)
{
    const char *ref = (const char *)sqlite3_column_text(st, 3);
    const char *at = strchr(ref, '@');
    char id[FS_ID_MAX + 1];
    size_t len = at ? (size_t)(at - ref) : strlen(ref);
    if (len > FS_ID_MAX)
        return 0;
    memcpy(id, ref, len);
    id[len] = '\0';
    return hub__scope_has(dev->forms, id);
}

int hub__handle_pull(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    if (!hub__method_is(conn, "GET"))
        return 405;
    hub_device dev;
    if (hub__auth_device(conn, &dev) != 0)
        return 401;
    hub__device_seen(hub__db(conn), &dev);
    long long after = 0, limit = 0;
    if (hub__query_int(conn, "after", 0, 0, INT64_MAX, &after) != 0 ||
        hub__query_int(conn, "limit", PULL_DEFAULT, 1, PULL_MAX, &limit) != 0)
        return 400;

    /* One row more than the page tells whether more follow. */
    int rc;
    sqlite3_stmt *st = hub__sql(
        hub__db(conn),
        "SELECT sseq, kind, payload, ref, area FROM "
        "change_log WHERE sseq > ? AND (device_id IS "
        "NULL OR device_id = ?) ORDER BY sseq LIMIT ?",
        HUB_ARGS(HUB_INT(after), HUB_TEXT(dev.id), HUB_INT(limit + 1)), &rc);
    cJSON *page = cJSON_CreateObject();
    cJSON *changes = cJSON_AddArrayToObject(page, "changes");
    long long next = after;
    size_t bytes = 0, n = 0;
    int more = 0;
    while (st && changes && (rc = hub__sql_step(st)) > 0) {
        if ((long long)n == limit || (n > 0 && bytes >= PULL_BYTES)) {
            more = 1;
            hub__sql_end(st);
            break;
        }
        const char *payload = hub__col(st, 2);
        const char *kind = hub__col(st, 1);
        next = sqlite3_column_int64(st, 0);
        /* Entity rows carry their area: a device gets its areas only. */
        const char *area = (const char *)sqlite3_column_text(st, 4);
        if ((strcmp(kind, "form") == 0 && !form_in_scope(&dev, st)) ||
            (area && hub__area_covered(hub__db(conn), dev.areas, area) != 1)) {
            /* Not for this device; the cursor still moves past it. */
            n++;
            continue;
        }
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "sseq", (double)next);
        cJSON_AddStringToObject(c, "kind", kind);
        /* Stored payloads are canonical JSON the hub wrote itself. */
        cJSON_AddItemToObject(c, "payload", cJSON_CreateRaw(payload));
        cJSON_AddItemToArray(changes, c);
        bytes += strlen(payload);
        n++;
    }
    if (!st || !changes || rc < 0) {
        cJSON_Delete(page);
        return hub__reply_err(conn, rc < 0 ? rc : HUB_ESTORAGE, "storage",
                              "the hub cannot read its change log; try "
                              "later");
    }
    cJSON_AddNumberToObject(page, "next", (double)next);
    cJSON_AddBoolToObject(page, "more", more);
    /* Lets an agent notice a hub restored from an older backup: if this
     * is below what the agent was told before, it sends again. */
    cJSON_AddNumberToObject(page, "acked_seq", (double)dev.acked_seq);
    hub__reply_obj(conn, 200, page);
    return 200;
}
