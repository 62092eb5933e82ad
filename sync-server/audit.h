/*
 * audit.h - the audit log: every admin action and every read of personal
 * data leaves a row (who, what, when, details).
 */
#ifndef HUB_AUDIT_H
#define HUB_AUDIT_H

#include <sqlite3.h>

#include "fs_protocol.h"

/* Appends to the audit log inside the caller's transaction (or alone).
 * actor: "cli", "token:<name>" or "enrolment"; detail is a JSON object
 * (consumed, may be NULL). Returns HUB_OK or a storage error. */
int hub__audit(sqlite3 *db, const char *actor, const char *action,
               cJSON *detail);

#endif
