/*
 * areas.c - the areas from a GeoJSON file: a hierarchy of the levels an
 * admin defines (hierarchy.h; city > district > neighbourhood unless
 * set), each area with a code, a name, a parent and a geometry.
 *
 * An import is all or nothing: every feature is checked first, and the
 * first problem refuses the whole file with the feature's index and the
 * reason, before anything is written; the hierarchy (parents known, no
 * cycles, no deeper than the levels) is checked again inside the
 * transaction against the areas already stored.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "areas.h"
#include "audit.h"
#include "cli.h"
#include "db.h"
#include "entity.h"
#include "hierarchy.h"
#include "errors.h"
#include "output.h"
#include "stmtcache.h"

#define AREAS_FILE_MAX (64 * 1024 * 1024)
#define AREAS_MAX 5000
/* The registry holds an area's boundary as text of at most this many
 * bytes (schema/entities.json). */
#define GEOMETRY_MAX 60000
/* JSON values in one file: thousands of points for every area of a
 * city, far fewer than 64 MiB of text could hold (each cJSON value
 * costs ~64 bytes of memory). */
#define AREAS_VALUES_MAX (8 * 1000 * 1000)

/* [lon, lat] with both in range. */
static int position_ok(const cJSON *p)
{
    const cJSON *x = cJSON_GetArrayItem(p, 0), *y = cJSON_GetArrayItem(p, 1);
    int n = cJSON_GetArraySize(p);
    return cJSON_IsArray(p) && (n == 2 || n == 3) && cJSON_IsNumber(x) &&
           cJSON_IsNumber(y) && isfinite(x->valuedouble) &&
           fabs(x->valuedouble) <= 180 && fabs(y->valuedouble) <= 90;
}

static int same_position(const cJSON *a, const cJSON *b)
{
    return cJSON_GetArrayItem(a, 0)->valuedouble ==
               cJSON_GetArrayItem(b, 0)->valuedouble &&
           cJSON_GetArrayItem(a, 1)->valuedouble ==
               cJSON_GetArrayItem(b, 1)->valuedouble;
}

/* A polygon: linear rings of 4 or more positions, first = last. */
static int polygon_ok(const cJSON *rings, char *why, size_t cap)
{
    if (!cJSON_IsArray(rings) || cJSON_GetArraySize(rings) < 1)
        return hub__errf(why, cap, "a polygon needs at least one ring");
    int r = 0;
    const cJSON *ring;
    cJSON_ArrayForEach(ring, rings)
    {
        int n = cJSON_GetArraySize(ring);
        if (!cJSON_IsArray(ring) || n < 4)
            return hub__errf(why, cap, "ring %d needs at least 4 positions", r);
        const cJSON *p;
        int i = 0;
        cJSON_ArrayForEach(p, ring)
        {
            if (!position_ok(p))
                return hub__errf(why, cap,
                                 "ring %d position %d is not [lon, lat] "
                                 "within -180..180, -90..90",
                                 r, i);
            i++;
        }
        if (!same_position(ring->child, cJSON_GetArrayItem(ring, n - 1)))
            return hub__errf(why, cap,
                             "ring %d is not closed (its last position must "
                             "equal its first)",
                             r);
        r++;
    }
    return 0;
}

static int geometry_ok(const cJSON *g, char *why, size_t cap)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(g, "type");
    const cJSON *coords = cJSON_GetObjectItemCaseSensitive(g, "coordinates");
    if (!cJSON_IsObject(g) || !cJSON_IsString(type))
        return hub__errf(why, cap, "geometry: not a GeoJSON geometry");
    if (!coords)
        return hub__errf(why, cap, "geometry: no coordinates");
    if (strcmp(type->valuestring, "Point") == 0) {
        if (!position_ok(coords))
            return hub__errf(why, cap,
                             "geometry: a Point needs [lon, lat] within "
                             "-180..180, -90..90");
        return 0;
    }
    char inner[200];
    if (strcmp(type->valuestring, "Polygon") == 0) {
        if (polygon_ok(coords, inner, sizeof inner) != 0)
            return hub__errf(why, cap, "geometry: %s", inner);
        return 0;
    }
    if (strcmp(type->valuestring, "MultiPolygon") == 0) {
        if (!cJSON_IsArray(coords) || cJSON_GetArraySize(coords) < 1)
            return hub__errf(why, cap,
                             "geometry: a MultiPolygon needs polygons");
        int i = 0;
        const cJSON *poly;
        cJSON_ArrayForEach(poly, coords)
        {
            if (polygon_ok(poly, inner, sizeof inner) != 0)
                return hub__errf(why, cap, "geometry: polygon %d: %s", i,
                                 inner);
            i++;
        }
        return 0;
    }
    return hub__errf(why, cap,
                     "geometry: type %.40s is not Polygon, MultiPolygon or "
                     "Point",
                     type->valuestring);
}

cJSON *hub__area_geometry(const char *text, char *why, size_t cap)
{
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len > GEOMETRY_MAX) {
        hub__errf(why, cap, "geometry: %s",
                  len ? "longer than 60000 bytes" : "empty");
        return NULL;
    }
    fs_limits lim;
    fs_limits_default(&lim);
    lim.max_depth = 8; /* MultiPolygon: geometry, polygons, rings, points */
    cJSON *g = NULL;
    fs_err perr = {0};
    if (fs_json_parse(text, len, &lim, &g, &perr) != FS_OK) {
        hub__errf(why, cap, "geometry: not JSON (%s)", perr.msg);
        return NULL;
    }
    if (geometry_ok(g, why, cap) != 0) {
        cJSON_Delete(g);
        return NULL;
    }
    return g;
}

/* One feature: its properties and geometry. */
static int feature_ok(const cJSON *f, char *why, size_t cap)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(f, "type");
    if (!cJSON_IsObject(f) || !cJSON_IsString(type) ||
        strcmp(type->valuestring, "Feature") != 0)
        return hub__errf(why, cap, "not a GeoJSON Feature");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "properties");
    if (!cJSON_IsObject(p))
        return hub__errf(why, cap, "no properties (code, name, parent)");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(p, "code");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
    const cJSON *parent = cJSON_GetObjectItemCaseSensitive(p, "parent");
    if (!cJSON_IsString(code) || !fs_valid_area_code(code->valuestring))
        return hub__errf(why, cap,
                         "properties.code must be an area code (letters, "
                         "digits, '.', '_', '-'; up to 64), or left out for "
                         "the hub to make one from the parent's code and "
                         "the name");
    if (!cJSON_IsString(name) || !fs_valid_name(name->valuestring))
        return hub__errf(why, cap,
                         "properties.name must be printable text of 1 to "
                         "128 bytes");
    if (parent && !cJSON_IsNull(parent) &&
        !(cJSON_IsString(parent) && (parent->valuestring[0] == '\0' ||
                                     fs_valid_area_code(parent->valuestring))))
        return hub__errf(why, cap,
                         "properties.parent must be an area code, \"\" or "
                         "null");
    return geometry_ok(cJSON_GetObjectItemCaseSensitive(f, "geometry"), why,
                       cap);
}

static const char *parent_of(const cJSON *f)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(f, "properties"), "parent");
    return cJSON_IsString(p) && p->valuestring[0] ? p->valuestring : NULL;
}

static const char *code_of(const cJSON *f)
{
    return cJSON_GetObjectItemCaseSensitive(
               cJSON_GetObjectItemCaseSensitive(f, "properties"), "code")
        ->valuestring;
}

/* A feature without a code gets PARENT.NAME (NAME alone at the top),
 * the name's letters and digits kept and every other run of bytes made
 * one '-': a village name repeated under two wards gets two codes.
 * Left as it is (and refused by feature_ok) when that is no code. */
static void make_code(cJSON *f)
{
    cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "properties");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
    const cJSON *parent = cJSON_GetObjectItemCaseSensitive(p, "parent");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(p, "code");
    if (!cJSON_IsObject(p) || (code && !cJSON_IsNull(code)) ||
        !cJSON_IsString(name))
        return;
    char out[FS_ID_MAX + 2];
    size_t n = 0;
    if (cJSON_IsString(parent) && parent->valuestring[0])
        n = (size_t)snprintf(out, sizeof out, "%s.", parent->valuestring);
    int dash = 0;
    for (const char *c = name->valuestring; *c && n < sizeof out - 1; c++) {
        int keep = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                   (*c >= '0' && *c <= '9');
        if (keep) {
            if (dash && n > 0 && out[n - 1] != '.')
                out[n++] = '-';
            if (n < sizeof out - 1)
                out[n++] = *c;
            dash = 0;
        } else {
            dash = 1;
        }
    }
    out[n < sizeof out ? n : sizeof out - 1] = '\0';
    if (!fs_valid_area_code(out))
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(p, "code");
    cJSON_AddStringToObject(p, "code", out);
}

/* The file's own "levels" member (names from the top down), when it has
 * one: 1 with lv set, 0 when absent, -1 with err when malformed. */
static int file_levels(const cJSON *doc, hub_levels *lv, char *err, size_t cap)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(doc, "levels");
    if (!l)
        return 0;
    char text[HUB_LEVELS_MAX * (HUB_LEVEL_NAME_MAX + 1) + 1] = "";
    size_t used = 0;
    const cJSON *it;
    int n = cJSON_GetArraySize(l);
    if (!cJSON_IsArray(l) || n < 1 || n > HUB_LEVELS_MAX) {
        hub__errf(err, cap,
                  "levels must be an array of 1 to %d level names from the "
                  "top down, e.g. [\"province\", \"district\", \"ward\", "
                  "\"village\"]",
                  HUB_LEVELS_MAX);
        return -1;
    }
    cJSON_ArrayForEach(it, l)
    {
        if (!cJSON_IsString(it) ||
            strlen(it->valuestring) > HUB_LEVEL_NAME_MAX ||
            strchr(it->valuestring, ',')) {
            hub__errf(err, cap,
                      "levels: each level is a name of up to %d "
                      "characters",
                      HUB_LEVEL_NAME_MAX);
            return -1;
        }
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%s",
                                 used ? "," : "", it->valuestring);
    }
    char why[300];
    if (hub__levels_parse(text, lv, why, sizeof why) != 0) {
        hub__errf(err, cap, "levels: %s", why);
        return -1;
    }
    return 1;
}

/* Checks the whole file; on a problem, err names the feature. */
static int collection_ok(cJSON *doc, char *err, size_t cap)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(doc, "type");
    cJSON *fs = cJSON_GetObjectItemCaseSensitive(doc, "features");
    if (!cJSON_IsString(type) ||
        strcmp(type->valuestring, "FeatureCollection") != 0 ||
        !cJSON_IsArray(fs))
        return hub__errf(err, cap,
                         "not a GeoJSON FeatureCollection with "
                         "features");
    int n = cJSON_GetArraySize(fs);
    if (n == 0 || n > AREAS_MAX)
        return hub__errf(err, cap,
                         "the file has %d features; 1 to %d "
                         "are imported at once",
                         n, AREAS_MAX);
    char why[300];
    int i = 0;
    cJSON *f;
    cJSON_ArrayForEach(f, fs)
    {
        make_code(f);
        if (feature_ok(f, why, sizeof why) != 0)
            return hub__errf(err, cap, "feature %d: %s", i, why);
        const cJSON *g;
        int j = 0;
        cJSON_ArrayForEach(g, fs)
        {
            if (j >= i)
                break;
            if (strcmp(code_of(g), code_of(f)) == 0)
                return hub__errf(err, cap,
                                 "feature %d: code %s is also feature %d's", i,
                                 code_of(f), j);
            j++;
        }
        char *geom = cJSON_PrintUnformatted(
            cJSON_GetObjectItemCaseSensitive(f, "geometry"));
        size_t glen = geom ? strlen(geom) : 0;
        free(geom);
        if (glen > GEOMETRY_MAX)
            return hub__errf(err, cap,
                             "feature %d: the geometry takes %zu bytes; an "
                             "area's boundary holds at most %d (simplify "
                             "it, e.g. with ogr2ogr -simplify)",
                             i, glen, GEOMETRY_MAX);
        const char *parent = parent_of(f);
        if (parent && strcmp(parent, code_of(f)) == 0)
            return hub__errf(err, cap, "feature %d: area %s is its own parent",
                             i, parent);
        i++;
    }
    return 0;
}

/* One area of the hierarchy being checked: stored, from the file, or
 * both (the file wins). */
typedef struct node {
    char code[FS_ID_MAX + 1];
    char parent[FS_ID_MAX + 1]; /* "" for a city */
    char stored_parent[FS_ID_MAX + 1];
    char id[FS_UUID_LEN + 1];           /* the stored entity, "" when new */
    char level[HUB_LEVEL_NAME_MAX + 1]; /* stored level */
    char *name, *geometry;              /* stored values (owned), or NULL */
    int feature;                        /* index in the file, or -1 */
    int depth;
} node;

typedef struct forest {
    node *v;
    size_t n;
} forest;

static node *find_node(const forest *t, const char *code)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].code, code) == 0)
            return &t->v[i];
    return NULL;
}

static void forest_free(forest *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].name);
        free(t->v[i].geometry);
    }
    free(t->v);
}

static char *dup_col(sqlite3_stmt *st, int c)
{
    const char *t = (const char *)sqlite3_column_text(st, c);
    return t ? strdup(t) : NULL;
}

/* The areas of the registry, then the file's features over them. */
static int load_forest(sqlite3 *db, const cJSON *fs, forest *t)
{
    int nf = cJSON_GetArraySize(fs);
    size_t stored = 0;
    int rc;
    sqlite3_stmt *st =
        hub__sql(db, "SELECT count(*) FROM mapping_areas", NULL, 0, &rc);
    if (!st)
        return -1;
    if (hub__sql_step(st) > 0) {
        stored = (size_t)sqlite3_column_int64(st, 0);
        hub__sql_end(st);
    }
    t->v = calloc(stored + (size_t)nf + 1, sizeof *t->v);
    st = t->v ? hub__sql(db,
                         "SELECT id, code, coalesce(parent, ''), "
                         "coalesce(level, ''), name, geometry FROM "
                         "mapping_areas",
                         NULL, 0, &rc)
              : NULL;
    if (!st)
        return -1;
    while (t->n < stored && hub__sql_step(st) > 0) {
        node *x = &t->v[t->n++];
        snprintf(x->id, sizeof x->id, "%s", hub__col(st, 0));
        snprintf(x->code, sizeof x->code, "%s", hub__col(st, 1));
        snprintf(x->parent, sizeof x->parent, "%s", hub__col(st, 2));
        snprintf(x->stored_parent, sizeof x->stored_parent, "%s", x->parent);
        snprintf(x->level, sizeof x->level, "%s", hub__col(st, 3));
        x->name = dup_col(st, 4);
        x->geometry = dup_col(st, 5);
        x->feature = -1;
    }
    hub__sql_end(st);
    int i = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, fs)
    {
        node *x = find_node(t, code_of(f));
        if (!x) {
            x = &t->v[t->n++];
            snprintf(x->code, sizeof x->code, "%s", code_of(f));
        }
        snprintf(x->parent, sizeof x->parent, "%s",
                 parent_of(f) ? parent_of(f) : "");
        x->feature = i++;
    }
    return 0;
}

/* Depth of every area from its parents: 0 at the top level, 1 below
 * it, ... A missing parent, a cycle or an area deeper than the levels
 * is refused, naming the feature (or the stored area) in err. */
static int check_forest(forest *t, const hub_levels *lv, const char *file,
                        char *err, size_t cap)
{
    for (size_t i = 0; i < t->n; i++) {
        node *x = &t->v[i];
        const node *at = x;
        const char *missing = NULL;
        int depth = 0;
        while (at->parent[0]) {
            const node *up = find_node(t, at->parent);
            if (!up) {
                missing = at->parent;
                break;
            }
            /* Longer than every area together: a cycle. */
            if (++depth > (int)t->n)
                break;
            at = up;
        }
        char who[200];
        if (x->feature >= 0)
            snprintf(who, sizeof who, "feature %d (area %s)", x->feature,
                     x->code);
        else
            snprintf(who, sizeof who, "stored area %s", x->code);
        if (missing)
            return hub__errf(err, cap,
                             "%s: %s: parent %s is neither in the file nor "
                             "stored",
                             file, who, missing);
        if (depth > (int)t->n)
            return hub__errf(err, cap, "%s: %s: its parents form a cycle", file,
                             who);
        if (depth >= (int)lv->n)
            return hub__errf(err, cap,
                             "%s: %s: it lies %d levels below the top, but "
                             "the hierarchy has %zu levels (%s); name more "
                             "with `fieldsync-hub areas levels` or a "
                             "\"levels\" member in the file (at most %d)",
                             file, who, depth + 1, lv->n, lv->text,
                             HUB_LEVELS_MAX);
        x->depth = depth;
    }
    return 0;
}

/* Adds name -> text to o when it differs from the stored value. */
static void put_changed(cJSON *o, const char *name, const char *text,
                        const char *stored)
{
    if (!stored || strcmp(stored, text) != 0)
        cJSON_AddStringToObject(o, name, text);
}

/* Writes the fields that changed of one area through the registry. */
static int write_area(sqlite3 *db, const node *x, const char *level,
                      const cJSON *f, const char *file, char *err, size_t cap)
{
    cJSON *o = cJSON_CreateObject();
    if (f) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "properties");
        put_changed(o, "name",
                    cJSON_GetObjectItemCaseSensitive(p, "name")->valuestring,
                    x->name);
        /* A city has no parent: left out when new, cleared when it had
         * one. */
        if (x->parent[0] &&
            (!x->id[0] || strcmp(x->parent, x->stored_parent) != 0))
            cJSON_AddStringToObject(o, "parent", x->parent);
        else if (!x->parent[0] && x->stored_parent[0])
            cJSON_AddNullToObject(o, "parent");
        char *g = cJSON_PrintUnformatted(
            cJSON_GetObjectItemCaseSensitive(f, "geometry"));
        if (!g) {
            cJSON_Delete(o);
            return HUB_ESTORAGE;
        }
        put_changed(o, "geometry", g, x->geometry);
        free(g);
        if (!x->id[0])
            cJSON_AddStringToObject(o, "code", x->code);
    }
    put_changed(o, "level", level, x->id[0] ? x->level : NULL);
    int rc = HUB_OK;
    char why[400] = "";
    if (o->child)
        rc = hub__entity_admin_write(db, "area", x->id[0] ? x->id : NULL, o,
                                     "cli", NULL, why, sizeof why);
    cJSON_Delete(o);
    if (rc == HUB_EBADINPUT || rc == HUB_ENOTFOUND) {
        if (x->feature >= 0)
            return hub__errf(err, cap, "%s: feature %d (area %s): %s", file,
                             x->feature, x->code, why);
        return hub__errf(err, cap, "%s: stored area %s: %s", file, x->code,
                         why);
    }
    return rc == HUB_OK ? HUB_OK : HUB_ESTORAGE;
}

/* Stores the file's areas in the registry inside the caller's
 * transaction, and the new level of stored areas whose parents moved. */
static int store(sqlite3 *db, const cJSON *fs, const hub_levels *lv,
                 const char *file, char *err, size_t cap)
{
    forest t = {0};
    int rc = load_forest(db, fs, &t) == 0 ? 0 : HUB_ESTORAGE;
    if (rc == 0)
        rc = check_forest(&t, lv, file, err, cap);
    for (size_t i = 0; rc == 0 && i < t.n; i++) {
        const node *x = &t.v[i];
        const char *level = lv->name[x->depth];
        if (x->feature >= 0)
            rc = write_area(db, x, level, cJSON_GetArrayItem(fs, x->feature),
                            file, err, cap);
        else if (strcmp(x->level, level) != 0)
            rc = write_area(db, x, level, NULL, file, err, cap);
    }
    forest_free(&t);
    return rc;
}

int hub_areas_import(const char *db_path, const char *file, FILE *out)
{
    size_t len = 0;
    char *text = hub__read_file(file, AREAS_FILE_MAX, &len);
    if (!text)
        return 1;
    char err[512] = "";
    cJSON *doc = NULL;
    /* An admin's file, but a large one: bounded like anything untrusted,
     * with room for AREAS_MAX detailed boundaries. */
    fs_limits lim;
    fs_limits_default(&lim);
    lim.max_depth = 32;
    lim.max_values = AREAS_VALUES_MAX;
    fs_err perr = {0};
    if (!fs_utf8_valid(text, len))
        hub__errf(err, sizeof err, "not UTF-8 text");
    else if (fs_json_parse(text, len, &lim, &doc, &perr) != FS_OK)
        hub__errf(err, sizeof err, "not JSON the hub can import (%s)",
                  perr.msg);
    else
        collection_ok(doc, err, sizeof err);
    hub_levels given;
    int has_levels = err[0] ? 0 : file_levels(doc, &given, err, sizeof err);
    free(text);
    if (err[0]) {
        fprintf(stderr, "fieldsync-hub: %s: %s; no area was imported\n", file,
                err);
        cJSON_Delete(doc);
        return 2;
    }
    int status = 1;
    sqlite3 *db = hub__open(db_path);
    if (!db || hub__exec(db, "BEGIN IMMEDIATE") != 0)
        goto out;
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(doc, "features");
    hub_levels lv;
    int rc = has_levels ? hub__levels_set(db, &given, "cli")
                        : hub__levels_get(db, &lv);
    if (has_levels)
        lv = given;
    if (rc == 0)
        rc = store(db, fs, &lv, file, err, sizeof err);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "file", file);
    cJSON_AddNumberToObject(d, "features", cJSON_GetArraySize(fs));
    if (rc == 0 && hub__audit(db, "cli", "areas.import", d) != HUB_OK)
        rc = HUB_ESTORAGE;
    else if (rc != 0)
        cJSON_Delete(d);
    if (rc == 0 && hub__exec(db, "COMMIT") == 0) {
        fprintf(out, "imported %d areas from %s\n", cJSON_GetArraySize(fs),
                file);
        status = 0;
        goto out;
    }
    if (rc == HUB_EBADINPUT) {
        fprintf(stderr, "fieldsync-hub: %s; no area was imported\n", err);
        status = 2;
    } else {
        fprintf(stderr, "fieldsync-hub: cannot store the areas: %s\n",
                sqlite3_errmsg(db));
    }
    hub__exec(db, "ROLLBACK");
out:
    hub__close(db);
    cJSON_Delete(doc);
    return status;
}

cJSON *hub__areas_json(sqlite3 *db)
{
    hub_levels lv;
    int rc = hub__levels_get(db, &lv);
    if (rc != HUB_OK)
        return NULL;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT code, name, coalesce(parent, ''), level, "
        "coalesce(json_extract(geometry, '$.type'), '') FROM mapping_areas "
        "ORDER BY " HUB_LEVEL_ORDER("?1") ", code",
        HUB_ARGS(HUB_TEXT(lv.text)), &rc);
    if (!st)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "areas");
    static const char *const keys[] = {"code", "name", "parent", "level",
                                       "geometry"};
    while (hub__sql_step(st) > 0) {
        cJSON *o = cJSON_CreateObject();
        /* An area without a name or level yet leaves the member out. */
        for (int c = 0; c < 5; c++)
            cJSON_AddStringToObject(o, keys[c],
                                    (const char *)sqlite3_column_text(st, c));
        cJSON_AddItemToArray(arr, o);
    }
    return root;
}

const char *const hub__area_cols[] = {"code",  "name",     "parent",
                                      "level", "geometry", NULL};

int hub_areas_list(const char *db_path, int format, FILE *out)
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    cJSON *root = hub__areas_json(db);
    int rc =
        root ? hub__print_rows(out, format, root, "areas", hub__area_cols) : -1;
    if (!root)
        fprintf(stderr, "fieldsync-hub: database error: %s\n",
                sqlite3_errmsg(db));
    cJSON_Delete(root);
    hub__close(db);
    return rc == 0 ? 0 : 1;
}

int hub_areas_levels(const char *db_path, const char *text, FILE *out)
{
    hub_levels lv;
    char err[512] = "";
    if (text && hub__levels_parse(text, &lv, err, sizeof err) != 0) {
        fprintf(stderr, "fieldsync-hub: %s; the levels were not changed\n",
                err);
        return 2;
    }
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    int status = 1, rc;
    if (!text) { /* show them */
        rc = hub__levels_get(db, &lv);
        if (rc == HUB_OK) {
            for (size_t i = 0; i < lv.n; i++)
                fprintf(out, "%s%s", i ? " > " : "", lv.name[i]);
            fprintf(out, "\n");
            status = 0;
        } else {
            fprintf(stderr, "fieldsync-hub: cannot read the levels: %s\n",
                    sqlite3_errmsg(db));
        }
        hub__close(db);
        return status;
    }
    if (hub__exec(db, "BEGIN IMMEDIATE") != 0) {
        hub__close(db);
        return 1;
    }
    /* The stored areas take the new names of their depths; an area
     * deeper than the new levels refuses the change. */
    rc = hub__levels_set(db, &lv, "cli");
    cJSON *none = rc == HUB_OK ? cJSON_CreateArray() : NULL;
    if (rc == HUB_OK)
        rc = none ? store(db, none, &lv, "areas levels", err, sizeof err)
                  : HUB_ENOMEM;
    cJSON_Delete(none);
    if (rc == HUB_OK && hub__exec(db, "COMMIT") == 0) {
        fprintf(out, "area levels: ");
        for (size_t i = 0; i < lv.n; i++)
            fprintf(out, "%s%s", i ? " > " : "", lv.name[i]);
        fprintf(out, "\n");
        status = 0;
    } else {
        if (rc == HUB_EBADINPUT) {
            fprintf(stderr, "fieldsync-hub: %s; the levels were not changed\n",
                    err);
            status = 2;
        } else {
            fprintf(stderr, "fieldsync-hub: cannot store the levels: %s\n",
                    sqlite3_errmsg(db));
        }
        hub__exec(db, "ROLLBACK");
    }
    hub__close(db);
    return status;
}
