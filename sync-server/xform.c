/*
 * xform.c - a fieldsync form as an ODK XForm (xform.h says what it
 * holds). Written in one pass over the definition into a bounded
 * buffer: translations first (collected while the body's labels are
 * named), then the instance, binds and body. Nothing depends on time,
 * memory addresses or hash order, so the bytes are a function of the
 * definition.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "langs.h"
#include "xform.h"

#define LANGS_MAX 32
#define AREA_PATH "/data/_area"
#define NEST_MAX 128 /* sections within sections */

/* One translatable text: its itext id and the text node (a string or an
 * object by language), or fallback when there is no node. */
typedef struct itext {
    char *id;
    const cJSON *node;
    char *fallback; /* owned, or NULL */
} itext;

typedef struct xw {
    const fs_form *f;
    const cJSON *doc;
    fs_buf *out;
    int rc;
    const char *langs[LANGS_MAX];
    size_t nlangs;
    itext *texts;
    size_t ntexts, captexts;
    char **paths;    /* per field: its instance path; NULL when retired */
    char **secpaths; /* per section */
    size_t nsections;
    cJSON *area_label; /* the area question's label: owned */
} xw;

/* ---- output ---------------------------------------------------------- */

static void put(xw *w, const char *s, size_t n)
{
    if (w->rc == FS_OK)
        w->rc = fs_buf_append(w->out, s, n);
}

static void puts_(xw *w, const char *s)
{
    put(w, s, strlen(s));
}

static void putf(xw *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Formatted output of names, paths and numbers, which need no escaping
 * (fieldsync names and codes are letters, digits and . _ + -). */
static void putf(xw *w, const char *fmt, ...)
{
    char small[256], *buf = small;
    va_list ap, again;
    int n;

    va_start(ap, fmt);
    va_copy(again, ap);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n >= sizeof small) {
        buf = malloc((size_t)n + 1);
        if (buf != NULL)
            n = vsnprintf(buf, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    if (buf == NULL || n < 0) {
        if (w->rc == FS_OK)
            w->rc = FS_ENOMEM;
    } else {
        put(w, buf, (size_t)n);
    }
    if (buf != small)
        free(buf);
}

/* Text for XML, escaped; in attributes quotes and white space too. A
 * control character XML 1.0 cannot hold becomes U+FFFD. */
static void esc(xw *w, const char *s, int attr)
{
    size_t start = 0, i;

    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        char num[8];

        if (c == '&')
            rep = "&amp;";
        else if (c == '<')
            rep = "&lt;";
        else if (c == '>')
            rep = "&gt;";
        else if (attr && c == '"')
            rep = "&quot;";
        else if (attr && (c == '\n' || c == '\r' || c == '\t')) {
            snprintf(num, sizeof num, "&#%u;", c);
            rep = num;
        } else if (c == '\r') {
            rep = "&#13;";
        } else if (c < 0x20 && c != '\n' && c != '\t') {
            rep = "\xEF\xBF\xBD";
        }
        if (rep != NULL) {
            put(w, s + start, i - start);
            puts_(w, rep);
            start = i + 1;
        }
    }
    put(w, s + start, i - start);
}

static void indent(xw *w, int depth)
{
    for (int i = 0; i < depth; i++)
        puts_(w, "  ");
}

/* A number as XPath reads it, the same bytes every time. */
static void fmt_num(double v, char *buf, size_t cap)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, cap, "%.0f", v);
    else {
        snprintf(buf, cap, "%.15g", v);
        if (strtod(buf, NULL) != v)
            snprintf(buf, cap, "%.17g", v);
    }
}

/* An XPath string literal of s (XPath 1.0 has no escapes: concat()
 * joins the parts when s holds both kinds of quote). Written to b,
 * unescaped for XML. */
static int xp_string(fs_buf *b, const char *s)
{
    int rc = FS_OK;

    if (strchr(s, '\'') == NULL) {
        rc = fs_buf_append(b, "'", 1);
        if (rc == FS_OK)
            rc = fs_buf_append(b, s, strlen(s));
        return rc == FS_OK ? fs_buf_append(b, "'", 1) : rc;
    }
    if (strchr(s, '"') == NULL) {
        rc = fs_buf_append(b, "\"", 1);
        if (rc == FS_OK)
            rc = fs_buf_append(b, s, strlen(s));
        return rc == FS_OK ? fs_buf_append(b, "\"", 1) : rc;
    }
    rc = fs_buf_append(b, "concat(", 7);
    for (const char *p = s; rc == FS_OK && *p != '\0';) {
        size_t n = strcspn(p, "'");

        if (n > 0) {
            rc = fs_buf_append(b, "'", 1);
            if (rc == FS_OK)
                rc = fs_buf_append(b, p, n);
            if (rc == FS_OK)
                rc = fs_buf_append(b, "', ", 3);
            p += n;
        } else {
            rc = fs_buf_append(b, "\"'\", ", 5);
            p++;
        }
    }
    return rc == FS_OK ? fs_buf_append(b, "'')", 3) : rc;
}

static int bput(fs_buf *b, const char *s)
{
    return fs_buf_append(b, s, strlen(s));
}

/* ---- languages and itext --------------------------------------------- */

static void add_lang(xw *w, const char *code)
{
    size_t i;

    for (i = 0; i < w->nlangs; i++)
        if (strcmp(w->langs[i], code) == 0)
            return;
    if (w->nlangs < LANGS_MAX)
        w->langs[w->nlangs++] = code;
}

/* Every language any text of the definition has, walking it all. */
static void collect_langs(xw *w, const cJSON *node, int depth)
{
    const cJSON *it;

    if (depth > 40)
        return;
    cJSON_ArrayForEach(it, node)
    {
        if (it->string != NULL &&
            (strcmp(it->string, "label") == 0 ||
             strcmp(it->string, "hint") == 0 ||
             strcmp(it->string, "title") == 0 ||
             strcmp(it->string, "constraint_message") == 0) &&
            cJSON_IsObject(it)) {
            const cJSON *l;

            cJSON_ArrayForEach(l, it)
            {
                add_lang(w, l->string);
            }
        } else if (it->string != NULL &&
                   strcmp(it->string, "scale_labels") == 0) {
            const cJSON *t, *l;

            cJSON_ArrayForEach(t, it)
            {
                cJSON_ArrayForEach(l, t)
                {
                    if (l->string != NULL)
                        add_lang(w, l->string);
                }
            }
        } else if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
            collect_langs(w, it, depth + 1);
        }
    }
}

static int lang_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The default language first, then the others in code order. */
static void order_langs(xw *w)
{
    const char *def = fs_form_language(w->f);
    size_t i;

    for (i = 0; i < w->nlangs && strcmp(w->langs[i], def) != 0; i++)
        ;
    if (i == w->nlangs)
        add_lang(w, def);
    for (i = 0; i < w->nlangs; i++)
        if (strcmp(w->langs[i], def) == 0) {
            w->langs[i] = w->langs[0];
            w->langs[0] = def;
        }
    if (w->nlangs > 2)
        qsort(w->langs + 1, w->nlangs - 1, sizeof w->langs[0], lang_cmp);
}

/* Registers a text under id; returns id for the jr:itext() reference. */
static const char *text_id(xw *w, const char *id, const cJSON *node,
                           const char *fallback)
{
    itext *t;

    if (w->rc != FS_OK)
        return "";
    if (w->ntexts == w->captexts) {
        size_t cap = w->captexts ? w->captexts * 2 : 64;
        itext *grown = realloc(w->texts, cap * sizeof *grown);

        if (grown == NULL) {
            w->rc = FS_ENOMEM;
            return "";
        }
        w->texts = grown;
        w->captexts = cap;
    }
    t = &w->texts[w->ntexts];
    t->id = strdup(id);
    t->fallback = fallback != NULL ? strdup(fallback) : NULL;
    if (t->id == NULL || (fallback != NULL && t->fallback == NULL)) {
        free(t->id);
        free(t->fallback);
        w->rc = FS_ENOMEM;
        return "";
    }
    t->node = node;
    w->ntexts++;
    return t->id;
}

/* The text of node in lang: that language's, else the default's. */
static const char *text_in(const xw *w, const itext *t, const char *lang)
{
    const cJSON *v;

    if (cJSON_IsString(t->node))
        return t->node->valuestring;
    if (cJSON_IsObject(t->node)) {
        v = cJSON_GetObjectItemCaseSensitive(t->node, lang);
        if (!cJSON_IsString(v))
            v = cJSON_GetObjectItemCaseSensitive(t->node,
                                                 fs_form_language(w->f));
        if (cJSON_IsString(v))
            return v->valuestring;
    }
    return t->fallback != NULL ? t->fallback : "";
}

static void write_itext(xw *w)
{
    puts_(w, "      <itext>\n");
    for (size_t l = 0; l < w->nlangs; l++) {
        const char *name = hub__lang_name(w->langs[l]);

        puts_(w, "        <translation");
        if (l == 0)
            puts_(w, " default=\"true()\"");
        puts_(w, " lang=\"");
        if (name != NULL) {
            esc(w, name, 1);
            puts_(w, " (");
            esc(w, w->langs[l], 1);
            puts_(w, ")");
        } else {
            esc(w, w->langs[l], 1);
        }
        puts_(w, "\">\n");
        for (size_t i = 0; i < w->ntexts; i++) {
            puts_(w, "          <text id=\"");
            esc(w, w->texts[i].id, 1);
            puts_(w, "\">\n            <value>");
            esc(w, text_in(w, &w->texts[i], w->langs[l]), 0);
            puts_(w, "</value>\n          </text>\n");
        }
        puts_(w, "        </translation>\n");
    }
    puts_(w, "      </itext>\n");
}

/* ---- the definition, read ------------------------------------------- */

static const cJSON *field_json(const xw *w, size_t i)
{
    return cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(w->doc, "fields"), (int)i);
}

static const cJSON *member(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *str_member(const cJSON *o, const char *key)
{
    const cJSON *m = member(o, key);

    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* A member the parse guarantees (a name, a key): "" only if it were
 * missing. */
static const char *req_member(const cJSON *o, const char *key)
{
    const char *v = str_member(o, key);

    return v != NULL ? v : "";
}

static const cJSON *sections_json(const xw *w)
{
    return member(w->doc, "sections");
}

static int section_index(const xw *w, const char *name)
{
    const cJSON *it;
    int i = 0;

    if (name == NULL)
        return -1;
    cJSON_ArrayForEach(it, sections_json(w))
    {
        const char *n = str_member(it, "name");

        if (n != NULL && strcmp(n, name) == 0)
            return i;
        i++;
    }
    return -1;
}

static int section_parent(const xw *w, int s)
{
    const cJSON *sec = cJSON_GetArrayItem(sections_json(w), s);

    return section_index(w, str_member(sec, "within"));
}

/* The choices node of a select field: its own array or its list's. */
static const cJSON *choices_of(const xw *w, const cJSON *fj)
{
    const cJSON *c = member(fj, "choices");

    if (cJSON_IsString(c))
        return member(member(w->doc, "choice_lists"), c->valuestring);
    return c;
}

static int asked(const fs_field *fld)
{
    return !(fs_field_flags(fld) & FS_FIELD_RETIRED);
}

/* ---- paths ----------------------------------------------------------- */

/* Instance paths: /data/<sections...>/<name>. */
static int make_paths(xw *w)
{
    size_t n = fs_form_field_count(w->f);
    const cJSON *it;
    size_t s = 0;

    w->nsections = (size_t)cJSON_GetArraySize(sections_json(w));
    w->paths = calloc(n ? n : 1, sizeof *w->paths);
    w->secpaths = calloc(w->nsections ? w->nsections : 1, sizeof *w->secpaths);
    if (w->paths == NULL || w->secpaths == NULL)
        return FS_ENOMEM;
    /* Sections: within names an earlier one, so its path is made. */
    cJSON_ArrayForEach(it, sections_json(w))
    {
        int parent = section_index(w, str_member(it, "within"));
        const char *base = parent >= 0 ? w->secpaths[parent] : "/data";
        size_t len = strlen(base) + strlen(req_member(it, "name")) + 2;

        w->secpaths[s] = malloc(len);
        if (w->secpaths[s] == NULL)
            return FS_ENOMEM;
        snprintf(w->secpaths[s], len, "%s/%s", base, req_member(it, "name"));
        s++;
    }
    for (size_t i = 0; i < n; i++) {
        const fs_field *fld = fs_form_field(w->f, i);
        int sec = section_index(w, str_member(field_json(w, i), "section"));
        const char *base = sec >= 0 ? w->secpaths[sec] : "/data";
        size_t len = strlen(base) + strlen(fs_field_name(fld)) + 2;

        if (!asked(fld))
            continue;
        w->paths[i] = malloc(len);
        if (w->paths[i] == NULL)
            return FS_ENOMEM;
        snprintf(w->paths[i], len, "%s/%s", base, fs_field_name(fld));
    }
    return FS_OK;
}

static const char *path_of(const xw *w, const char *name)
{
    const fs_field *fld = fs_form_field_named(w->f, name);

    if (fld == NULL)
        return NULL;
    for (size_t i = 0; i < fs_form_field_count(w->f); i++)
        if (fs_form_field(w->f, i) == fld)
            return w->paths[i];
    return NULL;
}

/* ---- conditions as XPath --------------------------------------------- */

/* A value of a comparison with a field of type t. */
static int xp_value(fs_buf *b, fs_field_type t, const cJSON *v)
{
    char num[48];

    if (cJSON_IsNumber(v)) {
        fmt_num(v->valuedouble, num, sizeof num);
        return bput(b, num);
    }
    if (!cJSON_IsString(v))
        return bput(b, "''");
    if (t == FS_FIELD_DATE) {
        int rc = bput(b, "date(");

        if (rc == FS_OK)
            rc = xp_string(b, v->valuestring);
        return rc == FS_OK ? bput(b, ")") : rc;
    }
    if (t == FS_FIELD_DATETIME) {
        int rc = bput(b, "decimal-date-time(");

        if (rc == FS_OK)
            rc = xp_string(b, v->valuestring);
        return rc == FS_OK ? bput(b, ")") : rc;
    }
    return xp_string(b, v->valuestring);
}

static const char *xp_op(const char *op)
{
    static const char *const map[][2] = {{"eq", "="}, {"ne", "!="},
                                         {"lt", "<"}, {"le", "<="},
                                         {"gt", ">"}, {"ge", ">="}};

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i][0], op) == 0)
            return map[i][1];
    return "=";
}

/* A fieldsync pattern (anchored) as an XPath regex. */
static int xp_pattern(fs_buf *b, const char *pat)
{
    size_t n = strlen(pat), lead = pat[0] == '^';
    char *re = malloc(n + 3);
    int rc;

    if (re == NULL)
        return FS_ENOMEM;
    if (n > lead && pat[n - 1] == '$' && (n < 2 || pat[n - 2] != '\\'))
        n--;
    snprintf(re, n + 3, "^%.*s$", (int)(n - lead), pat + lead);
    rc = xp_string(b, re);
    free(re);
    return rc;
}

/* One comparison. p is the field's path ("." for the constrained field
 * itself). A comparison with an unanswered field is false in fieldsync:
 * ne and the date comparisons say so explicitly (XPath would make them
 * true, or compare an empty date). */
static int xp_compare(xw *w, const cJSON *c, const fs_field *self, fs_buf *b)
{
    const char *name = str_member(c, "field"), *op = str_member(c, "op");
    const char *of = str_member(c, "of");
    const fs_field *ref = fs_form_field_named(w->f, name);
    const cJSON *v = member(c, "value"), *it;
    const char *p;
    fs_field_type t;
    char num[48];
    int rc = FS_OK, guard;

    if (ref == NULL || op == NULL)
        return bput(b, "false()");
    p = ref == self ? "." : path_of(w, name);
    if (p == NULL)
        return bput(b, "false()"); /* a retired field: never answered */
    t = fs_field_type_of(ref);
    if (of != NULL) {
        rc = bput(b, strcmp(of, "length") == 0 ? "string-length("
                                               : "count-selected(");
        if (rc == FS_OK)
            rc = bput(b, p);
        if (rc == FS_OK)
            rc = bput(b, ") ");
        if (rc == FS_OK)
            rc = bput(b, xp_op(op));
        fmt_num(cJSON_IsNumber(v) ? v->valuedouble : 0, num, sizeof num);
        if (rc == FS_OK)
            rc = bput(b, " ");
        return rc == FS_OK ? bput(b, num) : rc;
    }
    if (strcmp(op, "answered") == 0) {
        rc = bput(b, p);
        return rc == FS_OK ? bput(b, " != ''") : rc;
    }
    if (strcmp(op, "matches") == 0) {
        rc = bput(b, "regex(");
        if (rc == FS_OK)
            rc = bput(b, p);
        if (rc == FS_OK)
            rc = bput(b, ", ");
        if (rc == FS_OK)
            rc = xp_pattern(b, cJSON_IsString(v) ? v->valuestring : "");
        return rc == FS_OK ? bput(b, ")") : rc;
    }
    if (strcmp(op, "contains") == 0) {
        rc = bput(b, "selected(");
        if (rc == FS_OK)
            rc = bput(b, p);
        if (rc == FS_OK)
            rc = bput(b, ", ");
        if (rc == FS_OK)
            rc = xp_value(b, t, v);
        return rc == FS_OK ? bput(b, ")") : rc;
    }
    guard =
        strcmp(op, "ne") == 0 || t == FS_FIELD_DATE || t == FS_FIELD_DATETIME;
    rc = bput(b, "(");
    if (rc == FS_OK && guard) {
        rc = bput(b, p);
        if (rc == FS_OK)
            rc = bput(b, " != '' and ");
    }
    if (strcmp(op, "in") == 0) {
        int first = 1;

        if (rc == FS_OK)
            rc = bput(b, "(");
        cJSON_ArrayForEach(it, v)
        {
            if (rc == FS_OK && !first)
                rc = bput(b, " or ");
            first = 0;
            if (rc == FS_OK)
                rc =
                    bput(b, t == FS_FIELD_DATETIME ? "decimal-date-time(" : "");
            if (rc == FS_OK)
                rc = bput(b, p);
            if (rc == FS_OK)
                rc = bput(b, t == FS_FIELD_DATETIME ? ") = " : " = ");
            if (rc == FS_OK)
                rc = xp_value(b, t, it);
        }
        if (rc == FS_OK)
            rc = bput(b, ")");
    } else {
        if (rc == FS_OK)
            rc = bput(b, t == FS_FIELD_DATETIME ? "decimal-date-time(" : "");
        if (rc == FS_OK)
            rc = bput(b, p);
        if (rc == FS_OK)
            rc = bput(b, t == FS_FIELD_DATETIME ? ") " : " ");
        if (rc == FS_OK)
            rc = bput(b, xp_op(op));
        if (rc == FS_OK)
            rc = bput(b, " ");
        if (rc == FS_OK)
            rc = xp_value(b, t, v);
    }
    return rc == FS_OK ? bput(b, ")") : rc;
}

static int xp_cond(xw *w, const cJSON *c, const fs_field *self, fs_buf *b)
{
    const cJSON *all = member(c, "all"), *any = member(c, "any");
    const cJSON *neg = member(c, "not"), *it;
    int rc = FS_OK, first = 1;

    if (all != NULL || any != NULL) {
        const cJSON *list = all != NULL ? all : any;

        rc = bput(b, "(");
        cJSON_ArrayForEach(it, list)
        {
            if (rc == FS_OK && !first)
                rc = bput(b, all != NULL ? " and " : " or ");
            first = 0;
            if (rc == FS_OK)
                rc = xp_cond(w, it, self, b);
        }
        return rc == FS_OK ? bput(b, ")") : rc;
    }
    if (neg != NULL) {
        rc = bput(b, "not(");
        if (rc == FS_OK)
            rc = xp_cond(w, neg, self, b);
        return rc == FS_OK ? bput(b, ")") : rc;
    }
    return xp_compare(w, c, self, b);
}

/* " and " between the parts of one attribute. */
static int xp_and(fs_buf *b)
{
    return b->len > 0 ? bput(b, " and ") : FS_OK;
}

/* Whether the consent question comes before field i. */
static int after_consent(xw *w, size_t i, const fs_field *consent)
{
    for (size_t j = 0; j < i; j++)
        if (fs_form_field(w->f, j) == consent)
            return 1;
    return 0;
}

/* The relevant of field i: its condition, and consent given when the form
 * asks for it and the field is not metadata. A note holds no answer: one
 * placed before the consent question (what to say or do first) is shown
 * before consent can be given, as the agent shows it. */
static int relevant_of(xw *w, size_t i, fs_buf *b)
{
    const fs_field *fld = fs_form_field(w->f, i);
    const fs_field *consent = fs_form_consent_field(w->f);
    const cJSON *rel = member(field_json(w, i), "relevant");
    int rc = FS_OK;

    if (consent != NULL && fld != consent &&
        !(fs_field_flags(fld) & FS_FIELD_METADATA) &&
        (fs_field_type_of(fld) != FS_FIELD_NOTE ||
         after_consent(w, i, consent))) {
        rc = bput(b, path_of(w, fs_field_name(consent)));
        if (rc == FS_OK)
            rc = bput(b, " = 'yes'");
    }
    if (rc == FS_OK && rel != NULL) {
        rc = xp_and(b);
        if (rc == FS_OK)
            rc = xp_cond(w, rel, fld, b);
    }
    return rc;
}

/* The constraint of field i: its per-type members and its condition. */
static int constraint_of(xw *w, size_t i, fs_buf *b)
{
    static const struct {
        const char *member, *op, *of;
    } bounds[] = {{"min", ">=", NULL},
                  {"max", "<=", NULL},
                  {"min_length", ">=", "string-length(.)"},
                  {"max_length", "<=", "string-length(.)"},
                  {"min_count", ">=", "count-selected(.)"},
                  {"max_count", "<=", "count-selected(.)"}};
    const fs_field *fld = fs_form_field(w->f, i);
    const cJSON *fj = field_json(w, i), *v;
    fs_field_type t = fs_field_type_of(fld);
    int rc = FS_OK;

    for (size_t k = 0; rc == FS_OK && k < sizeof bounds / sizeof bounds[0];
         k++) {
        v = member(fj, bounds[k].member);
        if (v == NULL)
            continue;
        rc = xp_and(b);
        if (rc == FS_OK)
            rc = bput(b, bounds[k].of != NULL     ? bounds[k].of
                         : t == FS_FIELD_DATETIME ? "decimal-date-time(.)"
                                                  : ".");
        if (rc == FS_OK)
            rc = bput(b, " ");
        if (rc == FS_OK)
            rc = bput(b, bounds[k].op);
        if (rc == FS_OK)
            rc = bput(b, " ");
        if (rc == FS_OK)
            rc = xp_value(b, bounds[k].of == NULL ? t : FS_FIELD_INTEGER, v);
    }
    v = member(fj, "pattern");
    if (rc == FS_OK && cJSON_IsString(v)) {
        rc = xp_and(b);
        if (rc == FS_OK)
            rc = bput(b, "regex(., ");
        if (rc == FS_OK)
            rc = xp_pattern(b, v->valuestring);
        if (rc == FS_OK)
            rc = bput(b, ")");
    }
    v = member(fj, "constraint");
    if (rc == FS_OK && v != NULL) {
        rc = xp_and(b);
        if (rc == FS_OK)
            rc = xp_cond(w, v, fld, b);
    }
    return rc;
}

/* ---- model ----------------------------------------------------------- */

static const char *bind_type(fs_field_type t)
{
    switch (t) {
    case FS_FIELD_INTEGER:
        return "int";
    case FS_FIELD_DECIMAL:
        return "decimal";
    case FS_FIELD_DATE:
        return "date";
    case FS_FIELD_DATETIME:
        return "dateTime";
    case FS_FIELD_GEOPOINT:
        return "geopoint";
    case FS_FIELD_IMAGE:
    case FS_FIELD_AUDIO:
    case FS_FIELD_FILE:
        return "binary"; /* the answer is a file's name, the file beside */
    default:
        return "string";
    }
}

/* A walk over the asked fields in order, nested in their sections:
 * what to write when a section opens and closes, and at each field;
 * depth is the number of sections open around it. */
typedef struct walker {
    void (*open)(xw *w, int sec, int depth);
    void (*close)(xw *w, int sec, int depth);
    void (*field)(xw *w, size_t i, int depth);
} walker;

static void walk(xw *w, const walker *v)
{
    int open[NEST_MAX];
    int nopen = 0;

    for (size_t i = 0; i < fs_form_field_count(w->f); i++) {
        int chain[NEST_MAX], n = 0, k;
        int s = section_index(w, str_member(field_json(w, i), "section"));

        if (w->paths[i] == NULL)
            continue;
        for (; s >= 0 && n < NEST_MAX; s = section_parent(w, s))
            chain[n++] = s;
        /* chain is innermost first; the common prefix stays open. */
        for (k = 0; k < nopen && k < n && open[k] == chain[n - 1 - k]; k++)
            ;
        while (nopen > k) {
            nopen--;
            v->close(w, open[nopen], nopen);
        }
        for (; nopen < n; nopen++) {
            open[nopen] = chain[n - 1 - nopen];
            v->open(w, open[nopen], nopen);
        }
        v->field(w, i, nopen);
    }
    while (nopen > 0) {
        nopen--;
        v->close(w, open[nopen], nopen);
    }
}

static const char *section_name(const xw *w, int sec)
{
    return req_member(cJSON_GetArrayItem(sections_json(w), sec), "name");
}

static void instance_open(xw *w, int sec, int depth)
{
    indent(w, 5 + depth);
    putf(w, "<%s>\n", section_name(w, sec));
}

static void instance_close(xw *w, int sec, int depth)
{
    indent(w, 5 + depth);
    putf(w, "</%s>\n", section_name(w, sec));
}

static void instance_field(xw *w, size_t i, int depth)
{
    indent(w, 5 + depth);
    putf(w, "<%s/>\n", fs_field_name(fs_form_field(w->f, i)));
}

/* The primary instance: the area, the fields in their sections, meta. */
static void write_instance(xw *w)
{
    static const walker v = {instance_open, instance_close, instance_field};

    putf(w, "      <instance>\n        <data id=\"%s\" version=\"%lld\">\n",
         fs_form_id(w->f), (long long)fs_form_version(w->f));
    puts_(w, "          <_area/>\n");
    walk(w, &v);
    puts_(w, "          <meta>\n            <instanceID/>\n"
             "            <deprecatedID/>\n          </meta>\n"
             "        </data>\n      </instance>\n");
}

/* A select whose choices depend on an earlier answer offers them from a
 * secondary instance, filtered by an itemset. Its id: the list's name,
 * or the field's for choices of its own. */
static void filtered_instance_id(const cJSON *fj, char *out, size_t cap)
{
    const cJSON *c = member(fj, "choices");

    if (cJSON_IsString(c))
        snprintf(out, cap, "list_%s", c->valuestring);
    else
        snprintf(out, cap, "field_%s", req_member(fj, "name"));
}

/* Field i filters its choices; 1 when no earlier field filters the same
 * list (which has its instance already). */
static int first_filter_of(const xw *w, size_t i, const char *id)
{
    for (size_t j = 0; j < i; j++) {
        char other[FS_ID_MAX + 8];

        if (w->paths[j] == NULL ||
            member(field_json(w, j), "choice_filter") == NULL)
            continue;
        filtered_instance_id(field_json(w, j), other, sizeof other);
        if (strcmp(other, id) == 0)
            return 0;
    }
    return 1;
}

static void write_secondary(xw *w)
{
    for (size_t i = 0; i < fs_form_field_count(w->f); i++) {
        const cJSON *fj = field_json(w, i), *it;
        char id[FS_ID_MAX + 8];
        size_t n = 0;

        if (w->paths[i] == NULL || member(fj, "choice_filter") == NULL)
            continue;
        filtered_instance_id(fj, id, sizeof id);
        if (!first_filter_of(w, i, id))
            continue;
        putf(w, "      <instance id=\"%s\">\n        <root>\n", id);
        cJSON_ArrayForEach(it, choices_of(w, fj))
        {
            const char *code =
                cJSON_IsString(it) ? it->valuestring : str_member(it, "value");
            const cJSON *flt = member(it, "filter"), *kv;
            char tid[FS_ID_MAX + 32];

            snprintf(tid, sizeof tid, "%s-%zu", id, n++);
            text_id(w, tid, member(it, "label"), code);
            putf(w, "          <item>\n            <itextId>%s</itextId>\n",
                 tid);
            putf(w, "            <name>%s</name>\n", code);
            cJSON_ArrayForEach(kv, flt)
            {
                putf(w, "            <%s>%s</%s>\n", kv->string,
                     kv->valuestring, kv->string);
            }
            puts_(w, "          </item>\n");
        }
        puts_(w, "        </root>\n      </instance>\n");
    }
}

static void write_binds(xw *w)
{
    fs_buf cond;
    char tid[FS_ID_MAX * 4];

    fs_buf_init(&cond, HUB_XFORM_MAX);
    putf(w,
         "      <bind nodeset=\"%s\" type=\"string\"%s "
         "constraint=\"regex(., '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')\"/>\n",
         AREA_PATH, fs_form_area_required(w->f) ? " required=\"true()\"" : "");
    for (size_t i = 0; i < fs_form_field_count(w->f) && w->rc == FS_OK; i++) {
        const fs_field *fld = fs_form_field(w->f, i);
        fs_field_type t = fs_field_type_of(fld);
        fs_field_auto a = fs_field_auto_of(fld);
        const cJSON *fj = field_json(w, i);
        int rc;

        if (w->paths[i] == NULL)
            continue;
        putf(w, "      <bind nodeset=\"%s\" type=\"%s\"", w->paths[i],
             bind_type(t));
        if (t == FS_FIELD_NOTE)
            puts_(w, " readonly=\"true()\"");
        if (fs_field_flags(fld) & FS_FIELD_REQUIRED)
            puts_(w, " required=\"true()\"");
        fs_buf_reset(&cond);
        rc = relevant_of(w, i, &cond);
        if (rc == FS_OK && cond.len > 0) {
            puts_(w, " relevant=\"");
            esc(w, (const char *)cond.data, 1);
            puts_(w, "\"");
        }
        fs_buf_reset(&cond);
        if (rc == FS_OK)
            rc = constraint_of(w, i, &cond);
        if (rc == FS_OK && cond.len > 0) {
            puts_(w, " constraint=\"");
            esc(w, (const char *)cond.data, 1);
            puts_(w, "\"");
            if (member(fj, "constraint_message") != NULL) {
                snprintf(tid, sizeof tid, "%s:jr:constraintMsg", w->paths[i]);
                putf(w, " jr:constraintMsg=\"jr:itext('%s')\"",
                     text_id(w, tid, member(fj, "constraint_message"), NULL));
            }
        }
        if (a == FS_AUTO_START || a == FS_AUTO_END)
            putf(w, " jr:preload=\"timestamp\" jr:preloadParams=\"%s\"",
                 fs_field_auto_name(a));
        else if (a == FS_AUTO_TODAY)
            puts_(w, " jr:preload=\"date\" jr:preloadParams=\"today\"");
        else if (a == FS_AUTO_DEVICEID)
            puts_(w, " jr:preload=\"property\" jr:preloadParams=\"deviceid\"");
        /* Collect scales a photo down to this many pixels on its longer
         * side before it is sent (an XLSForm's max-pixels parameter). */
        if (t == FS_FIELD_IMAGE && cJSON_IsNumber(member(fj, "x_max_pixels")))
            putf(w, " orx:max-pixels=\"%d\"",
                 member(fj, "x_max_pixels")->valueint);
        puts_(w, "/>\n");
        if (rc != FS_OK && w->rc == FS_OK)
            w->rc = rc;
    }
    puts_(w, "      <bind nodeset=\"/data/meta/instanceID\" type=\"string\" "
             "readonly=\"true()\" jr:preload=\"uid\"/>\n"
             "      <bind nodeset=\"/data/meta/deprecatedID\" "
             "type=\"string\"/>\n");
    fs_buf_free(&cond);
}

/* ---- body ------------------------------------------------------------ */

static void label_ref(xw *w, int depth, const char *tag, const char *id,
                      const cJSON *node, const char *fallback)
{
    indent(w, depth);
    putf(w, "<%s ref=\"jr:itext('", tag);
    esc(w, text_id(w, id, node, fallback), 1);
    puts_(w, "')\"/>\n");
}

static void write_items(xw *w, int depth, size_t i)
{
    const fs_field *fld = fs_form_field(w->f, i);
    const cJSON *fj = field_json(w, i), *it;
    char tid[FS_ID_MAX * 4 + 16];

    if (fs_field_type_of(fld) == FS_FIELD_LIKERT) {
        const cJSON *labels = member(fj, "scale_labels");

        for (int k = 1; k <= fs_field_scale(fld); k++) {
            char num[16];

            snprintf(num, sizeof num, "%d", k);
            snprintf(tid, sizeof tid, "%s/%d:label", w->paths[i], k);
            indent(w, depth);
            puts_(w, "<item>\n");
            label_ref(w, depth + 1, "label", tid,
                      cJSON_GetArrayItem(labels, k - 1), num);
            indent(w, depth + 1);
            putf(w, "<value>%d</value>\n", k);
            indent(w, depth);
            puts_(w, "</item>\n");
        }
        return;
    }
    if (member(fj, "choice_filter") != NULL) {
        const cJSON *cf = member(fj, "choice_filter");
        char id[FS_ID_MAX + 8];

        const char *by = path_of(w, req_member(cf, "field"));

        filtered_instance_id(fj, id, sizeof id);
        indent(w, depth);
        /* A retired field is never answered: nothing is offered. */
        putf(w, "<itemset nodeset=\"instance('%s')/root/item[%s = %s]\">\n", id,
             req_member(cf, "key"), by != NULL ? by : "''");
        indent(w, depth + 1);
        puts_(w, "<value ref=\"name\"/>\n");
        indent(w, depth + 1);
        puts_(w, "<label ref=\"jr:itext(itextId)\"/>\n");
        indent(w, depth);
        puts_(w, "</itemset>\n");
        return;
    }
    cJSON_ArrayForEach(it, choices_of(w, fj))
    {
        const char *code =
            cJSON_IsString(it) ? it->valuestring : str_member(it, "value");

        snprintf(tid, sizeof tid, "%s/%s:label", w->paths[i], code);
        indent(w, depth);
        puts_(w, "<item>\n");
        label_ref(w, depth + 1, "label", tid, member(it, "label"), code);
        indent(w, depth + 1);
        putf(w, "<value>%s</value>\n", code);
        indent(w, depth);
        puts_(w, "</item>\n");
    }
}

/* An upload's mediatype, as pyxform writes it ("image/" or "audio/" and
 * a star, "application/" and a star for a file), and for a file field
 * with content types
 * the accept list Collect's file picker filters by. */
static void write_mediatype(xw *w, fs_field_type t, const cJSON *types)
{
    const cJSON *it;
    int first = 1;

    putf(w, " mediatype=\"%s\"",
         t == FS_FIELD_IMAGE   ? "image/*"
         : t == FS_FIELD_AUDIO ? "audio/*"
                               : "application/*");
    if (t != FS_FIELD_FILE || !cJSON_IsArray(types))
        return;
    puts_(w, " accept=\"");
    cJSON_ArrayForEach(it, types)
    {
        if (!cJSON_IsString(it))
            continue;
        if (!first)
            puts_(w, ",");
        esc(w, it->valuestring, 1);
        first = 0;
    }
    puts_(w, "\"");
}

static void write_control(xw *w, int depth, size_t i)
{
    const fs_field *fld = fs_form_field(w->f, i);
    const cJSON *fj = field_json(w, i);
    fs_field_type t = fs_field_type_of(fld);
    const char *tag = t == FS_FIELD_SELECT_ONE || t == FS_FIELD_LIKERT
                          ? "select1"
                      : t == FS_FIELD_SELECT_MULTIPLE  ? "select"
                      : fs_field_type_is_attachment(t) ? "upload"
                                                       : "input";
    const char *app = str_member(fj, "x_appearance");
    char tid[FS_ID_MAX * 4 + 16];

    if (fs_field_auto_of(fld) != FS_AUTO_NONE)
        return; /* filled by the device: a bind, no control */
    indent(w, depth);
    putf(w, "<%s ref=\"%s\"", tag, w->paths[i]);
    if (fs_field_type_is_attachment(t))
        write_mediatype(w, t, member(fj, "content_types"));
    if (t == FS_FIELD_LIKERT || app != NULL) {
        puts_(w, " appearance=\"");
        if (t == FS_FIELD_LIKERT)
            puts_(w, app != NULL ? "likert " : "likert");
        if (app != NULL)
            esc(w, app, 1);
        puts_(w, "\"");
    }
    puts_(w, ">\n");
    snprintf(tid, sizeof tid, "%s:label", w->paths[i]);
    label_ref(w, depth + 1, "label", tid, member(fj, "label"),
              fs_field_name(fld));
    if (member(fj, "hint") != NULL) {
        snprintf(tid, sizeof tid, "%s:hint", w->paths[i]);
        label_ref(w, depth + 1, "hint", tid, member(fj, "hint"), NULL);
    }
    if (strcmp(tag, "input") != 0)
        write_items(w, depth + 1, i);
    indent(w, depth);
    putf(w, "</%s>\n", tag);
}

static void group_open(xw *w, int sec, int depth)
{
    const cJSON *o = cJSON_GetArrayItem(sections_json(w), sec);
    const char *app = str_member(o, "x_appearance");
    char tid[FS_ID_MAX * 4 + 16];

    indent(w, 2 + depth);
    putf(w, "<group ref=\"%s\"", w->secpaths[sec]);
    if (app != NULL) {
        puts_(w, " appearance=\"");
        esc(w, app, 1);
        puts_(w, "\"");
    }
    puts_(w, ">\n");
    if (member(o, "label") != NULL) {
        snprintf(tid, sizeof tid, "%s:label", w->secpaths[sec]);
        label_ref(w, 3 + depth, "label", tid, member(o, "label"), NULL);
    }
}

static void group_close(xw *w, int sec, int depth)
{
    (void)sec;
    indent(w, 2 + depth);
    puts_(w, "</group>\n");
}

static void body_field(xw *w, size_t i, int depth)
{
    write_control(w, 2 + depth, i);
}

static void write_body(xw *w)
{
    static const walker v = {group_open, group_close, body_field};

    puts_(w, "  <h:body>\n");
    puts_(w, "    <input ref=\"" AREA_PATH "\">\n");
    label_ref(w, 3, "label", AREA_PATH ":label", w->area_label,
              "Area code (the neighbourhood)");
    puts_(w, "    </input>\n");
    walk(w, &v);
    puts_(w, "  </h:body>\n");
}

int hub__xform_write(const fs_form *f, fs_buf *out)
{
    xw w;
    fs_buf head, body;
    int rc;

    memset(&w, 0, sizeof w);
    w.f = f;
    w.doc = fs_form_json(f);
    fs_buf_init(out, HUB_XFORM_MAX);
    fs_buf_init(&head, HUB_XFORM_MAX);
    fs_buf_init(&body, HUB_XFORM_MAX);
    collect_langs(&w, w.doc, 0);
    order_langs(&w);
    w.rc = make_paths(&w);
    /* The area question speaks the instruments' two languages; others
     * fall back to English. */
    w.area_label = cJSON_CreateObject();
    if (w.area_label == NULL ||
        cJSON_AddStringToObject(w.area_label, "en",
                                "Area code (the neighbourhood)") == NULL ||
        cJSON_AddStringToObject(w.area_label, "fr",
                                "Code de la zone (le quartier)") == NULL)
        w.rc = FS_ENOMEM;
    /* The body and the model are written apart, the model last: the
     * translations need every text the body names. */
    w.out = &body;
    if (w.rc == FS_OK)
        write_body(&w);
    w.out = &head;
    if (w.rc == FS_OK) {
        write_instance(&w);
        write_secondary(&w);
        write_binds(&w);
    }
    w.out = out;
    puts_(&w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<h:html xmlns=\"http://www.w3.org/2002/xforms\" "
              "xmlns:ev=\"http://www.w3.org/2001/xml-events\" "
              "xmlns:h=\"http://www.w3.org/1999/xhtml\" "
              "xmlns:jr=\"http://openrosa.org/javarosa\" "
              "xmlns:odk=\"http://www.opendatakit.org/xforms\" "
              "xmlns:orx=\"http://openrosa.org/xforms\" "
              "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n"
              "  <h:head>\n    <h:title>");
    esc(&w, fs_form_title(f, NULL), 0);
    puts_(&w, "</h:title>\n    <model odk:xforms-version=\"1.0.0\">\n");
    write_itext(&w);
    if (head.len > 0)
        put(&w, (const char *)head.data, head.len);
    puts_(&w, "    </model>\n  </h:head>\n");
    if (body.len > 0)
        put(&w, (const char *)body.data, body.len);
    puts_(&w, "</h:html>\n");
    rc = w.rc;
    fs_buf_free(&head);
    fs_buf_free(&body);
    for (size_t i = 0; i < w.ntexts; i++) {
        free(w.texts[i].id);
        free(w.texts[i].fallback);
    }
    free(w.texts);
    for (size_t i = 0; w.paths != NULL && i < fs_form_field_count(f); i++)
        free(w.paths[i]);
    free(w.paths);
    for (size_t i = 0; w.secpaths != NULL && i < w.nsections; i++)
        free(w.secpaths[i]);
    free(w.secpaths);
    cJSON_Delete(w.area_label);
    return rc;
}
