/*
 * csvread.h - a streaming reader of CSV files as RFC 4180 describes them
 * (fields separated by commas, quoted fields with doubled quotes, line
 * breaks inside quotes, CRLF or LF line ends), UTF-8 with an optional
 * byte order mark. One record at a time in a buffer the reader reuses:
 * memory stays bounded by the longest record, whatever the file's size.
 */
#ifndef HUB_CSVREAD_H
#define HUB_CSVREAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Limits: a record longer than this, more columns, or a longer file is
 * refused with a message (never cut). */
#define HUB_CSV_RECORD_MAX (1024 * 1024)
#define HUB_CSV_COLUMNS_MAX 2000
#define HUB_CSV_FILE_MAX (512LL * 1024 * 1024)

typedef struct hub_csv {
    FILE *f;
    long long max_bytes; /* the file's limit (HUB_CSV_FILE_MAX by default) */
    long long bytes;     /* read so far */
    int64_t record;      /* records read; the first (the header) is 1 */
    int64_t line;        /* line where the current record starts */
    int64_t lines;       /* line breaks seen */
    int started;         /* the byte order mark was looked for */
    char *buf;           /* the record's fields, each NUL-terminated */
    size_t len, cap;
    size_t *offs; /* where each field starts in buf */
    size_t n;     /* fields of the current record */
    size_t offs_cap;
} hub_csv;

/* Reads from f (the caller's, left open). */
void hub__csv_init(hub_csv *c, FILE *f);
void hub__csv_free(hub_csv *c);

/* Reads the next record: 1 when there is one, 0 at the end of the file,
 * -1 when the file is not CSV as above (err says where and why).
 * Blank lines are skipped. */
int hub__csv_next(hub_csv *c, char *err, size_t cap);

/* Field i of the current record ("" past its last field). */
const char *hub__csv_field(const hub_csv *c, size_t i);

#endif
