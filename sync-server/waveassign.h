/*
 * waveassign.h - `wave assign` for many submissions at once: the ones
 * an admin lists, or the ones matching a filter (form, area, dates,
 * current wave), put in a wave in one audited transaction.
 */
#ifndef HUB_WAVEASSIGN_H
#define HUB_WAVEASSIGN_H

#include <stdio.h>

#include <sqlite3.h>

#include "fs_protocol.h"

/* What to assign: every member may be NULL (no such filter); strings are
 * borrowed for the call. A submission matches when it passes every
 * filter given. */
typedef struct hub_wave_match {
    const char *wave;    /* the wave to put them in (required) */
    const char *form;    /* form id */
    const char *area;    /* area code of the submission */
    const char *from;    /* YYYY-MM-DD: dated on or after this day */
    const char *to;      /* YYYY-MM-DD: dated on or before this day */
    const char *in_wave; /* currently in this wave (dates or assignment) */
    cJSON *ids;          /* array of submission ids, borrowed */
} hub_wave_match;

/* Puts every submission m matches in m->wave, in the caller's
 * transaction, audited as actor (one "wave.assign" row naming the filter
 * and the submissions); dry_run only counts. *count receives how many
 * matched. HUB_EBADINPUT with the reason in err when the wave, form,
 * area or a listed id is unknown, a date is malformed or nothing
 * matches; a storage error otherwise. "Dated" is the day that decides a
 * submission's wave (the mapping_submissions view: its form's date
 * answer, else the day it was first recorded). */
int hub__wave_assign_match(sqlite3 *db, const hub_wave_match *m, int dry_run,
                           const char *actor, long long *count, char *err,
                           size_t cap);

/* The command: id (may be NULL) and the ids in ids_file (one a line;
 * blank lines and lines starting with # are skipped; may be NULL) are
 * added to the filter as a list. Prints how many were assigned (or would
 * be, with dry_run). Exit status 0, 2 (bad input, nothing changed) or 1. */
int hub_wave_assign_many(const char *db_path, const hub_wave_match *m,
                         const char *id, const char *ids_file, int dry_run,
                         FILE *out);

#endif
