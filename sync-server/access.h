/*
 * access.h - who may do what: API tokens for people, revoking a lost
 * device or a token, changing a device's areas and forms (the admin
 * commands are in hub.h).
 */
#ifndef HUB_ACCESS_H
#define HUB_ACCESS_H

#include <sqlite3.h>

/* Revokes a device (table "devices") or API token ("api_tokens", by id
 * or name) in the caller's transaction and audits it as actor. HUB_OK,
 * HUB_ENOTFOUND when none was active, or a storage error (errors.h). */
int hub__revoke(sqlite3 *db, const char *table, const char *id,
                const char *actor);

#endif
