/*
 * answer.c - one answer at a time: reading what a person typed as a value
 * of the field's type, showing a value as text again, and applying it to
 * a draft. The terminal fill (fill.c), `show` and the web app (webapi.c)
 * all go through here, so a value is read, checked (fs_answer_check, the
 * hub's own validator), saved and shown the same way whichever screen it
 * was typed on.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answer.h"
#include "store.h"

/* One choice typed as its number or its code. */
static const char *choice_of(const fs_field *fld, const char *tok)
{
    size_t nc = fs_field_choice_count(fld);
    char *end = NULL;
    long k = strtol(tok, &end, 10);
    if (end != tok && *end == '\0' && k >= 1 && (size_t)k <= nc)
        return fs_field_choice(fld, (size_t)k - 1, NULL, NULL);
    for (size_t i = 0; i < nc; i++) {
        const char *code = fs_field_choice(fld, i, NULL, NULL);
        if (strcmp(code, tok) == 0)
            return code;
    }
    return NULL;
}

cJSON *fa__answer_parse(const fs_field *fld, char *line, char *why, size_t cap)
{
    char *end = NULL;
    switch (fs_field_type_of(fld)) {
    case FS_FIELD_TEXT:
        if (!fs_utf8_valid(line, strlen(line))) {
            snprintf(why, cap, "the text is not valid UTF-8");
            return NULL;
        }
        return cJSON_CreateString(line);
    case FS_FIELD_INTEGER:
    case FS_FIELD_LIKERT: {
        long long v = strtoll(line, &end, 10);
        if (end == line || *end != '\0') {
            snprintf(why, cap, "type a whole number");
            return NULL;
        }
        return cJSON_CreateNumber((double)v);
    }
    case FS_FIELD_DECIMAL: {
        double v = strtod(line, &end);
        if (end == line || *end != '\0' || !isfinite(v)) {
            snprintf(why, cap, "type a number, e.g. 12.5");
            return NULL;
        }
        return cJSON_CreateNumber(v);
    }
    case FS_FIELD_SELECT_ONE: {
        const char *code = choice_of(fld, line);
        if (!code) {
            snprintf(why, cap, "type the number of one of the choices");
            return NULL;
        }
        return cJSON_CreateString(code);
    }
    case FS_FIELD_SELECT_MULTIPLE: {
        cJSON *arr = cJSON_CreateArray();
        for (char *tok = line; arr && *tok;) {
            while (*tok == ' ' || *tok == ',')
                tok++;
            char *stop = tok;
            while (*stop && *stop != ' ' && *stop != ',')
                stop++;
            char saved = *stop;
            *stop = '\0';
            if (*tok) {
                const char *code = choice_of(fld, tok);
                if (!code) {
                    snprintf(why, cap, "'%.40s' is not one of the choices",
                             tok);
                    cJSON_Delete(arr);
                    return NULL;
                }
                cJSON_AddItemToArray(arr, cJSON_CreateString(code));
            }
            *stop = saved;
            tok = stop;
        }
        return arr;
    }
    case FS_FIELD_DATE:
    case FS_FIELD_DATETIME: {
        int date = fs_field_type_of(fld) == FS_FIELD_DATE;
        if (strcmp(line, date ? "today" : "now") == 0) {
            char buf[32];
            time_t t = time(NULL);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(buf, sizeof buf, date ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ",
                     &tm);
            return cJSON_CreateString(buf);
        }
        return cJSON_CreateString(line);
    }
    case FS_FIELD_GEOPOINT: {
        double v[3];
        int n = 0;
        char *p = line;
        while (n < 3 && *p) {
            v[n] = strtod(p, &end);
            if (end == p)
                break;
            n++;
            p = end;
            while (*p == ' ' || *p == ',')
                p++;
        }
        if (n < 2 || *p) {
            snprintf(why, cap,
                     "type latitude and longitude, e.g. "
                     "48.8566 2.3522");
            return NULL;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "lat", v[0]);
        cJSON_AddNumberToObject(o, "lon", v[1]);
        if (n == 3)
            cJSON_AddNumberToObject(o, "accuracy", v[2]);
        return o;
    }
    case FS_FIELD_NOTE:
    default:
        snprintf(why, cap, "this is a note; it takes no answer");
        return NULL;
    }
}

/* Appends v as text for people to b (see fa__value_text). */
static int append_value(fs_buf *b, const fs_field *fld, const cJSON *v,
                        const char *lang)
{
    if (cJSON_IsString(v)) {
        const char *text = v->valuestring;
        const char *label = NULL;
        for (size_t i = 0; i < fs_field_choice_count(fld); i++) {
            const char *code = fs_field_choice(fld, i, lang, &label);
            if (strcmp(code, v->valuestring) == 0) {
                text = label;
                break;
            }
        }
        return fs_buf_append(b, text, strlen(text));
    }
    if (cJSON_IsArray(v)) {
        const cJSON *it;
        int rc = FS_OK;
        cJSON_ArrayForEach(it, v)
        {
            if (rc == FS_OK && it != v->child)
                rc = fs_buf_append(b, ", ", 2);
            if (rc == FS_OK)
                rc = append_value(b, fld, it, lang);
        }
        return rc;
    }
    char *t = cJSON_PrintUnformatted(v);
    int rc = fs_buf_append(b, t ? t : "?", t ? strlen(t) : 1);
    free(t);
    return rc;
}

char *fa__value_text(const fs_field *fld, const cJSON *v, const char *lang)
{
    fs_buf b;
    fs_buf_init(&b, FA_TEXT_MAX);
    if (append_value(&b, fld, v, lang) != FS_OK ||
        fs_buf_append(&b, "", 0) != FS_OK) {
        fs_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

void fa__draft_drop_irrelevant(const fs_form *f, fa__draft *d)
{
    /* An answer whose question no longer applies (skip logic, refused
     * consent) must not be kept: the validator refuses it. */
    for (size_t i = 0; i < fs_form_field_count(f); i++) {
        const fs_field *fld = fs_form_field(f, i);
        const char *name = fs_field_name(fld);
        if (cJSON_GetObjectItemCaseSensitive(d->answers, name) &&
            !fs_field_relevant(f, fld, d->answers))
            cJSON_DeleteItemFromObjectCaseSensitive(d->answers, name);
    }
}

const fs_field *fa__draft_current(const fs_form *f, fa__draft *d)
{
    size_t n = fs_form_field_count(f);
    while ((size_t)d->position < n) {
        const fs_field *fld = fs_form_field(f, (size_t)d->position);
        if (fs_field_relevant(f, fld, d->answers))
            return fld;
        cJSON_DeleteItemFromObjectCaseSensitive(d->answers, fs_field_name(fld));
        d->position++;
    }
    return NULL;
}

int64_t fa__draft_previous(const fs_form *f, const fa__draft *d)
{
    size_t n = fs_form_field_count(f);
    size_t pos = (size_t)d->position < n ? (size_t)d->position : n;
    while (pos > 0) {
        pos--;
        if (fs_field_relevant(f, fs_form_field(f, pos), d->answers))
            return (int64_t)pos;
    }
    return -1;
}

int fa__draft_answer(fa_agent *ag, fa__draft *d, const fs_form *f, cJSON *value,
                     fs_problems *p)
{
    fs_problems_init(p);
    const fs_field *fld = fa__draft_current(f, d);
    if (!fld) {
        cJSON_Delete(value);
        return fa__fail(ag, FA_EINPUT,
                        "every question has been asked; "
                        "finalize or go back");
    }
    const char *name = fs_field_name(fld);
    if (fs_field_type_of(fld) == FS_FIELD_NOTE && value) {
        cJSON_Delete(value);
        return fa__fail(ag, FA_EINPUT, "%s is a note; it takes no answer",
                        name);
    }
    if (!value && (fs_field_flags(fld) & FS_FIELD_REQUIRED) &&
        fs_field_type_of(fld) != FS_FIELD_NOTE) {
        fs_problems_add(p, name, "this question needs an answer");
        return fa__fail(ag, FA_EINPUT, "%s needs an answer", name);
    }
    if (value && fs_answer_check(f, fld, value, p) != FS_OK) {
        cJSON_Delete(value);
        return fa__fail(ag, FA_EINPUT, "the answer to %s is not accepted",
                        name);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(d->answers, name);
    if (value)
        cJSON_AddItemToObject(d->answers, name, value);
    d->position++;
    fa__draft_drop_irrelevant(f, d);
    return fa__draft_save(ag, d);
}

int64_t fa__first_problem(const fs_form *f, const fs_problems *p)
{
    size_t n = fs_form_field_count(f), first = n;
    for (size_t i = 0; i < p->n; i++)
        for (size_t k = 0; k < first; k++)
            if (strcmp(fs_field_name(fs_form_field(f, k)), p->items[i].where) ==
                0)
                first = k;
    return first == n ? -1 : (int64_t)first;
}
