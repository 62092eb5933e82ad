/*
 * csvread.c - see csvread.h.
 */
#include <stdlib.h>
#include <string.h>

#include "csvread.h"
#include "fs_protocol.h"

void hub__csv_init(hub_csv *c, FILE *f)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->max_bytes = HUB_CSV_FILE_MAX;
    c->line = 1;
}

void hub__csv_free(hub_csv *c)
{
    free(c->buf);
    free(c->offs);
    c->buf = NULL;
    c->offs = NULL;
}

/* The next byte, or EOF; -2 when the file passes its limit. */
static int get(hub_csv *c)
{
    int ch = getc(c->f);
    if (ch == EOF)
        return EOF;
    if (++c->bytes > c->max_bytes)
        return -2;
    if (ch == '\n')
        c->lines++;
    return ch;
}

/* Appends ch (a NUL only as a field's end). -1 when the record would
 * pass its limit. */
static int put_raw(hub_csv *c, char ch)
{
    if (c->len + 1 >= c->cap) {
        if (c->cap >= HUB_CSV_RECORD_MAX)
            return -1;
        size_t cap = c->cap ? c->cap * 2 : 4096;
        char *b = realloc(c->buf, cap);
        if (!b)
            return -1;
        c->buf = b;
        c->cap = cap;
    }
    c->buf[c->len++] = ch;
    return 0;
}

/* Appends a byte of a field: -2 for a NUL byte, which no text holds. */
static int put(hub_csv *c, char ch)
{
    return ch == '\0' ? -2 : put_raw(c, ch);
}

/* Ends the current field and starts the next. */
static int end_field(hub_csv *c)
{
    if (put_raw(c, '\0') != 0)
        return -1;
    c->n++;
    if (c->n >= c->offs_cap) {
        size_t *o = realloc(c->offs, (c->offs_cap + 64) * sizeof *o);
        if (!o)
            return -1;
        c->offs = o;
        c->offs_cap += 64;
    }
    c->offs[c->n] = c->len; /* where the next one would start */
    return 0;
}

static int fail(hub_csv *c, char *err, size_t cap, const char *why)
{
    snprintf(err, cap, "line %lld (row %lld): %s", (long long)c->line,
             (long long)c->record + 1, why);
    return -1;
}

/* The byte order mark, when the file starts with one, is skipped. */
static int skip_bom(hub_csv *c)
{
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    int ch = get(c);
    if (ch != bom[0])
        return ch;
    int b = get(c);
    int d = b == bom[1] ? get(c) : EOF;
    if (b == bom[1] && d == bom[2])
        return get(c);
    /* Not a BOM: the file is not UTF-8 text either. */
    return -3;
}

int hub__csv_next(hub_csv *c, char *err, size_t cap)
{
    static const char too_long[] =
        "a record is longer than 1 MiB (is a quote left open?)";
    static const char nul[] = "a NUL byte: this is not a text file";
    int ch, p;
    if (!c->started) {
        c->started = 1;
        ch = skip_bom(c);
        if (ch == -3)
            return fail(c, err, cap, "not UTF-8 text");
    } else {
        ch = get(c);
    }
    /* Blank lines between records are nothing. */
    while (ch == '\n' || ch == '\r')
        ch = get(c);
    if (ch == EOF)
        return ferror(c->f) ? fail(c, err, cap, "read error") : 0;
    c->line = c->lines + 1;
    c->len = 0;
    c->n = 0;
    if (!c->offs) {
        if (!(c->offs = malloc(64 * sizeof *c->offs)))
            return fail(c, err, cap, "out of memory");
        c->offs_cap = 64;
    }
    c->offs[0] = 0;
    for (;;) {
        if (ch == -2)
            return fail(c, err, cap, "the file is larger than 512 MiB");
        if (c->n >= HUB_CSV_COLUMNS_MAX)
            return fail(c, err, cap, "more than 2000 columns");
        if (ch == '"') {
            /* A quoted field: anything up to a quote not doubled. */
            for (;;) {
                ch = get(c);
                if (ch == -2)
                    return fail(c, err, cap, "the file is larger than 512 MiB");
                if (ch == EOF)
                    return fail(c, err, cap,
                                "a quoted field is not closed before the end "
                                "of the file");
                if (ch == '"') {
                    ch = get(c);
                    if (ch != '"')
                        break;
                }
                if ((p = put(c, (char)ch)) != 0)
                    return fail(c, err, cap, p == -2 ? nul : too_long);
            }
            if (ch != ',' && ch != '\n' && ch != '\r' && ch != EOF && ch != -2)
                return fail(c, err, cap,
                            "text after the closing quote of a field (a "
                            "quote inside a quoted field is written \"\")");
        } else {
            while (ch != ',' && ch != '\n' && ch != '\r' && ch != EOF &&
                   ch != -2) {
                if (ch == '"')
                    return fail(c, err, cap,
                                "a quote inside a field that does not start "
                                "with one (quote the whole field and double "
                                "the quote)");
                if ((p = put(c, (char)ch)) != 0)
                    return fail(c, err, cap, p == -2 ? nul : too_long);
                ch = get(c);
            }
        }
        if (ch == -2)
            continue; /* reported above */
        size_t start = c->offs[c->n];
        if (end_field(c) != 0)
            return fail(c, err, cap, too_long);
        if (!fs_utf8_valid(c->buf + start, c->len - 1 - start))
            return fail(c, err, cap,
                        "not UTF-8 text (save the file as CSV UTF-8)");
        if (ch == ',') {
            ch = get(c);
            continue;
        }
        if (ch == '\r') {
            ch = get(c);
            if (ch != '\n' && ch != EOF && ch != -2 && ungetc(ch, c->f) != EOF)
                c->bytes--;
        }
        c->record++;
        return 1;
    }
}

const char *hub__csv_field(const hub_csv *c, size_t i)
{
    return i < c->n ? c->buf + c->offs[i] : "";
}
