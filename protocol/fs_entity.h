/*
 * fs_entity.h - registry entity types (area, stakeholder, mechanism) and
 * the checks of entity values, shared by the agent (before it stores an
 * edit) and the hub (before it merges one).
 *
 * An entity type is written in the form format (schema/FORMS.md), so its
 * fields have the same types, constraints and personal marks as form
 * fields; schema/ENTITIES.md describes the types and what differs (every
 * edit names single fields, null clears one). The definitions ship in
 * the binaries (schema/entities.json); this module parses them.
 *
 * Ownership: an fs_entity_types owns its forms; fs_form pointers it
 * returns are borrowed until fs_entity_types_free.
 */
#ifndef FS_ENTITY_H
#define FS_ENTITY_H

#include "fs_form.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_entity_types fs_entity_types;

/* Parses the entity-type document json[0..len) ({"format": 1, "types":
 * [form definitions]}). Every problem goes to p (may be NULL). FS_OK with
 * *out the caller's, or FS_EMALFORMED / FS_ENOMEM. */
int fs_entity_types_parse(const char *json, size_t len, fs_entity_types **out,
                          fs_problems *p);
void fs_entity_types_free(fs_entity_types *t);

size_t fs_entity_type_count(const fs_entity_types *t);
const fs_form *fs_entity_type_at(const fs_entity_types *t, size_t i);
/* The type named name, or NULL. */
const fs_form *fs_entity_type(const fs_entity_types *t, const char *name);
/* "area, stakeholder, mechanism": for messages. */
const char *fs_entity_type_names(const fs_entity_types *t);

/* The field whose value is the area code an entity belongs to (its
 * scope): "code" for areas, "area" for the others. Never NULL. */
const char *fs_entity_scope_field(const fs_form *type);
/* The field that names an entity for people ("name"). Never NULL. */
const char *fs_entity_title_field(const fs_form *type);

/* Checks one field edit: the field exists and is not a note; value is
 * JSON null (clears it; refused for required fields) or valid for the
 * field's type and constraints. Problems go to p under the field name.
 * FS_OK or FS_EINVALID. */
int fs_entity_check_value(const fs_form *type, const char *field,
                          const cJSON *value, fs_problems *p);

/* Checks a whole record (object of field -> value, nulls meaning
 * absent): every required field has a value. FS_OK or FS_EINVALID. */
int fs_entity_check_record(const fs_form *type, const cJSON *record,
                           fs_problems *p);

/* Turns a value typed by a person ("status=active", "location=48.85,2.35")
 * into JSON for field: text, select_one, date, datetime as they are;
 * integer, decimal and likert as numbers; select_multiple as codes
 * separated by commas; geopoint as "LAT,LON" or "LAT,LON,ACCURACY"; a
 * value starting with { or [ as JSON. "" gives null (clear). The result
 * is checked with fs_entity_check_value. FS_OK with *out the caller's
 * (cJSON_Delete), else FS_EINVALID with the reason in p. */
int fs_entity_value_parse(const fs_form *type, const char *field,
                          const char *text, cJSON **out, fs_problems *p);

#ifdef __cplusplus
}
#endif
#endif /* FS_ENTITY_H */
