/*
 * pull.h - GET /api/v1/pull: one page of the hub's change log after a
 * device's cursor, filtered to what its role and areas allow.
 */
#ifndef HUB_PULL_H
#define HUB_PULL_H

#include <civetweb.h>

int hub__handle_pull(struct mg_connection *conn, void *hubp);

#endif
