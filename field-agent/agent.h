/*
 * agent.h - the fieldsync field agent: a local SQLite store with a
 * transactional outbox, and the sync client that sends the outbox to a
 * hub and pulls what the hub has for this device. The header of the
 * agent library for this tree's own front-ends (the command, the form
 * app, the tests): include/fieldsync.h, which it includes, is the stable
 * API the shared library exports; what this file adds on top (cJSON
 * documents, the terminal and web front-ends) is not exported from
 * libfieldsync-agent.so and may change with the tree.
 *
 * Functions return FA_OK or a negative FA_E* code; on failure the agent's
 * last message (fa_last_error) says what happened and what to do.
 *
 * The library returns data and prints nothing: what the device holds
 * comes back as cJSON documents (the caller's, cJSON_Delete), which the
 * command line (main.c, render.c) turns into text or prints with --json
 * and the form app (webapi.c) sends as JSON. The terminal fill and serve
 * are front-ends themselves and talk to their streams.
 */
#ifndef FA_AGENT_H
#define FA_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* The embeddable part: handles, open, enroll, record, sync, with their
 * stability, ownership and thread rules. */
#include "fieldsync.h"

/* The device's status: an object with hub, device_id, device_name,
 * enrolled, submissions, pending, refused, needs_attention, forms,
 * entity_conflicts, entity_refused, acked_seq, last_sync_ms,
 * last_sync_outcome and quotas [{wave, area, form, stratum, target,
 * recorded}] - in this order, what `status --json` prints (README) -
 * then the submissions behind two of the counts: attention_items [{id,
 * form, review_state, review_comment}] (reviewed as has_issues or
 * rejected) and refused_items [{id, form, hub_message}], oldest first.
 * *out is the caller's. */
int fa_status(fa_agent *ag, cJSON **out);
/* The forms on the device, [{id, version, title}] by id and version,
 * titles in lang (NULL: each form's default language; a missing
 * translation falls back to it). *out is the caller's. */
int fa_forms(fa_agent *ag, const char *lang, cJSON **out);

/* The drafts on the device, most recently saved first, at most max (0:
 * all): [{id, form, version, title (in lang, else the form id), area,
 * updated_ms, amendment, answers (how many)}]. *out is the caller's. */
int fa_drafts(fa_agent *ag, const char *lang, size_t max, cJSON **out);
/* A draft or else the newest revision of a submission: {id, form,
 * version, title, area, state ("draft" or the submission's), rev (the
 * revision, or for a draft the one it amends), hub_status, hub_message,
 * review_state, review_comment, answers [{name, label, value, text}]}, in
 * the form's order with labels and text in lang. FA_EINPUT when there is
 * neither. *out is the caller's. */
int fa_show(fa_agent *ag, const char *id, const char *lang, cJSON **out);

/* The shared registry (schema/ENTITIES.md), all offline. Assignments are
 * "field=value" strings typed by the field ("" clears a field). Every
 * problem is listed at once in the last error, one per line. */
int fa_entity_new(fa_agent *ag, const char *type, int argc, char **argv,
                  char *id_out /* 37 bytes, may be NULL */);
int fa_entity_set(fa_agent *ag, const char *id, int argc, char **argv);
int fa_entity_delete(fa_agent *ag, const char *id);
/* Entities of type (not deleted), in area when not NULL, by area and id:
 * [{id, type, area, deleted, fields: {name: {value, version, pending}}}]
 * (what `entity list --json` prints). *out is the caller's. */
int fa_entity_list(fa_agent *ag, const char *type, const char *area,
                   cJSON **out);
/* One entity as in fa_entity_list, with changes [{op, state, hub_status,
 * hub_error, hub_message}]: edits not sent yet and the hub's answers.
 * FA_EINPUT when there is no such entity. *out is the caller's. */
int fa_entity_show(fa_agent *ag, const char *id, cJSON **out);

/* ---- front-ends: these talk to their streams themselves ---- */

/* Interactive fill in a terminal (or from piped lines): one question at a
 * time, every answer saved to a draft as it is given. lang may be NULL
 * (the form's default language); area may be NULL (asked when the form
 * needs one). */
int fa_fill(fa_agent *ag, const char *form_id, const char *lang,
            const char *area, FILE *in, FILE *out);
/* Continues a draft where it stopped. */
int fa_resume(fa_agent *ag, const char *draft_id, const char *lang, FILE *in,
              FILE *out);
/* Opens a finalized submission as a draft of its next revision; on
 * finalize it is sent with base_rev = the revision it amends. */
int fa_amend(fa_agent *ag, const char *submission_id, const char *lang,
             FILE *in, FILE *out);

typedef struct fa_serve_options {
    const char *listen;    /* IPv4 HOST:PORT; port 0: the system chooses */
    int auto_sync_s;       /* sync in the background this often; 0: off */
    const char *port_file; /* when set, the port is written there */
} fa_serve_options;

/* Serves the web form app for the agent in dir until SIGINT or SIGTERM
 * (serve.c). Prints the one-time sign-in address on stdout. */
int fa_serve(const char *dir, const fa_serve_options *o);

#define FA_ATTACH_MAX 16 /* --attach options per record */
/* fa_record with files: each attach[i] is FIELD=PATH for an image, audio
 * or file field; the file is stored on the device (attach.h) before the
 * submission commits. */
int fa__record_files(fa_agent *ag, const char *form_id, int64_t version,
                     const char *area, const char *answers_json,
                     const char *const *attach, size_t nattach, char *id_out);

#endif
