/*
 * xlsexpr.h - XLSForm expressions (the relevant and constraint columns,
 * a subset of XPath) translated into fieldsync conditions
 * (schema/FORMS.md, section 5), for the XLSForm importer.
 *
 * What translates: comparisons (= != < <= > >=) of `.` or `${name}`
 * with a literal (a number, a 'text', date('YYYY-MM-DD')), of
 * string-length(...) or count-selected(...) with a number; `and`, `or`,
 * not(...), parentheses; selected(ref, 'code') and regex(ref, 'pattern').
 * Everything else - arithmetic, two questions compared with each other,
 * other functions (pulldata, search, today, if, ...) - is refused with
 * the reason, since a fieldsync condition could not mean the same.
 */
#ifndef HUB_XLSEXPR_H
#define HUB_XLSEXPR_H

#include <stddef.h>

#include "fs_form.h"

/* A question an expression names. */
typedef struct hub__xlsexpr_ref {
    const char *name;   /* its fieldsync field name */
    fs_field_type type; /* 0 when it is not a question (a group) */
    /* A likert question's choice names in order: its answers are their
     * positions, from 1, so 'agree' compares as its position. */
    const char *const *codes;
    size_t ncodes;
} hub__xlsexpr_ref;

/* Looks up ${xlsname}: 0 and *out filled, or -1 when no question has
 * that name, -2 when several have, -3 when it is refused itself, -4
 * when it comes after the question the expression belongs to. */
typedef int (*hub__xlsexpr_lookup)(void *ud, const char *xlsname,
                                   hub__xlsexpr_ref *out);

/* Translates expr into a condition; *out is the caller's (cJSON_Delete).
 * self is the constrained field in a constraint (what `.` is), NULL in a
 * relevant. On failure *out is NULL, the reason is in why (for people,
 * naming the part of the expression) and the result FS_EMALFORMED, or
 * FS_ENOMEM. */
int hub__xlsexpr_condition(const char *expr, const hub__xlsexpr_ref *self,
                           hub__xlsexpr_lookup lookup, void *ud, cJSON **out,
                           char *why, size_t whycap);

/* An XLSForm regex (matched anywhere in the text unless anchored with ^
 * and $) as a fieldsync pattern (always anchored): "ab" -> ".*ab.*",
 * "^ab$" -> "ab". Returns a copy the caller frees, NULL when out of
 * memory. */
char *hub__xlsexpr_pattern(const char *regex);

#endif /* HUB_XLSEXPR_H */
