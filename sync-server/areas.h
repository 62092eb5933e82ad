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

#endif
