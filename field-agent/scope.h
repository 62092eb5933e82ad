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

/* FA_OK when area is an area code this device records for (one of its
 * areas or an area below one of them, by the parents of the registry's
 * area entities held here); FA_EINPUT with the reason as the agent's
 * message otherwise. */
int fa__area_check(fa_agent *ag, const char *area);

/* 1 when scope ("*", "" for not yet known, or codes joined by commas)
 * holds area or one of its ancestors among the area entities held here,
 * else 0; a negative FA_E* code when the store cannot be read. parent,
 * when not NULL, is area's parent as the caller knows it (an area entity
 * the hub is sending now, not stored yet). */
int fa__area_covered(fa_agent *ag, const char *scope, const char *area,
                     const char *parent);

/* SQL of the codes a scope bound as ?1 covers (its items and the area
 * entities below them here), to begin a statement that tests
 * "x IN (SELECT code FROM covered)". */
/* The area entities held here with their parents, as a CTE body. */
#define FA_HELD_AREAS                                                          \
    "held(code, parent) AS MATERIALIZED (SELECT e.area, f.value ->> '$' "      \
    "FROM entities e JOIN entity_fields f ON f.entity_id = e.id AND f.name "   \
    "= 'parent' WHERE e.type = 'area' AND e.deleted = 0)"

#define FA_COVERED_CTE                                                         \
    "WITH RECURSIVE " FA_HELD_AREAS ", covered(code) AS "                      \
    "(SELECT value FROM json_each('[\"' || replace(?1, ',', '\",\"') || "      \
    "'\"]') UNION SELECT held.code FROM held JOIN covered ON held.parent = "   \
    "covered.code) "

#endif
