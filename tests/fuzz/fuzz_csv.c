/*
 * fuzz_csv.c - the CSV reader of `fieldsync-hub import csv`
 * (sync-server/csvread.c) on any bytes. Input: the file.
 *
 * Invariants: every record has 1 to HUB_CSV_COLUMNS_MAX fields of valid
 * UTF-8 without NUL bytes, and record numbers count up by one; the
 * records written back as RFC 4180 CSV (every field quoted, quotes
 * doubled, CRLF) read back to the same fields.
 */
#include <stdlib.h>
#include <string.h>

#include "csvread.h"
#include "fs_protocol.h"
#include "fuzz.h"

/* Appends field s quoted to the memory stream out. */
static void put_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *in = fmemopen((void *)(uintptr_t)data, size, "rb");
    char *copy = NULL;
    size_t copy_len = 0;
    FILE *out = open_memstream(&copy, &copy_len);
    REQUIRE(in && out);
    hub_csv c;
    hub__csv_init(&c, in);
    char err[256];
    int r;
    int64_t records = 0;
    size_t fields = 0;
    while ((r = hub__csv_next(&c, err, sizeof err)) > 0) {
        REQUIRE(c.record == ++records);
        REQUIRE(c.n >= 1 && c.n <= HUB_CSV_COLUMNS_MAX);
        for (size_t i = 0; i < c.n; i++) {
            const char *f = hub__csv_field(&c, i);
            REQUIRE(fs_utf8_valid(f, strlen(f)));
            if (i)
                fputc(',', out);
            put_quoted(out, f);
            fields++;
        }
        fputs("\r\n", out);
    }
    REQUIRE(r == 0 || (r == -1 && err[0]));
    hub__csv_free(&c);
    fclose(in);
    fclose(out);
    if (r == 0) {
        /* Read back: the same records, field by field. */
        FILE *again = fmemopen(copy, copy_len ? copy_len : 1, "rb");
        FILE *first = fmemopen((void *)(uintptr_t)data, size, "rb");
        REQUIRE(again && first);
        hub_csv a, b;
        hub__csv_init(&a, again);
        hub__csv_init(&b, first);
        size_t seen = 0;
        while (copy_len && hub__csv_next(&b, err, sizeof err) > 0) {
            REQUIRE(hub__csv_next(&a, err, sizeof err) > 0);
            REQUIRE(a.n == b.n);
            for (size_t i = 0; i < a.n; i++) {
                /* A record of one empty field writes "" back, which
                 * reads as that field; a blank line would not. */
                REQUIRE(strcmp(hub__csv_field(&a, i), hub__csv_field(&b, i)) ==
                        0);
                seen++;
            }
        }
        REQUIRE(seen == fields);
        hub__csv_free(&a);
        hub__csv_free(&b);
        fclose(again);
        fclose(first);
    }
    free(copy);
    return 0;
}
