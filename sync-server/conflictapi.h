/*
 * conflictapi.h - the admin API on conflicts (GET /api/v1/admin/conflicts,
 * POST .../conflicts/resolve) and possible duplicates (GET
 * .../duplicates). Each handler returns the HTTP status it answered.
 */
#ifndef HUB_CONFLICTAPI_H
#define HUB_CONFLICTAPI_H

#include <civetweb.h>

int hub__handle_admin_conflicts(struct mg_connection *conn, void *hubp);
int hub__handle_admin_resolve(struct mg_connection *conn, void *hubp);
int hub__handle_admin_duplicates(struct mg_connection *conn, void *hubp);

#endif
