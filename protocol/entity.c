/*
 * entity.c - registry entity types and the checks of entity values.
 *
 * Types are form definitions (schema/FORMS.md), so a mechanism's status
 * is checked by the same code as a survey's select_one. What differs is
 * that an entity is edited field by field: each edit is checked alone,
 * and required fields are checked on the whole record.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_entity.h"
#include "fs_internal.h"

#define TYPES_MAX 32

struct fs_entity_types {
    size_t n;
    fs_form *forms[TYPES_MAX];
    char names[TYPES_MAX * (FS_ID_MAX + 2)];
};

void fs_entity_types_free(fs_entity_types *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        fs_form_free(t->forms[i]);
    free(t);
}

int fs_entity_types_parse(const char *json, size_t len, fs_entity_types **out,
                          fs_problems *p)
{
    cJSON *root = NULL;
    fs_entity_types *t = NULL;
    int rc;

    *out = NULL;
    rc = fs_json_parse(json, len, NULL, &root, NULL);
    if (rc != FS_OK) {
        fs_problems_add(p, "$", "not JSON within the limits");
        return rc == FS_ENOMEM ? rc : FS_EMALFORMED;
    }
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(root, "types");
    if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) < 1 ||
        cJSON_GetArraySize(types) > TYPES_MAX) {
        fs_problems_add(p, "$.types", "must be an array of 1..%d types",
                        TYPES_MAX);
        cJSON_Delete(root);
        return FS_EMALFORMED;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        cJSON_Delete(root);
        return FS_ENOMEM;
    }
    const cJSON *def;
    size_t used = 0;
    rc = FS_OK;
    cJSON_ArrayForEach(def, types)
    {
        char *text = cJSON_PrintUnformatted(def);
        fs_form *f = NULL;
        int frc = text
                      ? fs_form_parse(text, strlen(text), FS_FORM_STRICT, &f, p)
                      : FS_ENOMEM;
        free(text);
        if (frc != FS_OK) {
            rc = frc == FS_ENOMEM ? frc : FS_EMALFORMED;
            break;
        }
        if (fs_entity_type(t, fs_form_id(f)) != NULL) {
            fs_problems_add(p, "$.types", "type %s defined twice",
                            fs_form_id(f));
            fs_form_free(f);
            rc = FS_EMALFORMED;
            break;
        }
        t->forms[t->n++] = f;
        int w = snprintf(t->names + used, sizeof t->names - used, "%s%s",
                         used ? ", " : "", fs_form_id(f));
        if (w > 0 && (size_t)w < sizeof t->names - used)
            used += (size_t)w;
    }
    cJSON_Delete(root);
    if (rc != FS_OK) {
        fs_entity_types_free(t);
        return rc;
    }
    *out = t;
    return FS_OK;
}

size_t fs_entity_type_count(const fs_entity_types *t)
{
    return t ? t->n : 0;
}

const fs_form *fs_entity_type_at(const fs_entity_types *t, size_t i)
{
    return t && i < t->n ? t->forms[i] : NULL;
}

const fs_form *fs_entity_type(const fs_entity_types *t, const char *name)
{
    for (size_t i = 0; t && name && i < t->n; i++)
        if (strcmp(fs_form_id(t->forms[i]), name) == 0)
            return t->forms[i];
    return NULL;
}

const char *fs_entity_type_names(const fs_entity_types *t)
{
    return t ? t->names : "";
}

static const char *ext_member(const fs_form *type, const char *key,
                              const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(fs_form_json(type), key);
    return cJSON_IsString(v) ? v->valuestring : def;
}

const char *fs_entity_scope_field(const fs_form *type)
{
    return ext_member(type, "x_scope_field", "area");
}

const char *fs_entity_title_field(const fs_form *type)
{
    return ext_member(type, "x_title_field", "name");
}

int fs_entity_check_value(const fs_form *type, const char *field,
                          const cJSON *value, fs_problems *p)
{
    const fs_field *fld = fs_form_field_named(type, field);

    if (fld == NULL || fs_field_type_of(fld) == FS_FIELD_NOTE ||
        (fs_field_flags(fld) & FS_FIELD_RETIRED)) {
        fs_problems_add(p, field, "%s has no field '%s'", fs_form_id(type),
                        field);
        return FS_EINVALID;
    }
    if (cJSON_IsNull(value)) {
        if (fs_field_flags(fld) & FS_FIELD_REQUIRED) {
            fs_problems_add(p, field, "is required and cannot be cleared");
            return FS_EINVALID;
        }
        return FS_OK;
    }
    return fs_answer_check(type, fld, value, p);
}

int fs_entity_check_record(const fs_form *type, const cJSON *record,
                           fs_problems *p)
{
    int rc = FS_OK;

    for (size_t i = 0; i < fs_form_field_count(type); i++) {
        const fs_field *fld = fs_form_field(type, i);
        const cJSON *v;

        if (!(fs_field_flags(fld) & FS_FIELD_REQUIRED))
            continue;
        v = cJSON_GetObjectItemCaseSensitive(record, fs_field_name(fld));
        if (v == NULL || cJSON_IsNull(v)) {
            fs_problems_add(p, fs_field_name(fld), "is required");
            rc = FS_EINVALID;
        }
    }
    return rc;
}

/* A number as a person typed it; whole numbers for integer and likert. */
static cJSON *parse_number(const char *text, int whole)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !isfinite(d))
        return NULL;
    if (whole && d != floor(d))
        return NULL;
    return cJSON_CreateNumber(d);
}

/* "48.85,2.35" or "48.85,2.35,12". */
static cJSON *parse_geopoint(const char *text)
{
    double v[3];
    int n = 0;
    const char *p = text;
    while (n < 3) {
        char *end = NULL;
        errno = 0;
        v[n] = strtod(p, &end);
        if (end == p || errno != 0 || !isfinite(v[n]))
            return NULL;
        n++;
        if (*end == '\0')
            break;
        if (*end != ',')
            return NULL;
        p = end + 1;
    }
    if (n < 2 || (n == 3 && *p && strchr(p, ',')))
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "lat", v[0]);
    cJSON_AddNumberToObject(o, "lon", v[1]);
    if (n == 3)
        cJSON_AddNumberToObject(o, "accuracy", v[2]);
    return o;
}

static cJSON *parse_codes(const char *text)
{
    cJSON *arr = cJSON_CreateArray();
    const char *p = text;
    while (arr && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *code = strndup(p, len);
        if (code == NULL) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, cJSON_CreateString(code));
        free(code);
        if (!comma)
            break;
        p = comma + 1;
    }
    return arr;
}

int fs_entity_value_parse(const fs_form *type, const char *field,
                          const char *text, cJSON **out, fs_problems *p)
{
    const fs_field *fld = fs_form_field_named(type, field);
    cJSON *v = NULL;

    *out = NULL;
    if (fld == NULL || fs_field_type_of(fld) == FS_FIELD_NOTE) {
        fs_problems_add(p, field, "%s has no field '%s'", fs_form_id(type),
                        field);
        return FS_EINVALID;
    }
    fs_field_type ft = fs_field_type_of(fld);
    if (text[0] == '\0') {
        v = cJSON_CreateNull();
    } else if ((text[0] == '{' || text[0] == '[') && ft != FS_FIELD_TEXT) {
        if (fs_json_parse(text, strlen(text), NULL, &v, NULL) != FS_OK) {
            fs_problems_add(p, field, "is not valid JSON");
            return FS_EINVALID;
        }
    } else {
        switch (ft) {
        case FS_FIELD_INTEGER:
        case FS_FIELD_LIKERT:
            v = parse_number(text, 1);
            break;
        case FS_FIELD_DECIMAL:
            v = parse_number(text, 0);
            break;
        case FS_FIELD_SELECT_MULTIPLE:
            v = parse_codes(text);
            break;
        case FS_FIELD_GEOPOINT:
            v = parse_geopoint(text);
            break;
        default:
            v = cJSON_CreateString(text);
            break;
        }
        if (v == NULL) {
            fs_problems_add(p, field, "'%.40s' is not a %s value", text,
                            fs_field_type_name(ft));
            return FS_EINVALID;
        }
    }
    if (v == NULL)
        return FS_ENOMEM;
    int rc = fs_entity_check_value(type, field, v, p);
    if (rc != FS_OK) {
        cJSON_Delete(v);
        return rc;
    }
    *out = v;
    return FS_OK;
}
