/*
 * drafts.h - drafts on the device and turning one into a submission.
 */
#ifndef FA_DRAFTS_H
#define FA_DRAFTS_H

#include "agent_int.h"
#include "fs_form.h"

typedef struct fa__draft {
    char id[FS_UUID_LEN + 1];
    char form_id[FS_ID_MAX + 1];
    int64_t form_version;
    char area[FS_ID_MAX + 1];
    cJSON *answers; /* owned */
    int64_t position;
    int64_t base_rev;
} fa__draft;

/* Creates a draft. id: the submission id (NULL: a new UUIDv7, written to
 * d->id); answers_json: starting answers (NULL: none). */
int fa__draft_create(fa_agent *ag, fa__draft *d, const char *id,
                     const char *form_id, int64_t version, const char *area,
                     int64_t base_rev, const char *answers_json);
int fa__draft_load(fa_agent *ag, const char *id, fa__draft *d);
/* Saves answers, position and area: one durable transaction. */
int fa__draft_save(fa_agent *ag, const fa__draft *d);
void fa__draft_clear(fa__draft *d);

/* Opens the newest revision of submission id as a draft of its next
 * revision (same id, base_rev = that revision), answers kept (fill.c).
 * FA_EINPUT when there is no such submission or a draft of it exists. */
int fa__draft_amend(fa_agent *ag, const char *id, fa__draft *d);

/* Loads (id, version) - or the newest version when *version is 0 - of a
 * form on the device; *out is the caller's (fs_form_free). */
int fa__form_load(fa_agent *ag, const char *form_id, int64_t *version,
                  fs_form **out);

/* Stores a finalized submission (revision base_rev + 1) and its outbox
 * row in the caller's transaction. answers_json is canonical JSON. */
int fa__store_submission(fa_agent *ag, const char *id, int64_t base_rev,
                         const char *form_id, int64_t version, const char *area,
                         const char *answers_json);

/* Validates d against f and, when valid, stores it as a submission and
 * deletes the draft in one transaction. On FA_EINPUT p holds every
 * problem. */
int fa__draft_finalize(fa_agent *ag, const fa__draft *d, const fs_form *f,
                       fs_problems *p);

/* The newest revision of each submission, newest first, at most max (0:
 * all), only those the hub refused when refused_only: [{id, form, title
 * (in lang, else the form id), area, created_ms, rev, state, hub_status,
 * hub_error, hub_message, review_state, review_comment, waiting (not
 * acknowledged yet)}] (submissions.c). *out is the caller's. */
int fa__submission_list(fa_agent *ag, const char *lang, int refused_only,
                        size_t max, cJSON **out);

/* ---- one answer at a time (answer.c): the terminal fill and the web app
 * share these, so both read, check and save answers the same way. ---- */

/* Reads typed text as a value of fld's type (a choice by its number or
 * code, "today"/"now" for dates, "lat lon [accuracy]" for places). line
 * may be modified. NULL with a reason for people in why when it cannot
 * be read; else a new value, the caller's. */
cJSON *fa__answer_parse(const fs_field *fld, char *line, char *why, size_t cap);

/* An answer as text for people: choice labels in lang, "a, b" for
 * several choices, JSON for the rest. NULL when out of memory; else the
 * caller's (free). */
char *fa__value_text(const fs_field *fld, const cJSON *v, const char *lang);

/* FA_OK when area is an area code this device records for; FA_EINPUT
 * with the reason as the agent's message otherwise. */
int fa__area_check(fa_agent *ag, const char *area);

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
