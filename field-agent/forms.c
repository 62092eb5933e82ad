/*
 * forms.c - the forms on the device: listing them (`forms`) and loading
 * one to fill, check or show answers with. Forms arrive with a pull
 * (pull.c); a published version never changes.
 */
#include <stdio.h>

#include "forms.h"
#include "store.h"

int fa__form_load(fa_agent *ag, const char *form_id, int64_t *version,
                  fs_form **out)
{
    sqlite3_stmt *st = NULL;
    const char *sql =
        *version > 0 ? "SELECT version, definition FROM forms WHERE id = ? "
                       "AND version = ?"
                     : "SELECT version, definition FROM forms WHERE id = ? "
                       "ORDER BY version DESC LIMIT 1";
    *out = NULL;
    /* The version is bound only when the SQL names it. */
    if (fa__prepare(ag, &st, "reading forms", sql, *version > 0 ? "ti" : "t",
                    form_id, *version) != FA_OK)
        return FA_ESTORE;
    int rc = sqlite3_step(st);
    int out_rc = FA_OK;
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        /* Not strict: a newer hub's form may carry members this agent
         * does not know yet. */
        int prc =
            fs_form_parse((const char *)sqlite3_column_text(st, 1),
                          (size_t)sqlite3_column_bytes(st, 1), 0, out, NULL);
        if (prc == FS_ENOMEM)
            out_rc = fa__fail(ag, FA_ESTORE, "out of memory");
        else if (prc != FS_OK)
            out_rc = fa__fail(ag, FA_EINPUT,
                              "form %s version %lld on this device cannot "
                              "be read by this agent; update the agent",
                              form_id, (long long)*version);
    } else if (rc == SQLITE_DONE) {
        out_rc = fa__fail(ag, FA_EINPUT,
                          "form %s%s is not on this device; run "
                          "`fieldsync-agent sync` to fetch the hub's forms "
                          "and `fieldsync-agent forms` to list them",
                          form_id, *version > 0 ? " (that version)" : "");
    } else {
        out_rc = fa__store_error(ag, "reading forms");
    }
    sqlite3_finalize(st);
    return out_rc;
}

int fa_forms(fa_agent *ag, const char *lang, cJSON **out)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (fa__prepare(ag, &st, "reading forms",
                    "SELECT id, version, title, definition FROM forms ORDER "
                    "BY id, version",
                    "") != FA_OK)
        return FA_ESTORE;
    cJSON *arr = cJSON_CreateArray();
    while (sqlite3_step(st) == SQLITE_ROW) {
        /* The title in the chosen language, with the form's fallback;
         * the stored default title if the definition cannot be read. */
        fs_form *f = NULL;
        fs_form_parse((const char *)sqlite3_column_text(st, 3),
                      (size_t)sqlite3_column_bytes(st, 3), 0, &f, NULL);
        const char *title = f ? fs_form_title(f, lang)
                              : (const char *)sqlite3_column_text(st, 2);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id",
                                (const char *)sqlite3_column_text(st, 0));
        cJSON_AddNumberToObject(o, "version",
                                (double)sqlite3_column_int64(st, 1));
        cJSON_AddStringToObject(o, "title", title);
        cJSON_AddItemToArray(arr, o);
        fs_form_free(f);
    }
    sqlite3_finalize(st);
    *out = arr;
    return FA_OK;
}
