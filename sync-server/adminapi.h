/*
 * adminapi.h - the JSON API for hub admins and reviewers (API tokens):
 * who am I, forms, devices, revoking a device, counts, submissions (with
 * personal fields only for admins who ask, audited) and the audit log.
 * Each handler returns the HTTP status it answered.
 */
#ifndef HUB_ADMINAPI_H
#define HUB_ADMINAPI_H

#include <civetweb.h>

int hub__handle_admin_whoami(struct mg_connection *conn, void *hubp);
int hub__handle_admin_forms(struct mg_connection *conn, void *hubp);
int hub__handle_admin_devices(struct mg_connection *conn, void *hubp);
int hub__handle_admin_revoke(struct mg_connection *conn, void *hubp);
int hub__handle_admin_stats(struct mg_connection *conn, void *hubp);
int hub__handle_admin_submissions(struct mg_connection *conn, void *hubp);
int hub__handle_admin_audit(struct mg_connection *conn, void *hubp);

#endif
