/*
 * formcli.c - form import (XLSForm to fieldsync JSON), form publish of an
 * XLSForm, and form xform (a published form's XForm): the command-line
 * side of xlsform.h and xform.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "formcli.h"
#include "hub.h"
#include "cli.h"
#include "db.h"
#include "xform.h"
#include "xlsform.h"

int hub_form_is_xlsx(const char *file)
{
    unsigned char head[4];
    FILE *f = fopen(file, "rb");
    size_t n = 0, len = strlen(file);

    if (len >= 5 && strcasecmp(file + len - 5, ".xlsx") == 0)
        return 1;
    if (f != NULL) {
        n = fread(head, 1, sizeof head, f);
        fclose(f);
    }
    return hub__xlsform_is_xlsx(head, n);
}

/* Writes data beside path and renames it into place, so that a failed
 * write never leaves a file that looks complete. "-" or NULL: out. */
static int write_out(const char *path, const char *data, size_t len, FILE *out)
{
    char part[4096];
    FILE *f;
    int ok;

    if (path == NULL || strcmp(path, "-") == 0)
        return fwrite(data, 1, len, out) == len ? 0 : 1;
    snprintf(part, sizeof part, "%s.part", path);
    f = fopen(part, "wb");
    if (f == NULL) {
        fprintf(stderr, "fieldsync-hub: cannot write %s: %s\n", part,
                strerror(errno));
        return 1;
    }
    ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(part, path) != 0) {
        fprintf(stderr, "fieldsync-hub: cannot rename %s: %s\n", part,
                strerror(errno));
        ok = 0;
    }
    if (!ok) {
        fprintf(stderr, "fieldsync-hub: cannot write %s\n", path);
        remove(part);
    }
    return ok ? 0 : 1;
}

/* Reads and converts file; *doc is the definition, or NULL after every
 * problem was printed. Returns the exit status. */
static int convert(const char *file, cJSON **doc)
{
    hub__xlsx_limits lim;
    hub__xlsform_problems p = {0};
    char id[FS_ID_MAX + 1];
    size_t len = 0;
    char *data;
    int rc;

    *doc = NULL;
    hub__xlsx_limits_default(&lim);
    data = hub__read_file(file, lim.file_max, &len);
    if (data == NULL)
        return 1;
    hub__xlsform_id_from_path(file, id, sizeof id);
    rc = hub__xlsform_convert(data, len, id[0] != '\0' ? id : NULL, &lim, doc,
                              &p);
    free(data);
    if (rc == FS_OK) {
        hub__xlsform_problems_free(&p);
        return 0;
    }
    for (size_t i = 0; i < p.n; i++)
        fprintf(stderr, "fieldsync-hub: %s: %s: %s\n", file, p.items[i].where,
                p.items[i].msg);
    if (p.dropped > 0)
        fprintf(stderr, "fieldsync-hub: %s: ... and %zu more problems\n", file,
                p.dropped);
    hub__xlsform_problems_free(&p);
    if (rc == FS_ENOMEM)
        fprintf(stderr, "fieldsync-hub: out of memory\n");
    else
        fprintf(stderr,
                "fieldsync-hub: %s: not converted; fix the problems above "
                "(schema/FORMS.md, \"XLSForm\", says what maps to what)\n",
                file);
    return rc == FS_ENOMEM ? 1 : 2;
}

int hub_form_import(const char *file, const char *out_path, FILE *out)
{
    cJSON *doc = NULL;
    char *text;
    int status = convert(file, &doc);

    if (status != 0)
        return status;
    text = cJSON_Print(doc);
    if (text == NULL) {
        cJSON_Delete(doc);
        fprintf(stderr, "fieldsync-hub: out of memory\n");
        return 1;
    }
    /* cJSON_Print leaves no newline at the end; files get one. */
    {
        size_t n = strlen(text);
        char *line = malloc(n + 2);

        if (line == NULL) {
            status = 1;
        } else {
            memcpy(line, text, n);
            line[n] = '\n';
            line[n + 1] = '\0';
            status = write_out(out_path, line, n + 1, out);
            free(line);
        }
    }
    if (status == 0 && out_path != NULL && strcmp(out_path, "-") != 0)
        fprintf(stderr, "fieldsync-hub: wrote form %s version %.0f to %s\n",
                cJSON_GetObjectItemCaseSensitive(doc, "id")->valuestring,
                cJSON_GetObjectItemCaseSensitive(doc, "version")->valuedouble,
                out_path);
    cJSON_free(text);
    cJSON_Delete(doc);
    return status;
}

int hub_form_publish_xlsx(const char *db_path, const char *file, FILE *out)
{
    cJSON *doc = NULL;
    char *text;
    int status = convert(file, &doc);

    if (status != 0)
        return status;
    text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (text == NULL) {
        fprintf(stderr, "fieldsync-hub: out of memory\n");
        return 1;
    }
    status = hub_form_publish_json(db_path, file, text, strlen(text), out);
    cJSON_free(text);
    return status;
}

int hub_form_xform(const char *db_path, const char *form, const char *version,
                   const char *out_path, FILE *out)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    fs_form *f = NULL;
    fs_buf xml;
    long long ver = 0;
    char *end = NULL;
    int status = 1, rc;

    fs_buf_init(&xml, 0);
    if (form == NULL || !fs_valid_form_id(form)) {
        fprintf(stderr, "fieldsync-hub: form xform needs --form ID\n");
        return 2;
    }
    if (version != NULL) {
        ver = strtoll(version, &end, 10);
        if (end == version || *end != '\0' || ver < 1) {
            fprintf(stderr, "fieldsync-hub: --version takes a version "
                            "number, 1 or more\n");
            return 2;
        }
    }
    db = hub__open(db_path);
    if (db == NULL)
        return 1;
    rc = sqlite3_prepare_v2(db,
                            version != NULL
                                ? "SELECT definition FROM forms WHERE id = ? "
                                  "AND version = ?"
                                : "SELECT definition FROM forms WHERE id = ? "
                                  "ORDER BY version DESC LIMIT 1",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto dberr;
    sqlite3_bind_text(st, 1, form, -1, SQLITE_STATIC);
    if (version != NULL)
        sqlite3_bind_int64(st, 2, ver);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        fprintf(stderr,
                "fieldsync-hub: no form %s%s%s is published (fieldsync-hub "
                "form publish FILE)\n",
                form, version != NULL ? " version " : "",
                version != NULL ? version : "");
        status = 2;
        goto out;
    }
    if (rc != SQLITE_ROW)
        goto dberr;
    rc = fs_form_parse((const char *)sqlite3_column_text(st, 0),
                       (size_t)sqlite3_column_bytes(st, 0), 0, &f, NULL);
    if (rc != FS_OK) {
        fprintf(stderr,
                "fieldsync-hub: the published form %s cannot be "
                "read by this hub\n",
                form);
        goto out;
    }
    if (fs_form_seal_key(f)) {
        fprintf(stderr,
                "fieldsync-hub: form %s seals answers on the device, which "
                "ODK Collect cannot do (the hub refuses them in plain "
                "text): it has no XForm; collect it with fieldsync "
                "agents\n",
                form);
        status = 2;
        goto out;
    }
    rc = hub__xform_write(f, &xml);
    if (rc != FS_OK) {
        fprintf(stderr, "fieldsync-hub: cannot write the XForm: %s\n",
                fs_strerror(rc));
        goto out;
    }
    status = write_out(out_path, (const char *)xml.data, xml.len, out);
    goto out;
dberr:
    fprintf(stderr, "fieldsync-hub: database error: %s\n", sqlite3_errmsg(db));
out:
    fs_buf_free(&xml);
    fs_form_free(f);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return status;
}
