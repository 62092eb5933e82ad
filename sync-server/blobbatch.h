/*
 * blobbatch.h - POST /api/v1/blobs: many small whole files in one request
 * (PROTOCOL.md 4.7, "Small files in batches"), so that a device with
 * thousands of tiny files pays a round trip per batch, not two per file.
 */
#ifndef HUB_BLOBBATCH_H
#define HUB_BLOBBATCH_H

#include <civetweb.h>

#define HUB_BLOB_BATCH_MAX (1024 * 1024) /* bytes of one request body */
#define HUB_BLOB_BATCH_FILE (64 * 1024)  /* bytes of one file in it */
#define HUB_BLOB_BATCH_FILES 1000        /* files in one batch */

/* Checks, stores and answers a batch: 200 with a status per file, 400
 * for a body that does not follow the framing (nothing stored), 413 for
 * one over the limits. Returns the HTTP status it answered. */
int hub__handle_blob_batch(struct mg_connection *conn, void *hubp);

#endif
