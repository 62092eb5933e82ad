/*
 * fuzz_answers.c - libFuzzer target for fs_answers_validate, what the hub
 * runs on every submission a device sends.
 *
 * Input: a selector byte picking a form (bits 0-2: one of the forms built
 * in below or, when FS_FORMS_DIR is readable, the instruments in
 * schema/forms; bits 6-7: the area - none, a valid code, a bad one), then
 * the answers JSON. Invariants beyond the sanitizers:
 *   - validating twice gives the same result and the same problems;
 *   - every problem names "area", "answers", a field of the form or a key
 *     of the answers;
 *   - accepted answers: every answered field is relevant, every required
 *     relevant field is answered, each answer passes fs_answer_check,
 *     and the canonical print of the answers validates again;
 *   - a refusal lists at least one problem.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_form.h"
#include "fuzz.h"

static const char *const builtin[] = {
    "{\"id\":\"t\",\"version\":1,\"kind\":\"observation\",\"title\":\"T\","
    "\"choice_lists\":{\"yn\":[\"yes\",\"no\"]},\"fields\":["
    "{\"name\":\"txt\",\"type\":\"text\",\"min_length\":2,\"max_length\":9},"
    "{\"name\":\"code\",\"type\":\"text\",\"pattern\":\"[A-Z]{2}-\\\\d+x?\"},"
    "{\"name\":\"n\",\"type\":\"integer\",\"min\":0,\"max\":10},"
    "{\"name\":\"x\",\"type\":\"decimal\",\"min\":-1.5},"
    "{\"name\":\"one\",\"type\":\"select_one\",\"choices\":\"yn\"},"
    "{\"name\":\"many\",\"type\":\"select_multiple\",\"choices\":[\"a\","
    "\"b\",\"c\"],\"max_count\":2,\"relevant\":{\"field\":\"one\","
    "\"op\":\"eq\",\"value\":\"yes\"}},"
    "{\"name\":\"lk\",\"type\":\"likert\",\"scale\":4,\"required\":true},"
    "{\"name\":\"d\",\"type\":\"date\",\"min\":\"2024-01-01\"},"
    "{\"name\":\"dt\",\"type\":\"datetime\",\"relevant\":{\"any\":["
    "{\"field\":\"d\",\"op\":\"gt\",\"value\":\"2025-01-01\"},"
    "{\"field\":\"many\",\"op\":\"contains\",\"value\":\"c\"}]}},"
    "{\"name\":\"geo\",\"type\":\"geopoint\"},"
    "{\"name\":\"info\",\"type\":\"note\"},"
    "{\"name\":\"old\",\"type\":\"text\",\"retired\":true}]}",
    "{\"id\":\"c\",\"version\":1,\"title\":\"C\",\"fields\":["
    "{\"name\":\"consent\",\"type\":\"select_one\",\"consent\":true,"
    "\"choices\":[\"yes\",\"no\"]},"
    "{\"name\":\"hh\",\"type\":\"text\",\"metadata\":true},"
    "{\"name\":\"q1\",\"type\":\"likert\",\"scale\":5,\"required\":true},"
    "{\"name\":\"q2\",\"type\":\"integer\",\"relevant\":{\"all\":["
    "{\"field\":\"q1\",\"op\":\"ge\",\"value\":3},{\"field\":\"hh\","
    "\"op\":\"answered\"}]}}],\"dedupe_key\":[\"hh\"]}",
};

static const char *const files[] = {"resilience_baseline", "focus_group_record",
                                    "key_informant_interview",
                                    "mechanism_mapping", "demo_household"};

#define NFORMS 8
static fs_form *forms[NFORMS];
static size_t nforms;

static fs_form *load_file(const char *name)
{
#ifdef FS_FORMS_DIR
    char path[1024], *buf;
    FILE *fp;
    long n;
    fs_form *f = NULL;

    snprintf(path, sizeof path, "%s/%s.json", FS_FORMS_DIR, name);
    fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
        fseek(fp, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL) {
        fclose(fp);
        return NULL;
    }
    if (fread(buf, 1, (size_t)n, fp) == (size_t)n)
        fs_form_parse(buf, (size_t)n, 0, &f, NULL);
    free(buf);
    fclose(fp);
    return f;
#else
    (void)name;
    return NULL;
#endif
}

static void load(void)
{
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        fs_form *f = NULL;

        REQUIRE(fs_form_parse(builtin[i], strlen(builtin[i]), FS_FORM_STRICT,
                              &f, NULL) == FS_OK);
        forms[nforms++] = f;
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0] && nforms < NFORMS;
         i++) {
        fs_form *f = load_file(files[i]);

        if (f != NULL)
            forms[nforms++] = f;
    }
}

static int same_problems(const fs_problems *a, const fs_problems *b)
{
    if (a->n != b->n || a->dropped != b->dropped)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i].where, b->items[i].where) != 0 ||
            strcmp(a->items[i].msg, b->items[i].msg) != 0)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const areas[] = {NULL, "CITY-N01", "bad area", ""};
    static fs_problems p1, p2;
    const fs_form *f;
    const char *area;
    cJSON *answers = NULL, *again = NULL;
    char *text;
    int rc, rc2;

    if (nforms == 0)
        load();
    if (size < 1)
        return 0;
    f = forms[(data[0] & 7) % nforms];
    area = areas[data[0] >> 6];
    data++;
    size--;
    if (fs_json_parse((const char *)data, size, NULL, &answers, NULL) != FS_OK)
        return 0;
    fs_problems_init(&p1);
    fs_problems_init(&p2);
    rc = fs_answers_validate(f, answers, area, &p1);
    rc2 = fs_answers_validate(f, answers, area, &p2);
    REQUIRE(rc == rc2 && same_problems(&p1, &p2));
    for (size_t i = 0; i < p1.n; i++) {
        const char *w = p1.items[i].where;

        REQUIRE(strcmp(w, "area") == 0 || strcmp(w, "answers") == 0 ||
                fs_form_field_named(f, w) != NULL ||
                cJSON_GetObjectItemCaseSensitive(answers, w) != NULL ||
                strlen(w) + 1 == sizeof p1.items[i].where ||
                strstr(w, "...") != NULL || strchr(w, '?') != NULL);
    }
    if (rc != FS_OK) {
        REQUIRE(rc == FS_EINVALID || rc == FS_ENOMEM);
        REQUIRE(fs_problems_total(&p1) > 0 || rc == FS_ENOMEM);
        cJSON_Delete(answers);
        return 0;
    }
    REQUIRE(fs_problems_total(&p1) == 0);
    for (size_t i = 0; i < fs_form_field_count(f); i++) {
        const fs_field *fld = fs_form_field(f, i);
        const cJSON *a =
            cJSON_GetObjectItemCaseSensitive(answers, fs_field_name(fld));
        int rel = fs_field_relevant(f, fld, answers);

        if (a != NULL) {
            REQUIRE(rel);
            REQUIRE(fs_answer_check(f, fld, a, NULL) == FS_OK);
        } else if (rel && (fs_field_flags(fld) & FS_FIELD_REQUIRED)) {
            REQUIRE(0);
        }
    }
    text = cJSON_PrintUnformatted(answers);
    REQUIRE(text != NULL);
    REQUIRE(fs_json_parse(text, strlen(text), NULL, &again, NULL) == FS_OK);
    REQUIRE(fs_answers_validate(f, again, area, NULL) == FS_OK);
    cJSON_free(text);
    cJSON_Delete(again);
    cJSON_Delete(answers);
    return 0;
}
