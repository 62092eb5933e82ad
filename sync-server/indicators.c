/*
 * indicators.c - the indicator engine (indicators.h, INDICATORS.md).
 */
#include "indicators.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- specs ---------------------------------------------------------- */

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > HUB_IND_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return s[0] >= 'a' && s[0] <= 'z';
}

/* Choice codes are printable text without the separators. */
static int valid_code(const char *s, size_t n)
{
    if (n == 0 || n > HUB_IND_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == '|' || s[i] == ',')
            return 0;
    return 1;
}

int hub_ind_parse(const char *text, hub_ind_spec *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (!text || !text[0]) {
        snprintf(err, cap,
                 "no indicator given: use count, mean:FIELD or "
                 "share:FIELD=CODE|CODE");
        return -1;
    }
    if (strcmp(text, "count") == 0) {
        out->kind = HUB_IND_COUNT;
        return 0;
    }
    const char *rest = NULL;
    if (strncmp(text, "mean:", 5) == 0) {
        out->kind = HUB_IND_MEAN;
        rest = text + 5;
    } else if (strncmp(text, "share:", 6) == 0) {
        out->kind = HUB_IND_SHARE;
        rest = text + 6;
    } else {
        snprintf(err, cap,
                 "unknown indicator '%.80s': use count, mean:FIELD or "
                 "share:FIELD=CODE|CODE",
                 text);
        return -1;
    }
    const char *eq = strchr(rest, '=');
    size_t flen = eq ? (size_t)(eq - rest) : strlen(rest);
    if (!valid_name(rest, flen)) {
        snprintf(err, cap, "'%.*s' is not a field name", (int)(flen % 100),
                 rest);
        return -1;
    }
    memcpy(out->field, rest, flen);
    if (out->kind == HUB_IND_MEAN) {
        if (eq) {
            snprintf(err, cap, "mean takes a field only: mean:FIELD");
            return -1;
        }
        return 0;
    }
    if (!eq || !eq[1]) {
        snprintf(err, cap,
                 "share needs the codes counted: share:%s=CODE|"
                 "CODE",
                 out->field);
        return -1;
    }
    for (const char *p = eq + 1; *p;) {
        size_t len = strcspn(p, "|,");
        if (!valid_code(p, len) || out->nset == HUB_IND_SET_MAX) {
            snprintf(err, cap,
                     out->nset == HUB_IND_SET_MAX
                         ? "share counts at most 16 codes"
                         : "empty or bad choice code in '%.80s'",
                     text);
            return -1;
        }
        memcpy(out->set[out->nset++], p, len);
        p += len;
        if (*p)
            p++;
    }
    return 0;
}

void hub_ind_format(const hub_ind_spec *spec, char *out, size_t cap)
{
    size_t len = 0;
    int n = snprintf(out, cap, "%s%s%s",
                     spec->kind == HUB_IND_COUNT  ? "count"
                     : spec->kind == HUB_IND_MEAN ? "mean:"
                                                  : "share:",
                     spec->field, spec->kind == HUB_IND_SHARE ? "=" : "");
    len = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < spec->nset && len < cap; i++) {
        n = snprintf(out + len, cap - len, "%s%s", i ? "|" : "", spec->set[i]);
        len += n > 0 ? (size_t)n : 0;
    }
}

/* ---- string lists --------------------------------------------------- */

typedef struct strs {
    char **v;
    size_t n, cap;
} strs;

static long find(const strs *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return (long)i;
    return -1;
}

/* Adds x unless present. 0, or -1 out of memory. */
static int add(strs *s, const char *x)
{
    if (find(s, x) >= 0)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n] = strdup(x);
    if (!s->v[s->n])
        return -1;
    s->n++;
    return 0;
}

static void strs_free(strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- one record ----------------------------------------------------- */

/* The by category of a record: a string answer, a number as text, or ""
 * when not answered. */
static const char *category(const hub_ind_options *opt, const cJSON *ans,
                            char *tmp, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ans, opt->by);
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        snprintf(tmp, cap, "%.15g", v->valuedouble);
        return tmp;
    }
    return "";
}

static int in_set(const hub_ind_spec *spec, const char *code)
{
    for (size_t i = 0; i < spec->nset; i++)
        if (strcmp(spec->set[i], code) == 0)
            return 1;
    return 0;
}

/* What one record adds: 1 (counted in the base, *x its value) or 0 (not
 * in the base: the field unanswered). */
static int measure(const hub_ind_spec *spec, const cJSON *ans, double *x)
{
    if (spec->kind == HUB_IND_COUNT) {
        *x = 1;
        return 1;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ans, spec->field);
    if (spec->kind == HUB_IND_MEAN) {
        if (!cJSON_IsNumber(v))
            return 0;
        *x = v->valuedouble;
        return 1;
    }
    if (cJSON_IsString(v)) {
        *x = in_set(spec, v->valuestring);
        return 1;
    }
    if (cJSON_IsArray(v)) {
        const cJSON *e;
        *x = 0;
        cJSON_ArrayForEach(e, v)
        {
            if (cJSON_IsString(e) && in_set(spec, e->valuestring))
                *x = 1;
        }
        return 1;
    }
    return 0;
}

/* ---- the hierarchy -------------------------------------------------- */

#define NONE SIZE_MAX

/* The areas of the options sorted by code, each with its parent's index
 * (NONE at the top). */
typedef struct tree {
    const hub_ind_area **a;
    size_t *parent;
    size_t n;
} tree;

static int cmp_area(const void *x, const void *y)
{
    const hub_ind_area *a = *(const hub_ind_area *const *)x;
    const hub_ind_area *b = *(const hub_ind_area *const *)y;
    return strcmp(a->code, b->code);
}

static size_t tree_find(const tree *t, const char *code)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->a[mid]->code, code);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NONE;
}

static void tree_free(tree *t)
{
    free(t->a);
    free(t->parent);
    memset(t, 0, sizeof *t);
}

static int tree_build(const hub_ind_options *opt, tree *t)
{
    memset(t, 0, sizeof *t);
    if (!opt->areas || opt->nareas == 0)
        return 0;
    t->a = malloc(opt->nareas * sizeof *t->a);
    t->parent = malloc(opt->nareas * sizeof *t->parent);
    if (!t->a || !t->parent) {
        tree_free(t);
        return -1;
    }
    for (size_t i = 0; i < opt->nareas; i++)
        t->a[i] = &opt->areas[i];
    /* Codes are unique (areas import checks it); should one repeat,
     * one of its entries is used. */
    qsort(t->a, opt->nareas, sizeof *t->a, cmp_area);
    for (size_t i = 0; i < opt->nareas; i++)
        if (t->n == 0 || strcmp(t->a[t->n - 1]->code, t->a[i]->code) != 0)
            t->a[t->n++] = t->a[i];
    for (size_t i = 0; i < t->n; i++) {
        const char *p = t->a[i]->parent;
        t->parent[i] = p && p[0] ? tree_find(t, p) : NONE;
    }
    return 0;
}

/* ---- suppression ---------------------------------------------------- */

/* The tables as equations for suppress.c. Each row of inner cells sums
 * to its total (last column). In each column, the rows under a parent
 * sum to the parent's row, with what was recorded at the parent itself
 * as one more member that is never shown; the top rows sum to the
 * all-areas row (last). Complements are taken from inner cells before
 * totals and from lower levels before higher ones. */
static int suppress(hub_ind_table *t, const size_t *prow, int k)
{
    size_t R = t->nrows, C = t->ncols, nt = 0, ne = 0, nparents = 0;
    int maxdepth = 0;
    size_t *slot = malloc(R * sizeof *slot); /* a parent's own-records row */
    hub_supp_cell *cells = NULL;
    hub_supp_term *terms = NULL;
    size_t *start = NULL;
    int rc = -1;
    if (!slot)
        goto out;
    for (size_t r = 0; r < R; r++)
        slot[r] = NONE;
    for (size_t r = 0; r + 1 < R; r++) {
        if (t->depth[r] > maxdepth)
            maxdepth = t->depth[r];
        if (prow[r] != NONE && slot[prow[r]] == NONE)
            slot[prow[r]] = R + nparents++;
    }
    size_t rows = R + nparents; /* table rows, then own-records rows */
    cells = calloc(rows * C, sizeof *cells);
    terms = malloc((3 * rows * C + rows) * sizeof *terms);
    start = malloc((rows + (nparents + 1) * C + 1) * sizeof *start);
    if (!cells || !terms || !start)
        goto out;
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++) {
            int rank =
                (c + 1 == C) + (r + 1 == R ? 2 * (maxdepth + 1)
                                           : 2 * (maxdepth - t->depth[r]));
            cells[r * C + c] =
                (hub_supp_cell){t->cells[r * C + c].n, 1, rank, HUB_SUPP_NONE};
        }
    /* Own records of a parent: its cell minus its children's. */
    for (size_t r = 0; r < R; r++)
        if (slot[r] != NONE)
            for (size_t c = 0; c < C; c++)
                cells[slot[r] * C + c] =
                    (hub_supp_cell){t->cells[r * C + c].n, 0, 0, HUB_SUPP_NONE};
    for (size_t r = 0; r + 1 < R; r++)
        if (prow[r] != NONE)
            for (size_t c = 0; c < C; c++)
                cells[slot[prow[r]] * C + c].n -= t->cells[r * C + c].n;
    if (C > 1)
        for (size_t r = 0; r < rows; r++) {
            start[ne++] = nt;
            for (size_t c = 0; c < C; c++)
                terms[nt++] = (hub_supp_term){r * C + c, c + 1 < C ? 1 : -1};
        }
    /* Column equations: one per parent (and the top) and column. */
    for (size_t p = 0; p < R; p++) {
        int top = p + 1 == R;
        if (!top && slot[p] == NONE)
            continue;
        for (size_t c = 0; c < C; c++) {
            start[ne++] = nt;
            for (size_t r = 0; r + 1 < R; r++)
                if (top ? prow[r] == NONE : prow[r] == p)
                    terms[nt++] = (hub_supp_term){r * C + c, 1};
            if (!top)
                terms[nt++] = (hub_supp_term){slot[p] * C + c, 1};
            terms[nt++] = (hub_supp_term){p * C + c, -1};
        }
    }
    start[ne] = nt;
    hub_supp_system sys = {cells, rows * C, terms, start, ne};
    rc = hub_supp_solve(&sys, k);
    for (size_t i = 0; i < R * C; i++)
        t->cells[i].supp = cells[i].supp;
out:
    if (rc != 0) /* fail closed */
        for (size_t i = 0; i < R * C; i++)
            t->cells[i].supp = HUB_SUPP_COMPLEMENT;
    free(slot);
    free(cells);
    free(terms);
    free(start);
    return rc;
}

/* ---- tables --------------------------------------------------------- */

static void table_free(hub_ind_table *t)
{
    for (size_t i = 0; t->rows && i < t->nrows; i++) {
        free(t->rows[i]);
        if (t->parents)
            free(t->parents[i]);
    }
    for (size_t i = 0; t->cols && i < t->ncols; i++)
        free(t->cols[i]);
    free(t->rows);
    free(t->parents);
    free(t->depth);
    free(t->cols);
    free(t->cells);
    free(t->wave);
}

void hub_ind_free(hub_ind_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ntables; i++)
        table_free(&r->tables[i]);
    free(r->tables);
    memset(r, 0, sizeof *r);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Index of code among the first n (sorted) rows, or NONE. */
static size_t row_find(char *const *rows, size_t n, const char *code)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rows[mid], code);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NONE;
}

/* Sorts and dedupes v[0..n); returns how many are left. */
static size_t uniq(const char **v, size_t n)
{
    size_t u = 0;
    qsort(v, n, sizeof *v, cmp_cstr);
    for (size_t x = 0; x < n; x++)
        if (u == 0 || strcmp(v[u - 1], v[x]) != 0)
            v[u++] = v[x];
    return u;
}

/* Makes room in a full list of area codes: most records share a few
 * areas, so dedupe first and grow only when that frees too little. */
static int seen_room(const char ***v, size_t *n, size_t *cap)
{
    if (*cap >= 1024)
        *n = uniq(*v, *n);
    if (*n < *cap / 2)
        return 0;
    size_t c2 = *cap ? 2 * *cap : 64;
    const char **w = realloc(*v, c2 * sizeof *w);
    if (!w)
        return -1;
    *v = w;
    *cap = c2;
    return 0;
}

/* Rows of wave w: the areas of its records and every area above them,
 * sorted, then "*"; columns: categories in the preferred order, then
 * the others sorted, then "" (no answer), then "*". */
static int layout(const hub_ind_options *opt, const tree *tr,
                  const hub_ind_record *recs, size_t n, const char *w,
                  strs *rows, strs *cols)
{
    strs other = {0};
    char tmp[32];
    int has_none = 0, rc = 0;
    const char **seen = NULL;
    size_t nseen = 0, cap = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(recs[i].wave, w) != 0)
            continue;
        /* The area and those above it (a bounded walk: a cycle in the
         * hierarchy cannot loop). */
        size_t at = tree_find(tr, recs[i].area);
        const char *code = recs[i].area;
        for (size_t step = 0; code && step <= tr->n && rc == 0; step++) {
            if (nseen == cap)
                rc = seen_room(&seen, &nseen, &cap);
            if (rc != 0)
                break;
            seen[nseen++] = code;
            if (at == NONE || tr->parent[at] == NONE)
                break;
            at = tr->parent[at];
            code = tr->a[at]->code;
        }
        if (opt->by && rc == 0) {
            const char *c = category(opt, recs[i].answers, tmp, sizeof tmp);
            if (!c[0])
                has_none = 1;
            else
                rc = add(&other, c);
        }
    }
    if (rc == 0 && nseen) {
        nseen = uniq(seen, nseen);
        for (size_t x = 0; rc == 0 && x < nseen; x++) {
            if (rows->n == rows->cap) {
                size_t c2 = rows->cap ? 2 * rows->cap : 8;
                char **v = realloc(rows->v, c2 * sizeof *v);
                if (!v) {
                    rc = -1;
                    break;
                }
                rows->v = v;
                rows->cap = c2;
            }
            rows->v[rows->n] = strdup(seen[x]);
            if (!rows->v[rows->n])
                rc = -1;
            else
                rows->n++;
        }
    }
    free(seen);
    for (size_t i = 0; rc == 0 && i < opt->ncats; i++)
        if (find(&other, opt->cats[i]) >= 0)
            rc = add(cols, opt->cats[i]);
    if (rc == 0 && other.n)
        qsort(other.v, other.n, sizeof *other.v, cmp_str);
    for (size_t i = 0; rc == 0 && i < other.n; i++)
        rc = add(cols, other.v[i]);
    if (rc == 0 && has_none)
        rc = add(cols, "");
    if (rc == 0)
        rc = add(rows, "*");
    if (rc == 0)
        rc = add(cols, "*");
    strs_free(&other);
    return rc;
}

/* Parent row of every row (NONE at the top and for "*"), the rows'
 * parents' codes and depths. */
static int link_rows(const tree *tr, hub_ind_table *t, size_t *prow)
{
    size_t R = t->nrows;
    t->parents = calloc(R, sizeof *t->parents);
    t->depth = calloc(R, sizeof *t->depth);
    if (!t->parents || !t->depth)
        return -1;
    for (size_t r = 0; r < R; r++) {
        prow[r] = NONE;
        if (r + 1 == R)
            continue;
        size_t at = tree_find(tr, t->rows[r]);
        if (at != NONE && tr->parent[at] != NONE) {
            const char *p = tr->a[tr->parent[at]]->code;
            /* Every area above a record's is a row (layout). */
            prow[r] = row_find(t->rows, R - 1, p);
            t->parents[r] = strdup(p);
            if (!t->parents[r])
                return -1;
        }
    }
    t->depth[R - 1] = -1;
    for (size_t r = 0; r + 1 < R; r++) {
        int d = 0;
        for (size_t p = prow[r]; p != NONE && (size_t)d < R; p = prow[p])
            d++;
        t->depth[r] = d;
    }
    return 0;
}

static int one_table(const hub_ind_spec *spec, const hub_ind_options *opt,
                     const tree *tr, const hub_ind_record *recs,
                     const int64_t *weights, size_t n, const char *w,
                     hub_ind_table *t)
{
    strs rows = {0}, cols = {0};
    double *sum = NULL;
    size_t *prow = NULL;
    t->wave = strdup(w);
    if (!t->wave || layout(opt, tr, recs, n, w, &rows, &cols) != 0)
        goto oom;
    size_t R = rows.n, C = cols.n;
    t->nrows = R;
    t->ncols = C;
    t->rows = rows.v;
    t->cols = cols.v;
    t->cells = calloc(R * C, sizeof *t->cells);
    sum = calloc(R * C, sizeof *sum);
    prow = malloc(R * sizeof *prow);
    if (!t->cells || !sum || !prow || link_rows(tr, t, prow) != 0)
        goto oom;
    char tmp[32];
    for (size_t i = 0; i < n; i++) {
        double x = 0;
        if (strcmp(recs[i].wave, w) != 0 || !measure(spec, recs[i].answers, &x))
            continue;
        size_t c = C - 1;
        if (opt->by)
            c = (size_t)find(&cols,
                             category(opt, recs[i].answers, tmp, sizeof tmp));
        /* The record's area, every area above it, and all areas. */
        size_t r = row_find(t->rows, R - 1, recs[i].area);
        int64_t wt = weights ? weights[i] : 1;
        x *= (double)wt;
        for (size_t step = 0; step <= R; step++) {
            size_t at = r == NONE ? R - 1 : r;
            t->cells[at * C + C - 1].n += wt;
            sum[at * C + C - 1] += x;
            if (c != C - 1) {
                t->cells[at * C + c].n += wt;
                sum[at * C + c] += x;
            }
            if (r == NONE)
                break;
            r = prow[r];
        }
    }
    for (size_t i = 0; i < R * C; i++) {
        hub_ind_cell *cell = &t->cells[i];
        if (spec->kind == HUB_IND_COUNT)
            cell->value = (double)cell->n;
        else
            cell->value = cell->n ? sum[i] / (double)cell->n : 0;
    }
    free(sum);
    sum = NULL;
    if (suppress(t, prow, opt->k) != 0)
        goto oom;
    free(prow);
    for (size_t i = 0; i < R * C; i++)
        t->cells[i].unreliable = t->cells[i].supp == HUB_SUPP_NONE &&
                                 t->cells[i].n < opt->unreliable_below;
    return 0;
oom:
    free(sum);
    free(prow);
    if (!t->rows)
        strs_free(&rows);
    if (!t->cols)
        strs_free(&cols);
    return -1;
}

int hub_ind_compute(const hub_ind_spec *spec, const hub_ind_options *opt,
                    const hub_ind_record *recs, size_t n, hub_ind_result *out)
{
    return hub_ind_compute_weighted(spec, opt, recs, NULL, n, out);
}

int hub_ind_compute_weighted(const hub_ind_spec *spec,
                             const hub_ind_options *opt,
                             const hub_ind_record *recs, const int64_t *weights,
                             size_t n, hub_ind_result *out)
{
    strs waves = {0};
    tree tr;
    memset(out, 0, sizeof *out);
    if (tree_build(opt, &tr) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (add(&waves, recs[i].wave) != 0)
            goto oom;
    out->tables = calloc(waves.n ? waves.n : 1, sizeof *out->tables);
    if (!out->tables)
        goto oom;
    for (size_t w = 0; w < waves.n; w++) {
        out->ntables++;
        if (one_table(spec, opt, &tr, recs, weights, n, waves.v[w],
                      &out->tables[w]) != 0)
            goto oom;
    }
    strs_free(&waves);
    tree_free(&tr);
    return 0;
oom:
    strs_free(&waves);
    tree_free(&tr);
    hub_ind_free(out);
    return -1;
}

const hub_ind_table *hub_ind_table_of(const hub_ind_result *r, const char *wave)
{
    for (size_t i = 0; i < r->ntables; i++)
        if (strcmp(r->tables[i].wave, wave) == 0)
            return &r->tables[i];
    return NULL;
}

static long index_of(char *const *v, size_t n, const char *x)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], x) == 0)
            return (long)i;
    return -1;
}

const hub_ind_cell *hub_ind_cell_at(const hub_ind_table *t, const char *area,
                                    const char *cat)
{
    if (!t)
        return NULL;
    long r = index_of(t->rows, t->nrows, area);
    long c = index_of(t->cols, t->ncols, cat);
    if (r < 0 || c < 0)
        return NULL;
    return &t->cells[(size_t)r * t->ncols + (size_t)c];
}

/* ---- flat rows ------------------------------------------------------ */

const char *const hub_ind_cols[] = {"wave",   "area",       "category",
                                    "n",      "value",      "status",
                                    "reason", "unreliable", NULL};

static const char *reason_of(int supp)
{
    return supp == HUB_SUPP_SMALL        ? "small_cell"
           : supp == HUB_SUPP_COMPLEMENT ? "complementary"
                                         : NULL;
}

/* n and value of a cell under prefix ("" or "from_"/"to_"), null when
 * hidden or absent. */
static void add_cell(cJSON *o, const char *prefix, const hub_ind_cell *c)
{
    char key[32];
    snprintf(key, sizeof key, "%sn", prefix);
    if (c && !c->supp)
        cJSON_AddNumberToObject(o, key, (double)c->n);
    else
        cJSON_AddNullToObject(o, key);
    snprintf(key, sizeof key, "%svalue", prefix);
    if (c && !c->supp)
        cJSON_AddNumberToObject(o, key, c->value);
    else
        cJSON_AddNullToObject(o, key);
    snprintf(key, sizeof key, "%sstatus", prefix);
    cJSON_AddStringToObject(o, key,
                            !c        ? "missing"
                            : c->supp ? "suppressed"
                                      : "ok");
    snprintf(key, sizeof key, "%sreason", prefix);
    if (c && c->supp)
        cJSON_AddStringToObject(o, key, reason_of(c->supp));
    else
        cJSON_AddNullToObject(o, key);
}

cJSON *hub_ind_rows(const hub_ind_table *t)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t r = 0; arr && r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            const hub_ind_cell *cell = &t->cells[r * t->ncols + c];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "wave", t->wave);
            cJSON_AddStringToObject(o, "area", t->rows[r]);
            cJSON_AddStringToObject(o, "category", t->cols[c]);
            add_cell(o, "", cell);
            cJSON_AddBoolToObject(o, "unreliable", cell->unreliable);
            cJSON_AddItemToArray(arr, o);
        }
    return arr;
}

const char *const hub_ind_change_cols[] = {
    "area",        "category",      "from_wave",  "from_n",   "from_value",
    "from_status", "to_wave",       "to_n",       "to_value", "to_status",
    "change",      "change_status", "unreliable", NULL};

/* Appends to keys the names of v missing there. */
static int merge_keys(strs *keys, char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (add(keys, v[i]) != 0)
            return -1;
    return 0;
}

cJSON *hub_ind_change_rows(const hub_ind_table *from, const hub_ind_table *to)
{
    strs areas = {0}, cats = {0};
    cJSON *arr = NULL;
    static const hub_ind_table empty = {0};
    const hub_ind_table *a = from ? from : &empty;
    const hub_ind_table *b = to ? to : &empty;
    if (merge_keys(&areas, a->rows, a->nrows) != 0 ||
        merge_keys(&areas, b->rows, b->nrows) != 0 ||
        merge_keys(&cats, a->cols, a->ncols) != 0 ||
        merge_keys(&cats, b->cols, b->ncols) != 0)
        goto out;
    arr = cJSON_CreateArray();
    for (size_t r = 0; arr && r < areas.n; r++)
        for (size_t c = 0; c < cats.n; c++) {
            const hub_ind_cell *x =
                hub_ind_cell_at(from, areas.v[r], cats.v[c]);
            const hub_ind_cell *y = hub_ind_cell_at(to, areas.v[r], cats.v[c]);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "area", areas.v[r]);
            cJSON_AddStringToObject(o, "category", cats.v[c]);
            cJSON_AddStringToObject(o, "from_wave", from ? from->wave : "");
            add_cell(o, "from_", x);
            cJSON_AddStringToObject(o, "to_wave", to ? to->wave : "");
            add_cell(o, "to_", y);
            if (x && y && !x->supp && !y->supp) {
                cJSON_AddNumberToObject(o, "change", y->value - x->value);
                cJSON_AddStringToObject(o, "change_status", "ok");
            } else {
                cJSON_AddNullToObject(o, "change");
                cJSON_AddStringToObject(o, "change_status",
                                        !x || !y ? "missing" : "suppressed");
            }
            cJSON_AddBoolToObject(o, "unreliable",
                                  (x && x->unreliable) || (y && y->unreliable));
            cJSON_AddItemToArray(arr, o);
        }
out:
    strs_free(&areas);
    strs_free(&cats);
    return arr;
}
