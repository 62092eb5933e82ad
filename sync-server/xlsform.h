/*
 * xlsform.h - XLSForm (.xlsx) to fieldsync form definition
 * (schema/FORMS.md; the mapping is its section "XLSForm").
 *
 * Reads the survey, choices and settings sheets (xlsx.h does the file)
 * and builds the definition that fs_form_parse accepts with
 * FS_FORM_STRICT. What a fieldsync form cannot carry - calculations,
 * repeats, external data, media, unknown types or columns - is refused,
 * never dropped: every problem is listed at once as "sheet!cell" and the
 * reason ("survey!A7: type 'calculate' is not supported: ...").
 */
#ifndef HUB_XLSFORM_H
#define HUB_XLSFORM_H

#include <stddef.h>

#include "fs_form.h"
#include "xlsx.h"

/* The problems of one workbook, in reading order (the workbook, then
 * the survey, choices and settings sheets, by row and column). Bounded:
 * past HUB_XLSFORM_PROBLEMS_MAX they are only counted in dropped. */
#define HUB_XLSFORM_PROBLEMS_MAX 1000

typedef struct hub__xlsform_problem {
    char where[64]; /* "survey!B7", "settings", "workbook" */
    char msg[256];  /* what and why */
} hub__xlsform_problem;

typedef struct hub__xlsform_problems {
    hub__xlsform_problem *items; /* owned */
    size_t n, cap, dropped;
} hub__xlsform_problems;

void hub__xlsform_problems_free(hub__xlsform_problems *p);

/* Converts the workbook data[0..len). fallback_id is the form id when
 * the settings sheet has no form_id (hub__xlsform_id_from_path), or
 * NULL. lim: NULL for the defaults. On success *out is the definition
 * (the caller's: cJSON_Delete), already checked with fs_form_parse
 * strict. Else *out is NULL and every problem is in p (zeroed by the
 * caller; hub__xlsform_problems_free after). FS_OK, FS_EMALFORMED,
 * FS_ETOOBIG (a limit of the file), FS_ENOMEM. */
int hub__xlsform_convert(const void *data, size_t len, const char *fallback_id,
                         const hub__xlsx_limits *lim, cJSON **out,
                         hub__xlsform_problems *p);

/* A form id from a file's name: "Household Survey (v2).xlsx" ->
 * "household_survey_v2". Empty when nothing usable is left. */
void hub__xlsform_id_from_path(const char *path, char *out, size_t cap);

/* 1 when data starts as a zip archive does (an .xlsx is one). */
int hub__xlsform_is_xlsx(const void *data, size_t len);

#endif /* HUB_XLSFORM_H */
