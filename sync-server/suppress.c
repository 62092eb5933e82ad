/*
 * suppress.c - small-cell and complementary suppression over any set of
 * linear equations (suppress.h).
 *
 * Two checks, repeated until neither hides anything more:
 *
 *   line:  one equation at a time. Its shown members are known, so the
 *          hidden ones satisfy sum(coef x cell) = known. When all hidden
 *          non-empty members carry one sign, that sum is a group of
 *          people: it must hold two cells or more (one alone is simply
 *          read off) and k people or more (else the group's answers,
 *          n x value, are those of fewer than k people).
 *   joint: all equations together. Over the hidden non-empty cells the
 *          system is solved exactly (reduced row echelon form); a cell
 *          whose pivot row holds nothing else is determined - e.g. by a
 *          row, a column and a total combined - and gets a complement.
 *
 * Empty hidden cells are moved to the known side: an attacker who
 * guesses 0 for them is right, so they protect nothing (an area whose
 * records all left a field unanswered has n = 0 in that column).
 *
 * Every round hides at least one more cell or ends, so the loop stops
 * within ncells rounds; in practice two or three.
 */
#include "suppress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

static int hidden(const hub_supp_cell *c)
{
    return !c->publish || c->supp != HUB_SUPP_NONE;
}

/* A hidden cell that protects something: not empty. */
static int unknown(const hub_supp_cell *c)
{
    return hidden(c) && c->n > 0;
}

/* 1 when cell a is a better complement than cell b (b may be SIZE_MAX:
 * none yet). */
static int better(const hub_supp_system *s, size_t a, size_t b)
{
    if (b == SIZE_MAX)
        return 1;
    const hub_supp_cell *x = &s->cells[a], *y = &s->cells[b];
    if (x->n != y->n)
        return x->n < y->n;
    if (x->rank != y->rank)
        return x->rank < y->rank;
    return a < b;
}

/* The best shown, non-empty member of equation e, or SIZE_MAX. */
static size_t pick_in(const hub_supp_system *s, size_t e, size_t best)
{
    for (size_t t = s->eq_start[e]; t < s->eq_start[e + 1]; t++) {
        size_t c = s->terms[t].cell;
        const hub_supp_cell *cell = &s->cells[c];
        if (!hidden(cell) && cell->n > 0 && better(s, c, best))
            best = c;
    }
    return best;
}

/* The line check of equation e: hides one complement when it fails.
 * Returns 1 when it hid one. */
static int line_check(hub_supp_system *s, size_t e, int k)
{
    size_t count = 0;
    int64_t people = 0;
    int pos = 0, neg = 0;
    for (size_t t = s->eq_start[e]; t < s->eq_start[e + 1]; t++) {
        const hub_supp_cell *c = &s->cells[s->terms[t].cell];
        if (!unknown(c))
            continue;
        count++;
        people += c->n;
        if (s->terms[t].coef > 0)
            pos = 1;
        else
            neg = 1;
    }
    if (count == 0)
        return 0;
    /* Mixed signs (a hidden total and hidden parts): the equation tells
     * the total minus the parts, which is the shown rest, not a group;
     * still, one hidden member alone is read off. */
    int exposed = count == 1 || (!(pos && neg) && people < k);
    if (!exposed)
        return 0;
    size_t c = pick_in(s, e, SIZE_MAX);
    if (c == SIZE_MAX)
        return 0;
    s->cells[c].supp = HUB_SUPP_COMPLEMENT;
    return 1;
}

/* ---- the joint check: sparse exact elimination ----------------------- */

typedef struct srow {
    size_t *idx; /* unknown numbers, ascending */
    double *val;
    size_t len, cap;
} srow;

static void srow_free(srow *r)
{
    free(r->idx);
    free(r->val);
}

static int srow_push(srow *r, size_t i, double v)
{
    if (r->len == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        size_t *idx = realloc(r->idx, cap * sizeof *idx);
        if (!idx)
            return -1;
        r->idx = idx;
        double *val = realloc(r->val, cap * sizeof *val);
        if (!val)
            return -1;
        r->val = val;
        r->cap = cap;
    }
    r->idx[r->len] = i;
    r->val[r->len] = v;
    r->len++;
    return 0;
}

/* The coefficient of unknown u in r (0 when absent). */
static double srow_get(const srow *r, size_t u)
{
    size_t lo = 0, hi = r->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->idx[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->len && r->idx[lo] == u ? r->val[lo] : 0.0;
}

/* Which rows hold each unknown: lists that only grow (a row that lost
 * the unknown since is skipped when read). */
typedef struct occ {
    size_t **rows;
    size_t *len, *cap;
} occ;

static int occ_add(occ *o, size_t u, size_t row)
{
    if (o->len[u] == o->cap[u]) {
        size_t cap = o->cap[u] ? 2 * o->cap[u] : 4;
        size_t *v = realloc(o->rows[u], cap * sizeof *v);
        if (!v)
            return -1;
        o->rows[u] = v;
        o->cap[u] = cap;
    }
    o->rows[u][o->len[u]++] = row;
    return 0;
}

/* r (row number ri) = r - f x p, dropping what cancels and noting in o
 * the unknowns r gains; tmp is scratch. */
static int srow_axpy(srow *r, size_t ri, double f, const srow *p, srow *tmp,
                     occ *o)
{
    tmp->len = 0;
    size_t i = 0, j = 0;
    while (i < r->len || j < p->len) {
        size_t u;
        double v;
        if (j >= p->len || (i < r->len && r->idx[i] < p->idx[j])) {
            u = r->idx[i];
            v = r->val[i++];
        } else if (i >= r->len || p->idx[j] < r->idx[i]) {
            u = p->idx[j];
            v = -f * p->val[j++];
            if (fabs(v) > EPS && occ_add(o, u, ri) != 0)
                return -1;
        } else {
            u = r->idx[i];
            v = r->val[i++] - f * p->val[j++];
        }
        if (fabs(v) > EPS && srow_push(tmp, u, v) != 0)
            return -1;
    }
    srow t = *r;
    *r = *tmp;
    *tmp = t;
    return 0;
}

/* Marks det[u] = 1 for every unknown u the equations determine. ids maps
 * cells to unknown numbers (SIZE_MAX: known). Returns 0 or -1. */
static int joint_determined(const hub_supp_system *s, const size_t *ids,
                            size_t nu, unsigned char *det)
{
    int rc = -1;
    srow *rows = calloc(s->neqs ? s->neqs : 1, sizeof *rows);
    size_t *pivot = malloc((nu ? nu : 1) * sizeof *pivot);
    unsigned char *used = calloc(s->neqs ? s->neqs : 1, 1);
    srow tmp = {0};
    size_t nr = 0;
    size_t m = nu ? nu : 1;
    occ o = {calloc(m, sizeof *o.rows), calloc(m, sizeof *o.len),
             calloc(m, sizeof *o.cap)};
    if (!rows || !pivot || !used || !o.rows || !o.len || !o.cap)
        goto out;
    for (size_t e = 0; e < s->neqs; e++) {
        srow *r = &rows[nr];
        for (size_t t = s->eq_start[e]; t < s->eq_start[e + 1]; t++) {
            size_t u = ids[s->terms[t].cell];
            if (u == SIZE_MAX)
                continue;
            /* Terms are in cell order, not unknown order: insert. */
            double v = s->terms[t].coef;
            double had = srow_get(r, u);
            if (had != 0.0) {
                for (size_t x = 0; x < r->len; x++)
                    if (r->idx[x] == u)
                        r->val[x] += v;
                continue;
            }
            if (srow_push(r, u, v) != 0)
                goto out;
            for (size_t x = r->len - 1; x > 0 && r->idx[x - 1] > u; x--) {
                size_t ti = r->idx[x];
                double tv = r->val[x];
                r->idx[x] = r->idx[x - 1];
                r->val[x] = r->val[x - 1];
                r->idx[x - 1] = ti;
                r->val[x - 1] = tv;
            }
        }
        if (r->len == 0)
            continue;
        for (size_t x = 0; x < r->len; x++)
            if (occ_add(&o, r->idx[x], nr) != 0)
                goto out;
        nr++;
    }
    for (size_t u = 0; u < nu; u++) {
        pivot[u] = SIZE_MAX;
        /* The shortest unused row holding u keeps fill-in low. */
        size_t best = SIZE_MAX;
        for (size_t x = 0; x < o.len[u]; x++) {
            size_t i = o.rows[u][x];
            if (!used[i] && fabs(srow_get(&rows[i], u)) > EPS &&
                (best == SIZE_MAX || rows[i].len < rows[best].len))
                best = i;
        }
        if (best == SIZE_MAX)
            continue;
        used[best] = 1;
        pivot[u] = best;
        srow *p = &rows[best];
        double a = srow_get(p, u);
        for (size_t x = 0; x < p->len; x++)
            p->val[x] /= a;
        /* The list may grow while it is walked (fill-in of other
         * unknowns only: u itself cancels), so index it afresh. */
        for (size_t x = 0; x < o.len[u]; x++) {
            size_t i = o.rows[u][x];
            if (i == best)
                continue;
            double f = srow_get(&rows[i], u);
            if (fabs(f) > EPS && srow_axpy(&rows[i], i, f, p, &tmp, &o) != 0)
                goto out;
        }
    }
    /* Reduced: a pivot row that holds its pivot alone fixes that cell. */
    for (size_t u = 0; u < nu; u++)
        det[u] = pivot[u] != SIZE_MAX && rows[pivot[u]].len == 1;
    rc = 0;
out:
    for (size_t i = 0; rows && i < s->neqs; i++)
        srow_free(&rows[i]);
    free(rows);
    free(pivot);
    free(used);
    srow_free(&tmp);
    for (size_t u = 0; o.rows && u < nu; u++)
        free(o.rows[u]);
    free(o.rows);
    free(o.len);
    free(o.cap);
    return rc;
}

/* The joint check: hides a complement for every determined cell.
 * Returns 1 when it hid any, 0 when none, -1 out of memory. */
static int joint_check(hub_supp_system *s)
{
    int rc = -1;
    size_t *ids = malloc((s->ncells ? s->ncells : 1) * sizeof *ids);
    size_t *cell_of = malloc((s->ncells ? s->ncells : 1) * sizeof *cell_of);
    unsigned char *det = NULL;
    size_t nu = 0;
    if (!ids || !cell_of)
        goto out;
    for (size_t c = 0; c < s->ncells; c++) {
        ids[c] = SIZE_MAX;
        if (unknown(&s->cells[c])) {
            cell_of[nu] = c;
            ids[c] = nu++;
        }
    }
    det = calloc(nu ? nu : 1, 1);
    if (!det || joint_determined(s, ids, nu, det) != 0)
        goto out;
    rc = 0;
    for (size_t u = 0; u < nu; u++) {
        if (!det[u])
            continue;
        size_t c = cell_of[u], best = SIZE_MAX;
        for (size_t e = 0; e < s->neqs; e++)
            for (size_t t = s->eq_start[e]; t < s->eq_start[e + 1]; t++)
                if (s->terms[t].cell == c) {
                    best = pick_in(s, e, best);
                    break;
                }
        /* None left beside it: any shown cell of an equation that holds
         * an unknown, so that every round makes progress (fail closed). */
        for (size_t e = 0; best == SIZE_MAX && e < s->neqs; e++)
            for (size_t t = s->eq_start[e]; t < s->eq_start[e + 1]; t++)
                if (ids[s->terms[t].cell] != SIZE_MAX) {
                    best = pick_in(s, e, best);
                    break;
                }
        if (best != SIZE_MAX && s->cells[best].supp == HUB_SUPP_NONE) {
            s->cells[best].supp = HUB_SUPP_COMPLEMENT;
            rc = 1;
        }
    }
out:
    free(ids);
    free(cell_of);
    free(det);
    return rc;
}

int hub_supp_solve(hub_supp_system *s, int k)
{
    if (k < 1)
        k = 1;
    for (size_t c = 0; c < s->ncells; c++)
        if (s->cells[c].publish && s->cells[c].n < k)
            s->cells[c].supp = HUB_SUPP_SMALL;
    for (;;) {
        int changed = 0;
        for (size_t e = 0; e < s->neqs; e++)
            changed |= line_check(s, e, k);
        if (changed)
            continue;
        int j = joint_check(s);
        if (j < 0) {
            for (size_t c = 0; c < s->ncells; c++)
                if (s->cells[c].supp == HUB_SUPP_NONE)
                    s->cells[c].supp = HUB_SUPP_COMPLEMENT;
            return -1;
        }
        if (j == 0)
            return 0;
    }
}
