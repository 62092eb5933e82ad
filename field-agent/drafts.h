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

/* Loads (id, version) - or the newest version when *version is 0 - of a
 * form on the device; *out is the caller's (fs_form_free). */
int fa__form_load(fa_agent *ag, const char *form_id, int64_t *version,
                  fs_form **out);

/* Stores a finalized submission (revision base_rev + 1) and its outbox
 * row in the caller's transaction. answers_json is canonical JSON. */
int fa__store_submission(fa_agent *ag, const char *id, int64_t base_rev,
                         const char *form_id, int64_t version,
                         const char *area, const char *answers_json);

/* Validates d against f and, when valid, stores it as a submission and
 * deletes the draft in one transaction. On FA_EINPUT p holds every
 * problem. */
int fa__draft_finalize(fa_agent *ag, const fa__draft *d, const fs_form *f,
                       fs_problems *p);

#endif
