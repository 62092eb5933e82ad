/*
 * validate.c - answers against a form: one value (for per-question
 * feedback while filling), relevance (skip logic and consent), and whole
 * submissions with every problem listed. Also the small pattern language
 * and the date formats. schema/FORMS.md is the normative description.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form_int.h"

/* ---- text helpers ---------------------------------------------------- */

size_t fs__utf8_count(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;

    for (; *p != '\0'; p++)
        if ((*p & 0xC0) != 0x80)
            n++;
    return n;
}

/* Next code point of s at *i (invalid bytes count as U+FFFD, one each). */
static uint32_t next_cp(const unsigned char *s, size_t len, size_t *i)
{
    size_t k = fs__utf8_seq(s + *i, len - *i);
    uint32_t cp;

    if (k == 0) {
        (*i)++;
        return 0xFFFD;
    }
    cp = k == 1 ? s[*i] : (uint32_t)(s[*i] & (0xFF >> (k + 1)));
    for (size_t j = 1; j < k; j++)
        cp = (cp << 6) | (s[*i + j] & 0x3F);
    *i += k;
    return cp;
}

/* ---- dates ----------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long days_from_civil(int y, int m, int d)
{
    long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int ymd(const char *s, long *days)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, leap, max;

    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &m) ||
        s[7] != '-' || digits(s + 8, 2, &d))
        return FS_EMALFORMED;
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return FS_EMALFORMED;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    max = mdays[m - 1] + (m == 2 && leap);
    if (d > max)
        return FS_EMALFORMED;
    *days = days_from_civil(y, m, d);
    return FS_OK;
}

int fs__date_parse(const char *s, double *days)
{
    long d;

    if (strlen(s) != 10 || ymd(s, &d) != FS_OK)
        return FS_EMALFORMED;
    *days = (double)d;
    return FS_OK;
}

int fs__datetime_parse(const char *s, double *secs)
{
    long d;
    int hh, mm, ss, oh = 0, om = 0, sign = 0;
    size_t i = 19;

    if (strlen(s) < 20 || ymd(s, &d) != FS_OK || s[10] != 'T' ||
        digits(s + 11, 2, &hh) || s[13] != ':' || digits(s + 14, 2, &mm) ||
        s[16] != ':' || digits(s + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 59)
        return FS_EMALFORMED;
    if (s[i] == '.') {
        size_t k = ++i;

        while (s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == k || i - k > 9)
            return FS_EMALFORMED;
    }
    if (s[i] == 'Z' && s[i + 1] == '\0') {
        sign = 0;
    } else if ((s[i] == '+' || s[i] == '-') && strlen(s + i) == 6 &&
               digits(s + i + 1, 2, &oh) == 0 && s[i + 3] == ':' &&
               digits(s + i + 4, 2, &om) == 0 && oh <= 23 && om <= 59) {
        sign = s[i] == '+' ? 1 : -1;
    } else {
        return FS_EMALFORMED;
    }
    *secs = (double)d * 86400.0 + hh * 3600.0 + mm * 60.0 + ss -
            sign * (oh * 3600.0 + om * 60.0);
    return FS_OK;
}

/* ---- patterns -------------------------------------------------------- */

static void set_add(fs__atom *a, unsigned lo, unsigned hi)
{
    for (unsigned ch = lo; ch <= hi && ch < 128; ch++)
        a->set[ch >> 3] |= (uint8_t)(1u << (ch & 7));
}

static int set_has(const fs__atom *a, uint32_t cp)
{
    if (cp >= 128)
        return a->nonascii;
    return (a->set[cp >> 3] >> (cp & 7)) & 1;
}

/* \d \w \s, or an escaped punctuation character. */
static int escape_class(fs__atom *a, char ch)
{
    switch (ch) {
    case 'd':
        set_add(a, '0', '9');
        return 0;
    case 'w':
        set_add(a, '0', '9');
        set_add(a, 'A', 'Z');
        set_add(a, 'a', 'z');
        set_add(a, '_', '_');
        return 0;
    case 's':
        set_add(a, ' ', ' ');
        set_add(a, '\t', '\t');
        return 0;
    default:
        if ((unsigned char)ch > 0x20 && (unsigned char)ch < 0x7f &&
            !((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= 'a' && ch <= 'z'))) {
            set_add(a, (unsigned char)ch, (unsigned char)ch);
            return 0;
        }
        return -1;
    }
}

static int bad(char *why, size_t cap, const char *msg)
{
    snprintf(why, cap, "%s", msg);
    return FS_EMALFORMED;
}

/* Reads a decimal bound at src[*i]; -1 when there is none. */
static long bound(const char *src, size_t *i)
{
    long v = 0;
    size_t k = *i;

    while (src[*i] >= '0' && src[*i] <= '9' && v <= FS__PATTERN_REPEAT_MAX)
        v = v * 10 + (src[(*i)++] - '0');
    return *i == k ? -1 : v;
}

int fs__pattern_compile(const char *src, fs__pattern *out, char *why,
                        size_t whycap)
{
    size_t i = 0, len = strlen(src);

    memset(out, 0, sizeof *out);
    if (len == 0 || len > FS__PATTERN_SRC_MAX)
        return bad(why, whycap, "a pattern is 1 to 256 characters");
    if (src[0] == '^') /* always anchored; accept the usual spelling */
        i++;
    while (i < len) {
        fs__atom *a;
        unsigned char ch = (unsigned char)src[i];

        if (ch == '$' && i + 1 == len)
            break;
        if (out->n >= FS__PATTERN_ATOMS_MAX)
            return bad(why, whycap, "a pattern has at most 64 elements");
        a = &out->atoms[out->n++];
        a->min = a->max = 1;
        if (ch >= 0x80)
            return bad(why, whycap,
                       "patterns are ASCII; use . for any "
                       "character");
        if (ch == '(' || ch == ')' || ch == '|')
            return bad(why, whycap,
                       "groups and alternatives are not "
                       "supported");
        if (ch == '*' || ch == '+' || ch == '?' || ch == '{')
            return bad(why, whycap,
                       "a repeat must follow a character or "
                       "class");
        if (ch == '.') {
            set_add(a, 0x20, 0x7e);
            a->nonascii = 1;
            i++;
        } else if (ch == '\\') {
            if (i + 1 >= len || escape_class(a, src[i + 1]) != 0)
                return bad(why, whycap,
                           "unknown escape; use \\d \\w \\s "
                           "or \\ before punctuation");
            i += 2;
        } else if (ch == '[') {
            int neg = 0, any = 0;
            uint8_t set[16];

            i++;
            if (src[i] == '^') {
                neg = 1;
                i++;
            }
            while (i < len && (src[i] != ']' || !any)) {
                unsigned lo = (unsigned char)src[i], hi;

                any = 1;
                if (lo >= 0x80)
                    return bad(why, whycap, "patterns are ASCII");
                if (lo == '\\') {
                    if (i + 1 >= len || escape_class(a, src[i + 1]) != 0)
                        return bad(why, whycap,
                                   "unknown escape in a "
                                   "class");
                    i += 2;
                    continue;
                }
                hi = lo;
                if (src[i + 1] == '-' && i + 2 < len && src[i + 2] != ']') {
                    hi = (unsigned char)src[i + 2];
                    if (hi < lo || hi >= 0x80)
                        return bad(why, whycap,
                                   "a range goes from low to "
                                   "high, ASCII only");
                    i += 2;
                }
                set_add(a, lo, hi);
                i++;
            }
            if (i >= len)
                return bad(why, whycap, "a class [...] is not closed");
            i++; /* ']' */
            if (neg) {
                memcpy(set, a->set, sizeof set);
                memset(a->set, 0, sizeof a->set);
                for (unsigned k = 0x20; k < 0x7f; k++)
                    if (!((set[k >> 3] >> (k & 7)) & 1))
                        set_add(a, k, k);
                a->nonascii = 1;
            }
        } else {
            if (ch < 0x20 || ch == 0x7f)
                return bad(why, whycap,
                           "control characters are not "
                           "allowed");
            if (ch == '[' || ch == ']' || ch == '}')
                return bad(why, whycap, "escape [ ] { } with \\");
            set_add(a, ch, ch);
            i++;
        }
        /* Repeat. */
        if (i < len && src[i] == '?') {
            a->min = 0;
            i++;
        } else if (i < len && src[i] == '*') {
            a->min = 0;
            a->max = UINT32_MAX;
            i++;
        } else if (i < len && src[i] == '+') {
            a->max = UINT32_MAX;
            i++;
        } else if (i < len && src[i] == '{') {
            long lo, hi;
            int open = 0; /* {m,}: no upper bound */

            i++;
            lo = bound(src, &i);
            hi = lo;
            if (src[i] == ',') {
                i++;
                if (src[i] == '}')
                    open = 1;
                else
                    hi = bound(src, &i);
            }
            if (lo < 0 || hi < 0 || src[i] != '}' ||
                lo > FS__PATTERN_REPEAT_MAX || hi > FS__PATTERN_REPEAT_MAX ||
                lo > hi)
                return bad(why, whycap,
                           "a repeat is {n}, {m,n} or {m,} "
                           "with m <= n <= 1000");
            a->min = (uint32_t)lo;
            /* Not through a long: UINT32_MAX does not fit a 32-bit one. */
            a->max = open ? UINT32_MAX : (uint32_t)hi;
            i++;
        }
    }
    return FS_OK;
}

/* reach[j]: the atoms so far can match the first j code points. For each
 * atom the next reach follows from prefix sums over a window, so the
 * cost is O(atoms x length) whatever the repeats: no backtracking. */
int fs__pattern_match(const fs__pattern *pat, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t blen = strlen(s), n = 0, i = 0, j, k;
    uint32_t *cp;
    unsigned char *reach, *next;
    size_t *sum, *run;
    int rc = 0;

    cp = malloc((blen + 1) * sizeof *cp);
    reach = calloc(blen + 1, 1);
    next = calloc(blen + 1, 1);
    sum = malloc((blen + 2) * sizeof *sum);
    run = malloc((blen + 1) * sizeof *run);
    if (cp == NULL || reach == NULL || next == NULL || sum == NULL ||
        run == NULL) {
        rc = FS_ENOMEM;
        goto out;
    }
    while (i < blen)
        cp[n++] = next_cp(u, blen, &i);
    reach[0] = 1;
    for (k = 0; k < pat->n; k++) {
        const fs__atom *a = &pat->atoms[k];

        sum[0] = 0;
        for (j = 0; j <= n; j++)
            sum[j + 1] = sum[j] + reach[j];
        /* run[j]: start of the longest run of matching code points that
         * ends just before j. */
        run[0] = 0;
        for (j = 1; j <= n; j++)
            run[j] = set_has(a, cp[j - 1]) ? run[j - 1] : j;
        for (j = 0; j <= n; j++) {
            size_t lo, hi;

            next[j] = 0;
            if (j < a->min)
                continue;
            hi = j - a->min;
            lo = run[j];
            if (a->max != UINT32_MAX && j > a->max && j - a->max > lo)
                lo = j - a->max;
            if (lo <= hi && sum[hi + 1] - sum[lo] > 0)
                next[j] = 1;
        }
        memcpy(reach, next, n + 1);
    }
    rc = reach[n];
out:
    free(cp);
    free(reach);
    free(next);
    free(sum);
    free(run);
    return rc;
}

/* ---- conditions ------------------------------------------------------ */

/* Compares an answer with a condition value of the referenced field's
 * type: <0, 0, >0, or 2 when they cannot be compared (a wrong answer). */
static int cmp_value(const fs_field *ref, const cJSON *ans, const cJSON *v)
{
    double a, b;

    switch (ref->type) {
    case FS_FIELD_INTEGER:
    case FS_FIELD_DECIMAL:
    case FS_FIELD_LIKERT:
        if (!cJSON_IsNumber(ans) || !cJSON_IsNumber(v))
            return 2;
        a = ans->valuedouble;
        b = v->valuedouble;
        break;
    case FS_FIELD_DATE:
        if (!cJSON_IsString(ans) || !cJSON_IsString(v) ||
            fs__date_parse(ans->valuestring, &a) != 0 ||
            fs__date_parse(v->valuestring, &b) != 0)
            return 2;
        break;
    case FS_FIELD_DATETIME:
        if (!cJSON_IsString(ans) || !cJSON_IsString(v) ||
            fs__datetime_parse(ans->valuestring, &a) != 0 ||
            fs__datetime_parse(v->valuestring, &b) != 0)
            return 2;
        break;
    case FS_FIELD_TEXT:
    case FS_FIELD_SELECT_ONE:
        if (!cJSON_IsString(ans) || !cJSON_IsString(v))
            return 2;
        return strcmp(ans->valuestring, v->valuestring) == 0 ? 0 : 1;
    default:
        return 2;
    }
    return a < b ? -1 : a > b ? 1 : 0;
}

/* The length (code points) of a text answer or the number of choices of
 * a select_multiple answer; 0 when unanswered, as in XLSForm, where an
 * unanswered question is the empty text. */
static double measure(const cJSON *ans, const char *of)
{
    if (ans == NULL || cJSON_IsNull(ans))
        return 0;
    if (strcmp(of, "length") == 0)
        return cJSON_IsString(ans) ? (double)fs__utf8_count(ans->valuestring)
                                   : 0;
    return cJSON_IsArray(ans) ? (double)cJSON_GetArraySize(ans) : 0;
}

static int compare_op(const char *op, int r)
{
    if (strcmp(op, "eq") == 0)
        return r == 0;
    if (strcmp(op, "ne") == 0)
        return r != 0;
    if (strcmp(op, "lt") == 0)
        return r < 0;
    if (strcmp(op, "le") == 0)
        return r <= 0;
    if (strcmp(op, "gt") == 0)
        return r > 0;
    if (strcmp(op, "ge") == 0)
        return r >= 0;
    return 0;
}

int fs__cond_eval(const fs_form *f, const cJSON *cond, const cJSON *answers)
{
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(cond, "all");
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(cond, "any");
    const cJSON *neg = cJSON_GetObjectItemCaseSensitive(cond, "not");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(cond, "of");
    const cJSON *it, *ans, *v;
    const fs_field *ref;
    const char *op;
    int r;

    if (neg != NULL && all == NULL && any == NULL)
        return !fs__cond_eval(f, neg, answers);
    if (all != NULL) {
        cJSON_ArrayForEach(it, all)
        {
            if (!fs__cond_eval(f, it, answers))
                return 0;
        }
        return 1;
    }
    if (any != NULL) {
        cJSON_ArrayForEach(it, any)
        {
            if (fs__cond_eval(f, it, answers))
                return 1;
        }
        return 0;
    }
    it = cJSON_GetObjectItemCaseSensitive(cond, "field");
    ref = cJSON_IsString(it) ? fs_form_field_named(f, it->valuestring) : NULL;
    it = cJSON_GetObjectItemCaseSensitive(cond, "op");
    if (ref == NULL || !cJSON_IsString(it))
        return 0;
    op = it->valuestring;
    v = cJSON_GetObjectItemCaseSensitive(cond, "value");
    ans = cJSON_GetObjectItemCaseSensitive(answers, ref->name);
    if (cJSON_IsString(of)) {
        double m = measure(ans, of->valuestring);

        if (!cJSON_IsNumber(v))
            return 0;
        return compare_op(op, m < v->valuedouble   ? -1
                              : m > v->valuedouble ? 1
                                                   : 0);
    }
    if (strcmp(op, "matches") == 0) {
        fs__pattern pat;
        char why[FS_PROBLEM_MSG_MAX];

        /* Unanswered is matched as the empty text, as in XLSForm. */
        if (!cJSON_IsString(v) ||
            fs__pattern_compile(v->valuestring, &pat, why, sizeof why) != FS_OK)
            return 0;
        return fs__pattern_match(&pat, cJSON_IsString(ans) ? ans->valuestring
                                                           : "") == 1;
    }
    if (ans == NULL || cJSON_IsNull(ans))
        return 0; /* a condition on an unanswered field is false */
    if (strcmp(op, "answered") == 0)
        return 1;
    if (strcmp(op, "contains") == 0) {
        if (!cJSON_IsArray(ans) || !cJSON_IsString(v))
            return 0;
        cJSON_ArrayForEach(it, ans)
        {
            if (cJSON_IsString(it) &&
                strcmp(it->valuestring, v->valuestring) == 0)
                return 1;
        }
        return 0;
    }
    if (strcmp(op, "in") == 0) {
        cJSON_ArrayForEach(it, v)
        {
            if (cmp_value(ref, ans, it) == 0)
                return 1;
        }
        return 0;
    }
    r = cmp_value(ref, ans, v);
    if (r == 2)
        return 0;
    return compare_op(op, r);
}

int fs_consent_refused(const fs_form *f, const cJSON *answers)
{
    const cJSON *a;

    if (f->consent == NULL)
        return 0;
    a = cJSON_GetObjectItemCaseSensitive(answers, f->consent->name);
    return a != NULL &&
           !(cJSON_IsString(a) && strcmp(a->valuestring, "yes") == 0);
}

/* Why fld is not asked, or NULL when it is. refused: consent was
 * refused in answers (fs_consent_refused), -1 when not yet known. */
static const char *not_relevant_why(const fs_form *f, const fs_field *fld,
                                    const cJSON *answers, int refused)
{
    if (fld->type == FS_FIELD_NOTE)
        return "a note is display only and takes no answer";
    if (fld->flags & FS_FIELD_RETIRED)
        return "retired in this version: leave it out";
    if (!(fld->flags & (FS_FIELD_METADATA | FS_FIELD_CONSENT)) &&
        (refused < 0 ? fs_consent_refused(f, answers) : refused))
        return "consent was refused: only metadata is kept";
    if (fld->relevant != NULL && !fs__cond_eval(f, fld->relevant, answers))
        return "not asked given the earlier answers (its relevant "
               "condition is false): leave it out";
    return NULL;
}

int fs_field_relevant(const fs_form *f, const fs_field *fld,
                      const cJSON *answers)
{
    return fld->type != FS_FIELD_NOTE && fld->autofill == FS_AUTO_NONE &&
           not_relevant_why(f, fld, answers, -1) == NULL;
}

/* What depends on other answers: the constraint condition and the
 * choice filter. fld is answered with a, which passed fs_answer_check. */
static int check_dependent(const fs_form *f, const fs_field *fld,
                           const cJSON *a, const cJSON *answers, fs_problems *p)
{
    int rc = FS_OK;

    if (fld->constraint != NULL &&
        !fs__cond_eval(f, fld->constraint, answers)) {
        const char *msg =
            fs__text_get(fld->constraint_message, f->lang, f->lang);

        fs_problems_add(p, fld->name, "%s",
                        msg != NULL ? msg : "does not meet its constraint");
        rc = FS_EINVALID;
    }
    if (fld->filter_field != NULL && fld->filter_key != NULL) {
        const cJSON *by =
            cJSON_GetObjectItemCaseSensitive(answers, fld->filter_field->name);
        const cJSON *it = cJSON_IsArray(a) ? a->child : a;

        for (; it != NULL; it = cJSON_IsArray(a) ? it->next : NULL) {
            const cJSON *key = NULL;

            for (size_t i = 0; i < fld->nchoices && cJSON_IsString(it); i++)
                if (strcmp(fld->choices[i].value, it->valuestring) == 0)
                    key = cJSON_GetObjectItemCaseSensitive(
                        fld->choices[i].filter, fld->filter_key);
            if (cJSON_IsString(it) &&
                !(cJSON_IsString(key) && cJSON_IsString(by) &&
                  strcmp(key->valuestring, by->valuestring) == 0)) {
                char snip[40];

                fs__snippet(it->valuestring, snip, sizeof snip);
                fs_problems_add(p, fld->name,
                                "'%s' is not offered given the answer to "
                                "'%s'",
                                snip, fld->filter_field->name);
                rc = FS_EINVALID;
            }
        }
    }
    return rc;
}

/* ---- one answer ------------------------------------------------------ */

static int whole(double d)
{
    return fabs(d) <= FS__JSON_INT_MAX && d == floor(d);
}

/* Prints a bound for people: dates and date-times as the form gave them. */
static const char *bound_text(const fs_field *fld, const char *key, char *buf,
                              size_t cap)
{
    const cJSON *def = NULL, *fields;

    fields = cJSON_GetObjectItemCaseSensitive(fld->form->doc, "fields");
    def = cJSON_GetArrayItem(fields, (int)fld->index);
    def = cJSON_GetObjectItemCaseSensitive(def, key);
    if (cJSON_IsString(def))
        snprintf(buf, cap, "%s", def->valuestring);
    else if (cJSON_IsNumber(def))
        snprintf(buf, cap, "%.15g", def->valuedouble);
    else
        snprintf(buf, cap, "?");
    return buf;
}

static int check_bounds(const fs_field *fld, double v, fs_problems *p)
{
    char b[48];

    if (fld->has_min && v < fld->min) {
        fs_problems_add(p, fld->name, "below the minimum %s",
                        bound_text(fld, "min", b, sizeof b));
        return FS_EINVALID;
    }
    if (fld->has_max && v > fld->max) {
        fs_problems_add(p, fld->name, "above the maximum %s",
                        bound_text(fld, "max", b, sizeof b));
        return FS_EINVALID;
    }
    return FS_OK;
}

static int check_text_answer(const fs_field *fld, const char *s, fs_problems *p)
{
    size_t n = fs__utf8_count(s);
    int rc = FS_OK, m;

    if (n == 0) {
        fs_problems_add(p, fld->name,
                        "empty text: leave the answer out "
                        "instead");
        return FS_EINVALID;
    }
    if (fld->min_length >= 0 && n < (size_t)fld->min_length) {
        fs_problems_add(p, fld->name, "shorter than %ld characters",
                        fld->min_length);
        rc = FS_EINVALID;
    }
    if (fld->max_length >= 0 && n > (size_t)fld->max_length) {
        fs_problems_add(p, fld->name, "longer than %ld characters",
                        fld->max_length);
        rc = FS_EINVALID;
    }
    if (fld->pattern != NULL) {
        m = fs__pattern_match(fld->pattern, s);
        if (m < 0)
            return m;
        if (m == 0) {
            const cJSON *fields, *def;

            fields = cJSON_GetObjectItemCaseSensitive(fld->form->doc, "fields");
            def = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetArrayItem(fields, (int)fld->index), "pattern");
            fs_problems_add(p, fld->name, "does not match the pattern %s",
                            cJSON_IsString(def) ? def->valuestring : "");
            rc = FS_EINVALID;
        }
    }
    return rc;
}

static int check_multi(const fs_field *fld, const cJSON *v, fs_problems *p)
{
    const cJSON *it, *jt;
    long n = 0;
    int rc = FS_OK;

    if (!cJSON_IsArray(v)) {
        fs_problems_add(p, fld->name, "must be an array of choice codes");
        return FS_EINVALID;
    }
    cJSON_ArrayForEach(it, v)
    {
        n++;
        if (!cJSON_IsString(it) || !fs__choice_has(fld, it->valuestring)) {
            char snip[40];

            fs__snippet(cJSON_IsString(it) ? it->valuestring : "(not a text)",
                        snip, sizeof snip);
            fs_problems_add(p, fld->name, "'%s' is not one of the choices",
                            snip);
            rc = FS_EINVALID;
            continue;
        }
        for (jt = v->child; jt != it; jt = jt->next) {
            if (cJSON_IsString(jt) &&
                strcmp(jt->valuestring, it->valuestring) == 0) {
                fs_problems_add(p, fld->name, "'%s' is chosen twice",
                                it->valuestring);
                rc = FS_EINVALID;
                break;
            }
        }
    }
    if (fld->min_count >= 0 && n < fld->min_count) {
        fs_problems_add(p, fld->name, "choose at least %ld", fld->min_count);
        rc = FS_EINVALID;
    }
    if (fld->max_count >= 0 && n > fld->max_count) {
        fs_problems_add(p, fld->name, "choose at most %ld", fld->max_count);
        rc = FS_EINVALID;
    }
    if (n == 0 && (fld->flags & FS_FIELD_REQUIRED) && fld->min_count < 0) {
        fs_problems_add(p, fld->name, "required: choose at least one");
        rc = FS_EINVALID;
    }
    return rc;
}

/* 1 when every member of the object v is one of names (NULL-ended). */
static int members_only(const cJSON *v, const char *const *names)
{
    const cJSON *m;

    cJSON_ArrayForEach(m, v)
    {
        size_t k = 0;

        while (names[k] != NULL && strcmp(names[k], m->string) != 0)
            k++;
        if (names[k] == NULL)
            return 0;
    }
    return 1;
}

static int check_geopoint(const fs_field *fld, const cJSON *v, fs_problems *p)
{
    static const char *const names[] = {"lat", "lon", "accuracy", NULL};
    const cJSON *lat, *lon, *acc;

    if (!cJSON_IsObject(v)) {
        fs_problems_add(p, fld->name,
                        "must be {\"lat\": degrees, \"lon\": "
                        "degrees[, \"accuracy\": metres]}");
        return FS_EINVALID;
    }
    if (!members_only(v, names)) {
        fs_problems_add(p, fld->name,
                        "a location has lat, lon and "
                        "accuracy only");
        return FS_EINVALID;
    }
    lat = cJSON_GetObjectItemCaseSensitive(v, "lat");
    lon = cJSON_GetObjectItemCaseSensitive(v, "lon");
    acc = cJSON_GetObjectItemCaseSensitive(v, "accuracy");
    if (!cJSON_IsNumber(lat) || lat->valuedouble < -90 ||
        lat->valuedouble > 90 || !cJSON_IsNumber(lon) ||
        lon->valuedouble < -180 || lon->valuedouble > 180) {
        fs_problems_add(p, fld->name,
                        "lat must be -90..90 and lon "
                        "-180..180 degrees");
        return FS_EINVALID;
    }
    if (acc != NULL && (!cJSON_IsNumber(acc) || !(acc->valuedouble >= 0) ||
                        isinf(acc->valuedouble))) {
        fs_problems_add(p, fld->name, "accuracy is metres, >= 0");
        return FS_EINVALID;
    }
    return FS_OK;
}

/* An attachment answer: {"sha256": 64 lower-case hex, "size": bytes,
 * "type": content type, "name": base name}; the file itself travels
 * apart (PROTOCOL.md, attachments). */
int fs__check_attachment(const fs_field *fld, const cJSON *v, fs_problems *p)
{
    static const char *const names[] = {"sha256", "size", "type", "name", NULL};
    const cJSON *h, *sz, *ty, *nm;
    size_t i;

    if (!cJSON_IsObject(v)) {
        fs_problems_add(p, fld->name,
                        "must be {\"sha256\": hex, \"size\": bytes, "
                        "\"type\": content type, \"name\": file name}");
        return FS_EINVALID;
    }
    if (!members_only(v, names)) {
        fs_problems_add(p, fld->name,
                        "a file reference has sha256, size, type and "
                        "name only");
        return FS_EINVALID;
    }
    h = cJSON_GetObjectItemCaseSensitive(v, "sha256");
    sz = cJSON_GetObjectItemCaseSensitive(v, "size");
    ty = cJSON_GetObjectItemCaseSensitive(v, "type");
    nm = cJSON_GetObjectItemCaseSensitive(v, "name");
    if (!cJSON_IsString(h) || strlen(h->valuestring) != 64 ||
        strspn(h->valuestring, "0123456789abcdef") != 64) {
        fs_problems_add(p, fld->name,
                        "sha256 must be 64 lower-case hex digits");
        return FS_EINVALID;
    }
    if (!cJSON_IsNumber(sz) || !whole(sz->valuedouble) || sz->valuedouble < 1 ||
        sz->valuedouble > (double)fs_field_max_bytes(fld)) {
        fs_problems_add(p, fld->name, "size must be 1 to %ld bytes",
                        fs_field_max_bytes(fld));
        return FS_EINVALID;
    }
    if (!cJSON_IsString(ty) || !fs_field_type_allowed(fld, ty->valuestring)) {
        fs_problems_add(p, fld->name,
                        "type is not a content type this field takes");
        return FS_EINVALID;
    }
    if (!cJSON_IsString(nm) || nm->valuestring[0] == '\0' ||
        strlen(nm->valuestring) > 255 || strcmp(nm->valuestring, ".") == 0 ||
        strcmp(nm->valuestring, "..") == 0) {
        fs_problems_add(p, fld->name,
                        "name must be a file name (1 to 255 "
                        "bytes)");
        return FS_EINVALID;
    }
    for (i = 0; nm->valuestring[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)nm->valuestring[i];

        if (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\') {
            fs_problems_add(p, fld->name,
                            "name is a base name: no /, \\ or control "
                            "characters");
            return FS_EINVALID;
        }
    }
    return FS_OK;
}

int fs_answer_check(const fs_form *f, const fs_field *fld, const cJSON *v,
                    fs_problems *p)
{
    double d;
    char snip[40];

    (void)f;
    if (v == NULL || cJSON_IsNull(v)) {
        fs_problems_add(p, fld->name,
                        "null is not an answer: leave the "
                        "field out instead");
        return FS_EINVALID;
    }
    switch (fld->type) {
    case FS_FIELD_TEXT:
        if (!cJSON_IsString(v)) {
            fs_problems_add(p, fld->name, "must be a text");
            return FS_EINVALID;
        }
        return check_text_answer(fld, v->valuestring, p);
    case FS_FIELD_INTEGER:
        if (!cJSON_IsNumber(v) || !whole(v->valuedouble)) {
            fs_problems_add(p, fld->name, "must be a whole number");
            return FS_EINVALID;
        }
        return check_bounds(fld, v->valuedouble, p);
    case FS_FIELD_DECIMAL:
        /* 1e400 parses to infinity, which no answer means and which the
         * canonical text would store as null. */
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
            fs_problems_add(p, fld->name, "must be a number");
            return FS_EINVALID;
        }
        return check_bounds(fld, v->valuedouble, p);
    case FS_FIELD_SELECT_ONE:
        if (!cJSON_IsString(v)) {
            fs_problems_add(p, fld->name, "must be one choice code (text)");
            return FS_EINVALID;
        }
        if (!fs__choice_has(fld, v->valuestring)) {
            fs__snippet(v->valuestring, snip, sizeof snip);
            fs_problems_add(p, fld->name, "'%s' is not one of the choices",
                            snip);
            return FS_EINVALID;
        }
        return FS_OK;
    case FS_FIELD_SELECT_MULTIPLE:
        return check_multi(fld, v, p);
    case FS_FIELD_LIKERT:
        if (!cJSON_IsNumber(v) || !whole(v->valuedouble) ||
            v->valuedouble < 1 || v->valuedouble > fld->scale) {
            fs_problems_add(p, fld->name,
                            "must be a whole number from 1 to "
                            "%d",
                            fld->scale);
            return FS_EINVALID;
        }
        return FS_OK;
    case FS_FIELD_DATE:
        if (!cJSON_IsString(v) || fs__date_parse(v->valuestring, &d) != 0) {
            fs_problems_add(p, fld->name, "must be a date YYYY-MM-DD");
            return FS_EINVALID;
        }
        return check_bounds(fld, d, p);
    case FS_FIELD_DATETIME:
        if (!cJSON_IsString(v) || fs__datetime_parse(v->valuestring, &d) != 0) {
            fs_problems_add(p, fld->name,
                            "must be a date-time such as "
                            "2026-03-01T14:30:00Z or "
                            "2026-03-01T15:30:00+01:00");
            return FS_EINVALID;
        }
        return check_bounds(fld, d, p);
    case FS_FIELD_GEOPOINT:
        return check_geopoint(fld, v, p);
    case FS_FIELD_IMAGE:
    case FS_FIELD_AUDIO:
    case FS_FIELD_FILE:
        /* A sealed field's file is sealed on the device: its answer is
         * checked as it is before sealing (fs_seal.h). */
        if (fld->flags & FS_FIELD_SEALED)
            return fs__seal_check_file_ref(fld, v, 1, p);
        return fs__check_attachment(fld, v, p);
    case FS_FIELD_NOTE:
    default:
        fs_problems_add(p, fld->name,
                        "a note is display only and takes no "
                        "answer");
        return FS_EINVALID;
    }
}

/* ---- whole submissions ----------------------------------------------- */

/* The field named name among the first nf, looked for from *hint on and
 * then from the start; *hint moves past the field found. Field names are
 * unique in a form, so the result is fs_form_field_named's. */
static const fs_field *field_from(const fs_form *f, size_t nf, const char *name,
                                  size_t *hint)
{
    size_t k, i;

    if (name == NULL || nf == 0)
        return NULL;
    for (k = 0; k < nf; k++) {
        i = (*hint + k) % nf;
        if (strcmp(f->fields[i].name, name) == 0) {
            *hint = i + 1;
            return &f->fields[i];
        }
    }
    return NULL;
}

int fs_answers_validate(const fs_form *f, const cJSON *answers,
                        const char *area, fs_problems *p)
{
    const cJSON *a;
    size_t i, bad = 0;
    int rc;

    if (area != NULL && area[0] != '\0' && !fs_valid_area_code(area)) {
        fs_problems_add(p, "area",
                        "not an area code (letters, digits, . _ "
                        "-, at most 64)");
        bad++;
    } else if (f->area_required && (area == NULL || area[0] == '\0')) {
        fs_problems_add(p, "area",
                        "this form needs the neighbourhood: give "
                        "its area code");
        bad++;
    }
    if (!cJSON_IsObject(answers)) {
        fs_problems_add(p, "answers",
                        "must be a JSON object of field names "
                        "and values");
        return FS_EINVALID;
    }
    /* by_field[i]: the first answer to field i. Answers usually come in
     * the form's order, so each field is looked for from where the last
     * one was found: this pass runs on every submission a hub merges,
     * and searching from the start each time made it quadratic. */
    const cJSON *by_field[FS__FORM_FIELDS_MAX];
    size_t nf =
        f->nfields < FS__FORM_FIELDS_MAX ? f->nfields : FS__FORM_FIELDS_MAX;
    size_t hint = 0;
    int keyless = 0, refused, sealed = 0;

    memset(by_field, 0, nf * sizeof by_field[0]);
    cJSON_ArrayForEach(a, answers)
    {
        char snip[FS_PROBLEM_WHERE_MAX];
        const fs_field *fld = field_from(f, nf, a->string, &hint);

        keyless |= a->string == NULL;
        if (fld == NULL && f->nsealed > 0 && !sealed && a->string != NULL &&
            strcmp(a->string, FS_SEALED_MEMBER) == 0) {
            /* Sealed on the device: its fields are checked there. */
            sealed = 1;
            bad += fs__seal_check_envelope(f, a, p);
            continue;
        }
        if (fld == NULL) {
            fs__snippet(a->string != NULL ? a->string : "", snip, sizeof snip);
            fs_problems_add(p, snip, "not a field of form %s version %lld",
                            f->id, (long long)f->version);
            bad++;
            continue;
        }
        if (by_field[fld->index] != NULL) {
            fs__snippet(a->string, snip, sizeof snip);
            fs_problems_add(p, snip, "answered twice");
            bad++;
            continue;
        }
        by_field[fld->index] = a;
    }
    /* Consent once, not once per field: by_field holds the first answer
     * to it, the one a look-up by name finds - unless a member without a
     * name (not from a parse) would stop that look-up short. */
    refused = -1;
    if (!keyless && f->consent != NULL && f->consent->index < nf) {
        a = by_field[f->consent->index];
        refused = a != NULL &&
                  !(cJSON_IsString(a) && strcmp(a->valuestring, "yes") == 0);
    }
    for (i = 0; i < nf; i++) {
        const fs_field *fld = &f->fields[i];
        const char *why;

        a = by_field[i];
        if (sealed && (fld->flags & FS_FIELD_SEALED)) {
            /* Only the envelope may hold it; whether it was asked and
             * answered was checked before sealing. A sealed file leaves
             * its sealed reference beside the envelope, for the hub to
             * take the file by. */
            if (a != NULL && fs_field_type_is_attachment(fld->type)) {
                rc = fs__seal_check_file_ref(fld, a, 0, p);
                if (rc == FS_ENOMEM)
                    return rc;
                bad += rc != FS_OK;
            } else if (a != NULL) {
                fs_problems_add(p, fld->name,
                                "sealed: its answer travels only inside "
                                "the sealed answers, never in plain text");
                bad++;
            }
            continue;
        }
        why = not_relevant_why(f, fld, answers, refused);
        if (a != NULL && why != NULL) {
            fs_problems_add(p, fld->name, "%s", why);
            bad++;
        } else if (a != NULL) {
            rc = fs_answer_check(f, fld, a, p);
            if (rc == FS_ENOMEM)
                return rc;
            if (rc == FS_OK)
                rc = check_dependent(f, fld, a, answers, p);
            bad += rc != FS_OK;
        } else if (why == NULL && (fld->flags & FS_FIELD_REQUIRED)) {
            fs_problems_add(p, fld->name, "%s",
                            (fld->flags & FS_FIELD_CONSENT)
                                ? "required: ask for consent first"
                                : "required");
            bad++;
        }
    }
    return bad > 0 ? FS_EINVALID : FS_OK;
}

int fs_answers_dedupe_key(const fs_form *f, const cJSON *answers, char *out,
                          size_t cap)
{
    size_t used, i;
    int w;

    if (cap == 0)
        return FS_ETOOBIG;
    out[0] = '\0';
    if (f->ndedupe == 0)
        return FS_OK;
    w = snprintf(out, cap, "%s", f->id);
    if (w < 0 || (size_t)w >= cap)
        return FS_ETOOBIG;
    used = (size_t)w;
    for (i = 0; i < f->ndedupe; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(
            answers, f->fields[f->dedupe[i]].name);
        char *text = a != NULL ? fs__json_print(a) : NULL;

        w = snprintf(out + used, cap - used, "|%s", text ? text : "");
        free(text);
        if (w < 0 || (size_t)w >= cap - used) {
            out[0] = '\0';
            return FS_ETOOBIG;
        }
        used += (size_t)w;
    }
    return FS_OK;
}
