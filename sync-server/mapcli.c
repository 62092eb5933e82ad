/*
 * mapcli.c - the admin commands of the mapping dataset: waves, quotas and
 * coverage, on the hub database file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_schema.h"
#include "hub.h"
#include "audit.h"
#include "cli.h"
#include "db.h"
#include "errors.h"
#include "export.h"
#include "mapind.h"
#include "mapping.h"
#include "output.h"
#include "indicators.h"
#include "seal.h"

/* Ends one change's write transaction and reports the outcome: the exit
 * status of rc (0; 2: bad input, nothing changed; 1: storage). */
static int finish_write(sqlite3 *db, int rc, const char *err)
{
    if (rc == HUB_OK && hub__exec(db, "COMMIT") == 0) {
        hub__close(db);
        return 0;
    }
    hub__exec(db, "ROLLBACK");
    if (rc == HUB_EBADINPUT)
        fprintf(stderr, "fieldsync-hub: %s; nothing was changed\n", err);
    else
        fprintf(stderr, "fieldsync-hub: database error: %s\n",
                sqlite3_errmsg(db));
    hub__close(db);
    return hub__exit_status(rc == HUB_OK ? HUB_ESTORAGE : rc);
}

int hub_wave_add(const char *db_path, const char *name, const char *title,
                 const char *start, const char *end, FILE *out)
{
    sqlite3 *db = hub__cli_begin(db_path);
    if (!db)
        return 1;
    char err[512] = "";
    int rc = hub__wave_add(db, name, title, start, end, "cli", err, sizeof err);
    int status = finish_write(db, rc, err);
    if (status == 0)
        fprintf(out, "wave %s: %s to %s\n", name, start, end);
    return status;
}

int hub_wave_assign(const char *db_path, const char *wave, const char *id,
                    FILE *out)
{
    sqlite3 *db = hub__cli_begin(db_path);
    if (!db)
        return 1;
    char err[512] = "";
    int rc = hub__wave_assign(db, wave, id, "cli", err, sizeof err);
    int status = finish_write(db, rc, err);
    if (status == 0)
        fprintf(out, "submission %s is in wave %s\n", id, wave);
    return status;
}

int hub_quota_set(const char *db_path, const char *area, const char *wave,
                  const char *form, const char *stratum, const char *device,
                  long long target, FILE *out)
{
    sqlite3 *db = hub__cli_begin(db_path);
    if (!db)
        return 1;
    char err[512] = "";
    hub_quota q = {area, wave, form, stratum, device, target};
    int rc = hub__quota_set(db, &q, "cli", err, sizeof err);
    int status = finish_write(db, rc, err);
    if (status == 0)
        fprintf(out, "quota %s %s %s%s%s%s%s: %lld\n", wave, area, form,
                stratum ? " " : "", stratum ? stratum : "",
                device ? " device " : "", device ? device : "", target);
    return status;
}

/* 0 when wave is absent or known, else 2 after saying so. */
static int check_wave(sqlite3 *db, const char *wave)
{
    int w = hub__wave_exists(db, wave);
    if (w == 1)
        return 0;
    if (w == 0)
        fprintf(stderr,
                "fieldsync-hub: no wave '%s'; see `fieldsync-hub "
                "wave list`\n",
                wave);
    else
        fprintf(stderr, "fieldsync-hub: database error: %s\n",
                sqlite3_errmsg(db));
    hub__close(db);
    return w == 0 ? 2 : 1;
}

static int print_table(sqlite3 *db, cJSON *root, int format, const char *key,
                       const char *const *cols, FILE *out)
{
    if (!root) {
        fprintf(stderr, "fieldsync-hub: database error: %s\n",
                sqlite3_errmsg(db));
        hub__close(db);
        return 1;
    }
    int rc = hub__print_rows(out, format, root, key, cols);
    cJSON_Delete(root);
    hub__close(db);
    return rc == 0 ? 0 : 1;
}

int hub_wave_list(const char *db_path, int format, FILE *out)
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    return print_table(db, hub__waves_json(db), format, "waves", hub__wave_cols,
                       out);
}

/* Quotas (counts 0) or coverage (counts 1) of wave. */
static int quota_table(const char *db_path, const char *wave, int counts,
                       int format, FILE *out)
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    int bad_wave = check_wave(db, wave);
    if (bad_wave != 0)
        return bad_wave;
    return print_table(db, hub__coverage_json(db, wave, "*", counts), format,
                       counts ? "coverage" : "quotas",
                       counts ? hub__coverage_cols : hub__quota_cols, out);
}

int hub_quota_list(const char *db_path, const char *wave, int format, FILE *out)
{
    return quota_table(db_path, wave, 0, format, out);
}

int hub_coverage(const char *db_path, const char *wave, int format, FILE *out)
{
    return quota_table(db_path, wave, 1, format, out);
}

typedef int (*ind_fn)(sqlite3 *, const hub_ind_request *, const char *,
                      cJSON **, char *, size_t);

static int ind_command(const char *db_path, const hub_ind_request *req,
                       ind_fn fn, const char *key, const char *const *cols,
                       int format, FILE *out)
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    char err[512] = "";
    cJSON *root = NULL;
    hub_ind_request r = *req;
    r.admin = 1; /* the CLI reads the database file: it is the admin */
    int rc = fn(db, &r, "*", &root, err, sizeof err);
    if (rc == HUB_EBADINPUT || rc == HUB_EFORBIDDEN) {
        fprintf(stderr, "fieldsync-hub: %s\n", err);
        hub__close(db);
        return hub__exit_status(rc);
    }
    if (rc != 0)
        root = NULL;
    return print_table(db, root, format, key, cols, out);
}

int hub_indicators(const char *db_path, const hub_ind_request *req, int format,
                   FILE *out)
{
    return ind_command(db_path, req, hub__indicators, "cells", hub_ind_cols,
                       format, out);
}

int hub_change(const char *db_path, const hub_ind_request *req, int format,
               FILE *out)
{
    return ind_command(db_path, req, hub__change, "changes",
                       hub_ind_change_cols, format, out);
}

static void show_progress(int64_t done, int64_t total, int end)
{
    if (total > 0)
        fprintf(stderr, "\rexporting: %lld of %lld submissions",
                (long long)done, (long long)total);
    else
        fprintf(stderr, "\rexporting: %lld rows", (long long)done);
    if (end)
        fputc('\n', stderr);
}

int hub_export(const char *db_path, const hub_export_req *req,
               const char *out_path)
{
    hub_export_req r = *req;
    r.admin = 1;
    if (!r.progress && isatty(STDERR_FILENO))
        r.progress = show_progress;
    char err[512] = "";
    hub_steward *steward = NULL;
    if (r.key && (r.kind == HUB_EXPORT_CSV || r.kind == HUB_EXPORT_JSON)) {
        /* Before the database is opened: a wrong passphrase costs
         * nothing else. */
        if (hub__steward_open(r.key, r.pass_fd, &steward, err, sizeof err) !=
            HUB_OK) {
            fprintf(stderr, "fieldsync-hub: %s\n", err);
            return 2;
        }
        r.steward = steward;
    }
    sqlite3 *db = hub__open(db_path);
    if (!db) {
        hub__steward_close(steward);
        return 1;
    }
    hub_exporter *ex = NULL;
    int rc = hub__export_prepare(db, &r, "*", &ex, err, sizeof err);
    int64_t opened = 0;
    if (rc == 0 && steward)
        rc = hub__export_unseal_check(ex, &opened, err, sizeof err);
    if (rc != 0) {
        if (rc == HUB_EBADINPUT || rc == HUB_EFORBIDDEN)
            fprintf(stderr, "fieldsync-hub: %s; nothing was exported\n", err);
        else
            fprintf(stderr, "fieldsync-hub: database error: %s\n",
                    sqlite3_errmsg(db));
        hub__close(db);
        hub__export_free(ex);
        hub__steward_close(steward);
        return hub__exit_status(rc);
    }
    /* Written beside the target and renamed at the end, so a failed
     * export never leaves a file that looks complete. */
    int to_file = out_path && strcmp(out_path, "-") != 0;
    char part[4096] = "";
    FILE *f = stdout;
    int status = 1;
    if (to_file) {
        snprintf(part, sizeof part, "%s.part", out_path);
        f = fopen(part, "wb");
        if (!f) {
            fprintf(stderr, "fieldsync-hub: cannot write %s: %s\n", part,
                    strerror(errno));
            goto out;
        }
    }
    /* Audited before any personal data leaves. */
    if (hub__export_personal(ex) &&
        hub__audit(db, "cli", "export.personal", hub__export_detail(ex)) !=
            HUB_OK) {
        fprintf(stderr,
                "fieldsync-hub: cannot record the export in the "
                "audit log, so it is refused: %s\n",
                sqlite3_errmsg(db));
        goto out;
    }
    /* And each decryption, before any opened answer leaves. */
    if (steward) {
        cJSON *d = hub__export_detail(ex);
        cJSON_AddStringToObject(d, "key", steward->id);
        cJSON_AddNumberToObject(d, "sealed_opened", (double)opened);
        if (hub__audit(db, "cli", "export.unseal", d) != HUB_OK) {
            fprintf(stderr, "fieldsync-hub: cannot record the decryption in "
                            "the audit log, so it is refused\n");
            goto out;
        }
    }
    hub_sink s;
    hub__sink_file(&s, f);
    s.raw_cells = req->raw_cells;
    rc = hub__export_write(ex, &s);
    if (hub__sink_end(&s) != 0 || rc != 0) {
        fprintf(stderr, "fieldsync-hub: export failed: %s\n",
                rc != 0 ? sqlite3_errmsg(db) : strerror(errno));
        goto out;
    }
    status = 0;
out:
    if (to_file && f) {
        /* Its bytes on the disk before its name says it is complete, and
         * that name on the disk before success is reported: after a
         * power cut an export is there whole or not at all. */
        if (status == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0)) {
            fprintf(stderr, "fieldsync-hub: cannot write %s: %s\n", part,
                    strerror(errno));
            status = 1;
        }
        if (fclose(f) != 0)
            status = 1;
        if (status == 0 && (rename(part, out_path) != 0 ||
                            fs_sync_parent_dir(out_path) != 0)) {
            fprintf(stderr, "fieldsync-hub: cannot put %s in place: %s\n",
                    out_path, strerror(errno));
            status = 1;
        }
        if (status != 0)
            remove(part);
    }
    hub__export_free(ex);
    hub__close(db);
    hub__steward_close(steward);
    return status;
}
