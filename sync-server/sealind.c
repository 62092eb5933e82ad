/*
 * sealind.c - a data steward's indicators over sealed fields, offline
 * (`fieldsync-hub indicators ... --key FILE`, seal.h): the counted
 * submissions of the form are read from the database, their sealed
 * answers opened with the steward's key, and the same indicator engine
 * (indicators.c) with the same checks and the same k makes the table
 * that the hub makes of fields it can see (mapind.c). The hub never runs
 * this: it is a command on a copy of the database, on the steward's
 * machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "db.h"
#include "errors.h"
#include "forms.h"
#include "indicators.h"
#include "mapind.h"
#include "mapping.h"
#include "output.h"
#include "seal.h"
#include "stmtcache.h"

#define UNRELIABLE_BELOW 25 /* as mapind.c */

/* The counted submissions of form (in wave, or every wave when ""),
 * their sealed answers opened, as {"a": area, "w": wave, "x": answers}
 * items of rows. HUB_EBADINPUT with err naming a submission that does
 * not open. */
static int load(sqlite3 *db, const hub_steward *s, const char *form,
                const char *wave, cJSON *rows, int64_t *nsealed, char *err,
                size_t cap)
{
    int rc;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT m.id, m.form_version, m.area, m.wave, m.answers FROM "
        "mapping_submissions m LEFT JOIN waves w ON w.name = m.wave WHERE "
        "m.form_id = ?1 AND m.wave <> '' AND m.review_state <> 'rejected' "
        "AND (?2 = '' OR m.wave = ?2) ORDER BY w.start_ms",
        HUB_ARGS(HUB_TEXT(form), HUB_TEXT(wave)), &rc);
    hub_seal_forms forms = {0};
    int out = st ? HUB_OK : rc, opened = 0;
    while (out == HUB_OK && (rc = hub__sql_step(st)) > 0) {
        cJSON *row = cJSON_CreateObject();
        cJSON *answers = fs_json_parse_stored(hub__col(st, 4));
        if (!row || !answers ||
            !cJSON_AddStringToObject(row, "a", hub__col(st, 2)) ||
            !cJSON_AddStringToObject(row, "w", hub__col(st, 3))) {
            cJSON_Delete(answers);
            cJSON_Delete(row);
            out = HUB_ENOMEM;
            break;
        }
        cJSON_AddItemToObject(row, "x", answers);
        cJSON_AddItemToArray(rows, row);
        out = hub__seal_reveal_row(db, &forms, s, form,
                                   sqlite3_column_int64(st, 1), hub__col(st, 0),
                                   answers, &opened, err, cap);
        *nsealed += opened && out == HUB_OK;
    }
    if (out != HUB_OK)
        hub__sql_end(st);
    else if (rc < 0)
        out = rc;
    hub__seal_forms_free(&forms);
    return out;
}

/* Checks the request as the hub's indicators do and computes the
 * table's JSON into *root. */
static int compute(sqlite3 *db, const hub_steward *s,
                   const hub_ind_request *req, cJSON **root, int64_t *nsealed,
                   char *err, size_t cap)
{
    hub_ind_spec spec;
    hub_ind_options opt;
    memset(&opt, 0, sizeof opt);
    int min_k = 0;
    if (!req->form || !fs_valid_form_id(req->form))
        return hub__errf(err, cap, "--form must name a form id");
    if (hub_ind_parse(req->indicator, &spec, err, cap) != 0)
        return HUB_EBADINPUT;
    if (req->by && req->by[0] && !fs_valid_field_name(req->by))
        return hub__errf(err, cap, "--by must be a field name, not %s",
                         req->by);
    opt.by = req->by && req->by[0] ? req->by : NULL;
    opt.unreliable_below = UNRELIABLE_BELOW;
    int rc = hub__ind_check_k(db, req->k, &min_k, &opt.k, err, cap);
    const char *wave = req->wave && req->wave[0] ? req->wave : "";
    if (rc == 0 && wave[0]) {
        int w = hub__wave_exists(db, wave);
        rc = w < 0    ? HUB_ESTORAGE
             : w == 0 ? hub__errf(err, cap, "no such wave: %s", wave)
                      : 0;
    }
    fs_form *f = rc == 0 ? hub__form_latest(db, req->form) : NULL;
    if (rc == 0 && !f)
        rc = hub__errf(err, cap, "no published form %s", req->form);
    if (rc == 0)
        rc = hub__ind_check_fields(f, &spec, opt.by, err, cap);
    const fs_field *b =
        rc == 0 && opt.by ? fs_form_field_named(f, opt.by) : NULL;
    size_t nc = b ? fs_field_choice_count(b) : 0;
    const char **cats = calloc(nc ? nc : 1, sizeof *cats);
    for (size_t i = 0; cats && i < nc; i++)
        cats[i] = fs_field_choice(b, i, NULL, NULL);
    opt.cats = cats;
    opt.ncats = nc;
    cJSON *rows = cJSON_CreateArray();
    int64_t nrows = 0;
    hub_ind_record *recs = NULL;
    if (rc == 0)
        rc = cats && rows
                 ? load(db, s, req->form, wave, rows, nsealed, err, cap)
                 : HUB_ENOMEM;
    if (rc == 0) {
        /* The engine's records point into rows. */
        nrows = cJSON_GetArraySize(rows);
        recs = calloc(nrows ? (size_t)nrows : 1, sizeof *recs);
        const cJSON *r;
        size_t i = 0;
        cJSON_ArrayForEach(r, rows)
        {
            if (!recs)
                break;
            recs[i++] = (hub_ind_record){
                cJSON_GetStringValue(cJSON_GetObjectItem(r, "a")),
                cJSON_GetStringValue(cJSON_GetObjectItem(r, "w")),
                cJSON_GetObjectItem(r, "x")};
        }
        rc = recs ? 0 : HUB_ENOMEM;
    }
    hub_ind_result res = {0};
    if (rc == 0 && hub_ind_compute(&spec, &opt, recs, (size_t)nrows, &res) != 0)
        rc = HUB_ENOMEM;
    if (rc == 0) {
        char text[1200];
        hub_ind_format(&spec, text, sizeof text);
        *root = cJSON_CreateObject();
        cJSON_AddStringToObject(*root, "form", req->form);
        cJSON_AddStringToObject(*root, "indicator", text);
        cJSON_AddStringToObject(*root, "key", s->id);
        cJSON_AddNumberToObject(*root, "k", opt.k);
        cJSON_AddNumberToObject(*root, "min_k", min_k);
        cJSON *cells = cJSON_AddArrayToObject(*root, "cells");
        for (size_t t = 0; t < res.ntables; t++) {
            cJSON *tr = hub_ind_rows(&res.tables[t]);
            cJSON *r;
            while (tr && (r = cJSON_DetachItemFromArray(tr, 0)) != NULL)
                cJSON_AddItemToArray(cells, r);
            cJSON_Delete(tr);
        }
    }
    hub_ind_free(&res);
    free(recs);
    cJSON_Delete(rows);
    free(cats);
    fs_form_free(f);
    return rc;
}

int hub_indicators_sealed(const char *db_path, const hub_ind_request *req,
                          const char *key, int pass_fd, int format, FILE *out)
{
    char err[512] = "";
    hub_steward *s = NULL;
    if (hub__steward_open(key, pass_fd, &s, err, sizeof err) != HUB_OK) {
        fprintf(stderr, "fieldsync-hub: %s\n", err);
        return 2;
    }
    sqlite3 *db = hub__open(db_path);
    if (!db) {
        hub__steward_close(s);
        return 1;
    }
    cJSON *root = NULL;
    int64_t nsealed = 0;
    int rc = compute(db, s, req, &root, &nsealed, err, sizeof err);
    if (rc == HUB_OK) {
        /* Written to the audit log before any figure leaves. */
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "form", req->form);
        cJSON_AddStringToObject(
            d, "indicator",
            cJSON_GetStringValue(cJSON_GetObjectItem(root, "indicator")));
        cJSON_AddStringToObject(d, "key", s->id);
        cJSON_AddNumberToObject(d, "sealed_opened", (double)nsealed);
        rc = hub__audit(db, "cli", "indicators.unseal", d);
        if (rc != HUB_OK)
            snprintf(err, sizeof err,
                     "cannot record the decryption in the audit log, so it "
                     "is refused");
    }
    int status = 0;
    if (rc != HUB_OK) {
        fprintf(stderr, "fieldsync-hub: %s\n",
                err[0] ? err : sqlite3_errmsg(db));
        status = hub__exit_status(rc);
    } else {
        status = hub__print_rows(out, format, root, "cells", hub_ind_cols) == 0
                     ? 0
                     : 1;
    }
    cJSON_Delete(root);
    hub__close(db);
    hub__steward_close(s);
    return status;
}
