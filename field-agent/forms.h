/*
 * forms.h - the forms on the device (forms.c), as pulled from the hub.
 */
#ifndef FA_FORMS_H
#define FA_FORMS_H

#include "agent_int.h"
#include "fs_form.h"

/* Loads (id, version) - or the newest version when *version is 0 - of a
 * form on the device; *out is the caller's (fs_form_free). */
int fa__form_load(fa_agent *ag, const char *form_id, int64_t *version,
                  fs_form **out);

#endif
