/*
 * test_form.c - unit tests of form definitions and answer validation
 * (protocol/fs_form.h, schema/FORMS.md).
 *
 * A table of named cases: run them all, or the one named by argv[1].
 * Prints "ok - name" or "FAIL - name: reason"; exits 1 on any failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fs_form.h"
#include "fs_seal.h"
#include "unit.h"

/* ---- harness --------------------------------------------------------- */

#define CHECK_STR(got, want)                                                   \
    do {                                                                       \
        const char *g_ = (got), *w_ = (want);                                  \
        if (g_ == NULL || strcmp(g_, w_) != 0)                                 \
            return failf(__FILE__, __LINE__, "%s: got '%s', want '%s'", #got,  \
                         g_ ? g_ : "(null)", w_);                              \
    } while (0)

/* ---- helpers --------------------------------------------------------- */

static fs_problems probs;

/* The problems as "where: msg" lines, for messages and searches. */
static const char *plist(void)
{
    static char buf[16384];
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < probs.n; i++) {
        int w = snprintf(buf + used, sizeof buf - used, "%s: %s\n",
                         probs.items[i].where, probs.items[i].msg);
        if (w < 0 || (size_t)w >= sizeof buf - used)
            break;
        used += (size_t)w;
    }
    return buf;
}

/* Asserts a problem at where whose message contains needle. */
#define CHECK_PROBLEM(at, needle)                                              \
    do {                                                                       \
        int found_ = 0;                                                        \
        for (size_t i_ = 0; i_ < probs.n; i_++)                                \
            if (strcmp(probs.items[i_].where, (at)) == 0 &&                    \
                strstr(probs.items[i_].msg, (needle)) != NULL)                 \
                found_ = 1;                                                    \
        if (!found_)                                                           \
            return failf(__FILE__, __LINE__, "no '%s: ...%s...' in:\n%s",      \
                         (at), (needle), plist());                             \
    } while (0)

#define CHECK_NPROBLEMS(n)                                                     \
    do {                                                                       \
        if (fs_problems_total(&probs) != (size_t)(n))                          \
            return failf(__FILE__, __LINE__, "%zu problems, want %d:\n%s",     \
                         fs_problems_total(&probs), (n), plist());             \
    } while (0)

static fs_form *parse_strict(const char *json)
{
    fs_form *f = NULL;

    fs_problems_init(&probs);
    fs_form_parse(json, strlen(json), FS_FORM_STRICT, &f, &probs);
    return f;
}

/* Validates answers (JSON text) against f; returns the FS code. */
static int validate(const fs_form *f, const char *answers, const char *area)
{
    cJSON *a = cJSON_Parse(answers);
    int rc;

    fs_problems_init(&probs);
    rc = fs_answers_validate(f, a, area, &probs);
    cJSON_Delete(a);
    return rc;
}

/* A form with one field of every type and every constraint. */
static const char all_types[] =
    "{\"id\":\"t\",\"version\":1,\"kind\":\"observation\","
    "\"title\":{\"en\":\"All types\",\"fr\":\"Tous les types\"},"
    "\"choice_lists\":{\"yn\":[\"yes\",\"no\"]},"
    "\"fields\":["
    "{\"name\":\"txt\",\"type\":\"text\",\"min_length\":2,"
    "\"max_length\":5},"
    "{\"name\":\"code\",\"type\":\"text\",\"pattern\":\"[A-Z]{2}-\\\\d{2,3}\"},"
    "{\"name\":\"n\",\"type\":\"integer\",\"min\":0,\"max\":10},"
    "{\"name\":\"x\",\"type\":\"decimal\",\"min\":-1.5,\"max\":2.5},"
    "{\"name\":\"one\",\"type\":\"select_one\",\"choices\":\"yn\"},"
    "{\"name\":\"many\",\"type\":\"select_multiple\","
    "\"choices\":[\"a\",\"b\",\"c\"],\"min_count\":1,\"max_count\":2},"
    "{\"name\":\"lk\",\"type\":\"likert\",\"scale\":4},"
    "{\"name\":\"d\",\"type\":\"date\",\"min\":\"2024-01-01\","
    "\"max\":\"2026-12-31\"},"
    "{\"name\":\"dt\",\"type\":\"datetime\","
    "\"min\":\"2024-01-01T00:00:00Z\"},"
    "{\"name\":\"geo\",\"type\":\"geopoint\"},"
    "{\"name\":\"info\",\"type\":\"note\",\"label\":\"Read this\"}]}";

/* ---- definitions ----------------------------------------------------- */

static int test_parse_all_types(void)
{
    static const fs_field_type types[] = {
        FS_FIELD_TEXT,     FS_FIELD_TEXT,       FS_FIELD_INTEGER,
        FS_FIELD_DECIMAL,  FS_FIELD_SELECT_ONE, FS_FIELD_SELECT_MULTIPLE,
        FS_FIELD_LIKERT,   FS_FIELD_DATE,       FS_FIELD_DATETIME,
        FS_FIELD_GEOPOINT, FS_FIELD_NOTE};
    fs_form *f = parse_strict(all_types);

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    CHECK_STR(fs_form_id(f), "t");
    CHECK(fs_form_version(f) == 1);
    CHECK(fs_form_kind_of(f) == FS_FORM_OBSERVATION);
    CHECK(fs_form_area_required(f) == 0); /* not a survey, not asked */
    CHECK(fs_form_field_count(f) == sizeof types / sizeof types[0]);
    for (size_t i = 0; i < fs_form_field_count(f); i++)
        CHECK(fs_field_type_of(fs_form_field(f, i)) == types[i]);
    CHECK(fs_field_choice_count(fs_form_field_named(f, "one")) == 2);
    CHECK(fs_field_scale(fs_form_field_named(f, "lk")) == 4);
    CHECK_STR(fs_field_type_name(FS_FIELD_SELECT_MULTIPLE), "select_multiple");
    fs_form_free(f);
    return 0;
}

static int test_minimal_definition(void)
{
    /* What older test forms publish: a plain title, text fields. */
    fs_form *f = parse_strict("{\"id\":\"m\",\"version\":3,\"title\":\"M\","
                              "\"fields\":[{\"name\":\"a\",\"type\":"
                              "\"text\",\"personal\":true}]}");

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    CHECK(fs_form_kind_of(f) == FS_FORM_SURVEY);
    CHECK(fs_form_area_required(f) == 1); /* surveys need an area */
    CHECK_STR(fs_form_language(f), "en");
    CHECK(fs_field_flags(fs_form_field(f, 0)) & FS_FIELD_PERSONAL);
    fs_form_free(f);
    return 0;
}

static int test_every_problem_with_path(void)
{
    fs_form *f = parse_strict(
        "{\"id\":\"Bad-Id\",\"version\":0,\"kind\":\"poll\","
        "\"title\":{\"fr\":\"x\"},\"colour\":1,\"area\":\"maybe\","
        "\"choice_lists\":{\"l\":[\"a\",\"a\",\"\"]},"
        "\"fields\":[{\"name\":\"a\",\"type\":\"select_one\"},"
        "{\"name\":\"a\",\"type\":\"txt\"},"
        "{\"name\":\"n\",\"type\":\"integer\",\"min\":5,\"max\":1,"
        "\"pattern\":\"x\"},"
        "{\"name\":\"t\",\"type\":\"text\",\"pattern\":\"(a|b)\","
        "\"relevant\":{\"field\":\"zz\",\"op\":\"eq\",\"value\":1}},"
        "{\"name\":\"l\",\"type\":\"likert\",\"scale_labels\":[]},"
        "{\"name\":\"s\",\"type\":\"select_one\",\"choices\":\"nope\"},"
        "{\"name\":\"r\",\"type\":\"text\",\"relevant\":{\"any\":["
        "{\"field\":\"n\",\"op\":\"gt\",\"value\":\"x\"},"
        "{\"field\":\"r\",\"op\":\"answered\"},"
        "{\"field\":\"l\",\"op\":\"within\"}]}},"
        "{\"name\":\"c\",\"type\":\"text\",\"consent\":true,"
        "\"required\":\"yes\"}],"
        "\"dedupe_key\":[\"missing\"]}");

    CHECK(f == NULL);
    CHECK_PROBLEM("$", "unknown member 'colour'");
    CHECK_PROBLEM("$.id", "lower-case letters");
    CHECK_PROBLEM("$.version", "whole number");
    CHECK_PROBLEM("$.kind", "survey, focus_group");
    CHECK_PROBLEM("$.area", "required or optional");
    CHECK_PROBLEM("$.title", "default language 'en'");
    CHECK_PROBLEM("$.choice_lists.l[1]", "already choice 0");
    CHECK_PROBLEM("$.choice_lists.l[2]", "a choice is a code");
    CHECK_PROBLEM("$.fields[0].choices", "required for select_one");
    CHECK_PROBLEM("$.fields[1].name", "already the name of fields[0]");
    CHECK_PROBLEM("$.fields[1].type", "unknown type 'txt'");
    CHECK_PROBLEM("$.fields[2]", "min is above max");
    CHECK_PROBLEM("$.fields[2].pattern", "applies to text fields only");
    CHECK_PROBLEM("$.fields[3].pattern", "groups and alternatives");
    CHECK_PROBLEM("$.fields[3].relevant.field", "no field is named 'zz'");
    CHECK_PROBLEM("$.fields[4].scale", "required for likert");
    CHECK_PROBLEM("$.fields[5].choices", "no list 'nope'");
    CHECK_PROBLEM("$.fields[6].relevant.any[0].value", "must be a number");
    CHECK_PROBLEM("$.fields[6].relevant.any[1].field", "not an earlier");
    CHECK_PROBLEM("$.fields[6].relevant.any[2].op", "must be one of");
    CHECK_PROBLEM("$.fields[7].required", "true or false");
    CHECK_PROBLEM("$.fields[7]", "consent field is a select_one");
    CHECK_PROBLEM("$.dedupe_key[0]", "must name a field");
    return 0;
}

static int test_not_json(void)
{
    fs_form *f = parse_strict("{\"id\": ");

    CHECK(f == NULL);
    CHECK(probs.n == 1);
    CHECK_STR(probs.items[0].where, "$");
    f = parse_strict("[1, 2]");
    CHECK(f == NULL);
    CHECK_PROBLEM("$", "a form definition is a JSON object");
    return 0;
}

static int test_lenient_ignores_unknown(void)
{
    static const char def[] = "{\"id\":\"m\",\"version\":1,\"title\":\"M\","
                              "\"future\":1,\"fields\":[{\"name\":\"a\","
                              "\"type\":\"text\",\"colour\":\"red\"}]}";
    fs_form *f = NULL;

    fs_problems_init(&probs);
    CHECK(fs_form_parse(def, strlen(def), 0, &f, &probs) == FS_OK);
    fs_form_free(f);
    CHECK(parse_strict(def) == NULL);
    CHECK_NPROBLEMS(2);
    CHECK_PROBLEM("$.fields[0]", "unknown member 'colour'");
    return 0;
}

static int test_instruments_parse(void)
{
    static const char *const names[] = {
        "demo_household", "resilience_baseline", "focus_group_record",
        "key_informant_interview", "mechanism_mapping"};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        size_t len = 0;
        char *text;
        fs_form *f;

        snprintf(path, sizeof path, "%s/%s.json", FS_FORMS_DIR, names[i]);
        text = unit_slurp(path, &len);
        if (text == NULL)
            return failf(__FILE__, __LINE__, "cannot read %s", path);
        fs_problems_init(&probs);
        f = NULL;
        fs_form_parse(text, len, FS_FORM_STRICT, &f, &probs);
        free(text);
        if (f == NULL)
            return failf(__FILE__, __LINE__, "%s refused:\n%s", names[i],
                         plist());
        /* Every label has a French text as well as the English one. */
        for (size_t k = 0; k < fs_form_field_count(f); k++) {
            const fs_field *fld = fs_form_field(f, k);

            if (strcmp(names[i], "demo_household") != 0 &&
                fs_field_label(fld, "fr") == fs_field_label(fld, "en"))
                return failf(__FILE__, __LINE__, "%s.%s: no French label",
                             names[i], fs_field_name(fld));
        }
        fs_form_free(f);
    }
    return 0;
}

static int test_language_fallback(void)
{
    fs_form *f = parse_strict(
        "{\"id\":\"l\",\"version\":1,\"default_language\":\"fr\","
        "\"title\":{\"fr\":\"Titre\",\"en\":\"Title\"},\"fields\":["
        "{\"name\":\"a\",\"type\":\"select_one\",\"label\":{\"fr\":\"Âge\","
        "\"en\":\"Age\"},\"hint\":{\"fr\":\"En années\"},\"choices\":["
        "{\"value\":\"y\",\"label\":{\"fr\":\"Oui\",\"pt-BR\":\"Sim\"}},"
        "\"n\"]},"
        "{\"name\":\"b\",\"type\":\"likert\",\"scale\":2,\"scale_labels\":"
        "[\"bas\",{\"fr\":\"haut\",\"en\":\"high\"}]},"
        "{\"name\":\"c\",\"type\":\"text\"}]}");
    const fs_field *a, *b;
    const char *label = NULL;

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    a = fs_form_field(f, 0);
    b = fs_form_field(f, 1);
    CHECK_STR(fs_form_title(f, "en"), "Title");
    CHECK_STR(fs_form_title(f, "de"), "Titre");
    CHECK_STR(fs_form_title(f, NULL), "Titre");
    CHECK_STR(fs_field_label(a, "en"), "Age");
    CHECK_STR(fs_field_label(a, "wo"), "Âge");
    CHECK_STR(fs_field_hint(a, "en"), "En années");
    CHECK(fs_field_hint(b, "fr") == NULL);
    CHECK_STR(fs_field_label(fs_form_field(f, 2), "en"), "c");
    CHECK_STR(fs_field_choice(a, 0, "pt-BR", &label), "y");
    CHECK_STR(label, "Sim");
    fs_field_choice(a, 0, "en", &label);
    CHECK_STR(label, "Oui");
    CHECK_STR(fs_field_choice(a, 1, "en", &label), "n");
    CHECK_STR(label, "n");
    CHECK(fs_field_choice(a, 2, "en", &label) == NULL);
    CHECK_STR(fs_field_scale_label(b, 1, "en"), "bas");
    CHECK_STR(fs_field_scale_label(b, 2, "en"), "high");
    CHECK(fs_field_scale_label(b, 3, "en") == NULL);
    fs_form_free(f);
    /* A text object must hold the default language. */
    CHECK(parse_strict("{\"id\":\"l\",\"version\":1,\"title\":\"T\","
                       "\"fields\":[{\"name\":\"a\",\"type\":\"text\","
                       "\"label\":{\"fr\":\"x\",\"EN\":\"y\"}}]}") == NULL);
    CHECK_PROBLEM("$.fields[0].label", "default language 'en'");
    CHECK_PROBLEM("$.fields[0].label.EN", "not a language code");
    return 0;
}

/* ---- answers: types and constraints ---------------------------------- */

static const struct {
    const char *answers;
    const char *where; /* NULL: valid */
    const char *needle;
} answer_cases[] = {
    {"{}", NULL, NULL},
    {"{\"txt\":\"abc\",\"code\":\"AB-123\",\"n\":10,\"x\":-1.5,"
     "\"one\":\"no\",\"many\":[\"a\",\"c\"],\"lk\":4,\"d\":\"2024-02-29\","
     "\"dt\":\"2026-03-01T14:30:00+01:00\","
     "\"geo\":{\"lat\":-33.9,\"lon\":18.4,\"accuracy\":5}}",
     NULL, NULL},
    /* text */
    {"{\"txt\":5}", "txt", "must be a text"},
    {"{\"txt\":\"a\"}", "txt", "shorter than 2"},
    {"{\"txt\":\"abcdef\"}", "txt", "longer than 5"},
    {"{\"txt\":\"\\u00e9t\\u00e9s\"}", NULL, NULL}, /* 4 code points */
    {"{\"txt\":\"\"}", "txt", "empty text"},
    {"{\"code\":\"AB-1\"}", "code", "does not match"},
    {"{\"code\":\"AB-1234\"}", "code", "does not match"},
    {"{\"code\":\"ab-123\"}", "code", "does not match"},
    /* integer */
    {"{\"n\":1.5}", "n", "whole number"},
    {"{\"n\":\"3\"}", "n", "whole number"},
    {"{\"n\":-1}", "n", "below the minimum 0"},
    {"{\"n\":11}", "n", "above the maximum 10"},
    /* decimal */
    {"{\"x\":2.5}", NULL, NULL},
    {"{\"x\":2.51}", "x", "above the maximum 2.5"},
    {"{\"x\":-2}", "x", "below the minimum -1.5"},
    {"{\"x\":true}", "x", "must be a number"},
    /* select_one */
    {"{\"one\":\"maybe\"}", "one", "'maybe' is not one of the choices"},
    {"{\"one\":[\"yes\"]}", "one", "one choice code"},
    /* select_multiple */
    {"{\"many\":\"a\"}", "many", "array of choice codes"},
    {"{\"many\":[]}", "many", "choose at least 1"},
    {"{\"many\":[\"a\",\"b\",\"c\"]}", "many", "choose at most 2"},
    {"{\"many\":[\"a\",\"a\"]}", "many", "chosen twice"},
    {"{\"many\":[\"z\"]}", "many", "'z' is not one of the choices"},
    /* likert */
    {"{\"lk\":0}", "lk", "from 1 to 4"},
    {"{\"lk\":5}", "lk", "from 1 to 4"},
    {"{\"lk\":2.5}", "lk", "from 1 to 4"},
    /* date */
    {"{\"d\":\"2025-02-29\"}", "d", "must be a date"},
    {"{\"d\":\"2024-13-01\"}", "d", "must be a date"},
    {"{\"d\":\"2024-1-01\"}", "d", "must be a date"},
    {"{\"d\":\"2023-12-31\"}", "d", "below the minimum 2024-01-01"},
    {"{\"d\":\"2027-01-01\"}", "d", "above the maximum 2026-12-31"},
    /* datetime */
    {"{\"dt\":\"2026-03-01 14:30:00Z\"}", "dt", "must be a date-time"},
    {"{\"dt\":\"2026-03-01T14:30Z\"}", "dt", "must be a date-time"},
    {"{\"dt\":\"2026-03-01T24:00:00Z\"}", "dt", "must be a date-time"},
    {"{\"dt\":\"2026-03-01T14:30:00.250Z\"}", NULL, NULL},
    /* 00:30 at +01:00 is 23:30 the day before, in UTC: below the min */
    {"{\"dt\":\"2024-01-01T00:30:00+01:00\"}", "dt", "below the minimum"},
    {"{\"dt\":\"2024-01-01T00:30:00-01:00\"}", NULL, NULL},
    /* geopoint */
    {"{\"geo\":[1,2]}", "geo", "must be {"},
    {"{\"geo\":{\"lat\":91,\"lon\":0}}", "geo", "-90..90"},
    {"{\"geo\":{\"lat\":0}}", "geo", "-90..90"},
    {"{\"geo\":{\"lat\":0,\"lon\":0,\"alt\":3}}", "geo", "lat, lon and "},
    {"{\"geo\":{\"lat\":0,\"lon\":0,\"accuracy\":-1}}", "geo", "accuracy"},
    {"{\"geo\":{\"lat\":0,\"lon\":0,\"accuracy\":1e400}}", "geo", "accuracy"},
    /* note, unknown, null */
    {"{\"info\":\"x\"}", "info", "display only"},
    {"{\"nope\":1}", "nope", "not a field of form t version 1"},
    {"{\"txt\":null}", "txt", "null is not an answer"},
};

static int test_answer_types_and_constraints(void)
{
    fs_form *f = parse_strict(all_types);

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    for (size_t i = 0; i < sizeof answer_cases / sizeof answer_cases[0]; i++) {
        int rc = validate(f, answer_cases[i].answers, "");

        if (answer_cases[i].where == NULL) {
            if (rc != FS_OK)
                return failf(__FILE__, __LINE__, "%s refused:\n%s",
                             answer_cases[i].answers, plist());
            continue;
        }
        if (rc != FS_EINVALID || probs.n != 1 ||
            strcmp(probs.items[0].where, answer_cases[i].where) != 0 ||
            strstr(probs.items[0].msg, answer_cases[i].needle) == NULL)
            return failf(__FILE__, __LINE__,
                         "%s: want one '%s: ..%s..', "
                         "got:\n%s",
                         answer_cases[i].answers, answer_cases[i].where,
                         answer_cases[i].needle, plist());
    }
    fs_form_free(f);
    return 0;
}

static int test_every_answer_problem(void)
{
    fs_form *f = parse_strict(all_types);
    int rc;

    CHECK(f != NULL);
    rc = validate(f,
                  "{\"txt\":\"a\",\"code\":\"x\",\"n\":99,\"x\":\"1\","
                  "\"one\":\"z\",\"many\":[],\"lk\":9,\"d\":\"x\","
                  "\"dt\":\"x\",\"geo\":{},\"info\":1,\"zz\":0}",
                  "bad area!");
    CHECK(rc == FS_EINVALID);
    CHECK_NPROBLEMS(13);
    CHECK_PROBLEM("area", "not an area code");
    CHECK_PROBLEM("zz", "not a field");
    CHECK_PROBLEM("geo", "-90..90");
    fs_form_free(f);
    return 0;
}

static int test_required_and_area(void)
{
    fs_form *f = parse_strict(
        "{\"id\":\"r\",\"version\":2,\"title\":\"R\",\"fields\":["
        "{\"name\":\"a\",\"type\":\"text\",\"required\":true},"
        "{\"name\":\"m\",\"type\":\"select_multiple\",\"required\":true,"
        "\"choices\":[\"x\",\"y\"]}]}");

    CHECK(f != NULL);
    CHECK(validate(f, "{}", NULL) == FS_EINVALID);
    CHECK_NPROBLEMS(3);
    CHECK_PROBLEM("area", "needs the neighbourhood");
    CHECK_PROBLEM("a", "required");
    CHECK_PROBLEM("m", "required");
    CHECK(validate(f, "{\"a\":\"t\",\"m\":[]}", "N-01") == FS_EINVALID);
    CHECK_NPROBLEMS(1);
    CHECK_PROBLEM("m", "choose at least one");
    CHECK(validate(f, "{\"a\":\"t\",\"m\":[\"y\"]}", "N-01") == FS_OK);
    CHECK(validate(f, "[]", "N-01") == FS_EINVALID);
    CHECK_PROBLEM("answers", "JSON object");
    /* A duplicate key is one answer too many. */
    CHECK(validate(f, "{\"a\":\"t\",\"a\":\"u\",\"m\":[\"y\"]}", "N-01") ==
          FS_EINVALID);
    CHECK_PROBLEM("a", "answered twice");
    fs_form_free(f);
    return 0;
}

/* ---- skip logic ------------------------------------------------------ */

static const char skip_form[] =
    "{\"id\":\"s\",\"version\":1,\"title\":\"S\",\"area\":\"optional\","
    "\"fields\":["
    "{\"name\":\"seen\",\"type\":\"select_one\",\"choices\":[\"never\","
    "\"sometimes\",\"often\"]},"
    "{\"name\":\"where\",\"type\":\"select_multiple\",\"choices\":["
    "\"street\",\"online\",\"other\"],\"required\":true,"
    "\"relevant\":{\"field\":\"seen\",\"op\":\"in\",\"value\":[\"sometimes\","
    "\"often\"]}},"
    "{\"name\":\"other_where\",\"type\":\"text\",\"required\":true,"
    "\"relevant\":{\"field\":\"where\",\"op\":\"contains\",\"value\":"
    "\"other\"}},"
    "{\"name\":\"age\",\"type\":\"integer\"},"
    "{\"name\":\"when\",\"type\":\"date\"},"
    "{\"name\":\"youth\",\"type\":\"text\",\"relevant\":{\"any\":["
    "{\"all\":[{\"field\":\"age\",\"op\":\"ge\",\"value\":16},"
    "{\"field\":\"age\",\"op\":\"lt\",\"value\":25}]},"
    "{\"field\":\"when\",\"op\":\"gt\",\"value\":\"2026-01-01\"}]}},"
    "{\"name\":\"said\",\"type\":\"text\",\"relevant\":{\"field\":\"age\","
    "\"op\":\"answered\"}},"
    "{\"name\":\"not_never\",\"type\":\"text\",\"relevant\":{\"field\":"
    "\"seen\",\"op\":\"ne\",\"value\":\"never\"}},"
    "{\"name\":\"old\",\"type\":\"text\",\"retired\":true}]}";

static int test_skip_logic(void)
{
    fs_form *f = parse_strict(skip_form);
    cJSON *a;

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    /* Not asked: may be absent even when required, must be absent. */
    CHECK(validate(f, "{\"seen\":\"never\"}", NULL) == FS_OK);
    CHECK(validate(f, "{\"seen\":\"never\",\"where\":[\"street\"]}", NULL) ==
          FS_EINVALID);
    CHECK_NPROBLEMS(1);
    CHECK_PROBLEM("where", "relevant condition is false");
    /* Asked and required. */
    CHECK(validate(f, "{\"seen\":\"often\"}", NULL) == FS_EINVALID);
    CHECK_PROBLEM("where", "required");
    CHECK(validate(f, "{\"seen\":\"often\",\"where\":[\"online\"]}", NULL) ==
          FS_OK);
    /* Chains: other_where follows where, which follows seen. */
    CHECK(validate(f, "{\"seen\":\"often\",\"where\":[\"other\"]}", NULL) ==
          FS_EINVALID);
    CHECK_PROBLEM("other_where", "required");
    CHECK(validate(f, "{\"seen\":\"never\",\"other_where\":\"x\"}", NULL) ==
          FS_EINVALID);
    CHECK_PROBLEM("other_where", "leave it out");
    /* and/or with numbers and dates. */
    CHECK(validate(f, "{\"age\":20,\"youth\":\"y\"}", NULL) == FS_OK);
    CHECK(validate(f, "{\"age\":25,\"youth\":\"y\"}", NULL) == FS_EINVALID);
    CHECK(validate(f, "{\"age\":30,\"when\":\"2026-02-01\",\"youth\":\"y\"}",
                   NULL) == FS_OK);
    CHECK(validate(f, "{\"when\":\"2025-12-31\",\"youth\":\"y\"}", NULL) ==
          FS_EINVALID);
    /* answered; a condition on an unanswered field is false, ne too. */
    CHECK(validate(f, "{\"said\":\"x\"}", NULL) == FS_EINVALID);
    CHECK(validate(f, "{\"age\":1,\"said\":\"x\"}", NULL) == FS_OK);
    CHECK(validate(f, "{\"not_never\":\"x\"}", NULL) == FS_EINVALID);
    CHECK(validate(f,
                   "{\"seen\":\"often\",\"where\":[\"street\"],"
                   "\"not_never\":\"x\"}",
                   NULL) == FS_OK);
    /* Retired fields are never asked. */
    CHECK(validate(f, "{\"old\":\"x\"}", NULL) == FS_EINVALID);
    CHECK_PROBLEM("old", "retired");
    /* For fill: relevance given partial answers. */
    a = cJSON_Parse("{\"seen\":\"sometimes\"}");
    CHECK(fs_field_relevant(f, fs_form_field_named(f, "where"), a) == 1);
    CHECK(fs_field_relevant(f, fs_form_field_named(f, "other_where"), a) == 0);
    CHECK(fs_field_relevant(f, fs_form_field_named(f, "old"), a) == 0);
    cJSON_Delete(a);
    fs_form_free(f);
    return 0;
}

static int test_skip_logic_definition(void)
{
    CHECK(parse_strict("{\"id\":\"s\",\"version\":1,\"title\":\"S\","
                       "\"fields\":[{\"name\":\"a\",\"type\":\"text\","
                       "\"relevant\":{\"field\":\"b\",\"op\":\"eq\","
                       "\"value\":\"x\"}},{\"name\":\"b\",\"type\":"
                       "\"select_multiple\",\"choices\":[\"x\"]},"
                       "{\"name\":\"c\",\"type\":\"text\",\"relevant\":{"
                       "\"field\":\"b\",\"op\":\"eq\",\"value\":\"x\"}},"
                       "{\"name\":\"d\",\"type\":\"text\",\"relevant\":{"
                       "\"field\":\"a\",\"op\":\"gt\",\"value\":\"x\"}},"
                       "{\"name\":\"e\",\"type\":\"text\",\"relevant\":{"
                       "\"all\":[{\"any\":[{\"all\":[{\"any\":[{\"all\":[{"
                       "\"field\":\"a\",\"op\":\"answered\"}]}]}]}]}]}}]}") ==
          NULL);
    CHECK_PROBLEM("$.fields[0].relevant.field", "not an earlier field");
    CHECK_PROBLEM("$.fields[2].relevant", "contains or answered");
    CHECK_PROBLEM("$.fields[3].relevant", "compares numbers, dates");
    CHECK_PROBLEM("$.fields[4].relevant.all[0].any[0].all[0].any[0]",
                  "at most 4 deep");
    return 0;
}

/* ---- consent --------------------------------------------------------- */

static const char consent_form[] =
    "{\"id\":\"c\",\"version\":1,\"title\":\"C\",\"fields\":["
    "{\"name\":\"consent\",\"type\":\"select_one\",\"consent\":true,"
    "\"choices\":[\"yes\",\"no\"]},"
    "{\"name\":\"visit_date\",\"type\":\"date\",\"metadata\":true,"
    "\"required\":true},"
    "{\"name\":\"hh\",\"type\":\"text\",\"metadata\":true},"
    "{\"name\":\"wave\",\"type\":\"integer\",\"metadata\":true},"
    "{\"name\":\"q1\",\"type\":\"likert\",\"scale\":5,\"required\":true},"
    "{\"name\":\"q2\",\"type\":\"text\"}],"
    "\"dedupe_key\":[\"hh\",\"wave\"]}";

static int test_consent(void)
{
    fs_form *f = parse_strict(consent_form);
    cJSON *a;

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    CHECK(fs_form_consent_field(f) == fs_form_field(f, 0));
    /* Given: everything applies. */
    CHECK(validate(f,
                   "{\"consent\":\"yes\",\"visit_date\":\"2026-01-02\","
                   "\"hh\":\"H1\",\"wave\":1,\"q1\":3,\"q2\":\"t\"}",
                   "N-01") == FS_OK);
    /* Refused: metadata only; q1 is no longer required. */
    CHECK(validate(f,
                   "{\"consent\":\"no\",\"visit_date\":\"2026-01-02\","
                   "\"hh\":\"H1\",\"wave\":1}",
                   "N-01") == FS_OK);
    CHECK(validate(f,
                   "{\"consent\":\"no\",\"visit_date\":\"2026-01-02\","
                   "\"hh\":\"H1\",\"wave\":1,\"q1\":3,\"q2\":\"t\"}",
                   "N-01") == FS_EINVALID);
    CHECK_NPROBLEMS(2);
    CHECK_PROBLEM("q1", "consent was refused: only metadata is kept");
    CHECK_PROBLEM("q2", "consent was refused");
    /* Metadata still follows its own rules after a refusal. */
    CHECK(validate(f, "{\"consent\":\"no\",\"hh\":\"H1\",\"wave\":1}",
                   "N-01") == FS_EINVALID);
    CHECK_PROBLEM("visit_date", "required");
    /* The consent field itself is always required and checked. */
    CHECK(validate(f,
                   "{\"visit_date\":\"2026-01-02\",\"hh\":\"H1\","
                   "\"wave\":1,\"q1\":3}",
                   "N-01") == FS_EINVALID);
    CHECK_PROBLEM("consent", "ask for consent first");
    CHECK(validate(f,
                   "{\"consent\":\"maybe\",\"visit_date\":\"2026-01-02\","
                   "\"hh\":\"H1\",\"wave\":1}",
                   "N-01") == FS_EINVALID);
    CHECK_PROBLEM("consent", "not one of the choices");
    a = cJSON_Parse("{\"consent\":\"no\"}");
    CHECK(fs_consent_refused(f, a) == 1);
    CHECK(fs_field_relevant(f, fs_form_field_named(f, "q1"), a) == 0);
    CHECK(fs_field_relevant(f, fs_form_field_named(f, "hh"), a) == 1);
    cJSON_Delete(a);
    fs_form_free(f);
    /* A consent field must be a yes/no select_one, and only one. */
    CHECK(parse_strict("{\"id\":\"c\",\"version\":1,\"title\":\"C\","
                       "\"fields\":[{\"name\":\"a\",\"type\":\"select_one\","
                       "\"consent\":true,\"choices\":[\"ok\"]},"
                       "{\"name\":\"b\",\"type\":\"select_one\","
                       "\"consent\":true,\"choices\":[\"yes\",\"no\"]}]}") ==
          NULL);
    CHECK_PROBLEM("$.fields[0]", "choices yes and no");
    CHECK_PROBLEM("$.fields[1]", "already the consent field");
    return 0;
}

static int test_dedupe_key(void)
{
    fs_form *f = parse_strict(consent_form);
    cJSON *a;
    char key[128];

    CHECK(f != NULL);
    CHECK(fs_field_flags(fs_form_field_named(f, "hh")) & FS_FIELD_DEDUPE);
    /* Key fields are required. */
    CHECK(validate(f, "{\"consent\":\"no\",\"visit_date\":\"2026-01-02\"}",
                   "N-01") == FS_EINVALID);
    CHECK_PROBLEM("hh", "required");
    CHECK_PROBLEM("wave", "required");
    a = cJSON_Parse("{\"hh\":\"H1\",\"wave\":2}");
    CHECK(fs_answers_dedupe_key(f, a, key, sizeof key) == FS_OK);
    CHECK_STR(key, "c|\"H1\"|2");
    CHECK(fs_answers_dedupe_key(f, a, key, 6) == FS_ETOOBIG);
    cJSON_Delete(a);
    fs_form_free(f);
    /* With consent, key fields must be metadata. */
    CHECK(parse_strict("{\"id\":\"c\",\"version\":1,\"title\":\"C\","
                       "\"fields\":[{\"name\":\"consent\",\"type\":"
                       "\"select_one\",\"consent\":true,\"choices\":[\"yes\","
                       "\"no\"]},{\"name\":\"hh\",\"type\":\"text\"}],"
                       "\"dedupe_key\":[\"hh\"]}") == NULL);
    CHECK_PROBLEM("$.dedupe_key[0]", "marked metadata");
    return 0;
}

/* ---- wave_date ------------------------------------------------------- */

/* A form whose wave_date is the text W (a JSON value). */
static fs_form *wave_form(const char *w)
{
    char json[512];

    snprintf(json, sizeof json,
             "{\"id\":\"w\",\"version\":1,\"title\":\"W\",\"wave_date\":%s,"
             "\"fields\":[{\"name\":\"day\",\"type\":\"date\"},"
             "{\"name\":\"old\",\"type\":\"date\",\"retired\":true},"
             "{\"name\":\"at\",\"type\":\"datetime\"}]}",
             w);
    return parse_strict(json);
}

static int test_wave_date(void)
{
    fs_form *f = wave_form("\"day\"");

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    CHECK(fs_form_wave_date_field(f) == fs_form_field_named(f, "day"));
    fs_form_free(f);
    f = parse_strict(consent_form);
    CHECK(f != NULL && fs_form_wave_date_field(f) == NULL);
    fs_form_free(f);
    CHECK(wave_form("\"nope\"") == NULL);
    CHECK_PROBLEM("$.wave_date", "must name a field of this form");
    CHECK(wave_form("3") == NULL);
    CHECK_PROBLEM("$.wave_date", "must name a field of this form");
    CHECK(wave_form("\"at\"") == NULL);
    CHECK_PROBLEM("$.wave_date", "'at' is a datetime field");
    CHECK(wave_form("\"old\"") == NULL);
    CHECK_PROBLEM("$.wave_date", "'old' is retired");
    return 0;
}

/* ---- patterns -------------------------------------------------------- */

static int match(const char *pattern, const char *text)
{
    char def[1024];
    fs_form *f;
    int rc;

    snprintf(def, sizeof def,
             "{\"id\":\"p\",\"version\":1,\"title\":\"P\",\"fields\":["
             "{\"name\":\"t\",\"type\":\"text\",\"pattern\":\"%s\"}]}",
             pattern);
    f = parse_strict(def);
    if (f == NULL)
        return -1;
    snprintf(def, sizeof def, "{\"t\":\"%s\"}", text);
    rc = validate(f, def, "A");
    fs_form_free(f);
    return rc == FS_OK;
}

static int test_patterns(void)
{
    static const struct {
        const char *pattern, *text;
        int want;
    } cases[] = {
        {"abc", "abc", 1},
        {"abc", "abcd", 0}, /* anchored at both ends */
        {"^abc$", "abc", 1},
        {"a.c", "a\\u00e9c", 1}, /* . is one code point */
        {"[a-c]+", "abcabc", 1},
        {"[a-c]+", "abd", 0},
        {"[^0-9]{3}", "a b", 1},
        {"[^0-9]{3}", "a1b", 0},
        {"\\\\d{2,4}", "1", 0},
        {"\\\\d{2,4}", "12345", 0},
        {"\\\\d{2,4}", "123", 1},
        {"\\\\w+@\\\\w+\\\\.org", "a_b@x.org", 1},
        {"x?y*z", "z", 1},
        {"x?y*z", "xyyyz", 1},
        {"x?y*z", "xxz", 0},
        {"a{2,}b", "aaaab", 1},
        {"a{2,}b", "ab", 0},
        {"[-+]?\\\\d+", "-12", 1},
        {"\\\\s*x", "  x", 1},
        /* Repeats of repeats cost no backtracking. */
        {"a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
    };
    static const char *const bad[] = {"(ab)",    "a|b",  "*a",
                                      "a{3,2}",  "[abc", "\\\\q",
                                      "a{2000}", "]",    "\\u00e9"};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = match(cases[i].pattern, cases[i].text);

        if (got != cases[i].want)
            return failf(__FILE__, __LINE__,
                         "'%s' ~ '%s': got %d, want %d:"
                         "\n%s",
                         cases[i].pattern, cases[i].text, got, cases[i].want,
                         plist());
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (match(bad[i], "x") != -1)
            return failf(__FILE__, __LINE__, "pattern '%s' accepted", bad[i]);
    return 0;
}

/* ---- one answer at a time (for fill) --------------------------------- */

static int test_answer_check_one(void)
{
    fs_form *f = parse_strict(all_types);
    cJSON *v;

    CHECK(f != NULL);
    v = cJSON_CreateNumber(3);
    fs_problems_init(&probs);
    CHECK(fs_answer_check(f, fs_form_field_named(f, "lk"), v, &probs) == FS_OK);
    CHECK(fs_answer_check(f, fs_form_field_named(f, "n"), v, &probs) == FS_OK);
    CHECK(fs_answer_check(f, fs_form_field_named(f, "txt"), v, &probs) ==
          FS_EINVALID);
    CHECK_NPROBLEMS(1);
    CHECK_PROBLEM("txt", "must be a text");
    cJSON_Delete(v);
    fs_form_free(f);
    return 0;
}

/* ---- version rules --------------------------------------------------- */

static const char v1[] =
    "{\"id\":\"f\",\"version\":1,\"title\":\"V1\",\"fields\":["
    "{\"name\":\"a\",\"type\":\"select_one\",\"choices\":[\"x\",\"y\"]},"
    "{\"name\":\"b\",\"type\":\"likert\",\"scale\":5},"
    "{\"name\":\"c\",\"type\":\"text\",\"sensitive\":true}]}";

static int upgrade(const char *newer)
{
    fs_form *o = NULL, *n = NULL;
    int rc;

    o = parse_strict(v1);
    n = parse_strict(newer);
    if (o == NULL || n == NULL) {
        fs_form_free(o);
        fs_form_free(n);
        return -100;
    }
    fs_problems_init(&probs);
    rc = fs_form_check_upgrade(o, n, &probs);
    fs_form_free(o);
    fs_form_free(n);
    return rc;
}

static int test_version_rules(void)
{
    /* Adds a field and a choice, relabels, reorders, retires: fine. */
    CHECK(upgrade("{\"id\":\"f\",\"version\":2,\"title\":{\"en\":\"V2\","
                  "\"fr\":\"V2\"},\"fields\":["
                  "{\"name\":\"new\",\"type\":\"integer\"},"
                  "{\"name\":\"a\",\"type\":\"select_one\",\"label\":\"A\","
                  "\"choices\":[\"x\",\"y\",\"z\"]},"
                  "{\"name\":\"c\",\"type\":\"text\",\"sensitive\":true,"
                  "\"required\":true},"
                  "{\"name\":\"b\",\"type\":\"likert\",\"scale\":5,"
                  "\"retired\":true}]}") == FS_OK);
    /* Everything that is refused, all at once. */
    CHECK(upgrade("{\"id\":\"g\",\"version\":1,\"kind\":\"interview\","
                  "\"title\":\"V2\",\"fields\":["
                  "{\"name\":\"a\",\"type\":\"select_one\",\"choices\":[\"x\","
                  "\"w\"]},"
                  "{\"name\":\"b\",\"type\":\"likert\",\"scale\":7},"
                  "{\"name\":\"d\",\"type\":\"text\"}]}") == FS_EMALFORMED);
    CHECK_NPROBLEMS(6);
    CHECK_PROBLEM("$.id", "another form");
    CHECK_PROBLEM("$.version", "above the published version 1");
    CHECK_PROBLEM("$.kind", "keeps its kind");
    CHECK_PROBLEM("$.fields[0]", "lost choice 'y'");
    CHECK_PROBLEM("$.fields[1]", "scale never changes");
    CHECK_PROBLEM("$.fields", "'c' of version 1 is missing");
    /* A type change. */
    CHECK(upgrade("{\"id\":\"f\",\"version\":3,\"title\":\"V3\",\"fields\":["
                  "{\"name\":\"a\",\"type\":\"select_multiple\",\"choices\":"
                  "[\"x\",\"y\"]},{\"name\":\"b\",\"type\":\"likert\","
                  "\"scale\":5},{\"name\":\"c\",\"type\":\"text\"}]}") ==
          FS_EMALFORMED);
    CHECK_NPROBLEMS(2);
    CHECK_PROBLEM("$.fields[0]", "was select_one and cannot become "
                                 "select_multiple");
    CHECK_PROBLEM("$.fields[2]", "was marked sensitive");
    return 0;
}

/* ---- problem lists --------------------------------------------------- */

static int test_problems_bounded(void)
{
    char buf[80];
    size_t n;

    fs_problems_init(&probs);
    for (int i = 0; i < FS_PROBLEMS_MAX + 5; i++)
        fs_problems_add(&probs, "f", "problem %d", i);
    CHECK(probs.n == FS_PROBLEMS_MAX);
    CHECK(probs.dropped == 5);
    CHECK(fs_problems_total(&probs) == FS_PROBLEMS_MAX + 5);
    n = fs_problems_format(&probs, "; ", buf, sizeof buf);
    CHECK(n == strlen(buf) && n < sizeof buf);
    CHECK(strncmp(buf, "f: problem 0; f: problem 1", 26) == 0);
    CHECK(strstr(buf, "more)") != NULL);
    fs_problems_init(&probs);
    fs_problems_add(&probs, "a", "b");
    fs_problems_format(&probs, "; ", buf, sizeof buf);
    CHECK_STR(buf, "a: b");
    /* A form with more problems than the list holds still says so. */
    {
        char def[8192];
        size_t used = 0;
        int w = snprintf(def, sizeof def,
                         "{\"id\":\"x\",\"version\":1,"
                         "\"title\":\"X\",\"fields\":[");

        used = (size_t)w;
        for (int i = 0; i < 80; i++) {
            w = snprintf(def + used, sizeof def - used,
                         "%s{\"name\":\"f%d\",\"type\":\"bogus\"}",
                         i ? "," : "", i);
            used += (size_t)w;
        }
        snprintf(def + used, sizeof def - used, "]}");
        CHECK(parse_strict(def) == NULL);
        CHECK(probs.n == FS_PROBLEMS_MAX && probs.dropped == 16);
    }
    return 0;
}

/* ---- table ----------------------------------------------------------- */

/* ---- sections, device-filled fields, constraints, choice filters ---- */

/* JSON written with ' for ", so the definitions below stay readable:
 * returns a copy the caller frees. */
static char *jq(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(n + 1);

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        out[i] = text[i] == '\'' ? '"' : text[i];
    return out;
}

static fs_form *parse_q(const char *text)
{
    char *json = jq(text);
    fs_form *f = json != NULL ? parse_strict(json) : NULL;

    free(json);
    return f;
}

static int validate_q(const fs_form *f, const char *answers)
{
    char *json = jq(answers);
    int rc = json != NULL ? validate(f, json, NULL) : FS_ENOMEM;

    free(json);
    return rc;
}

static int test_sections(void)
{
    fs_form *f = parse_q(
        "{'id':'s','version':1,'title':'S','area':'optional',"
        "'sections':[{'name':'home','label':{'en':'Home','fr':'Maison'}},"
        "{'name':'rooms','within':'home'},{'name':'end'}],"
        "'fields':[{'name':'a','type':'text'},"
        "{'name':'b','type':'text','section':'home'},"
        "{'name':'c','type':'text','section':'rooms'},"
        "{'name':'d','type':'text','section':'home'},"
        "{'name':'e','type':'text','section':'end'}]}");

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    fs_form_free(f);
    /* A section's fields apart; an unknown section; a section named as a
     * field; within naming a later section. */
    CHECK(parse_q("{'id':'s','version':1,'title':'S',"
                  "'sections':[{'name':'home','within':'x'},{'name':'x'},"
                  "{'name':'a'}],"
                  "'fields':[{'name':'a','type':'text','section':'home'},"
                  "{'name':'b','type':'text'},"
                  "{'name':'c','type':'text','section':'home'},"
                  "{'name':'d','type':'text','section':'nowhere'}]}") == NULL);
    CHECK_PROBLEM("$.sections[0].within", "earlier section");
    CHECK_PROBLEM("$.fields[2].section", "must follow each other ('a'");
    CHECK_PROBLEM("$.fields[3].section", "must name a section");
    CHECK_PROBLEM("$.sections[2].name", "also the name of a field");
    CHECK_NPROBLEMS(4);
    return 0;
}

static int test_auto_fields(void)
{
    fs_form *f =
        parse_q("{'id':'s','version':1,'title':'S','area':'optional',"
                "'fields':[{'name':'started','type':'datetime','auto':'start',"
                "'metadata':true},{'name':'day','type':'date','auto':'today'},"
                "{'name':'dev','type':'text','auto':'deviceid'},"
                "{'name':'q','type':'text','required':true}]}");
    cJSON *a;

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    CHECK(fs_field_auto_of(fs_form_field(f, 0)) == FS_AUTO_START);
    CHECK(fs_field_auto_of(fs_form_field(f, 3)) == FS_AUTO_NONE);
    CHECK_STR(fs_field_auto_name(FS_AUTO_DEVICEID), "deviceid");
    /* Not asked of people, but the device may fill them in. */
    a = cJSON_Parse("{}");
    CHECK(fs_field_relevant(f, fs_form_field(f, 0), a) == 0);
    CHECK(fs_field_relevant(f, fs_form_field(f, 3), a) == 1);
    cJSON_Delete(a);
    CHECK(validate_q(f, "{'q':'x'}") == FS_OK);
    CHECK(validate_q(f, "{'q':'x','started':'2026-03-01T10:00:00Z',"
                        "'day':'2026-03-01','dev':'tablet-7'}") == FS_OK);
    CHECK(validate_q(f, "{'q':'x','day':'yesterday'}") == FS_EINVALID);
    CHECK_PROBLEM("day", "YYYY-MM-DD");
    fs_form_free(f);
    CHECK(parse_q("{'id':'s','version':1,'title':'S',"
                  "'fields':[{'name':'a','type':'text','auto':'start'},"
                  "{'name':'b','type':'date','auto':'today','required':true},"
                  "{'name':'c','type':'text','auto':'later'}]}") == NULL);
    CHECK_PROBLEM("$.fields[0].auto", "start fills a datetime field");
    CHECK_PROBLEM("$.fields[1]", "no required");
    CHECK_PROBLEM("$.fields[2].auto", "one of start, end, today, deviceid");
    CHECK_NPROBLEMS(3);
    return 0;
}

static int test_constraints_and_conditions(void)
{
    fs_form *f = parse_q(
        "{'id':'s','version':1,'title':'S','area':'optional',"
        "'fields':["
        "{'name':'age','type':'integer','constraint':{'all':["
        "{'field':'age','op':'ge','value':16},"
        "{'field':'age','op':'le','value':99}]},"
        "'constraint_message':{'en':'16 to 99','fr':'16 à 99'}},"
        "{'name':'code','type':'text','constraint':{'any':["
        "{'field':'code','op':'matches','value':'[A-Z]{2}-\\\\d{4}'},"
        "{'field':'age','op':'lt','value':18}]}},"
        "{'name':'nick','type':'text','constraint':{'field':'nick',"
        "'of':'length','op':'le','value':3}},"
        "{'name':'many','type':'select_multiple','choices':['a','b','c'],"
        "'constraint':{'not':{'all':[{'field':'many','op':'contains',"
        "'value':'a'},{'field':'many','op':'contains','value':'b'}]}}},"
        "{'name':'why','type':'text','relevant':{'not':{'field':'age',"
        "'op':'eq','value':30}}},"
        "{'name':'short','type':'text','relevant':{'field':'nick',"
        "'of':'length','op':'eq','value':0}},"
        "{'name':'two','type':'text','relevant':{'field':'many',"
        "'of':'count','op':'ge','value':2}},"
        "{'name':'empty','type':'text','relevant':{'field':'code',"
        "'op':'matches','value':'\\\\d*'}}]}");

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    CHECK(validate_q(f, "{'age':40,'code':'AB-1234','why':'x'}") == FS_OK);
    CHECK(validate_q(f, "{'age':12,'code':'x','why':'y'}") == FS_EINVALID);
    CHECK_PROBLEM("age", "16 to 99");
    CHECK_NPROBLEMS(1); /* code: age < 18 holds */
    CHECK(validate_q(f, "{'age':40,'code':'x','why':'y'}") == FS_EINVALID);
    CHECK_PROBLEM("code", "does not meet its constraint");
    CHECK(validate_q(f, "{'nick':'abcd','short':'x','empty':'x'}") ==
          FS_EINVALID);
    CHECK_PROBLEM("nick", "does not meet its constraint");
    CHECK_PROBLEM("short", "leave it out");
    /* not(...) of an unanswered field holds; length and count of an
     * unanswered field are 0; matches tests it as the empty text. */
    CHECK(validate_q(f, "{'why':'x','short':'x','empty':'x'}") == FS_OK);
    CHECK(validate_q(f, "{'age':30,'why':'x','short':'x','empty':'x'}") ==
          FS_EINVALID);
    CHECK_PROBLEM("why", "leave it out");
    CHECK(validate_q(f, "{'many':['a','b'],'short':'x','empty':'x'}") ==
          FS_EINVALID);
    CHECK_PROBLEM("many", "does not meet its constraint");
    CHECK_NPROBLEMS(1);
    fs_form_free(f);
    /* Definition problems of the new parts of the grammar. */
    CHECK(parse_q("{'id':'s','version':1,'title':'S','fields':["
                  "{'name':'a','type':'integer','constraint':{'field':'b',"
                  "'op':'eq','value':1},'constraint_message':'no'},"
                  "{'name':'b','type':'integer'},"
                  "{'name':'c','type':'text','relevant':{'field':'a',"
                  "'of':'length','op':'in','value':2}},"
                  "{'name':'d','type':'text','relevant':{'field':'a',"
                  "'op':'matches','value':'x'}},"
                  "{'name':'e','type':'text','constraint':{'field':'e',"
                  "'op':'matches','value':'(a|b)'}},"
                  "{'name':'f','type':'note','constraint':{'field':'a',"
                  "'op':'answered'}},"
                  "{'name':'g','type':'text','constraint_message':'x'},"
                  "{'name':'h','type':'text','relevant':{'not':{'not':{"
                  "'not':{'not':{'not':{'field':'a','op':'answered'}}}}}}}"
                  "]}") == NULL);
    CHECK_PROBLEM("$.fields[0].constraint.field", "not an earlier field");
    CHECK_PROBLEM("$.fields[2].relevant.of", "length applies to text");
    CHECK_PROBLEM("$.fields[2].relevant.op", "with of, op is eq");
    CHECK_PROBLEM("$.fields[3].relevant", "matches applies to text fields");
    CHECK_PROBLEM("$.fields[4].constraint.value", "groups and alternatives");
    CHECK_PROBLEM("$.fields[5].constraint", "a note takes no answer");
    CHECK_PROBLEM("$.fields[6].constraint_message", "with a constraint");
    CHECK_PROBLEM("$.fields[7].relevant.not.not.not.not", "at most 4 deep");
    CHECK_NPROBLEMS(8);
    return 0;
}

static int test_choice_filter(void)
{
    fs_form *f = parse_q(
        "{'id':'s','version':1,'title':'S','area':'optional',"
        "'choice_lists':{'states':['tx','wa'],'counties':["
        "{'value':'king','filter':{'state':'wa'}},"
        "{'value':'pierce','filter':{'state':'wa'}},"
        "{'value':'cameron','filter':{'state':'tx'}},{'value':'none'}]},"
        "'fields':[{'name':'state','type':'select_one','choices':'states'},"
        "{'name':'county','type':'select_one','choices':'counties',"
        "'choice_filter':{'field':'state','key':'state'}},"
        "{'name':'visited','type':'select_multiple','choices':'counties',"
        "'choice_filter':{'field':'state','key':'state'}}]}");

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    CHECK(validate_q(f, "{'state':'wa','county':'king',"
                        "'visited':['king','pierce']}") == FS_OK);
    CHECK(validate_q(f, "{'state':'tx','county':'king',"
                        "'visited':['cameron','none']}") == FS_EINVALID);
    CHECK_PROBLEM("county", "'king' is not offered given the answer to "
                            "'state'");
    CHECK_PROBLEM("visited", "'none' is not offered");
    CHECK_NPROBLEMS(2);
    /* Nothing is offered when the earlier question is unanswered. */
    CHECK(validate_q(f, "{'county':'king'}") == FS_EINVALID);
    CHECK_PROBLEM("county", "not offered");
    fs_form_free(f);
    CHECK(parse_q("{'id':'s','version':1,'title':'S','fields':["
                  "{'name':'a','type':'integer'},"
                  "{'name':'b','type':'select_one','choices':[{'value':'x',"
                  "'filter':{'Bad':'a b'}}],'choice_filter':{'field':'a',"
                  "'key':'k'}},"
                  "{'name':'c','type':'text','choice_filter':{'field':'a',"
                  "'key':'k'}}]}") == NULL);
    CHECK_PROBLEM("$.fields[1].choices[0].filter.Bad", "a key is lower-case");
    CHECK_PROBLEM("$.fields[1].choices[0].filter.Bad", "must be a code");
    CHECK_PROBLEM("$.fields[1].choice_filter", "earlier select_one or text");
    CHECK_PROBLEM("$.fields[2].choice_filter", "applies to select_one");
    CHECK_NPROBLEMS(4);
    return 0;
}

/* FORMS.md "Sealed answers": the marks, the key, what may not be sealed. */
static int test_sealed_marks(void)
{
    fs_form *f = parse_q(
        "{'id':'s','version':1,'title':'S','area':'optional','sealed':true,"
        "'seal_key':'steward-1','dedupe_key':['code'],"
        "'fields':[{'name':'code','type':'text'},"
        "{'name':'quote','type':'text','sensitive':true},"
        "{'name':'seen','type':'select_one','choices':['a','b'],"
        "'sealed':true},"
        "{'name':'why','type':'text','sealed':true,"
        "'relevant':{'field':'seen','op':'eq','value':'a'}},"
        "{'name':'intro','type':'note','sensitive':true},"
        "{'name':'age','type':'integer'}]}");

    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    CHECK(strcmp(fs_form_seal_key(f), "steward-1") == 0);
    CHECK(fs_field_flags(fs_form_field_named(f, "quote")) & FS_FIELD_SEALED);
    CHECK(fs_field_flags(fs_form_field_named(f, "seen")) & FS_FIELD_SEALED);
    CHECK(!(fs_field_flags(fs_form_field_named(f, "code")) & FS_FIELD_SEALED));
    CHECK(!(fs_field_flags(fs_form_field_named(f, "intro")) & FS_FIELD_SEALED));
    /* The device validates the plain answers... */
    CHECK(validate_q(f, "{'code':'x','quote':'q','seen':'b','why':'w'}") ==
          FS_EINVALID);
    CHECK_PROBLEM("why", "not asked");
    /* ...the hub the envelope, and sealed fields never beside it. */
    CHECK(validate_q(f, "{'code':'x','age':3,'_sealed':{'v':1,'key':"
                        "'steward-1','wrap':'AA==','nonce':'AA==','ct':"
                        "'AA=='}}") == FS_OK);
    CHECK(validate_q(f, "{'code':'x','quote':'plain','_sealed':{'v':1,'key':"
                        "'steward-1','wrap':'AA==','nonce':'AA==','ct':"
                        "'AA=='}}") == FS_EINVALID);
    CHECK_PROBLEM("quote", "never in plain text");
    CHECK(validate_q(f, "{'code':'x','_sealed':{'v':1,'key':'other',"
                        "'wrap':'AA==','nonce':'AA==','ct':'AA=='}}") ==
          FS_EINVALID);
    CHECK_PROBLEM("_sealed", "sealed to key 'other'");
    CHECK(validate_q(f, "{'code':'x','_sealed':'nope'}") == FS_EINVALID);
    CHECK_PROBLEM("_sealed", "not a sealed envelope");
    cJSON *plain = cJSON_Parse("{\"code\":\"x\",\"quote\":\"q\"}");
    fs_problems_init(&probs);
    CHECK(fs_answers_check_sealed(f, plain, &probs) == FS_EINVALID);
    CHECK_PROBLEM("_sealed", "came in plain text");
    cJSON_Delete(plain);
    fs_form_free(f);

    CHECK(parse_q("{'id':'s','version':1,'title':'S','area':'optional',"
                  "'seal_key':'k','dedupe_key':['code'],'fields':["
                  "{'name':'consent','type':'select_one','consent':true,"
                  "'sealed':true,'choices':['yes','no']},"
                  "{'name':'code','type':'text','metadata':true,"
                  "'sealed':true},"
                  "{'name':'secret','type':'integer','sealed':true},"
                  "{'name':'open','type':'text','relevant':{'field':"
                  "'secret','op':'gt','value':1}}]}") == NULL);
    CHECK_PROBLEM("$.fields[0]", "the consent field cannot be sealed");
    CHECK_PROBLEM("$.fields[1]", "'code' is in the dedupe key and cannot be "
                                 "sealed");
    CHECK_PROBLEM("$.fields[3]", "names a sealed field");
    CHECK_NPROBLEMS(3);
    CHECK(parse_q("{'id':'s','version':1,'title':'S','fields':[{'name':'a',"
                  "'type':'text','sealed':true}]}") == NULL);
    CHECK_PROBLEM("$.seal_key", "required when a field is sealed");
    CHECK(parse_q("{'id':'s','version':1,'title':'S','seal_key':'bad key',"
                  "'sealed_drafts':'memory',"
                  "'fields':[{'name':'a','type':'text'}]}") == NULL);
    CHECK_PROBLEM("$.sealed_drafts", "applies to forms with sealed fields");
    CHECK_PROBLEM("$.seal_key", "the id of a steward key");
    CHECK_PROBLEM("$.seal_key", "no field is sealed");
    return 0;
}

/* fs_seal.h: sealed to a public key, opened only with its pair, for the
 * submission it was made for, never after one flipped byte. */
static int test_seal_open(void)
{
    fs_form *f = parse_q("{'id':'s','version':1,'title':'S','area':'optional',"
                         "'seal_key':'k1','fields':[{'name':'code','type':"
                         "'text'},{'name':'quote','type':'text','sealed':"
                         "true}]}");
    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    unsigned char pk[32], sk[32], pk2[32], sk2[32];
    CHECK(fs_seal_init() == FS_OK);
    crypto_box_keypair(pk, sk);
    crypto_box_keypair(pk2, sk2);
    const char *id = "01a24942-cd72-7786-b236-bc0862f3acfe";
    cJSON *a = cJSON_Parse("{\"code\":\"x\",\"quote\":\"CANARY \\u00e9\"}");
    CHECK(fs_seal_answers(f, a, id, "k1", pk) == FS_OK);
    char *text = cJSON_PrintUnformatted(a);
    CHECK(strstr(text, "CANARY") == NULL && strstr(text, "quote") == NULL);
    CHECK(strstr(text, "\"code\":\"x\"") != NULL);
    CHECK(fs_seal_answers(f, a, id, "k1", pk) == FS_EINVAL); /* once */
    fs_problems_init(&probs);
    CHECK(fs_answers_validate(f, a, NULL, &probs) == FS_OK);

    cJSON *plain = NULL;
    char why[256];
    CHECK(fs_seal_open(f, a, id, "k1", pk, sk, &plain, why, sizeof why) ==
          FS_OK);
    char *back = cJSON_PrintUnformatted(plain);
    CHECK(strcmp(back, "{\"quote\":\"CANARY \xc3\xa9\"}") == 0);
    free(back);
    cJSON_Delete(plain);
    CHECK(fs_seal_open(f, a, id, "k2", pk2, sk2, &plain, why, sizeof why) ==
          FS_EIDENT);
    CHECK(strstr(why, "sealed to key 'k1'") != NULL);
    /* The right id with the wrong pair, another submission's id. */
    CHECK(fs_seal_open(f, a, id, "k1", pk2, sk2, &plain, why, sizeof why) ==
          FS_EMALFORMED);
    CHECK(fs_seal_open(f, a, "01a24942-cd72-7786-b236-bc0862f3acff", "k1", pk,
                       sk, &plain, why, sizeof why) == FS_EMALFORMED);
    CHECK(strstr(why, "integrity check") != NULL);
    /* One flipped bit of the ciphertext. */
    cJSON *env = cJSON_GetObjectItemCaseSensitive(a, FS_SEALED_MEMBER);
    cJSON *ct = cJSON_GetObjectItemCaseSensitive(env, "ct");
    ct->valuestring[3] = ct->valuestring[3] == 'A' ? 'B' : 'A';
    CHECK(fs_seal_open(f, a, id, "k1", pk, sk, &plain, why, sizeof why) ==
          FS_EMALFORMED);
    CHECK(plain == NULL);
    /* Two sealings of the same answers differ (a fresh key each). */
    cJSON *b = cJSON_Parse("{\"code\":\"x\",\"quote\":\"CANARY \\u00e9\"}");
    CHECK(fs_seal_answers(f, b, id, "k1", pk) == FS_OK);
    char *text2 = cJSON_PrintUnformatted(b);
    CHECK(strcmp(text, text2) != 0);
    free(text);
    free(text2);
    cJSON_Delete(a);
    cJSON_Delete(b);
    fs_form_free(f);
    return 0;
}

/* ---- attachment fields ----------------------------------------------- */

static const char attach_form[] =
    "{\"id\":\"att\",\"version\":1,\"kind\":\"survey\",\"title\":\"A\","
    "\"fields\":[{\"name\":\"photo\",\"type\":\"image\",\"max_bytes\":1000,"
    "\"content_types\":[\"image/png\"],\"max_pixels\":2000000},"
    "{\"name\":\"rec\",\"type\":\"audio\"},"
    "{\"name\":\"doc\",\"type\":\"file\"}]}";

#define HEX64 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static int test_attachment_fields(void)
{
    fs_form *f = parse_strict(attach_form);
    const fs_field *photo, *rec, *doc;

    CHECK(f != NULL);
    CHECK_NPROBLEMS(0);
    photo = fs_form_field_named(f, "photo");
    rec = fs_form_field_named(f, "rec");
    doc = fs_form_field_named(f, "doc");
    CHECK(fs_field_type_of(photo) == FS_FIELD_IMAGE);
    CHECK(strcmp(fs_field_type_name(FS_FIELD_AUDIO), "audio") == 0);
    CHECK(fs_field_max_bytes(photo) == 1000);
    CHECK(fs_field_max_bytes(rec) == 16L << 20);
    CHECK(fs_field_max_pixels(photo) == 2000000);
    CHECK(fs_field_max_pixels(rec) == 0);
    CHECK(fs_field_type_allowed(photo, "image/png"));
    CHECK(!fs_field_type_allowed(photo, "image/jpeg"));
    CHECK(fs_field_type_allowed(rec, "audio/ogg"));
    CHECK(!fs_field_type_allowed(rec, "image/png"));
    CHECK(fs_field_type_allowed(doc, "application/pdf"));
    /* The type a file answers with: sniffed; unknown bytes are
     * application/octet-stream in a file field and nothing elsewhere. */
    CHECK(strcmp(fs_field_file_type(
                     photo, (const unsigned char *)"\x89PNG\r\n\x1a\n", 8),
                 "image/png") == 0);
    CHECK(
        strcmp(fs_field_file_type(photo, (const unsigned char *)"%PDF-1.4", 8),
               "application/pdf") == 0);
    CHECK(fs_field_file_type(photo, (const unsigned char *)"noise", 5) == NULL);
    CHECK(strcmp(fs_field_file_type(doc, (const unsigned char *)"noise", 5),
                 "application/octet-stream") == 0);
    CHECK(!fs_field_type_allowed(doc, "not a type"));

    if (validate(f,
                 "{\"photo\":{\"sha256\":\"" HEX64 "\",\"size\":1000,"
                 "\"type\":\"image/png\",\"name\":\"a.png\"}}",
                 "N-01") != FS_OK)
        return failf(__FILE__, __LINE__, "a good reference refused:\n%s",
                     plist());
    CHECK(validate(f,
                   "{\"photo\":{\"sha256\":\"" HEX64 "\",\"size\":1001,"
                   "\"type\":\"image/png\",\"name\":\"a.png\"}}",
                   "N-01") == FS_EINVALID);
    CHECK_PROBLEM("photo", "size must be 1 to 1000 bytes");
    CHECK(validate(f,
                   "{\"photo\":{\"sha256\":\"ABC\",\"size\":1,"
                   "\"type\":\"image/png\",\"name\":\"a.png\"}}",
                   "N-01") == FS_EINVALID);
    CHECK_PROBLEM("photo", "64 lower-case hex");
    CHECK(validate(f,
                   "{\"photo\":{\"sha256\":\"" HEX64 "\",\"size\":1,"
                   "\"type\":\"image/jpeg\",\"name\":\"a.png\"}}",
                   "N-01") == FS_EINVALID);
    CHECK_PROBLEM("photo", "not a content type this field takes");
    CHECK(validate(f,
                   "{\"doc\":{\"sha256\":\"" HEX64 "\",\"size\":1,"
                   "\"type\":\"text/plain\",\"name\":\"../etc/x\"}}",
                   "N-01") == FS_EINVALID);
    CHECK_PROBLEM("doc", "base name");
    CHECK(validate(f,
                   "{\"doc\":{\"sha256\":\"" HEX64 "\",\"size\":1,"
                   "\"type\":\"text/plain\",\"name\":\"x\",\"path\":\"/\"}}",
                   "N-01") == FS_EINVALID);
    CHECK_PROBLEM("doc", "sha256, size, type and name only");
    CHECK(validate(f, "{\"rec\":\"a.ogg\"}", "N-01") == FS_EINVALID);
    CHECK_PROBLEM("rec", "must be {");
    fs_form_free(f);

    f = parse_strict(
        "{\"id\":\"att\",\"version\":1,\"kind\":\"survey\",\"title\":\"A\","
        "\"fields\":[{\"name\":\"p\",\"type\":\"image\",\"max_bytes\":0,"
        "\"content_types\":[\"audio/ogg\",\"Image/PNG\"]},"
        "{\"name\":\"t\",\"type\":\"text\",\"content_types\":[\"x/y\"]},"
        "{\"name\":\"s\",\"type\":\"file\",\"sealed\":true},"
        "{\"name\":\"q\",\"type\":\"image\",\"max_pixels\":99},"
        "{\"name\":\"r\",\"type\":\"file\",\"max_pixels\":20000},"
        "{\"name\":\"u\",\"type\":\"text\",\"max_pixels\":20000}],"
        "\"seal_key\":\"k\"}");
    CHECK(f == NULL);
    CHECK(!strstr(plist(), "$.fields[2]")); /* a sealed file field is fine */
    CHECK_PROBLEM("$.fields[0].max_bytes", "whole number from 1");
    CHECK_PROBLEM("$.fields[0].content_types[0]", "image/* types only");
    CHECK_PROBLEM("$.fields[0].content_types[1]", "content type");
    CHECK_PROBLEM("$.fields[1].content_types",
                  "applies to image, audio and file fields only");
    CHECK_PROBLEM("$.fields[3].max_pixels",
                  "whole number from 10000 to 100000000");
    CHECK_PROBLEM("$.fields[4].max_pixels", "applies to image fields only");
    CHECK_PROBLEM("$.fields[5].max_pixels", "applies to image fields only");
    return 0;
}

/* ---- sealed files (fs_seal.h) ---------------------------------------- */

/* A temporary file holding n bytes of pattern; its descriptor at 0. */
static int temp_with(const unsigned char *p, size_t n)
{
    FILE *t = tmpfile();
    if (t == NULL)
        return -1;
    int fd = dup(fileno(t));
    fclose(t);
    if (fd >= 0 && (write(fd, p, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET)))
        return -1;
    return fd;
}

static long long fd_size(int fd)
{
    return (long long)lseek(fd, 0, SEEK_END);
}

static int test_sealed_file_form_rules(void)
{
    /* A sealed image field, and a personal audio field of a form sealed
     * as a whole: both sealed now, neither refused. */
    fs_form *f = parse_q("{'id':'s','version':1,'title':'S','sealed':true,"
                         "'seal_key':'k1','fields':[{'name':'code','type':"
                         "'text'},{'name':'photo','type':'image','sealed':"
                         "true,'max_bytes':200000},{'name':'voice','type':"
                         "'audio','personal':true}]}");
    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    CHECK(fs_field_flags(fs_form_field_named(f, "photo")) & FS_FIELD_SEALED);
    CHECK(fs_field_flags(fs_form_field_named(f, "voice")) & FS_FIELD_SEALED);
    fs_form_free(f);
    /* The other rules still hold beside a sealed file field. */
    CHECK(parse_q("{'id':'s','version':1,'title':'S','seal_key':'k1',"
                  "'fields':[{'name':'photo','type':'image','sealed':true},"
                  "{'name':'n','type':'text','relevant':{'field':'photo',"
                  "'op':'answered'}}]}") == NULL);
    CHECK_PROBLEM("$.fields[1]", "names a sealed field");
    CHECK(parse_q("{'id':'s','version':1,'title':'S','fields':[{'name':"
                  "'photo','type':'image','sealed':true}]}") == NULL);
    CHECK_PROBLEM("$.seal_key", "required when a field is sealed");
    return 0;
}

static int test_sealed_file_round_trip(void)
{
    fs_form *f = parse_q("{'id':'s','version':1,'title':'S','area':"
                         "'optional','seal_key':'k1','fields':[{'name':"
                         "'code','type':'text'},{'name':'photo','type':"
                         "'image','sealed':true,'max_bytes':200000}]}");
    if (f == NULL)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    const char *id = "01a24942-cd72-7786-b236-bc0862f3acfe";
    const char *other = "01a24942-cd72-7786-b236-bc0862f3acff";
    /* Three chunks and a bit: a PNG signature, then a pattern. */
    size_t n = 3 * FS_SEAL_FILE_CHUNK + 123;
    unsigned char *png = malloc(n);
    CHECK(png != NULL);
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    for (size_t i = 8; i < n; i++)
        png[i] = (unsigned char)(i * 7 + 3);
    unsigned char key[FS_SEAL_FILE_KEY_BYTES], key2[FS_SEAL_FILE_KEY_BYTES];
    CHECK(fs_seal_file_keygen(key) == FS_OK);
    CHECK(fs_seal_file_keygen(key2) == FS_OK);
    int in = temp_with(png, n), ct = temp_with(NULL, 0);
    CHECK(in >= 0 && ct >= 0);
    char hex[65], ct_hex[65], want[65];
    long long size = 0, ct_size = 0;
    CHECK(fs_seal_file_encrypt(in, ct, key, f, id, "photo", &size, hex,
                               &ct_size, ct_hex) == FS_OK);
    fs_sha256_hex(png, n, want);
    CHECK_STR(hex, want);
    CHECK(size == (long long)n);
    CHECK(ct_size == fs_seal_file_size((long long)n));
    CHECK(fd_size(ct) == ct_size);
    /* The sealed bytes hold no run of the plain ones. */
    unsigned char *sealed = malloc((size_t)ct_size);
    CHECK(sealed && pread(ct, sealed, (size_t)ct_size, 0) == ct_size);
    CHECK(memmem(sealed, (size_t)ct_size, png + 1000, 32) == NULL);
    /* Opened with its key, for its submission and field: the same bytes. */
    char why[256], back_hex[65];
    long long back = 0;
    int out = temp_with(NULL, 0);
    lseek(ct, 0, SEEK_SET);
    CHECK(fs_seal_file_decrypt(ct, out, key, f, id, "photo", &back, back_hex,
                               why, sizeof why) == FS_OK);
    CHECK(back == (long long)n && strcmp(back_hex, want) == 0);
    close(out);
    /* Another key, another submission, another field: refused. */
    struct {
        const unsigned char *k;
        const char *id, *field, *needle;
    } bad[] = {{key2, id, "photo", "integrity check at byte 0"},
               {key, other, "photo", "integrity check"},
               {key, id, "code", "another submission or field"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = temp_with(NULL, 0);
        lseek(ct, 0, SEEK_SET);
        CHECK(fs_seal_file_decrypt(ct, out, bad[i].k, f, bad[i].id,
                                   bad[i].field, &back, back_hex, why,
                                   sizeof why) == FS_EMALFORMED);
        CHECK(strstr(why, bad[i].needle) != NULL);
        close(out);
    }
    /* One flipped byte in the second chunk; cut short; a byte after. */
    struct {
        long long at;
        int how; /* 0 flip, 1 cut there, 2 append */
        const char *needle;
    } dmg[] = {{8 + 24 + FS_SEAL_FILE_CHUNK + 17 + 5, 0, "integrity check"},
               {ct_size - 200, 1, "integrity check"},
               {8 + 24 + 2 * (FS_SEAL_FILE_CHUNK + 17), 1, "cut short"},
               {ct_size, 2, "integrity check"},
               {0, 0, "not a sealed file"}};
    for (size_t i = 0; i < sizeof dmg / sizeof dmg[0]; i++) {
        unsigned char *copy = malloc((size_t)ct_size + 1);
        CHECK(copy != NULL);
        memcpy(copy, sealed, (size_t)ct_size);
        size_t len = (size_t)ct_size;
        if (dmg[i].how == 0)
            copy[dmg[i].at] ^= 0x01;
        else if (dmg[i].how == 1)
            len = (size_t)dmg[i].at;
        else
            copy[len++] = 0;
        int c = temp_with(copy, len);
        out = temp_with(NULL, 0);
        CHECK(fs_seal_file_decrypt(c, out, key, f, id, "photo", &back, back_hex,
                                   why, sizeof why) == FS_EMALFORMED);
        if (!strstr(why, dmg[i].needle))
            return failf(__FILE__, __LINE__, "damage %zu: %s", i, why);
        close(c);
        close(out);
        free(copy);
    }

    /* The answers: the reference before sealing passes the device's
     * check; sealing moves its plain part into the envelope; the hub's
     * check takes the sealed reference and nothing plain. */
    char key64[FS_SEAL_KEY_B64];
    fs_seal_key_encode(key, key64);
    char ans[1024];
    snprintf(ans, sizeof ans,
             "{\"code\":\"x\",\"photo\":{\"sha256\":\"%s\",\"size\":%lld,"
             "\"type\":\"%s\",\"sealed\":true,\"plain\":{\"sha256\":\"%s\","
             "\"size\":%zu,\"type\":\"image/png\",\"name\":\"p.png\","
             "\"key\":\"%s\"}}}",
             ct_hex, ct_size, FS_SEALED_FILE_TYPE, hex, n, key64);
    if (validate(f, ans, NULL) != FS_OK)
        return failf(__FILE__, __LINE__, "refused:\n%s", plist());
    cJSON *a = cJSON_Parse(ans);
    unsigned char pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    CHECK(fs_seal_answers(f, a, id, "k1", pk) == FS_OK);
    char *text = cJSON_PrintUnformatted(a);
    CHECK(strstr(text, hex) == NULL && strstr(text, key64) == NULL &&
          strstr(text, "p.png") == NULL && strstr(text, "plain") == NULL);
    CHECK(strstr(text, ct_hex) != NULL);
    fs_problems_init(&probs);
    if (fs_answers_validate(f, a, NULL, &probs) != FS_OK)
        return failf(__FILE__, __LINE__, "sealed refused:\n%s", plist());
    cJSON *opened = NULL;
    CHECK(fs_seal_open(f, a, id, "k1", pk, sk, &opened, why, sizeof why) ==
          FS_OK);
    const cJSON *inner = cJSON_GetObjectItem(opened, "photo");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(inner, "sha256")), hex);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(inner, "key")), key64);
    cJSON_Delete(opened);
    free(text);

    /* The hub refuses: a plain reference beside the envelope, the plain
     * part left outside, a wrong type. */
    char plainref[512];
    snprintf(plainref, sizeof plainref,
             "{\"sha256\":\"%s\",\"size\":%zu,\"type\":\"image/png\","
             "\"name\":\"p.png\"}",
             hex, n);
    cJSON *env = cJSON_GetObjectItem(a, FS_SEALED_MEMBER);
    const char *swaps[] = {plainref, NULL, NULL};
    char leak[1024], wrongtype[512];
    snprintf(leak, sizeof leak,
             "{\"sha256\":\"%s\",\"size\":%lld,\"type\":\"%s\",\"sealed\":"
             "true,\"plain\":{}}",
             ct_hex, ct_size, FS_SEALED_FILE_TYPE);
    snprintf(wrongtype, sizeof wrongtype,
             "{\"sha256\":\"%s\",\"size\":%lld,\"type\":\"image/png\","
             "\"sealed\":true}",
             ct_hex, ct_size);
    swaps[1] = leak;
    swaps[2] = wrongtype;
    const char *needles[] = {"a plain file reference is refused",
                             "travel only inside the sealed answers",
                             "type must be " FS_SEALED_FILE_TYPE};
    for (size_t i = 0; i < 3; i++) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "code", "x");
        cJSON_AddItemToObject(b, "photo", cJSON_Parse(swaps[i]));
        cJSON_AddItemToObject(b, FS_SEALED_MEMBER, cJSON_Duplicate(env, 1));
        fs_problems_init(&probs);
        CHECK(fs_answers_validate(f, b, NULL, &probs) == FS_EINVALID);
        CHECK_PROBLEM("photo", needles[i]);
        cJSON_Delete(b);
    }
    /* ... and the device too: a plain reference for a sealed field is
     * neither valid nor sealable (it would leave in the clear). */
    char plainans[600];
    snprintf(plainans, sizeof plainans, "{\"code\":\"x\",\"photo\":%s}",
             plainref);
    CHECK(validate(f, plainans, NULL) == FS_EINVALID);
    CHECK_PROBLEM("photo", "a plain file reference is refused");
    cJSON *p2 = cJSON_Parse(plainans);
    CHECK(fs_seal_answers(f, p2, id, "k1", pk) == FS_EINVAL);
    CHECK(cJSON_GetObjectItem(p2, FS_SEALED_MEMBER) == NULL);
    cJSON_Delete(p2);
    cJSON_Delete(a);
    free(sealed);
    free(png);
    close(in);
    close(ct);
    fs_form_free(f);
    return 0;
}

static const unit_case tests[] = {
    {"parse every field type", test_parse_all_types},
    {"minimal definition", test_minimal_definition},
    {"every definition problem with its path", test_every_problem_with_path},
    {"definition not json", test_not_json},
    {"lenient parse ignores unknown members", test_lenient_ignores_unknown},
    {"instruments parse", test_instruments_parse},
    {"language fallback", test_language_fallback},
    {"answer types and constraints", test_answer_types_and_constraints},
    {"every answer problem", test_every_answer_problem},
    {"required and area", test_required_and_area},
    {"skip logic", test_skip_logic},
    {"skip logic definition", test_skip_logic_definition},
    {"consent refusal", test_consent},
    {"dedupe key", test_dedupe_key},
    {"wave_date", test_wave_date},
    {"patterns", test_patterns},
    {"one answer for fill", test_answer_check_one},
    {"version rules", test_version_rules},
    {"problem list bounded", test_problems_bounded},
    {"sections", test_sections},
    {"fields the device fills", test_auto_fields},
    {"constraints and conditions", test_constraints_and_conditions},
    {"choice filter", test_choice_filter},
    {"sealed marks", test_sealed_marks},
    {"seal and open", test_seal_open},
    {"attachment fields", test_attachment_fields},
    {"sealed file form rules", test_sealed_file_form_rules},
    {"sealed file round trip", test_sealed_file_round_trip},
};

int main(int argc, char **argv)
{
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
