/*
 * admincli.c - admin commands on the hub database file (hub.h):
 * enrolment codes (enroll.c; an ODK Collect device's QR code,
 * collectqr.c), publishing forms (forms.c) and what the
 * hub holds (stats.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs_form.h"
#include "fs_schema.h"
#include "hub.h"
#include "cli.h"
#include "seal.h"
#include "collectqr.h"
#include "db.h"
#include "enroll.h"
#include "errors.h"
#include "forms.h"
#include "output.h"
#include "scope.h"
#include "stats.h"

#define FORM_FILE_MAX (4 * 1024 * 1024)

/* Opens the PNG for the QR code before anything is enrolled, so a path
 * that cannot be written changes nothing. Mode 0600 whatever the file
 * was: the code holds the device's token. */
static FILE *open_png(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    FILE *f = fchmod(fd, 0600) == 0 ? fdopen(fd, "wb") : NULL;
    if (!f)
        close(fd);
    return f;
}

/* The URL, then the QR code as asked. 0, or an exit status. */
static int print_collect(const hub_enroll_req *req, const char *url, FILE *png,
                         FILE *out)
{
    fprintf(out, "%s\n", url);
    if (!png && !req->qr_text)
        return 0;
    char project[FS_NAME_MAX + 16];
    snprintf(project, sizeof project, "fieldsync: %s",
             req->name ? req->name : "device");
    char *payload = hub__collect_settings(url, project);
    char why[200] = "out of memory";
    int bad = !payload;
    if (!bad && req->qr_text && hub__qr_text(payload, out) != 0)
        bad = 1;
    if (!bad && png && hub__qr_png(payload, png, why, sizeof why) != 0)
        bad = 1;
    free(payload);
    if (png && fclose(png) != 0 && !bad) {
        snprintf(why, sizeof why, "%s", strerror(errno));
        bad = 1;
    }
    if (bad) {
        fprintf(stderr,
                "fieldsync-hub: the device is enrolled and its server URL "
                "printed, but its QR code could not be made: %s\n",
                why);
        return hub__exit_status(HUB_ESTORAGE);
    }
    return 0;
}

int hub_enroll_code(const char *db_path, const hub_enroll_req *req, FILE *out)
{
    char area_list[HUB_SCOPE_MAX], form_list[HUB_SCOPE_MAX], why[200];
    const char *collect_url = req->collect_url;
    if (hub__scope_parse(req->areas, fs_valid_area_code, area_list,
                         sizeof area_list, why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --areas: %s\n", why);
        return hub__exit_status(HUB_EBADINPUT);
    }
    if (hub__scope_parse(req->forms, fs_valid_form_id, form_list,
                         sizeof form_list, why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --forms: %s\n", why);
        return hub__exit_status(HUB_EBADINPUT);
    }
    if (req->name && !fs_valid_name(req->name)) {
        fprintf(stderr, "fieldsync-hub: --name must be printable text of "
                        "1 to 128 bytes\n");
        return hub__exit_status(HUB_EBADINPUT);
    }
    size_t ulen = collect_url ? strlen(collect_url) : 0;
    if (collect_url &&
        (ulen > 512 || (strncmp(collect_url, "http://", 7) != 0 &&
                        strncmp(collect_url, "https://", 8) != 0))) {
        fprintf(stderr, "fieldsync-hub: --collect takes the hub's address "
                        "as phones reach it, e.g. https://hub.example.org\n");
        return hub__exit_status(HUB_EBADINPUT);
    }
    if (!collect_url && (req->qr_png || req->qr_text)) {
        fprintf(stderr, "fieldsync-hub: --qr and --qr-text draw an ODK "
                        "Collect device's settings: add --collect HUB_URL\n");
        return hub__exit_status(HUB_EBADINPUT);
    }
    while (ulen > 0 && collect_url[ulen - 1] == '/')
        ulen--;
    if (req->expires_hours <= 0 || req->expires_hours > 24 * 365) {
        fprintf(stderr, "fieldsync-hub: --expires must be between 0 and "
                        "8760 hours\n");
        return hub__exit_status(HUB_EBADINPUT);
    }
    FILE *png = NULL;
    if (req->qr_png && !(png = open_png(req->qr_png))) {
        fprintf(stderr, "fieldsync-hub: --qr: cannot write %s: %s\n",
                req->qr_png, strerror(errno));
        return hub__exit_status(HUB_EBADINPUT);
    }
    sqlite3 *db = hub__open(db_path);
    int rc = db ? HUB_OK : HUB_ESTORAGE;
    char code[16];
    if (rc == HUB_OK) {
        rc = hub__enrol_code_create(db, req->name ? req->name : "device",
                                    req->role, area_list, form_list,
                                    req->expires_hours, "cli", code);
        if (rc != HUB_OK)
            fprintf(stderr, "fieldsync-hub: cannot store the code: %s\n",
                    sqlite3_errmsg(db));
    }
    hub_device dev;
    char token[65] = "";
    if (rc == HUB_OK && collect_url) {
        /* ODK Collect has no enrolment step: the device is made now and
         * its token goes into the server URL it is given. */
        rc = hub__tx_begin(db, NULL);
        if (rc == HUB_OK)
            rc = hub__tx_end(db, NULL,
                             hub__enrol_claim(db, code, NULL, &dev, token));
        if (rc != HUB_OK)
            fprintf(stderr, "fieldsync-hub: cannot enrol the device: %s\n",
                    sqlite3_errmsg(db));
    }
    if (db)
        hub__close(db);
    if (rc != HUB_OK) {
        if (png) {
            fclose(png);
            unlink(req->qr_png);
        }
        return hub__exit_status(rc);
    }
    if (!collect_url) {
        fprintf(out, "%s\n", code);
        return 0;
    }
    char url[600];
    snprintf(url, sizeof url, "%.*s/openrosa/key/%s", (int)ulen, collect_url,
             token);
    return print_collect(req, url, png, out);
}

/* Prints every problem of a definition, one per line with its JSON
 * path, so an admin fixes the file in one go. */
static void print_problems(const fs_problems *p, const char *file)
{
    for (size_t i = 0; i < p->n; i++)
        fprintf(stderr, "fieldsync-hub: %s: %s: %s\n", file, p->items[i].where,
                p->items[i].msg);
    if (p->dropped > 0)
        fprintf(stderr, "fieldsync-hub: %s: ... and %zu more problems\n", file,
                p->dropped);
}

int hub_form_publish(const char *db_path, const char *file, FILE *out)
{
    size_t len = 0;
    char *text = hub__read_file(file, FORM_FILE_MAX, &len);
    if (!text)
        return 1;
    int status = hub_form_publish_json(db_path, file, text, len, out);
    free(text);
    return status;
}

int hub_form_publish_json(const char *db_path, const char *file,
                          const char *text, size_t len, FILE *out)
{
    fs_form *form = NULL;
    fs_problems probs;
    fs_problems_init(&probs);
    int rc = fs_form_parse(text, len, FS_FORM_STRICT, &form, &probs);
    if (rc != FS_OK) {
        print_problems(&probs, file);
        if (rc == FS_ENOMEM)
            fprintf(stderr, "fieldsync-hub: out of memory\n");
        else
            fprintf(stderr,
                    "fieldsync-hub: %s: not published; fix the "
                    "problems above\n",
                    file);
        return 1;
    }
    const char *id = fs_form_id(form);
    long long version = (long long)fs_form_version(form);
    char err[512] = "";
    int unchanged = 0;
    fs_problems_init(&probs);
    sqlite3 *db = hub__open(db_path);
    if (!db || hub__exec(db, "BEGIN IMMEDIATE") != 0) {
        hub__close(db);
        fs_form_free(form);
        return 1;
    }
    rc = hub__form_publish(db, form, &unchanged, &probs, err, sizeof err);
    if (rc == HUB_OK && !unchanged && hub__exec(db, "COMMIT") != 0)
        rc = HUB_ESTORAGE;
    if (rc == HUB_EBADINPUT) {
        /* The version rules: every broken one, then what it means. */
        print_problems(&probs, file);
        fprintf(stderr, "fieldsync-hub: %s: %s\n", file, err);
        fprintf(stderr, "fieldsync-hub: %s: not published\n", file);
    } else if (rc == HUB_ECONFLICT) {
        fprintf(stderr, "fieldsync-hub: %s\n", err);
    } else if (rc != HUB_OK) {
        fprintf(stderr, "fieldsync-hub: cannot publish %s: %s\n", file,
                sqlite3_errmsg(db));
    } else if (unchanged) {
        fprintf(out, "form %s version %lld is already published, unchanged\n",
                id, version);
    } else if (rc == HUB_OK) {
        fprintf(out, "published form %s version %lld\n", id, version);
        const char *key = fs_form_seal_key(form);
        if (key && !hub__seal_key_known(db, key))
            fprintf(stderr,
                    "fieldsync-hub: %s: warning: its sealed fields go to "
                    "key %s, which is not published yet: devices refuse to "
                    "finalize it until `fieldsync-hub keys publish` sends "
                    "them the key\n",
                    file, key);
    }
    if (rc != HUB_OK || unchanged)
        hub__exec(db, "ROLLBACK");
    hub__close(db);
    fs_form_free(form);
    /* Every refusal is exit status 1, as this command has always
     * answered. */
    return rc == HUB_OK ? 0 : 1;
}

/* "(none)" for the empty texts of rows: an admin sees what is missing. */
static void name_empty(cJSON *rows)
{
    cJSON *r, *v;
    cJSON_ArrayForEach(r, rows)
    {
        cJSON_ArrayForEach(v, r)
        {
            if (cJSON_IsString(v) && !v->valuestring[0])
                cJSON_SetValuestring(v, "(none)");
        }
    }
}

int hub_stats(const char *db_path, int json, FILE *out)
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return hub__exit_status(HUB_ESTORAGE);
    hub_totals t;
    hub__stats_totals(db, &t);
    cJSON *root = hub__stats_json(db, "*");
    if (!root)
        fprintf(stderr, "fieldsync-hub: %s\n", sqlite3_errmsg(db));
    hub__close(db);
    if (!root)
        return hub__exit_status(HUB_ESTORAGE);
    cJSON *forms = cJSON_GetObjectItemCaseSensitive(root, "forms");
    cJSON *areas = cJSON_GetObjectItemCaseSensitive(root, "areas");
    name_empty(forms);
    name_empty(areas);
    if (json) {
        cJSON_AddNumberToObject(root, "submissions", (double)t.submissions);
        cJSON_AddNumberToObject(root, "devices", (double)t.devices);
        cJSON_AddNumberToObject(root, "held_changes", (double)t.held_changes);
        char *text = cJSON_Print(root);
        fprintf(out, "%s\n", text);
        free(text);
        cJSON_Delete(root);
        return 0;
    }
    fprintf(out, "%lld submissions from %lld devices", (long long)t.submissions,
            (long long)t.devices);
    if (t.held_changes > 0)
        fprintf(out, "; %lld changes held for review",
                (long long)t.held_changes);
    fprintf(out, "\n\nPer form:\n");
    static const hub_col form_cols[] = {{"form", NULL, 28, 0},
                                        {"version", NULL, 11, 1},
                                        {"submissions", NULL, 11, 1}};
    hub__table_text(out, forms, form_cols, 3, "  ", 1);
    fprintf(out, "\nPer area:\n");
    static const hub_col area_cols[] = {{"area", NULL, 28, 0},
                                        {"submissions", NULL, 11, 1}};
    hub__table_text(out, areas, area_cols, 2, "  ", 1);
    cJSON_Delete(root);
    return 0;
}
