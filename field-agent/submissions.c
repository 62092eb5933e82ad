/*
 * submissions.c - drafts and submissions read back for people: the list
 * of drafts, the list of submissions with the hub's and the reviewer's
 * word on each, and one draft or submission with its answers labelled.
 * `drafts` and `show` print these; the form app shows the same lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "forms.h"
#include "store.h"
#include "submissions.h"

/* The title of a form version in lang, else the form's id. */
static void add_title(fa_agent *ag, cJSON *o, const char *form_id,
                      int64_t version, const char *lang)
{
    fs_form *f = NULL;
    const char *title = "";
    if (fa__form_load(ag, form_id, &version, &f) == FA_OK)
        title = fs_form_title(f, lang);
    cJSON_AddStringToObject(o, "title", title[0] ? title : form_id);
    fs_form_free(f);
}

int fa_drafts(fa_agent *ag, const char *lang, size_t max, cJSON **out)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (fa__prepare(ag, &st, "reading drafts",
                    "SELECT id, form_id, form_version, area, updated_ms, "
                    "base_rev, answers FROM drafts ORDER BY updated_ms DESC "
                    "LIMIT ?",
                    "i", max ? (int64_t)max : (int64_t)-1) != FA_OK)
        return FA_ESTORE;
    cJSON *arr = cJSON_CreateArray();
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        const char *form = fa__col_text(st, 1);
        int64_t version = sqlite3_column_int64(st, 2);
        cJSON_AddStringToObject(o, "id", fa__col_text(st, 0));
        cJSON_AddStringToObject(o, "form", form);
        cJSON_AddNumberToObject(o, "version", (double)version);
        add_title(ag, o, form, version, lang);
        cJSON_AddStringToObject(o, "area", fa__col_text(st, 3));
        cJSON_AddNumberToObject(o, "updated_ms",
                                (double)sqlite3_column_int64(st, 4));
        cJSON_AddBoolToObject(o, "amendment", sqlite3_column_int64(st, 5) > 0);
        cJSON *a = fs_json_parse_stored(fa__col_text(st, 6));
        cJSON_AddNumberToObject(o, "answers", cJSON_GetArraySize(a));
        cJSON_Delete(a);
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
    *out = arr;
    return FA_OK;
}

int fa__submission_list(fa_agent *ag, const char *lang, int refused_only,
                        size_t max, cJSON **out)
{
    /* The newest revision of each submission; waiting: not yet
     * acknowledged by the hub. */
    static const char sql[] =
        "SELECT s.id, s.form_id, s.form_version, s.area, s.created_ms, "
        "s.rev, s.state, s.hub_status, s.hub_error, s.hub_message, "
        "s.review_state, s.review_comment, EXISTS (SELECT 1 FROM outbox o "
        "WHERE o.ref_id = s.id AND o.ref_rev = s.rev AND o.seq > "
        "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = "
        "'acked_seq'), 0)) FROM submissions s WHERE s.rev = (SELECT "
        "max(rev) FROM submissions x WHERE x.id = s.id) AND (?2 = 0 OR "
        "s.state = 'refused') ORDER BY s.created_ms DESC LIMIT ?1";
    static const char *const cols[] = {"state",        "hub_status",
                                       "hub_error",    "hub_message",
                                       "review_state", "review_comment"};
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (fa__prepare(ag, &st, "reading the lists", sql, "ii",
                    max ? (int64_t)max : (int64_t)-1,
                    (int64_t)refused_only) != FA_OK)
        return FA_ESTORE;
    cJSON *arr = cJSON_CreateArray();
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        const char *form = fa__col_text(st, 1);
        cJSON_AddStringToObject(o, "id", fa__col_text(st, 0));
        cJSON_AddStringToObject(o, "form", form);
        add_title(ag, o, form, sqlite3_column_int64(st, 2), lang);
        cJSON_AddStringToObject(o, "area", fa__col_text(st, 3));
        cJSON_AddNumberToObject(o, "created_ms",
                                (double)sqlite3_column_int64(st, 4));
        cJSON_AddNumberToObject(o, "rev", (double)sqlite3_column_int64(st, 5));
        for (int k = 0; k < 6; k++)
            cJSON_AddStringToObject(o, cols[k], fa__col_text(st, 6 + k));
        cJSON_AddBoolToObject(o, "waiting", sqlite3_column_int(st, 12));
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
    *out = arr;
    return FA_OK;
}

int fa_show(fa_agent *ag, const char *id, const char *lang, cJSON **out)
{
    /* A draft first (it is what is being worked on), else the newest
     * revision of a submission. */
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (fa__prepare(
            ag, &st, "reading submissions",
            "SELECT 'draft', form_id, form_version, area, answers, base_rev, "
            "'', '', '', '' FROM drafts WHERE id = ?1 UNION ALL SELECT * "
            "FROM (SELECT state, form_id, form_version, area, answers, rev, "
            "hub_status, hub_message, review_state, review_comment FROM "
            "submissions WHERE id = ?1 ORDER BY rev DESC LIMIT 1)",
            "t", id) != FA_OK)
        return FA_ESTORE;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return fa__fail(ag, FA_EINPUT, "no draft or submission %s here", id);
    }
    int64_t version = sqlite3_column_int64(st, 2);
    fs_form *f = NULL;
    int rc = fa__form_load(ag, fa__col_text(st, 1), &version, &f);
    if (rc != FA_OK) {
        sqlite3_finalize(st);
        return rc;
    }
    static const char *const cols[] = {"hub_status", "hub_message",
                                       "review_state", "review_comment"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "form", fa__col_text(st, 1));
    cJSON_AddNumberToObject(o, "version", (double)version);
    cJSON_AddStringToObject(o, "title", fs_form_title(f, lang));
    cJSON_AddStringToObject(o, "area", fa__col_text(st, 3));
    cJSON_AddStringToObject(o, "state", fa__col_text(st, 0));
    cJSON_AddNumberToObject(o, "rev", (double)sqlite3_column_int64(st, 5));
    for (int k = 0; k < 4; k++)
        cJSON_AddStringToObject(o, cols[k], fa__col_text(st, 6 + k));
    cJSON *answers = fs_json_parse_stored(fa__col_text(st, 4));
    sqlite3_finalize(st);
    cJSON *list = cJSON_AddArrayToObject(o, "answers");
    /* Sealed at finalize: the device itself cannot read them back. */
    int sealed =
        cJSON_GetObjectItemCaseSensitive(answers, FS_SEALED_MEMBER) != NULL;
    for (size_t i = 0; i < fs_form_field_count(f); i++) {
        const fs_field *fld = fs_form_field(f, i);
        const cJSON *v =
            cJSON_GetObjectItemCaseSensitive(answers, fs_field_name(fld));
        if (sealed && (fs_field_flags(fld) & FS_FIELD_SEALED)) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "name", fs_field_name(fld));
            cJSON_AddStringToObject(a, "label", fs_field_label(fld, lang));
            cJSON_AddBoolToObject(a, "sealed", 1);
            cJSON_AddStringToObject(a, "text", "sealed");
            cJSON_AddItemToArray(list, a);
            continue;
        }
        if (!v)
            continue;
        cJSON *a = cJSON_CreateObject();
        char *text = fa__value_text(fld, v, lang);
        cJSON_AddStringToObject(a, "name", fs_field_name(fld));
        cJSON_AddStringToObject(a, "label", fs_field_label(fld, lang));
        cJSON_AddItemToObject(a, "value", cJSON_Duplicate(v, 1));
        cJSON_AddStringToObject(a, "text", text ? text : "");
        free(text);
        cJSON_AddItemToArray(list, a);
    }
    cJSON_Delete(answers);
    fs_form_free(f);
    *out = o;
    return FA_OK;
}
