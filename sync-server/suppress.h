/*
 * suppress.h - which cells of published tables to hide so that no one
 * can single out a person: small cells, and every cell that could be
 * worked out again from what is shown (schema/INDICATORS.md,
 * "Suppression").
 *
 * The tables are given as cells and the linear equations that tie them
 * (a row of cells sums to its total, areas sum to their parent, ...).
 * Whoever reads the output knows every shown cell and every equation;
 * what they can work out of the hidden cells is what those equations
 * determine. A pure function: no database, no I/O.
 *
 * Ownership: the caller owns every array; hub_supp_solve writes only
 * the cells' supp fields.
 */
#ifndef HUB_SUPPRESS_H
#define HUB_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>

/* Why a cell is hidden (the values of hub_ind_cell's supp too). */
enum { HUB_SUPP_NONE = 0, HUB_SUPP_SMALL, HUB_SUPP_COMPLEMENT };

typedef struct hub_supp_cell {
    int64_t n;   /* the base: how many people the cell holds */
    int publish; /* 1: a cell of the output; 0: a part of some equation
                    that is never shown (e.g. records of a parent area
                    itself), hidden by nature */
    int rank;    /* among shown cells of equal n, the lower rank is
                    hidden first as a complement (inner cells before
                    totals, children before parents) */
    int supp;    /* in: HUB_SUPP_NONE; out: HUB_SUPP_* */
} hub_supp_cell;

/* One member of an equation: coef x cells[cell]. */
typedef struct hub_supp_term {
    size_t cell;
    int coef; /* +1 or -1 */
} hub_supp_term;

/* Equation e is sum of terms[eq_start[e] .. eq_start[e + 1]) = 0, e.g.
 * a row of cells with +1 and its total with -1. */
typedef struct hub_supp_system {
    hub_supp_cell *cells;
    size_t ncells;
    const hub_supp_term *terms;
    const size_t *eq_start; /* neqs + 1 offsets into terms */
    size_t neqs;
} hub_supp_system;

/* Hides, with k >= 1:
 *  1. every shown cell whose n is below k (HUB_SUPP_SMALL), empty cells
 *     included;
 *  2. complements (HUB_SUPP_COMPLEMENT), until no equation reveals a
 *     group of fewer than k people or a lone hidden cell (the hidden
 *     members of an equation that are not empty, when they add up with
 *     one sign, must be two or more and hold k people or more), and no
 *     hidden cell that is not empty is determined by all the equations
 *     together (solved exactly over the hidden cells). Empty hidden
 *     cells (n = 0) never count as protection: they are treated as
 *     known. A complement is the shown, non-empty cell of smallest n
 *     (then rank, then index) in an equation of the exposed cell.
 * The same pattern protects a cell's value (mean or share), since n x
 * value obeys the same equations. Returns 0, or -1 out of memory (the
 * cells are then all marked hidden: fail closed). */
int hub_supp_solve(hub_supp_system *sys, int k);

#endif
