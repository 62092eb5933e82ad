/*
 * export.h - exports of the mapping dataset (CSV and JSON of a form's
 * submissions, GeoJSON of areas and mechanisms), checked first and then
 * streamed row by row into a sink (output.h).
 */
#ifndef HUB_EXPORT_H
#define HUB_EXPORT_H

#include <stddef.h>

#include <sqlite3.h>

#include "fs_protocol.h"
#include "hub.h"
#include "output.h"

typedef struct hub_exporter hub_exporter;

/* Checks req (form, version, language, indicator) within scope and gets
 * ready to write; nothing is written. db is borrowed until
 * hub__export_free. 0 with *out the caller's (hub__export_free),
 * HUB_EBADINPUT (err) or HUB_ESTORAGE. */
int hub__export_prepare(sqlite3 *db, const hub_export_req *req,
                        const char *scope, hub_exporter **out, char *err,
                        size_t cap);
/* 1 when the export includes personal or sensitive fields: the caller
 * audits it (with hub__export_detail, a new object) before
 * hub__export_write. */
int hub__export_personal(const hub_exporter *ex);
cJSON *hub__export_detail(const hub_exporter *ex);
/* With a steward key (req->steward): opens every sealed submission of
 * the export once before anything is written, so a tampered or foreign
 * one refuses the whole export. *n: the sealed submissions. HUB_OK, or
 * HUB_EBADINPUT with err naming the submission. */
int hub__export_unseal_check(hub_exporter *ex, int64_t *n, char *err,
                             size_t cap);
/* Streams the export into s. 0 or HUB_ESTORAGE; a failed sink shows in
 * s->failed. */
int hub__export_write(hub_exporter *ex, hub_sink *s);
void hub__export_free(hub_exporter *ex);

#endif
