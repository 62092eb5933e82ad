/*
 * admincli.c - admin commands on the hub database file (hub.h):
 * enrolment codes (enroll.c), publishing forms (forms.c) and what the
 * hub holds (stats.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs_form.h"
#include "fs_schema.h"
#include "hub.h"
#include "cli.h"
#include "db.h"
#include "enroll.h"
#include "errors.h"
#include "forms.h"
#include "output.h"
#include "scope.h"
#include "stats.h"

#define FORM_FILE_MAX (4 * 1024 * 1024)

int hub_enroll_code(const char *db_path, const char *name, const char *role,
                    const char *areas, const char *forms, double expires_hours,
                    const char *collect_url, FILE *out)
{
    char area_list[HUB_SCOPE_MAX], form_list[HUB_SCOPE_MAX], why[200];
    if (hub__scope_parse(areas, fs_valid_area_code, area_list, sizeof area_list,
                         why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --areas: %s\n", why);
        return hub__exit_status(HUB_EBADINPUT);
    }
    if (hub__scope_parse(forms, fs_valid_form_id, form_list, sizeof form_list,
                         why, sizeof why) != 0) {
        fprintf(stderr, "fieldsync-hub: --forms: %s\n", why);
        return hub__exit_status(HUB_EBADINPUT);
    }
    if (name && !fs_valid_name(name)) {
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
    while (ulen > 0 && collect_url[ulen - 1] == '/')
        ulen--;
    if (expires_hours <= 0 || expires_hours > 24 * 365) {
        fprintf(stderr, "fieldsync-hub: --expires must be between 0 and "
                        "8760 hours\n");
        return hub__exit_status(HUB_EBADINPUT);
    }
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return hub__exit_status(HUB_ESTORAGE);
    char code[16];
    int rc = hub__enrol_code_create(db, name ? name : "device", role, area_list,
                                    form_list, expires_hours, "cli", code);
    if (rc != HUB_OK)
        fprintf(stderr, "fieldsync-hub: cannot store the code: %s\n",
                sqlite3_errmsg(db));
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
    hub__close(db);
    if (rc != HUB_OK)
        return hub__exit_status(rc);
    if (collect_url)
        fprintf(out, "%.*s/openrosa/key/%s\n", (int)ulen, collect_url, token);
    else
        fprintf(out, "%s\n", code);
    return 0;
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
