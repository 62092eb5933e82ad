/*
 * test_indicators.c - the indicator engine (sync-server/indicators.h) on
 * fixtures whose every cell was worked out by hand beforehand: counts,
 * means and shares, small cells, complementary suppression (including
 * a cascade through the totals), unreliable bases, the wave-to-wave
 * change, and spec parsing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "indicators.h"
#include "unit.h"

/* ---- fixture building ----------------------------------------------- */

#define FIX_MAX 2048

typedef struct fixture {
    hub_ind_record recs[FIX_MAX];
    cJSON *answers[FIX_MAX];
    size_t n;
} fixture;

/* Adds count records of area/wave with answers given as JSON text. */
static void put(fixture *f, const char *area, const char *wave,
                const char *json, int count)
{
    for (int i = 0; i < count && f->n < FIX_MAX; i++) {
        cJSON *a = cJSON_Parse(json);
        f->answers[f->n] = a;
        f->recs[f->n] = (hub_ind_record){area, wave, a};
        f->n++;
    }
}

static void fixture_free(fixture *f)
{
    for (size_t i = 0; i < f->n; i++)
        cJSON_Delete(f->answers[i]);
    f->n = 0;
}

static const char *const genders[] = {"woman", "man", "another"};

static hub_ind_options opts(const char *by, int k)
{
    hub_ind_options o = {by, by ? genders : NULL, by ? 3 : 0, k, 25, NULL, 0};
    return o;
}

/* Parses spec_text and computes the tables of f by `by` (NULL: none)
 * with k. 0, or 1 after failf. */
static int compute(const fixture *f, const char *spec_text, const char *by,
                   int k, hub_ind_result *r)
{
    hub_ind_spec spec;
    char err[200];
    if (hub_ind_parse(spec_text, &spec, err, sizeof err) != 0)
        return failf(__FILE__, __LINE__, "%s: %s", spec_text, err);
    hub_ind_options o = opts(by, k);
    if (hub_ind_compute(&spec, &o, f->recs, f->n, r) != 0)
        return failf(__FILE__, __LINE__, "out of memory");
    return 0;
}

/* Adds woman and man records of one area and wave. */
static void put_gender(fixture *f, const char *area, const char *wave,
                       int women, int men)
{
    put(f, area, wave, "{\"gender\":\"woman\"}", women);
    put(f, area, wave, "{\"gender\":\"man\"}", men);
}

/* One cell as expected: n, value, suppression, unreliable. */
static int cell_is(const hub_ind_table *t, const char *area, const char *cat,
                   long long n, double value, int supp, int unreliable)
{
    const hub_ind_cell *c = hub_ind_cell_at(t, area, cat);
    if (!c)
        return failf(__FILE__, __LINE__, "no cell %s/%s", area, cat);
    if (c->n != n || fabs(c->value - value) > 1e-9 || c->supp != supp ||
        c->unreliable != unreliable)
        return failf(__FILE__, __LINE__,
                     "cell %s/%s: n %lld value %g supp %d unreliable %d; "
                     "expected %lld %g %d %d",
                     area, cat, (long long)c->n, c->value, c->supp,
                     c->unreliable, n, value, supp, unreliable);
    return 0;
}

#define CELL(t, a, c, n, v, s, u)                                              \
    do {                                                                       \
        if (cell_is(t, a, c, n, v, s, u) != 0)                                 \
            return 1;                                                          \
    } while (0)

enum { OK = HUB_SUPP_NONE, SMALL = HUB_SUPP_SMALL, COMP = HUB_SUPP_COMPLEMENT };

/* ---- cases ---------------------------------------------------------- */

/* Counts by gender, k = 5:
 *          woman  man  all
 *   A        10    8   18
 *   B         6    3    9
 *   C        12   14   26
 *   all      28   25   53
 * B/man is small. Row B then has one hidden cell: B/woman (6) goes too.
 * Columns woman and man then have one hidden cell each: their smallest
 * shown cells, A/woman (10) and A/man (8), go too. Row A then has two
 * hidden cells and a shown total, which reveals neither. */
static int test_count_complementary(void)
{
    fixture f = {0};
    put_gender(&f, "A", "baseline", 10, 8);
    put_gender(&f, "B", "baseline", 6, 3);
    put_gender(&f, "C", "baseline", 12, 14);
    hub_ind_result r;
    if (compute(&f, "count", "gender", 5, &r) != 0)
        return 1;
    CHECK(r.ntables == 1);
    const hub_ind_table *t = hub_ind_table_of(&r, "baseline");
    CHECK(t && t->nrows == 4 && t->ncols == 3);
    /* "another" was never answered: no column for it. */
    CHECK(strcmp(t->cols[0], "woman") == 0 && strcmp(t->cols[1], "man") == 0);
    CHECK(strcmp(t->cols[2], "*") == 0 && strcmp(t->rows[3], "*") == 0);
    CELL(t, "A", "woman", 10, 10, COMP, 0);
    CELL(t, "A", "man", 8, 8, COMP, 0);
    CELL(t, "A", "*", 18, 18, OK, 1);
    CELL(t, "B", "woman", 6, 6, COMP, 0);
    CELL(t, "B", "man", 3, 3, SMALL, 0);
    CELL(t, "B", "*", 9, 9, OK, 1);
    CELL(t, "C", "woman", 12, 12, OK, 1);
    CELL(t, "C", "man", 14, 14, OK, 1);
    CELL(t, "C", "*", 26, 26, OK, 0);
    CELL(t, "*", "woman", 28, 28, OK, 0);
    CELL(t, "*", "man", 25, 25, OK, 0);
    CELL(t, "*", "*", 53, 53, OK, 0);

    /* The flat rows hide n and value of every hidden cell, with why. */
    cJSON *rows = hub_ind_rows(t);
    CHECK(cJSON_GetArraySize(rows) == 12);
    int hidden = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        const char *st = cJSON_GetObjectItem(row, "status")->valuestring;
        const cJSON *n = cJSON_GetObjectItem(row, "n");
        const cJSON *v = cJSON_GetObjectItem(row, "value");
        const cJSON *why = cJSON_GetObjectItem(row, "reason");
        if (strcmp(st, "suppressed") == 0) {
            hidden++;
            CHECK(cJSON_IsNull(n) && cJSON_IsNull(v) && cJSON_IsString(why));
        } else {
            CHECK(cJSON_IsNumber(n) && cJSON_IsNumber(v) && cJSON_IsNull(why));
        }
        if (strcmp(cJSON_GetObjectItem(row, "area")->valuestring, "B") == 0 &&
            strcmp(cJSON_GetObjectItem(row, "category")->valuestring, "man") ==
                0)
            CHECK(strcmp(why->valuestring, "small_cell") == 0);
        if (strcmp(cJSON_GetObjectItem(row, "area")->valuestring, "A") == 0 &&
            strcmp(cJSON_GetObjectItem(row, "category")->valuestring, "*") == 0)
            CHECK(cJSON_IsTrue(cJSON_GetObjectItem(row, "unreliable")));
    }
    CHECK(hidden == 4);
    cJSON_Delete(rows);
    hub_ind_free(&r);
    fixture_free(&f);
    return 0;
}

/* A small area total cascades through the totals column, k = 5:
 *          woman  man  all
 *   P         5    5   10
 *   Q         2    2    4
 *   S        20   30   50
 *   all      27   37   64
 * Row Q is all small. Columns woman, man and all then have one hidden
 * cell each: P/woman, P/man and P/all (the smallest shown) go too. */
static int test_count_cascade(void)
{
    fixture f = {0};
    put_gender(&f, "P", "w", 5, 5);
    put_gender(&f, "Q", "w", 2, 2);
    put_gender(&f, "S", "w", 20, 30);
    hub_ind_result r;
    if (compute(&f, "count", "gender", 5, &r) != 0)
        return 1;
    const hub_ind_table *t = hub_ind_table_of(&r, "w");
    CHECK(t != NULL);
    CELL(t, "P", "woman", 5, 5, COMP, 0);
    CELL(t, "P", "man", 5, 5, COMP, 0);
    CELL(t, "P", "*", 10, 10, COMP, 0);
    CELL(t, "Q", "woman", 2, 2, SMALL, 0);
    CELL(t, "Q", "man", 2, 2, SMALL, 0);
    CELL(t, "Q", "*", 4, 4, SMALL, 0);
    CELL(t, "S", "woman", 20, 20, OK, 1);
    CELL(t, "S", "man", 30, 30, OK, 0);
    CELL(t, "S", "*", 50, 50, OK, 0);
    CELL(t, "*", "woman", 27, 27, OK, 0);
    CELL(t, "*", "man", 37, 37, OK, 0);
    CELL(t, "*", "*", 64, 64, OK, 0);
    /* With k = 2 nothing is below k: every cell shows. */
    hub_ind_free(&r);
    if (compute(&f, "count", "gender", 2, &r) != 0)
        return 1;
    t = hub_ind_table_of(&r, "w");
    CELL(t, "Q", "woman", 2, 2, OK, 1);
    CELL(t, "P", "*", 10, 10, OK, 1);
    hub_ind_free(&r);
    fixture_free(&f);
    return 0;
}

/* Means of belonging (1..5) per area, two waves, k = 5.
 *   baseline: A 1,2,3,4,5 (+1 unanswered) n 5 mean 3
 *             B 2,2,2,2 n 4 mean 2 (small)
 *             C 3 x 10 n 10 mean 3
 *             all n 19 mean 53/19
 *     B small; column has one hidden: A (5, the smallest) goes too.
 *   follow-up: A 4 x 15, 5 x 15 n 30 mean 4.5; B 3 x 6 n 6 mean 3;
 *              C 4 x 10 n 10 mean 4; all n 46 mean 193/46.
 *   change: A and B hidden at baseline (null, "suppressed"); C +1;
 *           all 193/46 - 53/19. */
static fixture mean_fixture(void)
{
    fixture f = {0};
    for (int v = 1; v <= 5; v++) {
        char a[40];
        snprintf(a, sizeof a, "{\"belonging\":%d}", v);
        put(&f, "A", "baseline", a, 1);
    }
    put(&f, "A", "baseline", "{\"gender\":\"man\"}", 1);
    put(&f, "B", "baseline", "{\"belonging\":2}", 4);
    put(&f, "C", "baseline", "{\"belonging\":3}", 10);
    put(&f, "A", "follow-up", "{\"belonging\":4}", 15);
    put(&f, "A", "follow-up", "{\"belonging\":5}", 15);
    put(&f, "B", "follow-up", "{\"belonging\":3}", 6);
    put(&f, "C", "follow-up", "{\"belonging\":4}", 10);
    return f;
}

static int test_mean_two_waves(void)
{
    fixture f = mean_fixture();
    hub_ind_result r;
    if (compute(&f, "mean:belonging", NULL, 5, &r) != 0)
        return 1;
    CHECK(r.ntables == 2);
    CHECK(strcmp(r.tables[0].wave, "baseline") == 0);
    const hub_ind_table *b = hub_ind_table_of(&r, "baseline");
    const hub_ind_table *u = hub_ind_table_of(&r, "follow-up");
    CHECK(b && u && b->ncols == 1 && b->nrows == 4);
    CELL(b, "A", "*", 5, 3.0, COMP, 0);
    CELL(b, "B", "*", 4, 2.0, SMALL, 0);
    CELL(b, "C", "*", 10, 3.0, OK, 1);
    CELL(b, "*", "*", 19, 53.0 / 19, OK, 1);
    CELL(u, "A", "*", 30, 4.5, OK, 0);
    CELL(u, "B", "*", 6, 3.0, OK, 1);
    CELL(u, "C", "*", 10, 4.0, OK, 1);
    CELL(u, "*", "*", 46, 193.0 / 46, OK, 0);

    cJSON *ch = hub_ind_change_rows(b, u);
    CHECK(cJSON_GetArraySize(ch) == 4);
    int seen = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, ch)
    {
        const char *area = cJSON_GetObjectItem(row, "area")->valuestring;
        const cJSON *c = cJSON_GetObjectItem(row, "change");
        const char *cs = cJSON_GetObjectItem(row, "change_status")->valuestring;
        const cJSON *fn = cJSON_GetObjectItem(row, "from_n");
        const cJSON *tn = cJSON_GetObjectItem(row, "to_n");
        if (strcmp(area, "A") == 0 || strcmp(area, "B") == 0) {
            CHECK(cJSON_IsNull(c) && strcmp(cs, "suppressed") == 0);
            CHECK(cJSON_IsNull(fn) && cJSON_IsNumber(tn));
            CHECK(tn->valuedouble == (area[0] == 'A' ? 30 : 6));
            seen++;
        } else if (strcmp(area, "C") == 0) {
            CHECK(cJSON_IsNumber(c) && fabs(c->valuedouble - 1.0) < 1e-9);
            CHECK(fn->valuedouble == 10 && tn->valuedouble == 10);
            CHECK(cJSON_IsTrue(cJSON_GetObjectItem(row, "unreliable")));
            seen++;
        } else {
            CHECK(strcmp(area, "*") == 0);
            CHECK(fabs(c->valuedouble - (193.0 / 46 - 53.0 / 19)) < 1e-9);
            CHECK(fn->valuedouble == 19 && tn->valuedouble == 46);
            seen++;
        }
    }
    CHECK(seen == 4);
    cJSON_Delete(ch);
    hub_ind_free(&r);
    fixture_free(&f);
    return 0;
}

/* Share answering often or sometimes, by gender, k = 6, one area A:
 *   woman: often x3, never x3           n 6  share 0.5
 *   man:   sometimes x1, never x4       n 5  share 0.2 (small)
 *   (no gender): often x5               n 5  share 1.0 (small)
 *   woman, tension unanswered x2: outside every base
 *   all: n 16 share 9/16
 * Row A has two hidden cells; each column's total equals its one area,
 * hidden alike. */
static int test_share_missing_category(void)
{
    fixture f = {0};
    put(&f, "A", "w", "{\"gender\":\"woman\",\"tension\":\"often\"}", 3);
    put(&f, "A", "w", "{\"gender\":\"woman\",\"tension\":\"never\"}", 3);
    put(&f, "A", "w", "{\"gender\":\"man\",\"tension\":\"sometimes\"}", 1);
    put(&f, "A", "w", "{\"gender\":\"man\",\"tension\":\"never\"}", 4);
    put(&f, "A", "w", "{\"tension\":\"often\"}", 5);
    put(&f, "A", "w", "{\"gender\":\"woman\"}", 2);
    hub_ind_result r;
    if (compute(&f, "share:tension=often|sometimes", "gender", 6, &r) != 0)
        return 1;
    const hub_ind_table *t = hub_ind_table_of(&r, "w");
    CHECK(t && t->ncols == 4 && strcmp(t->cols[2], "") == 0);
    CELL(t, "A", "woman", 6, 0.5, OK, 1);
    CELL(t, "A", "man", 5, 0.2, SMALL, 0);
    CELL(t, "A", "", 5, 1.0, SMALL, 0);
    CELL(t, "A", "*", 16, 9.0 / 16, OK, 1);
    CELL(t, "*", "woman", 6, 0.5, OK, 1);
    CELL(t, "*", "man", 5, 0.2, SMALL, 0);
    CELL(t, "*", "", 5, 1.0, SMALL, 0);
    CELL(t, "*", "*", 16, 9.0 / 16, OK, 1);
    hub_ind_free(&r);
    fixture_free(&f);
    return 0;
}

/* select_multiple: a respondent counts when any chosen code is in the
 * set; an empty choice is an answer outside the set. k = 1. */
static int test_share_select_multiple(void)
{
    fixture f = {0};
    put(&f, "A", "w", "{\"where\":[\"youth\",\"sport\"]}", 2);
    put(&f, "A", "w", "{\"where\":[\"school\"]}", 1);
    put(&f, "A", "w", "{\"where\":[]}", 1);
    put(&f, "A", "w", "{}", 3);
    hub_ind_result r;
    if (compute(&f, "share:where=sport,school", NULL, 1, &r) != 0)
        return 1;
    const hub_ind_table *t = hub_ind_table_of(&r, "w");
    CELL(t, "A", "*", 4, 0.75, OK, 1);
    CELL(t, "*", "*", 4, 0.75, OK, 1);
    hub_ind_free(&r);
    fixture_free(&f);
    return 0;
}

static int test_parse(void)
{
    hub_ind_spec s;
    char err[200], text[200];
    CHECK(hub_ind_parse("mean:belonging", &s, err, sizeof err) == 0);
    CHECK(s.kind == HUB_IND_MEAN && strcmp(s.field, "belonging") == 0);
    CHECK(hub_ind_parse("share:t=a|b,c", &s, err, sizeof err) == 0);
    hub_ind_format(&s, text, sizeof text);
    CHECK(strcmp(text, "share:t=a|b|c") == 0);
    static const char *const bad[] = {"",
                                      "sum:x",
                                      "mean:",
                                      "mean:Bad",
                                      "mean:x=1",
                                      "share:x",
                                      "share:x=",
                                      "share:x=a||b",
                                      "count:x",
                                      ("share:x=a|b|c|d|e|f|g|h|i|j|"
                                       "k|l|m|n|o|p|q")};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (hub_ind_parse(bad[i], &s, err, sizeof err) == 0)
            return failf(__FILE__, __LINE__, "accepted '%s'", bad[i]);
        CHECK(err[0] != '\0');
    }
    return 0;
}

/* Empty input: no tables, nothing to free but the result. */
static int test_empty(void)
{
    hub_ind_spec s;
    char err[200];
    CHECK(hub_ind_parse("count", &s, err, sizeof err) == 0);
    hub_ind_options o = opts("gender", 5);
    hub_ind_result r;
    CHECK(hub_ind_compute(&s, &o, NULL, 0, &r) == 0);
    CHECK(r.ntables == 0 && hub_ind_table_of(&r, "w") == NULL);
    cJSON *ch = hub_ind_change_rows(NULL, NULL);
    CHECK(ch && cJSON_GetArraySize(ch) == 0);
    cJSON_Delete(ch);
    hub_ind_free(&r);
    return 0;
}

/* The shape of a real leak, share of tension seen often, k = 5:
 *   N01: 1 answer, often                   n 1   share 1     (small)
 *   N02: 27 often, 15 never                n 42  share 27/42
 *   N03: 3 submissions, field unanswered   n 0               (small)
 *   all:                                   n 43  share 28/43
 * The column already holds two hidden cells, but N03's is empty: all n
 * minus N02's shown n leaves N01's one answer (43 x 0.6512 - 42 x
 * 0.6429 = 1 "often"). An empty cell protects nothing: N02 is hidden
 * too, and the total alone tells nothing of either. */
static int test_empty_cells_protect_nothing(void)
{
    fixture f = {0};
    put(&f, "N01", "w", "{\"tension\":\"often\"}", 1);
    put(&f, "N02", "w", "{\"tension\":\"often\"}", 27);
    put(&f, "N02", "w", "{\"tension\":\"never\"}", 15);
    put(&f, "N03", "w", "{\"gender\":\"woman\"}", 3);
    hub_ind_result r;
    if (compute(&f, "share:tension=often|sometimes", NULL, 5, &r) != 0)
        return 1;
    const hub_ind_table *t = hub_ind_table_of(&r, "w");
    CHECK(t && t->nrows == 4 && t->ncols == 1);
    CELL(t, "N01", "*", 1, 1.0, SMALL, 0);
    CELL(t, "N02", "*", 42, 27.0 / 42, COMP, 0);
    CELL(t, "N03", "*", 0, 0, SMALL, 0);
    CELL(t, "*", "*", 43, 28.0 / 43, OK, 0);
    hub_ind_free(&r);
    fixture_free(&f);
    return 0;
}

static const char *const abcd[] = {"a", "b", "c", "d"};

/* Records of one area for categories a..d of field cat: counts[i] of
 * code abcd[i]. */
static void put_cats(fixture *f, const char *area, const int counts[4])
{
    static const char *const json[] = {"{\"cat\":\"a\"}", "{\"cat\":\"b\"}",
                                       "{\"cat\":\"c\"}", "{\"cat\":\"d\"}"};
    for (int i = 0; i < 4; i++)
        put(f, area, "w", json[i], counts[i]);
}

static int compute_cats(const fixture *f, int k, hub_ind_result *r)
{
    hub_ind_spec spec;
    char err[200];
    CHECK(hub_ind_parse("count", &spec, err, sizeof err) == 0);
    hub_ind_options o = {"cat", abcd, 4, k, 25, NULL, 0};
    CHECK(hub_ind_compute(&spec, &o, f->recs, f->n, r) == 0);
    return 0;
}

/* Two hidden cells in a line may still be a group smaller than k, k = 5:
 *          a    b    c  |  *
 *   A      1    2   10  | 13
 *   B      8    9   12  | 29
 *   *      9   11   22  | 42
 * A/a and A/b are small; together they are 3 people whose answers row
 * A's total minus A/c would give: A/c goes too. Each column then has
 * one hidden cell: B/a, B/b and B/c go. Row and column totals stay. */
static int test_small_group_in_a_line(void)
{
    fixture f = {0};
    put_cats(&f, "A", (const int[4]){1, 2, 10, 0});
    put_cats(&f, "B", (const int[4]){8, 9, 12, 0});
    hub_ind_result r;
    if (compute_cats(&f, 5, &r) != 0)
        return 1;
    const hub_ind_table *t = hub_ind_table_of(&r, "w");
    CHECK(t && t->ncols == 4);
    CELL(t, "A", "a", 1, 1, SMALL, 0);
    CELL(t, "A", "b", 2, 2, SMALL, 0);
    CELL(t, "A", "c", 10, 10, COMP, 0);
    CELL(t, "A", "*", 13, 13, OK, 1);
    CELL(t, "B", "a", 8, 8, COMP, 0);
    CELL(t, "B", "b", 9, 9, COMP, 0);
    CELL(t, "B", "c", 12, 12, COMP, 0);
    CELL(t, "B", "*", 29, 29, OK, 0);
    CELL(t, "*", "a", 9, 9, OK, 1);
    CELL(t, "*", "*", 42, 42, OK, 0);
    hub_ind_free(&r);
    fixture_free(&f);
    return 0;
}

/* Every line holds two hidden cells or more, and still one cell is the
 * sum of several lines, k = 5 (s: small, 3 people each):
 *          a    b    c    d  |  *
 *   A      s    s   20   20  | 46
 *   B      s    s    s   20  | 29
 *   C     20   20    s    s  | 46
 *   D     20   20    s    s  | 46
 * Rows A and B minus columns a and b leave B/c alone (46 + 29 - 46 -
 * 46 - 20 - 20 + 20 + 20 ...): the two blocks hang on B/c like a
 * bridge. A complement in row B or column c breaks it: A/c (20, the
 * first of the smallest). */
static int test_joint_recovery(void)
{
    fixture f = {0};
    put_cats(&f, "A", (const int[4]){3, 3, 20, 20});
    put_cats(&f, "B", (const int[4]){3, 3, 3, 20});
    put_cats(&f, "C", (const int[4]){20, 20, 3, 3});
    put_cats(&f, "D", (const int[4]){20, 20, 3, 3});
    hub_ind_result r;
    if (compute_cats(&f, 5, &r) != 0)
        return 1;
    const hub_ind_table *t = hub_ind_table_of(&r, "w");
    CHECK(t && t->nrows == 5 && t->ncols == 5);
    CELL(t, "A", "c", 20, 20, COMP, 0);
    CELL(t, "B", "c", 3, 3, SMALL, 0);
    int comp = 0;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        comp += t->cells[i].supp == COMP;
    CHECK(comp == 1);
    CELL(t, "B", "d", 20, 20, OK, 1);
    CELL(t, "*", "c", 29, 29, OK, 0);
    hub_ind_free(&r);
    fixture_free(&f);
    return 0;
}

/* ---- an independent audit of random tables ---------------------------- */

/* Exact fractions for the audit: small integer systems only. */
typedef struct frac {
    long long p, q; /* q > 0 */
} frac;

static long long gcdll(long long a, long long b)
{
    a = a < 0 ? -a : a;
    b = b < 0 ? -b : b;
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a ? a : 1;
}

static frac fr(long long p, long long q)
{
    if (q < 0) {
        p = -p;
        q = -q;
    }
    long long g = gcdll(p, q);
    return (frac){p / g, q / g};
}

static frac q_sub(frac a, frac b)
{
    return fr(a.p * b.q - b.p * a.q, a.q * b.q);
}

static frac q_mul(frac a, frac b)
{
    return fr(a.p * b.p, a.q * b.q);
}

static frac q_div(frac a, frac b)
{
    return fr(a.p * b.q, a.q * b.p);
}

#define AUD_MAX 128

/* 1 when hidden cell u (one of the nu unknowns) is determined by the
 * equations eq (neq x nu, integer coefficients): dense Gauss-Jordan on
 * fractions, written apart from suppress.c on purpose. */
static int determined(int eq[][AUD_MAX], size_t neq, size_t nu, size_t u)
{
    static frac m[2 * AUD_MAX][AUD_MAX];
    for (size_t i = 0; i < neq; i++)
        for (size_t j = 0; j < nu; j++)
            m[i][j] = fr(eq[i][j], 1);
    size_t row = 0;
    long piv_row_of_u = -1;
    for (size_t col = 0; col < nu && row < neq; col++) {
        size_t p = row;
        while (p < neq && m[p][col].p == 0)
            p++;
        if (p == neq)
            continue;
        for (size_t j = 0; j < nu; j++) {
            frac t = m[p][j];
            m[p][j] = m[row][j];
            m[row][j] = t;
        }
        frac a = m[row][col];
        for (size_t j = 0; j < nu; j++)
            m[row][j] = q_div(m[row][j], a);
        for (size_t i = 0; i < neq; i++)
            if (i != row && m[i][col].p != 0) {
                frac f = m[i][col];
                for (size_t j = 0; j < nu; j++)
                    m[i][j] = q_sub(m[i][j], q_mul(f, m[row][j]));
            }
        if (col == u)
            piv_row_of_u = (long)row;
        row++;
    }
    if (piv_row_of_u < 0)
        return 0;
    for (size_t j = 0; j < nu; j++)
        if (j != u && m[piv_row_of_u][j].p != 0)
            return 0;
    return 1;
}

/* Random tables of areas x categories (small ones often), random k:
 * after suppression no hidden non-empty cell is determined by the rows,
 * columns and totals, every shown cell is at least k, and no line
 * reveals a group of fewer than k people. */
static int test_random_tables_audit(void)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    int tables = 0, hidden_total = 0;
    for (int round = 0; round < 300; round++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t R = 2 + (size_t)(x % 5) + 1, C = 1 + (size_t)((x >> 8) % 4) + 1;
        int k = (int)(3 + (x >> 16) % 8);
        hub_supp_cell cells[8 * 8];
        memset(cells, 0, sizeof cells);
        for (size_t r = 0; r + 1 < R; r++)
            for (size_t c = 0; c + 1 < C; c++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                int64_t n = (x % 3 == 0) ? (int64_t)((x >> 4) % 5)
                                         : (int64_t)((x >> 4) % 40);
                cells[r * C + c].n = n;
                cells[r * C + C - 1].n += n;
                cells[(R - 1) * C + c].n += n;
                cells[(R - 1) * C + C - 1].n += n;
            }
        for (size_t i = 0; i < R * C; i++) {
            cells[i].publish = 1;
            cells[i].rank = (i / C == R - 1) + (i % C == C - 1);
        }
        hub_supp_term terms[2 * 64];
        size_t start[20], nt = 0, ne = 0;
        for (size_t r = 0; r < R; r++) {
            start[ne++] = nt;
            for (size_t c = 0; c < C; c++)
                terms[nt++] = (hub_supp_term){r * C + c, c + 1 < C ? 1 : -1};
        }
        for (size_t c = 0; c < C; c++) {
            start[ne++] = nt;
            for (size_t r = 0; r < R; r++)
                terms[nt++] = (hub_supp_term){r * C + c, r + 1 < R ? 1 : -1};
        }
        start[ne] = nt;
        hub_supp_system sys = {cells, R * C, terms, start, ne};
        CHECK(hub_supp_solve(&sys, k) == 0);
        tables++;
        /* The unknowns: hidden, not empty. */
        size_t id[64], nu = 0;
        for (size_t i = 0; i < R * C; i++) {
            id[i] = SIZE_MAX;
            if (cells[i].supp != HUB_SUPP_NONE)
                hidden_total++;
            else if (cells[i].n < k)
                return failf(__FILE__, __LINE__,
                             "round %d: cell %zu shown "
                             "with n %lld < k %d",
                             round, i, (long long)cells[i].n, k);
            if (cells[i].supp != HUB_SUPP_NONE && cells[i].n > 0)
                id[i] = nu++;
        }
        static int eq[2 * AUD_MAX][AUD_MAX];
        memset(eq, 0, sizeof eq);
        for (size_t e = 0; e < ne; e++) {
            int64_t people = 0;
            int cnt = 0, pos = 0, neg = 0, shown = 0;
            for (size_t t = start[e]; t < start[e + 1]; t++) {
                size_t c = terms[t].cell;
                if (id[c] == SIZE_MAX) {
                    shown += cells[c].supp == HUB_SUPP_NONE && cells[c].n > 0;
                    continue;
                }
                eq[e][id[c]] = terms[t].coef;
                cnt++;
                people += cells[c].n;
                if (terms[t].coef > 0)
                    pos = 1;
                else
                    neg = 1;
            }
            if (cnt == 1 || (cnt > 1 && !(pos && neg) && people < k))
                CHECK(shown == 0);
        }
        for (size_t u = 0; u < nu; u++)
            if (determined(eq, ne, nu, u))
                return failf(__FILE__, __LINE__,
                             "round %d (%zux%zu, k %d): hidden unknown %zu "
                             "is determined by the shown cells",
                             round, R, C, k, u);
    }
    CHECK(tables == 300 && hidden_total > 300);
    return 0;
}

/* ---- a hierarchy ------------------------------------------------------ */

/* Province P > districts D1, D2 > wards W1, W2 (D1), W3 (D2) > villages
 * V1, V2 (W1), V3 (W2), V4, V5 (W3). Counts, k = 5:
 *   V1 10  V2 12 -> W1 22    V3 3 -> W2 3 (one small child)
 *   W1 + W2 -> D1 25         V4 20  V5 25 -> W3 45 -> D2 45
 *   D1 + D2 -> P 70 -> all 70
 * V3 and W2 are small. D1 minus W1 would give W2: W1 (22, below D1's
 * 25) goes. W1 hidden alone under its villages: V1 (10) goes. Left: V1
 * - W1 = -12, W1 + W2 = 25, V3 = W2, which fix no cell. */
static const hub_ind_area four_levels[] = {
    {"P", NULL},  {"D1", "P"},  {"D2", "P"},  {"W1", "D1"},
    {"W2", "D1"}, {"W3", "D2"}, {"V1", "W1"}, {"V2", "W1"},
    {"V3", "W2"}, {"V4", "W3"}, {"V5", "W3"},
};

static int test_hierarchy_small_child(void)
{
    fixture f = {0};
    static const struct {
        const char *v;
        int n;
    } villages[] = {{"V1", 10}, {"V2", 12}, {"V3", 3}, {"V4", 20}, {"V5", 25}};
    for (size_t i = 0; i < 5; i++)
        put(&f, villages[i].v, "w", "{}", villages[i].n);
    hub_ind_spec spec;
    char err[200];
    CHECK(hub_ind_parse("count", &spec, err, sizeof err) == 0);
    hub_ind_options o = {NULL, NULL, 0, 5, 25, four_levels, 11};
    hub_ind_result r;
    CHECK(hub_ind_compute(&spec, &o, f.recs, f.n, &r) == 0);
    const hub_ind_table *t = hub_ind_table_of(&r, "w");
    CHECK(t && t->nrows == 12 && t->ncols == 1);
    CELL(t, "V1", "*", 10, 10, COMP, 0);
    CELL(t, "V2", "*", 12, 12, OK, 1);
    CELL(t, "V3", "*", 3, 3, SMALL, 0);
    CELL(t, "V4", "*", 20, 20, OK, 1);
    CELL(t, "V5", "*", 25, 25, OK, 0);
    CELL(t, "W1", "*", 22, 22, COMP, 0);
    CELL(t, "W2", "*", 3, 3, SMALL, 0);
    CELL(t, "W3", "*", 45, 45, OK, 0);
    CELL(t, "D1", "*", 25, 25, OK, 0);
    CELL(t, "D2", "*", 45, 45, OK, 0);
    CELL(t, "P", "*", 70, 70, OK, 0);
    CELL(t, "*", "*", 70, 70, OK, 0);
    /* Rows say where they sit. */
    for (size_t i = 0; i + 1 < t->nrows; i++) {
        const char *code = t->rows[i];
        int depth = code[0] == 'P'   ? 0
                    : code[0] == 'D' ? 1
                    : code[0] == 'W' ? 2
                                     : 3;
        CHECK(t->depth[i] == depth);
        CHECK((depth == 0) == (t->parents[i] == NULL));
    }
    CHECK(strcmp(t->parents[0], "P") == 0); /* D1 */
    CHECK(t->depth[t->nrows - 1] == -1);
    hub_ind_free(&r);
    fixture_free(&f);
    return 0;
}

/* Random hierarchies (records at every level, small areas often), by a
 * category or not, random k. Every row counts exactly the records at or
 * below it (computed here from the tree), and an independent exact
 * audit finds no hidden cell - nor the records of a parent itself, which
 * are never shown - determined by rows, columns, parents and totals. */
static int test_random_hierarchy_audit(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
    static const char *const cat_json[] = {"{\"cat\":\"a\"}", "{\"cat\":\"b\"}",
                                           "{\"cat\":\"c\"}", "{}"};
    int checked = 0, hidden = 0;
    for (int round = 0; round < 150; round++) {
        size_t na = 3 + RND() % 9;
        char codes[12][8];
        hub_ind_area areas[12];
        size_t parent[12];
        for (size_t i = 0; i < na; i++) {
            snprintf(codes[i], sizeof codes[i], "A%02zu", i);
            parent[i] = i == 0 || RND() % 5 == 0 ? SIZE_MAX : RND() % i;
            areas[i] = (hub_ind_area){
                codes[i], parent[i] == SIZE_MAX ? NULL : codes[parent[i]]};
        }
        int by = (int)(RND() % 2), k = 3 + (int)(RND() % 6);
        fixture f = {0};
        int64_t own[12][5] = {{0}}; /* per area, per category (4: all) */
        for (size_t i = 0; i < na; i++) {
            uint64_t roll = RND();
            int cnt =
                roll % 3 == 0 ? (int)(roll >> 8) % 4 : (int)(roll >> 8) % 25;
            for (int j = 0; j < cnt; j++) {
                int c = by ? (int)(RND() % 4) : 3;
                put(&f, codes[i], "w", cat_json[c], 1);
                own[i][c]++;
                own[i][4]++;
            }
        }
        if (f.n == 0) {
            fixture_free(&f);
            continue;
        }
        hub_ind_spec spec;
        char err[200];
        CHECK(hub_ind_parse("count", &spec, err, sizeof err) == 0);
        hub_ind_options o = {
            by ? "cat" : NULL, by ? abcd : NULL, by ? 3 : 0, k, 25, areas, na};
        hub_ind_result r;
        CHECK(hub_ind_compute(&spec, &o, f.recs, f.n, &r) == 0);
        const hub_ind_table *t = hub_ind_table_of(&r, "w");
        CHECK(t != NULL);
        size_t R = t->nrows, C = t->ncols;
        /* Roll-ups against a count of the subtree here. */
        for (size_t row = 0; row + 1 < R; row++) {
            size_t a = (size_t)atoi(t->rows[row] + 1);
            int64_t want = 0;
            for (size_t b = 0; b < na; b++)
                for (size_t up = b; up != SIZE_MAX; up = parent[up])
                    if (up == a) {
                        want += own[b][4];
                        break;
                    }
            CHECK(t->cells[row * C + C - 1].n == want);
        }
        CHECK(t->cells[R * C - 1].n == (int64_t)f.n);
        /* The audit's cells: the table's, then each parent's own. */
        int64_t n_of[2 * AUD_MAX];
        int shown[2 * AUD_MAX];
        size_t nc = 0;
        for (size_t i = 0; i < R * C; i++) {
            n_of[nc] = t->cells[i].n;
            shown[nc++] = t->cells[i].supp == HUB_SUPP_NONE;
            if (t->cells[i].supp == HUB_SUPP_NONE && t->cells[i].n < k)
                return failf(__FILE__, __LINE__, "round %d: shown n < k",
                             round);
            hidden += t->cells[i].supp != HUB_SUPP_NONE;
        }
        size_t own_row[AUD_MAX];
        for (size_t p = 0; p < R; p++) {
            own_row[p] = SIZE_MAX;
            int has_child = 0;
            for (size_t ch = 0; ch + 1 < R; ch++)
                has_child |=
                    t->parents[ch] && strcmp(t->parents[ch], t->rows[p]) == 0;
            if (!has_child || p + 1 == R)
                continue;
            own_row[p] = nc / C;
            for (size_t c = 0; c < C; c++) {
                int64_t v = t->cells[p * C + c].n;
                for (size_t ch = 0; ch + 1 < R; ch++)
                    if (t->parents[ch] &&
                        strcmp(t->parents[ch], t->rows[p]) == 0)
                        v -= t->cells[ch * C + c].n;
                CHECK(v >= 0);
                n_of[nc] = v;
                shown[nc++] = 0;
            }
        }
        size_t id[2 * AUD_MAX], nu = 0;
        for (size_t i = 0; i < nc; i++)
            id[i] = !shown[i] && n_of[i] > 0 ? nu++ : SIZE_MAX;
        CHECK(nu <= AUD_MAX);
        static int eq[2 * AUD_MAX][AUD_MAX];
        memset(eq, 0, sizeof eq);
        size_t ne = 0;
        /* Rows (table rows and own rows) sum to their last cell. */
        if (C > 1)
            for (size_t row = 0; row < nc / C; row++, ne++)
                for (size_t c = 0; c < C; c++)
                    if (id[row * C + c] != SIZE_MAX)
                        eq[ne][id[row * C + c]] = c + 1 < C ? 1 : -1;
        /* Children and own records sum to the parent; tops to all. */
        for (size_t p = 0; p < R; p++) {
            if (p + 1 < R && own_row[p] == SIZE_MAX)
                continue;
            for (size_t c = 0; c < C; c++, ne++) {
                for (size_t ch = 0; ch + 1 < R; ch++) {
                    int under = p + 1 == R
                                    ? t->parents[ch] == NULL
                                    : t->parents[ch] && strcmp(t->parents[ch],
                                                               t->rows[p]) == 0;
                    if (under && id[ch * C + c] != SIZE_MAX)
                        eq[ne][id[ch * C + c]] = 1;
                }
                if (p + 1 < R && id[own_row[p] * C + c] != SIZE_MAX)
                    eq[ne][id[own_row[p] * C + c]] = 1;
                if (id[p * C + c] != SIZE_MAX)
                    eq[ne][id[p * C + c]] = -1;
            }
        }
        CHECK(ne <= 2 * AUD_MAX);
        for (size_t u = 0; u < nu; u++)
            if (determined(eq, ne, nu, u))
                return failf(__FILE__, __LINE__,
                             "round %d (%zu areas, k %d, by %d): hidden "
                             "unknown %zu is determined",
                             round, na, k, by, u);
        checked++;
        hub_ind_free(&r);
        fixture_free(&f);
    }
#undef RND
    CHECK(checked > 100 && hidden > 100);
    return 0;
}

static const unit_case cases[] = {
    {"count with complementary suppression", test_count_complementary},
    {"count cascade through the totals", test_count_cascade},
    {"mean over two waves and the change", test_mean_two_waves},
    {"share with a no-answer category", test_share_missing_category},
    {"share of a select_multiple", test_share_select_multiple},
    {"indicator specs", test_parse},
    {"no submissions", test_empty},
    {"empty cells protect nothing", test_empty_cells_protect_nothing},
    {"a small group in a line", test_small_group_in_a_line},
    {"a cell recovered from several lines", test_joint_recovery},
    {"random tables pass an independent audit", test_random_tables_audit},
    {"a hierarchy with one small child", test_hierarchy_small_child},
    {"random hierarchies pass an independent audit",
     test_random_hierarchy_audit},
};

int main(int argc, char **argv)
{
    return unit_run(cases, sizeof cases / sizeof cases[0], argc, argv);
}
