/*
 * fs_form.h - form definitions and answer validation, shared by the agent
 * (when recording) and the hub (when publishing and merging), so the two
 * sides can never disagree on what a valid submission is.
 *
 * schema/FORMS.md is the normative description of the format; this header
 * is its C face. Part of the fsprotocol library.
 *
 * Problems are collected, not returned one at a time: a definition or a
 * set of answers is checked completely and every problem lands in an
 * fs_problems list, each with where it is (a JSON path such as
 * "$.fields[3].choices" for definitions, a field name for answers) and a
 * reason for people.
 *
 * Ownership: an fs_form owns its parsed definition; fs_field pointers and
 * every string the accessors return are borrowed from the form and live
 * until fs_form_free. Answers are always borrowed from the caller.
 */
#ifndef FS_FORM_H
#define FS_FORM_H

#include <stddef.h>
#include <stdint.h>

#include "fs_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- problem lists --------------------------------------------------- */

#define FS_PROBLEMS_MAX 64
#define FS_PROBLEM_WHERE_MAX 96
#define FS_PROBLEM_MSG_MAX 160

typedef struct fs_problem {
    char where[FS_PROBLEM_WHERE_MAX]; /* "$.fields[2].type" or "age_band" */
    char msg[FS_PROBLEM_MSG_MAX];     /* the reason, for people */
} fs_problem;

/* A bounded list: problems past FS_PROBLEMS_MAX are counted in dropped.
 * About 16 KiB; fine on a stack. */
typedef struct fs_problems {
    size_t n;
    size_t dropped;
    fs_problem items[FS_PROBLEMS_MAX];
} fs_problems;

void fs_problems_init(fs_problems *p);
/* Adds one problem; where and the message are cut to fit (whole UTF-8
 * characters only). p may be NULL (the problem is then only counted by
 * the caller's return code). */
void fs_problems_add(fs_problems *p, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* n + dropped. */
size_t fs_problems_total(const fs_problems *p);
/* Writes "where: msg" for each problem, joined by sep, into out (always
 * NUL-terminated when cap > 0). When they do not all fit, as many as fit
 * are kept and "(+N more)" ends the text. Returns the length written. */
size_t fs_problems_format(const fs_problems *p, const char *sep, char *out,
                          size_t cap);

/* ---- definitions ----------------------------------------------------- */

typedef enum fs_field_type {
    FS_FIELD_TEXT = 1,
    FS_FIELD_INTEGER,
    FS_FIELD_DECIMAL,
    FS_FIELD_SELECT_ONE,
    FS_FIELD_SELECT_MULTIPLE,
    FS_FIELD_LIKERT,
    FS_FIELD_DATE,
    FS_FIELD_DATETIME,
    FS_FIELD_GEOPOINT,
    FS_FIELD_NOTE,  /* display only: never answered */
    FS_FIELD_IMAGE, /* attachments: the answer references a file */
    FS_FIELD_AUDIO,
    FS_FIELD_FILE,
} fs_field_type;

typedef enum fs_form_kind {
    FS_FORM_SURVEY = 1,
    FS_FORM_FOCUS_GROUP,
    FS_FORM_INTERVIEW,
    FS_FORM_OBSERVATION,
} fs_form_kind;

/* Field flags (fs_field_flags). */
enum {
    FS_FIELD_REQUIRED = 1 << 0,  /* must be answered when relevant */
    FS_FIELD_PERSONAL = 1 << 1,  /* identifies a person */
    FS_FIELD_SENSITIVE = 1 << 2, /* quotes, experiences */
    FS_FIELD_METADATA = 1 << 3,  /* kept when consent is refused */
    FS_FIELD_CONSENT = 1 << 4,   /* the form's consent question */
    FS_FIELD_RETIRED = 1 << 5,   /* kept for older versions; never asked */
    FS_FIELD_DEDUPE = 1 << 6,    /* part of the form's dedupe key */
    FS_FIELD_SEALED = 1 << 7,    /* sealed to a steward key on the device */
};

/* Fields the collecting device fills itself instead of asking
 * (FORMS.md, "Filled by the device"). */
typedef enum fs_field_auto {
    FS_AUTO_NONE = 0,
    FS_AUTO_START,    /* datetime: when filling began */
    FS_AUTO_END,      /* datetime: when it was finished */
    FS_AUTO_TODAY,    /* date: the day it was filled */
    FS_AUTO_DEVICEID, /* text: the device's id */
} fs_field_auto;

/* Parse flags. */
enum {
    /* Refuse members the format does not define (typos such as
     * "requried"); "x_" members stay allowed. The hub publishes with it;
     * readers of already published forms parse without it, so that a
     * form from a newer hub still works on an older agent. */
    FS_FORM_STRICT = 1,
};

typedef struct fs_form fs_form;
typedef struct fs_field fs_field;

/* Parses and checks a form definition, JSON text json[0..len), under the
 * library's JSON limits (nesting 32, the usual string and value caps).
 * Every problem goes to p (may be NULL). Returns FS_OK with *out the
 * caller's (fs_form_free); FS_EMALFORMED when the text is not JSON or the
 * definition has problems; FS_ETOOBIG/FS_EUTF8 when the JSON limits are
 * exceeded; FS_ENOMEM. *out is NULL on failure. */
int fs_form_parse(const char *json, size_t len, int flags, fs_form **out,
                  fs_problems *p);
void fs_form_free(fs_form *f);

/* The definition as parsed (borrowed), e.g. to print canonical text. */
const cJSON *fs_form_json(const fs_form *f);
const char *fs_form_id(const fs_form *f);
int64_t fs_form_version(const fs_form *f);
fs_form_kind fs_form_kind_of(const fs_form *f);
const char *fs_form_kind_name(fs_form_kind k);  /* "survey", ... */
const char *fs_form_language(const fs_form *f); /* default language */
/* 1 when every submission must carry an area code. */
int fs_form_area_required(const fs_form *f);
/* Title in lang, else in the default language (lang may be NULL). */
const char *fs_form_title(const fs_form *f, const char *lang);

/* The id of the steward key the form's sealed fields are sealed to, or
 * NULL when no field is sealed (FORMS.md, "Sealed answers"). */
const char *fs_form_seal_key(const fs_form *f);
/* 1 when drafts of the form are kept only in the agent's memory, never
 * in its database ("sealed_drafts": "memory"). */
int fs_form_drafts_in_memory(const fs_form *f);

/* Fields in the order they are asked. */
size_t fs_form_field_count(const fs_form *f);
const fs_field *fs_form_field(const fs_form *f, size_t i);
const fs_field *fs_form_field_named(const fs_form *f, const char *name);
/* The consent field, or NULL when the form has none. */
const fs_field *fs_form_consent_field(const fs_form *f);
/* The date field named by "wave_date" (its answer decides the wave of a
 * submission), or NULL when the form names none. */
const fs_field *fs_form_wave_date_field(const fs_form *f);

const char *fs_field_name(const fs_field *fld);
fs_field_type fs_field_type_of(const fs_field *fld);
const char *fs_field_type_name(fs_field_type t); /* "select_one", ... */
/* 1 for image, audio and file fields, whose answer references a file. */
int fs_field_type_is_attachment(fs_field_type t);
/* Attachment fields: the largest file in bytes (the form's max_bytes or
 * the default); 0 for other fields. */
long fs_field_max_bytes(const fs_field *fld);
/* Image fields: the most pixels (width x height) a stored image has; the
 * agent scales a larger JPEG or PNG down before storing it. 0 when the
 * form sets none, and for other fields. */
long fs_field_max_pixels(const fs_field *fld);
/* Attachment fields: the form's content_types array, NULL when it sets
 * none (the type's defaults) and for other fields. */
const cJSON *fs_field_content_types(const fs_field *fld);
/* Attachment fields: 1 when a file of content type ctype may answer the
 * field (its content_types, or the defaults of its type); else 0. */
int fs_field_type_allowed(const fs_field *fld, const char *ctype);
/* Attachment fields: the type a file whose first n bytes are b has as
 * the answer to fld: what fs_sniff_type says, or for a file field
 * application/octet-stream when it does not know; NULL for an image or
 * audio field when it does not know. The agent labels a file with it and
 * the hub checks the label with it (sniff.c). Static storage. */
const char *fs_field_file_type(const fs_field *fld, const unsigned char *b,
                               size_t n);
unsigned fs_field_flags(const fs_field *fld); /* FS_FIELD_* bits */
/* What the device fills in, or FS_AUTO_NONE for a question. */
fs_field_auto fs_field_auto_of(const fs_field *fld);
const char *fs_field_auto_name(fs_field_auto a); /* "start", ...; NULL */
/* Label in lang, else in the form's default language, else the field
 * name: never NULL. */
const char *fs_field_label(const fs_field *fld, const char *lang);
/* Hint in lang, else in the default language; NULL when there is none. */
const char *fs_field_hint(const fs_field *fld, const char *lang);
/* Choices of select_one and select_multiple fields (0 for others): the
 * code that goes into answers; *label (when not NULL) receives its label
 * in lang with the same fallback as fs_field_label (the code last). */
size_t fs_field_choice_count(const fs_field *fld);
const char *fs_field_choice(const fs_field *fld, size_t i, const char *lang,
                            const char **label);
/* Likert: N of 1..N, and the label of point k (NULL when unlabelled). */
int fs_field_scale(const fs_field *fld);
const char *fs_field_scale_label(const fs_field *fld, int k, const char *lang);

/* Version rules (FORMS.md, "Versions"): new must be the same form with a
 * higher version that keeps every field with its type, every choice, the
 * likert scales, the consent field and the personal/sensitive marks. Every
 * breach goes to p. FS_OK or FS_EMALFORMED. */
int fs_form_check_upgrade(const fs_form *old, const fs_form *newer,
                          fs_problems *p);

/* ---- answers --------------------------------------------------------- */

/* 1 when consent was asked and refused in answers (the form's consent
 * field answered with anything but "yes"), else 0. */
int fs_consent_refused(const fs_form *f, const cJSON *answers);

/* 1 when fld is to be asked given the answers so far: not a note, not
 * filled by the device, not retired, not a non-metadata field after
 * refused consent, and its `relevant` condition holds (conditions on
 * unanswered fields are false). For fill: answers may be partial. */
int fs_field_relevant(const fs_form *f, const fs_field *fld,
                      const cJSON *answers);

/* Checks one value for one field: JSON type, choices, constraints. Does
 * not look at relevance or required (the caller knows whether the field
 * is asked), nor at what depends on other answers (a `constraint`
 * condition, a `choice_filter`): fs_answers_validate does. Problems go
 * to p under the field's name. FS_OK or FS_EINVALID. */
int fs_answer_check(const fs_form *f, const fs_field *fld, const cJSON *value,
                    fs_problems *p);

/* Checks a whole submission: answers (a JSON object of field name ->
 * value) and its area code (NULL or "" for none). Reports every problem:
 * unknown or repeated fields, wrong values, constraints and choice
 * filters not met, required fields missing, irrelevant fields present,
 * answers kept after refused consent, a missing or bad area. FS_OK or
 * FS_EINVALID. */
int fs_answers_validate(const fs_form *f, const cJSON *answers,
                        const char *area, fs_problems *p);

/* The member of answers that carries the sealed fields' answers once
 * sealed (fs_seal.h): not a field name, so it cannot clash with one. */
#define FS_SEALED_MEMBER "_sealed"

/* What only the hub checks: a submission of a form with sealed fields
 * MUST carry them sealed (FS_SEALED_MEMBER), never in plain text, so an
 * older agent that ignores the mark is refused rather than trusted.
 * FS_OK or FS_EINVALID with the problems in p. fs_answers_validate
 * accepts both: the device validates before it seals. */
int fs_answers_check_sealed(const fs_form *f, const cJSON *answers,
                            fs_problems *p);

/* The dedupe key of a valid submission: the form id and the key fields'
 * answers as canonical JSON, joined by '|'. Empty when the form has no
 * dedupe key. FS_OK, or FS_ETOOBIG when it does not fit cap. */
int fs_answers_dedupe_key(const fs_form *f, const cJSON *answers, char *out,
                          size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* FS_FORM_H */
