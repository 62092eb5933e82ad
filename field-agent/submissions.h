/*
 * submissions.h - submissions read back for the form app's lists
 * (submissions.c; the lists of the commands are in agent.h).
 */
#ifndef FA_SUBMISSIONS_H
#define FA_SUBMISSIONS_H

#include "agent_int.h"

/* The newest revision of each submission, newest first, at most max (0:
 * all), only those the hub refused when refused_only: [{id, form, title
 * (in lang, else the form id), area, created_ms, rev, state, hub_status,
 * hub_error, hub_message, review_state, review_comment, waiting (not
 * acknowledged yet)}]. *out is the caller's. */
int fa__submission_list(fa_agent *ag, const char *lang, int refused_only,
                        size_t max, cJSON **out);

#endif
