/*
 * hierarchy.c - see hierarchy.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hierarchy.h"
#include "audit.h"
#include "errors.h"
#include "scope.h"
#include "stmtcache.h"

static int level_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > HUB_LEVEL_NAME_MAX || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

int hub__levels_parse(const char *text, hub_levels *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (!level_name_ok(p, len))
            return hub__errf(err, cap,
                             "level '%.*s' is not a level name (a lower-case "
                             "letter, then letters, digits, '_' or '-'; up "
                             "to %d)",
                             (int)(len > 40 ? 40 : len), p, HUB_LEVEL_NAME_MAX);
        if (out->n == HUB_LEVELS_MAX)
            return hub__errf(err, cap,
                             "more than %d levels; a hierarchy holds at most "
                             "%d (e.g. province,district,ward,village)",
                             HUB_LEVELS_MAX, HUB_LEVELS_MAX);
        memcpy(out->name[out->n], p, len);
        out->name[out->n][len] = '\0';
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->name[i], out->name[out->n]) == 0)
                return hub__errf(err, cap, "level %s is named twice",
                                 out->name[i]);
        out->n++;
        if (!end)
            break;
        p = end + 1;
        if (!*p)
            return hub__errf(err, cap, "a level name is missing after ','");
    }
    if (out->n == 0)
        return hub__errf(err, cap,
                         "no levels given: name them from the top down, "
                         "joined by commas, e.g. "
                         "province,district,ward,village");
    size_t used = 0;
    for (size_t i = 0; i < out->n; i++)
        used += (size_t)snprintf(out->text + used, sizeof out->text - used,
                                 "%s%s", i ? "," : "", out->name[i]);
    return 0;
}

int hub__levels_get(sqlite3 *db, hub_levels *out)
{
    int rc;
    char err[200];
    sqlite3_stmt *st =
        hub__sql(db, "SELECT value FROM settings WHERE name = 'area_levels'",
                 NULL, 0, &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return hub__levels_parse(HUB_LEVELS_DEFAULT, out, err, sizeof err) == 0
                   ? HUB_OK
                   : HUB_ESTORAGE;
    rc = hub__levels_parse(hub__col(st, 0), out, err, sizeof err);
    hub__sql_end(st);
    /* A hand-edited row: refuse rather than guess. */
    return rc == 0 ? HUB_OK : HUB_ESTORAGE;
}

int hub__levels_set(sqlite3 *db, const hub_levels *lv, const char *actor)
{
    hub_levels before;
    int rc = hub__levels_get(db, &before);
    if (rc == HUB_OK && strcmp(before.text, lv->text) == 0)
        return HUB_OK;
    if (rc == HUB_OK)
        rc = hub__sql_run(db,
                          "INSERT INTO settings (name, value) VALUES "
                          "('area_levels', ?1) ON CONFLICT (name) DO UPDATE "
                          "SET value = excluded.value",
                          HUB_ARGS(HUB_TEXT(lv->text)));
    if (rc == HUB_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "setting", "area_levels");
        cJSON_AddStringToObject(d, "from", before.text);
        cJSON_AddStringToObject(d, "to", lv->text);
        rc = hub__audit(db, actor, "config.set", d);
    }
    return rc;
}

/* fs_parent_fn over the registry's areas. */
static int hub_parent(void *ctx, const char *code, char *out, size_t cap)
{
    int rc;
    sqlite3_stmt *st = hub__sql(ctx,
                                "SELECT coalesce(parent, '') FROM "
                                "mapping_areas WHERE code = ?1",
                                HUB_ARGS(HUB_TEXT(code)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc <= 0)
        return rc;
    snprintf(out, cap, "%s", hub__col(st, 0));
    hub__sql_end(st);
    return 1;
}

int hub__area_covered(sqlite3 *db, const char *scope, const char *area)
{
    if (!scope[0])
        return 0;
    if (strcmp(scope, "*") == 0)
        return 1;
    return fs_area_covered(scope, area, NULL, hub_parent, db);
}

int hub__area_scope_within(sqlite3 *db, const char *inner, const char *outer)
{
    if (strcmp(outer, "*") == 0)
        return 1;
    if (!inner[0] || strcmp(inner, "*") == 0)
        return 0;
    for (const char *p = inner; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[FS_ID_MAX + 1];
        if (len == 0 || len > FS_ID_MAX)
            return 0;
        memcpy(item, p, len);
        item[len] = '\0';
        int c = hub__area_covered(db, outer, item);
        if (c <= 0)
            return c;
        p += len + (end ? 1 : 0);
    }
    return 1;
}

/* ---- hub_area_in(scope, area) ------------------------------------- */

/* The codes a scope covers, sorted: its own items and every area below
 * them. Kept as the scope argument's auxiliary data, so a statement
 * expands its scope once however many rows it tests. */
typedef struct covered {
    size_t n;
    char **codes;
} covered;

static void covered_free(void *p)
{
    covered *c = p;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        sqlite3_free(c->codes[i]);
    sqlite3_free(c->codes);
    sqlite3_free(c);
}

static int code_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every area at or below the scope's items, and the items themselves
 * (an item need not be a registered area). */
static const char expand_sql[] =
    "WITH RECURSIVE a(code, parent) AS MATERIALIZED (SELECT code, parent "
    "FROM mapping_areas), d(code, n) AS (SELECT value, 0 FROM "
    "json_each('[\"' || replace(?1, ',', '\",\"') || '\"]') UNION SELECT "
    "a.code, d.n + 1 FROM a JOIN d ON a.parent = d.code WHERE d.n < 64) "
    "SELECT DISTINCT code FROM d";

static covered *expand(sqlite3 *db, const char *scope)
{
    covered *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    /* A statement of its own: this runs inside another one's step. */
    int rc = sqlite3_prepare_v2(db, expand_sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *code = (const char *)sqlite3_column_text(st, 0);
        if (!code)
            continue;
        if (c->n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            char **g = sqlite3_realloc64(c->codes, nc * sizeof *g);
            if (!g)
                break;
            c->codes = g;
            cap = nc;
        }
        c->codes[c->n] = sqlite3_mprintf("%s", code);
        if (!c->codes[c->n])
            break;
        c->n++;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        covered_free(c);
        return NULL;
    }
    qsort(c->codes, c->n, sizeof *c->codes, code_cmp);
    return c;
}

static void area_in(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *scope = (const char *)sqlite3_value_text(argv[0]);
    const char *area = (const char *)sqlite3_value_text(argv[1]);
    if (!scope || !area || !scope[0]) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    if (strcmp(scope, "*") == 0) {
        sqlite3_result_int(ctx, 1);
        return;
    }
    covered *c = sqlite3_get_auxdata(ctx, 0);
    if (!c) {
        c = expand(sqlite3_context_db_handle(ctx), scope);
        if (!c) { /* fail closed: the query stops */
            sqlite3_result_error(ctx, "cannot read the areas' hierarchy", -1);
            return;
        }
        sqlite3_set_auxdata(ctx, 0, c, covered_free);
        c = sqlite3_get_auxdata(ctx, 0);
        if (!c) { /* not kept: expand again next row */
            sqlite3_result_int(ctx,
                               hub__area_covered(sqlite3_context_db_handle(ctx),
                                                 scope, area) == 1);
            return;
        }
    }
    sqlite3_result_int(ctx, bsearch(&area, c->codes, c->n, sizeof *c->codes,
                                    code_cmp) != NULL);
}

int hub__hierarchy_register(sqlite3 *db)
{
    return sqlite3_create_function(db, "hub_area_in", 2,
                                   SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL,
                                   area_in, NULL, NULL) == SQLITE_OK
               ? 0
               : -1;
}
