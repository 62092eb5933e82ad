/*
 * drafts.h - drafts on the device (drafts.c): creating, loading and
 * saving one, opening a submission again as a draft of its next
 * revision, and finalizing one into a submission and its outbox row.
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
    int sealed_dropped; /* an amendment whose sealed answers the device
                           cannot read: they are asked again */
} fa__draft;

/* Creates and saves a draft in d (zeroed first; the caller's to
 * fa__draft_clear, also after a failure). id: the submission id (NULL: a
 * new UUIDv7, written to d->id); answers_json: starting answers (NULL:
 * none). FA_EINPUT when a draft of that id exists. */
int fa__draft_create(fa_agent *ag, fa__draft *d, const char *id,
                     const char *form_id, int64_t version, const char *area,
                     int64_t base_rev, const char *answers_json);
/* Loads draft id into d (zeroed first; the caller's to fa__draft_clear,
 * also after a failure). FA_EINPUT when there is no such draft. */
int fa__draft_load(fa_agent *ag, const char *id, fa__draft *d);
/* Saves answers, position and area: one durable transaction. */
int fa__draft_save(fa_agent *ag, const fa__draft *d);
/* Frees what d holds. */
void fa__draft_clear(fa__draft *d);

/* Drafts of forms with "sealed_drafts": "memory" live in ag only (see
 * drafts.c): create, load, save and finalize find them there. 1 when
 * draft id is one of them. */
int fa__draft_in_memory(fa_agent *ag, const char *id);
/* Frees them (fa_close). */
void fa__drafts_free(fa_agent *ag);

/* Opens the newest revision of submission id as a draft of its next
 * revision (same id, base_rev = that revision), answers kept; d as for
 * fa__draft_create. FA_EINPUT when there is no such submission or a
 * draft of it exists. */
int fa__draft_amend(fa_agent *ag, const char *id, fa__draft *d);

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

#endif
