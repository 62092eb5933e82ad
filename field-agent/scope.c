/*
 * scope.c - the device's scope: the areas and forms the hub assigned it,
 * kept as the hub sends them (at enrolment, and on a pull when an admin
 * changes them), what falls outside a new scope deleted, and an area
 * checked against it.
 */
#include <stdio.h>
#include <string.h>

#include "entity.h"
#include "scope.h"
#include "store.h"

/* Keeps the device's scope ("*" or "A,B") from a JSON value that is "*"
 * or an array of codes; absent means everything. */
static int scope_text(const cJSON *v, int (*valid)(const char *), char *out,
                      size_t cap)
{
    size_t used = 0;
    snprintf(out, cap, "*");
    if (!v || (cJSON_IsString(v) && strcmp(v->valuestring, "*") == 0))
        return FA_OK;
    if (!cJSON_IsArray(v))
        return -1;
    out[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it) || !valid(it->valuestring))
            return -1;
        size_t len = strlen(it->valuestring);
        if (used + len + 2 > cap)
            return -1;
        if (used)
            out[used++] = ',';
        memcpy(out + used, it->valuestring, len + 1);
        used += len;
    }
    return FA_OK;
}

int fa__scope_save(fa_agent *ag, const cJSON *obj)
{
    char areas[FA_SCOPE_MAX], forms[FA_SCOPE_MAX];
    if (scope_text(cJSON_GetObjectItemCaseSensitive(obj, "areas"),
                   fs_valid_area_code, areas, sizeof areas) != FA_OK ||
        scope_text(cJSON_GetObjectItemCaseSensitive(obj, "forms"),
                   fs_valid_form_id, forms, sizeof forms) != FA_OK)
        return fa__fail(ag, FA_EREFUSED, "the hub sent a malformed scope");
    int rc = fa__meta_set(ag, "areas", areas);
    if (rc == FA_OK)
        rc = fa__meta_set(ag, "forms", forms);
    return rc;
}

/* Only records the hub accepted are purged: those still waiting go to
 * the hub, which decides, and those it refused stay on the device with
 * the hub's reason for the user to see. */
int fa__scope_apply(fa_agent *ag, const cJSON *payload, long long *purged)
{
    char areas[FA_SCOPE_MAX], forms[FA_SCOPE_MAX];
    int64_t acked = 0;
    const fa__setting settings[] = {
        {"areas", areas, sizeof areas, NULL},
        {"forms", forms, sizeof forms, NULL},
        {"acked_seq", NULL, 0, &acked},
    };
    int rc = fa__scope_save(ag, payload);
    if (rc == FA_OK)
        rc = fa__meta_get_all(ag, settings, 3);
    if (rc == FA_OK)
        rc = fa__entity_purge(ag, areas);
    if (rc != FA_OK)
        return rc;
    /* instr() on ",A,B," tests membership; codes contain no commas. An
     * area is kept when the scope covers it (FA_COVERED_CTE). */
    static const char *const purge[] = {
        FA_COVERED_CTE
        "DELETE FROM outbox WHERE seq <= ?3 AND EXISTS (SELECT 1 FROM "
        "submissions s WHERE s.id = outbox.ref_id AND s.rev = "
        "outbox.ref_rev AND s.state = 'sent' AND ((?1 != '*' AND "
        "s.area NOT IN (SELECT code FROM covered)) OR (?2 != '*' "
        "AND instr(',' || ?2 || ',', ',' || s.form_id || ',') = 0)))",
        FA_COVERED_CTE
        "DELETE FROM submissions WHERE state = 'sent' AND NOT EXISTS "
        "(SELECT 1 FROM outbox o WHERE o.ref_id = submissions.id AND "
        "o.ref_rev = submissions.rev AND o.seq > ?3) AND ((?1 != '*' AND "
        "area NOT IN (SELECT code FROM covered)) OR (?2 != '*' AND "
        "instr(',' || ?2 || ',', ',' || form_id || ',') = 0))",
        "DELETE FROM forms WHERE ?2 != '*' AND instr(',' || ?2 || ',', ',' "
        "|| id || ',') = 0 AND NOT EXISTS (SELECT 1 FROM submissions s "
        "WHERE s.form_id = forms.id AND s.form_version = forms.version)",
    };
    for (size_t i = 0; i < sizeof purge / sizeof purge[0]; i++) {
        rc = fa__exec(ag, "applying a new scope", purge[i], "tti", areas, forms,
                      acked);
        if (i == 1)
            *purged += sqlite3_changes(ag->db);
        if (rc != FA_OK)
            return rc;
    }
    return FA_OK;
}

int fa__area_check(fa_agent *ag, const char *area)
{
    char areas[FA_SCOPE_MAX];
    int rc = fa__meta_get(ag, "areas", areas, sizeof areas);
    if (rc != FA_OK)
        return rc;
    if (!fs_valid_area_code(area))
        return fa__fail(ag, FA_EINPUT,
                        "'%.64s' is not an area code (letters, digits, . _ "
                        "-)",
                        area);
    rc = areas[0] ? fa__area_covered(ag, areas, area, NULL) : 0;
    if (rc < 0)
        return rc;
    if (rc == 0)
        return fa__fail(ag, FA_EINPUT,
                        "this device records for %s (and the areas below "
                        "them) only",
                        areas);
    return FA_OK;
}

/* fs_parent_fn over the area entities the device holds. */
static int agent_parent(void *ctx, const char *code, char *out, size_t cap)
{
    fa_agent *ag = ctx;
    sqlite3_stmt *st = NULL;
    int rc = fa__prepare(ag, &st, "reading the areas",
                         "SELECT coalesce(f.value ->> '$', '') FROM "
                         "entities e JOIN entity_fields f ON f.entity_id "
                         "= e.id AND f.name = 'parent' WHERE e.type = "
                         "'area' AND e.area = ?1 AND e.deleted = 0",
                         "t", code);
    if (rc != FA_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(out, cap, "%s", fa__col_text(st, 0));
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return fa__store_error(ag, "reading the areas");
}

int fa__area_covered(fa_agent *ag, const char *scope, const char *area,
                     const char *parent)
{
    if (!scope[0] || strcmp(scope, "*") == 0)
        return 1;
    return fs_area_covered(scope, area, parent, agent_parent, ag);
}
