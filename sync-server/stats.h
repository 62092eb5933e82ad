/*
 * stats.h - what the hub holds: submissions per form version and per
 * area, and the totals the admin command prints.
 */
#ifndef HUB_STATS_H
#define HUB_STATS_H

#include <stdint.h>

#include <sqlite3.h>

#include "fs_protocol.h"

/* {"forms": [{form, version, submissions}], "areas": [{area,
 * submissions}]} within areas ("*": all), sorted (caller frees); NULL on
 * a storage error. */
cJSON *hub__stats_json(sqlite3 *db, const char *areas);

typedef struct hub_totals {
    int64_t submissions, devices, held_changes;
} hub_totals;

/* The totals of the whole hub (zeros when they cannot be read). */
void hub__stats_totals(sqlite3 *db, hub_totals *t);

#endif
