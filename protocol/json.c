/*
 * json.c - UTF-8 checking, JSON parsing of untrusted text, and the
 * canonical printing of what was parsed.
 *
 * cJSON has no limits one can set per call, and its parse writes a
 * process-wide error pointer, so fieldsync parses with its own cursor
 * (below), which checks encoding, nesting, string sizes and the number
 * of values before it allocates for them, and builds cJSON's tree.
 */
#include <assert.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
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

/* Powers of ten a double holds exactly (up to 10^22). */
static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ---- the parser -------------------------------------------------------
 *
 * One pass over untrusted text through a bounded cursor: every read is
 * checked against the end, and the limits (lim->max_depth, max_string,
 * max_values) are checked before memory is allocated for what they
 * bound. It builds the tree cJSON builds for the same text (same node
 * types, values, strings, links; nodes and strings from cJSON_malloc, so
 * cJSON_Delete frees them, or from the cursor's arena), and it takes
 * exactly the texts fieldsync took when every text went through a
 * pre-scan and cJSON 1.7.15, leniencies included, so that nothing an
 * agent ever sent is refused now:
 *   - before the value and between tokens any byte up to 0x20 is white
 *     space; after the value only space, tab, CR and LF are;
 *   - a UTF-8 byte order mark before a text of five bytes or more is
 *     skipped;
 *   - a number is what strtod reads from a run of [0-9.eE+-] that starts
 *     with '-' or a digit, when it reads the whole run: 01, 1., -.5 and
 *     1e400 (infinity) are numbers, .5 and 1e are not.
 * Stricter than cJSON, as the pre-scan was: UTF-8 is checked, control
 * characters in strings, \u0000 and lone surrogates are refused. The
 * first problem stops it; the message names it and its byte. The
 * differential test tests/fuzz/fuzz_json holds it to cJSON. */

/* cJSON's own nesting limit, and the bound of this parser's recursion
 * whatever lim says. */
#define DEPTH_MAX 1000

static size_t at_byte(const fs__jcur *o, const unsigned char *at)
{
    return (size_t)(at - o->start);
}

/* A syntax error at at, where expected was expected. A byte there that
 * is not UTF-8 is told as such. */
static int syntax(const fs__jcur *o, const unsigned char *at,
                  const char *expected)
{
    if (at >= o->end)
        return fs_err_set(o->err, FS_EMALFORMED,
                          "JSON text ends at byte %zu where %s was expected",
                          at_byte(o, at), expected);
    if (*at >= 0x80 && fs__utf8_seq(at, (size_t)(o->end - at)) == 0)
        return fs_err_set(o->err, FS_EUTF8, "invalid UTF-8 at byte %zu",
                          at_byte(o, at));
    if (*at > 0x20 && *at < 0x7f)
        return fs_err_set(o->err, FS_EMALFORMED,
                          "JSON syntax error at byte %zu: '%c' where %s was "
                          "expected",
                          at_byte(o, at), *at, expected);
    return fs_err_set(o->err, FS_EMALFORMED,
                      "JSON syntax error at byte %zu: byte 0x%02x where %s "
                      "was expected",
                      at_byte(o, at), *at, expected);
}

void fs__jcur_init(fs__jcur *o, const void *text, size_t n,
                   const fs_limits *lim, fs__arena *arena, fs_err *err)
{
    o->start = o->p = text;
    o->end = o->start + n;
    o->lim = lim;
    o->values = 1;
    o->depth = 0;
    o->arena = arena;
    o->err = err;
    o->nums = NULL;
}

/* A byte a string's plain run goes on over: not '"', '\\', a control or
 * non-ASCII. */
static int str_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

void fs__jcur_ws(fs__jcur *o)
{
    while (o->p < o->end && *o->p <= 0x20)
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

/* The code unit of the \uXXXX escape at q, or -1 when there is none
 * (the six bytes are checked to lie before end). */
static long hex4(const unsigned char *q, const unsigned char *end)
{
    long v = 0;
    int i;

    if (end - q < 6 || q[0] != '\\' || q[1] != 'u')
        return -1;
    for (i = 2; i < 6; i++) {
        int h = hexval(q[i]);

        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* What can be wrong inside a string, found by the scan below. */
enum {
    STR_OK,
    STR_END,        /* the text ends inside it */
    STR_ESCAPE,     /* a backslash before anything but an escape letter */
    STR_UESCAPE,    /* \u without four hex digits, or \u0000 */
    STR_LOW_ALONE,  /* the second half of a surrogate pair, alone */
    STR_HIGH_ALONE, /* the first half, without the second */
    STR_CONTROL,    /* a control byte not escaped */
    STR_UTF8,       /* bytes that are not UTF-8 */
};

/* The \u escape at q ('\\' before 'u'): how many bytes of text it takes
 * (6, or 12 for a surrogate pair) into *took, and how many fewer it
 * stands for than it takes added to *saved; or a STR_ problem. */
static int unicode_escape(const unsigned char *q, const unsigned char *end,
                          size_t *took, size_t *saved)
{
    long v = hex4(q, end), lo;

    if (v <= 0)
        return STR_UESCAPE;
    if (v >= 0xDC00 && v <= 0xDFFF)
        return STR_LOW_ALONE;
    if (v >= 0xD800 && v <= 0xDBFF) {
        lo = hex4(q + 6, end);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return STR_HIGH_ALONE;
        *took = 12;
        *saved += 12 - 4;
        return STR_OK;
    }
    *took = 6;
    *saved += v < 0x80 ? 6 - 1 : v < 0x800 ? 6 - 2 : 6 - 3;
    return STR_OK;
}

/* The byte of the string opening at o->p where, counted as it is stored
 * (escapes decoded), it grows past lim->max_string: the byte a
 * reader going through it would stop at. Called only when it does,
 * before stop. */
static const unsigned char *limit_byte(const fs__jcur *o,
                                       const unsigned char *stop)
{
    const unsigned char *q = o->p + 1;
    size_t n = 0, k = 1, add;

    for (; q < stop; q += k) {
        if (*q != '\\') {
            k = *q < 0x80 ? 1 : fs__utf8_seq(q, (size_t)(o->end - q));
            add = k;
        } else if (q[1] != 'u') {
            k = 2;
            add = 1;
        } else {
            long v = hex4(q, o->end);

            k = v >= 0xD800 && v <= 0xDBFF ? 12 : 6;
            add = v < 0x80 ? 1 : v < 0x800 ? 2 : k == 12 ? 4 : 3;
        }
        n += add;
        if (n > o->lim->max_string)
            break;
    }
    return q;
}

/* The message for a STR_ problem at q in the string that opens at
 * o->p. */
static int string_problem(const fs__jcur *o, int problem,
                          const unsigned char *q)
{
    size_t at = at_byte(o, q);

    switch (problem) {
    case STR_END:
        return fs_err_set(o->err, FS_EMALFORMED,
                          "JSON text ends inside the string that starts at "
                          "byte %zu",
                          at_byte(o, o->p));
    case STR_ESCAPE:
        if (q[1] > 0x20 && q[1] < 0x7f)
            return fs_err_set(o->err, FS_EMALFORMED,
                              "bad escape '\\%c' in a JSON string at byte %zu",
                              q[1], at);
        return fs_err_set(o->err, FS_EMALFORMED,
                          "bad escape in a JSON string at byte %zu", at);
    case STR_UESCAPE:
        return fs_err_set(o->err, FS_EMALFORMED,
                          "bad \\u escape at byte %zu: four hex digits, "
                          "not 0000, expected",
                          at);
    case STR_LOW_ALONE:
        return fs_err_set(o->err, FS_EMALFORMED,
                          "\\u escape at byte %zu is half of a UTF-16 "
                          "surrogate pair without the first half",
                          at);
    case STR_HIGH_ALONE:
        return fs_err_set(o->err, FS_EMALFORMED,
                          "\\u escape at byte %zu is half of a UTF-16 "
                          "surrogate pair without the second half",
                          at);
    case STR_CONTROL:
        return fs_err_set(o->err, FS_EMALFORMED,
                          "unescaped control character in a JSON string "
                          "at byte %zu",
                          at);
    default:
        return fs_err_set(o->err, FS_EUTF8, "invalid UTF-8 at byte %zu", at);
    }
}

/* Scans the string at o->p (a '"') without moving: *len receives its
 * length once unescaped, *close its closing quote. A string longer than
 * the limit is told as such even when it has another problem further
 * on, as a reader that counted as it went would have stopped first. */
static int scan_string(const fs__jcur *o, size_t *len,
                       const unsigned char **close)
{
    const unsigned char *s = o->p + 1, *q = s;
    size_t saved = 0, k = 0;
    int problem = STR_OK;

    for (;;) {
        while (q < o->end && str_plain(*q))
            q++;
        if (q >= o->end) {
            problem = STR_END;
            break;
        }
        if (*q == '"')
            break;
        if (*q == '\\') {
            if (q + 1 >= o->end) {
                problem = STR_END;
                break;
            }
            if (simple_escape(q[1]) != 0) {
                saved++;
                q += 2;
                continue;
            }
            problem = q[1] == 'u' ? unicode_escape(q, o->end, &k, &saved)
                                  : STR_ESCAPE;
            if (problem != STR_OK)
                break;
            q += k;
            continue;
        }
        if (*q < 0x20) {
            problem = STR_CONTROL;
            break;
        }
        k = fs__utf8_seq(q, (size_t)(o->end - q));
        if (k == 0) {
            problem = STR_UTF8;
            break;
        }
        q += k;
    }
    /* Every byte before q is counted, less what escapes save. */
    if ((size_t)(q - s) - saved > o->lim->max_string)
        return fs_err_set(o->err, FS_ETOOBIG,
                          "JSON string longer than %zu bytes at byte %zu",
                          o->lim->max_string, at_byte(o, limit_byte(o, q)));
    if (problem != STR_OK)
        return string_problem(o, problem, q);
    *len = (size_t)(q - s) - saved;
    *close = q;
    return FS_OK;
}

/* Writes code point v as UTF-8 at w; returns the byte after. */
static char *put_utf8(char *w, unsigned long v)
{
    if (v < 0x80) {
        *w++ = (char)v;
    } else if (v < 0x800) {
        *w++ = (char)(0xC0 | (v >> 6));
        *w++ = (char)(0x80 | (v & 0x3F));
    } else if (v < 0x10000) {
        *w++ = (char)(0xE0 | (v >> 12));
        *w++ = (char)(0x80 | ((v >> 6) & 0x3F));
        *w++ = (char)(0x80 | (v & 0x3F));
    } else {
        *w++ = (char)(0xF0 | (v >> 18));
        *w++ = (char)(0x80 | ((v >> 12) & 0x3F));
        *w++ = (char)(0x80 | ((v >> 6) & 0x3F));
        *w++ = (char)(0x80 | (v & 0x3F));
    }
    return w;
}

/* Writes the string scan_string passed into out (len + 1 bytes) and
 * moves past it. Every escape is shorter than what it stands for, so a
 * string as long as its text has none. */
static void copy_string(fs__jcur *o, const unsigned char *close, char *out,
                        size_t len)
{
    const unsigned char *r, *s = o->p + 1;
    char *w = out;

    if ((size_t)(close - s) == len) {
        memcpy(out, s, len);
    } else {
        for (r = s; r < close;) {
            unsigned long v;

            if (*r != '\\') {
                *w++ = (char)*r++;
                continue;
            }
            if (r[1] != 'u') {
                *w++ = simple_escape(r[1]);
                r += 2;
                continue;
            }
            v = (unsigned long)hex4(r, close);
            r += 6;
            if (v >= 0xD800 && v <= 0xDBFF) {
                v = 0x10000 + ((v & 0x3FF) << 10) +
                    ((unsigned long)hex4(r, close) & 0x3FF);
                r += 6;
            }
            w = put_utf8(w, v);
        }
        assert((size_t)(w - out) == len);
    }
    out[len] = '\0';
    o->p = close + 1;
}

void *fs__jcur_alloc(fs__jcur *o, size_t n)
{
    void *p = o->arena != NULL ? fs__arena_alloc(o->arena, n) : cJSON_malloc(n);

    if (p == NULL)
        fs_err_set(o->err, FS_ENOMEM, "out of memory");
    return p;
}

int fs__jcur_string(fs__jcur *o, char **out)
{
    const unsigned char *close;
    size_t len;
    int rc;

    *out = NULL;
    if (o->p >= o->end || *o->p != '"')
        return syntax(o, o->p, "a string");
    rc = scan_string(o, &len, &close);
    if (rc != FS_OK)
        return rc;
    *out = fs__jcur_alloc(o, len + 1);
    if (*out == NULL)
        return FS_ENOMEM;
    copy_string(o, close, *out, len);
    return FS_OK;
}

int fs__jcur_string_to(fs__jcur *o, char *buf, size_t cap)
{
    const unsigned char *close;
    size_t len;
    int rc;

    if (o->p >= o->end || *o->p != '"')
        return syntax(o, o->p, "a string");
    rc = scan_string(o, &len, &close);
    if (rc != FS_OK)
        return rc;
    if (len >= cap)
        return 1;
    copy_string(o, close, buf, len);
    return FS_OK;
}

/* Steps over a string without keeping it. */
static int skip_string(fs__jcur *o)
{
    const unsigned char *close;
    size_t len;
    int rc = scan_string(o, &len, &close);

    if (rc == FS_OK)
        o->p = close + 1;
    return rc;
}

static int is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* A byte cJSON reads into a number's text. */
static int num_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' ||
           c == '+' || c == '-';
}

/* strtod of the number text s[0..n), with the locale's decimal point as
 * cJSON gives it. */
static int number_strtod(fs__jcur *o, const unsigned char *s, size_t n,
                         double *d)
{
    char small[64], *num = small, *after = NULL;
    char dp = localeconv()->decimal_point[0];
    size_t i;
    int rc = FS_OK;

    if (n >= sizeof(small)) {
        num = malloc(n + 1);
        if (num == NULL)
            return fs_err_set(o->err, FS_ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++)
        num[i] = s[i] == '.' ? dp : (char)s[i];
    num[n] = '\0';
    *d = strtod(num, &after);
    /* The grammar checked is strtod's, so it reads all of it. */
    if (after != num + n)
        rc = fs_err_set(o->err, FS_EMALFORMED, "bad number at byte %zu",
                        at_byte(o, s));
    if (num != small)
        free(num);
    return rc;
}

/* The number at o->p ('-' or a digit) into it (type, valuedouble and
 * valueint as cJSON sets them), or only checked when it is NULL. Up to
 * 15 digits without an exponent need no strtod: the digits are an exact
 * integer, and one division by an exact power of ten is correctly
 * rounded, as strtod is. */
int fs__jcur_number(fs__jcur *o, cJSON *it)
{
    const unsigned char *s = o->p, *q = s, *end = o->end;
    uint64_t w = 0;
    size_t digits = 0, frac = 0;
    int expo = 0;
    double d = 0;

    if (q < end && *q == '-')
        q++;
    for (; is_digit(q, end); q++, digits++)
        w = digits < 16 ? w * 10 + (uint64_t)(*q - '0') : w;
    if (q < end && *q == '.') {
        for (q++; is_digit(q, end); q++, digits++, frac++)
            w = digits < 16 ? w * 10 + (uint64_t)(*q - '0') : w;
    }
    if (digits > 0 && q < end && (*q == 'e' || *q == 'E')) {
        const unsigned char *e = q + 1;

        if (e < end && (*e == '+' || *e == '-'))
            e++;
        if (is_digit(e, end)) {
            while (is_digit(e, end))
                e++;
            q = e;
            expo = 1;
        }
    }
    /* cJSON takes the whole run of number bytes to strtod; what strtod
     * leaves of it is an error. */
    if (digits == 0 || (q < end && num_char(*q)))
        return fs_err_set(o->err, FS_EMALFORMED, "bad number at byte %zu",
                          at_byte(o, s));
    o->p = q;
    if (it == NULL)
        return FS_OK;
    if (!expo && digits <= 15) {
        d = frac > 0 ? (double)w / pow10_exact[frac] : (double)w;
        d = *s == '-' ? -d : d;
    } else {
        int rc = number_strtod(o, s, (size_t)(q - s), &d);

        if (rc != FS_OK)
            return rc;
    }
    if (o->nums != NULL) {
        fs__jnums *t = o->nums;

        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 16;
            fs__jnum *v = realloc(t->v, cap * sizeof(*v));

            if (v == NULL)
                return fs_err_set(o->err, FS_ENOMEM, "out of memory");
            t->v = v;
            t->cap = cap;
        }
        t->v[t->n].node = it;
        t->v[t->n].text = s;
        t->v[t->n++].len = (size_t)(q - s);
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
    return FS_OK;
}

int fs__jcur_open(fs__jcur *o)
{
    if (++o->values > o->lim->max_values)
        return fs_err_set(o->err, FS_ETOOBIG,
                          "JSON has more than %zu values at byte %zu",
                          o->lim->max_values, at_byte(o, o->p));
    if (++o->depth > o->lim->max_depth || o->depth > DEPTH_MAX)
        return fs_err_set(
            o->err, FS_ETOOBIG, "JSON nests deeper than %u levels at byte %zu",
            o->lim->max_depth < DEPTH_MAX ? o->lim->max_depth : DEPTH_MAX,
            at_byte(o, o->p));
    o->p++;
    fs__jcur_ws(o);
    return FS_OK;
}

int fs__jcur_enter(fs__jcur *o, unsigned char close, int *more)
{
    int rc = fs__jcur_open(o);

    if (rc != FS_OK)
        return rc;
    *more = 1;
    if (o->p < o->end && *o->p == close) {
        o->p++;
        o->depth--;
        *more = 0;
    }
    return FS_OK;
}

int fs__jcur_colon(fs__jcur *o)
{
    fs__jcur_ws(o);
    if (o->p >= o->end || *o->p != ':')
        return syntax(o, o->p, "':' after a member name");
    o->p++;
    fs__jcur_ws(o);
    return FS_OK;
}

int fs__jcur_next(fs__jcur *o, unsigned char close, int *more)
{
    fs__jcur_ws(o);
    if (o->p < o->end && *o->p == close) {
        o->p++;
        o->depth--;
        *more = 0;
        return FS_OK;
    }
    if (o->p >= o->end || *o->p != ',')
        return syntax(o, o->p, close == '}' ? "',' or '}'" : "',' or ']'");
    if (++o->values > o->lim->max_values)
        return fs_err_set(o->err, FS_ETOOBIG,
                          "JSON has more than %zu values at byte %zu",
                          o->lim->max_values, at_byte(o, o->p));
    o->p++;
    fs__jcur_ws(o);
    *more = 1;
    return FS_OK;
}

int fs__jcur_key(fs__jcur *o, char *buf, size_t cap, char **big)
{
    int r;

    *big = NULL;
    if (o->p >= o->end || *o->p != '"')
        return syntax(o, o->p, "a member name in double quotes");
    r = fs__jcur_string_to(o, buf, cap);
    if (r == 1) {
        buf[0] = '\0';
        r = fs__jcur_string(o, big);
    }
    return r == FS_OK ? fs__jcur_colon(o) : r;
}

/* The object or array at o->p into it, or only checked when it is NULL.
 * Members are linked in as cJSON links them (the first one's prev is the
 * last), each before its value is read, so that deleting it frees
 * whatever was built when this fails. */
static int container(fs__jcur *o, cJSON *it, int obj)
{
    unsigned char close = obj ? '}' : ']';
    cJSON *last = NULL, *c = NULL;
    int rc, more = 1;

    if (it != NULL)
        it->type = obj ? cJSON_Object : cJSON_Array;
    rc = fs__jcur_enter(o, close, &more);
    while (rc == FS_OK && more) {
        if (it != NULL) {
            c = fs__jcur_alloc(o, sizeof(*c));
            if (c == NULL)
                return FS_ENOMEM;
            memset(c, 0, sizeof(*c));
            if (last == NULL) {
                it->child = c;
            } else {
                last->next = c;
                c->prev = last;
            }
            last = c;
            it->child->prev = c;
        }
        if (obj) {
            if (o->p >= o->end || *o->p != '"')
                return syntax(o, o->p, "a member name in double quotes");
            rc = c != NULL ? fs__jcur_string(o, &c->string) : skip_string(o);
            if (rc == FS_OK)
                rc = fs__jcur_colon(o);
            if (rc != FS_OK)
                return rc;
        }
        rc = fs__jcur_value(o, c);
        if (rc == FS_OK)
            rc = fs__jcur_next(o, close, &more);
    }
    return rc;
}

static int literal(fs__jcur *o, const char *word, size_t n)
{
    if ((size_t)(o->end - o->p) < n || memcmp(o->p, word, n) != 0)
        return syntax(o, o->p, "a value");
    o->p += n;
    return FS_OK;
}

int fs__jcur_value(fs__jcur *o, cJSON *it)
{
    cJSON scratch;
    int rc;

    if (o->p >= o->end)
        return syntax(o, o->p, "a value");
    /* A scalar is built on the stack when only checked. */
    if (it == NULL && *o->p != '{' && *o->p != '[' && *o->p != '"')
        it = &scratch;
    switch (*o->p) {
    case '{':
        return container(o, it, 1);
    case '[':
        return container(o, it, 0);
    case '"':
        if (it == NULL)
            return skip_string(o);
        rc = fs__jcur_string(o, &it->valuestring);
        if (rc == FS_OK)
            it->type = cJSON_String;
        return rc;
    case 't':
        it->type = cJSON_True;
        it->valueint = 1;
        return literal(o, "true", 4);
    case 'f':
        it->type = cJSON_False;
        return literal(o, "false", 5);
    case 'n':
        it->type = cJSON_NULL;
        return literal(o, "null", 4);
    default:
        if (*o->p != '-' && (*o->p < '0' || *o->p > '9'))
            return syntax(o, o->p, "a value");
        return fs__jcur_number(o, it == &scratch ? NULL : it);
    }
}

int fs__jcur_begin(fs__jcur *o)
{
    if (o->end - o->p > 4 && memcmp(o->p, "\xEF\xBB\xBF", 3) == 0)
        o->p += 3;
    fs__jcur_ws(o);
    return FS_OK;
}

int fs__jcur_finish(fs__jcur *o)
{
    while (o->p < o->end &&
           (*o->p == ' ' || *o->p == '\t' || *o->p == '\n' || *o->p == '\r'))
        o->p++;
    if (o->p == o->end)
        return FS_OK;
    if (*o->p >= 0x80 && fs__utf8_seq(o->p, (size_t)(o->end - o->p)) == 0)
        return fs_err_set(o->err, FS_EUTF8, "invalid UTF-8 at byte %zu",
                          at_byte(o, o->p));
    return fs_err_set(o->err, FS_EMALFORMED,
                      "trailing data after JSON at byte %zu", at_byte(o, o->p));
}

int fs_json_parse(const char *text, size_t n, const fs_limits *lim, cJSON **out,
                  fs_err *err)
{
    return fs__json_parse_noting(text, n, lim, out, NULL, err);
}

int fs__json_parse_noting(const char *text, size_t n, const fs_limits *lim,
                          cJSON **out, fs__jnums *nums, fs_err *err)
{
    fs_limits def;
    fs__jcur o;
    cJSON *root;
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
    root = cJSON_malloc(sizeof(*root));
    if (root == NULL)
        return fs_err_set(err, FS_ENOMEM, "out of memory");
    memset(root, 0, sizeof(*root));
    fs__jcur_init(&o, text, n, lim, NULL, err);
    o.nums = nums;
    rc = fs__jcur_begin(&o);
    if (rc == FS_OK)
        rc = fs__jcur_value(&o, root);
    if (rc == FS_OK)
        rc = fs__jcur_finish(&o);
    if (rc != FS_OK) {
        cJSON_Delete(root);
        return rc;
    }
    *out = root;
    return FS_OK;
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

const fs__jnum *fs__jnums_find(const fs__jnums *nums, size_t *from,
                               const cJSON *it)
{
    size_t i;

    for (i = *from; cJSON_IsNumber(it) && i < nums->n; i++)
        if (nums->v[i].node == it) {
            *from = i + 1;
            return &nums->v[i];
        }
    return NULL;
}

int fs__err_beyond(fs_err *e, const char *path, const unsigned char *num,
                   size_t len)
{
    int cut = len > 24;

    return fs_err_set(e, FS_EMALFORMED,
                      "%s: %.*s%s is beyond +-2^53 (9007199254740992), the "
                      "largest integer a JSON number carries exactly",
                      path, cut ? 24 : (int)len, (const char *)num,
                      cut ? "..." : "");
}

static int is_dec(unsigned char c)
{
    return c >= '0' && c <= '9';
}

int fs__json_exact_int(const unsigned char *s, size_t n, int64_t *out)
{
    const unsigned char *p = s, *end = s + n;
    uint64_t v = 0; /* the first 17 significant digits */
    /* Significant digits, the zeros that end them, digits after the
     * point, the exponent (held below 10^15 once it is past reach). */
    int64_t sig = 0, zeros = 0, frac = 0, e = 0, i;
    int neg = 0, point = 0, eneg = 0;

    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    /* Nearly every integer on the wire: up to 15 plain digits. */
    if (end - p <= 15) {
        for (; p < end && is_dec(*p); p++)
            v = v * 10 + (uint64_t)(*p - '0');
        if (p == end) {
            *out = neg ? -(int64_t)v : (int64_t)v;
            return FS__FIELD_OK;
        }
        p = s + neg;
        v = 0;
    }
    for (; p < end && (is_dec(*p) || *p == '.'); p++) {
        if (*p == '.') {
            point = 1;
            continue;
        }
        frac += point;
        if (*p == '0' && sig == 0)
            continue;
        if (sig < 17)
            v = v * 10 + (uint64_t)(*p - '0');
        sig++;
        zeros = *p == '0' ? zeros + 1 : 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        for (; p < end && is_dec(*p); p++)
            e = e < INT64_C(100000000000000) ? e * 10 + (*p - '0') : e;
    }
    if (p != end)
        return FS__FIELD_WRONG;
    if (sig == 0) {
        *out = 0; /* 0, -0, 0.000e99 */
        return FS__FIELD_OK;
    }
    e = eneg ? -e : e;
    /* The value is the significant digits without their last zeros
     * times 10^(e - frac + zeros). */
    if (e - frac + zeros < 0)
        return FS__FIELD_WRONG; /* a fraction is left */
    if (sig + e - frac > 16)
        return FS__FIELD_RANGE; /* 10^16 or more */
    /* So at most 16 digits before the zeros, all of them in v. */
    for (i = (sig < 17 ? sig : 17) - (sig - zeros); i > 0; i--)
        v /= 10;
    for (i = e - frac + zeros; i > 0; i--)
        v *= 10;
    if (v > (uint64_t)FS__JSON_INT_MAX)
        return FS__FIELD_RANGE;
    *out = neg ? -(int64_t)v : (int64_t)v;
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
    char digits[24];

    if (v < -(int64_t)FS__JSON_INT_MAX || v > (int64_t)FS__JSON_INT_MAX)
        return FS_EINVAL;
    /* cJSON prints 15 significant digits when they read back within a
     * relative DBL_EPSILON, which 16-digit integers may (2^53 would go
     * out as 9.00719925474099e+15): those go as their digits. Below
     * 10^15 a number node prints the same digits, as it always has. */
    if (v >= INT64_C(1000000000000000) || v <= -INT64_C(1000000000000000)) {
        snprintf(digits, sizeof(digits), "%" PRId64, v);
        if (cJSON_AddRawToObject(obj, key, digits) == NULL)
            return FS_ENOMEM;
        return FS_OK;
    }
    if (cJSON_AddNumberToObject(obj, key, (double)v) == NULL)
        return FS_ENOMEM;
    return FS_OK;
}
