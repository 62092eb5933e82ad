/*
 * scope.h - the areas and forms this device works in (scope.c). Both are
 * kept in meta as "*" (everything) or codes joined by commas.
 */
#ifndef FA_SCOPE_H
#define FA_SCOPE_H

#include "agent_int.h"

/* Keeps the scope of obj, a hub's answer with "areas" and "forms" (each
 * "*" or an array of codes; absent: everything), in the caller's
 * transaction. FA_EREFUSED when it is malformed. */
int fa__scope_save(fa_agent *ag, const cJSON *obj);

/* The hub changed this device's scope (a pulled "scope" row, payload as
 * for fa__scope_save): keeps it and, in the caller's transaction,
 * deletes the records, forms and entities the hub holds that fall
 * outside it; *purged is raised by the submissions deleted. */
int fa__scope_apply(fa_agent *ag, const cJSON *payload, long long *purged);

/* FA_OK when area is an area code this device records for; FA_EINPUT
 * with the reason as the agent's message otherwise. */
int fa__area_check(fa_agent *ag, const char *area);

#endif
