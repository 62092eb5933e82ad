/*
 * adminapi.h - the JSON API for hub admins and reviewers (API tokens):
 * who am I, forms, devices, revoking a device, counts, submissions (with
 * personal fields only for admins who ask, audited) and the audit log.
 * Each handler returns the HTTP status it answered.
 */
#ifndef HUB_ADMINAPI_H
#define HUB_ADMINAPI_H

#include <civetweb.h>

#include "scope.h"
#include "server.h"

int hub__handle_admin_whoami(struct mg_connection *conn, void *hubp);
int hub__handle_admin_forms(struct mg_connection *conn, void *hubp);
int hub__handle_admin_devices(struct mg_connection *conn, void *hubp);
int hub__handle_admin_revoke(struct mg_connection *conn, void *hubp);
int hub__handle_admin_stats(struct mg_connection *conn, void *hubp);
int hub__handle_admin_submissions(struct mg_connection *conn, void *hubp);
int hub__handle_admin_audit(struct mg_connection *conn, void *hubp);

/* The ?personal=0|1 of an admin read. With 1, only an admin may ask, and
 * action (with detail, consumed) is written to the audit log before any
 * data leaves. 0 with *personal set, or the status already replied
 * (400, 403, 503). */
int hub__personal_read(struct mg_connection *conn, hub *h,
                       const hub_device *who, const char *action, cJSON *detail,
                       int *personal);

#endif
