/*
 * changeset_reference.c - PROTOCOL.md 4.2's rules for a changeset,
 * written a second time, plainly, on a whole tree: the body is parsed
 * with fs_json_parse (which fuzz_json holds to cJSON) and each rule is
 * read off the tree in the order the spec gives. fs_changeset_decode
 * reads the body once through a cursor and must come to the same
 * outcome (ref_changeset_agrees). For tests only.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

#define ANSWERS_PATH_MAX 160

/* Sets err to code with the path of the problem as its message. */
static int fail(fs_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(fs_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

/* A wire integer: a JSON number with no fraction within +-2^53. */
static int int_of(const cJSON *it, int64_t *out)
{
    double d;

    if (!cJSON_IsNumber(it))
        return 0;
    d = it->valuedouble;
    if (!(fabs(d) <= 9007199254740992.0) || d != floor(d))
        return 0;
    *out = (int64_t)d;
    return 1;
}

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A required (need) or optional string member; *v NULL when absent. */
static int str_member(const cJSON *o, const char *key, const char *path,
                      int need, const char **v, fs_err *e)
{
    const cJSON *it = get(o, key);

    *v = NULL;
    if (it == NULL)
        return need ? fail(e, FS_EMALFORMED, "%s.%s", path, key) : FS_OK;
    if (!cJSON_IsString(it))
        return fail(e, FS_EMALFORMED, "%s.%s", path, key);
    *v = it->valuestring;
    return FS_OK;
}

/* An integer member >= min; *v keeps its default when optional and
 * absent. */
static int int_member(const cJSON *o, const char *key, const char *path,
                      int need, int64_t min, int64_t *v, fs_err *e)
{
    const cJSON *it = get(o, key);
    int64_t x;

    if (it == NULL && !need)
        return FS_OK;
    if (!int_of(it, &x) || x < min)
        return fail(e, FS_EMALFORMED, "%s.%s", path, key);
    *v = x;
    return FS_OK;
}

/* 1 when an object at or below t (only below it when below) holds a
 * key twice. */
static int has_repeat(const cJSON *t, int below)
{
    const cJSON *a, *b;

    if (cJSON_IsObject(t) && !below)
        for (a = t->child; a != NULL; a = a->next)
            for (b = a->next; b != NULL; b = b->next)
                if (strcmp(a->string, b->string) == 0)
                    return 1;
    for (a = t->child; a != NULL; a = a->next)
        if ((cJSON_IsObject(a) || cJSON_IsArray(a)) && has_repeat(a, 0))
            return 1;
    return 0;
}

/* 1 when o names a member twice, or a key is twice in an object inside
 * its members' values. In a change (change != 0) the own names of
 * answers and fields are field_map's to check; in the envelope, an
 * array of changes holds changes, each checked on its own. */
static int repeats(const cJSON *o, int change)
{
    const cJSON *a, *b;

    for (a = o->child; a != NULL; a = a->next)
        for (b = a->next; b != NULL; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                return 1;
    for (a = o->child; a != NULL; a = a->next) {
        int own = change && (strcmp(a->string, "answers") == 0 ||
                             strcmp(a->string, "fields") == 0);

        if (!change && strcmp(a->string, "changes") == 0 && cJSON_IsArray(a))
            continue;
        if (has_repeat(a, own))
            return 1;
    }
    return 0;
}

/* How many members of o are named key. */
static int count_of(const cJSON *o, const char *key)
{
    const cJSON *m;
    int n = 0;

    cJSON_ArrayForEach(m, o) n += strcmp(m->string, key) == 0;
    return n;
}

/* 1 when t holds a number that is not finite. */
static int infinite_in(const cJSON *t)
{
    const cJSON *c;

    if (cJSON_IsNumber(t) && !isfinite(t->valuedouble))
        return 1;
    cJSON_ArrayForEach(c, t)
    {
        if (infinite_in(c))
            return 1;
    }
    return 0;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object of field names (answers, fields): at most max_answers
 * members, each a field name, none twice (named: the first repeated
 * one in byte order). */
static int field_map(const cJSON *o, const char *path, const fs_limits *lim,
                     fs_err *e)
{
    const cJSON *m;
    const char **names;
    size_t n = 0, i;
    int rc = FS_OK;

    cJSON_ArrayForEach(m, o) n++;
    if (n > lim->max_answers)
        n = lim->max_answers + 1;
    names = malloc((n ? n : 1) * sizeof(*names));
    if (names == NULL)
        return fail(e, FS_ENOMEM, "out of memory");
    n = 0;
    cJSON_ArrayForEach(m, o)
    {
        if (n == lim->max_answers) {
            rc = fail(e, FS_ETOOBIG, "%s", path);
            goto out;
        }
        if (!fs_valid_field_name(m->string)) {
            rc = fail(e, FS_EIDENT, "%s", path);
            goto out;
        }
        names[n++] = m->string;
    }
    qsort(names, n, sizeof(*names), by_string);
    for (i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            rc = fail(e, FS_EMALFORMED, "%s.%s", path, names[i]);
            break;
        }
out:
    free(names);
    return rc;
}

/* id, collector, hlc and created_ms, which both kinds carry. */
static int common(const cJSON *o, const char *path, char *id, char *collector,
                  uint64_t *hlc, int64_t *created, fs_err *e)
{
    const char *v;
    int rc = str_member(o, "id", path, 1, &v, e);

    if (rc != FS_OK)
        return rc;
    if (!fs_valid_uuid(v))
        return fail(e, FS_EIDENT, "%s.id", path);
    memcpy(id, v, FS_UUID_LEN + 1);
    rc = str_member(o, "collector", path, 0, &v, e);
    if (rc != FS_OK)
        return rc;
    if (v != NULL && v[0] != '\0') {
        if (!fs_valid_name(v))
            return fail(e, FS_EIDENT, "%s.collector", path);
        memcpy(collector, v, strlen(v) + 1);
    }
    rc = str_member(o, "hlc", path, 1, &v, e);
    if (rc != FS_OK)
        return rc;
    if (fs_hlc_parse(v, hlc) != FS_OK)
        return fail(e, FS_EMALFORMED, "%s.hlc", path);
    return int_member(o, "created_ms", path, 1, 0, created, e);
}

static int by_field(const void *a, const void *b)
{
    return strcmp(((const fs_entity_edit *)a)->field,
                  ((const fs_entity_edit *)b)->field);
}

static int entity(const cJSON *o, const char *path, const fs_limits *lim,
                  fs_entity_change *ent, fs_err *e)
{
    static const char *const ops[] = {"new", "set", "delete"};
    const cJSON *fields, *m;
    const char *v;
    char fpath[ANSWERS_PATH_MAX];
    size_t n = 0;
    int rc, op;

    rc = str_member(o, "op", path, 1, &v, e);
    if (rc != FS_OK)
        return rc;
    for (op = 0; op < 3 && strcmp(v, ops[op]) != 0; op++)
        ;
    if (op == 3)
        return fail(e, FS_EMALFORMED, "%s.op", path);
    ent->op = (fs_entity_op)(op + 1);
    rc = str_member(o, "type", path, 1, &v, e);
    if (rc != FS_OK)
        return rc;
    if (!fs_valid_form_id(v))
        return fail(e, FS_EIDENT, "%s.type", path);
    memcpy(ent->type, v, strlen(v) + 1);
    rc = common(o, path, ent->id, ent->collector, &ent->hlc, &ent->created_ms,
                e);
    if (rc != FS_OK)
        return rc;
    fields = get(o, "fields");
    snprintf(fpath, sizeof(fpath), "%s.fields", path);
    if (!cJSON_IsObject(fields))
        return fail(e, FS_EMALFORMED, "%s", fpath);
    rc = field_map(fields, fpath, lim, e);
    if (rc != FS_OK)
        return rc;
    cJSON_ArrayForEach(m, fields) n++;
    if (n == 0 && ent->op != FS_ENTITY_DELETE)
        return fail(e, FS_EMALFORMED, "%s", fpath);
    cJSON_ArrayForEach(m, fields)
    {
        const cJSON *value = get(m, "value");
        int64_t base = 0;

        if (!cJSON_IsObject(m))
            return fail(e, FS_EMALFORMED, "%s.%s", fpath, m->string);
        if (!int_of(get(m, "base"), &base) || base < 0 ||
            (ent->op == FS_ENTITY_NEW && base != 0))
            return fail(e, FS_EMALFORMED, "%s.%s.base", fpath, m->string);
        if ((value != NULL) != (ent->op != FS_ENTITY_DELETE) ||
            (value != NULL && infinite_in(value)))
            return fail(e, FS_EMALFORMED, "%s.%s.value", fpath, m->string);
        rc = fs_entity_add_edit(ent, m->string, base, NULL);
        if (rc != FS_OK)
            return fail(e, rc, "out of memory");
        if (value != NULL) {
            ent->edits[ent->n - 1].value_json = fs__json_print(value);
            if (ent->edits[ent->n - 1].value_json == NULL)
                return fail(e, FS_ENOMEM, "out of memory");
        }
    }
    if (ent->n > 1)
        qsort(ent->edits, ent->n, sizeof(*ent->edits), by_field);
    return FS_OK;
}

/* changes[i] (o, an object) into c; a problem is the change's own. */
static int change(cJSON *o, const char *path, const fs_limits *lim,
                  fs_change *c, fs_err *e)
{
    fs_submission *s = &c->sub;
    cJSON *answers;
    const char *v;
    char apath[ANSWERS_PATH_MAX];
    int rc;

    if (repeats(o, 1))
        return fail(e, FS_EMALFORMED, "%s", path);
    rc = str_member(o, "kind", path, 1, &v, e);
    if (rc != FS_OK)
        return rc;
    if (strcmp(v, "entity") == 0) {
        c->kind = FS_CHANGE_ENTITY;
        return entity(o, path, lim, &c->ent, e);
    }
    if (strcmp(v, "submission") != 0)
        return fail(e, FS_EVERSION, "%s.kind", path);
    c->kind = FS_CHANGE_SUBMISSION;
    rc = str_member(o, "id", path, 1, &v, e);
    if (rc != FS_OK)
        return rc;
    if (!fs_valid_uuid(v))
        return fail(e, FS_EIDENT, "%s.id", path);
    rc = str_member(o, "form", path, 1, &v, e);
    if (rc != FS_OK)
        return rc;
    if (!fs_valid_form_id(v))
        return fail(e, FS_EIDENT, "%s.form", path);
    memcpy(s->form_id, v, strlen(v) + 1);
    rc = int_member(o, "form_version", path, 1, 1, &s->form_version, e);
    if (rc != FS_OK)
        return rc;
    rc = str_member(o, "area", path, 0, &v, e);
    if (rc != FS_OK)
        return rc;
    if (v != NULL && v[0] != '\0') {
        if (!fs_valid_area_code(v))
            return fail(e, FS_EIDENT, "%s.area", path);
        memcpy(s->area, v, strlen(v) + 1);
    }
    /* The id is read a second time here: common() takes all four. */
    rc = common(o, path, s->id, s->collector, &s->hlc, &s->created_ms, e);
    if (rc != FS_OK)
        return rc;
    s->rev = 1;
    rc = int_member(o, "rev", path, 0, 1, &s->rev, e);
    if (rc == FS_OK)
        rc = int_member(o, "base_rev", path, 0, 0, &s->base_rev, e);
    if (rc != FS_OK)
        return rc;
    if (s->base_rev >= s->rev)
        return fail(e, FS_EMALFORMED, "%s.base_rev", path);
    answers = cJSON_GetObjectItemCaseSensitive(o, "answers");
    snprintf(apath, sizeof(apath), "%s.answers", path);
    if (!cJSON_IsObject(answers))
        return fail(e, FS_EMALFORMED, "%s", apath);
    rc = field_map(answers, apath, lim, e);
    if (rc != FS_OK)
        return rc;
    s->answers_json = fs__json_print(answers);
    if (s->answers_json == NULL)
        return fail(e, FS_ENOMEM, "out of memory");
    s->answers = cJSON_DetachItemViaPointer(o, answers);
    return FS_OK;
}

/* The envelope of root, then each change. */
static int envelope(cJSON *root, const fs_limits *lim, fs_changeset **out,
                    fs_err *err)
{
    static const char *const versions[] = {"protocol", "schema"};
    static const int ours[] = {FS_PROTOCOL_VERSION, FS_SCHEMA_VERSION};
    const cJSON *arr, *el;
    fs_changeset *cs;
    const char *dev;
    int64_t v, first = 0, last = 0;
    size_t count = 0, i = 0;
    int k;

    if (!cJSON_IsObject(root) || repeats(root, 0))
        return fail(err, FS_EMALFORMED, "changeset");
    for (k = 0; k < 2; k++) {
        if (!int_of(get(root, versions[k]), &v))
            return fail(err, FS_EMALFORMED, "%s", versions[k]);
        if (v != ours[k])
            return fail(err, FS_EVERSION, "%s", versions[k]);
    }
    if (!cJSON_IsString(get(root, "device")))
        return fail(err, FS_EMALFORMED, "device");
    dev = get(root, "device")->valuestring;
    if (!fs_valid_uuid(dev))
        return fail(err, FS_EIDENT, "device");
    if (!int_of(get(root, "first_seq"), &first) || first < 1)
        return fail(err, FS_EMALFORMED, "first_seq");
    if (!int_of(get(root, "last_seq"), &last) || last < first)
        return fail(err, FS_EMALFORMED, "last_seq");
    arr = get(root, "changes");
    if (!cJSON_IsArray(arr))
        return fail(err, FS_EMALFORMED, "changes");
    count = (size_t)cJSON_GetArraySize(arr);
    if (count > lim->max_changes)
        return fail(err, FS_ETOOBIG, "changes");
    if (count == 0 || (uint64_t)(last - first) + 1 != count)
        return fail(err, FS_EMALFORMED, "changes");
    cJSON_ArrayForEach(el, arr)
    {
        int64_t seq;

        if (!cJSON_IsObject(el) || count_of(el, "seq") > 1)
            return fail(err, FS_EMALFORMED, "changes[%zu]", i);
        if (!int_of(get(el, "seq"), &seq) || seq != first + (int64_t)i)
            return fail(err, FS_EMALFORMED, "changes[%zu].seq", i);
        i++;
    }
    cs = fs_changeset_new(count);
    if (cs == NULL)
        return fail(err, FS_ENOMEM, "out of memory");
    memcpy(cs->device, dev, FS_UUID_LEN + 1);
    cs->first_seq = first;
    cs->last_seq = last;
    cJSON_ArrayForEach(el, arr)
    {
        fs_change *c = &cs->changes[cs->n];
        char path[32];
        fs_err e = {0, ""};
        int rc;

        snprintf(path, sizeof(path), "changes[%zu]", cs->n);
        c->seq = first + (int64_t)cs->n++;
        rc = change((cJSON *)el, path, lim, c, &e);
        if (rc == FS_ENOMEM) {
            fs_changeset_free(cs);
            return fail(err, rc, "out of memory");
        }
        if (rc != FS_OK) {
            c->err = rc;
            memcpy(c->errmsg, e.msg, sizeof(c->errmsg));
        }
    }
    *out = cs;
    return FS_OK;
}

int ref_changeset_decode(const void *body, size_t n, int gzipped,
                         const fs_limits *lim, fs_changeset **out, fs_err *err)
{
    fs_limits def;
    fs_buf plain;
    cJSON *root = NULL;
    const char *text = body;
    size_t len = n;
    int rc;

    *out = NULL;
    if (lim == NULL) {
        fs_limits_default(&def);
        lim = &def;
    }
    fs_buf_init(&plain, lim->max_decompressed);
    if (n > lim->max_compressed || (!gzipped && n > lim->max_decompressed)) {
        rc = fail(err, FS_ETOOBIG, "body");
        goto out;
    }
    if (gzipped) {
        rc = fs_gunzip(body, n, lim, &plain, err);
        if (rc != FS_OK)
            goto out;
        text = (const char *)plain.data;
        len = plain.len;
    }
    rc = fs_json_parse(text, len, lim, &root, err);
    if (rc == FS_OK)
        rc = envelope(root, lim, out, err);
out:
    cJSON_Delete(root);
    fs_buf_free(&plain);
    return rc;
}

/* What a message of fs_changeset_decode is about: its first word, the
 * path before ':' (or before ' ' for "protocol version 2 ..."). */
static void path_of(const char *msg, char *out, size_t cap)
{
    size_t n = strcspn(msg, ": ");

    if (n >= cap)
        n = cap - 1;
    memcpy(out, msg, n);
    out[n] = '\0';
}

/* Both NULL, or the same text. */
static int same_text(const char *a, const char *b)
{
    return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static int same_change(const fs_change *a, const fs_change *b)
{
    const fs_submission *x = &a->sub, *y = &b->sub;
    const fs_entity_change *p = &a->ent, *q = &b->ent;
    char path[FS_ERRMSG_MAX];
    size_t i;

    if (a->seq != b->seq || a->err != b->err)
        return 0;
    if (a->err != 0) {
        path_of(a->errmsg, path, sizeof(path));
        return strcmp(path, b->errmsg) == 0;
    }
    if (a->kind != b->kind)
        return 0;
    if (a->kind == FS_CHANGE_SUBMISSION)
        return strcmp(x->id, y->id) == 0 &&
               strcmp(x->form_id, y->form_id) == 0 &&
               x->form_version == y->form_version &&
               strcmp(x->area, y->area) == 0 &&
               strcmp(x->collector, y->collector) == 0 && x->hlc == y->hlc &&
               x->created_ms == y->created_ms && x->rev == y->rev &&
               x->base_rev == y->base_rev &&
               same_text(x->answers_json, y->answers_json) &&
               ref_same_tree(x->answers, y->answers);
    if (p->op != q->op || strcmp(p->type, q->type) != 0 ||
        strcmp(p->id, q->id) != 0 || strcmp(p->collector, q->collector) != 0 ||
        p->hlc != q->hlc || p->created_ms != q->created_ms || p->n != q->n)
        return 0;
    for (i = 0; i < p->n; i++)
        if (strcmp(p->edits[i].field, q->edits[i].field) != 0 ||
            p->edits[i].base != q->edits[i].base ||
            !same_text(p->edits[i].value_json, q->edits[i].value_json))
            return 0;
    return 1;
}

/* 1 when the body holds a run of more than 15 digits (a number, or
 * digits in a string): a double may then be an integer where the text is
 * none exactly (9007199254740993, 1.0000000000000001). The decoder reads
 * integers from their text and refuses those; this reference sees the
 * double only. */
static int precise_number(const void *body, size_t n, int gzipped,
                          const fs_limits *lim)
{
    fs_buf plain;
    fs_err e;
    const char *t = body;
    size_t i, run = 0;
    int found = 0;

    fs_buf_init(&plain, lim != NULL ? lim->max_decompressed : 8 << 20);
    if (gzipped) {
        if (fs_gunzip(body, n, lim, &plain, &e) != FS_OK) {
            fs_buf_free(&plain);
            return 0;
        }
        t = (const char *)plain.data;
        n = plain.len;
    }
    for (i = 0; i < n && !found; i++) {
        if (t[i] >= '0' && t[i] <= '9')
            found = ++run > 15;
        else if (t[i] != '.')
            run = 0;
    }
    fs_buf_free(&plain);
    return found;
}

int ref_changeset_agrees(const void *body, size_t n, int gzipped,
                         const fs_limits *lim, char *why, size_t whylen)
{
    fs_changeset *a = NULL, *b = NULL;
    fs_err ea = {0, ""}, eb = {0, ""};
    char path[FS_ERRMSG_MAX];
    int ra = fs_changeset_decode(body, n, gzipped, lim, &a, NULL, &ea);
    int rb = ref_changeset_decode(body, n, gzipped, lim, &b, &eb);
    int same = ra == rb;
    size_t i;

    if (same && ra != FS_OK) {
        /* The gzip and JSON layers are shared: the very message. */
        path_of(ea.msg, path, sizeof(path));
        same = strcmp(ea.msg, eb.msg) == 0 || strcmp(path, eb.msg) == 0;
    } else if (same) {
        same = strcmp(a->device, b->device) == 0 &&
               a->first_seq == b->first_seq && a->last_seq == b->last_seq &&
               a->n == b->n;
        for (i = 0; same && i < a->n; i++) {
            same = same_change(&a->changes[i], &b->changes[i]);
            if (!same)
                snprintf(why, whylen,
                         "changes[%zu]: decoder %s '%s', reference %s '%s'", i,
                         fs_errname(a->changes[i].err), a->changes[i].errmsg,
                         fs_errname(b->changes[i].err), b->changes[i].errmsg);
        }
    }
    if (!same && (ra != FS_OK || rb != FS_OK || a->n != b->n))
        snprintf(why, whylen, "decoder %s '%s', reference %s '%s'",
                 fs_errname(ra), ea.msg, fs_errname(rb), eb.msg);
    if (!same && precise_number(body, n, gzipped, lim))
        same = 1;
    fs_changeset_free(a);
    fs_changeset_free(b);
    return same;
}
