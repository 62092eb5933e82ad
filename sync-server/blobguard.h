/*
 * blobguard.h - what the hub's attachment store refuses before a chunk
 * is kept and after a file is whole (PROTOCOL.md 4.7): a device over its
 * quota (413 quota), a disk at its free-space floor (507
 * insufficient_storage), and a file whose bytes are not the type its
 * submissions declare or their fields take (415 wrong_type). blobs.c
 * calls these with its lock held.
 */
#ifndef HUB_BLOBGUARD_H
#define HUB_BLOBGUARD_H

#include <stddef.h>

#include <civetweb.h>
#include <sqlite3.h>

#include "scope.h"
#include "server.h"

/* serve --attach-quota: bytes of files one device may have at the hub. */
#define HUB_ATTACH_QUOTA (2LL << 30)
/* serve --attach-floor: bytes the file system of blobs/ keeps free. */
#define HUB_ATTACH_FLOOR (1LL << 30)

/* May dev's chunk of add bytes be kept in dir (blobs/, existing)? 0 when
 * yes; otherwise the refusal is sent and its HTTP status returned.
 *
 * A device's bytes are those of every file its submissions reference
 * (counted once however many reference it): the whole file when the hub
 * holds it, else what the hub holds of it so far (.part). add on top of
 * them must stay within h->attach_quota. The file system's free space
 * less add must stay at or above h->attach_floor. */
int hub__blob_admit(struct mg_connection *conn, const hub *h, sqlite3 *db,
                    const hub_device *dev, const char *dir, long long add);

/* The same check without a connection (OpenRosa answers in its own
 * format): 0, or the HTTP status with the error code in *code and what
 * to do in why. */
int hub__blob_room(const hub *h, sqlite3 *db, const hub_device *dev,
                   const char *dir, long long add, const char **code, char *why,
                   size_t cap);

/* The file hash is whole and checked; head holds its first n bytes.
 * 0 when every reference of dev's submissions to it declares the type
 * its bytes have (fs_field_file_type) and that type is one its field
 * takes; otherwise the refusal is sent and its HTTP status returned (the
 * caller deletes the file). With conn NULL (a file of a batch, answered
 * in the batch's reply) nothing is sent: 415 or 500 only says why. */
int hub__blob_sniff(struct mg_connection *conn, sqlite3 *db,
                    const hub_device *dev, const char *hash,
                    const unsigned char *head, size_t n);

#endif
