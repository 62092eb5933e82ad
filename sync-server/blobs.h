/*
 * blobs.h - /api/v1/blobs/SHA256: the files that answer image, audio and
 * file fields, uploaded by a device in chunks after the submission that
 * references them (PROTOCOL.md, "Attachments"). Stored on disk beside
 * the database (blobs/ in its directory), never inside SQLite.
 */
#ifndef HUB_BLOBS_H
#define HUB_BLOBS_H

#include <civetweb.h>

#define HUB_BLOB_CHUNK_MAX (1024 * 1024) /* bytes per PATCH body */
#define HUB_BLOB_READ (64 * 1024)        /* buffer hashing a whole file */

/* HEAD (or GET, the same as JSON): the hub's durable offset; PATCH:
 * append one chunk at the offset the Upload-Offset header names.
 * Returns the HTTP status it answered. */
int hub__handle_blob(struct mg_connection *conn, void *hubp);

struct hub;
/* blobs/ beside the database, where whole files live under their hash. */
void hub__blob_dir(const struct hub *h, char *out, size_t cap);
/* The same for the database at db_path, for the commands that work on a
 * database without a running hub (export media, open-file). */
void hub__blob_dir_of(const char *db_path, char *out, size_t cap);
/* 1 when s is a SHA-256 in lowercase hex: the only names a file has in
 * blobs/, so a string that passes is never a path. */
int hub__blob_name_ok(const char *s);
/* The lock every writer of blobs/ holds (uploads and batches). */
void hub__blob_lock(void);
void hub__blob_unlock(void);

#endif
