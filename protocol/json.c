/*
 * json.c - UTF-8 checking and JSON parsing of untrusted text.
 *
 * cJSON itself has no limits we can set per call, so a linear pre-scan
 * checks encoding, nesting and string sizes before cJSON allocates
 * anything; only text that passes is handed to cJSON. Plain JSON, which
 * is nearly all the hub reads, takes a faster road to the same tree: a
 * one-pass parser that checks the same limits before each allocation
 * (see "the one-pass parser" below).
 */
#include <float.h>
#include <limits.h>
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

/* Powers of ten a double holds exactly (up to 10^22). */
static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ---- the one-pass parser ----------------------------------------------
 *
 * Nearly all text the hub reads is plain JSON printed by our own agents.
 * Scanning it for the limits and then handing it to cJSON walked it
 * twice and sent every number through strtod; this parser does both in
 * one pass and builds the very tree cJSON would (same node types,
 * values, strings, links; nodes and strings from cJSON_malloc, so
 * cJSON_Delete frees them, or from the cursor's arena). It takes only a strict subset - white space
 * of the four JSON kinds, simple escapes, numbers in JSON's grammar of
 * at most 63 bytes - inside the same limits, checked before each
 * allocation. Anything else (errors, limits, \u escapes, cJSON's
 * leniencies) makes it give up, and the text takes the old way: the
 * pre-scan and cJSON, which produce the messages. So the outcome for
 * any text is the old one; tests/fuzz/fuzz_json checks that. */

/* A byte a string's plain run goes on over: not '"', '\\', a control or
 * non-ASCII. */
static int str_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

void fs__jcur_ws(fs__jcur *o)
{
    while (o->p < o->end &&
           (*o->p == ' ' || *o->p == '\n' || *o->p == '\r' || *o->p == '\t'))
        o->p++;
}

/* The byte a simple escape stands for, 0 for any other escape. */
static char simple_escape(unsigned char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
        return (char)c;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return 0;
    }
}

/* Scans the string at o->p (a '"') without moving: *len receives its
 * unescaped length, *close the closing quote. 0, or -1 to give up. */
static int scan_string(const fs__jcur *o, size_t *len,
                       const unsigned char **close)
{
    const unsigned char *s = o->p + 1, *q = s;
    size_t esc = 0, k;

    for (;;) {
        while (q < o->end && str_plain(*q))
            q++;
        if (q >= o->end || *q < 0x20)
            return -1;
        if (*q == '"')
            break;
        if (*q == '\\') {
            if (q + 1 >= o->end || simple_escape(q[1]) == 0)
                return -1;
            esc++;
            q += 2;
            continue;
        }
        k = fs__utf8_seq(q, (size_t)(o->end - q));
        if (k == 0)
            return -1;
        q += k;
    }
    *len = (size_t)(q - s) - esc;
    *close = q;
    return *len > o->lim->max_string ? -1 : 0;
}

/* Writes the string scanned above into out (len + 1 bytes) and moves
 * past it. */
static void copy_string(fs__jcur *o, const unsigned char *close, char *out,
                        size_t len)
{
    const unsigned char *r, *s = o->p + 1;
    char *w;

    if ((size_t)(close - s) == len) {
        memcpy(out, s, len);
    } else {
        for (r = s, w = out; r < close; r++)
            *w++ = *r == '\\' ? simple_escape(*++r) : (char)*r;
    }
    out[len] = '\0';
    o->p = close + 1;
}

void *fs__jcur_alloc(fs__jcur *o, size_t n)
{
    return o->arena != NULL ? fs__arena_alloc(o->arena, n) : cJSON_malloc(n);
}

char *fs__jcur_string(fs__jcur *o)
{
    const unsigned char *close;
    size_t len;
    char *out;

    if (scan_string(o, &len, &close) != 0)
        return NULL;
    out = fs__jcur_alloc(o, len + 1);
    if (out != NULL)
        copy_string(o, close, out, len);
    return out;
}

int fs__jcur_string_to(fs__jcur *o, char *buf, size_t cap)
{
    const unsigned char *close;
    size_t len;

    if (scan_string(o, &len, &close) != 0 || len >= cap)
        return -1;
    copy_string(o, close, buf, len);
    return 0;
}

static int is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* A number in JSON's grammar at o->p, valued as cJSON values it: strtod
 * of the text. Up to 15 digits without an exponent need no strtod: the
 * digits are an exact integer, and one division by an exact power of
 * ten is correctly rounded, as strtod is. 0, or -1 to give up. */
int fs__jcur_number(fs__jcur *o, cJSON *it)
{
    const unsigned char *q = o->p, *end = o->end;
    uint64_t w = 0;
    size_t digits = 0, frac = 0;
    int neg = 0, expo = 0;
    double d;

    if (*q == '-') {
        neg = 1;
        q++;
    }
    if (!is_digit(q, end))
        return -1;
    if (*q == '0') {
        q++;
        digits++;
    } else {
        for (; is_digit(q, end); q++, digits++)
            w = digits < 16 ? w * 10 + (uint64_t)(*q - '0') : w;
    }
    if (q < end && *q == '.') {
        if (!is_digit(++q, end))
            return -1;
        for (; is_digit(q, end); q++, digits++, frac++)
            w = digits < 16 ? w * 10 + (uint64_t)(*q - '0') : w;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        expo = 1;
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if (!is_digit(q, end))
            return -1;
        while (is_digit(q, end))
            q++;
    }
    /* cJSON reads on through any of these (and stops at 63 bytes). */
    if (q < end && (is_digit(q, end) || *q == '+' || *q == '-' || *q == '.' ||
                    *q == 'e' || *q == 'E'))
        return -1;
    if (q - o->p > 63)
        return -1;
    if (!expo && digits <= 15) {
        d = frac > 0 ? (double)w / pow10_exact[frac] : (double)w;
        d = neg ? -d : d;
    } else {
        /* cJSON's way: the text with the locale's decimal point. */
        char num[64], *after = NULL;
        char dp = localeconv()->decimal_point[0];
        size_t n = (size_t)(q - o->p), i;

        for (i = 0; i < n; i++)
            num[i] = o->p[i] == '.' ? dp : (char)o->p[i];
        num[n] = '\0';
        d = strtod(num, &after);
        if (after != num + n)
            return -1;
    }
    it->type = cJSON_Number;
    it->valuedouble = d;
    /* cJSON's saturation. */
    if (d >= INT_MAX)
        it->valueint = INT_MAX;
    else if (d <= (double)INT_MIN)
        it->valueint = INT_MIN;
    else
        it->valueint = (int)d;
    o->p = q;
    return 0;
}

/* An object or array at o->p: members linked in as cJSON links them (the
 * first one's prev is the last), each before its value is read so that
 * deleting it frees whatever was built when this gives up. */
int fs__jcur_open(fs__jcur *o)
{
    /* cJSON's own nesting limit is 1000. */
    if (++o->depth > o->lim->max_depth || o->depth > 1000 ||
        ++o->values > o->lim->max_values)
        return -1;
    o->p++;
    fs__jcur_ws(o);
    return 0;
}

int fs__jcur_colon(fs__jcur *o)
{
    fs__jcur_ws(o);
    if (o->p >= o->end || *o->p != ':')
        return -1;
    o->p++;
    fs__jcur_ws(o);
    return 0;
}

int fs__jcur_comma(fs__jcur *o)
{
    if (++o->values > o->lim->max_values)
        return -1;
    o->p++;
    fs__jcur_ws(o);
    return 0;
}

static int op_container(fs__jcur *o, cJSON *it, int obj)
{
    unsigned char close = obj ? '}' : ']';
    cJSON *last = NULL, *c;

    if (fs__jcur_open(o) != 0)
        return -1;
    it->type = obj ? cJSON_Object : cJSON_Array;
    if (o->p < o->end && *o->p == close) {
        o->p++;
        o->depth--;
        return 0;
    }
    for (;;) {
        c = fs__jcur_alloc(o, sizeof(*c));
        if (c == NULL)
            return -1;
        memset(c, 0, sizeof(*c));
        if (last == NULL) {
            it->child = c;
        } else {
            last->next = c;
            c->prev = last;
        }
        last = c;
        it->child->prev = c;
        if (obj) {
            if (o->p >= o->end || *o->p != '"')
                return -1;
            c->string = fs__jcur_string(o);
            if (c->string == NULL || fs__jcur_colon(o) != 0)
                return -1;
        }
        if (fs__jcur_value(o, c) != 0)
            return -1;
        fs__jcur_ws(o);
        if (o->p < o->end && *o->p == ',') {
            if (fs__jcur_comma(o) != 0)
                return -1;
            continue;
        }
        if (o->p < o->end && *o->p == close)
            break;
        return -1;
    }
    o->p++;
    o->depth--;
    return 0;
}

static int op_literal(fs__jcur *o, const char *word, size_t n)
{
    if ((size_t)(o->end - o->p) < n || memcmp(o->p, word, n) != 0)
        return -1;
    o->p += n;
    return 0;
}

int fs__jcur_value(fs__jcur *o, cJSON *it)
{
    if (o->p >= o->end)
        return -1;
    switch (*o->p) {
    case '{':
        return op_container(o, it, 1);
    case '[':
        return op_container(o, it, 0);
    case '"':
        it->valuestring = fs__jcur_string(o);
        if (it->valuestring == NULL)
            return -1;
        it->type = cJSON_String;
        return 0;
    case 't':
        it->type = cJSON_True;
        it->valueint = 1;
        return op_literal(o, "true", 4);
    case 'f':
        it->type = cJSON_False;
        return op_literal(o, "false", 5);
    case 'n':
        it->type = cJSON_NULL;
        return op_literal(o, "null", 4);
    default:
        return fs__jcur_number(o, it);
    }
}

/* The tree of text[0..n), or NULL when the one-pass parser gives up. */
static cJSON *onepass_parse(const unsigned char *s, size_t n,
                            const fs_limits *lim)
{
    fs__jcur o = {s, s + n, lim, 1, 0, NULL};
    cJSON *root = cJSON_malloc(sizeof(*root));

    if (root == NULL)
        return NULL;
    memset(root, 0, sizeof(*root));
    fs__jcur_ws(&o);
    if (fs__jcur_value(&o, root) != 0) {
        cJSON_Delete(root);
        return NULL;
    }
    fs__jcur_ws(&o);
    if (o.p != o.end) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* cJSON resets a process-wide error pointer on every parse; serialise the
 * calls so a threaded hub has no data race there. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

/* The pre-scan, then cJSON: the way every text went before the one-pass
 * parser, and still the way of every text it gives up on. */
static int parse_checked(const char *text, size_t n, const fs_limits *lim,
                         cJSON **out, fs_err *err)
{
    const unsigned char *s = (const unsigned char *)text;
    const char *end = NULL;
    cJSON *root;
    size_t pos;
    int rc;

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

/* Arguments and the two ways; fast != 0 tries the one-pass parser
 * first. */
static int parse_json(const char *text, size_t n, const fs_limits *lim,
                      cJSON **out, fs_err *err, int fast)
{
    fs_limits def;

    if (out == NULL || (text == NULL && n > 0))
        return fs_err_set(err, FS_EINVAL, "json: bad arguments");
    *out = NULL;
    if (lim == NULL) {
        fs_limits_default(&def);
        lim = &def;
    }
    if (n == 0)
        return fs_err_set(err, FS_EMALFORMED, "empty JSON text");
    if (fast) {
        *out = onepass_parse((const unsigned char *)text, n, lim);
        if (*out != NULL)
            return FS_OK;
    }
    return parse_checked(text, n, lim, out, err);
}

int fs_json_parse(const char *text, size_t n, const fs_limits *lim, cJSON **out,
                  fs_err *err)
{
    return parse_json(text, n, lim, out, err, 1);
}

cJSON *fs_json_parse_stored(const char *text)
{
    fs_limits lim;
    cJSON *out = NULL;

    if (text == NULL)
        return NULL;
    /* What is stored passed the wire limits (or an admin's file checks) on
     * the way in; these only keep a damaged row from costing much. */
    fs_limits_default(&lim);
    lim.max_depth = 64;
    lim.max_string = (size_t)64 << 20;
    lim.max_values = (size_t)1 << 26;
    if (fs_json_parse(text, strlen(text), &lim, &out, NULL) != FS_OK)
        return NULL;
    return out;
}

int fs__json_parse_reference(const char *text, size_t n, const fs_limits *lim,
                             cJSON **out, fs_err *err)
{
    return parse_json(text, n, lim, out, err, 0);
}

/* Same type, value bits, strings and links, member by member. */
int fs__json_same_tree(const cJSON *a, const cJSON *b)
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
        if (x == NULL || y == NULL || !fs__json_same_tree(x, y))
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

int fs__json_int(const cJSON *obj, const char *key, int64_t *out)
{
    return fs__json_int_item(cJSON_GetObjectItemCaseSensitive(obj, key), out);
}

int fs__json_str(const cJSON *obj, const char *key, const char **out)
{
    return fs__json_str_item(cJSON_GetObjectItemCaseSensitive(obj, key), out);
}

int fs__json_int_item(const cJSON *it, int64_t *out)
{
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

int fs__json_str_item(const cJSON *it, const char **out)
{
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
    fs__arena *arena; /* where the text grows; NULL: realloc */
} cbuf;

/* Room for n more bytes and the NUL. Quadruples from 256: a typical
 * submission's answers (~700 bytes) then cost one realloc, not two. */
static int cb_grow(cbuf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    while (b->len + n + 1 > cap)
        cap *= 4;
    p = b->arena != NULL ? fs__arena_grow(b->arena, b->p, b->cap, cap)
                         : realloc(b->p, cap);
    if (p == NULL)
        return FS_ENOMEM;
    b->p = p;
    b->cap = cap;
    return FS_OK;
}

/* Inline: it runs for every token printed, mostly a byte or two. */
static inline int cb_put(cbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap && cb_grow(b, n) != FS_OK)
        return FS_ENOMEM;
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
    int rc = cb_put(b, "\"", 1);

    for (; rc == FS_OK; p++) {
        const unsigned char *run = p;
        char esc[8];
        const char *e = NULL;

        while (*p > 31 && *p != '"' && *p != '\\')
            p++;
        /* The plain bytes before this one, at once. */
        rc = cb_put(b, (const char *)run, (size_t)(p - run));
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
    cbuf b = {NULL, 0, 0, NULL};

    if (item == NULL || canon_value(&b, item) != FS_OK) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *fs__json_print_in(const cJSON *item, fs__arena *a)
{
    cbuf b = {NULL, 0, 0, a};

    if (item == NULL || canon_value(&b, item) != FS_OK)
        return NULL; /* what was written goes with the arena */
    /* The room the text did not use goes to the next blocks. */
    fs__arena_shrink(a, b.p, b.len + 1);
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
