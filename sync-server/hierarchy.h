/*
 * hierarchy.h - the areas as a tree of any depth: the level names an
 * admin defines (province > district > ward > village; by default city >
 * district > neighbourhood), and scopes that cover an area's descendants.
 *
 * A device or token scoped to an area may touch that area and every area
 * below it, whatever was added under it later: coverage is worked out
 * from the registry's parents when asked, never stored with the scope.
 */
#ifndef HUB_HIERARCHY_H
#define HUB_HIERARCHY_H

#include <stddef.h>

#include <sqlite3.h>

#include "fs_protocol.h"

/* The deepest hierarchy: 8 levels, top (depth 0) to bottom (depth 7). */
#define HUB_LEVELS_MAX 8
#define HUB_LEVEL_NAME_MAX 32
#define HUB_LEVELS_DEFAULT "city,district,neighbourhood"

/* SQL ordering areas top level first by the level names bound as
 * param (hub_levels.text); a level not in the list sorts last. */
#define HUB_LEVEL_ORDER(param)                                                 \
    "instr(',' || " param " || ',', ',' || coalesce(level, '') || ',') = "     \
    "0, instr(',' || " param " || ',', ',' || coalesce(level, '') || ',')"

typedef struct hub_levels {
    size_t n;
    char name[HUB_LEVELS_MAX][HUB_LEVEL_NAME_MAX + 1];
    char text[HUB_LEVELS_MAX * (HUB_LEVEL_NAME_MAX + 1)]; /* "a,b,c" */
} hub_levels;

/* Parses "province,district,ward,village" (spaces allowed after commas):
 * 1 to HUB_LEVELS_MAX distinct names of a lower-case letter then letters,
 * digits, '_' or '-' (up to 32). 0, or HUB_EBADINPUT with a sentence in
 * err. */
int hub__levels_parse(const char *text, hub_levels *out, char *err, size_t cap);
/* The configured levels (the default when none was set): HUB_OK or a
 * storage error. */
int hub__levels_get(sqlite3 *db, hub_levels *out);
/* Stores the levels inside the caller's transaction (audited as actor). */
int hub__levels_set(sqlite3 *db, const hub_levels *lv, const char *actor);

/* 1 when scope ("*" or codes joined by commas) holds area itself or one
 * of its ancestors in the registry; 0 when not; a negative HUB_E* code
 * when the registry cannot be read (callers refuse then). */
int hub__area_covered(sqlite3 *db, const char *scope, const char *area);
/* 1 when every item of inner is covered by outer (hierarchically); a
 * device scoped to a village lies within a token of its district. '*'
 * lies within '*' only; an empty inner within nothing. */
int hub__area_scope_within(sqlite3 *db, const char *inner, const char *outer);

/* Registers the SQL function hub_area_in(scope, area) on db: 1 when
 * scope is '*' or covers area (as hub__area_covered), else 0. Queries
 * use it where they test an area against a scope, so a district's scope
 * reaches its villages. 0, or -1. */
int hub__hierarchy_register(sqlite3 *db);

#endif
