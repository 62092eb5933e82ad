/*
 * form.c - form definitions: parsing with every problem reported by JSON
 * path, accessors for the agent's and hub's use, and the version rules.
 * schema/FORMS.md is the normative description.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form_int.h"

/* ---- problem lists --------------------------------------------------- */

void fs_problems_init(fs_problems *p)
{
    if (p != NULL) {
        p->n = 0;
        p->dropped = 0;
    }
}

void fs__problems_vadd(fs_problems *p, const char *where, const char *fmt,
                       va_list ap)
{
    char msg[FS_PROBLEM_MSG_MAX + 64];
    fs_problem *it;

    if (p == NULL)
        return;
    if (p->n >= FS_PROBLEMS_MAX) {
        p->dropped++;
        return;
    }
    it = &p->items[p->n++];
    fs__snippet(where != NULL ? where : "", it->where, sizeof it->where);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
        msg[0] = '\0';
    fs__snippet(msg, it->msg, sizeof it->msg);
}

void fs_problems_add(fs_problems *p, const char *where, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fs__problems_vadd(p, where, fmt, ap);
    va_end(ap);
}

size_t fs_problems_total(const fs_problems *p)
{
    return p != NULL ? p->n + p->dropped : 0;
}

size_t fs_problems_format(const fs_problems *p, const char *sep, char *out,
                          size_t cap)
{
    size_t used = 0, i, total = fs_problems_total(p);
    char more[32];

    if (cap == 0)
        return 0;
    out[0] = '\0';
    if (p == NULL)
        return 0;
    for (i = 0; i < p->n; i++) {
        char one[FS_PROBLEM_WHERE_MAX + FS_PROBLEM_MSG_MAX + 8];
        int w = snprintf(one, sizeof one, "%s%s: %s", i ? sep : "",
                         p->items[i].where, p->items[i].msg);
        size_t left = total - i - 1;
        size_t reserve = left > 0 ? 16 : 0; /* room for "(+N more)" */

        if (w < 0 || used + (size_t)w + reserve >= cap)
            break;
        memcpy(out + used, one, (size_t)w + 1);
        used += (size_t)w;
    }
    if (i < total) {
        int w = snprintf(more, sizeof more, "%s(+%zu more)", i ? " " : "",
                         total - i);

        if (w > 0 && used + (size_t)w < cap) {
            memcpy(out + used, more, (size_t)w + 1);
            used += (size_t)w;
        }
    }
    return used;
}

/* ---- parse context --------------------------------------------------- */

typedef struct pctx {
    fs_problems *p;
    size_t count; /* problems found, including those p could not hold */
    int strict;
    fs_form *f;
} pctx;

static void prob(pctx *c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void prob(pctx *c, const char *where, const char *fmt, ...)
{
    va_list ap;

    c->count++;
    va_start(ap, fmt);
    fs__problems_vadd(c->p, where, fmt, ap);
    va_end(ap);
}

/* snprintf for paths: a path cut short still says where to look. */
static void pathf(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void pathf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(out, cap, fmt, ap) < 0 && cap > 0)
        out[0] = '\0';
    va_end(ap);
}

/* path = base + suffix, cut to fit. */
static void subpath(char *out, size_t cap, const char *base, const char *suffix)
{
    pathf(out, cap, "%s%s", base, suffix);
}

static void subpath_i(char *out, size_t cap, const char *base,
                      const char *member, size_t i)
{
    pathf(out, cap, "%s%s[%zu]", base, member, i);
}

static const cJSON *member(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* In strict mode, members of o not in known[] (and not "x_...") are
 * problems: a typo would otherwise be ignored silently. */
static void unknown_members(pctx *c, const cJSON *o, const char *path,
                            const char *const *known)
{
    const cJSON *m;

    if (!c->strict)
        return;
    cJSON_ArrayForEach(m, o)
    {
        size_t k;
        int ok = strncmp(m->string, "x_", 2) == 0;
        char where[FS_PROBLEM_WHERE_MAX];
        char snip[40];

        for (k = 0; !ok && known[k] != NULL; k++)
            ok = strcmp(known[k], m->string) == 0;
        if (ok)
            continue;
        fs__snippet(m->string, snip, sizeof snip);
        subpath(where, sizeof where, path, "");
        prob(c, where, "unknown member '%s' (a typo? extensions start with x_)",
             snip);
    }
}

/* Language tags: [a-z]{2,3} with an optional -[A-Za-z0-9]{1,8}. */
static int valid_lang(const char *s)
{
    size_t i = 0, k;

    while (s[i] >= 'a' && s[i] <= 'z')
        i++;
    if (i < 2 || i > 3)
        return 0;
    if (s[i] == '\0')
        return 1;
    if (s[i] != '-')
        return 0;
    for (k = ++i; (s[k] >= 'a' && s[k] <= 'z') ||
                  (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9');)
        k++;
    return s[k] == '\0' && k - i >= 1 && k - i <= 8;
}

static void check_one_text(pctx *c, const cJSON *s, const char *where)
{
    size_t n = strlen(s->valuestring);

    if (n == 0)
        prob(c, where, "empty text");
    else if (n > FS__FORM_TEXT_MAX)
        prob(c, where, "text longer than %d bytes", FS__FORM_TEXT_MAX);
}

/* A text is a string (in the default language) or an object of strings
 * by language that includes the default language, so fallback always
 * finds something. */
static void check_text(pctx *c, const cJSON *t, const char *path, int required)
{
    const cJSON *m;
    size_t n = 0;
    char where[FS_PROBLEM_WHERE_MAX];

    if (t == NULL) {
        if (required)
            prob(c, path,
                 "required: a text, or an object of texts by "
                 "language");
        return;
    }
    if (cJSON_IsString(t)) {
        check_one_text(c, t, path);
        return;
    }
    if (!cJSON_IsObject(t)) {
        prob(c, path,
             "must be a text, or an object of texts by language "
             "such as {\"en\": \"...\", \"fr\": \"...\"}");
        return;
    }
    cJSON_ArrayForEach(m, t)
    {
        char snip[24];

        fs__snippet(m->string, snip, sizeof snip);
        pathf(where, sizeof where, "%s.%s", path, snip);
        if (++n > FS__FORM_LANGS_MAX) {
            prob(c, path, "more than %d languages", FS__FORM_LANGS_MAX);
            break;
        }
        if (!valid_lang(m->string))
            prob(c, where, "not a language code (such as en, fr, pt-BR)");
        if (!cJSON_IsString(m))
            prob(c, where, "must be a text");
        else
            check_one_text(c, m, where);
    }
    if (c->f->lang != NULL && !cJSON_IsString(member(t, c->f->lang)))
        prob(c, path, "no text in the default language '%s'", c->f->lang);
}

static int get_bool(pctx *c, const cJSON *o, const char *key, const char *path)
{
    const cJSON *b = member(o, key);
    char where[FS_PROBLEM_WHERE_MAX];

    if (b == NULL)
        return 0;
    if (!cJSON_IsBool(b)) {
        pathf(where, sizeof where, "%s.%s", path, key);
        prob(c, where, "must be true or false");
        return 0;
    }
    return cJSON_IsTrue(b);
}

/* ---- choices --------------------------------------------------------- */

/* A choice's filter: an object of up to 8 keys (field-name syntax), each
 * a code, that a field's choice_filter compares with an earlier answer. */
static void check_filter(pctx *c, const cJSON *flt, const char *path)
{
    const cJSON *m;
    size_t n = 0;

    if (!cJSON_IsObject(flt)) {
        prob(c, path, "must be an object of keys and codes");
        return;
    }
    cJSON_ArrayForEach(m, flt)
    {
        char where[FS_PROBLEM_WHERE_MAX], snip[40];

        fs__snippet(m->string, snip, sizeof snip);
        pathf(where, sizeof where, "%s.%s", path, snip);
        if (++n > FS__FILTER_KEYS_MAX) {
            prob(c, path, "more than %d keys", FS__FILTER_KEYS_MAX);
            return;
        }
        if (!fs_valid_field_name(m->string))
            prob(c, where,
                 "a key is lower-case letters, digits and _, "
                 "starting with a letter");
        if (!cJSON_IsString(m) || !fs_valid_choice_code(m->valuestring))
            prob(c, where, "must be a code (letters, digits and . _ + -)");
    }
}

static int parse_choices(pctx *c, const cJSON *arr, const char *path,
                         fs__choice **out, size_t *nout)
{
    static const char *const known[] = {"value", "label", "filter", NULL};
    size_t n, i = 0, j;
    const cJSON *it;
    fs__choice *items;

    *out = NULL;
    *nout = 0;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        prob(c, path, "must be a non-empty array of choices");
        return FS_OK;
    }
    n = (size_t)cJSON_GetArraySize(arr);
    if (n > FS__FORM_CHOICES_MAX) {
        prob(c, path, "more than %d choices", FS__FORM_CHOICES_MAX);
        return FS_OK;
    }
    items = calloc(n, sizeof *items);
    if (items == NULL)
        return FS_ENOMEM;
    cJSON_ArrayForEach(it, arr)
    {
        char where[FS_PROBLEM_WHERE_MAX], lwhere[FS_PROBLEM_WHERE_MAX];
        const cJSON *v = it;

        subpath_i(where, sizeof where, path, "", i);
        if (cJSON_IsObject(it)) {
            unknown_members(c, it, where, known);
            v = member(it, "value");
            pathf(lwhere, sizeof lwhere, "%s.label", where);
            check_text(c, member(it, "label"), lwhere, 0);
            items[i].label = member(it, "label");
            if (member(it, "filter") != NULL) {
                pathf(lwhere, sizeof lwhere, "%s.filter", where);
                check_filter(c, member(it, "filter"), lwhere);
                items[i].filter = member(it, "filter");
            }
            pathf(where, sizeof where, "%s[%zu].value", path, i);
        }
        if (!cJSON_IsString(v) || !fs_valid_choice_code(v->valuestring)) {
            prob(c, where,
                 "a choice is a code (letters, digits and . _ + "
                 "-, at most 64) or {\"value\": code, \"label\": "
                 "text}");
            items[i].value = "";
        } else {
            items[i].value = v->valuestring;
            for (j = 0; j < i; j++)
                if (strcmp(items[j].value, v->valuestring) == 0)
                    prob(c, where, "'%s' is already choice %zu", v->valuestring,
                         j);
        }
        i++;
    }
    *out = items;
    *nout = n;
    return FS_OK;
}

static int parse_lists(pctx *c, const cJSON *lists)
{
    const cJSON *m;
    size_t n, i = 0;
    fs_form *f = c->f;

    if (lists == NULL)
        return FS_OK;
    if (!cJSON_IsObject(lists)) {
        prob(c, "$.choice_lists", "must be an object of named choice lists");
        return FS_OK;
    }
    n = (size_t)cJSON_GetArraySize(lists);
    if (n > FS__FORM_LISTS_MAX) {
        prob(c, "$.choice_lists", "more than %d lists", FS__FORM_LISTS_MAX);
        return FS_OK;
    }
    f->lists = calloc(n ? n : 1, sizeof *f->lists);
    if (f->lists == NULL)
        return FS_ENOMEM;
    cJSON_ArrayForEach(m, lists)
    {
        char where[FS_PROBLEM_WHERE_MAX], snip[48];
        int rc;

        fs__snippet(m->string, snip, sizeof snip);
        pathf(where, sizeof where, "$.choice_lists.%s", snip);
        if (!fs_valid_field_name(m->string))
            prob(c, where,
                 "a list name is lower-case letters, digits and "
                 "_, starting with a letter");
        f->lists[i].name = m->string;
        rc = parse_choices(c, m, where, &f->lists[i].items, &f->lists[i].n);
        f->nlists = ++i;
        if (rc != FS_OK)
            return rc;
    }
    return FS_OK;
}

static const fs__choice_list *find_list(const fs_form *f, const char *name)
{
    size_t i;

    for (i = 0; i < f->nlists; i++)
        if (strcmp(f->lists[i].name, name) == 0)
            return &f->lists[i];
    return NULL;
}

int fs__choice_has(const fs_field *fld, const char *code)
{
    size_t i;

    for (i = 0; i < fld->nchoices; i++)
        if (strcmp(fld->choices[i].value, code) == 0)
            return 1;
    return 0;
}

/* ---- sections --------------------------------------------------------- */

static int find_section(const fs_form *f, const char *name)
{
    size_t i;

    for (i = 0; i < f->nsections; i++)
        if (strcmp(f->sections[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Sections: an array of {name, label, within}; within names an earlier
 * section, so nesting has no cycles. */
static int parse_sections(pctx *c, const cJSON *secs)
{
    static const char *const known[] = {"name", "label", "within", NULL};
    fs_form *f = c->f;
    const cJSON *o;
    size_t n, i = 0;

    if (secs == NULL)
        return FS_OK;
    if (!cJSON_IsArray(secs) || cJSON_GetArraySize(secs) == 0 ||
        cJSON_GetArraySize(secs) > FS__FORM_SECTIONS_MAX) {
        prob(c, "$.sections", "must be an array of 1 to %d sections",
             FS__FORM_SECTIONS_MAX);
        return FS_OK;
    }
    n = (size_t)cJSON_GetArraySize(secs);
    f->sections = calloc(n, sizeof *f->sections);
    if (f->sections == NULL)
        return FS_ENOMEM;
    cJSON_ArrayForEach(o, secs)
    {
        fs__section *sec = &f->sections[i];
        const cJSON *nm = member(o, "name"), *in = member(o, "within");
        char path[FS_PROBLEM_WHERE_MAX], where[FS_PROBLEM_WHERE_MAX];

        subpath_i(path, sizeof path, "$.sections", "", i);
        sec->name = "";
        sec->within = -1;
        f->nsections = ++i;
        if (!cJSON_IsObject(o)) {
            prob(c, path, "a section is an object with a name");
            continue;
        }
        unknown_members(c, o, path, known);
        subpath(where, sizeof where, path, ".name");
        if (!cJSON_IsString(nm) || !fs_valid_field_name(nm->valuestring))
            prob(c, where,
                 "required: lower-case letters, digits and _ (at "
                 "most 64), starting with a letter");
        else if (find_section(f, nm->valuestring) >= 0)
            prob(c, where, "'%s' is already a section", nm->valuestring);
        else
            sec->name = nm->valuestring;
        subpath(where, sizeof where, path, ".label");
        check_text(c, member(o, "label"), where, 0);
        sec->label = member(o, "label");
        if (in != NULL) {
            subpath(where, sizeof where, path, ".within");
            if (!cJSON_IsString(in) || find_section(f, in->valuestring) < 0 ||
                strcmp(in->valuestring, sec->name) == 0)
                prob(c, where, "must name an earlier section");
            else
                sec->within = find_section(f, in->valuestring);
        }
    }
    return FS_OK;
}

/* 1 when section s is inner (or equal) to section outer. */
static int section_in(const fs_form *f, int s, int outer)
{
    while (s >= 0 && s != outer)
        s = f->sections[s].within;
    return s == outer && s >= 0;
}

/* The fields of a section (its inner sections' included) follow each
 * other, as questions of a group do, so that the form reads as nested
 * groups; and no section shares its name with a field. */
static void check_section_order(pctx *c)
{
    const fs_form *f = c->f;
    size_t i, k;
    int prev = -1;

    for (i = 0; i < f->nfields; i++) {
        int s = f->fields[i].section;

        if (s == prev)
            continue;
        /* The sections s is in that prev is not in are being entered:
         * none of their fields may have come before. */
        for (int e = s; e >= 0 && !section_in(f, prev, e);
             e = f->sections[e].within) {
            for (k = 0; k < i; k++) {
                if (section_in(f, f->fields[k].section, e)) {
                    char where[FS_PROBLEM_WHERE_MAX];

                    pathf(where, sizeof where, "$.fields[%zu].section", i);
                    prob(c, where,
                         "the fields of section '%s' must follow "
                         "each other ('%s' is apart from them)",
                         f->sections[e].name, f->fields[k].name);
                    break;
                }
            }
        }
        prev = s;
    }
    for (k = 0; k < f->nsections; k++) {
        if (f->sections[k].name[0] != '\0' &&
            fs_form_field_named(f, f->sections[k].name) != NULL) {
            char where[FS_PROBLEM_WHERE_MAX];

            pathf(where, sizeof where, "$.sections[%zu].name", k);
            prob(c, where, "'%s' is also the name of a field",
                 f->sections[k].name);
        }
    }
}

/* ---- field types ----------------------------------------------------- */

static const struct {
    const char *name;
    fs_field_type type;
} type_names[] = {
    {"text", FS_FIELD_TEXT},
    {"integer", FS_FIELD_INTEGER},
    {"decimal", FS_FIELD_DECIMAL},
    {"select_one", FS_FIELD_SELECT_ONE},
    {"select_multiple", FS_FIELD_SELECT_MULTIPLE},
    {"likert", FS_FIELD_LIKERT},
    {"date", FS_FIELD_DATE},
    {"datetime", FS_FIELD_DATETIME},
    {"geopoint", FS_FIELD_GEOPOINT},
    {"note", FS_FIELD_NOTE},
    {"image", FS_FIELD_IMAGE},
    {"audio", FS_FIELD_AUDIO},
    {"file", FS_FIELD_FILE},
};

const char *fs_field_type_name(fs_field_type t)
{
    size_t i;

    for (i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].type == t)
            return type_names[i].name;
    return "unknown";
}

static fs_field_type type_from_name(const char *s)
{
    size_t i;

    for (i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(type_names[i].name, s) == 0)
            return type_names[i].type;
    return (fs_field_type)0;
}

static const char *const kind_names[] = {NULL, "survey", "focus_group",
                                         "interview", "observation"};

const char *fs_form_kind_name(fs_form_kind k)
{
    return k >= FS_FORM_SURVEY && k <= FS_FORM_OBSERVATION ? kind_names[k]
                                                           : "unknown";
}

static int is_select(fs_field_type t)
{
    return t == FS_FIELD_SELECT_ONE || t == FS_FIELD_SELECT_MULTIPLE;
}

static int is_number(fs_field_type t)
{
    return t == FS_FIELD_INTEGER || t == FS_FIELD_DECIMAL ||
           t == FS_FIELD_LIKERT;
}

/* ---- conditions (skip logic) ----------------------------------------- */

static const char *const cond_ops[] = {"eq",       "ne",      "lt", "le",
                                       "gt",       "ge",      "in", "contains",
                                       "answered", "matches", NULL};

/* A comparison value of the type field ref's answers have. */
static void check_cond_value(pctx *c, const fs_field *ref, const cJSON *v,
                             const char *where)
{
    double d;

    switch (ref->type) {
    case FS_FIELD_SELECT_ONE:
    case FS_FIELD_SELECT_MULTIPLE:
        if (!cJSON_IsString(v) || !fs__choice_has(ref, v->valuestring))
            prob(c, where, "must be one of the choices of '%s'", ref->name);
        break;
    case FS_FIELD_TEXT:
        if (!cJSON_IsString(v))
            prob(c, where, "must be a text, as '%s' is", ref->name);
        break;
    case FS_FIELD_INTEGER:
    case FS_FIELD_DECIMAL:
    case FS_FIELD_LIKERT:
        if (!cJSON_IsNumber(v))
            prob(c, where, "must be a number, as '%s' is", ref->name);
        break;
    case FS_FIELD_DATE:
        if (!cJSON_IsString(v) || fs__date_parse(v->valuestring, &d) != 0)
            prob(c, where, "must be a date YYYY-MM-DD, as '%s' is", ref->name);
        break;
    case FS_FIELD_DATETIME:
        if (!cJSON_IsString(v) || fs__datetime_parse(v->valuestring, &d) != 0)
            prob(c, where,
                 "must be a date-time such as "
                 "2026-03-01T14:30:00Z, as '%s' is",
                 ref->name);
        break;
    default:
        prob(c, where, "'%s' cannot be compared", ref->name);
        break;
    }
}

/* "of": the length of a text or the number of choices made, compared
 * with a whole number by eq .. ge. */
static void check_cond_of(pctx *c, const fs_field *ref, const cJSON *of,
                          const char *op, const cJSON *v, const char *path)
{
    char where[FS_PROBLEM_WHERE_MAX];
    int length = cJSON_IsString(of) && strcmp(of->valuestring, "length") == 0;
    int count = cJSON_IsString(of) && strcmp(of->valuestring, "count") == 0;

    subpath(where, sizeof where, path, ".of");
    if (!length && !count) {
        prob(c, where, "must be length or count");
        return;
    }
    if (length && ref->type != FS_FIELD_TEXT)
        prob(c, where, "length applies to text fields");
    if (count && ref->type != FS_FIELD_SELECT_MULTIPLE)
        prob(c, where, "count applies to select_multiple fields");
    if (strcmp(op, "in") == 0 || strcmp(op, "contains") == 0 ||
        strcmp(op, "answered") == 0 || strcmp(op, "matches") == 0) {
        subpath(where, sizeof where, path, ".op");
        prob(c, where, "with of, op is eq, ne, lt, le, gt or ge");
        return;
    }
    subpath(where, sizeof where, path, ".value");
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
        v->valuedouble > FS__TEXT_LENGTH_MAX ||
        v->valuedouble != floor(v->valuedouble))
        prob(c, where, "must be a whole number from 0 to %d",
             FS__TEXT_LENGTH_MAX);
}

/* A condition (FORMS.md, section 5). self_ok: the condition is a
 * constraint, which may also name its own field. */
static void check_cond(pctx *c, const fs_field *self, const cJSON *cond,
                       const char *path, int depth, size_t *terms, int self_ok)
{
    static const char *const known[] = {"field", "op", "value", "of", NULL};
    const cJSON *all = member(cond, "all"), *any = member(cond, "any");
    const cJSON *neg = member(cond, "not");
    const cJSON *fn, *opn, *v, *it;
    const fs_field *ref = NULL;
    const char *op;
    char where[FS_PROBLEM_WHERE_MAX];
    size_t i;

    if (!cJSON_IsObject(cond)) {
        prob(c, path,
             "a condition is {\"field\", \"op\", \"value\"} or "
             "{\"all\": [...]} or {\"any\": [...]}");
        return;
    }
    if (neg != NULL && all == NULL && any == NULL) {
        if (cJSON_GetArraySize(cond) != 1) {
            prob(c, path, "not stands alone in its object");
            return;
        }
        if (depth >= FS__COND_DEPTH_MAX) {
            prob(c, path, "conditions nest at most %d deep",
                 FS__COND_DEPTH_MAX);
            return;
        }
        subpath(where, sizeof where, path, ".not");
        check_cond(c, self, neg, where, depth + 1, terms, self_ok);
        return;
    }
    if (all != NULL || any != NULL) {
        const cJSON *list = all != NULL ? all : any;

        subpath(where, sizeof where, path, all != NULL ? ".all" : ".any");
        if (cJSON_GetArraySize(cond) != 1) {
            prob(c, path, "all or any stands alone in its object");
            return;
        }
        if (depth >= FS__COND_DEPTH_MAX) {
            prob(c, path, "conditions nest at most %d deep",
                 FS__COND_DEPTH_MAX);
            return;
        }
        if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0) {
            prob(c, where, "must be a non-empty array of conditions");
            return;
        }
        i = 0;
        cJSON_ArrayForEach(it, list)
        {
            char sub[FS_PROBLEM_WHERE_MAX];

            subpath_i(sub, sizeof sub, where, "", i++);
            check_cond(c, self, it, sub, depth + 1, terms, self_ok);
        }
        return;
    }
    if (++*terms > FS__COND_TERMS_MAX) {
        if (*terms == FS__COND_TERMS_MAX + 1)
            prob(c, path, "more than %d comparisons", FS__COND_TERMS_MAX);
        return;
    }
    unknown_members(c, cond, path, known);
    fn = member(cond, "field");
    opn = member(cond, "op");
    v = member(cond, "value");
    subpath(where, sizeof where, path, ".field");
    if (!cJSON_IsString(fn)) {
        prob(c, where, "required: the name of an earlier field");
    } else {
        ref = fs_form_field_named(c->f, fn->valuestring);
        if (ref == NULL) {
            prob(c, where, "no field is named '%s'", fn->valuestring);
        } else if (self_ok && ref == self) {
            /* a constraint on the field's own answer */
        } else if (ref->index >= self->index) {
            prob(c, where,
                 "'%s' is not an earlier field; conditions look "
                 "back only",
                 fn->valuestring);
            ref = NULL;
        } else if (ref->type == FS_FIELD_NOTE) {
            prob(c, where, "'%s' is a note and has no answer", fn->valuestring);
            ref = NULL;
        }
    }
    subpath(where, sizeof where, path, ".op");
    op = cJSON_IsString(opn) ? opn->valuestring : "";
    for (i = 0; cond_ops[i] != NULL; i++)
        if (strcmp(cond_ops[i], op) == 0)
            break;
    if (cond_ops[i] == NULL) {
        prob(c, where,
             "must be one of eq, ne, lt, le, gt, ge, in, "
             "contains, answered, matches");
        return;
    }
    if (ref == NULL)
        return;
    if (member(cond, "of") != NULL) {
        check_cond_of(c, ref, member(cond, "of"), op, v, path);
        return;
    }
    subpath(where, sizeof where, path, ".value");
    if (strcmp(op, "matches") == 0) {
        fs__pattern pat;
        char why[FS_PROBLEM_MSG_MAX];

        if (ref->type != FS_FIELD_TEXT)
            prob(c, path, "matches applies to text fields");
        else if (!cJSON_IsString(v))
            prob(c, where, "required for matches: a pattern");
        else if (fs__pattern_compile(v->valuestring, &pat, why, sizeof why) !=
                 FS_OK)
            prob(c, where, "%s", why);
        return;
    }
    if (strcmp(op, "answered") == 0) {
        if (v != NULL)
            prob(c, where, "answered takes no value");
        return;
    }
    if (v == NULL) {
        prob(c, where, "required for op %s", op);
        return;
    }
    if (strcmp(op, "contains") == 0) {
        if (ref->type != FS_FIELD_SELECT_MULTIPLE)
            prob(c, path, "contains applies to select_multiple fields");
        else
            check_cond_value(c, ref, v, where);
        return;
    }
    if (ref->type == FS_FIELD_SELECT_MULTIPLE ||
        ref->type == FS_FIELD_GEOPOINT) {
        prob(c, path, "a %s field takes only %s", fs_field_type_name(ref->type),
             ref->type == FS_FIELD_GEOPOINT ? "answered"
                                            : "contains or "
                                              "answered");
        return;
    }
    if (op[0] == 'l' || op[0] == 'g') {
        if (!is_number(ref->type) && ref->type != FS_FIELD_DATE &&
            ref->type != FS_FIELD_DATETIME) {
            prob(c, path, "%s compares numbers, dates and date-times only", op);
            return;
        }
    }
    if (strcmp(op, "in") == 0) {
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0 ||
            cJSON_GetArraySize(v) > FS__COND_IN_MAX) {
            prob(c, where, "in takes an array of 1 to %d values",
                 FS__COND_IN_MAX);
            return;
        }
        i = 0;
        cJSON_ArrayForEach(it, v)
        {
            char sub[FS_PROBLEM_WHERE_MAX];

            subpath_i(sub, sizeof sub, where, "", i++);
            check_cond_value(c, ref, it, sub);
        }
        return;
    }
    check_cond_value(c, ref, v, where);
}

/* ---- fields ---------------------------------------------------------- */

/* Reads an optional integer member in lo..hi into *out (-1 when absent). */
static void get_long(pctx *c, const cJSON *o, const char *key, const char *path,
                     long lo, long hi, long *out)
{
    int64_t v;
    int r = fs__json_int(o, key, &v);
    char where[FS_PROBLEM_WHERE_MAX];

    *out = -1;
    if (r == FS__FIELD_MISSING)
        return;
    pathf(where, sizeof where, "%s.%s", path, key);
    if (r != FS__FIELD_OK || v < lo || v > hi) {
        prob(c, where, "must be a whole number from %ld to %ld", lo, hi);
        return;
    }
    *out = (long)v;
}

/* min/max of numbers, dates and date-times, in comparable units. */
static void get_bound(pctx *c, fs_field *fld, const cJSON *o, const char *key,
                      const char *path, int *has, double *out)
{
    const cJSON *b = member(o, key);
    char where[FS_PROBLEM_WHERE_MAX];

    *has = 0;
    if (b == NULL)
        return;
    pathf(where, sizeof where, "%s.%s", path, key);
    switch (fld->type) {
    case FS_FIELD_INTEGER:
        if (!cJSON_IsNumber(b) || fabs(b->valuedouble) > FS__JSON_INT_MAX ||
            b->valuedouble != floor(b->valuedouble)) {
            prob(c, where, "must be a whole number");
            return;
        }
        *out = b->valuedouble;
        break;
    case FS_FIELD_DECIMAL:
        if (!cJSON_IsNumber(b)) {
            prob(c, where, "must be a number");
            return;
        }
        *out = b->valuedouble;
        break;
    case FS_FIELD_DATE:
        if (!cJSON_IsString(b) || fs__date_parse(b->valuestring, out) != 0) {
            prob(c, where, "must be a date YYYY-MM-DD");
            return;
        }
        break;
    case FS_FIELD_DATETIME:
        if (!cJSON_IsString(b) ||
            fs__datetime_parse(b->valuestring, out) != 0) {
            prob(c, where,
                 "must be a date-time such as "
                 "2026-03-01T14:30:00Z");
            return;
        }
        break;
    default:
        prob(c, where,
             "%s applies to integer, decimal, date and datetime "
             "fields",
             key);
        return;
    }
    *has = 1;
}

/* Constraint members that only some types take. */
static void only_for(pctx *c, const cJSON *o, const char *key, const char *path,
                     int applies, const char *types)
{
    char where[FS_PROBLEM_WHERE_MAX];

    if (applies || member(o, key) == NULL)
        return;
    pathf(where, sizeof where, "%s.%s", path, key);
    prob(c, where, "applies to %s fields only", types);
}

/* ---- attachment fields ----------------------------------------------- */

int fs_field_type_is_attachment(fs_field_type t)
{
    return t == FS_FIELD_IMAGE || t == FS_FIELD_AUDIO || t == FS_FIELD_FILE;
}

/* A content type as "major/minor": lower-case letters, digits and
 * "+-." on both sides of one slash. */
static int valid_ctype(const char *s)
{
    size_t i, major = 0, minor = 0;
    int slash = 0;

    for (i = 0; s[i] != '\0' && i < 128; i++) {
        char ch = s[i];

        if (ch == '/' && !slash && major > 0) {
            slash = 1;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                   ch == '+' || ch == '-' || ch == '.') {
            if (slash)
                minor++;
            else
                major++;
        } else {
            return 0;
        }
    }
    return s[i] == '\0' && slash && minor > 0;
}

/* The major type an image or audio field's content types must have. */
static const char *attach_major(fs_field_type t)
{
    return t == FS_FIELD_IMAGE ? "image/" : t == FS_FIELD_AUDIO ? "audio/" : "";
}

/* max_bytes and content_types (FORMS.md, attachment fields). */
static void parse_attachment(pctx *c, fs_field *fld, const cJSON *o,
                             const char *path)
{
    char where[FS_PROBLEM_WHERE_MAX];
    const cJSON *ct, *it;
    size_t i = 0;

    if (!fs_field_type_is_attachment(fld->type)) {
        only_for(c, o, "max_bytes", path, 0, "image, audio and file");
        only_for(c, o, "content_types", path, 0, "image, audio and file");
        only_for(c, o, "max_pixels", path, 0, "image");
        return;
    }
    get_long(c, o, "max_bytes", path, 1, FS__ATTACH_BYTES_MAX, &fld->max_bytes);
    if (fld->max_bytes < 0)
        fld->max_bytes = FS__ATTACH_BYTES_DEFAULT;
    if (fld->type != FS_FIELD_IMAGE)
        only_for(c, o, "max_pixels", path, 0, "image");
    else
        get_long(c, o, "max_pixels", path, FS__IMAGE_PIXELS_MIN,
                 FS__IMAGE_PIXELS_MAX, &fld->max_pixels);
    if (fld->max_pixels < 0)
        fld->max_pixels = 0;
    ct = member(o, "content_types");
    if (ct == NULL)
        return;
    subpath(where, sizeof where, path, ".content_types");
    if (!cJSON_IsArray(ct) || cJSON_GetArraySize(ct) < 1 ||
        cJSON_GetArraySize(ct) > FS__ATTACH_TYPES_MAX) {
        prob(c, where, "must be an array of 1 to %d content types",
             FS__ATTACH_TYPES_MAX);
        return;
    }
    cJSON_ArrayForEach(it, ct)
    {
        const char *major = attach_major(fld->type);
        char sub[FS_PROBLEM_WHERE_MAX];

        subpath_i(sub, sizeof sub, where, "", i++);
        if (!cJSON_IsString(it) || !valid_ctype(it->valuestring))
            prob(c, sub, "must be a content type such as image/jpeg");
        else if (strncmp(it->valuestring, major, strlen(major)) != 0)
            prob(c, sub, "%s fields take %s* types only",
                 fs_field_type_name(fld->type), major);
    }
    fld->content_types = ct;
}

long fs_field_max_bytes(const fs_field *fld)
{
    return fs_field_type_is_attachment(fld->type) ? fld->max_bytes : 0;
}

const cJSON *fs_field_content_types(const fs_field *fld)
{
    return fs_field_type_is_attachment(fld->type) ? fld->content_types : NULL;
}

long fs_field_max_pixels(const fs_field *fld)
{
    return fld->type == FS_FIELD_IMAGE ? fld->max_pixels : 0;
}

int fs_field_type_allowed(const fs_field *fld, const char *ctype)
{
    static const char *const images[] = {"image/jpeg", "image/png",
                                         "image/webp", NULL};
    static const char *const audio[] = {"audio/mpeg", "audio/mp4", "audio/ogg",
                                        "audio/wav", NULL};
    const char *const *dflt;
    const cJSON *it;

    if (!fs_field_type_is_attachment(fld->type) || ctype == NULL ||
        !valid_ctype(ctype))
        return 0;
    if (fld->content_types != NULL) {
        cJSON_ArrayForEach(it, fld->content_types)
        {
            if (strcmp(it->valuestring, ctype) == 0)
                return 1;
        }
        return 0;
    }
    if (fld->type == FS_FIELD_FILE)
        return 1;
    dflt = fld->type == FS_FIELD_IMAGE ? images : audio;
    for (; *dflt != NULL; dflt++)
        if (strcmp(*dflt, ctype) == 0)
            return 1;
    return 0;
}

static const char *const auto_names[] = {NULL, "start", "end", "today",
                                         "deviceid"};
static const fs_field_type auto_types[] = {
    0, FS_FIELD_DATETIME, FS_FIELD_DATETIME, FS_FIELD_DATE, FS_FIELD_TEXT};

const char *fs_field_auto_name(fs_field_auto a)
{
    return a > FS_AUTO_NONE && a <= FS_AUTO_DEVICEID ? auto_names[a] : NULL;
}

/* section, auto, constraint, constraint_message and choice_filter
 * (FORMS.md, sections 3 and 4). */
static void parse_field_extras(pctx *c, fs_field *fld, const cJSON *o,
                               const char *path)
{
    static const char *const filter_known[] = {"field", "key", NULL};
    const cJSON *m;
    char where[FS_PROBLEM_WHERE_MAX];

    m = member(o, "section");
    subpath(where, sizeof where, path, ".section");
    if (m != NULL &&
        (!cJSON_IsString(m) || find_section(c->f, m->valuestring) < 0))
        prob(c, where, "must name a section of $.sections");
    else if (m != NULL)
        fld->section = find_section(c->f, m->valuestring);

    m = member(o, "auto");
    subpath(where, sizeof where, path, ".auto");
    if (m != NULL) {
        size_t k;

        for (k = FS_AUTO_START; k <= FS_AUTO_DEVICEID; k++)
            if (cJSON_IsString(m) && strcmp(m->valuestring, auto_names[k]) == 0)
                fld->autofill = (fs_field_auto)k;
        if (fld->autofill == FS_AUTO_NONE)
            prob(c, where, "one of start, end, today, deviceid");
        else if (fld->type != auto_types[fld->autofill])
            prob(c, where, "%s fills a %s field", auto_names[fld->autofill],
                 fs_field_type_name(auto_types[fld->autofill]));
        if (fld->flags & (FS_FIELD_REQUIRED | FS_FIELD_CONSENT) ||
            member(o, "relevant") != NULL || member(o, "constraint") != NULL)
            prob(c, path,
                 "a field the device fills is not asked: no "
                 "required, consent, relevant or constraint");
    }

    fld->constraint = member(o, "constraint");
    if (fld->constraint != NULL) {
        size_t terms = 0;

        subpath(where, sizeof where, path, ".constraint");
        if (fld->type == FS_FIELD_NOTE)
            prob(c, where, "a note takes no answer to constrain");
        else
            check_cond(c, fld, fld->constraint, where, 0, &terms, 1);
    }
    fld->constraint_message = member(o, "constraint_message");
    subpath(where, sizeof where, path, ".constraint_message");
    if (fld->constraint_message != NULL && fld->constraint == NULL)
        prob(c, where, "applies to a field with a constraint");
    check_text(c, fld->constraint_message, where, 0);

    m = member(o, "choice_filter");
    subpath(where, sizeof where, path, ".choice_filter");
    if (m != NULL) {
        const cJSON *fn = member(m, "field"), *key = member(m, "key");
        const fs_field *ref = NULL;

        if (!is_select(fld->type)) {
            prob(c, where, "applies to select_one and select_multiple fields");
            return;
        }
        if (!cJSON_IsObject(m)) {
            prob(c, where, "must be {\"field\": name, \"key\": key}");
            return;
        }
        unknown_members(c, m, where, filter_known);
        if (cJSON_IsString(fn))
            ref = fs_form_field_named(c->f, fn->valuestring);
        if (ref == NULL || ref->index >= fld->index ||
            (ref->type != FS_FIELD_SELECT_ONE && ref->type != FS_FIELD_TEXT))
            prob(c, where,
                 "field must name an earlier select_one or text "
                 "field");
        else
            fld->filter_field = ref;
        if (!cJSON_IsString(key) || !fs_valid_field_name(key->valuestring))
            prob(c, where, "key must be a key of the choices' filter");
        else
            fld->filter_key = key->valuestring;
    }
}

static int parse_field(pctx *c, fs_field *fld, const cJSON *o, const char *path)
{
    static const char *const known[] = {"name",
                                        "type",
                                        "label",
                                        "hint",
                                        "required",
                                        "relevant",
                                        "choices",
                                        "scale",
                                        "scale_labels",
                                        "min",
                                        "max",
                                        "min_length",
                                        "max_length",
                                        "pattern",
                                        "min_count",
                                        "max_count",
                                        "max_bytes",
                                        "content_types",
                                        "personal",
                                        "sensitive",
                                        "metadata",
                                        "consent",
                                        "retired",
                                        "section",
                                        "auto",
                                        "constraint",
                                        "constraint_message",
                                        "choice_filter",
                                        "sealed",
                                        "max_pixels",
                                        NULL};
    const cJSON *ch, *pat, *sl;
    char where[FS_PROBLEM_WHERE_MAX];
    long v;
    int rc;

    unknown_members(c, o, path, known);
    subpath(where, sizeof where, path, ".label");
    check_text(c, member(o, "label"), where, 0);
    fld->label = member(o, "label");
    subpath(where, sizeof where, path, ".hint");
    check_text(c, member(o, "hint"), where, 0);
    fld->hint = member(o, "hint");
    if (get_bool(c, o, "required", path))
        fld->flags |= FS_FIELD_REQUIRED;
    if (get_bool(c, o, "personal", path))
        fld->flags |= FS_FIELD_PERSONAL;
    if (get_bool(c, o, "sensitive", path))
        fld->flags |= FS_FIELD_SENSITIVE;
    if (get_bool(c, o, "metadata", path))
        fld->flags |= FS_FIELD_METADATA;
    if (get_bool(c, o, "consent", path))
        fld->flags |= FS_FIELD_CONSENT;
    if (get_bool(c, o, "retired", path))
        fld->flags |= FS_FIELD_RETIRED;
    if (get_bool(c, o, "sealed", path))
        fld->flags |= FS_FIELD_SEALED;
    fld->min_length = fld->max_length = -1;
    fld->min_count = fld->max_count = -1;
    if (fld->type == 0)
        return FS_OK; /* the type problem is reported; nothing fits */

    /* Choices: inline, or the name of a list in choice_lists. */
    ch = member(o, "choices");
    subpath(where, sizeof where, path, ".choices");
    if (is_select(fld->type)) {
        if (cJSON_IsString(ch)) {
            const fs__choice_list *l = find_list(c->f, ch->valuestring);

            if (l == NULL) {
                prob(c, where, "no list '%s' in $.choice_lists",
                     ch->valuestring);
            } else {
                fld->choices = l->items;
                fld->nchoices = l->n;
            }
        } else if (ch == NULL) {
            prob(c, where,
                 "required for %s: an array of choices or the "
                 "name of a list in $.choice_lists",
                 fs_field_type_name(fld->type));
        } else {
            fs__choice *items = NULL;

            rc = parse_choices(c, ch, where, &items, &fld->nchoices);
            if (rc != FS_OK)
                return rc;
            fld->choices = items;
            fld->owns_choices = 1;
        }
    } else {
        only_for(c, o, "choices", path, 0, "select_one and select_multiple");
    }

    /* Likert scale 1..N with optional labels for each point. */
    if (fld->type == FS_FIELD_LIKERT) {
        get_long(c, o, "scale", path, 2, FS__FORM_SCALE_MAX, &v);
        if (v < 0 && member(o, "scale") == NULL) {
            subpath(where, sizeof where, path, ".scale");
            prob(c, where,
                 "required for likert: the number of points, 2 "
                 "to %d",
                 FS__FORM_SCALE_MAX);
        }
        fld->scale = v > 0 ? (int)v : 0;
        sl = member(o, "scale_labels");
        subpath(where, sizeof where, path, ".scale_labels");
        if (sl != NULL &&
            (!cJSON_IsArray(sl) || cJSON_GetArraySize(sl) != fld->scale)) {
            prob(c, where, "must be an array of one label per point (%d)",
                 fld->scale);
        } else if (sl != NULL) {
            const cJSON *it;
            size_t i = 0;

            cJSON_ArrayForEach(it, sl)
            {
                char sub[FS_PROBLEM_WHERE_MAX];

                subpath_i(sub, sizeof sub, where, "", i++);
                check_text(c, it, sub, 1);
            }
            fld->scale_labels = sl;
        }
    } else {
        only_for(c, o, "scale", path, 0, "likert");
        only_for(c, o, "scale_labels", path, 0, "likert");
    }

    get_bound(c, fld, o, "min", path, &fld->has_min, &fld->min);
    get_bound(c, fld, o, "max", path, &fld->has_max, &fld->max);
    if (fld->has_min && fld->has_max && fld->min > fld->max)
        prob(c, path, "min is above max");

    if (fld->type == FS_FIELD_TEXT) {
        get_long(c, o, "min_length", path, 0, FS__TEXT_LENGTH_MAX,
                 &fld->min_length);
        get_long(c, o, "max_length", path, 1, FS__TEXT_LENGTH_MAX,
                 &fld->max_length);
        if (fld->min_length >= 0 && fld->max_length >= 0 &&
            fld->min_length > fld->max_length)
            prob(c, path, "min_length is above max_length");
        pat = member(o, "pattern");
        subpath(where, sizeof where, path, ".pattern");
        if (pat != NULL && !cJSON_IsString(pat)) {
            prob(c, where, "must be a text");
        } else if (pat != NULL) {
            char why[FS_PROBLEM_MSG_MAX];

            fld->pattern = malloc(sizeof *fld->pattern);
            if (fld->pattern == NULL)
                return FS_ENOMEM;
            if (fs__pattern_compile(pat->valuestring, fld->pattern, why,
                                    sizeof why) != FS_OK) {
                prob(c, where, "%s", why);
                free(fld->pattern);
                fld->pattern = NULL;
            }
        }
    } else {
        only_for(c, o, "min_length", path, 0, "text");
        only_for(c, o, "max_length", path, 0, "text");
        only_for(c, o, "pattern", path, 0, "text");
    }

    if (fld->type == FS_FIELD_SELECT_MULTIPLE) {
        long n = (long)fld->nchoices;

        get_long(c, o, "min_count", path, 0, n > 0 ? n : 0, &fld->min_count);
        get_long(c, o, "max_count", path, 1, n > 1 ? n : 1, &fld->max_count);
        if (fld->min_count >= 0 && fld->max_count >= 0 &&
            fld->min_count > fld->max_count)
            prob(c, path, "min_count is above max_count");
    } else {
        only_for(c, o, "min_count", path, 0, "select_multiple");
        only_for(c, o, "max_count", path, 0, "select_multiple");
    }

    parse_attachment(c, fld, o, path);

    if (fld->type == FS_FIELD_NOTE &&
        (fld->flags & (FS_FIELD_REQUIRED | FS_FIELD_CONSENT)))
        prob(c, path,
             "a note is display only: it cannot be required or "
             "the consent question");
    if ((fld->flags & FS_FIELD_RETIRED) && (fld->flags & FS_FIELD_REQUIRED))
        prob(c, path,
             "a retired field is never asked, so it cannot be "
             "required");
    if (fld->flags & FS_FIELD_CONSENT) {
        if (fld->type != FS_FIELD_SELECT_ONE || !fs__choice_has(fld, "yes") ||
            !fs__choice_has(fld, "no"))
            prob(c, path,
                 "the consent field is a select_one with the "
                 "choices yes and no");
        if (member(o, "relevant") != NULL || (fld->flags & FS_FIELD_RETIRED))
            prob(c, path,
                 "the consent field is always asked: no "
                 "relevant, not retired");
        if (c->f->consent != NULL)
            prob(c, path, "'%s' is already the consent field",
                 c->f->consent->name);
        else
            c->f->consent = fld;
        fld->flags |= FS_FIELD_REQUIRED;
    }
    fld->relevant = member(o, "relevant");
    if (fld->relevant != NULL) {
        size_t terms = 0;

        subpath(where, sizeof where, path, ".relevant");
        check_cond(c, fld, fld->relevant, where, 0, &terms, 0);
    }
    parse_field_extras(c, fld, o, path);
    return FS_OK;
}

static int parse_fields(pctx *c, const cJSON *fields)
{
    fs_form *f = c->f;
    const cJSON *o;
    size_t n, i;
    int rc;

    if (!cJSON_IsArray(fields) || cJSON_GetArraySize(fields) == 0) {
        prob(c, "$.fields", "required: a non-empty array of fields");
        return FS_OK;
    }
    n = (size_t)cJSON_GetArraySize(fields);
    if (n > FS__FORM_FIELDS_MAX) {
        prob(c, "$.fields", "more than %d fields", FS__FORM_FIELDS_MAX);
        return FS_OK;
    }
    f->fields = calloc(n, sizeof *f->fields);
    if (f->fields == NULL)
        return FS_ENOMEM;
    f->nfields = n;

    /* Names and types first: conditions name other fields. */
    i = 0;
    cJSON_ArrayForEach(o, fields)
    {
        fs_field *fld = &f->fields[i];
        const cJSON *nm = member(o, "name"), *ty = member(o, "type");
        char path[FS_PROBLEM_WHERE_MAX], where[FS_PROBLEM_WHERE_MAX];
        size_t j;

        fld->form = f;
        fld->index = i;
        fld->name = "";
        fld->section = -1;
        subpath_i(path, sizeof path, "$.fields", "", i);
        i++;
        if (!cJSON_IsObject(o)) {
            prob(c, path, "a field is an object with a name and a type");
            continue;
        }
        subpath(where, sizeof where, path, ".name");
        if (!cJSON_IsString(nm) || !fs_valid_field_name(nm->valuestring)) {
            prob(c, where,
                 "required: lower-case letters, digits and _ (at "
                 "most 64), starting with a letter");
        } else {
            fld->name = nm->valuestring;
            for (j = 0; j + 1 < i; j++)
                if (strcmp(f->fields[j].name, fld->name) == 0)
                    prob(c, where,
                         "'%s' is already the name of "
                         "fields[%zu]",
                         fld->name, j);
        }
        subpath(where, sizeof where, path, ".type");
        if (!cJSON_IsString(ty)) {
            prob(c, where,
                 "required: text, integer, decimal, select_one, "
                 "select_multiple, likert, date, datetime, "
                 "geopoint or note");
        } else {
            fld->type = type_from_name(ty->valuestring);
            if (fld->type == 0) {
                char snip[40];

                fs__snippet(ty->valuestring, snip, sizeof snip);
                prob(c, where,
                     "unknown type '%s'; one of text, integer, "
                     "decimal, select_one, select_multiple, "
                     "likert, date, datetime, geopoint, note",
                     snip);
            }
        }
    }
    i = 0;
    cJSON_ArrayForEach(o, fields)
    {
        char path[FS_PROBLEM_WHERE_MAX];

        subpath_i(path, sizeof path, "$.fields", "", i);
        if (cJSON_IsObject(o)) {
            rc = parse_field(c, &f->fields[i], o, path);
            if (rc != FS_OK)
                return rc;
        }
        i++;
    }
    return FS_OK;
}

static void parse_dedupe(pctx *c, const cJSON *dk)
{
    fs_form *f = c->f;
    const cJSON *it;
    size_t i = 0;

    if (dk == NULL)
        return;
    if (!cJSON_IsArray(dk) || cJSON_GetArraySize(dk) == 0 ||
        cJSON_GetArraySize(dk) > FS__FORM_DEDUPE_MAX) {
        prob(c, "$.dedupe_key", "must be an array of 1 to %d field names",
             FS__FORM_DEDUPE_MAX);
        return;
    }
    cJSON_ArrayForEach(it, dk)
    {
        char where[FS_PROBLEM_WHERE_MAX];
        const fs_field *fld;

        subpath_i(where, sizeof where, "$.dedupe_key", "", i++);
        fld =
            cJSON_IsString(it) ? fs_form_field_named(f, it->valuestring) : NULL;
        if (fld == NULL) {
            prob(c, where, "must name a field of this form");
            continue;
        }
        if (fld->flags & FS_FIELD_DEDUPE) {
            prob(c, where, "'%s' is already in the key", fld->name);
            continue;
        }
        if (fld->type != FS_FIELD_TEXT && fld->type != FS_FIELD_INTEGER &&
            fld->type != FS_FIELD_SELECT_ONE && fld->type != FS_FIELD_DATE)
            prob(c, where,
                 "a key field is text, integer, select_one or "
                 "date");
        if (fld->relevant != NULL || (fld->flags & FS_FIELD_RETIRED))
            prob(c, where,
                 "a key field is always asked: no relevant, not "
                 "retired");
        if (f->consent != NULL && !(fld->flags & FS_FIELD_METADATA))
            prob(c, where,
                 "a key field of a form with consent is marked "
                 "metadata, so refusals keep their key");
        f->fields[fld->index].flags |= FS_FIELD_DEDUPE | FS_FIELD_REQUIRED;
        f->dedupe[f->ndedupe++] = fld->index;
    }
}

/* "wave_date": the date field whose answer decides a submission's wave
 * at the hub (and in the device's quota counts); absent: the day it was
 * first recorded. */
static void parse_wave_date(pctx *c, const cJSON *wd)
{
    const fs_field *fld;

    if (wd == NULL)
        return;
    fld =
        cJSON_IsString(wd) ? fs_form_field_named(c->f, wd->valuestring) : NULL;
    if (fld == NULL) {
        prob(c, "$.wave_date", "must name a field of this form");
        return;
    }
    if (fld->type != FS_FIELD_DATE) {
        prob(c, "$.wave_date",
             "'%s' is a %s field; the wave is decided by a date field "
             "(type date)",
             fld->name, fs_field_type_name(fld->type));
        return;
    }
    if (fld->flags & FS_FIELD_RETIRED) {
        prob(c, "$.wave_date", "'%s' is retired: it is never asked", fld->name);
        return;
    }
    c->f->wave_date = fld;
}

int fs_form_parse(const char *json, size_t len, int flags, fs_form **out,
                  fs_problems *p)
{
    static const char *const known[] = {"id",
                                        "version",
                                        "kind",
                                        "title",
                                        "description",
                                        "area",
                                        "default_language",
                                        "choice_lists",
                                        "sections",
                                        "fields",
                                        "dedupe_key",
                                        "wave_date",
                                        "sealed",
                                        "seal_key",
                                        "sealed_drafts",
                                        NULL};
    fs_limits lim;
    fs_err err = {0, ""};
    cJSON *doc = NULL;
    const cJSON *m;
    fs_form *f;
    pctx c;
    int64_t ver;
    int rc, r;

    if (out == NULL)
        return FS_EINVAL;
    *out = NULL;
    if (json == NULL)
        return FS_EINVAL;
    fs_limits_default(&lim);
    lim.max_depth = 32;
    rc = fs_json_parse(json, len, &lim, &doc, &err);
    if (rc != FS_OK) {
        fs_problems_add(p, "$", "%s", err.msg);
        return rc;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL) {
        cJSON_Delete(doc);
        return FS_ENOMEM;
    }
    f->doc = doc;
    c.p = p;
    c.count = 0;
    c.strict = (flags & FS_FORM_STRICT) != 0;
    c.f = f;
    if (!cJSON_IsObject(doc)) {
        prob(&c, "$", "a form definition is a JSON object");
        goto done;
    }
    unknown_members(&c, doc, "$", known);

    m = member(doc, "id");
    if (!cJSON_IsString(m) || !fs_valid_form_id(m->valuestring))
        prob(&c, "$.id",
             "required: lower-case letters, digits and _ (at "
             "most 64), starting with a letter");
    else
        f->id = m->valuestring;
    r = fs__json_int(doc, "version", &ver);
    if (r != FS__FIELD_OK || ver < 1 || ver > 1000000000)
        prob(&c, "$.version", "required: a whole number from 1");
    else
        f->version = ver;

    m = member(doc, "kind");
    f->kind = FS_FORM_SURVEY;
    if (m != NULL) {
        size_t k;

        f->kind = (fs_form_kind)0;
        for (k = FS_FORM_SURVEY; k <= FS_FORM_OBSERVATION; k++)
            if (cJSON_IsString(m) && strcmp(m->valuestring, kind_names[k]) == 0)
                f->kind = (fs_form_kind)k;
        if (f->kind == 0) {
            prob(&c, "$.kind",
                 "one of survey, focus_group, interview, "
                 "observation");
            f->kind = FS_FORM_SURVEY;
        }
    }
    m = member(doc, "default_language");
    f->lang = "en";
    if (m != NULL && (!cJSON_IsString(m) || !valid_lang(m->valuestring)))
        prob(&c, "$.default_language", "a language code such as en or fr");
    else if (m != NULL)
        f->lang = m->valuestring;

    m = member(doc, "area");
    f->area_required = f->kind == FS_FORM_SURVEY;
    if (m != NULL) {
        if (cJSON_IsString(m) && strcmp(m->valuestring, "required") == 0)
            f->area_required = 1;
        else if (cJSON_IsString(m) && strcmp(m->valuestring, "optional") == 0)
            f->area_required = 0;
        else
            prob(&c, "$.area", "required or optional");
    }
    check_text(&c, member(doc, "title"), "$.title", 1);
    f->title = member(doc, "title");
    check_text(&c, member(doc, "description"), "$.description", 0);

    rc = parse_lists(&c, member(doc, "choice_lists"));
    if (rc == FS_OK)
        rc = parse_sections(&c, member(doc, "sections"));
    if (rc == FS_OK)
        rc = parse_fields(&c, member(doc, "fields"));
    if (rc != FS_OK) {
        fs_form_free(f);
        return rc;
    }
    check_section_order(&c);
    parse_dedupe(&c, member(doc, "dedupe_key"));
    parse_wave_date(&c, member(doc, "wave_date"));
    c.count +=
        fs__seal_parse_form(f, member(doc, "sealed"), member(doc, "seal_key"),
                            member(doc, "sealed_drafts"), p);
done:
    if (c.count > 0) {
        fs_form_free(f);
        return FS_EMALFORMED;
    }
    *out = f;
    return FS_OK;
}

void fs_form_free(fs_form *f)
{
    size_t i;

    if (f == NULL)
        return;
    for (i = 0; i < f->nfields; i++) {
        if (f->fields[i].owns_choices)
            free((void *)f->fields[i].choices);
        free(f->fields[i].pattern);
    }
    free(f->fields);
    for (i = 0; i < f->nlists; i++)
        free(f->lists[i].items);
    free(f->lists);
    free(f->sections);
    cJSON_Delete(f->doc);
    free(f);
}

/* ---- accessors ------------------------------------------------------- */

const char *fs__text_get(const cJSON *t, const char *lang, const char *deflang)
{
    const cJSON *m;

    if (cJSON_IsString(t))
        return t->valuestring;
    if (!cJSON_IsObject(t))
        return NULL;
    if (lang != NULL) {
        m = member(t, lang);
        if (cJSON_IsString(m))
            return m->valuestring;
    }
    m = deflang != NULL ? member(t, deflang) : NULL;
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

const cJSON *fs_form_json(const fs_form *f)
{
    return f->doc;
}

const char *fs_form_id(const fs_form *f)
{
    return f->id;
}

int64_t fs_form_version(const fs_form *f)
{
    return f->version;
}

fs_form_kind fs_form_kind_of(const fs_form *f)
{
    return f->kind;
}

const char *fs_form_language(const fs_form *f)
{
    return f->lang;
}

int fs_form_area_required(const fs_form *f)
{
    return f->area_required;
}

const char *fs_form_title(const fs_form *f, const char *lang)
{
    const char *t = fs__text_get(f->title, lang, f->lang);

    return t != NULL ? t : f->id;
}

size_t fs_form_field_count(const fs_form *f)
{
    return f->nfields;
}

const fs_field *fs_form_field(const fs_form *f, size_t i)
{
    return i < f->nfields ? &f->fields[i] : NULL;
}

const fs_field *fs_form_field_named(const fs_form *f, const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < f->nfields; i++)
        if (strcmp(f->fields[i].name, name) == 0)
            return &f->fields[i];
    return NULL;
}

const fs_field *fs_form_consent_field(const fs_form *f)
{
    return f->consent;
}

const fs_field *fs_form_wave_date_field(const fs_form *f)
{
    return f->wave_date;
}

const char *fs_field_name(const fs_field *fld)
{
    return fld->name;
}

fs_field_type fs_field_type_of(const fs_field *fld)
{
    return fld->type;
}

unsigned fs_field_flags(const fs_field *fld)
{
    return fld->flags;
}

fs_field_auto fs_field_auto_of(const fs_field *fld)
{
    return fld->autofill;
}

const char *fs_field_label(const fs_field *fld, const char *lang)
{
    const char *t = fs__text_get(fld->label, lang, fld->form->lang);

    return t != NULL ? t : fld->name;
}

const char *fs_field_hint(const fs_field *fld, const char *lang)
{
    return fs__text_get(fld->hint, lang, fld->form->lang);
}

size_t fs_field_choice_count(const fs_field *fld)
{
    return fld->nchoices;
}

const char *fs_field_choice(const fs_field *fld, size_t i, const char *lang,
                            const char **label)
{
    const char *t;

    if (i >= fld->nchoices)
        return NULL;
    if (label != NULL) {
        t = fs__text_get(fld->choices[i].label, lang, fld->form->lang);
        *label = t != NULL ? t : fld->choices[i].value;
    }
    return fld->choices[i].value;
}

int fs_field_scale(const fs_field *fld)
{
    return fld->scale;
}

const char *fs_field_scale_label(const fs_field *fld, int k, const char *lang)
{
    if (fld->scale_labels == NULL || k < 1 || k > fld->scale)
        return NULL;
    return fs__text_get(cJSON_GetArrayItem(fld->scale_labels, k - 1), lang,
                        fld->form->lang);
}

/* ---- version rules --------------------------------------------------- */

int fs_form_check_upgrade(const fs_form *old, const fs_form *newer,
                          fs_problems *p)
{
    pctx c = {p, 0, 0, NULL};
    size_t i, k;

    if (strcmp(old->id, newer->id) != 0)
        prob(&c, "$.id", "'%s' is another form than '%s'", newer->id, old->id);
    if (newer->version <= old->version)
        prob(&c, "$.version", "must be above the published version %lld",
             (long long)old->version);
    if (newer->kind != old->kind)
        prob(&c, "$.kind", "was %s: a form keeps its kind",
             fs_form_kind_name(old->kind));
    if ((old->consent == NULL) != (newer->consent == NULL) ||
        (old->consent != NULL &&
         strcmp(old->consent->name, newer->consent->name) != 0))
        prob(&c, "$.fields", "the consent field must stay '%s'",
             old->consent != NULL ? old->consent->name : "(none)");
    for (i = 0; i < old->nfields; i++) {
        const fs_field *o = &old->fields[i];
        const fs_field *n = fs_form_field_named(newer, o->name);
        char where[FS_PROBLEM_WHERE_MAX];

        if (n == NULL) {
            prob(&c, "$.fields",
                 "'%s' of version %lld is missing: a "
                 "published field stays; mark it "
                 "\"retired\": true instead",
                 o->name, (long long)old->version);
            continue;
        }
        subpath_i(where, sizeof where, "$.fields", "", n->index);
        if (n->type != o->type) {
            prob(&c, where,
                 "'%s' was %s and cannot become %s; add a new "
                 "field instead",
                 o->name, fs_field_type_name(o->type),
                 fs_field_type_name(n->type));
            continue;
        }
        if (o->type == FS_FIELD_LIKERT && n->scale != o->scale)
            prob(&c, where, "'%s' had a scale of %d: a scale never changes",
                 o->name, o->scale);
        for (k = 0; k < o->nchoices; k++)
            if (!fs__choice_has(n, o->choices[k].value))
                prob(&c, where,
                     "'%s' lost choice '%s': choices may be "
                     "added and relabelled, never removed",
                     o->name, o->choices[k].value);
        if ((o->flags & FS_FIELD_PERSONAL) && !(n->flags & FS_FIELD_PERSONAL))
            prob(&c, where, "'%s' was marked personal: the mark stays",
                 o->name);
        if ((o->flags & FS_FIELD_SENSITIVE) && !(n->flags & FS_FIELD_SENSITIVE))
            prob(&c, where, "'%s' was marked sensitive: the mark stays",
                 o->name);
        if ((o->flags & FS_FIELD_SEALED) && !(n->flags & FS_FIELD_SEALED))
            prob(&c, where, "'%s' was sealed: the mark stays", o->name);
    }
    return c.count > 0 ? FS_EMALFORMED : FS_OK;
}
