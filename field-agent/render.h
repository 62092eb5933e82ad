/*
 * render.h - the command line's text: the documents the agent library
 * returns (agent.h) as the lines `fieldsync-agent` prints, and sync
 * progress on a terminal. Part of the command, not of the library; the
 * form app renders the same documents as JSON (webapi.c).
 *
 * Every function takes the document borrowed and writes to out.
 */
#ifndef FA_RENDER_H
#define FA_RENDER_H

#include <stdio.h>

#include "agent.h"

/* doc as indented JSON and a newline (the --json options); fallback when
 * it cannot be printed. */
void render_json(FILE *out, const cJSON *doc, const char *fallback);

/* fa_status: `status`; with json, `status --json` (the documented
 * members, without the submission lists behind the counts). */
void render_status(FILE *out, const cJSON *status, int json);
/* fa_forms: `forms`. */
void render_forms(FILE *out, const cJSON *forms);
/* fa_drafts: `drafts`. */
void render_drafts(FILE *out, const cJSON *drafts);
/* fa_show: `show`. */
void render_show(FILE *out, const cJSON *record);
/* fa_entity_list of type, in area (may be NULL): `entity list`. */
void render_entity_list(FILE *out, const cJSON *list, const char *type,
                        const char *area);
/* fa_entity_show: `entity show`. */
void render_entity_show(FILE *out, const cJSON *entity);

/* An fa_sync_options.on_progress that draws progress on a terminal; arg
 * is the FILE * (stderr). */
void render_progress(void *arg, const char *phase, long long done,
                     long long total);

#endif
