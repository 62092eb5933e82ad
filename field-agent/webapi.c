/*
 * webapi.c - the web app's JSON endpoints. Each is a thin wrapper around
 * what the command line runs: drafts are created, answered, moved back
 * and finalized through drafts.c and answer.c (every accepted answer is
 * saved at once, checked by the hub's own validator), lists come from the
 * same tables `status` reads, and sync is fa_sync. The server keeps no
 * state of its own between requests: each loads the draft from the store,
 * so a killed agent loses nothing that was accepted.
 *
 * Bad input gets a 4xx JSON error {"error","message"} and changes nothing.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "answer.h"
#include "attach.h"
#include "entity.h"
#include "forms.h"
#include "fs_entity.h"
#include "fs_schema.h"
#include "scope.h"
#include "store.h"
#include "submissions.h"
#include "web.h"

#define LIST_MAX 50

/* ---- small helpers --------------------------------------------------- */

/* Reads a JSON object body of at most FA_WEB_BODY_MAX bytes. On failure
 * the error is sent and -1 returned. */
static int read_object(fa__web *w, struct mg_connection *conn, cJSON **out)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    *out = NULL;
    if (ri->content_length < 0) {
        fa__web_error(conn, 411, "length_required",
                      "send the JSON body with a Content-Length");
        return -1;
    }
    if (ri->content_length > FA_WEB_BODY_MAX) {
        fa__web_error(conn, 413, "too_big",
                      "the body is %lld bytes; at most %d are accepted",
                      ri->content_length, FA_WEB_BODY_MAX);
        return -1;
    }
    size_t want = (size_t)ri->content_length, got = 0;
    char *buf = malloc(want + 1);
    if (!buf) {
        fa__web_error(conn, 503, "no_memory", "the agent is out of memory");
        return -1;
    }
    while (got < want) {
        int n = mg_read(conn, buf + got, want - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    fs_err perr = {0};
    int rc = got == want ? fs_json_parse(buf, want, &w->ag->limits, out, &perr)
                         : FS_EMALFORMED;
    free(buf);
    if (got != want) {
        fa__web_error(conn, 400, "short_body",
                      "the connection ended inside the body");
        return -1;
    }
    if (rc != FS_OK || !cJSON_IsObject(*out)) {
        fa__web_error(conn, 400, "bad_json",
                      "the body must be a JSON object%s%s",
                      rc != FS_OK ? ": " : "", rc != FS_OK ? perr.msg : "");
        cJSON_Delete(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* ?lang=xx: letters, digits and '-', else the form's default. */
static int query_lang(struct mg_connection *conn, char *lang, size_t cap)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    lang[0] = '\0';
    if (!ri->query_string)
        return 0;
    if (mg_get_var(ri->query_string, strlen(ri->query_string), "lang", lang,
                   cap) < 0)
        lang[0] = '\0';
    for (const char *p = lang; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-')) {
            fa__web_error(conn, 400, "bad_lang",
                          "lang must be a language tag such as en or fr");
            return -1;
        }
    }
    return 0;
}

static const char *lang_or_null(const char *lang)
{
    return lang[0] ? lang : NULL;
}

/* Languages written right to left, by primary subtag. */
static const char *dir_of(const char *lang)
{
    static const char *const rtl[] = {"ar", "he", "fa", "ur", "ps",
                                      "sd", "ug", "yi", "dv", "ckb"};
    size_t n = strcspn(lang, "-");
    for (size_t i = 0; i < sizeof rtl / sizeof rtl[0]; i++)
        if (strlen(rtl[i]) == n && strncasecmp(lang, rtl[i], n) == 0)
            return "rtl";
    return "ltr";
}

/* The languages a form is written in: its default first, then every
 * other language of its title. */
static cJSON *languages_of(const fs_form *f)
{
    cJSON *arr = cJSON_CreateArray();
    const char *def = fs_form_language(f);
    cJSON_AddItemToArray(arr, cJSON_CreateString(def));
    const cJSON *title =
        cJSON_GetObjectItemCaseSensitive(fs_form_json(f), "title");
    const cJSON *it;
    if (cJSON_IsObject(title))
        cJSON_ArrayForEach(it, title)
        {
            if (strcmp(it->string, def) != 0)
                cJSON_AddItemToArray(arr, cJSON_CreateString(it->string));
        }
    return arr;
}

static int agent_error(fa__web *w, struct mg_connection *conn, int rc)
{
    const char *msg = fa_last_error(w->ag);
    if (rc == FA_EINPUT) {
        fa__web_error(conn, 422, "invalid", "%s", msg);
        return 422;
    }
    fa__web_error(conn, 500, "storage", "%s", msg);
    return 500;
}

static cJSON *problems_json(const fs_form *f, const fs_problems *p,
                            const char *lang)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < p->n; i++) {
        cJSON *o = cJSON_CreateObject();
        const fs_field *fld = fs_form_field_named(f, p->items[i].where);
        cJSON_AddStringToObject(o, "where", p->items[i].where);
        cJSON_AddStringToObject(
            o, "label", fld ? fs_field_label(fld, lang) : p->items[i].where);
        cJSON_AddStringToObject(o, "message", p->items[i].msg);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* ---- a draft, as the fill screen shows it ---------------------------- */

/* A field as the page draws it; answers (may be NULL) holds its current
 * value. Used for questions and for registry fields alike. */
static cJSON *field_json(const fs_field *fld, const cJSON *answers,
                         const char *lang)
{
    cJSON *q = cJSON_CreateObject();
    fs_field_type t = fs_field_type_of(fld);
    cJSON_AddStringToObject(q, "name", fs_field_name(fld));
    cJSON_AddStringToObject(q, "type", fs_field_type_name(t));
    cJSON_AddStringToObject(q, "label", fs_field_label(fld, lang));
    const char *hint = fs_field_hint(fld, lang);
    if (hint)
        cJSON_AddStringToObject(q, "hint", hint);
    cJSON_AddBoolToObject(q, "required",
                          (fs_field_flags(fld) & FS_FIELD_REQUIRED) != 0);
    cJSON *choices = cJSON_AddArrayToObject(q, "choices");
    for (size_t i = 0; i < fs_field_choice_count(fld); i++) {
        const char *label = NULL;
        const char *code = fs_field_choice(fld, i, lang, &label);
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "value", code);
        cJSON_AddStringToObject(c, "label", label);
        cJSON_AddItemToArray(choices, c);
    }
    if (t == FS_FIELD_LIKERT) {
        int n = fs_field_scale(fld);
        cJSON_AddNumberToObject(q, "scale", n);
        cJSON *labels = cJSON_AddArrayToObject(q, "scale_labels");
        for (int k = 1; k <= n; k++) {
            const char *l = fs_field_scale_label(fld, k, lang);
            cJSON_AddItemToArray(labels, l ? cJSON_CreateString(l)
                                           : cJSON_CreateNull());
        }
    }
    if (fs_field_type_is_attachment(t)) {
        /* The page's <input type=file>: what it offers to pick, whether
         * it opens the camera or recorder, and the limits. */
        char accept[600] = "";
        const cJSON *ct = fs_field_content_types(fld);
        const cJSON *it;
        if (cJSON_IsArray(ct)) {
            size_t n = 0;
            cJSON_ArrayForEach(it, ct)
            {
                if (cJSON_IsString(it) && n < sizeof accept)
                    n += (size_t)snprintf(accept + n, sizeof accept - n, "%s%s",
                                          n ? "," : "", it->valuestring);
            }
        } else if (t != FS_FIELD_FILE) {
            snprintf(accept, sizeof accept, "%s",
                     t == FS_FIELD_IMAGE ? "image/*" : "audio/*");
        }
        cJSON_AddStringToObject(q, "accept", accept);
        if (t != FS_FIELD_FILE)
            cJSON_AddStringToObject(
                q, "capture", t == FS_FIELD_IMAGE ? "environment" : "user");
        cJSON_AddNumberToObject(q, "max_bytes",
                                (double)fs_field_max_bytes(fld));
        if (fs_field_max_pixels(fld) > 0)
            cJSON_AddNumberToObject(q, "max_pixels",
                                    (double)fs_field_max_pixels(fld));
    }
    const cJSON *cur =
        cJSON_GetObjectItemCaseSensitive(answers, fs_field_name(fld));
    cJSON_AddItemToObject(q, "answer",
                          cur ? cJSON_Duplicate(cur, 1) : cJSON_CreateNull());
    if (cur) {
        char *txt = fa__value_text(fld, cur, lang);
        cJSON_AddStringToObject(q, "answer_text", txt ? txt : "");
        free(txt);
    }
    return q;
}

/* The screen for a draft: the area to choose, the current question, or
 * the review before finalizing (with what still stops it). */
static cJSON *draft_view(fa__web *w, fa__draft *d, const fs_form *f,
                         const char *lang_in)
{
    /* A language the form is not written in falls back to its default
     * (fs_field_label does the same), and so do lang and dir. */
    cJSON *langs = languages_of(f);
    const char *lang = fs_form_language(f);
    const cJSON *it;
    cJSON_ArrayForEach(it, langs)
    {
        if (strcmp(it->valuestring, lang_in) == 0)
            lang = it->valuestring;
    }
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "id", d->id);
    cJSON_AddStringToObject(v, "form", d->form_id);
    cJSON_AddNumberToObject(v, "version", (double)d->form_version);
    cJSON_AddStringToObject(v, "title", fs_form_title(f, lang));
    cJSON_AddStringToObject(v, "lang", lang);
    cJSON_AddStringToObject(v, "dir", dir_of(lang));
    cJSON_AddItemToObject(v, "languages", langs);
    cJSON_AddStringToObject(v, "area", d->area);
    cJSON_AddBoolToObject(v, "amendment", d->base_rev > 0);
    /* Sealed answers: plain until finalize (stored or in memory), and an
     * amendment asks them again. */
    if (fs_form_seal_key(f))
        cJSON_AddStringToObject(
            v, "sealed", fs_form_drafts_in_memory(f) ? "memory" : "stored");
    if (d->sealed_dropped)
        cJSON_AddBoolToObject(v, "sealed_asked_again", 1);
    cJSON_AddNumberToObject(v, "total", (double)fs_form_field_count(f));
    if (fs_form_area_required(f) && !d->area[0]) {
        char areas[FA_SCOPE_MAX];
        fa__meta_get(w->ag, "areas", areas, sizeof areas);
        cJSON_AddStringToObject(v, "state", "area");
        cJSON_AddStringToObject(v, "areas", areas);
        cJSON_AddBoolToObject(v, "can_back", 0);
        return v;
    }
    const fs_field *fld = fa__draft_current(f, d);
    cJSON_AddNumberToObject(v, "position", (double)d->position);
    cJSON_AddBoolToObject(v, "can_back", fa__draft_previous(f, d) >= 0);
    if (fld) {
        cJSON_AddStringToObject(v, "state", "question");
        cJSON_AddItemToObject(v, "question", field_json(fld, d->answers, lang));
        return v;
    }
    cJSON_AddStringToObject(v, "state", "review");
    fa__draft_drop_irrelevant(f, d);
    fs_problems p;
    fs_problems_init(&p);
    fs_answers_validate(f, d->answers, d->area, &p);
    cJSON_AddItemToObject(v, "problems", problems_json(f, &p, lang));
    cJSON *sum = cJSON_AddArrayToObject(v, "summary");
    for (size_t i = 0; i < fs_form_field_count(f); i++) {
        const fs_field *x = fs_form_field(f, i);
        const cJSON *a =
            cJSON_GetObjectItemCaseSensitive(d->answers, fs_field_name(x));
        if (!a)
            continue;
        cJSON *o = cJSON_CreateObject();
        char *txt = fa__value_text(x, a, lang);
        cJSON_AddStringToObject(o, "label", fs_field_label(x, lang));
        cJSON_AddStringToObject(o, "value", txt ? txt : "");
        free(txt);
        cJSON_AddItemToArray(sum, o);
    }
    return v;
}

/* Loads draft id and its form; on failure the error is sent. */
static int load(fa__web *w, struct mg_connection *conn, const char *id,
                fa__draft *d, fs_form **f)
{
    *f = NULL;
    memset(d, 0, sizeof *d);
    if (!fs_valid_uuid(id)) {
        fa__web_error(conn, 400, "bad_id", "'%.40s' is not a draft id", id);
        return -1;
    }
    int rc = fa__draft_load(w->ag, id, d);
    if (rc == FA_EINPUT) {
        fa__web_error(conn, 404, "no_draft",
                      "no draft %s on this device (finalized already?)", id);
        return -1;
    }
    int64_t version = d->form_version;
    if (rc == FA_OK)
        rc = fa__form_load(w->ag, d->form_id, &version, f);
    if (rc != FA_OK) {
        agent_error(w, conn, rc);
        fa__draft_clear(d);
        return -1;
    }
    return 0;
}

static int reply_view(fa__web *w, struct mg_connection *conn, int status,
                      fa__draft *d, const fs_form *f, const char *lang)
{
    fa__web_reply(conn, status, draft_view(w, d, f, lang));
    return status;
}

/* The reply after a change to a draft: the next screen, or 422 with the
 * reasons (p: the validator's, may be NULL), or a storage error. */
static int outcome(fa__web *w, struct mg_connection *conn, int rc,
                   const fs_problems *p, fa__draft *d, const fs_form *f,
                   const char *lang)
{
    if (rc == FA_OK)
        return reply_view(w, conn, 200, d, f, lang);
    if (rc != FA_EINPUT)
        return agent_error(w, conn, rc);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "error", "invalid");
    cJSON_AddStringToObject(e, "message",
                            p && p->n ? p->items[0].msg : fa_last_error(w->ag));
    if (p)
        cJSON_AddItemToObject(e, "problems", problems_json(f, p, lang));
    fa__web_reply(conn, 422, e);
    return 422;
}

/* ---- endpoints ------------------------------------------------------- */

static int api_create(fa__web *w, struct mg_connection *conn, const char *lang)
{
    cJSON *body = NULL;
    if (read_object(w, conn, &body) != 0)
        return 400;
    const cJSON *form = cJSON_GetObjectItemCaseSensitive(body, "form");
    const cJSON *area = cJSON_GetObjectItemCaseSensitive(body, "area");
    int status = 0;
    if (!cJSON_IsString(form) || !fs_valid_form_id(form->valuestring)) {
        fa__web_error(conn, 400, "bad_form",
                      "\"form\" must be the id of a form on this device");
        status = 400;
    } else if (area && (!cJSON_IsString(area) ||
                        fa__area_check(w->ag, area->valuestring) != FA_OK)) {
        fa__web_error(conn, 422, "bad_area", "%s",
                      cJSON_IsString(area) ? fa_last_error(w->ag)
                                           : "\"area\" must be a string");
        status = 422;
    }
    fs_form *f = NULL;
    int64_t version = 0;
    int rc = FA_OK;
    if (!status) {
        rc = fa__form_load(w->ag, form->valuestring, &version, &f);
        if (rc != FA_OK)
            status = agent_error(w, conn, rc);
    }
    fa__draft d;
    memset(&d, 0, sizeof d);
    if (!status) {
        rc = fa__draft_create(w->ag, &d, NULL, form->valuestring, version,
                              area ? area->valuestring : NULL, 0, NULL);
        if (rc != FA_OK)
            status = agent_error(w, conn, rc);
        else
            status = reply_view(w, conn, 201, &d, f, lang);
    }
    fa__draft_clear(&d);
    fs_form_free(f);
    cJSON_Delete(body);
    return status;
}

static int api_answer(fa__web *w, struct mg_connection *conn, fa__draft *d,
                      const fs_form *f, const char *lang)
{
    cJSON *body = NULL;
    if (read_object(w, conn, &body) != 0)
        return 400;
    const cJSON *field = cJSON_GetObjectItemCaseSensitive(body, "field");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(body, "text");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(body, "value");
    const fs_field *cur = NULL;
    if (!(fs_form_area_required(f) && !d->area[0]))
        cur = fa__draft_current(f, d);
    int status = 0;
    if (!cJSON_IsString(field) || (text && !cJSON_IsString(text)) ||
        (text && value)) {
        fa__web_error(conn, 400, "bad_answer",
                      "send {\"field\": NAME} with \"text\" (as typed) or "
                      "\"value\" (JSON), or neither to leave it empty");
        status = 400;
    } else if (!cur || strcmp(fs_field_name(cur), field->valuestring) != 0) {
        /* A screen left open elsewhere, or a double tap: answering a
         * question that is not the current one would land in the wrong
         * place. */
        fa__web_error(conn, 409, "not_current",
                      "'%.64s' is not the current question of this draft; "
                      "reload it",
                      field->valuestring);
        status = 409;
    }
    cJSON *val = NULL;
    if (!status && text) {
        /* Typed text is read exactly as the terminal reads a line. */
        char buf[4096], why[160];
        const char *s = text->valuestring;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
                         s[n - 1] == '\n' || s[n - 1] == '\r'))
            n--;
        if (n >= sizeof buf) {
            fa__web_error(conn, 413, "too_long",
                          "an answer is at most %zu bytes", sizeof buf - 1);
            status = 413;
        } else if (n > 0) {
            memcpy(buf, s, n);
            buf[n] = '\0';
            val = fa__answer_parse(cur, buf, why, sizeof why);
            if (!val) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "error", "invalid");
                cJSON_AddStringToObject(e, "message", why);
                cJSON *arr = cJSON_AddArrayToObject(e, "problems");
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "where", fs_field_name(cur));
                cJSON_AddStringToObject(o, "message", why);
                cJSON_AddItemToArray(arr, o);
                fa__web_reply(conn, 422, e);
                status = 422;
            }
        }
    } else if (!status && value && !cJSON_IsNull(value)) {
        val = cJSON_Duplicate(value, 1);
    }
    if (!status) {
        fs_problems p;
        int rc = fa__draft_answer(w->ag, d, f, val, &p);
        status = outcome(w, conn, rc, &p, d, f, lang);
    }
    cJSON_Delete(body);
    return status;
}

/* The body of an upload, as attach.c reads a file. */
static long read_body(void *ctx, void *buf, size_t n)
{
    errno = 0;
    int r = mg_read(ctx, buf, n > INT_MAX ? INT_MAX : n);
    return r < 0 ? -1 : (long)r;
}

/* POST drafts/ID/file?field=NAME&name=FILE with the file as the body: the
 * file is stored exactly as `record --attach` stores it (attach.h:
 * streamed, checked against the field's limits, a photo stripped of its
 * metadata and scaled down), and its reference answers the current
 * question. */
static int api_file(fa__web *w, struct mg_connection *conn, fa__draft *d,
                    const fs_form *f, const char *lang)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *qs = ri->query_string ? ri->query_string : "";
    char field[128] = "", name[256] = "";
    if (mg_get_var(qs, strlen(qs), "field", field, sizeof field) < 0)
        field[0] = '\0';
    if (mg_get_var(qs, strlen(qs), "name", name, sizeof name) < 0)
        name[0] = '\0';
    const fs_field *cur = NULL;
    if (!(fs_form_area_required(f) && !d->area[0]))
        cur = fa__draft_current(f, d);
    if (!field[0]) {
        fa__web_error(conn, 400, "bad_upload",
                      "send the file as the body of POST "
                      "drafts/ID/file?field=NAME&name=FILE");
        return 400;
    }
    if (!cur || strcmp(fs_field_name(cur), field) != 0) {
        fa__web_error(conn, 409, "not_current",
                      "'%.64s' is not the current question of this draft; "
                      "reload it",
                      field);
        return 409;
    }
    if (!fs_field_type_is_attachment(fs_field_type_of(cur))) {
        fa__web_error(conn, 400, "not_a_file_field",
                      "%s is not an image, audio or file question", field);
        return 400;
    }
    /* A base name only, as a label: the path a browser may send is cut. */
    const char *base = name;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    char label[300];
    snprintf(label, sizeof label, "the file %s", base[0] ? base : "sent");
    fa__attach_src src = {.label = label,
                          .name = base[0] ? base : "file",
                          .size = ri->content_length,
                          .read = read_body,
                          .ctx = conn};
    cJSON *ref = NULL;
    int rc = fa__attach_store(w->ag, cur, &src, &ref);
    if (rc != FA_OK)
        return outcome(w, conn, rc, NULL, d, f, lang);
    fs_problems p;
    rc = fa__draft_answer(w->ag, d, f, ref, &p);
    return outcome(w, conn, rc, &p, d, f, lang);
}

static int api_area(fa__web *w, struct mg_connection *conn, fa__draft *d,
                    const fs_form *f, const char *lang)
{
    cJSON *body = NULL;
    if (read_object(w, conn, &body) != 0)
        return 400;
    const cJSON *area = cJSON_GetObjectItemCaseSensitive(body, "area");
    int status;
    int rc = cJSON_IsString(area)
                 ? fa__area_check(w->ag, area->valuestring)
                 : fa__fail(w->ag, FA_EINPUT, "\"area\" must be a string");
    if (rc == FA_OK) {
        snprintf(d->area, sizeof d->area, "%s", area->valuestring);
        rc = fa__draft_save(w->ag, d);
    }
    status = outcome(w, conn, rc, NULL, d, f, lang);
    cJSON_Delete(body);
    return status;
}

static int api_back(fa__web *w, struct mg_connection *conn, fa__draft *d,
                    const fs_form *f, const char *lang)
{
    int64_t prev = fa__draft_previous(f, d);
    if (prev < 0) {
        fa__web_error(conn, 409, "first_question",
                      "this is the first question");
        return 409;
    }
    d->position = prev;
    return outcome(w, conn, fa__draft_save(w->ag, d), NULL, d, f, lang);
}

static int api_finalize(fa__web *w, struct mg_connection *conn, fa__draft *d,
                        const fs_form *f, const char *lang)
{
    fa__draft_drop_irrelevant(f, d);
    fs_problems p;
    int rc = fa__draft_finalize(w->ag, d, f, &p);
    if (rc == FA_EINPUT) {
        /* Like the terminal: back to the first question with a problem. */
        int64_t first = fa__first_problem(f, &p);
        if (first >= 0) {
            d->position = first;
            fa__draft_save(w->ag, d);
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "error", "invalid");
        cJSON_AddStringToObject(e, "message",
                                "some answers stop it from being finalized");
        cJSON_AddItemToObject(e, "problems", problems_json(f, &p, lang));
        cJSON_AddItemToObject(e, "draft", draft_view(w, d, f, lang));
        fa__web_reply(conn, 422, e);
        return 422;
    }
    if (rc != FA_OK)
        return agent_error(w, conn, rc);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", d->id);
    cJSON_AddStringToObject(o, "message",
                            "finalized; it will be sent on the next sync");
    fa__web_reply(conn, 200, o);
    return 200;
}

/* /api/drafts/ID[/ACTION] */
static int api_draft(fa__web *w, struct mg_connection *conn, const char *rest,
                     const char *method, const char *lang)
{
    char id[FS_UUID_LEN + 8];
    size_t n = strcspn(rest, "/");
    const char *action = rest[n] == '/' ? rest + n + 1 : "";
    if (n >= sizeof id) {
        fa__web_error(conn, 400, "bad_id", "that is not a draft id");
        return 400;
    }
    memcpy(id, rest, n);
    id[n] = '\0';
    int get = strcmp(method, "GET") == 0;
    int known =
        (get && !action[0]) ||
        (!get &&
         (strcmp(action, "answer") == 0 || strcmp(action, "file") == 0 ||
          strcmp(action, "area") == 0 || strcmp(action, "back") == 0 ||
          strcmp(action, "finalize") == 0));
    if (!known) {
        fa__web_error(conn, 404, "not_found",
                      "drafts/ID takes GET, or POST to ID/answer, ID/file, "
                      "ID/area, ID/back or ID/finalize");
        return 404;
    }
    fa__draft d;
    fs_form *f = NULL;
    if (load(w, conn, id, &d, &f) != 0)
        return 400;
    int status;
    if (get)
        status = reply_view(w, conn, 200, &d, f, lang);
    else if (strcmp(action, "answer") == 0)
        status = api_answer(w, conn, &d, f, lang);
    else if (strcmp(action, "file") == 0)
        status = api_file(w, conn, &d, f, lang);
    else if (strcmp(action, "area") == 0)
        status = api_area(w, conn, &d, f, lang);
    else if (strcmp(action, "back") == 0)
        status = api_back(w, conn, &d, f, lang);
    else
        status = api_finalize(w, conn, &d, f, lang);
    fa__draft_clear(&d);
    fs_form_free(f);
    return status;
}

static int api_forms(fa__web *w, struct mg_connection *conn, const char *lang)
{
    /* The list `forms --json` prints, with each form's languages. */
    cJSON *arr = NULL;
    int rc = fa_forms(w->ag, lang_or_null(lang), &arr);
    if (rc != FA_OK)
        return agent_error(w, conn, rc);
    cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(it, "version");
        int64_t v = (int64_t)ver->valuedouble;
        fs_form *f = NULL;
        if (fa__form_load(w->ag, id->valuestring, &v, &f) == FA_OK)
            cJSON_AddItemToObject(it, "languages", languages_of(f));
        fs_form_free(f);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "forms", arr);
    cJSON_AddStringToObject(o, "dir", dir_of(lang));
    fa__web_reply(conn, 200, o);
    return 200;
}

/* POST /api/submissions/ID/amend: a draft of the next revision, the
 * app's way to answer a reviewer (as `fieldsync-agent amend`). A draft of
 * it that already exists is simply continued. */
static int api_amend(fa__web *w, struct mg_connection *conn, const char *rest,
                     const char *lang)
{
    char id[FS_UUID_LEN + 1];
    size_t n = strcspn(rest, "/");
    if (n != FS_UUID_LEN || strcmp(rest + n, "/amend") != 0) {
        fa__web_error(conn, 404, "not_found",
                      "submissions/ID/amend is the only action here");
        return 404;
    }
    memcpy(id, rest, n);
    id[n] = '\0';
    if (!fs_valid_uuid(id)) {
        fa__web_error(conn, 400, "bad_id", "that is not a submission id");
        return 400;
    }
    fa__draft d;
    fs_form *f = NULL;
    int status = 200;
    int rc = fa__draft_load(w->ag, id, &d);
    if (rc == FA_EINPUT) {
        fa__draft_clear(&d);
        rc = fa__draft_amend(w->ag, id, &d);
        status = 201;
    }
    int64_t version = d.form_version;
    if (rc == FA_OK)
        rc = fa__form_load(w->ag, d.form_id, &version, &f);
    if (rc == FA_EINPUT && status == 201) {
        fa__web_error(conn, 404, "no_submission", "%s", fa_last_error(w->ag));
        status = 404;
    } else if (rc != FA_OK) {
        status = agent_error(w, conn, rc);
    } else {
        status = reply_view(w, conn, status, &d, f, lang);
    }
    fa__draft_clear(&d);
    fs_form_free(f);
    return status;
}

/* GET /api/drafts, /api/submissions and /api/quarantine (submissions
 * and registry edits the hub refused): the newest LIST_MAX of each. */
static int api_list(fa__web *w, struct mg_connection *conn, const char *what,
                    const char *lang)
{
    int drafts = strcmp(what, "drafts") == 0;
    cJSON *arr = NULL;
    int rc = drafts ? fa_drafts(w->ag, lang_or_null(lang), LIST_MAX, &arr)
                    : fa__submission_list(w->ag, lang_or_null(lang),
                                          strcmp(what, "quarantine") == 0,
                                          LIST_MAX, &arr);
    if (rc != FA_OK)
        return agent_error(w, conn, rc);
    /* The app lists drafts without their form's version. */
    cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (drafts)
            cJSON_DeleteItemFromObjectCaseSensitive(it, "version");
    }
    /* Registry edits follow; without them (a store error) the
     * submissions are still worth showing. */
    if (strcmp(what, "quarantine") == 0)
        fa__entity_refused_list(w->ag, lang_or_null(lang), LIST_MAX, arr);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "items", arr);
    fa__web_reply(conn, 200, o);
    return 200;
}

/* ---- the registry (stakeholders and mechanisms) ----------------------- */

/* Edits go through fa_entity_new and fa_entity_set, the functions behind
 * `fieldsync-agent entity new|set`: the page sends what was typed per
 * field and the agent reads it as the command line reads FIELD=VALUE. */

static const char *const registry_types[] = {"stakeholder", "mechanism"};

static const fs_form *registry_type(const fs_entity_types *t, const char *name)
{
    for (size_t i = 0; i < 2; i++)
        if (name && strcmp(name, registry_types[i]) == 0)
            return fs_entity_type(t, name);
    return NULL;
}

static cJSON *type_json(const fs_form *type, const char *lang)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", fs_form_id(type));
    cJSON_AddStringToObject(o, "title", fs_form_title(type, lang));
    cJSON_AddStringToObject(o, "title_field", fs_entity_title_field(type));
    cJSON_AddStringToObject(o, "scope_field", fs_entity_scope_field(type));
    cJSON *fields = cJSON_AddArrayToObject(o, "fields");
    for (size_t i = 0; i < fs_form_field_count(type); i++) {
        const fs_field *fld = fs_form_field(type, i);
        if (fs_field_type_of(fld) != FS_FIELD_NOTE &&
            !(fs_field_flags(fld) & FS_FIELD_RETIRED))
            cJSON_AddItemToArray(fields, field_json(fld, NULL, lang));
    }
    return o;
}

/* {"fields": {"name": "typed text", ...}} as FIELD=VALUE strings. */
static int assignments(struct mg_connection *conn, const cJSON *body,
                       char ***argv, int *argc)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(body, "fields");
    *argv = NULL;
    *argc = 0;
    int n = cJSON_GetArraySize(fields);
    if (!cJSON_IsObject(fields) || n > 64) {
        fa__web_error(conn, 400, "bad_fields",
                      "send {\"fields\": {\"name\": \"text as typed\", "
                      "...}} with at most 64 fields");
        return -1;
    }
    *argv = calloc((size_t)n + 1, sizeof **argv);
    const cJSON *it;
    cJSON_ArrayForEach(it, fields)
    {
        if (!cJSON_IsString(it)) {
            fa__web_error(conn, 400, "bad_fields",
                          "the value of %.64s must be a string, as typed",
                          it->string);
            return -1;
        }
        size_t len = strlen(it->string) + strlen(it->valuestring) + 2;
        char *a = *argv ? malloc(len) : NULL;
        if (!a) {
            fa__web_error(conn, 503, "no_memory", "out of memory");
            return -1;
        }
        snprintf(a, len, "%s=%s", it->string, it->valuestring);
        (*argv)[(*argc)++] = a;
    }
    return 0;
}

static void free_argv(char **argv, int argc)
{
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}

/* GET /api/registry?type=T, GET /api/registry/ID, POST /api/registry
 * {type, fields}, POST /api/registry/ID {fields}. */
static int api_registry(fa__web *w, struct mg_connection *conn,
                        const char *rest, int get, const char *lang)
{
    fs_entity_types *t = NULL;
    if (fs_entity_types_parse(fs_entity_types_json,
                              strlen(fs_entity_types_json), &t, NULL) != FS_OK)
        return agent_error(w, conn,
                           fa__fail(w->ag, FA_ESTORE, "out of memory"));
    const char *id = rest[0] == '/' ? rest + 1 : NULL;
    int status = 0, rc = FA_OK;
    cJSON *body = NULL, *out = NULL;
    char **argv = NULL;
    int argc = 0;
    char type_name[FS_ID_MAX + 1] = "", area[FS_ID_MAX + 1] = "";
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (get && !id && ri->query_string) {
        size_t ql = strlen(ri->query_string);
        mg_get_var(ri->query_string, ql, "type", type_name, sizeof type_name);
        mg_get_var(ri->query_string, ql, "area", area, sizeof area);
    }
    if (id && !fs_valid_uuid(id)) {
        fa__web_error(conn, 400, "bad_id", "'%.40s' is not an entity id", id);
        status = 400;
    } else if (!get && read_object(w, conn, &body) != 0) {
        status = 400;
    } else if (!get && assignments(conn, body, &argv, &argc) != 0) {
        status = 400;
    }
    if (!status && !get && !id) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(body, "type");
        snprintf(type_name, sizeof type_name, "%s",
                 cJSON_IsString(ty) ? ty->valuestring : "");
    }
    if (!status && !id && !registry_type(t, type_name)) {
        fa__web_error(conn, 400, "bad_type",
                      "type must be stakeholder or mechanism");
        status = 400;
    }
    /* An entity named by id is read first: unknown ids are a 404, and
     * its type describes the fields. */
    char new_id[FS_UUID_LEN + 1] = "";
    if (!status && (get || id))
        rc = id ? fa_entity_show(w->ag, id, &out)
                : fa_entity_list(w->ag, type_name, area[0] ? area : NULL, &out);
    if (!status && id && rc == FA_EINPUT) {
        fa__web_error(conn, 404, "no_entity", "%s", fa_last_error(w->ag));
        status = 404;
    }
    if (!status && rc == FA_OK && !get)
        rc = id ? fa_entity_set(w->ag, id, argc, argv)
                : fa_entity_new(w->ag, type_name, argc, argv, new_id);
    if (!status && rc == FA_EINPUT) {
        fa__web_error(conn, 422, "invalid", "%s", fa_last_error(w->ag));
        status = 422;
    } else if (!status && rc != FA_OK) {
        status = agent_error(w, conn, rc);
    }
    if (!status) {
        cJSON *o = cJSON_CreateObject();
        const cJSON *ty =
            id && out ? cJSON_GetObjectItemCaseSensitive(out, "type") : NULL;
        const fs_form *type =
            fs_entity_type(t, cJSON_IsString(ty) ? ty->valuestring : type_name);
        if (type)
            cJSON_AddItemToObject(o, "type", type_json(type, lang));
        char areas[FA_SCOPE_MAX];
        fa__meta_get(w->ag, "areas", areas, sizeof areas);
        cJSON_AddStringToObject(o, "areas", areas);
        cJSON *types = cJSON_AddArrayToObject(o, "types");
        for (size_t i = 0; i < 2; i++) {
            const fs_form *x = fs_entity_type(t, registry_types[i]);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "id", registry_types[i]);
            cJSON_AddStringToObject(
                e, "title", x ? fs_form_title(x, lang) : registry_types[i]);
            cJSON_AddItemToArray(types, e);
        }
        if (get) {
            cJSON_AddItemToObject(o, id ? "entity" : "items", out);
            out = NULL;
        } else {
            cJSON_AddStringToObject(o, "id", id ? id : new_id);
        }
        status = get || id ? 200 : 201;
        fa__web_reply(conn, status, o);
    }
    cJSON_Delete(out);
    cJSON_Delete(body);
    free_argv(argv, argc);
    fs_entity_types_free(t);
    return status;
}

static int api_status(fa__web *w, struct mg_connection *conn)
{
    /* What `status --json` prints, and the background sync's state. */
    cJSON *o = NULL;
    int rc = fa_status(w->ag, &o);
    if (rc != FA_OK)
        return agent_error(w, conn, rc);
    /* Not for the UI: the hub's address, and the submissions behind the
     * counts (the lists come from /api/submissions and /api/quarantine). */
    cJSON_DeleteItemFromObjectCaseSensitive(o, "hub");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "attention_items");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "refused_items");
    cJSON_AddItemToObject(o, "sync", fa__web_sync_state(w));
    fa__web_reply(conn, 200, o);
    return 200;
}

int fa__web_api(fa__web *w, struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *path = ri->local_uri + 4; /* after "/api" */
    const char *m = ri->request_method;
    int get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;
    char lang[24];
    if (query_lang(conn, lang, sizeof lang) != 0)
        return 400;
    if (strcmp(path, "/sync") == 0 && (get || post)) {
        if (post)
            fa__web_sync_request(w);
        fa__web_reply(conn, post ? 202 : 200, fa__web_sync_state(w));
        return post ? 202 : 200;
    }
    int status;
    pthread_mutex_lock(&w->lock);
    if (get && strcmp(path, "/status") == 0)
        status = api_status(w, conn);
    else if (get && strcmp(path, "/forms") == 0)
        status = api_forms(w, conn, lang);
    else if (get && (strcmp(path, "/drafts") == 0 ||
                     strcmp(path, "/submissions") == 0 ||
                     strcmp(path, "/quarantine") == 0))
        status = api_list(w, conn, path + 1, lang);
    else if (post && strcmp(path, "/drafts") == 0)
        status = api_create(w, conn, lang);
    else if ((get || post) && strncmp(path, "/drafts/", 8) == 0)
        status = api_draft(w, conn, path + 8, m, lang);
    else if (post && strncmp(path, "/submissions/", 13) == 0)
        status = api_amend(w, conn, path + 13, lang);
    else if ((get || post) && (strcmp(path, "/registry") == 0 ||
                               strncmp(path, "/registry/", 10) == 0))
        status = api_registry(w, conn, path + 9, get, lang);
    else {
        fa__web_error(conn, get || post ? 404 : 405, "not_found",
                      "no such endpoint: %s %.100s (see README, \"The form "
                      "app\")",
                      m, ri->local_uri);
        status = get || post ? 404 : 405;
    }
    pthread_mutex_unlock(&w->lock);
    return status;
}
