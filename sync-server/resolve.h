/*
 * resolve.h - settling a conflict (conflicts.h): choosing one competing
 * value or writing a new one becomes a new version on top of the current
 * one (entity.h), sent to every device that holds the entity; a chosen
 * amendment becomes the submission's next revision. Audited.
 */
#ifndef HUB_RESOLVE_H
#define HUB_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "fs_protocol.h"

/* Settles conflict id by choosing competitor choose (> 0) or writing
 * value (JSON, borrowed; field conflicts only), as actor, for a caller
 * limited to areas, inside the caller's transaction. HUB_OK;
 * HUB_ENOTFOUND or HUB_EBADINPUT with a sentence in err (nothing
 * changed); or a storage error (errors.h). */
int hub__resolve(sqlite3 *db, int64_t id, int choose, const cJSON *value,
                 const char *actor, const char *areas, char *err,
                 size_t errlen);

#endif
