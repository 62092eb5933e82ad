/*
 * enroll.h - enrolment: an admin issues a one-time code (the admin
 * command hub_enroll_code, hub.h); with POST /api/v1/enroll a device
 * trades it for its id and a bearer token. Only hashes are stored.
 */
#ifndef HUB_ENROLL_H
#define HUB_ENROLL_H

#include <civetweb.h>
#include <sqlite3.h>

#include "scope.h"

/* Issues a code for a device named name with role and scopes (checked
 * by the caller), valid for expires_hours, and audits it as actor.
 * code receives it ("ABCD-EFGH-JKMN"). HUB_OK or a storage error
 * (errors.h). */
int hub__enrol_code_create(sqlite3 *db, const char *name, const char *role,
                           const char *areas, const char *forms,
                           double expires_hours, const char *actor,
                           char code[16]);

/* Claims code for a new device in the caller's open transaction (name,
 * may be NULL, replaces the code's): dev and token (64 hex digits) are
 * filled.
 * HUB_OK, HUB_EFORBIDDEN (unknown, used or expired code) or a storage
 * error. */
int hub__enrol_claim(sqlite3 *db, const char *code, const char *name,
                     hub_device *dev, char token[65]);

/* POST /api/v1/enroll; returns the HTTP status it answered. */
int hub__handle_enroll(struct mg_connection *conn, void *hubp);

#endif
