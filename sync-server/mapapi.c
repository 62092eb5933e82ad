/*
 * mapapi.c - the admin API of the mapping dataset: waves, quotas and
 * coverage (JSON, or CSV with ?format=csv). Admins and reviewers read;
 * reviewers see only their areas.
 */
#include <stdio.h>
#include <string.h>

#include "mapapi.h"
#include "areas.h"
#include "audit.h"
#include "errors.h"
#include "export.h"
#include "http.h"
#include "mapind.h"
#include "mapping.h"
#include "output.h"
#include "scope.h"
#include "server.h"
#include "indicators.h"

static const char *const readers[] = {"admin", "reviewer", NULL};

/* Common start of a GET for readers: method, token, ?format. */
static int map_begin(struct mg_connection *conn, hub_device *who, int *format)
{
    if (hub__api_begin(conn, "GET", who, readers) != 0)
        return -1;
    return hub__query_format(conn, format);
}

/* ?wave=W, checked to exist. -1 after the 400/404/503 reply. */
static int query_wave(struct mg_connection *conn, const char *name, char *wave,
                      size_t cap)
{
    if (hub__query_str(conn, name, fs_valid_area_code, wave, cap) != 0)
        return -1;
    int w = hub__wave_exists(hub__db(conn), wave);
    if (w == 1)
        return 0;
    if (w == 0)
        hub__reply_error(conn, 404, "unknown_wave",
                         "no wave '%s' at this hub; GET "
                         "/api/v1/admin/waves lists them",
                         wave);
    else
        hub__reply_error(conn, 503, "storage", "cannot read the waves");
    return -1;
}

int hub__handle_admin_waves(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    hub_device who;
    int format;
    if (map_begin(conn, &who, &format) != 0)
        return 400;
    cJSON *root = hub__waves_json(hub__db(conn));
    if (!root) {
        hub__reply_error(conn, 503, "storage", "cannot read the waves");
        return 503;
    }
    hub__reply_rows(conn, format, root, "waves", hub__wave_cols, "waves.csv");
    return 200;
}

int hub__handle_admin_areas(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    hub_device who;
    int format;
    if (map_begin(conn, &who, &format) != 0)
        return 400;
    cJSON *root = hub__areas_json(hub__db(conn));
    if (!root) {
        hub__reply_error(conn, 503, "storage", "cannot read the areas");
        return 503;
    }
    hub__reply_rows(conn, format, root, "areas", hub__area_cols, "areas.csv");
    return 200;
}

static int quotas_or_coverage(struct mg_connection *conn, int counts)
{
    hub_device who;
    int format;
    char wave[FS_ID_MAX + 2];
    if (map_begin(conn, &who, &format) != 0 ||
        query_wave(conn, "wave", wave, sizeof wave) != 0)
        return 400;
    cJSON *root = hub__coverage_json(hub__db(conn), wave, who.areas, counts);
    if (!root) {
        hub__reply_error(conn, 503, "storage", "cannot read the quotas");
        return 503;
    }
    hub__reply_rows(conn, format, root, counts ? "coverage" : "quotas",
                    counts ? hub__coverage_cols : hub__quota_cols,
                    counts ? "coverage.csv" : "quotas.csv");
    return 200;
}

int hub__handle_admin_quotas(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    return quotas_or_coverage(conn, 0);
}

int hub__handle_admin_coverage(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    return quotas_or_coverage(conn, 1);
}

/* Indicators (change 0) or change between waves (change 1). */
static int indicator_reply(struct mg_connection *conn, int change)
{
    hub_device who;
    int format;
    char form[FS_ID_MAX + 2], ind[1200], by[FS_ID_MAX + 2], k[16];
    char wave[FS_ID_MAX + 2], from[FS_ID_MAX + 2], to[FS_ID_MAX + 2];
    if (map_begin(conn, &who, &format) != 0 ||
        hub__query_str(conn, "form", NULL, form, sizeof form) != 0 ||
        hub__query_str(conn, "indicator", NULL, ind, sizeof ind) != 0 ||
        hub__query_str(conn, "by", NULL, by, sizeof by) != 0 ||
        hub__query_str(conn, "k", NULL, k, sizeof k) != 0 ||
        query_wave(conn, "wave", wave, sizeof wave) != 0 ||
        query_wave(conn, "from", from, sizeof from) != 0 ||
        query_wave(conn, "to", to, sizeof to) != 0)
        return 400;
    if (!form[0] || !ind[0]) {
        hub__reply_error(conn, 400, "bad_parameter",
                         "name the form and the indicator: "
                         "?form=F&indicator=count|mean:FIELD|share:FIELD=CODE");
        return 400;
    }
    hub_ind_request req = {form, ind, by, wave,
                           from, to,  k,  strcmp(who.role, "admin") == 0};
    char err[512] = "";
    cJSON *root = NULL;
    int rc = change ? hub__change(hub__db(conn), &req, who.areas, &root, err,
                                  sizeof err)
                    : hub__indicators(hub__db(conn), &req, who.areas, &root,
                                      err, sizeof err);
    if (rc == HUB_EBADINPUT) {
        hub__reply_error(conn, 400, "bad_parameter", "%s", err);
        return 400;
    }
    if (rc == HUB_EFORBIDDEN) {
        hub__reply_error(conn, 403, "forbidden", "%s", err);
        return 403;
    }
    if (rc != 0) {
        hub__reply_error(conn, 503, "storage", "cannot compute: %s",
                         sqlite3_errmsg(hub__db(conn)));
        return 503;
    }
    hub__reply_rows(conn, format, root, change ? "changes" : "cells",
                    change ? hub_ind_change_cols : hub_ind_cols,
                    change ? "change.csv" : "indicators.csv");
    return 200;
}

int hub__handle_admin_indicators(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    return indicator_reply(conn, 0);
}

int hub__handle_admin_change(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    return indicator_reply(conn, 1);
}

static const struct {
    const char *path;
    int kind;
    const char *ctype;
    const char *file;
} exports[] = {
    {"/api/v1/admin/export/csv", HUB_EXPORT_CSV, "text/csv; charset=utf-8",
     "export.csv"},
    {"/api/v1/admin/export/json", HUB_EXPORT_JSON, "application/json",
     "export.json"},
    {"/api/v1/admin/export/geojson/areas", HUB_EXPORT_AREAS,
     "application/geo+json", "areas.geojson"},
    {"/api/v1/admin/export/geojson/mechanisms", HUB_EXPORT_MECHANISMS,
     "application/geo+json", "mechanisms.geojson"},
};

int hub__handle_admin_export(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    hub_device who;
    const char *uri = mg_get_request_info(conn)->local_uri;
    size_t e = 0, ne = sizeof exports / sizeof exports[0];
    while (e < ne && strcmp(uri, exports[e].path) != 0)
        e++;
    if (e == ne) {
        hub__reply_error(conn, 404, "not_found",
                         "exports are csv, json, geojson/areas and "
                         "geojson/mechanisms under /api/v1/admin/export/");
        return 404;
    }
    if (hub__api_begin(conn, "GET", &who, readers) != 0)
        return 400;
    char form[FS_ID_MAX + 2], version[24], labels[24], ind[1200], k[16];
    char wave[FS_ID_MAX + 2];
    long long personal = 0, raw = 0;
    if (hub__query_str(conn, "form", NULL, form, sizeof form) != 0 ||
        hub__query_str(conn, "version", NULL, version, sizeof version) != 0 ||
        hub__query_str(conn, "labels", NULL, labels, sizeof labels) != 0 ||
        hub__query_str(conn, "indicator", NULL, ind, sizeof ind) != 0 ||
        hub__query_str(conn, "k", NULL, k, sizeof k) != 0 ||
        query_wave(conn, "wave", wave, sizeof wave) != 0 ||
        hub__query_int(conn, "personal", 0, 0, 1, &personal) != 0 ||
        hub__query_int(conn, "raw", 0, 0, 1, &raw) != 0)
        return 400;
    if (personal && strcmp(who.role, "admin") != 0) {
        hub__reply_error(conn, 403, "forbidden",
                         "only hub admins may export personal or "
                         "sensitive fields");
        return 403;
    }
    hub_export_req req = {exports[e].kind,
                          form[0] ? form : NULL,
                          version,
                          labels,
                          (int)personal,
                          ind,
                          wave,
                          k,
                          NULL,
                          (int)raw,
                          strcmp(who.role, "admin") == 0,
                          NULL, /* never a key: the hub does not decrypt */
                          -1,
                          NULL};
    sqlite3 *db = hub__db(conn);
    char err[512] = "";
    hub_exporter *ex = NULL;
    int rc = hub__export_prepare(db, &req, who.areas, &ex, err, sizeof err);
    if (rc != 0) {
        if (rc == HUB_EBADINPUT)
            hub__reply_error(conn, 400, "bad_parameter", "%s", err);
        else if (rc == HUB_EFORBIDDEN)
            hub__reply_error(conn, 403, "forbidden", "%s", err);
        else
            hub__reply_error(conn, 503, "storage", "cannot read the data");
        return hub__http_status(rc);
    }
    if (hub__export_personal(ex)) {
        /* Audited before the data leaves, so no export goes unrecorded. */
        char actor[FS_NAME_MAX + 8];
        snprintf(actor, sizeof actor, "token:%s", who.name);
        pthread_mutex_lock(&h->write_lock);
        rc = hub__audit(db, actor, "export.personal", hub__export_detail(ex));
        pthread_mutex_unlock(&h->write_lock);
        if (rc != HUB_OK) {
            hub__export_free(ex);
            hub__reply_error(conn, 503, "storage",
                             "cannot record the export in the audit log, "
                             "so it is refused; try later");
            return 503;
        }
    }
    hub_sink s;
    hub__sink_http(&s, conn, exports[e].ctype, exports[e].file);
    s.raw_cells = req.raw_cells;
    /* Headers are out: a failure now can only cut the stream short,
     * which the missing final chunk tells the client. */
    rc = hub__export_write(ex, &s);
    if (rc == 0)
        hub__sink_end(&s);
    hub__export_free(ex);
    return 200;
}
