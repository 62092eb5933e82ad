/*
 * fuzz_push_reply.c - libFuzzer target for fs_push_reply_decode, which an
 * agent runs on whatever the server at its hub URL sends back.
 *
 * Input: the reply body. A reply that decodes must hold exactly one
 * result per sequence number in first_seq..last_seq, each with a known
 * status and NUL-terminated, valid-UTF-8 error and message strings; it
 * must re-encode, and the encoding must decode to the same results and
 * encode again to the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_protocol.h"
#include "fuzz.h"

static int text_ok(const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap);

    return nul != NULL && fs_utf8_valid(s, (size_t)(nul - s));
}

static void check_decoded(const fs_push_reply *r, const fs_limits *lim)
{
    size_t i;

    REQUIRE(r->first_seq >= 1 && r->last_seq >= r->first_seq);
    REQUIRE(r->acked_seq >= 0);
    REQUIRE(r->n >= 1 && r->n <= lim->max_changes);
    REQUIRE(r->last_seq - r->first_seq + 1 == (int64_t)r->n);
    for (i = 0; i < r->n; i++) {
        const fs_result *res = &r->results[i];

        REQUIRE(res->seq == r->first_seq + (int64_t)i);
        REQUIRE(res->status >= FS_RES_APPLIED && res->status <= FS_RES_REFUSED);
        REQUIRE(text_ok(res->error, sizeof(res->error)));
        REQUIRE(text_ok(res->message, sizeof(res->message)));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fs_push_reply *r = NULL, *back = NULL;
    char *text = NULL, *again = NULL;
    fs_limits lim;
    fs_err err = {0, ""};
    size_t i;
    int rc;

    fs_limits_default(&lim);
    rc = fs_push_reply_decode((const char *)data, size, &lim, &r, &err);
    if (rc != FS_OK) {
        REQUIRE(r == NULL && err.code == rc);
        REQUIRE(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        return 0;
    }
    REQUIRE(r != NULL);
    check_decoded(r, &lim);

    text = fs_push_reply_encode(r);
    REQUIRE(text != NULL);
    rc = fs_push_reply_decode(text, strlen(text), &lim, &back, &err);
    if (rc != FS_OK)
        fprintf(stderr, "re-decode: %s\n", err.msg);
    REQUIRE(rc == FS_OK);
    REQUIRE(back->first_seq == r->first_seq && back->last_seq == r->last_seq);
    REQUIRE(back->acked_seq == r->acked_seq && back->n == r->n);
    for (i = 0; i < r->n; i++) {
        REQUIRE(back->results[i].seq == r->results[i].seq);
        REQUIRE(back->results[i].status == r->results[i].status);
        REQUIRE(strcmp(back->results[i].error, r->results[i].error) == 0);
        REQUIRE(strcmp(back->results[i].message, r->results[i].message) == 0);
    }
    again = fs_push_reply_encode(back);
    REQUIRE(again != NULL && strcmp(again, text) == 0);

    free(again);
    free(text);
    fs_push_reply_free(back);
    fs_push_reply_free(r);
    return 0;
}
