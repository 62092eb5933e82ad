/*
 * xlsx.h - the cells of an .xlsx workbook (Office Open XML spreadsheet),
 * read with libzip and expat for the XLSForm importer (xlsform.h).
 *
 * The workbook is untrusted: an admin may be handed any file. Every size
 * is capped before it is used - the file, the number of zip entries, the
 * declared and the actual uncompressed size of each part read and of all
 * of them together (zip bombs), XML nesting, shared strings, the text of
 * one cell, the cells of one sheet and their row and column numbers.
 * A DOCTYPE is refused outright, so no entity is ever expanded (XML
 * bombs, external entities).
 *
 * Only what a sheet's cells hold is read: values, not styles or
 * formulas (a formula cell gives the value Excel saved with it).
 *
 * Ownership: the workbook borrows the bytes it was opened on until
 * hub__xlsx_free; sheets, names and cell texts are owned by the workbook
 * and live until then too.
 */
#ifndef HUB_XLSX_H
#define HUB_XLSX_H

#include <stddef.h>
#include <stdint.h>

#include "fs_form.h"

typedef struct hub__xlsx_limits {
    size_t file_max;    /* bytes of the .xlsx file */
    size_t entries_max; /* entries of the zip archive */
    size_t part_max;    /* uncompressed bytes of one part read */
    size_t total_max;   /* uncompressed bytes of all the parts read */
    size_t strings_max; /* shared strings */
    size_t cell_max;    /* bytes of one cell's text */
    size_t cells_max;   /* non-empty cells of one sheet */
    uint32_t rows_max;  /* largest row number */
    uint32_t cols_max;  /* largest column number */
    int depth_max;      /* XML element nesting */
} hub__xlsx_limits;

/* 16 MiB file, 1000 entries, 32 MiB a part, 64 MiB in all, 200000
 * shared strings, 32 KiB a cell (Excel's own limit is 32767
 * characters), 250000 cells a sheet, Excel's 1048576 rows and 16384
 * columns (XFD), nesting 32. */
void hub__xlsx_limits_default(hub__xlsx_limits *lim);

/* Cell texts are trimmed of the white space around them, as XLSForm
 * reads them; a cell left empty is not a cell. */
typedef struct hub__xlsx_cell {
    uint32_t row, col; /* from 1 */
    const char *text;  /* UTF-8, never empty */
} hub__xlsx_cell;

typedef struct hub__xlsx_sheet {
    const char *name;
    const hub__xlsx_cell *cells; /* by row, then column */
    size_t n;
} hub__xlsx_sheet;

typedef struct hub__xlsx hub__xlsx;

/* Opens the workbook in data[0..len) and reads its list of sheets. On
 * failure the reason goes to p (where: "" for the file as a whole) and
 * *out is NULL. FS_OK, FS_EMALFORMED (not an .xlsx, broken zip or XML),
 * FS_ETOOBIG (a limit), FS_ENOMEM. lim may be NULL for the defaults. */
int hub__xlsx_open(const void *data, size_t len, const hub__xlsx_limits *lim,
                   hub__xlsx **out, fs_problems *p);
void hub__xlsx_free(hub__xlsx *x);

size_t hub__xlsx_sheet_count(const hub__xlsx *x);
const char *hub__xlsx_sheet_name(const hub__xlsx *x, size_t i);
/* The sheet named name, compared case-insensitively (ASCII), or -1. */
int hub__xlsx_find_sheet(const hub__xlsx *x, const char *name);

/* Reads sheet i (once; later calls return the same). The reason of a
 * failure goes to p, where naming the sheet or the cell ("survey!B7").
 * Same codes as hub__xlsx_open. */
int hub__xlsx_read_sheet(hub__xlsx *x, size_t i, const hub__xlsx_sheet **out,
                         fs_problems *p);

/* The text at row, col, or NULL for an empty cell. */
const char *hub__xlsx_text(const hub__xlsx_sheet *s, uint32_t row,
                           uint32_t col);

/* "AB12". out holds at least 16 bytes. */
void hub__xlsx_ref(uint32_t row, uint32_t col, char *out, size_t cap);

#endif /* HUB_XLSX_H */
