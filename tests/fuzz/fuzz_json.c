/*
 * fuzz_json.c - libFuzzer target for fs_json_parse, the gate every byte
 * of untrusted JSON passes before cJSON sees it.
 *
 * Input: two limit bytes, then the JSON text. When bit 7 of the first
 * byte is set the default limits apply; otherwise the two bytes pick
 * small ones (depth 1..16, strings of 0..255 bytes, 1..128 values) so the
 * edges of each limit are reached quickly. The parser promises that
 * what it lets through stays within the limits once built; this target
 * checks that promise on the tree itself, independently of the parser:
 *   - the text is valid UTF-8;
 *   - no container nests deeper than max_depth;
 *   - no key or string value is longer than max_string bytes;
 *   - the tree has no more than max_values nodes;
 *   - printing the tree gives text that parses under the same limits
 *     and prints back to the same bytes;
 *   - the parser agrees with the way fieldsync parsed before it had its
 *     own, a pre-scan and cJSON (tests/reference): the same texts taken,
 *     the same trees to the bit and link, refusals with the same code
 *     at the same byte or a syntax error no later than it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "fs_protocol.h"
#include "fuzz.h"
#include "reference.h"

/* Walks the tree, checking string sizes and depth, counting nodes. */
static void walk(const cJSON *it, unsigned depth, const fs_limits *lim,
                 size_t *nodes)
{
    const cJSON *c;

    (*nodes)++;
    if (it->string != NULL)
        REQUIRE(strlen(it->string) <= lim->max_string);
    if (cJSON_IsString(it)) {
        REQUIRE(it->valuestring != NULL);
        REQUIRE(strlen(it->valuestring) <= lim->max_string);
        REQUIRE(fs_utf8_valid(it->valuestring, strlen(it->valuestring)));
    }
    if (!cJSON_IsArray(it) && !cJSON_IsObject(it))
        return;
    REQUIRE(depth + 1 <= lim->max_depth);
    cJSON_ArrayForEach(c, it)
    {
        walk(c, depth + 1, lim, nodes);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = NULL, *again = NULL;
    char *text = NULL, *text2 = NULL;
    fs_limits lim;
    fs_err err = {0, ""};
    size_t nodes = 0;
    int rc;

    if (size < 2)
        return 0;
    fs_limits_default(&lim);
    if ((data[0] & 0x80) == 0) {
        lim.max_depth = 1 + (data[0] & 15);
        lim.max_string = data[1];
        lim.max_values =
            1 + (size_t)(((data[0] >> 4) & 7) * 16 + (data[1] & 15));
    }
    data += 2;
    size -= 2;
    {
        char why[600];

        if (!ref_json_agrees((const char *)data, size, &lim, why,
                             sizeof(why))) {
            fprintf(stderr, "%s\n", why);
            abort();
        }
    }
    rc = fs_json_parse((const char *)data, size, &lim, &root, &err);
    if (rc != FS_OK) {
        REQUIRE(root == NULL && err.code == rc);
        REQUIRE(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        return 0;
    }
    REQUIRE(root != NULL);
    REQUIRE(fs_utf8_valid((const char *)data, size));
    walk(root, 0, &lim, &nodes);
    REQUIRE(nodes <= lim.max_values);

    text = cJSON_PrintUnformatted(root);
    REQUIRE(text != NULL);
    rc = fs_json_parse(text, strlen(text), &lim, &again, &err);
    if (rc != FS_OK)
        fprintf(stderr, "re-parse of '%s': %s\n", text, err.msg);
    REQUIRE(rc == FS_OK);
    text2 = cJSON_PrintUnformatted(again);
    REQUIRE(text2 != NULL && strcmp(text, text2) == 0);

    cJSON_free(text2);
    cJSON_free(text);
    cJSON_Delete(again);
    cJSON_Delete(root);
    return 0;
}
