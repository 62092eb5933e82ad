/*
 * xlsform.c - an XLSForm workbook to a fieldsync form definition.
 *
 * In four steps: the settings sheet (id, version, title, default
 * language); the column headers of the survey and choices sheets (which
 * column is what, in which language); the survey rows (types, names,
 * groups), which give the fields' names before any expression refers to
 * them; then each field with its texts, skip logic, constraint and
 * choices. Problems are collected with their cell all along, and the
 * definition is built only when there are none. fs_form_parse, strict,
 * checks it last; what it still finds is reported at the cell it came
 * from. schema/FORMS.md ("XLSForm") is the mapping in words.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "langs.h"
#include "xlsexpr.h"
#include "xlsform.h"

#define LANG_MAX 24
#define COLS_MAX 512 /* header columns of one sheet */
#define NAME_BUF (FS_ID_MAX + 1)

enum col_kind {
    C_UNKNOWN,
    C_TYPE,
    C_NAME,
    C_LABEL,
    C_HINT,
    C_REQUIRED,
    C_RELEVANT,
    C_CONSTRAINT,
    C_CMSG,
    C_APPEARANCE,
    C_FILTER,
    C_PARAMS,  /* parameters: max-pixels of an image */
    C_ACCEPT,  /* body::accept: the content types of a file */
    C_LIST,    /* choices: list_name */
    C_EXTRA,   /* choices: a column a choice_filter may compare */
    C_REFUSED, /* an XLSForm column fieldsync cannot carry */
};

typedef struct column {
    uint32_t col;
    int kind;
    char lang[LANG_MAX]; /* translatable columns: a code, "" default */
    const char *header;
    const char *why;    /* C_REFUSED */
    char key[NAME_BUF]; /* C_EXTRA: as a filter key; "" if it cannot be */
} column;

typedef struct table {
    const hub__xlsx_sheet *sheet; /* NULL when the workbook has none */
    uint32_t header_row;
    column *cols;
    size_t ncols;
} table;

enum { R_FIELD, R_BEGIN, R_END };

typedef struct qrow {
    uint32_t row;
    int kind;
    fs_field_type type;
    fs_field_auto autofill;
    int likert;
    const char *list; /* select: the list's XLSForm name */
    char listbuf[128];
    const char *codes[11]; /* likert: the choice names, in order */
    size_t ncodes;
    char app[128];       /* presentation appearances, space separated */
    int app_read;        /* app is read (a problem in it reported once) */
    int app_likert;      /* the appearance says likert */
    const char *xname;   /* the name cell */
    char name[NAME_BUF]; /* fieldsync name, groups' prefixes joined; "" */
    int parent;          /* the enclosing R_BEGIN row, or -1 */
    int section;         /* R_BEGIN: its index in sections */
    int field;           /* R_FIELD: its index in fields */
    cJSON *relevant;     /* the row's own relevant, translated; owned */
} qrow;

typedef struct clist {
    const char *xname;
    char name[NAME_BUF];
    uint32_t *rows; /* choice rows, in order */
    size_t n, cap;
    int used;            /* emitted into choice_lists */
    int checked;         /* its choices were checked */
    const char *keys[8]; /* filter keys dynamic choice filters use */
    size_t nkeys;
} clist;

typedef struct conv {
    hub__xlsx *book;
    hub__xlsform_problems *p;
    size_t problems;
    const char *survey_name, *choices_name, *settings_name;
    table survey, choices, settings;
    char deflang[LANG_MAX];
    /* settings */
    char id[NAME_BUF];
    long long version;
    const char *title;
    const char *wave_date; /* settings: the date field deciding the wave */
    /* choices */
    clist *lists;
    size_t nlists;
    /* survey */
    qrow *rows;
    size_t nrows;
    size_t nfields, nsections;
    size_t current; /* the row whose expression is being read */
    int self_ok;    /* ... and it may name its own row (a constraint) */
} conv;

/* A copy of s cut to cap bytes, between UTF-8 characters. */
static void cut(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s);

    if (n >= cap) {
        n = cap - 4;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        memcpy(out, s, n);
        memcpy(out + n, "...", 4);
        return;
    }
    memcpy(out, s, n + 1);
}

static void add_problem(hub__xlsform_problems *p, const char *where,
                        const char *msg)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        hub__xlsform_problem *grown;

        if (p->n >= HUB_XLSFORM_PROBLEMS_MAX) {
            p->dropped++;
            return;
        }
        if (cap > HUB_XLSFORM_PROBLEMS_MAX)
            cap = HUB_XLSFORM_PROBLEMS_MAX;
        grown = realloc(p->items, cap * sizeof *grown);
        if (grown == NULL) {
            p->dropped++;
            return;
        }
        p->items = grown;
        p->cap = cap;
    }
    cut(where, p->items[p->n].where, sizeof p->items[p->n].where);
    cut(msg, p->items[p->n].msg, sizeof p->items[p->n].msg);
    p->n++;
}

void hub__xlsform_problems_free(hub__xlsform_problems *p)
{
    if (p == NULL)
        return;
    free(p->items);
    memset(p, 0, sizeof *p);
}

/* Problems a reader (xlsx.c, fs_form_parse) collected. */
static void add_problems(conv *cv, const fs_problems *fp)
{
    for (size_t i = 0; i < fp->n; i++) {
        cv->problems++;
        add_problem(cv->p,
                    fp->items[i].where[0] != '\0' ? fp->items[i].where
                                                  : "workbook",
                    fp->items[i].msg);
    }
}

static void problem(conv *cv, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(conv *cv, const char *where, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    cv->problems++;
    add_problem(cv->p, where, msg);
}

/* "survey!B7" */
static const char *where_at(const char *sheet, uint32_t row, uint32_t col,
                            char *buf, size_t cap)
{
    char ref[16];

    hub__xlsx_ref(row, col, ref, sizeof ref);
    snprintf(buf, cap, "%s!%s", sheet, ref);
    return buf;
}

/* A short quote of a cell for messages: at most cap - 4 bytes of it,
 * cut between UTF-8 characters, then "...". */
static const char *quote(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);

    if (n < cap) {
        memcpy(buf, s, n + 1);
        return buf;
    }
    n = cap > 4 ? cap - 4 : 0;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    memcpy(buf, s, n);
    memcpy(buf + n, "...", 4);
    return buf;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static void lower_copy(const char *s, char *out, size_t cap)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
        out[i] = lower(s[i]);
    if (cap > 0)
        out[i] = '\0';
}

static const char *cell_of(const table *t, uint32_t row, const column *c)
{
    return t->sheet != NULL ? hub__xlsx_text(t->sheet, row, c->col) : NULL;
}

/* The first column of kind (any language), or NULL. */
static const column *col_of(const table *t, int kind)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (t->cols[i].kind == kind)
            return &t->cols[i];
    return NULL;
}

static const char *value_of(const table *t, uint32_t row, int kind)
{
    const column *c = col_of(t, kind);

    return c != NULL ? cell_of(t, row, c) : NULL;
}

/* ---- column headers -------------------------------------------------- */

static const struct {
    const char *name;
    const char *why;
} refused_columns[] = {
    {"default", "default answers are not supported: fieldsync records "
                "only what was answered"},
    {"read_only", "read-only questions are not supported"},
    {"calculation", "calculations are not supported: fieldsync computes "
                    "nothing on the device"},
    {"repeat_count", "repeats are not supported"},
    {"trigger", "triggers are not supported"},
    {"required_message", "custom required messages are not supported"},
    {"requiredmsg", "custom required messages are not supported"},
    {"guidance_hint", "guidance hints are not supported: use hint"},
    {"image", "media in questions are not supported"},
    {"big-image", "media in questions are not supported"},
    {"audio", "media in questions are not supported"},
    {"video", "media in questions are not supported"},
    {"media", "media in questions are not supported"},
    {"autoplay", "media in questions are not supported"},
    {"rows", "presentation attributes are not supported"},
    {"bind", "custom XForm attributes are not supported"},
    {"body", "custom XForm attributes are not supported"},
    {"instance", "custom XForm attributes are not supported"},
};

static const struct {
    const char *name;
    int kind;
} survey_columns[] = {
    {"type", C_TYPE},
    {"name", C_NAME},
    {"label", C_LABEL},
    {"hint", C_HINT},
    {"required", C_REQUIRED},
    {"relevant", C_RELEVANT},
    {"constraint", C_CONSTRAINT},
    {"constraint_message", C_CMSG},
    {"constraint message", C_CMSG},
    {"jr:constraintmsg", C_CMSG},
    {"appearance", C_APPEARANCE},
    {"choice_filter", C_FILTER},
    {"parameters", C_PARAMS},
};

/* Columns that may name a language after :: (or : in older forms). */
static int translatable(const char *base)
{
    static const char *const bases[] = {"label",
                                        "hint",
                                        "constraint_message",
                                        "guidance_hint",
                                        "required_message",
                                        "image",
                                        "audio",
                                        "video",
                                        "big-image",
                                        "media"};

    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
        if (strcmp(base, bases[i]) == 0)
            return 1;
    return 0;
}

/* Reads the header row of t: the kind of each column and its language.
 * sheet: "survey" or "choices" rules. */
static int read_headers(conv *cv, table *t, const char *sheetname, int choices)
{
    const hub__xlsx_sheet *s = t->sheet;
    size_t i;

    if (s == NULL || s->n == 0)
        return FS_OK;
    t->header_row = s->cells[0].row;
    t->cols = calloc(COLS_MAX, sizeof *t->cols);
    if (t->cols == NULL)
        return FS_ENOMEM;
    for (i = 0; i < s->n && s->cells[i].row == t->header_row; i++) {
        const hub__xlsx_cell *hc = &s->cells[i];
        column *c;
        char low[128], base[128], where[FS_PROBLEM_WHERE_MAX], q[48];
        const char *spec = NULL, *sep;
        size_t k;

        if (t->ncols == COLS_MAX) {
            problem(cv,
                    where_at(sheetname, hc->row, hc->col, where, sizeof where),
                    "more than %d columns", COLS_MAX);
            break;
        }
        c = &t->cols[t->ncols++];
        c->col = hc->col;
        c->header = hc->text;
        lower_copy(hc->text, low, sizeof low);
        snprintf(base, sizeof base, "%s", low);
        sep = strstr(hc->text, "::");
        if (sep != NULL) {
            base[sep - hc->text < (long)sizeof base ? sep - hc->text : 0] =
                '\0';
            spec = sep + 2;
        } else if ((sep = strchr(hc->text, ':')) != NULL) {
            char b[128];

            snprintf(b, sizeof b, "%.*s", (int)(sep - hc->text), low);
            if (translatable(b)) {
                snprintf(base, sizeof base, "%s", b);
                spec = sep + 1;
            }
        }
        where_at(sheetname, hc->row, hc->col, where, sizeof where);
        /* body::accept is read (attachments); other bind::x, body::x,
         * instance::x and media::image::lang are refused. */
        if (!choices && strcmp(low, "body::accept") == 0) {
            c->kind = C_ACCEPT;
            continue;
        }
        for (k = 0; k < sizeof refused_columns / sizeof refused_columns[0]; k++)
            if (strcmp(base, refused_columns[k].name) == 0) {
                c->kind = C_REFUSED;
                c->why = refused_columns[k].why;
            }
        if (c->kind == C_REFUSED)
            continue;
        if (choices) {
            if (strcmp(base, "list_name") == 0 ||
                strcmp(base, "list name") == 0)
                c->kind = C_LIST;
            else if (strcmp(base, "name") == 0)
                c->kind = C_NAME;
            else if (strcmp(base, "label") == 0)
                c->kind = C_LABEL;
            else
                c->kind = C_EXTRA;
            if (c->kind == C_EXTRA && fs_valid_field_name(low))
                snprintf(c->key, sizeof c->key, "%.64s", low);
        } else {
            for (k = 0; k < sizeof survey_columns / sizeof survey_columns[0];
                 k++)
                if (strcmp(base, survey_columns[k].name) == 0)
                    c->kind = survey_columns[k].kind;
        }
        if (spec != NULL) {
            if (c->kind != C_LABEL && c->kind != C_HINT && c->kind != C_CMSG) {
                problem(cv, where,
                        "column '%s' is not supported: only label, hint "
                        "and constraint_message are read by language",
                        quote(hc->text, q, sizeof q));
                c->kind = C_UNKNOWN;
                c->header = NULL; /* reported */
            } else if (hub__lang_code(spec, c->lang, sizeof c->lang) != 0) {
                problem(cv, where,
                        "'%s' names no language fieldsync knows: write "
                        "the code too, as in label::English (en)",
                        quote(spec, q, sizeof q));
                c->kind = C_UNKNOWN;
                c->header = NULL;
            }
        }
        /* The same column twice would give a cell two meanings. */
        for (k = 0; k + 1 < t->ncols && c->kind != C_UNKNOWN &&
                    c->kind != C_EXTRA && c->kind != C_REFUSED;
             k++)
            if (t->cols[k].kind == c->kind &&
                strcmp(t->cols[k].lang, c->lang) == 0) {
                problem(cv, where, "'%s' is a second column of the same kind",
                        quote(hc->text, q, sizeof q));
                c->kind = C_UNKNOWN;
                c->header = NULL;
                break;
            }
    }
    return FS_OK;
}

/* A cell in a column fieldsync does not read: refused with the reason. */
static void check_unread_columns(conv *cv, const table *t, const char *sheet,
                                 uint32_t row)
{
    for (size_t i = 0; i < t->ncols; i++) {
        const column *c = &t->cols[i];
        const char *v;
        char where[FS_PROBLEM_WHERE_MAX], q[48];

        if ((c->kind != C_REFUSED && c->kind != C_UNKNOWN) || c->header == NULL)
            continue;
        v = cell_of(t, row, c);
        if (v == NULL)
            continue;
        where_at(sheet, row, c->col, where, sizeof where);
        if (strstr(v, "pulldata(") != NULL)
            problem(cv, where,
                    "pulldata() is not supported: it reads an external CSV "
                    "file, which fieldsync forms do not carry");
        else if (c->kind == C_REFUSED)
            problem(cv, where, "column '%s' is not supported: %s",
                    quote(c->header, q, sizeof q), c->why);
        else
            problem(cv, where,
                    "column '%s' is not an XLSForm column fieldsync reads "
                    "(a typo?): remove it or empty it",
                    quote(c->header, q, sizeof q));
    }
}

/* ---- settings -------------------------------------------------------- */

static void read_settings(conv *cv, const char *fallback_id)
{
    const hub__xlsx_sheet *s = cv->settings.sheet;
    const char *sn = cv->settings_name;
    uint32_t hrow = 0;
    char where[FS_PROBLEM_WHERE_MAX], q[48];
    const char *id = NULL;
    uint32_t id_col = 0;

    cv->version = 1;
    if (s != NULL && s->n > 0)
        hrow = s->cells[0].row;
    for (size_t i = 0; s != NULL && i < s->n; i++) {
        const hub__xlsx_cell *c = &s->cells[i];
        const char *v;
        char head[64];

        if (c->row > hrow + 1) {
            problem(cv, where_at(sn, c->row, c->col, where, sizeof where),
                    "the settings sheet has one row of values, under its "
                    "headers");
            break;
        }
        if (c->row != hrow)
            continue;
        v = hub__xlsx_text(s, hrow + 1, c->col);
        lower_copy(c->text, head, sizeof head);
        where_at(sn, hrow + 1, c->col, where, sizeof where);
        if (strcmp(head, "form_id") == 0) {
            id = v;
            id_col = c->col;
        } else if (strcmp(head, "version") == 0 && v != NULL) {
            char *end = NULL;
            long long ver = strtoll(v, &end, 10);

            if (end == v || *end != '\0' || ver < 1 || ver > 1000000000)
                problem(cv, where,
                        "version '%s' is not a whole number from 1 to "
                        "1000000000 (fieldsync numbers its versions 1, 2, "
                        "...)",
                        quote(v, q, sizeof q));
            else
                cv->version = ver;
        } else if (strcmp(head, "form_title") == 0) {
            cv->title = v;
        } else if (strcmp(head, "wave_date") == 0) {
            cv->wave_date = v;
        } else if (strcmp(head, "default_language") == 0 && v != NULL) {
            if (hub__lang_code(v, cv->deflang, sizeof cv->deflang) != 0) {
                problem(cv, where,
                        "default_language '%s' names no language fieldsync "
                        "knows: write it as English (en)",
                        quote(v, q, sizeof q));
                cv->deflang[0] = '\0';
            }
        } else if (v != NULL) {
            problem(cv, where,
                    "setting '%s' is not supported: fieldsync reads "
                    "form_id, version, form_title, default_language and "
                    "wave_date",
                    quote(c->text, q, sizeof q));
        }
    }
    if (id != NULL) {
        lower_copy(id, cv->id, sizeof cv->id);
        if (strlen(id) >= sizeof cv->id || !fs_valid_form_id(cv->id)) {
            problem(cv, where_at(sn, hrow + 1, id_col, where, sizeof where),
                    "form_id '%s' is not a fieldsync form id: letters, "
                    "digits and _, starting with a letter",
                    quote(id, q, sizeof q));
            cv->id[0] = '\0';
        }
    } else if (fallback_id != NULL && fs_valid_form_id(fallback_id)) {
        snprintf(cv->id, sizeof cv->id, "%s", fallback_id);
    } else {
        problem(cv, s != NULL ? sn : "workbook",
                "no form_id, and the file's name gives none: add a "
                "settings sheet with a form_id column");
    }
}

/* ---- languages and texts --------------------------------------------- */

/* The default language: the setting, else the first language of the
 * survey's labels, else English. */
static void default_language(conv *cv)
{
    if (cv->deflang[0] != '\0')
        return;
    for (size_t i = 0; i < cv->survey.ncols; i++)
        if (cv->survey.cols[i].kind == C_LABEL &&
            cv->survey.cols[i].lang[0] != '\0') {
            snprintf(cv->deflang, sizeof cv->deflang, "%s",
                     cv->survey.cols[i].lang);
            return;
        }
    snprintf(cv->deflang, sizeof cv->deflang, "en");
}

/* The text of kind in row of t: a string when it is in the default
 * language only, an object by language, or NULL when there is none.
 * what: "label", "hint" ... for messages. *failed is set on a problem. */
static cJSON *row_text(conv *cv, const table *t, const char *sheet,
                       uint32_t row, int kind, const char *what, int *failed)
{
    cJSON *obj = cJSON_CreateObject(), *one;
    const column *first = NULL;
    char where[FS_PROBLEM_WHERE_MAX], q[48];

    if (obj == NULL)
        return NULL;
    for (size_t i = 0; i < t->ncols; i++) {
        const column *c = &t->cols[i];
        const char *v = c->kind == kind ? cell_of(t, row, c) : NULL;
        const char *lang = c->lang[0] != '\0' ? c->lang : cv->deflang;

        if (v == NULL)
            continue;
        where_at(sheet, row, c->col, where, sizeof where);
        if (strstr(v, "${") != NULL) {
            problem(cv, where,
                    "a %s cannot show answers ('%s'): fieldsync texts are "
                    "fixed",
                    what, quote(v, q, sizeof q));
            *failed = 1;
            continue;
        }
        if (cJSON_GetObjectItemCaseSensitive(obj, lang) != NULL) {
            problem(cv, where,
                    "a second %s in the default language '%s' (both a %s "
                    "column and a %s::%s one?)",
                    what, lang, what, what, lang);
            *failed = 1;
            continue;
        }
        if (first == NULL)
            first = c;
        cJSON_AddStringToObject(obj, lang, v);
    }
    if (cJSON_GetArraySize(obj) == 0) {
        cJSON_Delete(obj);
        return NULL;
    }
    if (cJSON_GetObjectItemCaseSensitive(obj, cv->deflang) == NULL) {
        problem(cv, where_at(sheet, row, first->col, where, sizeof where),
                "a %s in '%s' but none in the default language '%s'", what,
                obj->child->string, cv->deflang);
        *failed = 1;
    }
    if (cJSON_GetArraySize(obj) == 1 && obj->child->string != NULL &&
        strcmp(obj->child->string, cv->deflang) == 0) {
        one = cJSON_CreateString(obj->child->valuestring);
        cJSON_Delete(obj);
        return one;
    }
    return obj;
}

/* ---- choices --------------------------------------------------------- */

static clist *find_list(conv *cv, const char *xname)
{
    for (size_t i = 0; i < cv->nlists; i++)
        if (strcmp(cv->lists[i].xname, xname) == 0)
            return &cv->lists[i];
    return NULL;
}

static int read_choices(conv *cv)
{
    const table *t = &cv->choices;
    const hub__xlsx_sheet *s = t->sheet;
    const column *lc = col_of(t, C_LIST), *nc = col_of(t, C_NAME);
    uint32_t prev = 0;

    if (s == NULL)
        return FS_OK;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t row = s->cells[i].row;
        const char *list, *name;
        char where[FS_PROBLEM_WHERE_MAX];
        clist *l;

        if (row == t->header_row || row == prev)
            continue;
        prev = row;
        list = lc != NULL ? cell_of(t, row, lc) : NULL;
        name = nc != NULL ? cell_of(t, row, nc) : NULL;
        if (list == NULL || name == NULL) {
            problem(
                cv,
                where_at(cv->choices_name, row,
                         list == NULL ? (lc ? lc->col : 1) : (nc ? nc->col : 1),
                         where, sizeof where),
                "a choice needs a %s (the row has other cells)",
                list == NULL ? "list_name" : "name");
            continue;
        }
        l = find_list(cv, list);
        if (l == NULL) {
            clist *grown;

            if (cv->nlists >= 10000) {
                problem(cv, cv->choices_name, "more than 10000 lists");
                return FS_OK;
            }
            grown = realloc(cv->lists, (cv->nlists + 1) * sizeof *grown);
            if (grown == NULL)
                return FS_ENOMEM;
            cv->lists = grown;
            l = &cv->lists[cv->nlists++];
            memset(l, 0, sizeof *l);
            l->xname = list;
            lower_copy(list, l->name, sizeof l->name);
        }
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            uint32_t *grown = realloc(l->rows, cap * sizeof *grown);

            if (grown == NULL)
                return FS_ENOMEM;
            l->rows = grown;
            l->cap = cap;
        }
        l->rows[l->n++] = row;
    }
    return FS_OK;
}

/* Checks the choices of a list the form uses, once: codes, duplicates,
 * cells fieldsync does not read. */
static void check_list(conv *cv, clist *l)
{
    const table *t = &cv->choices;
    const column *nc = col_of(t, C_NAME);

    if (l->checked)
        return;
    l->checked = 1;
    for (size_t i = 0; i < l->n; i++) {
        const char *name = cell_of(t, l->rows[i], nc);
        char where[FS_PROBLEM_WHERE_MAX], q[48];

        where_at(cv->choices_name, l->rows[i], nc->col, where, sizeof where);
        check_unread_columns(cv, t, cv->choices_name, l->rows[i]);
        if (!fs_valid_choice_code(name)) {
            problem(cv, where,
                    "choice name '%s' is not a fieldsync code: letters, "
                    "digits and . _ + -, starting with a letter or digit",
                    quote(name, q, sizeof q));
            continue;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(cell_of(t, l->rows[k], nc), name) == 0) {
                problem(cv, where,
                        "'%s' is already a choice of list '%s' (row %lu): "
                        "choice names are unique in their list",
                        quote(name, q, sizeof q), l->xname,
                        (unsigned long)l->rows[k]);
                break;
            }
    }
}

/* The choices of l as a JSON array; only the rows whose column fc holds
 * lit when fc is set (a choice filter with a fixed value). with_filter:
 * each choice carries the filter keys dynamic choice filters compare. */
static cJSON *choices_json(conv *cv, const clist *l, const column *fc,
                           const char *lit, int with_filter, int *failed)
{
    const table *t = &cv->choices;
    const column *nc = col_of(t, C_NAME);
    cJSON *arr = cJSON_CreateArray();

    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        uint32_t row = l->rows[i];
        const char *name = cell_of(t, row, nc), *fv;
        cJSON *label, *o;

        if (fc != NULL) {
            fv = cell_of(t, row, fc);
            if (fv == NULL || strcmp(fv, lit) != 0)
                continue;
        }
        label =
            row_text(cv, t, cv->choices_name, row, C_LABEL, "label", failed);
        if (label == NULL && (!with_filter || l->nkeys == 0)) {
            cJSON_AddItemToArray(arr, cJSON_CreateString(name));
            continue;
        }
        o = cJSON_CreateObject();
        if (o == NULL) {
            cJSON_Delete(label);
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddStringToObject(o, "value", name);
        if (label != NULL)
            cJSON_AddItemToObject(o, "label", label);
        if (with_filter && l->nkeys > 0) {
            cJSON *flt = cJSON_AddObjectToObject(o, "filter");

            for (size_t k = 0; k < l->nkeys; k++)
                for (size_t c = 0; c < t->ncols; c++)
                    if (t->cols[c].kind == C_EXTRA &&
                        strcmp(t->cols[c].key, l->keys[k]) == 0 &&
                        cell_of(t, row, &t->cols[c]) != NULL)
                        cJSON_AddStringToObject(flt, l->keys[k],
                                                cell_of(t, row, &t->cols[c]));
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* ---- survey rows: types, names, groups ------------------------------- */

static const struct {
    const char *type;
    const char *why;
} refused_types[] = {
    {"calculate", "fieldsync stores what was answered and computes nothing "
                  "on the device"},
    {"hidden", "fieldsync stores what was answered and computes nothing on "
               "the device"},
    {"time", "fieldsync has dates and date-times, no times of day"},
    {"geotrace", "fieldsync records points (geopoint) only"},
    {"geoshape", "fieldsync records points (geopoint) only"},
    {"start-geopoint", "fieldsync records points (geopoint) only"},
    {"background-audio", "it records the whole interview in the "
                         "background, with no question asked; use an audio "
                         "question the respondent can see and consent to"},
    {"video", "fieldsync takes image, audio and file attachments; videos "
              "are too large for the 2G links it is built for (a file "
              "question takes any file if one is really needed)"},
    {"barcode", "barcode scanning is not supported: use text"},
    {"acknowledge", "use a select_one with a single choice instead"},
    {"trigger", "use a select_one with a single choice instead"},
    {"range", "use an integer or decimal with a constraint instead"},
    {"rank", "ranking is not supported"},
    {"xml-external", "external data is not supported"},
    {"csv-external", "external data is not supported"},
    {"select_one_from_file", "choices from an external file are not "
                             "supported: put them in the choices sheet"},
    {"select_multiple_from_file", "choices from an external file are not "
                                  "supported: put them in the choices sheet"},
    {"select_one_external", "external choices are not supported: put them "
                            "in the choices sheet"},
    {"select_multiple_external", "external choices are not supported: put "
                                 "them in the choices sheet"},
    {"osm", "OpenStreetMap questions are not supported"},
    {"username", "fieldsync records the collector itself"},
    {"email", "metadata other than start, end, today and deviceid is not "
              "recorded"},
    {"phonenumber", "metadata other than start, end, today and deviceid is "
                    "not recorded"},
    {"simserial", "metadata other than start, end, today and deviceid is "
                  "not recorded"},
    {"subscriberid", "metadata other than start, end, today and deviceid "
                     "is not recorded"},
    {"uri:deviceid", "use deviceid"},
    {"audit", "audit logs are not supported"},
    {"begin repeat", "repeats are not supported: a fieldsync submission "
                     "answers each question once"},
    {"begin_repeat", "repeats are not supported: a fieldsync submission "
                     "answers each question once"},
    {"end repeat", "repeats are not supported"},
    {"end_repeat", "repeats are not supported"},
    {"begin loop", "loops (repeats) are not supported"},
    {"end loop", "loops (repeats) are not supported"},
    {"phone number", "use text with a constraint instead"},
};

static const struct {
    const char *type;
    fs_field_type fs;
    fs_field_auto autofill;
} plain_types[] = {
    {"text", FS_FIELD_TEXT, FS_AUTO_NONE},
    {"string", FS_FIELD_TEXT, FS_AUTO_NONE},
    {"integer", FS_FIELD_INTEGER, FS_AUTO_NONE},
    {"int", FS_FIELD_INTEGER, FS_AUTO_NONE},
    {"decimal", FS_FIELD_DECIMAL, FS_AUTO_NONE},
    {"date", FS_FIELD_DATE, FS_AUTO_NONE},
    {"datetime", FS_FIELD_DATETIME, FS_AUTO_NONE},
    {"note", FS_FIELD_NOTE, FS_AUTO_NONE},
    {"geopoint", FS_FIELD_GEOPOINT, FS_AUTO_NONE},
    {"image", FS_FIELD_IMAGE, FS_AUTO_NONE},
    {"audio", FS_FIELD_AUDIO, FS_AUTO_NONE},
    {"file", FS_FIELD_FILE, FS_AUTO_NONE},
    {"start", FS_FIELD_DATETIME, FS_AUTO_START},
    {"end", FS_FIELD_DATETIME, FS_AUTO_END},
    {"today", FS_FIELD_DATE, FS_AUTO_TODAY},
    {"deviceid", FS_FIELD_TEXT, FS_AUTO_DEVICEID},
};

/* "select_one yes_no", "select one from yes_no", "select all that apply
 * from x": the list name after the prefix, or NULL. */
static const char *select_list(const char *t, fs_field_type *type)
{
    static const struct {
        const char *prefix;
        fs_field_type type;
    } forms[] = {
        {"select_one from ", FS_FIELD_SELECT_ONE},
        {"select_one ", FS_FIELD_SELECT_ONE},
        {"select one from ", FS_FIELD_SELECT_ONE},
        {"select one ", FS_FIELD_SELECT_ONE},
        {"select_multiple from ", FS_FIELD_SELECT_MULTIPLE},
        {"select_multiple ", FS_FIELD_SELECT_MULTIPLE},
        {"select multiple from ", FS_FIELD_SELECT_MULTIPLE},
        {"select multiple ", FS_FIELD_SELECT_MULTIPLE},
        {"select all that apply from ", FS_FIELD_SELECT_MULTIPLE},
        {"select all that apply ", FS_FIELD_SELECT_MULTIPLE},
    };

    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        size_t n = strlen(forms[i].prefix);

        if (strncmp(t, forms[i].prefix, n) == 0) {
            *type = forms[i].type;
            return t + n;
        }
    }
    return NULL;
}

/* Reads the type cell of a row into r; reports what is refused. The
 * type is compared in lower case with single spaces; the list name keeps
 * its case. */
static int parse_type(conv *cv, qrow *r, const char *type, const char *where)
{
    char norm[160], low[160], q[48];
    size_t n = 0, i;
    const char *list;

    for (i = 0; type[i] != '\0' && n + 1 < sizeof norm; i++) {
        char ch = type[i] == '\t' ? ' ' : type[i];

        if (ch == ' ' && (n == 0 || norm[n - 1] == ' '))
            continue;
        norm[n] = ch;
        low[n++] = lower(ch);
    }
    norm[n] = low[n] = '\0';
    if (strcmp(low, "begin group") == 0 || strcmp(low, "begin_group") == 0) {
        r->kind = R_BEGIN;
        return 0;
    }
    if (strcmp(low, "end group") == 0 || strcmp(low, "end_group") == 0) {
        r->kind = R_END;
        return 0;
    }
    for (i = 0; i < sizeof plain_types / sizeof plain_types[0]; i++)
        if (strcmp(low, plain_types[i].type) == 0) {
            r->kind = R_FIELD;
            r->type = plain_types[i].fs;
            r->autofill = plain_types[i].autofill;
            return 0;
        }
    for (i = 0; i < sizeof refused_types / sizeof refused_types[0]; i++) {
        size_t k = strlen(refused_types[i].type);

        if (strncmp(low, refused_types[i].type, k) == 0 &&
            (low[k] == '\0' || low[k] == ' ')) {
            problem(cv, where, "type '%s' is not supported: %s",
                    quote(type, q, sizeof q), refused_types[i].why);
            return -1;
        }
    }
    list = select_list(low, &r->type);
    if (list != NULL) {
        const char *sp = strchr(list, ' ');

        if (sp != NULL) {
            if (strcmp(sp, " or_other") == 0 ||
                strcmp(sp, " or specify other") == 0)
                problem(cv, where,
                        "type '%s' is not supported: or_other adds a "
                        "question of its own; add an 'other' choice and a "
                        "text question relevant when it is selected",
                        quote(type, q, sizeof q));
            else
                problem(cv, where,
                        "type '%s': a select names one list, then nothing",
                        quote(type, q, sizeof q));
            return -1;
        }
        /* The list's name as written (names are case-sensitive). */
        snprintf(r->listbuf, sizeof r->listbuf, "%s", norm + (list - low));
        r->list = r->listbuf;
        r->kind = R_FIELD;
        return 0;
    }
    problem(cv, where,
            "type '%s' is not supported: fieldsync takes text, integer, "
            "decimal, date, dateTime, select_one, select_multiple, note, "
            "geopoint, image, audio, file, start, end, today, deviceid and "
            "groups",
            quote(type, q, sizeof q));
    return -1;
}

/* Row lookups for ${name}. */
static int lookup(void *ud, const char *xname, hub__xlsexpr_ref *out)
{
    conv *cv = ud;
    int found = -1;

    for (size_t i = 0; i < cv->nrows; i++) {
        const qrow *r = &cv->rows[i];

        if (r->kind == R_END || r->xname == NULL ||
            strcmp(r->xname, xname) != 0)
            continue;
        if (found >= 0)
            return -2;
        found = (int)i;
    }
    if (found < 0)
        return -1;
    if (cv->rows[found].kind == R_FIELD && cv->rows[found].type == 0)
        return -3;
    if ((size_t)found > cv->current ||
        ((size_t)found == cv->current && !cv->self_ok))
        return -4;
    memset(out, 0, sizeof *out);
    out->name = cv->rows[found].name;
    out->type = cv->rows[found].kind == R_FIELD ? cv->rows[found].type : 0;
    out->codes = cv->rows[found].codes;
    out->ncodes = cv->rows[found].ncodes;
    return 0;
}

/* A name as fieldsync takes it: XLSForm's, lower-cased; NULL when it
 * has characters a fieldsync name cannot (hyphens, dots, accents). */
static const char *fs_name(const char *x, char *out, size_t cap)
{
    lower_copy(x, out, cap);
    if (strlen(x) >= cap || !fs_valid_field_name(out))
        return NULL;
    return out;
}

/* Pass 1: each survey row's kind, type and fieldsync name, groups
 * matched, so that expressions can then name any question. */
static int read_rows(conv *cv)
{
    const table *t = &cv->survey;
    const hub__xlsx_sheet *s = t->sheet;
    const column *tc = col_of(t, C_TYPE), *nc = col_of(t, C_NAME);
    const char *sn = cv->survey_name;
    int open = -1;
    uint32_t prev = 0;

    if (s == NULL || s->n == 0) {
        problem(cv, sn, "the survey sheet is empty");
        return FS_OK;
    }
    if (tc == NULL || nc == NULL) {
        problem(cv, sn,
                "no %s column: the first row of the survey sheet names "
                "the columns (type, name, label, ...)",
                tc == NULL ? "type" : "name");
        return FS_OK;
    }
    cv->rows = calloc(s->n, sizeof *cv->rows);
    if (cv->rows == NULL)
        return FS_ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t row = s->cells[i].row;
        const char *type, *name;
        char where[FS_PROBLEM_WHERE_MAX], q[48], low[NAME_BUF];
        qrow *r;

        if (row == t->header_row || row == prev)
            continue;
        prev = row;
        type = cell_of(t, row, tc);
        if (type == NULL) {
            problem(cv, where_at(sn, row, tc->col, where, sizeof where),
                    "no type, but the row has other cells");
            continue;
        }
        r = &cv->rows[cv->nrows++];
        r->row = row;
        r->parent = open;
        r->section = -1;
        r->field = -1;
        where_at(sn, row, tc->col, where, sizeof where);
        if (parse_type(cv, r, type, where) != 0) {
            /* Refused: kept so that ${name} finds it, and says so. */
            r->kind = R_FIELD;
            r->type = 0;
            r->xname = cell_of(t, row, nc);
            continue;
        }
        if (r->kind == R_END) {
            if (open < 0)
                problem(cv, where, "end group without a begin group");
            else
                open = cv->rows[open].parent;
            continue;
        }
        name = cell_of(t, row, nc);
        r->xname = name;
        where_at(sn, row, nc->col, where, sizeof where);
        if (name == NULL) {
            problem(cv, where, "a %s needs a name",
                    r->kind == R_BEGIN ? "group" : "question");
        } else if (fs_name(name, low, sizeof low) == NULL) {
            problem(cv, where,
                    "name '%s' is not a fieldsync name: letters, digits "
                    "and _, starting with a letter",
                    quote(name, q, sizeof q));
        } else if (strcmp(low, "meta") == 0) {
            problem(cv, where, "'meta' is reserved for the form's metadata");
        } else if (open >= 0 && cv->rows[open].name[0] == '\0') {
            /* the group's name is already refused */
        } else {
            int w = snprintf(r->name, sizeof r->name, "%s%s%s",
                             open >= 0 ? cv->rows[open].name : "",
                             open >= 0 ? "_" : "", low);

            if (w < 0 || (size_t)w >= sizeof r->name ||
                !fs_valid_field_name(r->name)) {
                problem(cv, where,
                        "with its groups' names in front, '%s' is longer "
                        "than 64 characters",
                        quote(name, q, sizeof q));
                r->name[0] = '\0';
            }
            for (size_t k = 0; r->name[0] != '\0' && k + 1 < cv->nrows; k++)
                if (strcmp(cv->rows[k].name, r->name) == 0) {
                    problem(cv, where,
                            "'%s' is also the name of row %lu (names of "
                            "questions in groups are prefixed with the "
                            "group's)",
                            r->name, (unsigned long)cv->rows[k].row);
                    break;
                }
        }
        if (r->kind == R_BEGIN)
            open = (int)(r - cv->rows);
    }
    if (open >= 0) {
        char where[FS_PROBLEM_WHERE_MAX];

        problem(cv,
                where_at(sn, cv->rows[open].row, tc->col, where, sizeof where),
                "this group has no end group");
    }
    return FS_OK;
}

/* ---- appearance ------------------------------------------------------ */

/* Appearances that change only how a question looks, passed to the
 * XForm as x_appearance. likert is read apart (it makes the field a
 * likert scale). */
static int presentation_only(const char *a)
{
    static const char *const names[] = {
        "minimal",      "quick",        "horizontal",   "horizontal-compact",
        "compact",      "columns",      "columns-pack", "no-buttons",
        "label",        "list-nolabel", "list",         "field-list",
        "table-list",   "multiline",    "numbers",      "thousands-sep",
        "no-calendar",  "month-year",   "year",         "autocomplete",
        "quickcompact", "w1",           "w2",           "w3",
        "w4",           "w5",           "w6",           "w7",
        "w8",           "w9",           "w10"};
    size_t n = strlen(a);

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(a, names[i]) == 0)
            return 1;
    /* compact-2, columns-3 */
    if ((strncmp(a, "compact-", 8) == 0 && n > 8 && n <= 10) ||
        (strncmp(a, "columns-", 8) == 0 && n > 8 && n <= 10)) {
        for (size_t i = 8; i < n; i++)
            if (a[i] < '0' || a[i] > '9')
                return 0;
        return 1;
    }
    return 0;
}

/* The appearance cell of row: its presentation words into out (space
 * separated), *likert when it says likert. -1 after a problem. */
static int read_appearance(conv *cv, uint32_t row, int *likert, char *out,
                           size_t cap)
{
    const column *ac = col_of(&cv->survey, C_APPEARANCE);
    const char *v = ac != NULL ? cell_of(&cv->survey, row, ac) : NULL;
    char where[FS_PROBLEM_WHERE_MAX], word[64], q[48];
    size_t used = 0;

    *likert = 0;
    out[0] = '\0';
    if (v == NULL)
        return 0;
    where_at(cv->survey_name, row, ac->col, where, sizeof where);
    for (const char *p = v; *p != '\0';) {
        size_t n = strcspn(p, " \t");

        if (n == 0) {
            p++;
            continue;
        }
        snprintf(word, sizeof word, "%.*s", (int)n, p);
        p += n;
        if (strcmp(word, "likert") == 0) {
            *likert = 1;
            continue;
        }
        if (strncmp(word, "search(", 7) == 0 || strstr(v, "search(")) {
            problem(cv, where,
                    "appearance 'search()' is not supported: it reads "
                    "external choices");
            return -1;
        }
        if (!presentation_only(word)) {
            problem(cv, where,
                    "appearance '%s' is not supported: fieldsync takes "
                    "likert, and the appearances that change only how a "
                    "question looks (minimal, field-list, ...)",
                    quote(word, q, sizeof q));
            return -1;
        }
        if (used + strlen(word) + 2 > cap)
            continue;
        used += (size_t)snprintf(out + used, cap - used, "%s%s",
                                 used ? " " : "", word);
    }
    return 0;
}

/* The appearance of r, read (and a problem in it reported) once. */
static const char *row_appearance(conv *cv, qrow *r, int *likert)
{
    if (!r->app_read) {
        r->app_read = 1;
        if (read_appearance(cv, r->row, &r->app_likert, r->app,
                            sizeof r->app) != 0)
            r->app[0] = '\0';
    }
    *likert = r->app_likert;
    return r->app;
}

/* Pass 1b: the list of each select, and likert scales. */
static void read_selects(conv *cv)
{
    const column *tc = col_of(&cv->survey, C_TYPE);
    const column *nc = col_of(&cv->choices, C_NAME);

    for (size_t i = 0; i < cv->nrows; i++) {
        qrow *r = &cv->rows[i];
        char where[FS_PROBLEM_WHERE_MAX], q[48];
        clist *l;
        int likert = 0;

        if (r->kind != R_FIELD || r->type == 0)
            continue;
        row_appearance(cv, r, &likert);
        if (likert && r->type != FS_FIELD_SELECT_ONE) {
            problem(cv,
                    where_at(cv->survey_name, r->row,
                             col_of(&cv->survey, C_APPEARANCE)->col, where,
                             sizeof where),
                    "likert applies to a select_one");
            likert = 0;
        }
        if (r->type != FS_FIELD_SELECT_ONE &&
            r->type != FS_FIELD_SELECT_MULTIPLE)
            continue;
        where_at(cv->survey_name, r->row, tc->col, where, sizeof where);
        l = find_list(cv, r->list);
        if (l == NULL || nc == NULL) {
            problem(cv, where, "list '%s' is not in the choices sheet",
                    quote(r->list, q, sizeof q));
            r->type = 0;
            continue;
        }
        if (likert) {
            if (l->n < 2 || l->n > 11) {
                problem(cv, where,
                        "a likert scale has 2 to 11 points; list '%s' has "
                        "%zu choices",
                        quote(r->list, q, sizeof q), l->n);
                r->type = 0;
                continue;
            }
            r->likert = 1;
            r->type = FS_FIELD_LIKERT;
            for (size_t k = 0; k < l->n; k++)
                r->codes[k] = cell_of(&cv->choices, l->rows[k], nc);
            r->ncodes = l->n;
        }
    }
}

/* ---- pass 2: the definition ------------------------------------------ */

/* Translates the expression in column kind of row; NULL when the cell is
 * empty or after a problem (*failed set). */
static cJSON *expression(conv *cv, const qrow *r, int kind,
                         const hub__xlsexpr_ref *self, int *failed)
{
    const column *c = col_of(&cv->survey, kind);
    const char *v = c != NULL ? cell_of(&cv->survey, r->row, c) : NULL;
    char where[FS_PROBLEM_WHERE_MAX], why[FS_PROBLEM_MSG_MAX];
    cJSON *cond = NULL;
    int rc;

    if (v == NULL)
        return NULL;
    cv->current = (size_t)(r - cv->rows);
    cv->self_ok = self != NULL;
    rc = hub__xlsexpr_condition(v, self, lookup, cv, &cond, why, sizeof why);
    if (rc != FS_OK) {
        problem(cv,
                where_at(cv->survey_name, r->row, c->col, where, sizeof where),
                "%s: %s", kind == C_RELEVANT ? "relevant" : "constraint",
                rc == FS_ENOMEM ? "out of memory" : why);
        *failed = 1;
        return NULL;
    }
    return cond;
}

/* A field's skip logic: its own relevant and its groups', all of which
 * must hold (a question in a group is asked only when the group is). */
static cJSON *combined_relevant(const conv *cv, const qrow *r)
{
    cJSON *all = cJSON_CreateArray(), *out;

    if (all == NULL)
        return NULL;
    for (const qrow *g = r; g != NULL;
         g = g->parent >= 0 ? &cv->rows[g->parent] : NULL) {
        const cJSON *c = g->relevant, *inner;

        if (c == NULL)
            continue;
        inner = cJSON_GetObjectItemCaseSensitive(c, "all");
        if (inner != NULL && cJSON_GetArraySize(c) == 1)
            c = inner;
        else
            inner = NULL;
        /* Outer groups first: insert at the front. */
        if (inner != NULL) {
            const cJSON *it;
            int k = 0;

            cJSON_ArrayForEach(it, c)
            {
                cJSON_InsertItemInArray(all, k++, cJSON_Duplicate(it, 1));
            }
        } else {
            cJSON_InsertItemInArray(all, 0, cJSON_Duplicate(c, 1));
        }
    }
    if (cJSON_GetArraySize(all) == 0) {
        cJSON_Delete(all);
        return NULL;
    }
    if (cJSON_GetArraySize(all) == 1) {
        out = cJSON_DetachItemFromArray(all, 0);
        cJSON_Delete(all);
        return out;
    }
    out = cJSON_CreateObject();
    if (out == NULL) {
        cJSON_Delete(all);
        return NULL;
    }
    cJSON_AddItemToObject(out, "all", all);
    return out;
}

/* yes/no of the required column. */
static int read_required(conv *cv, const qrow *r, int *failed)
{
    const column *c = col_of(&cv->survey, C_REQUIRED);
    const char *v = c != NULL ? cell_of(&cv->survey, r->row, c) : NULL;
    char low[16], where[FS_PROBLEM_WHERE_MAX], q[48];

    if (v == NULL)
        return 0;
    lower_copy(v, low, sizeof low);
    if (strcmp(low, "yes") == 0 || strcmp(low, "true") == 0 ||
        strcmp(low, "true()") == 0 || strcmp(low, "1") == 0)
        return 1;
    if (strcmp(low, "no") == 0 || strcmp(low, "false") == 0 ||
        strcmp(low, "false()") == 0 || strcmp(low, "0") == 0)
        return 0;
    problem(cv, where_at(cv->survey_name, r->row, c->col, where, sizeof where),
            "required '%s' is not supported: fieldsync's required is yes or "
            "no (a question that is not relevant is never required)",
            quote(v, q, sizeof q));
    *failed = 1;
    return 0;
}

/* A choice_filter: column = ${question} (cascading choices, carried as
 * the field's choice_filter) or column = 'value' (fixed: the field gets
 * the matching choices only). Anything else is refused. */
static int read_filter(conv *cv, const qrow *r, clist *l, cJSON *field,
                       int *failed)
{
    const column *fcol = col_of(&cv->survey, C_FILTER);
    const char *v = fcol != NULL ? cell_of(&cv->survey, r->row, fcol) : NULL;
    char where[FS_PROBLEM_WHERE_MAX], side[2][128], q[48];
    const char *eq;
    int col_side = -1;
    const column *cc = NULL;

    if (v == NULL)
        return 0;
    where_at(cv->survey_name, r->row, fcol->col, where, sizeof where);
    eq = strchr(v, '=');
    if (eq == NULL || eq == v || strchr(eq + 1, '=') != NULL ||
        strchr("!<>", eq[-1]) != NULL || strstr(v, " and ") != NULL ||
        strstr(v, " or ") != NULL || strchr(v, '(') != NULL) {
        problem(cv, where,
                "choice_filter '%s' is not supported: fieldsync takes a "
                "plain equality, column = ${question} or column = 'value'",
                quote(v, q, sizeof q));
        *failed = 1;
        return FS_EMALFORMED;
    }
    for (int k = 0; k < 2; k++) {
        const char *b = k == 0 ? v : eq + 1, *e = k == 0 ? eq : v + strlen(v);

        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        snprintf(side[k], sizeof side[k], "%.*s", (int)(e - b), b);
        if (side[k][0] == '$' || side[k][0] == '\'' || side[k][0] == '"')
            continue;
        for (size_t c = 0; c < cv->choices.ncols; c++) {
            char low[128];

            lower_copy(cv->choices.cols[c].header, low, sizeof low);
            if (cv->choices.cols[c].kind == C_EXTRA &&
                strcmp(low, side[k]) == 0) {
                cc = &cv->choices.cols[c];
                col_side = k;
            }
        }
        if (cc == NULL) {
            problem(cv, where,
                    "choice_filter: '%s' is not a column of the choices "
                    "sheet (values are 'quoted', questions ${named})",
                    quote(side[k], q, sizeof q));
            *failed = 1;
            return FS_EMALFORMED;
        }
    }
    if (col_side < 0) {
        problem(cv, where,
                "choice_filter '%s' compares no column of the "
                "choices sheet",
                quote(v, q, sizeof q));
        *failed = 1;
        return FS_EMALFORMED;
    }
    {
        const char *o = side[1 - col_side];
        size_t n = strlen(o);

        if (n >= 2 && (o[0] == '\'' || o[0] == '"') && o[n - 1] == o[0]) {
            /* Fixed: only the matching choices, inline. */
            char lit[128];
            cJSON *arr;

            snprintf(lit, sizeof lit, "%.*s", (int)(n - 2), o + 1);
            arr = choices_json(cv, l, cc, lit, 0, failed);
            if (arr == NULL)
                return FS_ENOMEM;
            if (cJSON_GetArraySize(arr) == 0) {
                problem(cv, where, "choice_filter keeps no choice of list '%s'",
                        l->xname);
                *failed = 1;
            }
            cJSON_ReplaceItemInObjectCaseSensitive(field, "choices", arr);
            return 0;
        }
        if (n > 3 && o[0] == '$' && o[1] == '{' && o[n - 1] == '}') {
            char xname[128];
            hub__xlsexpr_ref ref;
            cJSON *cf;
            size_t k;

            snprintf(xname, sizeof xname, "%.*s", (int)(n - 3), o + 2);
            cv->current = (size_t)(r - cv->rows);
            cv->self_ok = 0;
            if (lookup(cv, xname, &ref) != 0 || cc->key[0] == '\0') {
                problem(cv, where, "choice_filter: %s",
                        cc->key[0] == '\0'
                            ? "the column's name must be letters, digits "
                              "and _"
                            : "it must name an earlier question fieldsync "
                              "carries");
                *failed = 1;
                return FS_EMALFORMED;
            }
            for (k = 0; k < l->nkeys && strcmp(l->keys[k], cc->key) != 0; k++)
                ;
            if (k == l->nkeys && l->nkeys < 8)
                l->keys[l->nkeys++] = cc->key;
            cf = cJSON_AddObjectToObject(field, "choice_filter");
            if (cf == NULL)
                return FS_ENOMEM;
            cJSON_AddStringToObject(cf, "field", ref.name);
            cJSON_AddStringToObject(cf, "key", cc->key);
            return 0;
        }
        problem(cv, where,
                "choice_filter: '%s' is neither a 'quoted value' nor a "
                "${question}",
                quote(o, q, sizeof q));
        *failed = 1;
        return FS_EMALFORMED;
    }
}

/* Columns a group row has no use for. */
static void check_group_row(conv *cv, const qrow *r)
{
    static const int unused[] = {C_HINT,   C_REQUIRED, C_CONSTRAINT, C_CMSG,
                                 C_FILTER, C_PARAMS,   C_ACCEPT};
    static const char *const names[] = {
        "hint",          "required",   "constraint",  "constraint_message",
        "choice_filter", "parameters", "body::accept"};

    for (size_t k = 0; k < sizeof unused / sizeof unused[0]; k++) {
        for (size_t i = 0; i < cv->survey.ncols; i++) {
            const column *c = &cv->survey.cols[i];
            char where[FS_PROBLEM_WHERE_MAX];

            if (c->kind == unused[k] && cell_of(&cv->survey, r->row, c)) {
                problem(cv,
                        where_at(cv->survey_name, r->row, c->col, where,
                                 sizeof where),
                        "a group takes no %s (only its questions do)",
                        names[k]);
                break;
            }
        }
    }
}

static int build_section(conv *cv, qrow *r, cJSON *sections)
{
    cJSON *o = cJSON_CreateObject(), *label;
    const char *app;
    char where[FS_PROBLEM_WHERE_MAX];
    int likert = 0, failed = 0;

    if (o == NULL)
        return FS_ENOMEM;
    cJSON_AddItemToArray(sections, o);
    r->section = (int)cv->nsections++;
    cJSON_AddStringToObject(o, "name", r->name);
    label = row_text(cv, &cv->survey, cv->survey_name, r->row, C_LABEL, "label",
                     &failed);
    if (label != NULL)
        cJSON_AddItemToObject(o, "label", label);
    if (r->parent >= 0)
        cJSON_AddStringToObject(o, "within", cv->rows[r->parent].name);
    app = row_appearance(cv, r, &likert);
    if (likert)
        problem(cv,
                where_at(cv->survey_name, r->row,
                         col_of(&cv->survey, C_APPEARANCE)->col, where,
                         sizeof where),
                "likert applies to a select_one");
    else if (app[0] != '\0')
        cJSON_AddStringToObject(o, "x_appearance", app);
    check_group_row(cv, r);
    check_unread_columns(cv, &cv->survey, cv->survey_name, r->row);
    r->relevant = expression(cv, r, C_RELEVANT, NULL, &failed);
    return FS_OK;
}

/* The parameters cell: max-pixels=N of an image question, which Collect
 * scales a photo down to before sending it. The form format has no
 * max_pixels yet, so it is kept as x_max_pixels for the XForm
 * (orx:max-pixels); other parameters are refused. */
static void read_parameters(conv *cv, const qrow *r, cJSON *o)
{
    const column *c = col_of(&cv->survey, C_PARAMS);
    const char *v = c != NULL ? cell_of(&cv->survey, r->row, c) : NULL;
    char where[FS_PROBLEM_WHERE_MAX], word[64], q[48];

    if (v == NULL)
        return;
    where_at(cv->survey_name, r->row, c->col, where, sizeof where);
    for (const char *p = v; *p != '\0';) {
        size_t n = strcspn(p, " \t,;");
        const char *eq;
        char *end = NULL;
        long px;

        if (n == 0) {
            p++;
            continue;
        }
        snprintf(word, sizeof word, "%.*s", (int)n, p);
        p += n;
        eq = strchr(word, '=');
        if (r->type != FS_FIELD_IMAGE || eq == NULL ||
            strncmp(word, "max-pixels", (size_t)(eq - word)) != 0 ||
            eq - word != 10) {
            problem(cv, where,
                    "parameter '%s' is not supported: fieldsync reads "
                    "max-pixels=N of an image question only",
                    quote(word, q, sizeof q));
            continue;
        }
        px = strtol(eq + 1, &end, 10);
        if (end == eq + 1 || *end != '\0' || px < 1 || px > 100000) {
            problem(cv, where,
                    "max-pixels '%s' is not a whole number of pixels from 1 "
                    "to 100000",
                    quote(eq + 1, q, sizeof q));
            continue;
        }
        cJSON_AddNumberToObject(o, "x_max_pixels", (double)px);
    }
}

/* body::accept of an attachment question: file extensions (.pdf) or
 * content types, comma separated, as the field's content_types. Only
 * the kinds the hub and the agent recognise by their first bytes can be
 * checked, so only those are taken. */
static void read_accept(conv *cv, const qrow *r, cJSON *o)
{
    static const struct {
        const char *ext, *type;
    } kinds[] = {
        {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"},
        {".png", "image/png"},  {".webp", "image/webp"},
        {".wav", "audio/wav"},  {".ogg", "audio/ogg"},
        {".oga", "audio/ogg"},  {".mp3", "audio/mpeg"},
        {".m4a", "audio/mp4"},  {".pdf", "application/pdf"},
    };
    const column *c = col_of(&cv->survey, C_ACCEPT);
    const char *v = c != NULL ? cell_of(&cv->survey, r->row, c) : NULL;
    char where[FS_PROBLEM_WHERE_MAX], word[80], q[48];
    cJSON *types;

    if (v == NULL)
        return;
    where_at(cv->survey_name, r->row, c->col, where, sizeof where);
    if (!fs_field_type_is_attachment(r->type)) {
        problem(cv, where,
                "body::accept applies to image, audio and file questions");
        return;
    }
    types = cJSON_AddArrayToObject(o, "content_types");
    for (const char *p = v; types != NULL && *p != '\0';) {
        size_t n = strcspn(p, ", \t;"), k;
        const char *type = NULL;
        const cJSON *it;
        int dup = 0;

        if (n == 0) {
            p++;
            continue;
        }
        snprintf(word, sizeof word, "%.*s", (int)n, p);
        p += n;
        for (k = 0; k < strlen(word); k++)
            word[k] = lower(word[k]);
        for (k = 0; k < sizeof kinds / sizeof kinds[0] && type == NULL; k++)
            if (strcmp(word, kinds[k].ext) == 0 ||
                strcmp(word, kinds[k].type) == 0)
                type = kinds[k].type;
        if (type == NULL) {
            problem(cv, where,
                    "accept '%s' is not supported: the hub decides a file's "
                    "type from its first bytes and knows .jpg, .png, .webp, "
                    ".wav, .ogg, .mp3, .m4a and .pdf (or their content "
                    "types); leave accept empty to take any file",
                    quote(word, q, sizeof q));
            continue;
        }
        cJSON_ArrayForEach(it, types) dup |= strcmp(it->valuestring, type) == 0;
        if (!dup)
            cJSON_AddItemToArray(types, cJSON_CreateString(type));
    }
}

static int build_field(conv *cv, qrow *r, cJSON *fields)
{
    cJSON *o = cJSON_CreateObject(), *t;
    hub__xlsexpr_ref self;
    const char *app;
    int likert = 0, failed = 0, rc;
    clist *l = NULL;

    if (o == NULL)
        return FS_ENOMEM;
    cJSON_AddItemToArray(fields, o);
    r->field = (int)cv->nfields++;
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "type", fs_field_type_name(r->type));
    t = row_text(cv, &cv->survey, cv->survey_name, r->row, C_LABEL, "label",
                 &failed);
    if (t != NULL)
        cJSON_AddItemToObject(o, "label", t);
    t = row_text(cv, &cv->survey, cv->survey_name, r->row, C_HINT, "hint",
                 &failed);
    if (t != NULL)
        cJSON_AddItemToObject(o, "hint", t);
    if (read_required(cv, r, &failed))
        cJSON_AddTrueToObject(o, "required");
    r->relevant = expression(cv, r, C_RELEVANT, NULL, &failed);
    t = combined_relevant(cv, r);
    if (t != NULL)
        cJSON_AddItemToObject(o, "relevant", t);
    memset(&self, 0, sizeof self);
    self.name = r->name;
    self.type = r->type;
    self.codes = r->codes;
    self.ncodes = r->ncodes;
    t = expression(cv, r, C_CONSTRAINT, &self, &failed);
    if (t != NULL)
        cJSON_AddItemToObject(o, "constraint", t);
    t = row_text(cv, &cv->survey, cv->survey_name, r->row, C_CMSG,
                 "constraint message", &failed);
    if (t != NULL)
        cJSON_AddItemToObject(o, "constraint_message", t);
    if (r->list != NULL)
        l = find_list(cv, r->list);
    if (l != NULL) {
        check_list(cv, l);
        if (r->likert) {
            cJSON *labels = cJSON_CreateArray();
            const column *nc = col_of(&cv->choices, C_NAME);

            cJSON_AddNumberToObject(o, "scale", (double)l->n);
            cJSON_AddItemToObject(o, "scale_labels", labels);
            for (size_t k = 0; labels != NULL && k < l->n; k++) {
                t = row_text(cv, &cv->choices, cv->choices_name, l->rows[k],
                             C_LABEL, "label", &failed);
                cJSON_AddItemToArray(
                    labels, t != NULL ? t
                                      : cJSON_CreateString(cell_of(
                                            &cv->choices, l->rows[k], nc)));
            }
        } else {
            cJSON_AddStringToObject(o, "choices", l->name);
            rc = read_filter(cv, r, l, o, &failed);
            if (rc == FS_ENOMEM)
                return rc;
            /* A fixed filter gave the field its own choices. */
            if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "choices")))
                l->used = 1;
        }
    }
    if (r->parent >= 0)
        cJSON_AddStringToObject(o, "section", cv->rows[r->parent].name);
    if (r->autofill != FS_AUTO_NONE) {
        cJSON_AddStringToObject(o, "auto", fs_field_auto_name(r->autofill));
        cJSON_AddTrueToObject(o, "metadata");
    }
    app = row_appearance(cv, r, &likert);
    if (app[0] != '\0')
        cJSON_AddStringToObject(o, "x_appearance", app);
    read_parameters(cv, r, o);
    read_accept(cv, r, o);
    check_unread_columns(cv, &cv->survey, cv->survey_name, r->row);
    return FS_OK;
}

/* The whole definition, when pass 1 found no problem. */
static int build(conv *cv, cJSON **out)
{
    cJSON *doc = cJSON_CreateObject(), *sections, *fields, *lists, *t;
    int rc = FS_OK;

    *out = NULL;
    if (doc == NULL)
        return FS_ENOMEM;
    cJSON_AddStringToObject(doc, "id", cv->id);
    cJSON_AddNumberToObject(doc, "version", (double)cv->version);
    cJSON_AddStringToObject(doc, "title",
                            cv->title != NULL ? cv->title : cv->id);
    cJSON_AddStringToObject(doc, "default_language", cv->deflang);
    if (cv->wave_date != NULL)
        cJSON_AddStringToObject(doc, "wave_date", cv->wave_date);
    lists = cJSON_AddObjectToObject(doc, "choice_lists");
    sections = cJSON_AddArrayToObject(doc, "sections");
    fields = cJSON_AddArrayToObject(doc, "fields");
    if (lists == NULL || sections == NULL || fields == NULL) {
        cJSON_Delete(doc);
        return FS_ENOMEM;
    }
    for (size_t i = 0; i < cv->nrows && rc == FS_OK; i++) {
        qrow *r = &cv->rows[i];

        if (r->kind == R_BEGIN && r->name[0] != '\0')
            rc = build_section(cv, r, sections);
        else if (r->kind == R_FIELD && r->type != 0 && r->name[0] != '\0')
            rc = build_field(cv, r, fields);
        else if (r->kind != R_END)
            check_unread_columns(cv, &cv->survey, cv->survey_name, r->row);
    }
    /* The lists the fields name, with the filter keys they need. */
    for (size_t i = 0; i < cv->nlists && rc == FS_OK; i++) {
        clist *l = &cv->lists[i];
        int failed = 0;

        if (!l->used)
            continue;
        if (!fs_valid_field_name(l->name)) {
            char q[48];

            char where[FS_PROBLEM_WHERE_MAX];

            problem(cv,
                    where_at(cv->choices_name, l->rows[0],
                             col_of(&cv->choices, C_LIST)->col, where,
                             sizeof where),
                    "list name '%s' is not a fieldsync name: letters, "
                    "digits and _, starting with a letter",
                    quote(l->xname, q, sizeof q));
            continue;
        }
        t = choices_json(cv, l, NULL, NULL, 1, &failed);
        if (t == NULL)
            rc = FS_ENOMEM;
        else
            cJSON_AddItemToObject(lists, l->name, t);
    }
    if (cJSON_GetArraySize(lists) == 0)
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "choice_lists");
    if (cJSON_GetArraySize(sections) == 0)
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "sections");
    if (rc != FS_OK) {
        cJSON_Delete(doc);
        return rc;
    }
    *out = doc;
    return FS_OK;
}

/* ---- the last check: fs_form_parse ----------------------------------- */

/* The cell a JSON path of the definition came from: "$.fields[3].hint"
 * is the hint cell of that field's row. */
static void cell_of_path(const conv *cv, const char *path, char *where,
                         size_t cap)
{
    unsigned long k;
    char member[40] = "", lang[LANG_MAX] = "";
    const char *sn = cv->survey_name;
    int kind = C_TYPE;
    const qrow *r = NULL;
    const column *c = NULL;

    snprintf(where, cap, "%s", sn);
    if (strncmp(path, "$.fields[", 9) == 0) {
        k = strtoul(path + 9, NULL, 10);
        for (size_t i = 0; i < cv->nrows; i++)
            if (cv->rows[i].kind == R_FIELD && cv->rows[i].field == (int)k)
                r = &cv->rows[i];
        const char *m = strchr(path + 9, ']');
        if (m != NULL && m[1] == '.') {
            size_t n = strcspn(m + 2, ".[");

            snprintf(member, sizeof member, "%.*s", (int)n, m + 2);
            if (m[2 + n] == '.')
                snprintf(lang, sizeof lang, "%.*s",
                         (int)strcspn(m + 3 + n, ".["), m + 3 + n);
        }
    } else if (strncmp(path, "$.sections[", 11) == 0) {
        k = strtoul(path + 11, NULL, 10);
        for (size_t i = 0; i < cv->nrows; i++)
            if (cv->rows[i].kind == R_BEGIN && cv->rows[i].section == (int)k)
                r = &cv->rows[i];
        kind = strstr(path, ".label") != NULL ? C_LABEL : C_NAME;
    } else {
        if (cv->settings.sheet != NULL)
            snprintf(where, cap, "%s", cv->settings_name);
        return;
    }
    if (r == NULL)
        return;
    if (strcmp(member, "label") == 0)
        kind = C_LABEL;
    else if (strcmp(member, "hint") == 0)
        kind = C_HINT;
    else if (strcmp(member, "required") == 0)
        kind = C_REQUIRED;
    else if (strcmp(member, "constraint") == 0)
        kind = C_CONSTRAINT;
    else if (strcmp(member, "constraint_message") == 0)
        kind = C_CMSG;
    else if (strcmp(member, "choice_filter") == 0)
        kind = C_FILTER;
    else if (strcmp(member, "x_appearance") == 0 ||
             strcmp(member, "scale") == 0)
        kind = C_APPEARANCE;
    else if (strcmp(member, "name") == 0 || strcmp(member, "section") == 0)
        kind = C_NAME;
    else if (strcmp(member, "relevant") == 0) {
        /* its own relevant, else the nearest group's */
        for (const qrow *g = r; g != NULL;
             g = g->parent >= 0 ? &cv->rows[g->parent] : NULL)
            if (value_of(&cv->survey, g->row, C_RELEVANT) != NULL) {
                r = g;
                kind = C_RELEVANT;
                break;
            }
    }
    /* The column of that kind in that language with a value, else the
     * first with a value, else the type column. */
    for (size_t i = 0; i < cv->survey.ncols; i++) {
        const column *cc = &cv->survey.cols[i];
        const char *lg = cc->lang[0] != '\0' ? cc->lang : cv->deflang;

        if (cc->kind != kind || cell_of(&cv->survey, r->row, cc) == NULL)
            continue;
        if (c == NULL || (lang[0] != '\0' && strcmp(lg, lang) == 0))
            c = cc;
    }
    if (c == NULL)
        c = col_of(&cv->survey, C_TYPE);
    where_at(sn, r->row, c->col, where, cap);
}

static int final_check(conv *cv, const cJSON *doc)
{
    char *text = cJSON_PrintUnformatted(doc);
    fs_problems fp;
    fs_form *f = NULL;
    int rc;

    if (text == NULL)
        return FS_ENOMEM;
    fs_problems_init(&fp);
    rc = fs_form_parse(text, strlen(text), FS_FORM_STRICT, &f, &fp);
    cJSON_free(text);
    fs_form_free(f);
    if (rc == FS_ENOMEM)
        return rc;
    for (size_t i = 0; i < fp.n; i++) {
        char where[FS_PROBLEM_WHERE_MAX];

        cell_of_path(cv, fp.items[i].where, where, sizeof where);
        problem(cv, where, "%s", fp.items[i].msg);
    }
    if (fp.dropped > 0)
        problem(cv, cv->survey_name, "and %zu more problems the definition has",
                fp.dropped);
    return rc == FS_OK ? FS_OK : FS_EMALFORMED;
}

/* ---- the conversion -------------------------------------------------- */

/* Problems in reading order: the workbook, then survey, choices and
 * settings, each by row and column. */
typedef struct ranked {
    size_t index;
    unsigned long long key;
} ranked;

static unsigned long long rank_of(const conv *cv, const char *where,
                                  size_t index)
{
    const char *bang = strchr(where, '!');
    size_t n = bang != NULL ? (size_t)(bang - where) : strlen(where);
    unsigned long long sheet = 4, row = 0, col = 0;
    const char *names[] = {"workbook", cv->survey_name, cv->choices_name,
                           cv->settings_name};
    unsigned c;

    for (unsigned k = 0; k < 4; k++)
        if (names[k] != NULL && strlen(names[k]) == n &&
            strncmp(names[k], where, n) == 0)
            sheet = k;
    if (bang != NULL) {
        for (c = 0; bang[1 + c] >= 'A' && bang[1 + c] <= 'Z' && c < 3; c++)
            col = col * 26 + (unsigned long long)(bang[1 + c] - 'A' + 1);
        row = strtoul(bang + 1 + c, NULL, 10);
    }
    return (sheet << 60) | ((row & 0xFFFFF) << 40) | ((col & 0xFFFF) << 24) |
           (index & 0xFFFFFF);
}

static int ranked_cmp(const void *a, const void *b)
{
    unsigned long long x = ((const ranked *)a)->key;
    unsigned long long y = ((const ranked *)b)->key;

    return x < y ? -1 : x > y;
}

static void sort_problems(const conv *cv, hub__xlsform_problems *p)
{
    ranked *r;
    hub__xlsform_problem *sorted;

    if (p->n < 2)
        return;
    r = malloc(p->n * sizeof *r);
    sorted = malloc(p->n * sizeof *sorted);
    if (r != NULL && sorted != NULL) {
        for (size_t i = 0; i < p->n; i++) {
            r[i].index = i;
            r[i].key = rank_of(cv, p->items[i].where, i);
        }
        qsort(r, p->n, sizeof *r, ranked_cmp);
        for (size_t i = 0; i < p->n; i++)
            sorted[i] = p->items[r[i].index];
        free(p->items);
        p->items = sorted;
        p->cap = p->n;
        sorted = NULL;
    }
    /* Without the memory to sort, unsorted is still every problem. */
    free(sorted);
    free(r);
}

static int load(conv *cv, const char *name, table *t, const char **tname)
{
    int i = hub__xlsx_find_sheet(cv->book, name);

    *tname = name;
    if (i < 0)
        return FS_OK;
    fs_problems fp;
    int rc;

    *tname = hub__xlsx_sheet_name(cv->book, (size_t)i);
    fs_problems_init(&fp);
    rc = hub__xlsx_read_sheet(cv->book, (size_t)i, &t->sheet, &fp);
    add_problems(cv, &fp);
    return rc;
}

int hub__xlsform_convert(const void *data, size_t len, const char *fallback_id,
                         const hub__xlsx_limits *lim, cJSON **out,
                         hub__xlsform_problems *p)
{
    static const char *const refused_sheets[][2] = {
        {"external_choices", "external choices are not supported: put the "
                             "choices in the choices sheet"},
        {"entities", "ODK entities are not supported"},
    };
    conv cv;
    cJSON *doc = NULL;
    int rc;

    *out = NULL;
    memset(&cv, 0, sizeof cv);
    cv.p = p;
    {
        fs_problems fp;

        fs_problems_init(&fp);
        rc = hub__xlsx_open(data, len, lim, &cv.book, &fp);
        for (size_t i = 0; i < fp.n; i++)
            add_problem(p,
                        fp.items[i].where[0] != '\0' ? fp.items[i].where
                                                     : "workbook",
                        fp.items[i].msg);
        if (rc != FS_OK)
            return rc;
    }
    rc = load(&cv, "survey", &cv.survey, &cv.survey_name);
    if (rc == FS_OK)
        rc = load(&cv, "choices", &cv.choices, &cv.choices_name);
    if (rc == FS_OK)
        rc = load(&cv, "settings", &cv.settings, &cv.settings_name);
    if (rc != FS_OK)
        goto out;
    if (cv.survey.sheet == NULL) {
        problem(&cv, "workbook",
                "no sheet named survey: an XLSForm has a "
                "survey sheet, and choices and settings "
                "sheets when it needs them");
        rc = FS_EMALFORMED;
        goto out;
    }
    for (size_t i = 0; i < sizeof refused_sheets / sizeof refused_sheets[0];
         i++)
        if (hub__xlsx_find_sheet(cv.book, refused_sheets[i][0]) >= 0) {
            char where[FS_PROBLEM_WHERE_MAX];

            snprintf(where, sizeof where, "%s!A1",
                     hub__xlsx_sheet_name(cv.book,
                                          (size_t)hub__xlsx_find_sheet(
                                              cv.book, refused_sheets[i][0])));
            problem(&cv, where, "%s", refused_sheets[i][1]);
        }
    read_settings(&cv, fallback_id);
    rc = read_headers(&cv, &cv.survey, cv.survey_name, 0);
    if (rc == FS_OK)
        rc = read_headers(&cv, &cv.choices, cv.choices_name, 1);
    if (rc != FS_OK)
        goto out;
    default_language(&cv);
    rc = read_choices(&cv);
    if (rc == FS_OK)
        rc = read_rows(&cv);
    if (rc != FS_OK)
        goto out;
    read_selects(&cv);
    rc = build(&cv, &doc);
    if (rc != FS_OK)
        goto out;
    if (cv.problems == 0)
        rc = final_check(&cv, doc);
out:
    if (rc == FS_OK && cv.problems > 0)
        rc = FS_EMALFORMED;
    sort_problems(&cv, p);
    if (rc == FS_OK) {
        *out = doc;
        doc = NULL;
    }
    cJSON_Delete(doc);
    for (size_t i = 0; i < cv.nrows; i++)
        cJSON_Delete(cv.rows[i].relevant);
    free(cv.rows);
    for (size_t i = 0; i < cv.nlists; i++)
        free(cv.lists[i].rows);
    free(cv.lists);
    free(cv.survey.cols);
    free(cv.choices.cols);
    hub__xlsx_free(cv.book);
    return rc;
}

void hub__xlsform_id_from_path(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/'), *dot;
    size_t n = 0, len;

    base = base != NULL ? base + 1 : path;
    dot = strrchr(base, '.');
    len = dot != NULL && dot != base ? (size_t)(dot - base) : strlen(base);
    if (cap == 0)
        return;
    for (size_t i = 0; i < len && n + 1 < cap && n < FS_ID_MAX; i++) {
        char c = lower(base[i]);

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out[n++] = c;
        else if (n > 0 && out[n - 1] != '_')
            out[n++] = '_';
    }
    while (n > 0 && out[n - 1] == '_')
        n--;
    out[n] = '\0';
    if (!fs_valid_form_id(out))
        out[0] = '\0';
}

int hub__xlsform_is_xlsx(const void *data, size_t len)
{
    return len >= 4 && memcmp(data, "PK\x03\x04", 4) == 0;
}
