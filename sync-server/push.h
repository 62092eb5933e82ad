/*
 * push.h - POST /api/v1/push: a changeset from a device is read and
 * decoded (fs_changeset_decode) and checked (merge.h) in the request's
 * thread, then queued for the merge thread, which merges it with other
 * queued pushes in one transaction and commits before any is answered.
 */
#ifndef HUB_PUSH_H
#define HUB_PUSH_H

#include <civetweb.h>

#include "server.h"

int hub__handle_push(struct mg_connection *conn, void *hubp);

/* Starts the thread that merges and commits queued pushes, on its own
 * connection; -1 (said on stderr) when it cannot. */
int hub__merger_start(hub *h);
/* Stops it once no push is in flight (after mg_stop). */
void hub__merger_stop(void);

#endif
