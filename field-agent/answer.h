/*
 * answer.h - one answer at a time (answer.c): the terminal fill, `show`
 * and the web app share these, so they read, check, save and show
 * answers the same way.
 */
#ifndef FA_ANSWER_H
#define FA_ANSWER_H

#include "drafts.h"

/* Reads typed text as a value of fld's type (a choice by its number or
 * code, "today"/"now" for dates, "lat lon [accuracy]" for places). line
 * may be modified. NULL with a reason for people in why when it cannot
 * be read; else a new value, the caller's. */
cJSON *fa__answer_parse(const fs_field *fld, char *line, char *why, size_t cap);

/* An answer as text for people: choice labels in lang, "a, b" for
 * several choices, JSON for the rest. NULL when out of memory; else the
 * caller's (free). */
char *fa__value_text(const fs_field *fld, const cJSON *v, const char *lang);

/* Drops answers whose question no longer applies (skip logic, refused
 * consent). */
void fa__draft_drop_irrelevant(const fs_form *f, fa__draft *d);

/* The question at d->position, first moving past (and forgetting the
 * answers of) questions that do not apply; NULL when none is left. Notes
 * are returned too: they are shown, never answered. */
const fs_field *fa__draft_current(const fs_form *f, fa__draft *d);

/* The position of the nearest earlier question that applies, -1 at the
 * first one. */
int64_t fa__draft_previous(const fs_form *f, const fa__draft *d);

/* Answers the current question with value (taken; NULL: no answer, or
 * "seen" for a note), checked by fs_answer_check; on success moves to the
 * next position, drops answers that no longer apply and saves the draft
 * (one durable transaction). FA_EINPUT with the reasons in p when the
 * value is refused: the draft is then unchanged. */
int fa__draft_answer(fa_agent *ag, fa__draft *d, const fs_form *f, cJSON *value,
                     fs_problems *p);

/* The position of the first field named in p, -1 when none is. */
int64_t fa__first_problem(const fs_form *f, const fs_problems *p);

#endif
