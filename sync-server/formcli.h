/*
 * formcli.h - the form commands that meet the ODK ecosystem:
 *
 *   fieldsync-hub form import FILE.xlsx [-o FILE.json]
 *   fieldsync-hub form publish FILE.xlsx
 *   fieldsync-hub form xform --form ID [--version N] [-o FILE.xml]
 *
 * Like the other admin commands, each returns 0 on success and a
 * non-zero exit status after printing what went wrong, and what to do,
 * to stderr (2: bad input, nothing changed).
 */
#ifndef HUB_FORMCLI_H
#define HUB_FORMCLI_H

#include <stdio.h>

/* 1 when file is to be read as an XLSForm workbook: its name ends in
 * .xlsx, or it starts as a zip archive does. */
int hub_form_is_xlsx(const char *file);

/* Converts an XLSForm into a fieldsync form definition, written as JSON
 * to out_path ("-" or NULL: out). Every problem is printed as
 * "FILE: sheet!cell: what and why". */
int hub_form_import(const char *file, const char *out_path, FILE *out);

/* Converts an XLSForm and publishes the definition, under the same
 * version rules as a JSON definition (hub_form_publish). */
int hub_form_publish_xlsx(const char *db_path, const char *file, FILE *out);

/* Writes the XForm of a published form (version: NULL for the newest)
 * to out_path ("-" or NULL: out). */
int hub_form_xform(const char *db_path, const char *form, const char *version,
                   const char *out_path, FILE *out);

#endif /* HUB_FORMCLI_H */
