/*
 * areas.c - the city's areas from a GeoJSON file: city > district >
 * neighbourhood, each with a code, a name and a geometry.
 *
 * An import is all or nothing: every feature is checked first, and the
 * first problem refuses the whole file with the feature's index and the
 * reason, before anything is written; the hierarchy (parents known, no
 * cycles, at most three levels) is checked again inside the transaction
 * against the areas already stored.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "hub_int.h"

#define AREAS_FILE_MAX (64 * 1024 * 1024)
#define AREAS_MAX 100000

static const char *const levels[] = {"city", "district", "neighbourhood"};

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
            return hub__errf(why, cap,
                           "ring %d needs at least 4 positions", r);
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
                       "digits, '.', '_', '-'; up to 64)");
    if (!cJSON_IsString(name) || !fs_valid_name(name->valuestring))
        return hub__errf(why, cap,
                       "properties.name must be printable text of 1 to "
                       "128 bytes");
    if (parent && !cJSON_IsNull(parent) &&
        !(cJSON_IsString(parent) &&
          (parent->valuestring[0] == '\0' ||
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

/* Checks the whole file; on a problem, err names the feature. */
static int collection_ok(const cJSON *doc, char *err, size_t cap)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(doc, "type");
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(doc, "features");
    if (!cJSON_IsString(type) ||
        strcmp(type->valuestring, "FeatureCollection") != 0 ||
        !cJSON_IsArray(fs))
        return hub__errf(err, cap, "not a GeoJSON FeatureCollection with "
                                 "features");
    int n = cJSON_GetArraySize(fs);
    if (n == 0 || n > AREAS_MAX)
        return hub__errf(err, cap, "the file has %d features; 1 to %d "
                                 "are imported at once",
                       n, AREAS_MAX);
    char why[300];
    int i = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, fs)
    {
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
                               "feature %d: code %s is also feature %d's",
                               i, code_of(f), j);
            j++;
        }
        const char *parent = parent_of(f);
        if (parent && strcmp(parent, code_of(f)) == 0)
            return hub__errf(err, cap, "feature %d: area %s is its own parent",
                           i, parent);
        i++;
    }
    return 0;
}

static int store(sqlite3 *db, const cJSON *fs)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO areas (code, name, parent, level, "
                           "geometry, updated_ms) VALUES (?1, ?2, ?3, '', "
                           "?4, ?5) ON CONFLICT (code) DO UPDATE SET name "
                           "= ?2, parent = ?3, geometry = ?4, updated_ms = "
                           "?5",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    int64_t now = (int64_t)fs_now_ms();
    const cJSON *f;
    int rc = 0;
    cJSON_ArrayForEach(f, fs)
    {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "properties");
        char *geom = cJSON_PrintUnformatted(
            cJSON_GetObjectItemCaseSensitive(f, "geometry"));
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, code_of(f), -1, SQLITE_STATIC);
        sqlite3_bind_text(
            st, 2, cJSON_GetObjectItemCaseSensitive(p, "name")->valuestring,
            -1, SQLITE_STATIC);
        if (parent_of(f))
            sqlite3_bind_text(st, 3, parent_of(f), -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 3);
        sqlite3_bind_text(st, 4, geom, -1, free);
        sqlite3_bind_int64(st, 5, now);
        if (!geom || sqlite3_step(st) != SQLITE_DONE) {
            rc = -1;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* Recomputes every area's level from its ancestors: 0 city, 1 district,
 * 2 neighbourhood. A missing parent, a cycle or a fourth level is a
 * problem named in err (HUB_EBADINPUT); a storage error returns -2. */
static int relevel(sqlite3 *db, char *err, size_t cap, char *code_out,
                   size_t code_cap)
{
    sqlite3_stmt *st = NULL;
    /* Depth by walking up at most 4 steps: a deeper chain, a cycle or a
     * dangling parent shows as depth NULL or > 2. */
    static const char sql[] =
        "WITH RECURSIVE up(code, at, depth) AS ("
        " SELECT code, parent, 0 FROM areas"
        " UNION ALL SELECT up.code, a.parent, up.depth + 1 FROM up"
        " JOIN areas a ON a.code = up.at WHERE up.depth < 4)"
        " SELECT a.code, a.parent, (SELECT max(depth) FROM up WHERE up.code"
        " = a.code AND up.at IS NULL), (SELECT count(*) FROM areas p WHERE"
        " p.code = a.parent) FROM areas a ORDER BY a.code";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -2;
    sqlite3_stmt *up = NULL;
    if (sqlite3_prepare_v2(db, "UPDATE areas SET level = ? WHERE code = ?",
                           -1, &up, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return -2;
    }
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *code = (const char *)sqlite3_column_text(st, 0);
        const char *parent = (const char *)sqlite3_column_text(st, 1);
        snprintf(code_out, code_cap, "%s", code);
        if (parent && sqlite3_column_int(st, 3) == 0) {
            rc = hub__errf(err, cap,
                         "parent %s is neither in the file nor stored",
                         parent);
            break;
        }
        if (sqlite3_column_type(st, 2) == SQLITE_NULL ||
            sqlite3_column_int(st, 2) > 2) {
            rc = hub__errf(err, cap,
                         "its parents form a cycle or more than three "
                         "levels (city > district > neighbourhood)");
            break;
        }
        sqlite3_reset(up);
        sqlite3_bind_text(up, 1, levels[sqlite3_column_int(st, 2)], -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(up, 2, code, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(up) != SQLITE_DONE)
            rc = -2;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = -2;
    sqlite3_finalize(st);
    sqlite3_finalize(up);
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
    if (!fs_utf8_valid(text, len))
        hub__errf(err, sizeof err, "not UTF-8 text");
    else if (!(doc = cJSON_ParseWithLength(text, len)))
        hub__errf(err, sizeof err, "not JSON (near byte %zu)",
                (size_t)(cJSON_GetErrorPtr() - text));
    else
        collection_ok(doc, err, sizeof err);
    free(text);
    if (err[0]) {
        fprintf(stderr, "fieldsync-hub: %s: %s; no area was imported\n",
                file, err);
        cJSON_Delete(doc);
        return 2;
    }
    int status = 1;
    sqlite3 *db = hub__open(db_path);
    if (!db || hub__exec(db, "BEGIN IMMEDIATE") != 0)
        goto out;
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(doc, "features");
    char code[FS_ID_MAX + 1] = "";
    int rc = store(db, fs) == 0
                 ? relevel(db, err, sizeof err, code, sizeof code)
                 : -2;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "areas", "import");
    cJSON_AddNumberToObject(d, "features", cJSON_GetArraySize(fs));
    if (rc == 0 && hub__audit(db, "cli", "areas.import", d) != SQLITE_OK)
        rc = -2;
    else if (rc != 0)
        cJSON_Delete(d);
    if (rc == 0 && hub__exec(db, "COMMIT") == 0) {
        fprintf(out, "imported %d areas from %s\n", cJSON_GetArraySize(fs),
                file);
        status = 0;
        goto out;
    }
    if (rc == HUB_EBADINPUT) {
        /* Name the feature when the area is one of the file's. */
        int at = -1, i = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, fs)
        {
            if (strcmp(code_of(f), code) == 0)
                at = i;
            i++;
        }
        if (at >= 0)
            fprintf(stderr, "fieldsync-hub: %s: feature %d (area %s): %s; "
                            "no area was imported\n",
                    file, at, code, err);
        else
            fprintf(stderr, "fieldsync-hub: %s: stored area %s: %s; no area "
                            "was imported\n",
                    file, code, err);
        status = 2;
    } else {
        fprintf(stderr, "fieldsync-hub: cannot store the areas: %s\n",
                sqlite3_errmsg(db));
    }
    hub__exec(db, "ROLLBACK");
out:
    sqlite3_close(db);
    cJSON_Delete(doc);
    return status;
}

cJSON *hub__areas_json(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT code, name, coalesce(parent, ''), level, "
                           "coalesce(json_extract(geometry, '$.type'), '') "
                           "FROM areas ORDER BY level <> 'city', level <> "
                           "'district', code",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "areas");
    static const char *const keys[] = {"code", "name", "parent", "level",
                                       "geometry"};
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        for (int c = 0; c < 5; c++)
            cJSON_AddStringToObject(o, keys[c],
                                    (const char *)sqlite3_column_text(st, c));
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
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
    int rc = root ? hub__print_rows(out, format, root, "areas",
                                    hub__area_cols)
                  : -1;
    if (!root)
        fprintf(stderr, "fieldsync-hub: database error: %s\n",
                sqlite3_errmsg(db));
    cJSON_Delete(root);
    sqlite3_close(db);
    return rc == 0 ? 0 : 1;
}
