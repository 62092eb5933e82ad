/*
 * forms.h - published forms: publishing a version (checked against the
 * version rules of FORMS.md against the newest published one) and
 * reading one back. A published version never changes; devices get new
 * ones through the change log.
 *
 * Functions return HUB_OK or a HUB_E* code (errors.h); writes run in the
 * caller's transaction.
 */
#ifndef HUB_FORMS_H
#define HUB_FORMS_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "fs_form.h"
#include "fs_protocol.h"

/* Publishes form (borrowed; parsed strictly by the caller) and queues it
 * for every device. HUB_OK, with *unchanged 1 when this very version is
 * published already (nothing written); HUB_ECONFLICT with a sentence in
 * err when that version was published with other content; HUB_EBADINPUT
 * with a sentence in err when the version rules refuse it against the
 * newest published version (p lists the broken rules, if any). */
int hub__form_publish(sqlite3 *db, const fs_form *form, int *unchanged,
                      fs_problems *p, char *err, size_t cap);

/* The newest published version of form id (caller frees), or NULL. */
fs_form *hub__form_latest(sqlite3 *db, const char *id);
/* Version version of form id (0: the newest; caller frees), or NULL. */
fs_form *hub__form_at(sqlite3 *db, const char *id, int64_t version);

/* The names of every field marked personal or sensitive in ANY
 * published version of form id, as a JSON array of strings (caller
 * frees); NULL when the versions cannot all be read, and the caller
 * then lets nothing personal out (it refuses). */
cJSON *hub__form_marked(sqlite3 *db, const char *id);
/* 1 when names (an array of strings) holds name. */
int hub__name_in(const cJSON *names, const char *name);

/* The personal and sensitive marks (FS_FIELD_PERSONAL | ..._SENSITIVE)
 * of field name in ANY published version of form id, into *flags:
 * marks only tighten, so a field marked once stays marked for every
 * version's rows. Fails closed: on an error (returned as a HUB_E* code)
 * or a stored version that does not parse, *flags holds both marks. */
int hub__form_marks(sqlite3 *db, const char *id, const char *name,
                    unsigned *flags);

#endif
