/*
 * mapping.h - waves, quotas and coverage of the mapping dataset: the
 * checks and queries the CLI (mapcli.c) and the admin API (mapapi.c)
 * share.
 *
 * Writes run in the caller's transaction and are audited as actor; they
 * return HUB_OK, HUB_EBADINPUT with a message for people in err (nothing
 * changed) or a storage error (errors.h). A cJSON result is the caller's to
 * free; NULL means a storage error.
 */
#ifndef HUB_MAPPING_H
#define HUB_MAPPING_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "fs_protocol.h"

/* "YYYY-MM-DD" -> milliseconds at 00:00 UTC of that day: 0, or -1 when
 * s is not a calendar date. */
int hub__date_ms(const char *s, int64_t *ms);

/* 1 when the query q (a literal) with v bound as ?1 has a row, 0 when
 * not, or a storage error. */
int hub__row_exists(sqlite3 *db, const char *q, const char *v);

/* Adds or redates wave name over the inclusive dates start..end
 * (YYYY-MM-DD), refused when it overlaps another wave. */
int hub__wave_add(sqlite3 *db, const char *name, const char *title,
                  const char *start, const char *end, const char *actor,
                  char *err, size_t cap);
/* Puts submission id in wave (both known to exist) for actor, without
 * an audit row: for a caller that audits the whole operation itself
 * (import csv). HUB_OK or an error. */
int hub__wave_set(sqlite3 *db, const char *wave, const char *id,
                  const char *actor);
/* Puts submission id in wave whatever its dates say, audited. */
int hub__wave_assign(sqlite3 *db, const char *wave, const char *id,
                     const char *actor, char *err, size_t cap);
/* {"waves": [...]}. */
cJSON *hub__waves_json(sqlite3 *db);
extern const char *const hub__wave_cols[];
/* 1 when wave is NULL, "" or a known wave, 0 when not, -1 on error. */
int hub__wave_exists(sqlite3 *db, const char *wave);

/* A quota: strings borrowed for the call. */
typedef struct hub_quota {
    const char *area, *wave, *form;
    const char *stratum; /* "FIELD=VALUE,..." or NULL */
    const char *device;  /* a device id for a sub-quota, or NULL */
    long long target;
} hub_quota;

int hub__quota_set(sqlite3 *db, const hub_quota *q, const char *actor,
                   char *err, size_t cap);
/* Quotas of wave ("" or NULL: all) within scope; with_counts adds what
 * was collected toward each: {"coverage": [...]}, else {"quotas": [...]}. */
cJSON *hub__coverage_json(sqlite3 *db, const char *wave, const char *scope,
                          int with_counts);
extern const char *const hub__coverage_cols[];
extern const char *const hub__quota_cols[];

#endif
