/*
 * json_reference.c - the way fs_json_parse worked before it had a parser
 * of its own: a linear pre-scan for encoding, nesting, string sizes and
 * the number of values, then cJSON 1.7.15 for the tree. Kept for the
 * differential tests (tests/unit "json parser agrees with cJSON",
 * tests/fuzz/fuzz_json), which hold the parser to the same acceptance
 * and the same trees. Single-threaded: cJSON's parse writes a global.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

/* Every message names the byte it is about, as "at byte N". */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Bytes the \uXXXX escape at s[0..n) (s[0] == 'u') decodes to, counted
 * the way cJSON stores it; 0 for a low surrogate, whose bytes were
 * counted with its high half. -1 when the escape is not four hex digits
 * or is \u0000, which would silently cut a C string short. */
static long escape_len(const unsigned char *s, size_t n)
{
    unsigned v = 0;
    size_t i;

    if (n < 5)
        return -1;
    for (i = 1; i <= 4; i++) {
        int h = hexval(s[i]);

        if (h < 0)
            return -1;
        v = v * 16 + (unsigned)h;
    }
    if (v == 0)
        return -1;
    if (v < 0x80)
        return 1;
    if (v < 0x800)
        return 2;
    if (v >= 0xD800 && v <= 0xDBFF)
        return 4;
    if (v >= 0xDC00 && v <= 0xDFFF)
        return 0;
    return 3;
}

/* The linear pre-scan: one pass, no allocation. */
static int prescan(const unsigned char *s, size_t n, const fs_limits *lim,
                   fs_err *err)
{
    size_t i = 0;
    size_t depth = 0;
    size_t slen = 0;
    size_t values = 1;
    int in_str = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t k = 1;

        if (c >= 0x80) {
            k = fs__utf8_seq(s + i, n - i);
            if (k == 0)
                return fs_err_set(err, FS_EUTF8, "invalid UTF-8 at byte %zu",
                                  i);
            if (in_str)
                slen += k;
        } else if (!in_str) {
            if (c == '"') {
                in_str = 1;
                slen = 0;
            } else if (c == ',' || c == '{' || c == '[') {
                /* Every value but the first follows a comma or opens a
                 * container, so this counts an upper bound of the nodes
                 * cJSON will allocate. */
                if (++values > lim->max_values)
                    return fs_err_set(err, FS_ETOOBIG,
                                      "JSON has more than %zu values at "
                                      "byte %zu",
                                      lim->max_values, i);
                if (c == ',')
                    goto next;
                depth++;
                if (depth > lim->max_depth)
                    return fs_err_set(err, FS_ETOOBIG,
                                      "JSON nests deeper than %u levels "
                                      "at byte %zu",
                                      lim->max_depth, i);
            } else if ((c == '}' || c == ']') && depth > 0) {
                depth--;
            }
        } else if (c == '"') {
            in_str = 0;
        } else if (c == '\\') {
            if (i + 1 >= n)
                return fs_err_set(err, FS_EMALFORMED,
                                  "JSON text ends inside a string at byte %zu",
                                  i);
            if (s[i + 1] == 'u') {
                long e = escape_len(s + i + 1, n - i - 1);

                if (e < 0)
                    return fs_err_set(err, FS_EMALFORMED,
                                      "bad or NUL \\u escape at byte %zu", i);
                slen += (size_t)e;
                k = 6;
            } else {
                slen += 1;
                k = 2;
            }
        } else if (c < 0x20) {
            return fs_err_set(err, FS_EMALFORMED,
                              "unescaped control character in a JSON "
                              "string at byte %zu",
                              i);
        } else {
            slen += 1;
        }
    next:
        if (in_str && slen > lim->max_string)
            return fs_err_set(err, FS_ETOOBIG,
                              "JSON string longer than %zu bytes at byte "
                              "%zu",
                              lim->max_string, i);
        i += k;
    }
    return FS_OK;
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int ref_json_parse(const char *text, size_t n, const fs_limits *lim,
                   cJSON **out, fs_err *err)
{
    const unsigned char *s = (const unsigned char *)text;
    const char *end = NULL;
    fs_limits def;
    cJSON *root;
    size_t pos;
    int rc;

    *out = NULL;
    if (lim == NULL) {
        fs_limits_default(&def);
        lim = &def;
    }
    if (n == 0)
        return fs_err_set(err, FS_EMALFORMED, "empty JSON text");
    rc = prescan(s, n, lim, err);
    if (rc != FS_OK)
        return rc;
    root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (root == NULL) {
        pos = end != NULL && end >= text ? (size_t)(end - text) : 0;
        return fs_err_set(err, FS_EMALFORMED, "JSON syntax error at byte %zu",
                          pos);
    }
    pos = end != NULL && end >= text ? (size_t)(end - text) : n;
    while (pos < n && is_ws(s[pos]))
        pos++;
    if (pos < n) {
        cJSON_Delete(root);
        return fs_err_set(err, FS_EMALFORMED,
                          "trailing data after JSON at byte %zu", pos);
    }
    *out = root;
    return FS_OK;
}

/* Same type, value bits, strings and links, member by member. */
int ref_same_tree(const cJSON *a, const cJSON *b)
{
    const cJSON *x, *y;

    if (a == NULL || b == NULL)
        return a == b;
    if (a->type != b->type || a->valueint != b->valueint ||
        memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) != 0 ||
        (a->valuestring == NULL) != (b->valuestring == NULL) ||
        (a->string == NULL) != (b->string == NULL) ||
        (a->valuestring && strcmp(a->valuestring, b->valuestring) != 0) ||
        (a->string && strcmp(a->string, b->string) != 0) ||
        (a->child == NULL) != (b->child == NULL))
        return 0;
    for (x = a->child, y = b->child; x != NULL || y != NULL;
         x = x->next, y = y->next) {
        if (x == NULL || y == NULL || !ref_same_tree(x, y))
            return 0;
        /* The first member's prev is the last one, as cJSON links them;
         * every other's is the one before. */
        if ((x == a->child) != (y == b->child) ||
            (x->next == NULL) != (y->next == NULL) ||
            (x == a->child ? x->prev->next != NULL : x->prev->next != x) ||
            (y == b->child ? y->prev->next != NULL : y->prev->next != y))
            return 0;
    }
    return 1;
}

/* The N of "at byte N" in msg, or -1. */
static long long err_byte(const char *msg)
{
    const char *at = strstr(msg, "at byte ");
    char *end;
    long long v;

    if (at == NULL)
        return -1;
    v = strtoll(at + 8, &end, 10);
    return end == at + 8 ? -1 : v;
}

static int refusals_agree(const fs_err *got, const fs_err *ref)
{
    long long g = err_byte(got->msg), r = err_byte(ref->msg);

    if (strcmp(got->msg, ref->msg) == 0)
        return 1;
    if (got->code != FS_EMALFORMED)
        return got->code == ref->code && g >= 0 && g == r;
    /* cJSON's own syntax errors name a byte of its own choosing. */
    if (ref->code == FS_EMALFORMED &&
        strncmp(ref->msg, "JSON syntax error", 17) == 0)
        return 1;
    return g >= 0 && r >= 0 && g <= r;
}

int ref_json_agrees(const char *text, size_t n, const fs_limits *lim, char *why,
                    size_t whylen)
{
    cJSON *a = NULL, *b = NULL;
    fs_err ea = {0, ""}, eb = {0, ""};
    int ra = fs_json_parse(text, n, lim, &a, &ea);
    int rb = ref_json_parse(text, n, lim, &b, &eb);
    int same;

    if (ra == FS_OK && rb == FS_OK)
        same = ref_same_tree(a, b);
    else if (ra != FS_OK && rb != FS_OK)
        same = refusals_agree(&ea, &eb);
    else
        same = 0;
    if (!same)
        snprintf(why, whylen, "parser %s '%s', reference %s '%s'",
                 fs_errname(ra), ra == FS_OK ? "" : ea.msg, fs_errname(rb),
                 rb == FS_OK ? "" : eb.msg);
    cJSON_Delete(a);
    cJSON_Delete(b);
    return same;
}
