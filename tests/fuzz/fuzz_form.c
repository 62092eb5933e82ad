/*
 * fuzz_form.c - libFuzzer target for fs_form_parse, which reads form
 * definitions an admin publishes and every agent then loads.
 *
 * Input: one mode byte (bit 0 set: strict parse, as the hub publishes),
 * then the definition text. Invariants beyond the sanitizers:
 *   - a refusal comes with at least one problem, each NUL-terminated and
 *     valid UTF-8; an acceptance with none;
 *   - an accepted form has a valid id, a version >= 1, fields with valid
 *     unique names, labels for every language (fallback never fails),
 *     choices within the limits and likert scales of 2..11;
 *   - printing the accepted tree and parsing it again (same mode) gives
 *     the same id, version, fields and types;
 *   - the form is an invalid upgrade of itself (same version) and a
 *     valid one of itself with the version raised.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_form.h"
#include "fuzz.h"

static void check_problems(const fs_problems *p)
{
    for (size_t i = 0; i < p->n; i++) {
        const fs_problem *it = &p->items[i];

        REQUIRE(memchr(it->where, '\0', sizeof it->where) != NULL);
        REQUIRE(memchr(it->msg, '\0', sizeof it->msg) != NULL);
        REQUIRE(fs_utf8_valid(it->where, strlen(it->where)));
        REQUIRE(fs_utf8_valid(it->msg, strlen(it->msg)));
    }
}

static void check_form(const fs_form *f)
{
    size_t n = fs_form_field_count(f);

    REQUIRE(fs_valid_form_id(fs_form_id(f)));
    REQUIRE(fs_form_version(f) >= 1);
    REQUIRE(n >= 1 && n <= 500);
    REQUIRE(fs_form_title(f, "xx") != NULL);
    for (size_t i = 0; i < n; i++) {
        const fs_field *fld = fs_form_field(f, i);
        size_t nc = fs_field_choice_count(fld);

        REQUIRE(fs_valid_field_name(fs_field_name(fld)));
        REQUIRE(fs_form_field_named(f, fs_field_name(fld)) == fld);
        REQUIRE(fs_field_label(fld, "fr") != NULL);
        REQUIRE(nc <= 1000);
        for (size_t k = 0; k < nc; k++) {
            const char *label = NULL;

            REQUIRE(fs_field_choice(fld, k, "fr", &label) != NULL);
            REQUIRE(label != NULL);
        }
        if (fs_field_type_of(fld) == FS_FIELD_LIKERT)
            REQUIRE(fs_field_scale(fld) >= 2 && fs_field_scale(fld) <= 11);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_problems p;
    fs_form *f = NULL, *g = NULL;
    int flags, rc;
    char *text;
    cJSON *bumped;

    if (size < 1)
        return 0;
    flags = (data[0] & 1) ? FS_FORM_STRICT : 0;
    data++;
    size--;
    fs_problems_init(&p);
    rc = fs_form_parse((const char *)data, size, flags, &f, &p);
    check_problems(&p);
    if (rc != FS_OK) {
        REQUIRE(f == NULL);
        REQUIRE(fs_problems_total(&p) > 0 || rc == FS_ENOMEM);
        return 0;
    }
    REQUIRE(f != NULL && fs_problems_total(&p) == 0);
    check_form(f);

    text = cJSON_PrintUnformatted(fs_form_json(f));
    REQUIRE(text != NULL);
    rc = fs_form_parse(text, strlen(text), flags, &g, &p);
    REQUIRE(rc == FS_OK);
    REQUIRE(strcmp(fs_form_id(f), fs_form_id(g)) == 0);
    REQUIRE(fs_form_version(f) == fs_form_version(g));
    REQUIRE(fs_form_field_count(f) == fs_form_field_count(g));
    for (size_t i = 0; i < fs_form_field_count(f); i++) {
        REQUIRE(strcmp(fs_field_name(fs_form_field(f, i)),
                       fs_field_name(fs_form_field(g, i))) == 0);
        REQUIRE(fs_field_type_of(fs_form_field(f, i)) ==
                fs_field_type_of(fs_form_field(g, i)));
    }
    fs_problems_init(&p);
    REQUIRE(fs_form_check_upgrade(f, g, &p) == FS_EMALFORMED);
    REQUIRE(p.n == 1 && strcmp(p.items[0].where, "$.version") == 0);
    fs_form_free(g);
    g = NULL;
    cJSON_free(text);

    /* The same form one version up is a valid upgrade. */
    if (fs_form_version(f) < 1000000000) {
        bumped = cJSON_Duplicate(fs_form_json(f), 1);
        REQUIRE(bumped != NULL);
        cJSON_ReplaceItemInObjectCaseSensitive(
            bumped, "version",
            cJSON_CreateNumber((double)(fs_form_version(f) + 1)));
        text = cJSON_PrintUnformatted(bumped);
        cJSON_Delete(bumped);
        REQUIRE(text != NULL);
        REQUIRE(fs_form_parse(text, strlen(text), flags, &g, NULL) == FS_OK);
        fs_problems_init(&p);
        REQUIRE(fs_form_check_upgrade(f, g, &p) == FS_OK);
        fs_form_free(g);
        cJSON_free(text);
    }
    fs_form_free(f);
    return 0;
}
