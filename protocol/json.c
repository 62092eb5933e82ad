/*
 * json.c - UTF-8 checking and JSON parsing of untrusted text.
 *
 * cJSON itself has no limits we can set per call, so a linear pre-scan
 * checks encoding, nesting and string sizes before cJSON allocates
 * anything; only text that passes is handed to cJSON.
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"

size_t fs__utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c;

    if (n == 0)
        return 0;
    c = s[0];
    if (c < 0x80)
        return 1;
    /* Table 3-7 of the Unicode standard: the second byte's range depends
     * on the first, which is what rules out overlongs (C0, C1, E0 80..9F,
     * F0 80..8F), surrogates (ED A0..BF) and > U+10FFFF (F4 90.., F5..). */
    if (c >= 0xC2 && c <= 0xDF) {
        if (n < 2 || (s[1] & 0xC0) != 0x80)
            return 0;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
        unsigned char hi = c == 0xED ? 0x9F : 0xBF;

        if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;

        if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 ||
            (s[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

int fs_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (s == NULL)
        return n == 0;
    while (i < n) {
        size_t k = fs__utf8_seq(p + i, n - i);

        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

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
                                      "JSON has more than %zu values",
                                      lim->max_values);
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
                                  "JSON text ends inside a string");
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

/* cJSON resets a process-wide error pointer on every parse; serialise the
 * calls so a threaded hub has no data race there. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

int fs_json_parse(const char *text, size_t n, const fs_limits *lim, cJSON **out,
                  fs_err *err)
{
    const unsigned char *s = (const unsigned char *)text;
    const char *end = NULL;
    fs_limits def;
    cJSON *root;
    size_t pos;
    int rc;

    if (out == NULL || (text == NULL && n > 0))
        return fs_err_set(err, FS_EINVAL, "json: bad arguments");
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

    pthread_mutex_lock(&parse_lock);
    root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    pthread_mutex_unlock(&parse_lock);
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

int fs__json_int(const cJSON *obj, const char *key, int64_t *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    double d;

    if (it == NULL)
        return FS__FIELD_MISSING;
    if (!cJSON_IsNumber(it))
        return FS__FIELD_WRONG;
    d = it->valuedouble;
    /* Range first: converting an out-of-range double is undefined. The
     * comparisons are false for NaN too. */
    if (!(d >= -FS__JSON_INT_MAX && d <= FS__JSON_INT_MAX))
        return FS__FIELD_WRONG;
    if ((double)(int64_t)d != d)
        return FS__FIELD_WRONG;
    *out = (int64_t)d;
    return FS__FIELD_OK;
}

int fs__json_str(const cJSON *obj, const char *key, const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (it == NULL)
        return FS__FIELD_MISSING;
    if (!cJSON_IsString(it) || it->valuestring == NULL)
        return FS__FIELD_WRONG;
    *out = it->valuestring;
    return FS__FIELD_OK;
}

/* ---- canonical printing ------------------------------------------------
 *
 * The text of answers is what the hub stores and hashes, so it must be
 * exactly cJSON_PrintUnformatted's, byte for byte, now and for submissions
 * stored by earlier hubs. cJSON prints every number with "%1.15g" and
 * then parses it back with sscanf to check it; that was a sixth of the
 * hub's decoding time. This printer writes the same text, taking a short
 * cut only where the result is provably the same (canon_number says
 * why). Everything else follows cJSON's steps. tests/unit checks the two
 * agree. */

typedef struct cbuf {
    char *p;
    size_t len, cap;
} cbuf;

static int cb_put(cbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (b->len + n + 1 > cap)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL)
            return FS_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return FS_OK;
}

/* cJSON's compare_double. */
static int same_double(double a, double b)
{
    double fa = fabs(a), fb = fabs(b);
    double max = fa > fb ? fa : fb;

    return fabs(a - b) <= max * DBL_EPSILON;
}

/* Writes the decimal digits of v at the end of out[0..end) and returns
 * where they start. */
static char *digits_before(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return end;
}

/* Powers of ten a double holds exactly (up to 10^22). */
static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The "%1.15g" text of a fraction 1e-4 <= |d| < 1e15 that is the double
 * nearest to a decimal D = m / 10^k with m < 10^15, i.e. to a decimal of
 * at most 15 significant digits, as survey answers such as 52.38189
 * are. Such a D is what "%1.15g" prints for d (15 digits always survive
 * a round trip through a double, DBL_DIG), reading it back gives d, so
 * cJSON keeps that text; and 1e-4 <= |D| < 1e15 makes it the plain form
 * (no exponent) without trailing zeros. m / 10^k with both exact is one
 * correctly rounded division, so comparing it with d proves D's double
 * is d. Returns the length written into out (32 bytes), 0 when d is not
 * such a number. */
static size_t short_fraction(double d, char *out)
{
    double a = fabs(d);
    char digits[24], *p, *end = digits + sizeof(digits);
    size_t k, len, i, n = 0;
    double m = 0;

    for (k = 1; k < sizeof(pow10_exact) / sizeof(pow10_exact[0]); k++) {
        m = floor(a * pow10_exact[k] + 0.5);
        if (m >= 1e15)
            return 0;
        if (m / pow10_exact[k] == a)
            break;
    }
    if (k == sizeof(pow10_exact) / sizeof(pow10_exact[0]))
        return 0;
    p = digits_before(end, (uint64_t)m);
    len = (size_t)(end - p);
    /* The least k leaves m no trailing zero (m / 10 would have matched
     * one k earlier); this only guards that reasoning. */
    while (len > 1 && p[len - 1] == '0' && k > 0) {
        len--;
        k--;
    }
    if (d < 0)
        out[n++] = '-';
    if (len <= k) {
        out[n++] = '0';
        out[n++] = '.';
        for (i = len; i < k; i++)
            out[n++] = '0';
        memcpy(out + n, p, len);
        return n + len;
    }
    memcpy(out + n, p, len - k);
    n += len - k;
    out[n++] = '.';
    memcpy(out + n, p + len - k, k);
    return n + k;
}

static int canon_number(cbuf *b, double d)
{
    char num[32];
    double test = 0.0;
    int n;

    if (isnan(d) || isinf(d))
        return cb_put(b, "null", 4);
    /* A whole number below 1e15 (not -0) prints under "%1.15g" as its
     * plain digits. */
    if (d == floor(d) && fabs(d) < 1e15 && !(d == 0 && signbit(d))) {
        char *end = num + sizeof(num), *p;

        p = digits_before(end, (uint64_t)fabs(d));
        if (d < 0)
            *--p = '-';
        return cb_put(b, p, (size_t)(end - p));
    }
    if (fabs(d) >= 1e-4 && fabs(d) < 1e15) {
        size_t len = short_fraction(d, num);

        if (len > 0)
            return cb_put(b, num, len);
    }
    n = snprintf(num, sizeof(num), "%1.15g", d);
    if (sscanf(num, "%lg", &test) != 1 || !same_double(test, d))
        n = snprintf(num, sizeof(num), "%1.17g", d);
    if (n < 0 || (size_t)n >= sizeof(num))
        return FS_EINVAL;
    /* cJSON writes '.' whatever the locale's decimal point. */
    {
        char dp = localeconv()->decimal_point[0];
        int i;

        for (i = 0; i < n && dp != '.'; i++)
            if (num[i] == dp)
                num[i] = '.';
    }
    return cb_put(b, num, (size_t)n);
}

static int canon_string(cbuf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t run = 0;
    int rc = cb_put(b, "\"", 1);

    for (; rc == FS_OK; p++) {
        char esc[8];
        const char *e = NULL;

        if (*p > 31 && *p != '"' && *p != '\\') {
            run++;
            continue;
        }
        /* Flush the plain bytes before this one. */
        rc = cb_put(b, (const char *)p - run, run);
        run = 0;
        if (rc != FS_OK || *p == '\0')
            break;
        switch (*p) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)*p);
            e = esc;
        }
        rc = cb_put(b, e, strlen(e));
    }
    return rc == FS_OK ? cb_put(b, "\"", 1) : rc;
}

static int canon_value(cbuf *b, const cJSON *it)
{
    const cJSON *c;
    int rc = FS_OK;

    switch (it->type & 0xFF) {
    case cJSON_NULL:
        return cb_put(b, "null", 4);
    case cJSON_False:
        return cb_put(b, "false", 5);
    case cJSON_True:
        return cb_put(b, "true", 4);
    case cJSON_Number:
        return canon_number(b, it->valuedouble);
    case cJSON_String:
        return canon_string(b, it->valuestring);
    case cJSON_Raw:
        if (it->valuestring == NULL)
            return FS_EINVAL;
        return cb_put(b, it->valuestring, strlen(it->valuestring));
    case cJSON_Array:
    case cJSON_Object:
        rc = cb_put(b, (it->type & 0xFF) == cJSON_Array ? "[" : "{", 1);
        for (c = it->child; c != NULL && rc == FS_OK; c = c->next) {
            if ((it->type & 0xFF) == cJSON_Object) {
                rc = canon_string(b, c->string);
                if (rc == FS_OK)
                    rc = cb_put(b, ":", 1);
            }
            if (rc == FS_OK)
                rc = canon_value(b, c);
            if (rc == FS_OK && c->next != NULL)
                rc = cb_put(b, ",", 1);
        }
        if (rc == FS_OK)
            rc = cb_put(b, (it->type & 0xFF) == cJSON_Array ? "]" : "}", 1);
        return rc;
    }
    return FS_EINVAL;
}

char *fs__json_print(const cJSON *item)
{
    cbuf b = {NULL, 0, 0};

    if (item == NULL || canon_value(&b, item) != FS_OK) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int fs__json_add_int(cJSON *obj, const char *key, int64_t v)
{
    if (v < -(int64_t)FS__JSON_INT_MAX || v > (int64_t)FS__JSON_INT_MAX)
        return FS_EINVAL;
    if (cJSON_AddNumberToObject(obj, key, (double)v) == NULL)
        return FS_ENOMEM;
    return FS_OK;
}
