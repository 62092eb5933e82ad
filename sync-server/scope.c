/*
 * scope.c - areas and forms a device or token may touch.
 *
 * A scope is "*" or item codes joined by commas ("N-01,N-02"). Item
 * syntax (PROTOCOL.md 3) has no commas, so the text form needs no
 * escaping and SQL can test membership with instr().
 */
#include <stdio.h>
#include <string.h>

#include "hierarchy.h"
#include "scope.h"

int hub__scope_has(const char *scope, const char *item)
{
    /* An empty scope is stored nowhere: the hub always writes '*' or a
     * list. Treat it as nothing, not everything. */
    return scope[0] != '\0' && fs_scope_has(scope, item);
}

int hub__scope_within(const char *inner, const char *outer)
{
    if (strcmp(outer, "*") == 0)
        return 1;
    if (!inner[0] || strcmp(inner, "*") == 0)
        return 0;
    const char *p = inner;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[128];
        if (len == 0 || len >= sizeof item)
            return 0;
        memcpy(item, p, len);
        item[len] = '\0';
        if (!hub__scope_has(outer, item))
            return 0;
        p += len + (end ? 1 : 0);
    }
    return 1;
}

int hub__scope_parse(const char *in, int (*valid)(const char *), char *out,
                     size_t cap, char *err, size_t errlen)
{
    size_t used = 0;
    out[0] = '\0';
    if (strcmp(in, "*") == 0) {
        snprintf(out, cap, "*");
        return 0;
    }
    const char *p = in;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ')
            p++;
        size_t len = (size_t)(p - start);
        if (len == 0)
            break;
        char item[FS_ID_MAX + 1];
        if (len > FS_ID_MAX) {
            snprintf(err, errlen, "'%.*s...' is longer than %d characters", 20,
                     start, FS_ID_MAX);
            return -1;
        }
        memcpy(item, start, len);
        item[len] = '\0';
        if (!valid(item)) {
            snprintf(err, errlen, "'%s' is not a valid code", item);
            return -1;
        }
        if (hub__scope_has(out, item))
            continue;
        if (used + len + 2 > cap) {
            snprintf(err, errlen, "the list is longer than %zu bytes", cap - 1);
            return -1;
        }
        if (used > 0)
            out[used++] = ',';
        memcpy(out + used, item, len);
        used += len;
        out[used] = '\0';
    }
    if (used == 0) {
        snprintf(err, errlen,
                 "the list is empty; give codes separated by "
                 "commas, or * for all");
        return -1;
    }
    return 0;
}

void hub__scope_filter(sqlite3 *db, const hub_device *dev, fs_changeset *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        fs_change *c = &cs->changes[i];
        fs_err e = {0};
        /* Entities: their area is the hub's to know (entity.c). */
        if (c->err != 0 || c->kind != FS_CHANGE_SUBMISSION)
            continue;
        /* fs_err_set cuts long messages on a character boundary. */
        if (hub__area_covered(db, dev->areas, c->sub.area) != 1)
            fs_err_set(&e, FS_ESCOPE,
                       "changes[%zu].area: this device records for areas "
                       "%s only, not '%s'; ask the hub admin to extend its "
                       "areas",
                       i, dev->areas, c->sub.area[0] ? c->sub.area : "(none)");
        else if (!hub__scope_has(dev->forms, c->sub.form_id))
            fs_err_set(&e, FS_ESCOPE,
                       "changes[%zu].form: form %s is not assigned to this "
                       "device",
                       i, c->sub.form_id);
        if (e.code != 0) {
            c->err = e.code;
            memcpy(c->errmsg, e.msg, sizeof c->errmsg);
        }
    }
}

cJSON *hub__scope_json(const char *scope)
{
    if (strcmp(scope, "*") == 0)
        return cJSON_CreateString("*");
    cJSON *arr = cJSON_CreateArray();
    for (const char *p = scope; arr && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[FS_ID_MAX + 1];
        if (len > FS_ID_MAX)
            len = FS_ID_MAX;
        memcpy(item, p, len);
        item[len] = '\0';
        cJSON_AddItemToArray(arr, cJSON_CreateString(item));
        if (!comma)
            break;
        p = comma + 1;
    }
    return arr;
}
