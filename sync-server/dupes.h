/*
 * dupes.h - possible duplicate respondents: submissions of one form with
 * the same dedupe key (FORMS.md), listed for review; nothing is dropped.
 */
#ifndef HUB_DUPES_H
#define HUB_DUPES_H

#include <sqlite3.h>

#include "fs_protocol.h"

/* Within areas: newest revisions of submissions whose form declares a
 * dedupe key, grouped by form and key, groups of two or more:
 * [{"form", "key", "submissions": [...]}] (caller frees); NULL on a
 * storage error. */
cJSON *hub__duplicates_json(sqlite3 *db, const char *areas);

#endif
