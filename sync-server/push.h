/*
 * push.h - POST /api/v1/push: a changeset from a device is read, decoded
 * (fs_changeset_decode) and checked (hub__merge_prepare, merge.h) in the
 * request's thread, merged and committed by the merge queue (mergeq.h),
 * and answered here only once it is durable.
 */
#ifndef HUB_PUSH_H
#define HUB_PUSH_H

#include <civetweb.h>

/* Returns the HTTP status it answered. */
int hub__handle_push(struct mg_connection *conn, void *hubp);

#endif
