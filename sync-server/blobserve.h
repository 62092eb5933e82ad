/*
 * blobserve.h - attachment files served to hub admins and reviewers
 * (PROTOCOL.md, "Attachments"): GET
 * /api/v1/admin/submissions/ID/files/FIELD streams the file that answers
 * FIELD of submission ID, within the token's areas, from blobs/ beside
 * the database; the submissions list says which files are stored and
 * which the device has not finished sending.
 */
#ifndef HUB_BLOBSERVE_H
#define HUB_BLOBSERVE_H

#include <civetweb.h>

#include "fs_protocol.h"
#include "server.h"

/* Returns the HTTP status it answered. */
int hub__handle_admin_file(struct mg_connection *conn, void *hubp);

/* Adds to the submission object sub "attachments": {FIELD: {"name",
 * "size", "type", "status": "stored"|"pending"}} for every attachment
 * reference among answers (the fields a read shows: masked ones are gone
 * already), and "attachments_pending": how many of them the hub does not
 * hold whole yet. */
void hub__attach_annotate(const hub *h, cJSON *sub, const cJSON *answers);

#endif
