/*
 * test_xlsform.c - unit tests of the XLSForm importer and the XForm
 * writer (sync-server/xlsx.h, xlsexpr.h, xlsform.h, xform.h): every
 * limit of the workbook reader with its exact message, expressions
 * translated or refused, language names, and XForms that expat reads
 * back as well-formed XML, the same bytes each time.
 *
 * A table of named cases: run them all, or the one named by argv[1].
 */
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_form.h"
#include "langs.h"
#include "unit.h"
#include "xform.h"
#include "xlsexpr.h"
#include "xlsform.h"
#include "xlsx.h"

/* ---- helpers --------------------------------------------------------- */

static char *sample(const char *name, size_t *len)
{
    char path[512];

    snprintf(path, sizeof path, "%s/pyxform/%s", FS_XLSFORM_DIR, name);
    return unit_slurp(path, len);
}

static hub__xlsform_problems probs;

/* Converts a sample under lim; the first problem as "where: msg". */
static int convert(const char *name, const hub__xlsx_limits *lim, cJSON **doc,
                   char *first, size_t cap)
{
    size_t len = 0;
    char *data = sample(name, &len);
    int rc;

    *doc = NULL;
    first[0] = '\0';
    if (data == NULL)
        return FS_EIO;
    hub__xlsform_problems_free(&probs);
    rc = hub__xlsform_convert(data, len, "sample", lim, doc, &probs);
    free(data);
    if (probs.n > 0)
        snprintf(first, cap, "%s: %s", probs.items[0].where,
                 probs.items[0].msg);
    return rc;
}

#define CHECK_STR(got, want)                                                   \
    do {                                                                       \
        const char *g_ = (got), *w_ = (want);                                  \
        if (g_ == NULL || strcmp(g_, w_) != 0)                                 \
            return failf(__FILE__, __LINE__, "%s: got '%s', want '%s'", #got,  \
                         g_ ? g_ : "(null)", w_);                              \
    } while (0)

/* ---- the workbook reader --------------------------------------------- */

static int test_reader_cells(void)
{
    size_t len = 0;
    char *data = sample("yes_or_no_question.xlsx", &len);
    hub__xlsx *x = NULL;
    const hub__xlsx_sheet *s = NULL;
    fs_problems p;
    char ref[16];
    int i;

    CHECK(data != NULL);
    fs_problems_init(&p);
    CHECK(hub__xlsx_open(data, len, NULL, &x, &p) == FS_OK);
    CHECK(hub__xlsx_sheet_count(x) == 2);
    i = hub__xlsx_find_sheet(x, "SURVEY"); /* names compare any case */
    CHECK(i == 0);
    CHECK(hub__xlsx_find_sheet(x, "settings") == -1);
    CHECK(hub__xlsx_read_sheet(x, (size_t)i, &s, &p) == FS_OK);
    CHECK_STR(hub__xlsx_text(s, 1, 3), "label:english");
    CHECK_STR(hub__xlsx_text(s, 2, 1), "select one from yes_or_no");
    CHECK(hub__xlsx_text(s, 2, 4) == NULL);
    CHECK(hub__xlsx_text(s, 9, 1) == NULL);
    hub__xlsx_free(x);
    free(data);
    hub__xlsx_ref(1, 1, ref, sizeof ref);
    CHECK_STR(ref, "A1");
    hub__xlsx_ref(513, 27, ref, sizeof ref);
    CHECK_STR(ref, "AA513");
    hub__xlsx_ref(3, 16384, ref, sizeof ref);
    CHECK_STR(ref, "XFD3");
    return 0;
}

/* Each limit of the reader, hit on a real sample with its exact words. */
static int test_reader_limits(void)
{
    static const struct {
        size_t off;
        size_t value;
        const char *want;
    } cases[] = {
        {offsetof(hub__xlsx_limits, file_max), 1000,
         "workbook: the file is larger than 1000 bytes"},
        {offsetof(hub__xlsx_limits, entries_max), 3,
         "workbook: the archive has more than 3 entries"},
        {offsetof(hub__xlsx_limits, part_max), 100,
         "workbook: xl/workbook.xml declares 1538 bytes uncompressed, more "
         "than the 100 bytes allowed (a zip bomb?)"},
        {offsetof(hub__xlsx_limits, total_max), 3000,
         "workbook: xl/worksheets/sheet1.xml declares 1513 bytes "
         "uncompressed, more than the 194 bytes allowed (a zip bomb?)"},
        {offsetof(hub__xlsx_limits, strings_max), 2,
         "workbook: xl/sharedStrings.xml: more than 2 shared strings"},
        {offsetof(hub__xlsx_limits, cells_max), 3,
         "survey: more than 3 cells with a value"},
        {offsetof(hub__xlsx_limits, cell_max), 10,
         "workbook: xl/sharedStrings.xml: a text of more than 10 bytes"},
        {offsetof(hub__xlsx_limits, depth_max), 2,
         "workbook: xl/workbook.xml: XML nested more than 2 deep"},
    };
    char first[512];
    cJSON *doc;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hub__xlsx_limits lim;

        hub__xlsx_limits_default(&lim);
        if (cases[i].off == offsetof(hub__xlsx_limits, depth_max))
            lim.depth_max = (int)cases[i].value;
        else
            *(size_t *)(void *)((char *)&lim + cases[i].off) = cases[i].value;
        int rc =
            convert("yes_or_no_question.xlsx", &lim, &doc, first, sizeof first);
        if (rc == FS_OK ||
            strncmp(first, cases[i].want, strlen(cases[i].want)) != 0)
            return failf(__FILE__, __LINE__, "limit %zu: rc %d, '%s'", i, rc,
                         first);
        CHECK(doc == NULL);
    }
    /* Rows and columns: the survey sheet has 2 rows and 3 columns. */
    {
        hub__xlsx_limits lim;

        hub__xlsx_limits_default(&lim);
        lim.rows_max = 1;
        CHECK(convert("yes_or_no_question.xlsx", &lim, &doc, first,
                      sizeof first) == FS_ETOOBIG);
        CHECK_STR(first, "survey: row 2 is past the last row, 1");
        hub__xlsx_limits_default(&lim);
        lim.cols_max = 2;
        CHECK(convert("yes_or_no_question.xlsx", &lim, &doc, first,
                      sizeof first) == FS_ETOOBIG);
        CHECK_STR(first,
                  "survey: column 3 of row 1 is past the last column, 2");
    }
    /* Within the limits, the same sample converts. */
    CHECK(convert("yes_or_no_question.xlsx", NULL, &doc, first, sizeof first) ==
          FS_OK);
    CHECK(doc != NULL);
    cJSON_Delete(doc);
    hub__xlsform_problems_free(&probs);
    return 0;
}

/* ---- expressions ----------------------------------------------------- */

static int lookup(void *ud, const char *name, hub__xlsexpr_ref *out)
{
    static const char *const codes[] = {"low", "mid", "high"};
    static const struct {
        const char *name;
        fs_field_type type;
    } fields[] = {
        {"age", FS_FIELD_INTEGER},   {"name", FS_FIELD_TEXT},
        {"yn", FS_FIELD_SELECT_ONE}, {"many", FS_FIELD_SELECT_MULTIPLE},
        {"when", FS_FIELD_DATE},     {"where", FS_FIELD_GEOPOINT},
        {"lk", FS_FIELD_LIKERT},     {"grp", 0},
    };

    (void)ud;
    if (strcmp(name, "twice") == 0)
        return -2;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i].name, name) == 0) {
            memset(out, 0, sizeof *out);
            out->name = fields[i].name;
            out->type = fields[i].type;
            if (out->type == FS_FIELD_LIKERT) {
                out->codes = codes;
                out->ncodes = 3;
            }
            return 0;
        }
    return -1;
}

static int test_expressions(void)
{
    static const struct {
        const char *expr;
        int self;         /* a constraint of "age" */
        const char *want; /* the condition, or the reason of a refusal */
    } cases[] = {
        {"${age} >= 18", 0, "{\"field\":\"age\",\"op\":\"ge\",\"value\":18}"},
        {"18 <= ${age}", 0, "{\"field\":\"age\",\"op\":\"ge\",\"value\":18}"},
        {"${age} = '18'", 0, "{\"field\":\"age\",\"op\":\"eq\",\"value\":18}"},
        {"${yn} != 'yes'", 0,
         "{\"not\":{\"field\":\"yn\",\"op\":\"eq\",\"value\":\"yes\"}}"},
        {"${name} = ''", 0,
         "{\"not\":{\"field\":\"name\",\"op\":\"answered\"}}"},
        {"${where} != ''", 0, "{\"field\":\"where\",\"op\":\"answered\"}"},
        {"selected(${many}, 'a') or selected(${yn}, 'no')", 0,
         "{\"any\":[{\"field\":\"many\",\"op\":\"contains\",\"value\":\"a\"},"
         "{\"field\":\"yn\",\"op\":\"eq\",\"value\":\"no\"}]}"},
        {". > 0 and . < 120 and (. != 50)", 1,
         "{\"all\":[{\"field\":\"age\",\"op\":\"gt\",\"value\":0},"
         "{\"field\":\"age\",\"op\":\"lt\",\"value\":120},"
         "{\"not\":{\"field\":\"age\",\"op\":\"eq\",\"value\":50}}]}"},
        {"string-length(${name}) <= 10", 0,
         "{\"field\":\"name\",\"op\":\"le\",\"of\":\"length\",\"value\":10}"},
        {"count-selected(${many}) != 2", 0,
         "{\"field\":\"many\",\"op\":\"ne\",\"of\":\"count\",\"value\":2}"},
        {"regex(${name}, '^[A-Z]{2}\\d+$')", 0,
         "{\"field\":\"name\",\"op\":\"matches\",\"value\":\"[A-Z]{2}\\\\d+"
         "\"}"},
        {"regex(${name}, 'ab')", 0,
         "{\"field\":\"name\",\"op\":\"matches\",\"value\":\".*ab.*\"}"},
        {"${when} >= date('2024-01-01')", 0,
         "{\"field\":\"when\",\"op\":\"ge\",\"value\":\"2024-01-01\"}"},
        {"${lk} = 'mid'", 0, "{\"field\":\"lk\",\"op\":\"eq\",\"value\":2}"},
        {"not(${age} < -5)", 0,
         "{\"not\":{\"field\":\"age\",\"op\":\"lt\",\"value\":-5}}"},
        {"${yn} = 1", 0, "{\"field\":\"yn\",\"op\":\"eq\",\"value\":\"1\"}"},
        /* refused, with the reason */
        {"${age} + 1 > 2", 0, "arithmetic (+) is not supported"},
        {"${age} > ${age}", 0,
         "${age} is compared with ${age}: fieldsync compares a question "
         "with a fixed value only"},
        {". > 1", 0,
         "'.' is the question's own answer, which only a constraint tests"},
        {"${nope} = 1", 0, "${nope} names no question"},
        {"${twice} = 1", 0,
         "${twice} is ambiguous: several questions have that name"},
        {"${grp} = 1", 0, "${grp} is a group, not a question"},
        {"${many} = 'a'", 0,
         "${many} is a select_multiple: test a choice with selected(${many}, "
         "'code')"},
        {"pulldata('f', 'a', 'b', 'c') = 1", 0,
         "pulldata() reads an external CSV file, which fieldsync forms do "
         "not carry"},
        {"${name}", 0,
         "${name} alone is not a condition (in XLSForm it is always true): "
         "compare it, e.g. ${name} != ''"},
        {"${age} > 1 >= 2", 0, "a chained comparison (>=) is not supported"},
        {"/data/age > 1", 0,
         "paths such as '/data/age' are not supported: name questions as "
         "${name}"},
        {"${age} > 'x'", 0, "${age} is a number; 'x' is not one"},
        {"${lk} = 'top'", 0, "'top' is not a choice of ${lk}"},
        {"((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))",
         0, "nested more than 32 deep"},
        {"${age} > 1 and", 0, "unexpected the end"},
        {"'unclosed", 0, "unexpected ''unclosed'"},
    };
    hub__xlsexpr_ref self = {"age", FS_FIELD_INTEGER, NULL, 0};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *c = NULL;
        char why[256], *text;
        int rc =
            hub__xlsexpr_condition(cases[i].expr, cases[i].self ? &self : NULL,
                                   lookup, NULL, &c, why, sizeof why);

        if (rc == FS_OK) {
            text = cJSON_PrintUnformatted(c);
            cJSON_Delete(c);
            if (text == NULL || strcmp(text, cases[i].want) != 0) {
                failf(__FILE__, __LINE__, "'%s' gave %s, want %s",
                      cases[i].expr, text ? text : "NULL", cases[i].want);
                free(text);
                return 1;
            }
            free(text);
        } else if (c != NULL || strcmp(why, cases[i].want) != 0) {
            return failf(__FILE__, __LINE__, "'%s' refused: '%s', want '%s'",
                         cases[i].expr, why, cases[i].want);
        }
    }
    return 0;
}

static int test_languages(void)
{
    char code[24], id[80];

    CHECK(hub__lang_code("English (en)", code, sizeof code) == 0);
    CHECK_STR(code, "en");
    CHECK(hub__lang_code("Português (PT-br)", code, sizeof code) == 0);
    CHECK_STR(code, "pt-br");
    CHECK(hub__lang_code("french", code, sizeof code) == 0);
    CHECK_STR(code, "fr");
    CHECK(hub__lang_code("FR", code, sizeof code) == 0);
    CHECK_STR(code, "fr");
    CHECK(hub__lang_code("pt-BR", code, sizeof code) == 0);
    CHECK_STR(code, "pt-BR");
    CHECK(hub__lang_code("Klingon", code, sizeof code) == -1);
    CHECK(hub__lang_code("Elvish (elvish)", code, sizeof code) == -1);
    CHECK_STR(hub__lang_name("zh"), "Chinese");
    CHECK_STR(hub__lang_name("pt-BR"), "Portuguese");
    CHECK(hub__lang_name("tlh") == NULL);
    hub__xlsform_id_from_path("dir.v2/Household Survey (v2).xlsx", id,
                              sizeof id);
    CHECK_STR(id, "household_survey_v2");
    hub__xlsform_id_from_path("2024-visits.xlsx", id, sizeof id);
    CHECK_STR(id, "");
    CHECK(hub__xlsform_is_xlsx("PK\x03\x04rest", 8) == 1);
    CHECK(hub__xlsform_is_xlsx("{\"id\":", 6) == 0);
    return 0;
}

/* ---- XForms ---------------------------------------------------------- */

typedef struct depth_count {
    int depth, max;
    size_t elements;
} depth_count;

static void XMLCALL on_start(void *ud, const XML_Char *n, const XML_Char **a)
{
    depth_count *d = ud;

    (void)n;
    (void)a;
    d->elements++;
    if (++d->depth > d->max)
        d->max = d->depth;
}

static void XMLCALL on_end(void *ud, const XML_Char *n)
{
    depth_count *d = ud;

    (void)n;
    d->depth--;
}

/* Writes f's XForm twice (same bytes) and parses it with expat. */
static int xform_ok(const fs_form *f, fs_buf *out)
{
    fs_buf again;
    XML_Parser p;
    depth_count d = {0, 0, 0};
    int ok;

    CHECK(hub__xform_write(f, out) == FS_OK);
    CHECK(hub__xform_write(f, &again) == FS_OK);
    ok = again.len == out->len && memcmp(again.data, out->data, out->len) == 0;
    fs_buf_free(&again);
    CHECK(ok);
    p = XML_ParserCreateNS(NULL, ' ');
    CHECK(p != NULL);
    XML_SetUserData(p, &d);
    XML_SetElementHandler(p, on_start, on_end);
    if (XML_Parse(p, (const char *)out->data, (int)out->len, 1) !=
        XML_STATUS_OK) {
        failf(__FILE__, __LINE__, "not well-formed: line %lu: %s",
              (unsigned long)XML_GetCurrentLineNumber(p),
              XML_ErrorString(XML_GetErrorCode(p)));
        XML_ParserFree(p);
        return 1;
    }
    XML_ParserFree(p);
    CHECK(d.elements > 10 && d.depth == 0);
    return 0;
}

static int test_xform_instruments(void)
{
    static const char *const forms[] = {
        "resilience_baseline", "focus_group_record", "key_informant_interview",
        "mechanism_mapping", "demo_household"};

    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char path[512];
        size_t len = 0;
        char *json;
        fs_form *f = NULL;
        fs_buf xml;
        int r;

        snprintf(path, sizeof path, "%s/%s.json", FS_FORMS_DIR, forms[i]);
        json = unit_slurp(path, &len);
        CHECK(json != NULL);
        CHECK(fs_form_parse(json, len, FS_FORM_STRICT, &f, NULL) == FS_OK);
        free(json);
        r = xform_ok(f, &xml);
        if (r == 0 && strcmp(forms[i], "resilience_baseline") == 0) {
            const char *x = (const char *)xml.data;

            /* meta, both languages, consent cuts the other questions,
             * the pattern as an anchored regex */
            r = strstr(x, "<instanceID/>") == NULL ||
                strstr(x, "lang=\"French (fr)\"") == NULL ||
                strstr(x, "relevant=\"/data/consent = 'yes'\"") == NULL ||
                strstr(x, "constraint=\"regex(., '^[A-Z]{2}-\\d{4}$')\"") ==
                    NULL;
            if (r)
                failf(__FILE__, __LINE__, "resilience_baseline XForm: %.300s",
                      x);
        }
        if (r == 0 && strcmp(forms[i], "focus_group_record") == 0) {
            /* its opening note comes before the consent question: shown
             * at once, not once consent is given */
            r = strstr((const char *)xml.data,
                       "<bind nodeset=\"/data/intro\" type=\"string\" "
                       "readonly=\"true()\"/>") == NULL;
            if (r)
                failf(__FILE__, __LINE__,
                      "focus_group_record XForm: intro waits for consent");
        }
        fs_buf_free(&xml);
        fs_form_free(f);
        if (r)
            return r;
    }
    return 0;
}

/* Sections, fields the device fills, a choice filter, every kind of
 * comparison, and texts that need escaping. */
static const char tricky[] =
    "{\"id\":\"tricky\",\"version\":2,\"title\":\"Quotes ' \\\" & <tags>\","
    "\"area\":\"optional\",\"default_language\":\"fr\","
    "\"sections\":[{\"name\":\"s1\",\"label\":{\"fr\":\"Un\",\"en\":\"One\"}},"
    "{\"name\":\"s2\",\"within\":\"s1\",\"x_appearance\":\"field-list\"}],"
    "\"choice_lists\":{\"city\":[\"a\",\"b\"],\"district\":["
    "{\"value\":\"a1\",\"filter\":{\"city\":\"a\"}},"
    "{\"value\":\"b1\",\"label\":{\"fr\":\"B un\"},\"filter\":{\"city\":"
    "\"b\"}}]},"
    "\"fields\":["
    "{\"name\":\"start\",\"type\":\"datetime\",\"auto\":\"start\"},"
    "{\"name\":\"city\",\"type\":\"select_one\",\"choices\":\"city\","
    "\"section\":\"s1\"},"
    "{\"name\":\"district\",\"type\":\"select_one\",\"choices\":\"district\","
    "\"choice_filter\":{\"field\":\"city\",\"key\":\"city\"},"
    "\"section\":\"s2\"},"
    "{\"name\":\"said\",\"type\":\"text\",\"section\":\"s2\","
    "\"label\":\"Tab\\there, bell \\u0007, <b>&amp;</b>\","
    "\"constraint\":{\"any\":[{\"field\":\"said\",\"op\":\"eq\",\"value\":"
    "\"it's \\\"x\\\"\"},{\"field\":\"said\",\"op\":\"matches\",\"value\":"
    "\"^\\\\w+$\"}]},\"constraint_message\":{\"fr\":\"Non\"}},"
    "{\"name\":\"when\",\"type\":\"datetime\",\"relevant\":{\"field\":"
    "\"start\",\"op\":\"in\",\"value\":[\"2026-01-01T00:00:00Z\"]}},"
    "{\"name\":\"old\",\"type\":\"text\",\"retired\":true},"
    "{\"name\":\"n\",\"type\":\"decimal\",\"min\":0.5,\"max\":1e6,"
    "\"relevant\":{\"field\":\"when\",\"op\":\"ne\",\"value\":"
    "\"2026-01-01T00:00:00Z\"}}]}";

static int test_xform_tricky(void)
{
    fs_form *f = NULL;
    fs_problems p;
    fs_buf xml;
    const char *x;
    int r;

    fs_problems_init(&p);
    if (fs_form_parse(tricky, strlen(tricky), FS_FORM_STRICT, &f, &p) != FS_OK)
        return failf(__FILE__, __LINE__, "%s: %s", p.items[0].where,
                     p.items[0].msg);
    r = xform_ok(f, &xml);
    x = (const char *)xml.data;
    if (r == 0) {
        static const char *const wants[] = {
            "<h:title>Quotes ' \" &amp; &lt;tags&gt;</h:title>",
            "<translation default=\"true()\" lang=\"French (fr)\">",
            "<translation lang=\"English (en)\">",
            "<s1>\n            <city/>\n            <s2>\n",
            "<bind nodeset=\"/data/start\" type=\"dateTime\" "
            "jr:preload=\"timestamp\" jr:preloadParams=\"start\"/>",
            "<bind nodeset=\"/data/_area\" type=\"string\" constraint=",
            "constraint=\"((. = concat('it', &quot;'&quot;, 's &quot;x&quot;', "
            "'')) or regex(., '^\\w+$'))\"",
            "relevant=\"(/data/start != '' and "
            "(decimal-date-time(/data/start) = "
            "decimal-date-time('2026-01-01T00:00:00Z')))\"",
            "relevant=\"(/data/when != '' and decimal-date-time(/data/when) "
            "!= decimal-date-time('2026-01-01T00:00:00Z'))\"",
            "constraint=\". &gt;= 0.5 and . &lt;= 1000000\"",
            "<itemset nodeset=\"instance('list_district')/root/item[city = "
            "/data/s1/city]\">",
            "<group ref=\"/data/s1/s2\" appearance=\"field-list\">",
            "<value>Tab\there, bell \xEF\xBF\xBD, &lt;b&gt;&amp;amp;&lt;/b&gt;"
            "</value>",
        };
        for (size_t i = 0; i < sizeof wants / sizeof wants[0]; i++)
            if (strstr(x, wants[i]) == NULL) {
                r = failf(__FILE__, __LINE__, "no %s in:\n%s", wants[i], x);
                break;
            }
        if (r == 0 && strstr(x, "old") != NULL)
            r = failf(__FILE__, __LINE__, "a retired field is in the XForm");
    }
    fs_buf_free(&xml);
    fs_form_free(f);
    return r;
}

static const unit_case tests[] = {
    {"reader cells", test_reader_cells},
    {"reader limits", test_reader_limits},
    {"expressions", test_expressions},
    {"languages and ids", test_languages},
    {"xform of the instruments", test_xform_instruments},
    {"xform escaping and structure", test_xform_tricky},
};

int main(int argc, char **argv)
{
    int rc = unit_run(tests, sizeof tests / sizeof tests[0], argc, argv);

    hub__xlsform_problems_free(&probs);
    return rc;
}
