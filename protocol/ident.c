/*
 * ident.c - syntax of the identifiers that travel on the wire.
 *
 * These strings end up in SQL (always as bound parameters), file names
 * and log lines; a narrow alphabet keeps every one of those uses boring.
 */
#include <stdio.h>
#include <string.h>

#include "fs_internal.h"

static int is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_lower(c) || is_digit(c) || (c >= 'A' && c <= 'Z');
}

static int is_lower_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

int fs_valid_uuid(const char *s)
{
    size_t i;

    if (s == NULL)
        return 0;
    for (i = 0; i < FS_UUID_LEN; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;

        /* A NUL before the end fails both tests, so this never reads
         * past a short string. */
        if (dash ? s[i] != '-' : !is_lower_hex(s[i]))
            return 0;
    }
    return s[FS_UUID_LEN] == '\0';
}

/* The bytes after the first of [a-z][a-z0-9_]{0,63}: a table, as the
 * hub tests every answer's name. */
static const unsigned char ident_tail[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
    ['7'] = 1, ['8'] = 1, ['9'] = 1, ['_'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,
    ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
    ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1};

/* [a-z][a-z0-9_]{0,63} */
static int valid_lower_ident(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i;

    if (s == NULL || !is_lower(s[0]))
        return 0;
    for (i = 1; ident_tail[p[i]]; i++)
        if (i >= FS_ID_MAX)
            return 0;
    return p[i] == '\0';
}

int fs_valid_form_id(const char *s)
{
    return valid_lower_ident(s);
}

int fs_valid_field_name(const char *s)
{
    return valid_lower_ident(s);
}

/* A letter or digit, then up to 63 letters, digits and the punctuation
 * in extra. */
static int valid_code(const char *s, const char *extra)
{
    size_t i;

    if (s == NULL || !is_alnum(s[0]))
        return 0;
    for (i = 1; s[i] != '\0'; i++) {
        if (i >= FS_ID_MAX)
            return 0;
        if (!is_alnum(s[i]) && strchr(extra, s[i]) == NULL)
            return 0;
    }
    return 1;
}

int fs_valid_area_code(const char *s)
{
    return valid_code(s, "._-");
}

int fs_valid_choice_code(const char *s)
{
    return valid_code(s, "._+-");
}

int fs_valid_name(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n, i;

    if (s == NULL)
        return 0;
    n = strnlen(s, FS_NAME_MAX + 1);
    if (n == 0 || n > FS_NAME_MAX)
        return 0;
    if (p[0] == ' ' || p[n - 1] == ' ')
        return 0;
    for (i = 0; i < n;) {
        size_t k = fs__utf8_seq(p + i, n - i);

        if (k == 0)
            return 0;
        if (p[i] < 0x20 || p[i] == 0x7f)
            return 0;
        /* C1 controls (U+0080..U+009F) are control characters too. */
        if (k == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0)
            return 0;
        i += k;
    }
    return 1;
}

int fs_scope_has(const char *scope, const char *item)
{
    if (scope[0] == '\0' || strcmp(scope, "*") == 0)
        return 1;
    size_t n = strlen(item);
    for (const char *p = scope; n > 0 && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, item, n) == 0)
            return 1;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* A chain of parents longer than this is a cycle. */
#define AREA_WALK_MAX 64

int fs_area_covered(const char *scope, const char *area, const char *parent,
                    fs_parent_fn parent_of, void *ctx)
{
    char at[FS_ID_MAX + 1];
    snprintf(at, sizeof at, "%s", area);
    for (int step = 0; at[0] && step < AREA_WALK_MAX; step++) {
        if (fs_scope_has(scope, at))
            return 1;
        if (step == 0 && parent) {
            snprintf(at, sizeof at, "%s", parent);
            continue;
        }
        char up[FS_ID_MAX + 1] = "";
        int rc = parent_of(ctx, at, up, sizeof up);
        if (rc <= 0)
            return rc;
        memcpy(at, up, sizeof at);
    }
    return 0;
}
