/*
 * changeset.c - changesets (agent -> hub): building, encoding, and
 * decoding untrusted bodies.
 *
 * Two kinds of failure on decode. The envelope (versions, device, the
 * sequence range) is what the hub needs to even talk about the changes:
 * if it is wrong the whole changeset is refused. A problem inside one
 * change only marks that change, so one bad record in a field agent's
 * outbox cannot hold back the rest of the day's work.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_form.h"
#include "fs_internal.h"

#define SUBMISSION "submission"
#define ENTITY "entity"

static const char *const op_names[] = {NULL, "new", "set", "delete"};

const char *fs_entity_op_name(fs_entity_op op)
{
    return op >= FS_ENTITY_NEW && op <= FS_ENTITY_DELETE ? op_names[op] : NULL;
}

fs_changeset *fs_changeset_new(size_t cap)
{
    fs_changeset *cs = calloc(1, sizeof(*cs));

    if (cs == NULL)
        return NULL;
    cs->protocol = FS_PROTOCOL_VERSION;
    cs->schema = FS_SCHEMA_VERSION;
    if (cap > 0) {
        cs->changes = calloc(cap, sizeof(*cs->changes));
        if (cs->changes == NULL) {
            free(cs);
            return NULL;
        }
    }
    return cs;
}

void fs_change_clear(fs_change *c)
{
    size_t i;

    if (c == NULL)
        return;
    if (!c->sub.answers_in_arena) {
        free(c->sub.answers_json);
        cJSON_Delete(c->sub.answers);
    }
    c->sub.answers_json = NULL;
    c->sub.answers = NULL;
    c->sub.answers_in_arena = 0;
    for (i = 0; i < c->ent.n; i++)
        free(c->ent.edits[i].value_json);
    free(c->ent.edits);
    c->ent.edits = NULL;
    c->ent.n = 0;
}

void fs_changeset_free(fs_changeset *cs)
{
    size_t i;

    if (cs == NULL)
        return;
    for (i = 0; i < cs->n; i++)
        fs_change_clear(&cs->changes[i]);
    free(cs->changes);
    if (cs->arena != NULL) {
        fs__arena_free(cs->arena);
        free(cs->arena);
    }
    free(cs);
}

int fs_entity_add_edit(fs_entity_change *e, const char *field, int64_t base,
                       const char *value_json)
{
    fs_entity_edit *grown;
    size_t len;

    if (e == NULL || field == NULL || (len = strlen(field)) > FS_ID_MAX)
        return FS_EINVAL;
    /* Grows one at a time: entity types have tens of fields, not more. */
    grown = realloc(e->edits, (e->n + 1) * sizeof(*grown));
    if (grown == NULL)
        return FS_ENOMEM;
    e->edits = grown;
    memset(&grown[e->n], 0, sizeof(grown[e->n]));
    memcpy(grown[e->n].field, field, len + 1);
    grown[e->n].base = base;
    if (value_json != NULL) {
        grown[e->n].value_json = strdup(value_json);
        if (grown[e->n].value_json == NULL)
            return FS_ENOMEM;
    }
    e->n++;
    return FS_OK;
}

/* ---- encoding -------------------------------------------------------- */

static int add_str(cJSON *o, const char *key, const char *v)
{
    return cJSON_AddStringToObject(o, key, v) ? FS_OK : FS_ENOMEM;
}

/* The fields member of an entity change: {"name": {"base": n, "value":
 * v}, ...} in the edits' order (by name). */
static int edits_to_json(const fs_entity_change *e, cJSON *o)
{
    cJSON *fields = cJSON_AddObjectToObject(o, "fields");
    size_t i;
    int rc = FS_OK;

    if (fields == NULL)
        return FS_ENOMEM;
    for (i = 0; i < e->n && rc == FS_OK; i++) {
        const fs_entity_edit *ed = &e->edits[i];
        cJSON *f = cJSON_AddObjectToObject(fields, ed->field);
        cJSON *v = NULL;

        if (f == NULL)
            return FS_ENOMEM;
        rc = fs__json_add_int(f, "base", ed->base);
        if (rc != FS_OK)
            break;
        if (ed->value_json == NULL) {
            if (e->op != FS_ENTITY_DELETE)
                rc = FS_EINVAL;
            continue;
        }
        if (e->op == FS_ENTITY_DELETE)
            return FS_EINVAL;
        rc = fs_json_parse(ed->value_json, strlen(ed->value_json), NULL, &v,
                           NULL);
        if (rc != FS_OK)
            return rc == FS_ENOMEM ? rc : FS_EINVAL;
        if (!cJSON_AddItemToObject(f, "value", v)) {
            cJSON_Delete(v);
            rc = FS_ENOMEM;
        }
    }
    return rc;
}

/* The key order of an entity change, as PROTOCOL.md 4.2.1 shows it. */
static int entity_to_json(const fs_change *c, cJSON **out)
{
    const fs_entity_change *e = &c->ent;
    char hlc[FS_HLC_TEXT_LEN + 1];
    const char *op = fs_entity_op_name(e->op);
    cJSON *o;
    int rc;

    *out = NULL;
    if (op == NULL || (e->n > 0 && e->edits == NULL))
        return FS_EINVAL;
    o = cJSON_CreateObject();
    if (o == NULL)
        return FS_ENOMEM;
    fs_hlc_format(e->hlc, hlc);
    rc = fs__json_add_int(o, "seq", c->seq);
    if (rc == FS_OK)
        rc = add_str(o, "kind", ENTITY);
    if (rc == FS_OK)
        rc = add_str(o, "op", op);
    if (rc == FS_OK)
        rc = add_str(o, "type", e->type);
    if (rc == FS_OK)
        rc = add_str(o, "id", e->id);
    if (rc == FS_OK && e->collector[0] != '\0')
        rc = add_str(o, "collector", e->collector);
    if (rc == FS_OK)
        rc = add_str(o, "hlc", hlc);
    if (rc == FS_OK)
        rc = fs__json_add_int(o, "created_ms", e->created_ms);
    if (rc == FS_OK)
        rc = edits_to_json(e, o);
    if (rc != FS_OK) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return FS_OK;
}

/* The one place the CHANGE object's key order is written down; decode
 * does not depend on it, but equal changes must give equal bytes. */
static int change_to_json(const fs_change *c, cJSON **out)
{
    const fs_submission *s = &c->sub;
    char hlc[FS_HLC_TEXT_LEN + 1];
    cJSON *o = NULL;
    cJSON *answers = NULL;
    int rc;

    *out = NULL;
    if (c->kind == FS_CHANGE_ENTITY)
        return entity_to_json(c, out);
    if (c->kind != FS_CHANGE_SUBMISSION || s->answers_json == NULL)
        return FS_EINVAL;
    /* answers_json is our own stored text, but parsing it under the same
     * limits as the hub will guarantees we never send what it refuses. */
    rc = fs_json_parse(s->answers_json, strlen(s->answers_json), NULL, &answers,
                       NULL);
    if (rc != FS_OK)
        return rc == FS_ENOMEM ? rc : FS_EINVAL;
    if (!cJSON_IsObject(answers)) {
        rc = FS_EINVAL;
        goto out;
    }
    o = cJSON_CreateObject();
    if (o == NULL) {
        rc = FS_ENOMEM;
        goto out;
    }
    fs_hlc_format(s->hlc, hlc);
    /* Each step runs only while the previous ones succeeded. */
    rc = fs__json_add_int(o, "seq", c->seq);
    if (rc == FS_OK)
        rc = add_str(o, "kind", SUBMISSION);
    if (rc == FS_OK)
        rc = add_str(o, "id", s->id);
    if (rc == FS_OK)
        rc = add_str(o, "form", s->form_id);
    if (rc == FS_OK)
        rc = fs__json_add_int(o, "form_version", s->form_version);
    if (rc == FS_OK && s->area[0] != '\0')
        rc = add_str(o, "area", s->area);
    if (rc == FS_OK && s->collector[0] != '\0')
        rc = add_str(o, "collector", s->collector);
    if (rc == FS_OK)
        rc = add_str(o, "hlc", hlc);
    if (rc == FS_OK)
        rc = fs__json_add_int(o, "created_ms", s->created_ms);
    if (rc == FS_OK)
        rc = fs__json_add_int(o, "rev", s->rev);
    if (rc == FS_OK && s->base_rev != 0)
        rc = fs__json_add_int(o, "base_rev", s->base_rev);
    if (rc != FS_OK)
        goto out;
    if (!cJSON_AddItemToObject(o, "answers", answers)) {
        rc = FS_ENOMEM;
        goto out;
    }
    answers = NULL; /* owned by o now */
    *out = o;
    o = NULL;
out:
    cJSON_Delete(answers);
    cJSON_Delete(o);
    return rc;
}

cJSON *fs_change_to_json(const fs_change *c)
{
    cJSON *o = NULL;

    if (c == NULL)
        return NULL;
    change_to_json(c, &o);
    return o;
}

int fs_changeset_encode(const fs_changeset *cs, int gzip_level, fs_buf *out,
                        size_t *json_len)
{
    cJSON *root = NULL;
    cJSON *arr;
    char *text = NULL;
    size_t len, i;
    int rc;

    if (cs == NULL || out == NULL || (cs->n > 0 && cs->changes == NULL))
        return FS_EINVAL;
    root = cJSON_CreateObject();
    if (root == NULL)
        return FS_ENOMEM;
    rc = fs__json_add_int(root, "protocol", cs->protocol);
    if (rc == FS_OK)
        rc = fs__json_add_int(root, "schema", cs->schema);
    if (rc == FS_OK)
        rc = add_str(root, "device", cs->device);
    if (rc == FS_OK)
        rc = fs__json_add_int(root, "first_seq", cs->first_seq);
    if (rc == FS_OK)
        rc = fs__json_add_int(root, "last_seq", cs->last_seq);
    if (rc != FS_OK)
        goto out;
    arr = cJSON_AddArrayToObject(root, "changes");
    if (arr == NULL) {
        rc = FS_ENOMEM;
        goto out;
    }
    for (i = 0; i < cs->n; i++) {
        cJSON *c;

        rc = change_to_json(&cs->changes[i], &c);
        if (rc != FS_OK)
            goto out;
        if (!cJSON_AddItemToArray(arr, c)) {
            cJSON_Delete(c);
            rc = FS_ENOMEM;
            goto out;
        }
    }
    text = fs__json_print(root);
    if (text == NULL) {
        rc = FS_ENOMEM;
        goto out;
    }
    len = strlen(text);
    if (gzip_level > 0)
        rc = fs_gzip(text, len, gzip_level, out);
    else
        rc = fs_buf_append(out, text, len);
    if (rc == FS_OK && json_len != NULL)
        *json_len = len;
out:
    free(text);
    cJSON_Delete(root);
    return rc;
}

/* ---- decoding: one change -------------------------------------------- */

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Slots of the hash set check_members finds repeated keys with: a power
 * of two at least twice the keys it takes (more keys go the sorting
 * way). */
#define KEY_SLOTS 1024

/* 1 when one of keys[0..n) is there twice. An open-addressing hash set
 * of indexes: linear in n where sorting was n log n string compares. */
static int any_key_twice(const char **keys, const uint32_t *hash, size_t n)
{
    uint16_t slot[KEY_SLOTS]; /* index + 1; 0 is empty */
    size_t size = 16, i, j;

    while (size < 2 * n)
        size *= 2;
    memset(slot, 0, size * sizeof(slot[0]));
    for (i = 0; i < n; i++) {
        for (j = hash[i] & (size - 1); slot[j] != 0; j = (j + 1) & (size - 1))
            if (strcmp(keys[slot[j] - 1], keys[i]) == 0)
                return 1;
        slot[j] = (uint16_t)(i + 1);
    }
    return 0;
}

/* Checks the answers object: size, key syntax, no key twice (a repeated
 * key would make "the" answer depend on which parser reads it). keys is
 * scratch room for lim->max_answers pointers. */
static int check_members(const cJSON *answers, size_t idx, const char *what,
                         const fs_limits *lim, const char **keys, fs_err *e)
{
    const cJSON *m;
    char snip[72];
    uint32_t hash[KEY_SLOTS / 2];
    size_t n = 0, i;

    cJSON_ArrayForEach(m, answers)
    {
        const unsigned char *k = (const unsigned char *)m->string;

        if (n >= lim->max_answers)
            return fs_err_set(e, FS_ETOOBIG,
                              "changes[%zu].%s: more than %zu %s", idx, what,
                              lim->max_answers, what);
        /* Sealed answers travel as one more member (fs_seal.h); the
         * form decides whether it belongs (fs_answers_validate). */
        if (!fs_valid_field_name(m->string) &&
            !(strcmp(what, "answers") == 0 && m->string != NULL &&
              strcmp(m->string, FS_SEALED_MEMBER) == 0)) {
            fs__snippet(m->string, snip, sizeof(snip));
            return fs_err_set(e, FS_EIDENT,
                              "changes[%zu].%s: '%s' is not a field "
                              "name ([a-z][a-z0-9_]{0,63})",
                              idx, what, snip);
        }
        if (n < KEY_SLOTS / 2) { /* FNV-1a */
            uint32_t h = 2166136261u;

            for (; *k != '\0'; k++)
                h = (h ^ *k) * 16777619u;
            hash[n] = h;
        }
        keys[n++] = m->string;
    }
    /* Most answers repeat no key: the hash set says so in one pass. Only
     * a repeat (or a huge object) is sorted, to name the same key as
     * ever, the first in byte order. */
    if (n <= KEY_SLOTS / 2 && !any_key_twice(keys, hash, n))
        return FS_OK;
    qsort(keys, n, sizeof(*keys), cmp_keys);
    for (i = 1; i < n; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return fs_err_set(e, FS_EMALFORMED,
                              "changes[%zu].%s.%s: key appears twice", idx,
                              what, keys[i]);
    }
    return FS_OK;
}

/* Room for a short string member's text: the longest that can be right
 * is a collector name. */
#define VAL_STR (FS_NAME_MAX + 1)

/* A member's value as the decoder read it: it is NULL when the member is
 * absent, else the value as cJSON would hold it - node for a scalar
 * (text holding a short string), or a tree of its own. */
typedef struct wval {
    const cJSON *it;
    cJSON node;
    char text[VAL_STR];
    const unsigned char *num; /* a number's text in the body, numlen bytes */
    size_t numlen;
} wval;

/* The members of a change the decoder reads. */
typedef struct change_members {
    wval seq, kind, id, form, form_version, area, collector, hlc, created_ms,
        rev, base_rev, answers, op, type, fields;
} change_members;

static wval *member_slot(change_members *m, const char *k)
{
    switch (k[0]) {
    case 'a':
        return strcmp(k, "answers") == 0 ? &m->answers
               : strcmp(k, "area") == 0  ? &m->area
                                         : NULL;
    case 'b':
        return strcmp(k, "base_rev") == 0 ? &m->base_rev : NULL;
    case 'c':
        return strcmp(k, "collector") == 0    ? &m->collector
               : strcmp(k, "created_ms") == 0 ? &m->created_ms
                                              : NULL;
    case 'f':
        return strcmp(k, "form") == 0           ? &m->form
               : strcmp(k, "form_version") == 0 ? &m->form_version
               : strcmp(k, "fields") == 0       ? &m->fields
                                                : NULL;
    case 'h':
        return strcmp(k, "hlc") == 0 ? &m->hlc : NULL;
    case 'i':
        return strcmp(k, "id") == 0 ? &m->id : NULL;
    case 'k':
        return strcmp(k, "kind") == 0 ? &m->kind : NULL;
    case 'o':
        return strcmp(k, "op") == 0 ? &m->op : NULL;
    case 'r':
        return strcmp(k, "rev") == 0 ? &m->rev : NULL;
    case 's':
        return strcmp(k, "seq") == 0 ? &m->seq : NULL;
    case 't':
        return strcmp(k, "type") == 0 ? &m->type : NULL;
    default:
        return NULL;
    }
}

static void no_members(change_members *m)
{
    m->seq.it = m->kind.it = m->id.it = m->form.it = m->form_version.it = NULL;
    m->area.it = m->collector.it = m->hlc.it = m->created_ms.it = NULL;
    m->rev.it = m->base_rev.it = m->answers.it = m->op.it = m->type.it =
        m->fields.it = NULL;
}

/* A wire integer: a number whose text (num, len) is exactly an integer
 * within +-2^53. FS__FIELD_* as fs__json_exact_int. */
static int wire_int(const cJSON *it, const unsigned char *num, size_t len,
                    int64_t *out)
{
    if (it == NULL)
        return FS__FIELD_MISSING;
    if ((it->type & 0xFF) != cJSON_Number || num == NULL)
        return FS__FIELD_WRONG;
    /* Up to 15 bytes hold at most 15 significant digits, which a double
     * keeps: it is an integer exactly when the text is, and past 2^53
     * both are. Only longer texts need their digits read. */
    if (len <= 15) {
        double d = it->valuedouble;

        if (!(d >= -FS__JSON_INT_MAX && d <= FS__JSON_INT_MAX))
            return FS__FIELD_RANGE;
        if ((double)(int64_t)d != d)
            return FS__FIELD_WRONG;
        *out = (int64_t)d;
        return FS__FIELD_OK;
    }
    return fs__json_exact_int(num, len, out);
}

/* A required or optional string member it (NULL: absent); the message
 * names the path. */
static int want_str(const cJSON *it, const char *key, size_t idx, int need,
                    const char **v, fs_err *e)
{
    int r = fs__json_str_item(it, v);

    if (r == FS__FIELD_MISSING && !need) {
        *v = NULL;
        return FS_OK;
    }
    if (r == FS__FIELD_MISSING)
        return fs_err_set(e, FS_EMALFORMED, "changes[%zu].%s: missing", idx,
                          key);
    if (r != FS__FIELD_OK)
        return fs_err_set(e, FS_EMALFORMED, "changes[%zu].%s: must be a string",
                          idx, key);
    return FS_OK;
}

/* An integer member >= min; *v keeps its default when optional and
 * absent. */
static int want_int(const wval *w, const char *key, size_t idx, int need,
                    int64_t min, int64_t *v, fs_err *e)
{
    char path[48];
    int64_t x;
    int r = wire_int(w->it, w->num, w->numlen, &x);

    if (r == FS__FIELD_MISSING && !need)
        return FS_OK;
    if (r == FS__FIELD_MISSING)
        return fs_err_set(e, FS_EMALFORMED, "changes[%zu].%s: missing", idx,
                          key);
    if (r == FS__FIELD_RANGE) {
        snprintf(path, sizeof(path), "changes[%zu].%s", idx, key);
        return fs__err_beyond(e, path, w->num, w->numlen);
    }
    if (r != FS__FIELD_OK || x < min)
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].%s: must be an integer >= %" PRId64,
                          idx, key, min);
    *v = x;
    return FS_OK;
}

/* The id member: a lower-case UUID. */
static int want_id(const change_members *m, size_t idx,
                   char id[FS_UUID_LEN + 1], fs_err *e)
{
    const char *v;
    int rc = want_str(m->id.it, "id", idx, 1, &v, e);

    if (rc != FS_OK)
        return rc;
    if (!fs_valid_uuid(v))
        return fs_err_set(e, FS_EIDENT,
                          "changes[%zu].id: not a lower-case UUID", idx);
    memcpy(id, v, FS_UUID_LEN + 1);
    return FS_OK;
}

/* Who and when: the optional collector and the required hlc. */
static int want_who(const change_members *m, size_t idx,
                    char collector[FS_NAME_MAX + 1], uint64_t *hlc, fs_err *e)
{
    const char *v;
    int rc = want_str(m->collector.it, "collector", idx, 0, &v, e);

    if (rc != FS_OK)
        return rc;
    if (v != NULL && v[0] != '\0') {
        if (!fs_valid_name(v))
            return fs_err_set(e, FS_EIDENT,
                              "changes[%zu].collector: not a printable name "
                              "of 1..%d bytes without edge spaces",
                              idx, FS_NAME_MAX);
        memcpy(collector, v, strlen(v) + 1);
    }
    rc = want_str(m->hlc.it, "hlc", idx, 1, &v, e);
    if (rc != FS_OK)
        return rc;
    if (fs_hlc_parse(v, hlc) != FS_OK)
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].hlc: must be %d lower-case hex "
                          "digits",
                          idx, FS_HLC_TEXT_LEN);
    return FS_OK;
}

/* 1 when a number in t is infinite: 1e400 reads as infinity, which the
 * canonical text would carry as null. */
static int has_infinite(const cJSON *t)
{
    const cJSON *c;

    if (cJSON_IsNumber(t))
        return isinf(t->valuedouble);
    for (c = t->child; c != NULL; c = c->next)
        if (has_infinite(c))
            return 1;
    return 0;
}

static int cmp_edits(const void *a, const void *b)
{
    return strcmp(((const fs_entity_edit *)a)->field,
                  ((const fs_entity_edit *)b)->field);
}

/* One member of an entity change's fields: {"base": n, "value": v}. */
static int decode_edit(const cJSON *m, size_t idx, const fs__jnums *nums,
                       size_t *from, fs_entity_change *ent, fs_err *e)
{
    fs_entity_edit *ed = &ent->edits[ent->n];
    const cJSON *value, *b;
    const fs__jnum *bn;
    char path[FS_ID_MAX + 40];
    int64_t base;
    int r;

    if (!cJSON_IsObject(m))
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].fields.%s: must be an object "
                          "{\"base\": N, \"value\": V}",
                          idx, m->string);
    b = cJSON_GetObjectItemCaseSensitive(m, "base");
    bn = fs__jnums_find(nums, from, b);
    r = wire_int(b, bn ? bn->text : NULL, bn ? bn->len : 0, &base);
    if (r == FS__FIELD_RANGE) {
        snprintf(path, sizeof(path), "changes[%zu].fields.%s.base", idx,
                 m->string);
        return fs__err_beyond(e, path, bn->text, bn->len);
    }
    if (r != FS__FIELD_OK || base < 0)
        return fs_err_set(
            e, FS_EMALFORMED, "changes[%zu].fields.%s.base: %s", idx, m->string,
            r == FS__FIELD_MISSING ? "missing" : "must be an integer >= 0");
    if (ent->op == FS_ENTITY_NEW && base != 0)
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].fields.%s.base: must be 0 in a new "
                          "entity",
                          idx, m->string);
    value = cJSON_GetObjectItemCaseSensitive(m, "value");
    if (ent->op == FS_ENTITY_DELETE && value != NULL)
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].fields.%s.value: a delete carries "
                          "bases only",
                          idx, m->string);
    if (ent->op != FS_ENTITY_DELETE && value == NULL)
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].fields.%s.value: missing (null "
                          "clears a field)",
                          idx, m->string);
    if (value != NULL && has_infinite(value))
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].fields.%s.value: a number too large "
                          "for a double (it would be stored as null)",
                          idx, m->string);
    memset(ed, 0, sizeof(*ed));
    memcpy(ed->field, m->string, strlen(m->string) + 1);
    ed->base = base;
    ent->n++; /* ed is ours to free from here on */
    if (value != NULL) {
        ed->value_json = fs__json_print(value);
        if (ed->value_json == NULL)
            return fs_err_set(e, FS_ENOMEM, "out of memory");
    }
    return FS_OK;
}

/* Fills c from an entity change (PROTOCOL.md 4.2.1). Which fields an
 * entity type has, and their values' types, are the hub's to check: the
 * wire only guarantees shape and identifiers. */
static int decode_entity(const change_members *cm, size_t idx,
                         const fs_limits *lim, const char **keys,
                         const fs__jnums *nums, fs_change *c, fs_err *e)
{
    fs_entity_change *ent = &c->ent;
    const cJSON *fields = cm->fields.it, *m;
    const char *v;
    char snip[72];
    size_t count = 0, from = 0;
    int rc, op;

    c->kind = FS_CHANGE_ENTITY;
    rc = want_str(cm->op.it, "op", idx, 1, &v, e);
    if (rc != FS_OK)
        return rc;
    for (op = FS_ENTITY_NEW; op <= FS_ENTITY_DELETE; op++)
        if (strcmp(v, op_names[op]) == 0)
            break;
    if (op > FS_ENTITY_DELETE) {
        fs__snippet(v, snip, sizeof(snip));
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].op: '%s' is not new, set or delete",
                          idx, snip);
    }
    ent->op = (fs_entity_op)op;

    rc = want_str(cm->type.it, "type", idx, 1, &v, e);
    if (rc != FS_OK)
        return rc;
    if (!fs_valid_form_id(v)) {
        fs__snippet(v, snip, sizeof(snip));
        return fs_err_set(e, FS_EIDENT,
                          "changes[%zu].type: '%s' is not an entity type "
                          "([a-z][a-z0-9_]{0,63})",
                          idx, snip);
    }
    memcpy(ent->type, v, strlen(v) + 1);

    rc = want_id(cm, idx, ent->id, e);
    if (rc == FS_OK)
        rc = want_who(cm, idx, ent->collector, &ent->hlc, e);
    if (rc == FS_OK)
        rc = want_int(&cm->created_ms, "created_ms", idx, 1, 0,
                      &ent->created_ms, e);
    if (rc != FS_OK)
        return rc;

    if (fields == NULL)
        return fs_err_set(e, FS_EMALFORMED, "changes[%zu].fields: missing",
                          idx);
    if (!cJSON_IsObject(fields))
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].fields: must be an object", idx);
    rc = check_members(fields, idx, "fields", lim, keys, e);
    if (rc != FS_OK)
        return rc;
    cJSON_ArrayForEach(m, fields) count++;
    if (count == 0 && ent->op != FS_ENTITY_DELETE)
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].fields: must name at least one "
                          "field",
                          idx);
    if (count > 0) {
        ent->edits = calloc(count, sizeof(*ent->edits));
        if (ent->edits == NULL)
            return fs_err_set(e, FS_ENOMEM, "out of memory");
    }
    cJSON_ArrayForEach(m, fields)
    {
        rc = decode_edit(m, idx, nums, &from, ent, e);
        if (rc != FS_OK)
            return rc;
    }
    /* By name, so that equal changes encode to equal bytes. */
    if (ent->n > 1)
        qsort(ent->edits, ent->n, sizeof(*ent->edits), cmp_edits);
    return FS_OK;
}

/* Fills c from the members m of changes[idx]. Returns the first
 * problem's code with its message in e; FS_ENOMEM is the caller's to
 * treat as fatal. The answers tree (in arena, as the text printed from
 * it) becomes the change's on success. nums holds the text of the
 * numbers in the fields tree. */
static int decode_change(const change_members *m, size_t idx,
                         const fs_limits *lim, const char **keys,
                         fs__arena *arena, const fs__jnums *nums, fs_change *c,
                         fs_err *e)
{
    fs_submission *s = &c->sub;
    const cJSON *answers = m->answers.it;
    const char *v;
    char snip[72];
    int rc;

    rc = want_str(m->kind.it, "kind", idx, 1, &v, e);
    if (rc != FS_OK)
        return rc;
    if (strcmp(v, ENTITY) == 0)
        return decode_entity(m, idx, lim, keys, nums, c, e);
    if (strcmp(v, SUBMISSION) != 0) {
        fs__snippet(v, snip, sizeof(snip));
        return fs_err_set(e, FS_EVERSION,
                          "changes[%zu].kind: unknown change kind '%s'", idx,
                          snip);
    }
    c->kind = FS_CHANGE_SUBMISSION;

    rc = want_id(m, idx, s->id, e);
    if (rc != FS_OK)
        return rc;

    rc = want_str(m->form.it, "form", idx, 1, &v, e);
    if (rc != FS_OK)
        return rc;
    if (!fs_valid_form_id(v)) {
        fs__snippet(v, snip, sizeof(snip));
        return fs_err_set(e, FS_EIDENT,
                          "changes[%zu].form: '%s' is not a form id "
                          "([a-z][a-z0-9_]{0,63})",
                          idx, snip);
    }
    memcpy(s->form_id, v, strlen(v) + 1);

    rc = want_int(&m->form_version, "form_version", idx, 1, 1, &s->form_version,
                  e);
    if (rc != FS_OK)
        return rc;

    rc = want_str(m->area.it, "area", idx, 0, &v, e);
    if (rc != FS_OK)
        return rc;
    if (v != NULL && v[0] != '\0') {
        if (!fs_valid_area_code(v)) {
            fs__snippet(v, snip, sizeof(snip));
            return fs_err_set(e, FS_EIDENT,
                              "changes[%zu].area: '%s' is not an area code "
                              "([A-Za-z0-9][A-Za-z0-9._-]{0,63})",
                              idx, snip);
        }
        memcpy(s->area, v, strlen(v) + 1);
    }

    rc = want_who(m, idx, s->collector, &s->hlc, e);
    if (rc != FS_OK)
        return rc;

    rc = want_int(&m->created_ms, "created_ms", idx, 1, 0, &s->created_ms, e);
    if (rc != FS_OK)
        return rc;
    s->rev = 1;
    rc = want_int(&m->rev, "rev", idx, 0, 1, &s->rev, e);
    if (rc != FS_OK)
        return rc;
    s->base_rev = 0;
    rc = want_int(&m->base_rev, "base_rev", idx, 0, 0, &s->base_rev, e);
    if (rc != FS_OK)
        return rc;
    if (s->base_rev >= s->rev)
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].base_rev: %" PRId64
                          " must be below rev %" PRId64,
                          idx, s->base_rev, s->rev);

    if (answers == NULL)
        return fs_err_set(e, FS_EMALFORMED, "changes[%zu].answers: missing",
                          idx);
    if (!cJSON_IsObject(answers))
        return fs_err_set(e, FS_EMALFORMED,
                          "changes[%zu].answers: must be an object", idx);
    rc = check_members(answers, idx, "answers", lim, keys, e);
    if (rc != FS_OK)
        return rc;
    /* Reprinted rather than copied from the body: equal answers give
     * equal text whatever white space the agent sent. */
    s->answers_json = fs__json_print_in(answers, arena);
    if (s->answers_json == NULL)
        return fs_err_set(e, FS_ENOMEM, "out of memory");
    s->answers_in_arena = 1;
    /* Kept parsed: the hub checks the answers against their form next,
     * and parsing them again from answers_json cost as much as this whole
     * decode. The tree is fs_changeset_decode's own, in its arena, so
     * handing it on is safe despite the const view of the members. */
    s->answers = (cJSON *)answers;
    return FS_OK;
}

/* ---- decoding: the cursor ----------------------------------------------
 *
 * The body is read once, front to back, through the JSON parser's
 * cursor (json.c): the envelope's and each change's members go into
 * wvals on the stack, and only answers, entity fields and members of an
 * unexpected shape become trees, in the changeset's arena. A JSON
 * problem anywhere refuses the whole body with the parser's message,
 * before anything else is said. Then the envelope is checked, in the
 * order PROTOCOL.md 4.2 gives (repeated keys, then versions first), and
 * each change's own problems stay its own. Members the decoder does not
 * know are checked as JSON, and for repeated keys inside, and dropped. */

/* What the envelope's checks need of one element of changes. */
typedef struct elem {
    enum {
        ELEM_OK,
        ELEM_NOT_OBJECT,
        ELEM_SEQ_TWICE,
        ELEM_SEQ_MISSING,
        ELEM_SEQ_WRONG,
        ELEM_SEQ_RANGE,
    } shape;
    int64_t seq;
    const unsigned char *num; /* ELEM_SEQ_RANGE: its text */
    size_t numlen;
} elem;

typedef struct envelope {
    wval protocol, schema, device, first_seq, last_seq;
    wval changes; /* node is an empty array when it is one */
    size_t count; /* elements of changes, counted past the limit too */
    elem *elems;  /* the first min(count, max_changes); owned */
} envelope;

/* What one object (the envelope, a change) needs checked for a key
 * twice once it is read: a name the decoder knows read again, the names
 * it does not know, and the trees of its members, named by their key. */
typedef struct scope {
    char twice[16]; /* the first known name read again; "" */
    const char **names;
    size_t nnames, capnames;
    const cJSON **trees;
    size_t ntrees, captrees;
    int seq_twice; /* a change's seq read again */
} scope;

typedef struct reader {
    fs__jcur c;
    const fs_limits *lim;
    fs_changeset *cs; /* its changes array has room for cap */
    size_t cap;
    const char **keys; /* check_members' scratch */
    envelope env;
    scope outer, change;  /* the envelope's, the change being read */
    fs__jnums nums;       /* the numbers of that change's fields tree */
    const char **scratch; /* keys of one object in repeat_in */
    size_t capscratch;
} reader;

/* Appends p to the array *v of *n elements of size sz (room for *cap). */
static int push(void *v, size_t *n, size_t *cap, size_t sz, const void *p)
{
    char **arr = v;

    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        char *grown = realloc(*arr, c * sz);

        if (grown == NULL)
            return FS_ENOMEM;
        *arr = grown;
        *cap = c;
    }
    memcpy(*arr + *n * sz, p, sz);
    (*n)++;
    return FS_OK;
}

static void scope_free(scope *sc)
{
    free(sc->names);
    free(sc->trees);
}

/* The first of keys[0..n) that repeats one before it, or NULL. A hash
 * set of indexes for many keys; few are compared pairwise. */
static const char *first_repeat(const char **keys, size_t n)
{
    uint32_t *slot;
    size_t size = 64, i, j;
    const char *found = NULL;

    if (n <= 16) {
        for (i = 1; i < n; i++)
            for (j = 0; j < i; j++)
                if (strcmp(keys[i], keys[j]) == 0)
                    return keys[i];
        return NULL;
    }
    while (size < 2 * n)
        size *= 2;
    slot = calloc(size, sizeof(*slot)); /* index + 1; 0 is empty */
    if (slot == NULL)
        return NULL;
    for (i = 0; i < n && found == NULL; i++) {
        const unsigned char *k = (const unsigned char *)keys[i];
        uint32_t h = 2166136261u; /* FNV-1a */

        for (; *k != '\0'; k++)
            h = (h ^ *k) * 16777619u;
        for (j = h & (size - 1); slot[j] != 0 && found == NULL;
             j = (j + 1) & (size - 1))
            if (strcmp(keys[slot[j] - 1], keys[i]) == 0)
                found = keys[i];
        slot[j] = (uint32_t)(i + 1);
    }
    free(slot);
    return found;
}

static int is_container(const cJSON *t)
{
    return (t->type & 0xFF) == cJSON_Object || (t->type & 0xFF) == cJSON_Array;
}

/* The first key found twice in one object at or below t (only below it
 * when below), depth first in reading order, into *key; path (cap
 * bytes, len of them used), unless NULL, receives where it is, from t
 * on. */
static int repeat_in(reader *r, const cJSON *t, int below, char *path,
                     size_t cap, size_t len, const char **key)
{
    const cJSON *c, *d;
    size_t n = 0, i = 0;
    int rc;

    *key = NULL;
    if (cJSON_IsObject(t) && !below) {
        for (c = t->child; c != NULL && n <= 16; c = c->next)
            n++;
        if (n <= 16) {
            /* A few keys (a location) are compared pairwise. */
            for (d = t->child; d != NULL; d = d->next)
                for (c = t->child; c != d; c = c->next)
                    if (strcmp(c->string, d->string) == 0) {
                        *key = d->string;
                        return FS_OK;
                    }
        } else {
            for (c = t->child, n = 0; c != NULL; c = c->next) {
                if (n == r->capscratch) {
                    size_t grow = n ? 2 * n : 64;
                    const char **p = realloc(r->scratch, grow * sizeof(*p));

                    if (p == NULL)
                        return FS_ENOMEM;
                    r->scratch = p;
                    r->capscratch = grow;
                }
                r->scratch[n++] = c->string;
            }
            *key = first_repeat(r->scratch, n);
            if (*key != NULL)
                return FS_OK;
        }
    }
    for (c = t->child; c != NULL; c = c->next, i++) {
        size_t at = len;
        int w;

        if (!is_container(c))
            continue;
        if (path != NULL) {
            w = cJSON_IsObject(t)
                    ? snprintf(path + len, cap - len, ".%s", c->string)
                    : snprintf(path + len, cap - len, "[%zu]", i);
            at = w < 0 || (size_t)w >= cap - len ? cap - 1 : len + (size_t)w;
        }
        rc = repeat_in(r, c, 0, path, cap, at, key);
        if (rc != FS_OK || *key != NULL)
            return rc;
        if (path != NULL)
            path[len] = '\0';
    }
    return FS_OK;
}

/* A key twice in the object sc describes, or anywhere in its members'
 * values (in a change, answers' and fields' own names are
 * check_members'), as an error of the envelope ("changeset") or of
 * changes[idx] (when change) into e. */
static int scope_repeat(reader *r, const scope *sc, int change, size_t idx,
                        fs_err *e)
{
    char path[128] = "", snip[72], at[72], where[40] = "changeset";
    const char *key = sc->twice[0] != '\0' ? sc->twice : NULL;
    size_t i;
    int rc;

    if (key == NULL)
        key = first_repeat(sc->names, sc->nnames);
    for (i = 0; i < sc->ntrees && key == NULL; i++) {
        const cJSON *t = sc->trees[i];
        int below = change && (strcmp(t->string, "answers") == 0 ||
                               strcmp(t->string, "fields") == 0);
        size_t len = strlen(t->string);

        if (len >= sizeof(path))
            len = sizeof(path) - 1;
        memcpy(path, t->string, len);
        path[len] = '\0';
        /* Found, the search is made again to say where. */
        rc = repeat_in(r, t, below, NULL, 0, 0, &key);
        if (rc == FS_OK && key != NULL)
            rc = repeat_in(r, t, below, path, sizeof(path), len, &key);
        if (rc != FS_OK)
            return fs_err_set(e, rc, "out of memory");
        if (key == NULL)
            path[0] = '\0';
    }
    if (key == NULL)
        return FS_OK;
    if (change)
        snprintf(where, sizeof(where), "changes[%zu]", idx);
    fs__snippet(key, snip, sizeof(snip));
    if (path[0] == '\0')
        return fs_err_set(e, FS_EMALFORMED, "%s: key '%s' appears twice", where,
                          snip);
    fs__snippet(path, at, sizeof(at));
    return fs_err_set(e, FS_EMALFORMED, "%s: key '%s' appears twice in '%s'",
                      where, snip, at);
}

/* The value at the cursor into v. */
static int read_val(fs__jcur *c, wval *v)
{
    cJSON *t;
    int rc;

    memset(&v->node, 0, sizeof(v->node));
    v->it = &v->node;
    v->num = NULL;
    if (c->p < c->end && *c->p == '"') {
        rc = fs__jcur_string_to(c, v->text, sizeof(v->text));
        if (rc != 1) {
            v->node.type = cJSON_String;
            v->node.valuestring = v->text;
            return rc;
        }
    } else if (c->p >= c->end || (*c->p != '{' && *c->p != '[')) {
        v->num = c->p;
        rc = fs__jcur_value(c, &v->node);
        v->numlen = (size_t)(c->p - v->num);
        if (!cJSON_IsNumber(&v->node))
            v->num = NULL;
        return rc;
    }
    /* A container, or a string too long to be right: a tree. */
    t = fs__jcur_alloc(c, sizeof(*t));
    if (t == NULL)
        return FS_ENOMEM;
    memset(t, 0, sizeof(*t));
    v->it = t;
    return fs__jcur_value(c, t);
}

/* The member whose name is key (or big, when it did not fit) at the
 * cursor's value: read into slot when it is the first of a name the
 * decoder knows; else noted in sc to be found twice, and its value
 * checked (a container is kept for the repeats inside it). A tree is
 * named by its key, as cJSON names members. */
static int read_member(reader *r, scope *sc, const char *key, char *big,
                       wval *slot)
{
    /* The names of the trees every change has, kept without a copy. */
    static char answers[] = "answers", fields[] = "fields";
    fs__jcur *c = &r->c;
    cJSON *t = NULL;
    char *name = big;
    int rc;

    if (slot != NULL && slot->it != NULL) {
        if (sc->twice[0] == '\0')
            memcpy(sc->twice, key, strlen(key) + 1);
        return fs__jcur_value(c, NULL);
    }
    if (slot != NULL) {
        rc = read_val(c, slot);
        if (rc != FS_OK || slot->it == &slot->node)
            return rc;
        t = (cJSON *)slot->it;
        if (strcmp(key, answers) == 0)
            name = answers;
        else if (strcmp(key, fields) == 0)
            name = fields;
    }
    if (name == NULL) {
        name = fs__jcur_alloc(c, strlen(key) + 1);
        if (name == NULL)
            return FS_ENOMEM;
        memcpy(name, key, strlen(key) + 1);
    }
    if (slot == NULL) {
        rc = push(&sc->names, &sc->nnames, &sc->capnames, sizeof(name), &name);
        if (rc != FS_OK)
            return rc;
        if (c->p >= c->end || (*c->p != '{' && *c->p != '['))
            return fs__jcur_value(c, NULL);
        t = fs__jcur_alloc(c, sizeof(*t));
        if (t == NULL)
            return FS_ENOMEM;
        memset(t, 0, sizeof(*t));
        rc = fs__jcur_value(c, t);
        if (rc != FS_OK)
            return rc;
    }
    t->string = name;
    if (!is_container(t))
        return FS_OK;
    return push(&sc->trees, &sc->ntrees, &sc->captrees, sizeof(t), &t);
}

/* Room for want elements in cs->changes and env.elems (want <=
 * max_changes). */
static int room_for(reader *r, size_t want)
{
    size_t cap = r->cap < 8 ? 16 : r->cap * 2, old = r->cap;
    fs_change *ch;
    elem *el;

    if (want <= old)
        return FS_OK;
    if (cap > r->lim->max_changes)
        cap = r->lim->max_changes;
    if (cap < want)
        cap = want;
    ch = realloc(r->cs->changes, cap * sizeof(*ch));
    if (ch != NULL)
        r->cs->changes = ch;
    el = realloc(r->env.elems, cap * sizeof(*el));
    if (el != NULL)
        r->env.elems = el;
    if (ch == NULL || el == NULL)
        return fs_err_set(r->c.err, FS_ENOMEM, "out of memory");
    memset(ch + old, 0, (cap - old) * sizeof(*ch));
    r->cap = cap;
    return FS_OK;
}

/* The seq of a change read, as the envelope's checks need it. */
static void read_seq(const scope *sc, const wval *seq, elem *el)
{
    el->num = seq->num;
    el->numlen = seq->numlen;
    if (sc->seq_twice) {
        el->shape = ELEM_SEQ_TWICE;
        return;
    }
    switch (wire_int(seq->it, seq->num, seq->numlen, &el->seq)) {
    case FS__FIELD_OK:
        el->shape = ELEM_OK;
        break;
    case FS__FIELD_MISSING:
        el->shape = ELEM_SEQ_MISSING;
        break;
    case FS__FIELD_RANGE:
        el->shape = ELEM_SEQ_RANGE;
        break;
    default:
        el->shape = ELEM_SEQ_WRONG;
    }
}

/* changes[i], an object at the cursor, into cs->changes[i]. */
static int read_change(reader *r, size_t i)
{
    fs__jcur *c = &r->c;
    scope *sc = &r->change;
    fs_change *ch = &r->cs->changes[i];
    elem *el = &r->env.elems[i];
    change_members m;
    fs_err e = {0, ""};
    int rc, more;

    no_members(&m);
    sc->twice[0] = '\0';
    sc->nnames = sc->ntrees = 0;
    sc->seq_twice = 0;
    r->nums.n = 0;
    rc = fs__jcur_enter(c, '}', &more);
    while (rc == FS_OK && more) {
        char key[16], *big;
        wval *slot;

        rc = fs__jcur_key(c, key, sizeof(key), &big);
        if (rc != FS_OK)
            return rc;
        slot = big != NULL ? NULL : member_slot(&m, key);
        if (slot == &m.seq && m.seq.it != NULL)
            sc->seq_twice = 1;
        if (slot != NULL && slot->it == NULL && c->p < c->end && *c->p != '{' &&
            *c->p != '[') {
            rc = read_val(c, slot); /* a scalar, as nearly all are */
        } else {
            /* The texts of numbers in fields, for the bases. */
            c->nums = slot == &m.fields ? &r->nums : NULL;
            rc = read_member(r, sc, key, big, slot);
            c->nums = NULL;
        }
        if (rc == FS_OK)
            rc = fs__jcur_next(c, '}', &more);
    }
    if (rc != FS_OK)
        return rc;
    read_seq(sc, &m.seq, el);
    if (el->shape != ELEM_OK)
        return FS_OK; /* the envelope refuses it */
    rc = scope_repeat(r, sc, 1, i, &e);
    if (rc == FS_OK)
        rc = decode_change(&m, i, r->lim, r->keys, c->arena, &r->nums, ch, &e);
    if (rc == FS_ENOMEM)
        return fs_err_set(c->err, rc, "out of memory");
    if (rc != FS_OK) {
        ch->err = rc;
        memcpy(ch->errmsg, e.msg, sizeof(ch->errmsg));
    }
    return FS_OK;
}

/* The array of changes at the cursor. */
static int read_changes(reader *r)
{
    fs__jcur *c = &r->c;
    envelope *env = &r->env;
    int64_t first, last;
    int rc, more;

    memset(&env->changes.node, 0, sizeof(env->changes.node));
    env->changes.node.type = cJSON_Array;
    env->changes.it = &env->changes.node;
    /* The header, when it came first, says how many to expect. */
    if (wire_int(env->first_seq.it, env->first_seq.num, env->first_seq.numlen,
                 &first) == FS__FIELD_OK &&
        wire_int(env->last_seq.it, env->last_seq.num, env->last_seq.numlen,
                 &last) == FS__FIELD_OK &&
        first <= last && last - first < (int64_t)r->lim->max_changes) {
        rc = room_for(r, (size_t)(last - first) + 1);
        if (rc != FS_OK)
            return rc;
    }
    rc = fs__jcur_enter(c, ']', &more);
    while (rc == FS_OK && more) {
        size_t i = env->count++;

        if (i >= r->lim->max_changes) {
            rc = fs__jcur_value(c, NULL); /* too many: checked only */
        } else {
            rc = room_for(r, i + 1);
            if (rc != FS_OK)
                return rc;
            r->cs->n = i + 1; /* its change is the changeset's to free */
            if (c->p < c->end && *c->p == '{') {
                rc = read_change(r, i);
            } else {
                env->elems[i].shape = ELEM_NOT_OBJECT;
                rc = fs__jcur_value(c, NULL);
            }
        }
        if (rc == FS_OK)
            rc = fs__jcur_next(c, ']', &more);
    }
    return rc;
}

static wval *envelope_slot(envelope *env, const char *k)
{
    return strcmp(k, "protocol") == 0    ? &env->protocol
           : strcmp(k, "schema") == 0    ? &env->schema
           : strcmp(k, "device") == 0    ? &env->device
           : strcmp(k, "first_seq") == 0 ? &env->first_seq
           : strcmp(k, "last_seq") == 0  ? &env->last_seq
           : strcmp(k, "changes") == 0   ? &env->changes
                                         : NULL;
}

/* The whole text, through to its end; *object = 0 when it is JSON but
 * not an object. */
static int read_body(reader *r, int *object)
{
    fs__jcur *c = &r->c;
    int rc, more;

    rc = fs__jcur_begin(c);
    *object = c->p < c->end && *c->p == '{';
    if (!*object) {
        rc = fs__jcur_value(c, NULL);
        return rc == FS_OK ? fs__jcur_finish(c) : rc;
    }
    rc = fs__jcur_enter(c, '}', &more);
    while (rc == FS_OK && more) {
        char key[16], *big;
        wval *slot;

        rc = fs__jcur_key(c, key, sizeof(key), &big);
        if (rc != FS_OK)
            return rc;
        slot = big != NULL ? NULL : envelope_slot(&r->env, key);
        if (slot == &r->env.changes && slot->it == NULL && c->p < c->end &&
            *c->p == '[')
            rc = read_changes(r);
        else
            rc = read_member(r, &r->outer, key, big, slot);
        if (rc == FS_OK)
            rc = fs__jcur_next(c, '}', &more);
    }
    return rc == FS_OK ? fs__jcur_finish(c) : rc;
}

/* ---- decoding: the envelope ------------------------------------------ */

static int want_version(const wval *w, const char *key, int ours, fs_err *err)
{
    int64_t v;
    int r = wire_int(w->it, w->num, w->numlen, &v);

    if (r == FS__FIELD_MISSING)
        return fs_err_set(err, FS_EMALFORMED, "%s: missing", key);
    if (r == FS__FIELD_RANGE)
        return fs__err_beyond(err, key, w->num, w->numlen);
    if (r != FS__FIELD_OK)
        return fs_err_set(err, FS_EMALFORMED, "%s: must be an integer", key);
    if (v != ours)
        return fs_err_set(err, FS_EVERSION,
                          "%s version %" PRId64 " is not supported by this "
                          "hub (it reads %d); update the hub or the agent",
                          key, v, ours);
    return FS_OK;
}

static int want_seq(const wval *w, const char *key, int64_t min, int64_t *out,
                    fs_err *err)
{
    int r = wire_int(w->it, w->num, w->numlen, out);

    if (r == FS__FIELD_MISSING)
        return fs_err_set(err, FS_EMALFORMED, "%s: missing", key);
    if (r == FS__FIELD_RANGE)
        return fs__err_beyond(err, key, w->num, w->numlen);
    if (r != FS__FIELD_OK || *out < min)
        return fs_err_set(err, FS_EMALFORMED,
                          "%s: must be an integer >= %" PRId64, key, min);
    return FS_OK;
}

/* The envelope's rules, once the whole body is read; numbers the changes
 * with their seq when they hold. */
static int check_envelope(reader *r, fs_err *err)
{
    const envelope *env = &r->env;
    const char *dev;
    char snip[72], path[48];
    int64_t first, last;
    size_t i;
    int rc, f;

    /* A key twice first: which of two values counts is anyone's guess.
     * Then versions: a newer agent's changeset may differ in every other
     * way, and "update" is the only useful thing to tell its user. */
    rc = scope_repeat(r, &r->outer, 0, 0, err);
    if (rc == FS_OK)
        rc = want_version(&env->protocol, "protocol", FS_PROTOCOL_VERSION, err);
    if (rc == FS_OK)
        rc = want_version(&env->schema, "schema", FS_SCHEMA_VERSION, err);
    if (rc != FS_OK)
        return rc;
    f = fs__json_str_item(env->device.it, &dev);
    if (f == FS__FIELD_MISSING)
        return fs_err_set(err, FS_EMALFORMED, "device: missing");
    if (f != FS__FIELD_OK)
        return fs_err_set(err, FS_EMALFORMED, "device: must be a string");
    if (!fs_valid_uuid(dev)) {
        fs__snippet(dev, snip, sizeof(snip));
        return fs_err_set(err, FS_EIDENT,
                          "device: '%s' is not a lower-case UUID", snip);
    }
    rc = want_seq(&env->first_seq, "first_seq", 1, &first, err);
    if (rc == FS_OK)
        rc = want_seq(&env->last_seq, "last_seq", first, &last, err);
    if (rc != FS_OK)
        return rc;

    if (env->changes.it == NULL)
        return fs_err_set(err, FS_EMALFORMED, "changes: missing");
    if (!cJSON_IsArray(env->changes.it))
        return fs_err_set(err, FS_EMALFORMED, "changes: must be an array");
    if (env->count > r->lim->max_changes)
        return fs_err_set(err, FS_ETOOBIG,
                          "changes: more than %zu changes in one "
                          "changeset; send them in smaller batches",
                          r->lim->max_changes);
    if (env->count == 0)
        return fs_err_set(err, FS_EMALFORMED, "changes: must not be empty");
    /* Both are within 2^53, so the span cannot overflow. */
    if ((uint64_t)(last - first) + 1 != env->count)
        return fs_err_set(err, FS_EMALFORMED,
                          "changes: %zu changes but first_seq..last_seq "
                          "(%" PRId64 "..%" PRId64 ") names %" PRId64,
                          env->count, first, last, last - first + 1);
    for (i = 0; i < env->count; i++) {
        const elem *el = &env->elems[i];
        int64_t want = first + (int64_t)i;

        switch (el->shape) {
        case ELEM_OK:
            break;
        case ELEM_NOT_OBJECT:
            return fs_err_set(err, FS_EMALFORMED,
                              "changes[%zu]: must be an object", i);
        case ELEM_SEQ_TWICE:
            return fs_err_set(err, FS_EMALFORMED,
                              "changes[%zu]: key 'seq' appears twice", i);
        case ELEM_SEQ_RANGE:
            snprintf(path, sizeof(path), "changes[%zu].seq", i);
            return fs__err_beyond(err, path, el->num, el->numlen);
        default:
            return fs_err_set(err, FS_EMALFORMED, "changes[%zu].seq: %s", i,
                              el->shape == ELEM_SEQ_MISSING
                                  ? "missing"
                                  : "must be an integer");
        }
        if (el->seq != want)
            return fs_err_set(err, FS_EMALFORMED,
                              "changes[%zu].seq: expected %" PRId64
                              ", got %" PRId64,
                              i, want, el->seq);
        r->cs->changes[i].seq = want;
    }
    memcpy(r->cs->device, dev, FS_UUID_LEN + 1);
    r->cs->first_seq = first;
    r->cs->last_seq = last;
    return FS_OK;
}

/* The changeset in text[0..n) into *out. */
static int decode_text(const char *text, size_t n, const fs_limits *lim,
                       fs_changeset **out, fs_err *err)
{
    reader r;
    int rc, object;

    memset(&r, 0, sizeof(r));
    r.lim = lim;
    r.cs = fs_changeset_new(0);
    r.keys =
        malloc((lim->max_answers ? lim->max_answers : 1) * sizeof(*r.keys));
    if (r.cs != NULL)
        r.cs->arena = calloc(1, sizeof(*r.cs->arena));
    if (r.cs == NULL || r.keys == NULL || r.cs->arena == NULL) {
        rc = fs_err_set(err, FS_ENOMEM, "out of memory");
        goto out;
    }
    /* The answers' trees and texts, in a few chunks freed with cs. */
    fs__jcur_init(&r.c, text, n, lim, r.cs->arena, err);
    rc = read_body(&r, &object);
    if (rc == FS_ENOMEM)
        fs_err_set(err, rc, "out of memory");
    if (rc == FS_OK && !object)
        rc = fs_err_set(err, FS_EMALFORMED, "changeset: must be a JSON object");
    if (rc == FS_OK)
        rc = check_envelope(&r, err);
    if (rc == FS_OK) {
        *out = r.cs;
        r.cs = NULL;
    }
out:
    free(r.keys);
    free(r.env.elems);
    scope_free(&r.outer);
    scope_free(&r.change);
    free(r.nums.v);
    free(r.scratch);
    fs_changeset_free(r.cs);
    return rc;
}

int fs_changeset_decode(const void *body, size_t n, int gzipped,
                        const fs_limits *lim, fs_changeset **out,
                        char digest[65], fs_err *err)
{
    fs_limits def;
    fs_buf plain;
    const char *text;
    size_t tlen;
    int rc;

    if (out == NULL || (body == NULL && n > 0))
        return fs_err_set(err, FS_EINVAL, "changeset: bad arguments");
    *out = NULL;
    if (digest != NULL)
        digest[0] = '\0';
    if (lim == NULL) {
        fs_limits_default(&def);
        lim = &def;
    }
    fs_buf_init(&plain, lim->max_decompressed);
    /* max_compressed bounds the body as it arrived, gzipped or not. */
    if (n > lim->max_compressed) {
        rc = fs_err_set(err, FS_ETOOBIG,
                        "body of %zu bytes is over the %zu-byte limit", n,
                        lim->max_compressed);
        goto out;
    }
    if (gzipped) {
        rc = fs_gunzip(body, n, lim, &plain, err);
        if (rc != FS_OK)
            goto out;
        text = (const char *)plain.data;
        tlen = plain.len;
    } else {
        if (n > lim->max_decompressed) {
            rc = fs_err_set(err, FS_ETOOBIG,
                            "body of %zu bytes is over the %zu-byte limit", n,
                            lim->max_decompressed);
            goto out;
        }
        text = body;
        tlen = n;
    }
    if (tlen == 0)
        rc = fs_err_set(err, FS_EMALFORMED, "empty JSON text");
    else
        rc = decode_text(text, tlen, lim, out, err);
    if (rc == FS_OK && digest != NULL)
        fs_sha256_hex(text, tlen, digest);
out:
    fs_buf_free(&plain);
    return rc;
}
