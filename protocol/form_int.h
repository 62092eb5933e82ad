/*
 * form_int.h - what form.c (definitions) and validate.c (answers) share;
 * internal to the protocol library. Non-static symbols carry fs__.
 */
#ifndef FS_FORM_INT_H
#define FS_FORM_INT_H

#include <stdarg.h>
#include <stdint.h>

#include "fs_form.h"
#include "fs_internal.h"

/* Limits on definitions (FORMS.md, "Limits"). */
#define FS__FORM_FIELDS_MAX 500   /* = max answers per submission */
#define FS__FORM_CHOICES_MAX 1000 /* per list */
#define FS__FORM_LISTS_MAX 100    /* reusable choice lists */
#define FS__FORM_TEXT_MAX 2000    /* bytes of one label, hint, title */
#define FS__FORM_LANGS_MAX 16     /* languages of one text */
#define FS__FORM_SCALE_MAX 11     /* likert points */
#define FS__FORM_DEDUPE_MAX 8     /* fields of a dedupe key */
#define FS__COND_DEPTH_MAX 4      /* nesting of all/any */
#define FS__COND_TERMS_MAX 32     /* comparisons in one condition */
#define FS__COND_IN_MAX 64        /* values of one "in" */
#define FS__PATTERN_SRC_MAX 256   /* bytes of a pattern */
#define FS__PATTERN_ATOMS_MAX 64
#define FS__PATTERN_REPEAT_MAX 1000          /* largest {m,n} bound */
#define FS__TEXT_LENGTH_MAX 65536            /* largest min_length/max_length */
#define FS__ATTACH_BYTES_MAX (256L << 20)    /* largest max_bytes */
#define FS__ATTACH_BYTES_DEFAULT (16L << 20) /* max_bytes when unset */
#define FS__ATTACH_TYPES_MAX 16              /* content_types entries */
#define FS__IMAGE_PIXELS_MIN 10000L          /* smallest max_pixels (100x100) */
#define FS__IMAGE_PIXELS_MAX 100000000L      /* largest max_pixels (100 MP) */
#define FS__FORM_SECTIONS_MAX 100            /* sections of one form */
#define FS__FILTER_KEYS_MAX 8                /* keys of one choice's filter */

typedef struct fs__choice {
    const char *value;   /* the code stored in answers */
    const cJSON *label;  /* text node, or NULL: the code is its label */
    const cJSON *filter; /* object of key -> code, or NULL */
} fs__choice;

/* A titled part of a form (FORMS.md, "Sections"). */
typedef struct fs__section {
    const char *name;
    const cJSON *label; /* or NULL */
    int within;         /* index of the enclosing section, or -1 */
} fs__section;

typedef struct fs__choice_list {
    const char *name;
    fs__choice *items; /* owned */
    size_t n;
} fs__choice_list;

/* One pattern element: a set of code points, repeated min..max times.
 * ASCII code points are a bitmap; all others match when nonascii. */
typedef struct fs__atom {
    uint8_t set[16];
    uint8_t nonascii;
    uint32_t min, max; /* max == UINT32_MAX: unbounded */
} fs__atom;

typedef struct fs__pattern {
    size_t n;
    fs__atom atoms[FS__PATTERN_ATOMS_MAX];
} fs__pattern;

struct fs_field {
    const fs_form *form;
    size_t index;
    const char *name;
    fs_field_type type;
    unsigned flags;
    const cJSON *label, *hint, *relevant, *scale_labels; /* or NULL */
    const fs__choice *choices; /* borrowed from a list or owned */
    size_t nchoices;
    int owns_choices;
    int scale;            /* likert N */
    int has_min, has_max; /* numbers: value; date: days; datetime: s */
    double min, max;
    long min_length, max_length; /* code points; -1 when unset */
    long min_count, max_count;   /* select_multiple; -1 when unset */
    fs__pattern *pattern;        /* owned, or NULL */
    int section;                 /* index into the form's sections, or -1 */
    fs_field_auto autofill;      /* FS_AUTO_NONE for asked fields */
    const cJSON *constraint, *constraint_message; /* or NULL */
    const fs_field *filter_field; /* choice_filter: the earlier field */
    long max_bytes;               /* attachments; 0 for other fields */
    const cJSON *content_types;   /* attachments: array, or NULL */
    long max_pixels;              /* images: 0 when unset */
    const char *filter_key;       /* and the key of the choices' filter */
};

struct fs_form {
    cJSON *doc; /* owned; the strings below point into it */
    const char *id;
    int64_t version;
    fs_form_kind kind;
    const char *lang;
    int area_required;
    const cJSON *title;
    fs_field *fields; /* owned array of nfields */
    size_t nfields;
    fs__choice_list *lists; /* owned array of nlists */
    size_t nlists;
    fs__section *sections; /* owned array of nsections */
    size_t nsections;
    const fs_field *consent;
    const fs_field *wave_date;          /* "wave_date", or NULL */
    size_t dedupe[FS__FORM_DEDUPE_MAX]; /* field indexes */
    size_t ndedupe;
    const char *seal_key; /* the steward key sealed fields go to, or NULL */
    size_t nsealed;       /* fields marked sealed */
    int drafts_in_memory; /* sealed_drafts: "memory" */
};

/* seal.c: the sealed marks of a parsed form (FORMS.md, "Sealed
 * answers"): the form-wide mark, the key, and what may not be sealed.
 * Sets FS_FIELD_SEALED, f->seal_key and f->nsealed; returns the number of
 * problems added to p. */
size_t fs__seal_parse_form(fs_form *f, const cJSON *sealed,
                           const cJSON *seal_key, const cJSON *drafts,
                           fs_problems *p);
/* validate.c's part: answers carrying a sealed envelope. The number of
 * problems the envelope has (0: fine). */
size_t fs__seal_check_envelope(const fs_form *f, const cJSON *env,
                               fs_problems *p);
/* sealfile.c: the answer of a sealed attachment field, a sealed file
 * reference (fs_seal.h). before_sealing: on the device, with its "plain"
 * reference and key; else as the hub sees it, without. A plain file
 * reference is refused. FS_OK, FS_EINVALID (the problem in p), FS_ENOMEM. */
int fs__seal_check_file_ref(const fs_field *fld, const cJSON *v,
                            int before_sealing, fs_problems *p);
/* validate.c: a plain file reference {"sha256", "size", "type", "name"}. */
int fs__check_attachment(const fs_field *fld, const cJSON *v, fs_problems *p);

void fs__problems_vadd(fs_problems *p, const char *where, const char *fmt,
                       va_list ap) __attribute__((format(printf, 3, 0)));

/* Text node (string or object by language) in lang, else deflang, else
 * NULL. */
const char *fs__text_get(const cJSON *t, const char *lang, const char *deflang);

/* Compiles a pattern (FORMS.md, "Patterns"). FS_OK, or FS_EMALFORMED with
 * the reason in why. */
int fs__pattern_compile(const char *src, fs__pattern *out, char *why,
                        size_t whycap);
/* 1 when the whole of s matches. FS_ENOMEM (negative) when out of
 * memory. Linear in the length of s times the number of atoms. */
int fs__pattern_match(const fs__pattern *pat, const char *s);

/* "YYYY-MM-DD" to days since 1970-01-01; 0 or FS_EMALFORMED. */
int fs__date_parse(const char *s, double *days);
/* RFC 3339 date-time with seconds and a zone ("Z" or +hh:mm) to seconds
 * since the epoch; 0 or FS_EMALFORMED. */
int fs__datetime_parse(const char *s, double *secs);

/* Code points in the UTF-8 text s. */
size_t fs__utf8_count(const char *s);

/* Choice membership. */
int fs__choice_has(const fs_field *fld, const char *code);

/* Evaluates a checked condition against answers: 1 or 0. A "matches"
 * that cannot get the memory to match counts as not matching. */
int fs__cond_eval(const fs_form *f, const cJSON *cond, const cJSON *answers);

#endif /* FS_FORM_INT_H */
