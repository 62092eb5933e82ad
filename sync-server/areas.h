/*
 * areas.h - the city's areas (city > district > neighbourhood) as the
 * registry holds them; the GeoJSON import is the admin command
 * hub_areas_import (hub.h).
 */
#ifndef HUB_AREAS_H
#define HUB_AREAS_H

#include <sqlite3.h>

#include "fs_protocol.h"

/* {"areas": [{code, name, parent, level, geometry (its type)}]}, cities
 * first (caller frees); NULL on a storage error. */
cJSON *hub__areas_json(sqlite3 *db);
extern const char *const hub__area_cols[];

/* An area's boundary as the registry stores it (the text of a GeoJSON
 * Polygon, MultiPolygon or Point, at most 60000 bytes), parsed and
 * checked like `areas import` checks it: the geometry object (caller
 * frees), or NULL with why set when text is not one. Untrusted text:
 * parsed with bounds, never pasted into output. */
cJSON *hub__area_geometry(const char *text, char *why, size_t cap);

#endif
