/*
 * indicators.h - the indicator engine of the mapping dataset
 * (schema/INDICATORS.md is the normative description): a pure function
 * from submissions (area, wave, answers) to tables per wave of areas x
 * categories with their totals, small-cell and complementary suppression
 * and unreliable-base flags; and the change of each cell between two
 * waves. No database, no I/O: the hub feeds it rows, tests feed it
 * fixtures.
 *
 * Ownership: a result owns every string and cell in it until
 * hub_ind_free; records and their answers are borrowed for the call.
 */
#ifndef HUB_INDICATORS_H
#define HUB_INDICATORS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "suppress.h"

typedef enum hub_ind_kind {
    HUB_IND_COUNT = 1, /* submissions */
    HUB_IND_MEAN,      /* mean of a likert, integer or decimal field */
    HUB_IND_SHARE,     /* share answering one of a set of choices */
} hub_ind_kind;

#define HUB_IND_NAME_MAX 64
#define HUB_IND_SET_MAX 16

typedef struct hub_ind_spec {
    hub_ind_kind kind;
    char field[HUB_IND_NAME_MAX + 1]; /* mean, share */
    size_t nset;                      /* share: the choice codes counted */
    char set[HUB_IND_SET_MAX][HUB_IND_NAME_MAX + 1];
} hub_ind_spec;

/* Parses "count", "mean:FIELD" or "share:FIELD=CODE|CODE..." (',' may
 * separate the codes too). 0, or -1 with a reason in err. Does not know
 * the form: the caller checks the field exists with a fitting type. */
int hub_ind_parse(const char *text, hub_ind_spec *out, char *err, size_t cap);
/* The spec back as text ("share:tension_seen=often|sometimes"). */
void hub_ind_format(const hub_ind_spec *spec, char *out, size_t cap);

/* One area of a hierarchy (province > district > ward > village ...):
 * records of an area also count in every area above it. */
typedef struct hub_ind_area {
    const char *code;
    const char *parent; /* NULL or "": at the top (under "*") */
} hub_ind_area;

typedef struct hub_ind_options {
    const char *by;          /* categorical field to disaggregate by, or
                              NULL: one column (all) */
    const char *const *cats; /* preferred order of categories (the form's
                              choices), may be NULL */
    size_t ncats;
    int k;                     /* cells with n < k are hidden; >= 1 */
    int unreliable_below;      /* bases under this are flagged; e.g. 25 */
    const hub_ind_area *areas; /* the hierarchy, or NULL: every area at
                                  the top. An area of a record that is
                                  not listed is at the top. Borrowed. */
    size_t nareas;
} hub_ind_options;

typedef struct hub_ind_record {
    const char *area;
    const char *wave;
    const cJSON *answers; /* object of field name -> value */
} hub_ind_record;

/* Why a cell is hidden: HUB_SUPP_* of suppress.h. */

typedef struct hub_ind_cell {
    int64_t n;      /* the base: submissions (count) or answers to the
                       field (mean, share) */
    double value;   /* count, mean, or share in 0..1; 0 when n is 0 */
    int supp;       /* HUB_SUPP_* */
    int unreliable; /* shown, and n < unreliable_below */
} hub_ind_cell;

/* One wave: rows are areas sorted by code then "*" (all areas), columns
 * the categories then "*" (all); "" is the column of submissions that
 * did not answer the by field. With a hierarchy, the rows hold every
 * area with records in it or below it, each counting everything below
 * it; suppression holds across all levels at once (a parent minus its
 * shown children never reveals a hidden child). */
typedef struct hub_ind_table {
    char *wave;
    size_t nrows, ncols;
    char **rows, **cols;
    char **parents;      /* per row: the parent area's code, or NULL at the
                       top and for "*" */
    int *depth;          /* per row: 0 at the top, 1 below it, ...; -1 for
                       "*" */
    hub_ind_cell *cells; /* row-major, nrows x ncols */
} hub_ind_table;

typedef struct hub_ind_result {
    size_t ntables; /* one per wave, in the order waves first appear */
    hub_ind_table *tables;
} hub_ind_result;

/* Computes the tables. 0, or -1 when out of memory (out is then empty).
 * The result is the caller's: hub_ind_free. */
int hub_ind_compute(const hub_ind_spec *spec, const hub_ind_options *opt,
                    const hub_ind_record *recs, size_t n, hub_ind_result *out);
/* The same, where record i stands for weights[i] submissions with its
 * answers (a cell of the aggregates); weights NULL: one each. */
int hub_ind_compute_weighted(const hub_ind_spec *spec,
                             const hub_ind_options *opt,
                             const hub_ind_record *recs, const int64_t *weights,
                             size_t n, hub_ind_result *out);
void hub_ind_free(hub_ind_result *r);

/* The table of wave, or NULL. */
const hub_ind_table *hub_ind_table_of(const hub_ind_result *r,
                                      const char *wave);
/* The cell of area (or "*") and category (or "*", or "" for no answer),
 * or NULL when the table has no such row or column. */
const hub_ind_cell *hub_ind_cell_at(const hub_ind_table *t, const char *area,
                                    const char *cat);

/* Flat rows, one per cell: wave, area, category, n, value, status
 * ("ok" or "suppressed"), reason (null, "small_cell" or
 * "complementary"), unreliable. Hidden cells have n and value null. */
cJSON *hub_ind_rows(const hub_ind_table *t);
/* Flat rows, one per area x category in either table: both bases and
 * values (null where hidden or absent) and change = to - from, null
 * with change_status "suppressed" or "missing" unless both are shown. */
cJSON *hub_ind_change_rows(const hub_ind_table *from, const hub_ind_table *to);

extern const char *const hub_ind_cols[];
extern const char *const hub_ind_change_cols[];

#endif
