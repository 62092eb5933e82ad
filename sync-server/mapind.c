/*
 * mapind.c - indicators and wave-to-wave change over the hub's counted
 * submissions: checks a request against the form, reads only the two
 * answers the engine needs per submission, and runs indicators.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_form.h"
#include "mapind.h"
#include "errors.h"
#include "forms.h"
#include "mapping.h"
#include "scope.h"
#include "indicators.h"
#include "settings.h"
#include "stmtcache.h"

#define UNRELIABLE_BELOW 25

static int bad(char *err, size_t cap, const char *what, const char *arg)
{
    snprintf(err, cap, "%s%s", what, arg ? arg : "");
    return HUB_EBADINPUT;
}

/* The k used: the request's when it asks for more than the hub's
 * configured minimum, else that minimum. A request never lowers it. */
int hub__ind_check_k(sqlite3 *db, const char *text, int *min, int *k, char *err,
                     size_t cap)
{
    int rc = hub__min_k(db, min);
    *k = *min;
    if (rc != HUB_OK || !text || !text[0])
        return rc;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (*end != '\0' || v < 1 || v > HUB_K_MAX)
        return bad(err, cap,
                   "k (the smallest cell shown) must be an integer from 1 "
                   "to 1000, not ",
                   text);
    if (v > *k)
        *k = (int)v;
    return 0;
}

/* A field marked personal or sensitive in any version of the form is
 * aggregated only for admins, who may read it; suppression still
 * applies. HUB_EFORBIDDEN for anyone else. */
static int check_marks(sqlite3 *db, const char *form, const char *field,
                       int admin, char *err, size_t cap)
{
    unsigned flags = 0;
    int rc = hub__form_marks(db, form, field, &flags);
    if (rc != HUB_OK)
        return rc;
    if (flags && !admin) {
        snprintf(err, cap,
                 "%s is a personal or sensitive field: only hub admins "
                 "may aggregate it",
                 field);
        return HUB_EFORBIDDEN;
    }
    return HUB_OK;
}

/* The spec and by field fit the form: mean of a number, share of a
 * choice, by a select_one. */
int hub__ind_check_fields(const fs_form *f, const hub_ind_spec *spec,
                          const char *by, char *err, size_t cap)
{
    if (spec->kind != HUB_IND_COUNT) {
        const fs_field *fld = fs_form_field_named(f, spec->field);
        if (!fld)
            return bad(err, cap, "the form has no field ", spec->field);
        fs_field_type t = fs_field_type_of(fld);
        if (spec->kind == HUB_IND_MEAN && t != FS_FIELD_LIKERT &&
            t != FS_FIELD_INTEGER && t != FS_FIELD_DECIMAL)
            return bad(err, cap,
                       "mean needs a likert, integer or decimal field; "
                       "not ",
                       spec->field);
        if (spec->kind == HUB_IND_SHARE) {
            if (t != FS_FIELD_SELECT_ONE && t != FS_FIELD_SELECT_MULTIPLE)
                return bad(err, cap,
                           "share needs a select_one or select_multiple "
                           "field; not ",
                           spec->field);
            for (size_t i = 0; i < spec->nset; i++) {
                size_t c = 0, nc = fs_field_choice_count(fld);
                while (c < nc && strcmp(fs_field_choice(fld, c, NULL, NULL),
                                        spec->set[i]) != 0)
                    c++;
                if (c == nc)
                    return bad(err, cap, "share: not a choice of the field: ",
                               spec->set[i]);
            }
        }
    }
    if (by) {
        const fs_field *b = fs_form_field_named(f, by);
        if (!b || fs_field_type_of(b) != FS_FIELD_SELECT_ONE)
            return bad(err, cap,
                       "--by needs a select_one field of the form; not ", by);
    }
    return 0;
}

/* Everything checked and loaded for one request. */
typedef struct loaded {
    hub_ind_spec spec;
    hub_ind_options opt;
    int min_k; /* the hub's configured minimum */
    const char **cats;
    hub_ind_record *recs;
    int64_t *weights; /* per record: the submissions it stands for */
    cJSON **answers;
    char **strs; /* area and wave texts, 2 per record */
    size_t n;
    hub_ind_area *tree; /* the areas within scope, for opt.areas */
    char **tree_strs;   /* their code and parent texts, 2 per area */
} loaded;

static void loaded_free(loaded *l)
{
    for (size_t i = 0; i < l->n; i++) {
        cJSON_Delete(l->answers[i]);
        free(l->strs[2 * i]);
        free(l->strs[2 * i + 1]);
    }
    for (size_t i = 0; l->cats && i < l->opt.ncats; i++)
        free((char *)l->cats[i]);
    free(l->cats);
    free(l->recs);
    free(l->weights);
    free(l->answers);
    free(l->strs);
    for (size_t i = 0; i < 2 * l->opt.nareas; i++)
        free(l->tree_strs[i]);
    free(l->tree_strs);
    free(l->tree);
}

/* The registry's areas within scope as the indicators' hierarchy: a
 * record counts in its area and every area above it. Under a scope, an
 * area whose parent lies outside it is at the top: figures of areas the
 * reader may not see are never made, not even as sums. */
static int load_tree(sqlite3 *db, const char *scope, loaded *l)
{
    int rc;
    size_t cap = 0;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT code, CASE WHEN hub_area_in(?1, parent) THEN parent ELSE '' "
        "END FROM mapping_areas WHERE hub_area_in(?1, code) ORDER BY code",
        HUB_ARGS(HUB_TEXT(scope)), &rc);
    while (st && (rc = hub__sql_step(st)) > 0) {
        if (l->opt.nareas == cap) {
            size_t nc = cap ? 2 * cap : 64;
            hub_ind_area *t = realloc(l->tree, nc * sizeof *t);
            if (t)
                l->tree = t;
            char **s = realloc(l->tree_strs, 2 * nc * sizeof *s);
            if (s)
                l->tree_strs = s;
            if (!t || !s)
                break;
            cap = nc;
        }
        size_t i = l->opt.nareas;
        char *code = strdup(hub__col(st, 0)), *parent = strdup(hub__col(st, 1));
        l->tree_strs[2 * i] = code;
        l->tree_strs[2 * i + 1] = parent;
        l->opt.nareas++;
        if (!code || !parent)
            break;
        l->tree[i] = (hub_ind_area){code, parent};
    }
    if (rc > 0) { /* stopped early: out of memory */
        hub__sql_end(st);
        return HUB_ENOMEM;
    }
    l->opt.areas = l->tree;
    return rc;
}

/* Adds text (JSON of one answer, may be NULL) under name to o. */
static void put_answer(cJSON *o, const char *name, const char *text)
{
    cJSON *v = fs_json_parse_stored(text);
    if (v)
        cJSON_AddItemToObject(o, name, v);
}

static int grow(loaded *l, size_t *cap)
{
    size_t nc = *cap ? 2 * *cap : 256;
    hub_ind_record *r = realloc(l->recs, nc * sizeof *r);
    if (r)
        l->recs = r;
    cJSON **a = realloc(l->answers, nc * sizeof *a);
    if (a)
        l->answers = a;
    char **s = realloc(l->strs, 2 * nc * sizeof *s);
    if (s)
        l->strs = s;
    int64_t *w = realloc(l->weights, nc * sizeof *w);
    if (w)
        l->weights = w;
    if (!r || !a || !s || !w)
        return -1;
    *cap = nc;
    return 0;
}

/* Reads the counted submissions of form in waves w1 (and w2 when not
 * NULL; w1 "" means every wave) within scope: from the aggregates
 * (schema/hub-10.sql, hub-12.sql), records weighted by the submissions
 * they stand for. Without a by field, from the counts per answer: the
 * answers to the field, and every submission once with no answer (its
 * area is a row even where no one answered; a count counts these). By a
 * field the hub keeps pairs for, the same from the pairs, per answer to
 * the by field ('' there: not answered). By any other field, from the
 * cells: one record per wave x area x answer to the field x answer to the
 * by field. */
static const char load_by_sql[] =
    "SELECT m.area, m.wave, CASE WHEN ?3 = '$.' THEN NULL ELSE "
    "m.answers -> ?3 END AS x, CASE WHEN ?4 = '$.' THEN NULL ELSE "
    "m.answers -> ?4 END AS b, sum(m.n) FROM agg_cells m LEFT JOIN "
    "waves w ON w.name = m.wave WHERE m.form_id = ?2 AND m.n > 0 AND "
    "(?5 = '' OR m.wave = ?5 OR m.wave = ?6) AND hub_area_in(?1, "
    "m.area) GROUP BY "
    "m.wave, m.area, x, b ORDER BY min(w.start_ms)";
static const char load_pairs_sql[] =
    "SELECT m.area, m.wave, CASE WHEN m.field = '' THEN NULL ELSE m.value "
    "END, nullif(m.by_value, ''), sum(m.n) FROM agg_pairs m LEFT JOIN waves "
    "w ON w.name = m.wave WHERE m.form_id = ?2 AND m.by_field = substr(?4, "
    "3) AND m.field IN ('', substr(?3, 3)) AND m.n > 0 AND (?5 = '' OR "
    "m.wave = ?5 OR m.wave = ?6) AND hub_area_in(?1, m.area) GROUP BY "
    "m.wave, m.area, m.field, m.value, m.by_value ORDER BY min(w.start_ms)";
static const char load_field_sql[] =
    "SELECT m.area, m.wave, CASE WHEN m.field = '' THEN NULL ELSE m.value "
    "END, NULL, sum(m.n) FROM agg_answers m LEFT JOIN waves w ON w.name = "
    "m.wave WHERE m.form_id = ?2 AND m.field IN ('', substr(?3, 3)) AND "
    "m.n > 0 AND (?5 = '' OR m.wave = ?5 OR m.wave = ?6) AND hub_area_in(?1, "
    "m.area) AND ?4 = '$.' "
    "GROUP BY m.wave, m.area, m.field, m.value ORDER BY min(w.start_ms)";
static int load(sqlite3 *db, const char *form, const char *w1, const char *w2,
                const char *scope, loaded *l)
{
    char fpath[HUB_IND_NAME_MAX + 3], bpath[FS_ID_MAX + 3];
    snprintf(fpath, sizeof fpath, "$.%s", l->spec.field);
    snprintf(bpath, sizeof bpath, "$.%s", l->opt.by ? l->opt.by : "");
    int rc, paired = 0;
    if (l->opt.by) {
        sqlite3_stmt *q =
            hub__sql(db,
                     "SELECT 1 FROM agg_by_fields WHERE "
                     "form_id = ?1 AND name = ?2",
                     HUB_ARGS(HUB_TEXT(form), HUB_TEXT(l->opt.by)), &rc);
        if (!q)
            return rc;
        if ((paired = hub__sql_step(q)) < 0)
            return paired;
        hub__sql_end(q);
    }
    sqlite3_stmt *st =
        hub__sql(db,
                 paired      ? load_pairs_sql
                 : l->opt.by ? load_by_sql
                             : load_field_sql,
                 HUB_ARGS(HUB_TEXT(scope), HUB_TEXT(form), HUB_TEXT(fpath),
                          HUB_TEXT(bpath), HUB_TEXT(w1 ? w1 : ""),
                          HUB_TEXT(w2 ? w2 : "")),
                 &rc);
    size_t cap = 0;
    while (st && (rc = hub__sql_step(st)) > 0) {
        if (l->n == cap && grow(l, &cap) != 0)
            break;
        cJSON *o = cJSON_CreateObject();
        /* NULL when the answer is missing: no member then. */
        if (l->spec.kind != HUB_IND_COUNT)
            put_answer(o, l->spec.field,
                       (const char *)sqlite3_column_text(st, 2));
        if (l->opt.by)
            put_answer(o, l->opt.by, (const char *)sqlite3_column_text(st, 3));
        char *area = strdup(hub__col(st, 0));
        char *wave = strdup(hub__col(st, 1));
        l->answers[l->n] = o;
        l->strs[2 * l->n] = area;
        l->strs[2 * l->n + 1] = wave;
        l->n++;
        if (!o || !area || !wave)
            break;
        l->recs[l->n - 1] = (hub_ind_record){area, wave, o};
        l->weights[l->n - 1] = sqlite3_column_int64(st, 4);
    }
    if (rc > 0) { /* stopped early: out of memory */
        hub__sql_end(st);
        rc = HUB_ENOMEM;
    }
    return rc;
}

/* The form's choices of the by field, in their order. */
static int load_cats(const fs_form *f, loaded *l)
{
    if (!l->opt.by)
        return 0;
    const fs_field *b = fs_form_field_named(f, l->opt.by);
    size_t nc = fs_field_choice_count(b);
    l->cats = calloc(nc ? nc : 1, sizeof *l->cats);
    if (!l->cats)
        return -1;
    for (size_t i = 0; i < nc; i++) {
        l->cats[i] = strdup(fs_field_choice(b, i, NULL, NULL));
        if (!l->cats[i])
            return -1;
        l->opt.ncats++;
    }
    l->opt.cats = l->cats;
    return 0;
}

static int prepare(sqlite3 *db, const hub_ind_request *req, const char *w1,
                   const char *w2, const char *scope, loaded *l, char *err,
                   size_t cap)
{
    memset(l, 0, sizeof *l);
    if (!req->form || !fs_valid_form_id(req->form))
        return bad(err, cap, "--form must name a form id, not ",
                   req->form ? req->form : "(none)");
    if (hub_ind_parse(req->indicator, &l->spec, err, cap) != 0)
        return HUB_EBADINPUT;
    if (req->by && req->by[0] && !fs_valid_field_name(req->by))
        return bad(err, cap, "--by must be a field name, not ", req->by);
    l->opt.by = req->by && req->by[0] ? req->by : NULL;
    l->opt.unreliable_below = UNRELIABLE_BELOW;
    int rc = hub__ind_check_k(db, req->k, &l->min_k, &l->opt.k, err, cap);
    if (rc != 0)
        return rc;
    const char *waves[2] = {w1, w2};
    for (int i = 0; i < 2; i++) {
        int w = hub__wave_exists(db, waves[i]);
        if (w < 0)
            return HUB_ESTORAGE;
        if (!w)
            return bad(err, cap, "no such wave: ", waves[i]);
    }
    fs_form *f = hub__form_latest(db, req->form);
    if (!f)
        return bad(err, cap, "no published form ", req->form);
    rc = hub__ind_check_fields(f, &l->spec, l->opt.by, err, cap);
    /* The hub cannot see a sealed answer: the steward computes it
     * offline (sealind.c). */
    for (int i = 0; i < 2 && rc == 0; i++) {
        const char *name = i                               ? l->opt.by
                           : l->spec.kind != HUB_IND_COUNT ? l->spec.field
                                                           : NULL;
        const fs_field *sf = name ? fs_form_field_named(f, name) : NULL;
        if (sf && (fs_field_flags(sf) & FS_FIELD_SEALED))
            rc = bad(err, cap,
                     "the field is sealed and the hub cannot see it; a "
                     "data steward computes it offline with --key: ",
                     name);
    }
    /* The by field is never personal, even for admins: its categories
     * would name people. */
    unsigned flags = 0;
    if (rc == 0 && l->opt.by &&
        (rc = hub__form_marks(db, req->form, l->opt.by, &flags)) == 0 && flags)
        rc = bad(err, cap,
                 "--by may not use a personal or sensitive field: ", l->opt.by);
    if (rc == 0 && l->spec.kind != HUB_IND_COUNT)
        rc = check_marks(db, req->form, l->spec.field, req->admin, err, cap);
    if (rc == 0 && load_cats(f, l) != 0)
        rc = HUB_ESTORAGE;
    fs_form_free(f);
    if (rc == 0)
        rc = load_tree(db, scope, l);
    if (rc == 0)
        rc = load(db, req->form, w1, w2, scope, l);
    return rc;
}

static cJSON *header(const hub_ind_request *req, const loaded *l,
                     const char *scope)
{
    char text[1200];
    hub_ind_format(&l->spec, text, sizeof text);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "form", req->form);
    cJSON_AddStringToObject(root, "indicator", text);
    if (l->opt.by)
        cJSON_AddStringToObject(root, "by", l->opt.by);
    else
        cJSON_AddNullToObject(root, "by");
    cJSON_AddNumberToObject(root, "k", l->opt.k);
    cJSON_AddNumberToObject(root, "min_k", l->min_k);
    cJSON_AddNumberToObject(root, "unreliable_below", l->opt.unreliable_below);
    cJSON_AddItemToObject(root, "scope", hub__scope_json(scope));
    return root;
}

int hub__indicators(sqlite3 *db, const hub_ind_request *req, const char *scope,
                    cJSON **out, char *err, size_t cap)
{
    loaded l;
    *out = NULL;
    const char *wave = req->wave && req->wave[0] ? req->wave : NULL;
    int rc = prepare(db, req, wave ? wave : "", NULL, scope, &l, err, cap);
    hub_ind_result res = {0};
    if (rc == 0 && hub_ind_compute_weighted(&l.spec, &l.opt, l.recs, l.weights,
                                            l.n, &res) != 0)
        rc = HUB_ESTORAGE;
    if (rc == 0) {
        cJSON *root = header(req, &l, scope);
        cJSON *cells = cJSON_AddArrayToObject(root, "cells");
        for (size_t t = 0; t < res.ntables; t++) {
            cJSON *rows = hub_ind_rows(&res.tables[t]);
            cJSON *r;
            while (rows && (r = cJSON_DetachItemFromArray(rows, 0)) != NULL)
                cJSON_AddItemToArray(cells, r);
            cJSON_Delete(rows);
        }
        *out = root;
    }
    hub_ind_free(&res);
    loaded_free(&l);
    return rc;
}

int hub__change(sqlite3 *db, const hub_ind_request *req, const char *scope,
                cJSON **out, char *err, size_t cap)
{
    loaded l;
    *out = NULL;
    if (!req->from || !req->from[0] || !req->to || !req->to[0])
        return bad(err, cap, "name both waves: from and to", NULL);
    int rc = prepare(db, req, req->from, req->to, scope, &l, err, cap);
    hub_ind_result res = {0};
    if (rc == 0 && hub_ind_compute_weighted(&l.spec, &l.opt, l.recs, l.weights,
                                            l.n, &res) != 0)
        rc = HUB_ESTORAGE;
    if (rc == 0) {
        cJSON *root = header(req, &l, scope);
        cJSON_AddStringToObject(root, "from", req->from);
        cJSON_AddStringToObject(root, "to", req->to);
        cJSON *rows = hub_ind_change_rows(hub_ind_table_of(&res, req->from),
                                          hub_ind_table_of(&res, req->to));
        cJSON_AddItemToObject(root, "changes",
                              rows ? rows : cJSON_CreateArray());
        /* The change rows name the waves even where a table is empty. */
        cJSON *r;
        cJSON_ArrayForEach(r, rows)
        {
            cJSON_ReplaceItemInObject(r, "from_wave",
                                      cJSON_CreateString(req->from));
            cJSON_ReplaceItemInObject(r, "to_wave",
                                      cJSON_CreateString(req->to));
        }
        *out = root;
    }
    hub_ind_free(&res);
    loaded_free(&l);
    return rc;
}
