/*
 * reply.c - push replies (hub -> agent): one result per change sent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"

const char *fs_result_status_name(fs_result_status s)
{
    switch (s) {
    case FS_RES_APPLIED:
        return "applied";
    case FS_RES_DUPLICATE:
        return "duplicate";
    case FS_RES_DIVERGENT:
        return "divergent";
    case FS_RES_REFUSED:
        return "refused";
    }
    return "unknown";
}

static int status_from_name(const char *name, fs_result_status *out)
{
    fs_result_status s;

    for (s = FS_RES_APPLIED; s <= FS_RES_REFUSED; s++) {
        if (strcmp(name, fs_result_status_name(s)) == 0) {
            *out = s;
            return FS_OK;
        }
    }
    return FS_EMALFORMED;
}

static int result_to_json(const fs_result *res, cJSON *arr)
{
    cJSON *o;
    int rc;

    if (res->status < FS_RES_APPLIED || res->status > FS_RES_REFUSED)
        return FS_EINVAL;
    o = cJSON_CreateObject();
    if (o == NULL)
        return FS_ENOMEM;
    if (!cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return FS_ENOMEM;
    }
    rc = fs__json_add_int(o, "seq", res->seq);
    if (rc == FS_OK && !cJSON_AddStringToObject(
                           o, "status", fs_result_status_name(res->status)))
        rc = FS_ENOMEM;
    if (rc == FS_OK && res->error[0] != '\0' &&
        !cJSON_AddStringToObject(o, "error", res->error))
        rc = FS_ENOMEM;
    if (rc == FS_OK && res->message[0] != '\0' &&
        !cJSON_AddStringToObject(o, "message", res->message))
        rc = FS_ENOMEM;
    return rc;
}

char *fs_push_reply_encode(const fs_push_reply *r)
{
    cJSON *root = NULL;
    cJSON *arr;
    char *text = NULL;
    size_t i;
    int rc;

    if (r == NULL || (r->n > 0 && r->results == NULL))
        return NULL;
    root = cJSON_CreateObject();
    if (root == NULL)
        return NULL;
    rc = fs__json_add_int(root, "first_seq", r->first_seq);
    if (rc == FS_OK)
        rc = fs__json_add_int(root, "last_seq", r->last_seq);
    if (rc == FS_OK)
        rc = fs__json_add_int(root, "acked_seq", r->acked_seq);
    if (rc != FS_OK)
        goto out;
    arr = cJSON_AddArrayToObject(root, "results");
    if (arr == NULL)
        goto out;
    for (i = 0; i < r->n; i++) {
        rc = result_to_json(&r->results[i], arr);
        if (rc != FS_OK)
            goto out;
    }
    text = fs__json_print(root);
out:
    cJSON_Delete(root);
    return text;
}

void fs_push_reply_free(fs_push_reply *r)
{
    if (r == NULL)
        return;
    free(r->results);
    free(r);
}

/* An integer of the reply, read from its digits (the text nums noted
 * for it, looked for from *from on), never from the double they round
 * to; *num is that text. FS__FIELD_* as fs__json_exact_int. */
static int reply_int(const cJSON *it, const fs__jnums *nums, size_t *from,
                     int64_t *v, const fs__jnum **num)
{
    if (it == NULL)
        return FS__FIELD_MISSING;
    *num = fs__jnums_find(nums, from, it);
    if (*num == NULL)
        return FS__FIELD_WRONG;
    return fs__json_exact_int((*num)->text, (*num)->len, v);
}

static int want_int(const cJSON *o, const char *key, int64_t min, int64_t *v,
                    const fs__jnums *nums, fs_err *err)
{
    const fs__jnum *num = NULL;
    size_t from = 0;
    int r = reply_int(cJSON_GetObjectItemCaseSensitive(o, key), nums, &from, v,
                      &num);

    if (r == FS__FIELD_MISSING)
        return fs_err_set(err, FS_EMALFORMED, "%s: missing", key);
    if (r == FS__FIELD_RANGE)
        return fs__err_beyond(err, key, num->text, num->len);
    if (r != FS__FIELD_OK || *v < min)
        return fs_err_set(err, FS_EMALFORMED,
                          "%s: must be an integer >= %" PRId64, key, min);
    return FS_OK;
}

/* One element of "results"; idx names it in messages. */
static int decode_result(const cJSON *o, size_t idx, int64_t want,
                         const fs__jnums *nums, size_t *from, fs_result *res,
                         fs_err *err)
{
    const fs__jnum *num = NULL;
    const char *v;
    char snip[40], path[40];
    int r;

    if (!cJSON_IsObject(o))
        return fs_err_set(err, FS_EMALFORMED, "results[%zu]: must be an object",
                          idx);
    r = reply_int(cJSON_GetObjectItemCaseSensitive(o, "seq"), nums, from,
                  &res->seq, &num);
    if (r == FS__FIELD_RANGE) {
        snprintf(path, sizeof(path), "results[%zu].seq", idx);
        return fs__err_beyond(err, path, num->text, num->len);
    }
    if (r != FS__FIELD_OK)
        return fs_err_set(err, FS_EMALFORMED,
                          "results[%zu].seq: must be an integer", idx);
    if (res->seq != want)
        return fs_err_set(err, FS_EMALFORMED,
                          "results[%zu].seq: expected %" PRId64
                          ", got %" PRId64,
                          idx, want, res->seq);
    r = fs__json_str(o, "status", &v);
    if (r != FS__FIELD_OK)
        return fs_err_set(err, FS_EMALFORMED,
                          "results[%zu].status: must be a string", idx);
    if (status_from_name(v, &res->status) != FS_OK) {
        fs__snippet(v, snip, sizeof(snip));
        return fs_err_set(err, FS_EMALFORMED,
                          "results[%zu].status: unknown status '%s'", idx,
                          snip);
    }
    r = fs__json_str(o, "error", &v);
    if (r == FS__FIELD_WRONG)
        return fs_err_set(err, FS_EMALFORMED,
                          "results[%zu].error: must be a string", idx);
    if (r == FS__FIELD_OK) {
        /* A cut error code would be a different code: refuse instead. */
        if (strlen(v) >= sizeof(res->error))
            return fs_err_set(err, FS_EMALFORMED,
                              "results[%zu].error: longer than %zu bytes", idx,
                              sizeof(res->error) - 1);
        fs__snippet(v, res->error, sizeof(res->error));
    }
    r = fs__json_str(o, "message", &v);
    if (r == FS__FIELD_WRONG)
        return fs_err_set(err, FS_EMALFORMED,
                          "results[%zu].message: must be a string", idx);
    /* Messages are for people: a long one is shortened, not refused. */
    if (r == FS__FIELD_OK)
        fs__snippet(v, res->message, sizeof(res->message));
    return FS_OK;
}

int fs_push_reply_decode(const char *text, size_t n, const fs_limits *lim,
                         fs_push_reply **out, fs_err *err)
{
    fs_push_reply *r = NULL;
    cJSON *root = NULL;
    const cJSON *arr, *el;
    fs__jnums nums = {NULL, 0, 0};
    fs_limits def;
    size_t count = 0, i = 0, from = 0;
    int rc;

    if (out == NULL || (text == NULL && n > 0))
        return fs_err_set(err, FS_EINVAL, "reply: bad arguments");
    *out = NULL;
    if (lim == NULL) {
        fs_limits_default(&def);
        lim = &def;
    }
    if (n > lim->max_decompressed)
        return fs_err_set(err, FS_ETOOBIG,
                          "reply of %zu bytes is over the %zu-byte limit", n,
                          lim->max_decompressed);
    rc = fs__json_parse_noting(text, n, lim, &root, &nums, err);
    if (rc != FS_OK)
        goto out;
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        rc = fs_err_set(err, FS_ENOMEM, "out of memory");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = fs_err_set(err, FS_EMALFORMED, "reply: must be a JSON object");
        goto out;
    }
    rc = want_int(root, "first_seq", 1, &r->first_seq, &nums, err);
    if (rc == FS_OK)
        rc = want_int(root, "last_seq", r->first_seq, &r->last_seq, &nums, err);
    if (rc == FS_OK)
        rc = want_int(root, "acked_seq", 0, &r->acked_seq, &nums, err);
    if (rc != FS_OK)
        goto out;
    arr = cJSON_GetObjectItemCaseSensitive(root, "results");
    if (!cJSON_IsArray(arr)) {
        rc = fs_err_set(err, FS_EMALFORMED, "results: missing or not an array");
        goto out;
    }
    cJSON_ArrayForEach(el, arr)
    {
        if (count >= lim->max_changes) {
            rc = fs_err_set(err, FS_ETOOBIG, "results: more than %zu results",
                            lim->max_changes);
            goto out;
        }
        count++;
    }
    if ((uint64_t)(r->last_seq - r->first_seq) + 1 != count) {
        rc = fs_err_set(err, FS_EMALFORMED,
                        "results: %zu results for first_seq..last_seq "
                        "(%" PRId64 "..%" PRId64 ")",
                        count, r->first_seq, r->last_seq);
        goto out;
    }
    r->results = calloc(count, sizeof(*r->results));
    if (r->results == NULL) {
        rc = fs_err_set(err, FS_ENOMEM, "out of memory");
        goto out;
    }
    cJSON_ArrayForEach(el, arr)
    {
        rc = decode_result(el, i, r->first_seq + (int64_t)i, &nums, &from,
                           &r->results[i], err);
        if (rc != FS_OK)
            goto out;
        i++;
    }
    r->n = count;
    *out = r;
    r = NULL;
out:
    fs_push_reply_free(r);
    cJSON_Delete(root);
    free(nums.v);
    return rc;
}
