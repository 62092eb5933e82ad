/*
 * access.h - who may do what: API tokens for people, the enrolled
 * devices, revoking either, and changing what a device may hold (its
 * areas and forms). The admin commands on them are in accesscli.c, the
 * API in adminapi.c; devices enrol through enroll.h.
 *
 * Writes run in the caller's transaction and are audited as actor; they
 * return HUB_OK or a HUB_E* code (errors.h). Input is checked by the
 * caller (role, name, hub__scope_parse for scopes).
 */
#ifndef HUB_ACCESS_H
#define HUB_ACCESS_H

#include <stddef.h>

#include <sqlite3.h>

#include "fs_protocol.h"

/* A new API token for a person (role admin or reviewer, areas a parsed
 * scope): only its hash is stored. token receives the secret (64 hex
 * digits, shown once), id the token's id. */
int hub__token_create(sqlite3 *db, const char *role, const char *name,
                      const char *areas, const char *actor, char token[65],
                      char id[FS_UUID_LEN + 1]);
/* [{id, name, role, areas, revoked}] of every API token, oldest first
 * (caller frees); NULL on a storage error. */
cJSON *hub__tokens_json(sqlite3 *db);
/* [{id, name, role, areas, forms, acked_seq, last_seen_ms, revoked}] of
 * every enrolled device, oldest first (caller frees); NULL on a storage
 * error. */
cJSON *hub__devices_json(sqlite3 *db);
/* The same, of the devices whose areas all lie in scope (an admin
 * token's areas; '*': every device). */
cJSON *hub__devices_json_in(sqlite3 *db, const char *scope);

/* Revokes a device (table "devices") or API token ("api_tokens", by id
 * or name): its next request is refused. HUB_ENOTFOUND when none was
 * active. */
int hub__revoke(sqlite3 *db, const char *table, const char *id,
                const char *actor);
/* Revokes device id for a token of areas scope: HUB_ENOTFOUND as well
 * when the device's areas do not all lie in scope, so a token scoped to
 * some areas can neither end nor learn of devices outside them. */
int hub__revoke_device_in(sqlite3 *db, const char *id, const char *scope,
                          const char *actor);

/* Sets the areas and forms (parsed scopes in buffers of cap bytes; ""
 * keeps the current one, and the buffer receives it) of an active
 * device. The device is told through its own change-log row, and gets
 * the forms and entities its new scope adds. HUB_ENOTFOUND when there is
 * no such active device. */
int hub__device_scope(sqlite3 *db, const char *device, char *areas, char *forms,
                      size_t cap, const char *actor);

#endif
