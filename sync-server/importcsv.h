/*
 * importcsv.h - `fieldsync-hub import csv`: rows collected with another
 * tool (an ODK Central or KoboToolbox CSV export, a spreadsheet) brought
 * in as submissions of a published form, in a given wave, with where
 * each came from (README.md, "Bringing in an earlier round").
 */
#ifndef HUB_IMPORTCSV_H
#define HUB_IMPORTCSV_H

#include <stdio.h>

typedef struct hub_import_req {
    const char *form;        /* form id; its newest version is used */
    const char *wave;        /* an existing wave */
    const char *file;        /* the CSV file */
    const char *date_format; /* e.g. DD/MM/YYYY, or NULL: ISO dates only */
    const char *key;         /* column naming each row, or NULL: file+row */
    const char *const *maps; /* "COLUMN=FIELD", "COLUMN=@area", "COLUMN=" */
    int nmaps;
    int dry_run;  /* check everything, write nothing */
    int progress; /* a line to stderr every 1000 rows (also on a TTY) */
} hub_import_req;

/* Imports the file whole or not at all; prints the refused rows (every
 * one, by row and column) to stderr and a summary to out. Exit status:
 * 0, 2 when the file or a row is refused (nothing written), 1 when the
 * hub failed. */
int hub_import_csv(const char *db_path, const hub_import_req *req, FILE *out);

/* The ISO date (YYYY-MM-DD) of s written as fmt says (D, DD, M, MM, YY,
 * YYYY and separators; two-digit years 69-99 are 1969-1999, 00-68 are
 * 2000-2068); 0, or -1 when s does not fit fmt or is no date. */
int hub__import_date(const char *fmt, const char *s, char out[11]);

#endif
