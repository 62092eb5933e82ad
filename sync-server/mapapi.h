/*
 * mapapi.h - the admin API of the mapping dataset: waves, quotas,
 * coverage, indicators, change between waves, areas and exports (JSON,
 * or CSV with ?format=csv). Admins and reviewers read; reviewers see
 * only their areas. Each handler returns the HTTP status it answered.
 */
#ifndef HUB_MAPAPI_H
#define HUB_MAPAPI_H

#include <civetweb.h>

int hub__handle_admin_waves(struct mg_connection *conn, void *hubp);
int hub__handle_admin_quotas(struct mg_connection *conn, void *hubp);
int hub__handle_admin_coverage(struct mg_connection *conn, void *hubp);
int hub__handle_admin_indicators(struct mg_connection *conn, void *hubp);
int hub__handle_admin_change(struct mg_connection *conn, void *hubp);
int hub__handle_admin_areas(struct mg_connection *conn, void *hubp);
int hub__handle_admin_export(struct mg_connection *conn, void *hubp);

#endif
