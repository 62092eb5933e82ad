/*
 * output.h - where the mapping dataset's tables and exports go: a FILE
 * (the CLI) or a chunked HTTP reply (the API), written as they are
 * produced; and one renderer of flat rows (a cJSON array of objects) as
 * CSV, JSON or aligned text.
 *
 * Rows, roots and column lists are borrowed unless a function says it
 * consumes them.
 */
#ifndef HUB_OUTPUT_H
#define HUB_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <civetweb.h>

#include "fs_protocol.h"

enum { HUB_FMT_TEXT = 0, HUB_FMT_JSON = 1, HUB_FMT_CSV = 2 };

/* Where output goes: a FILE, or a chunked HTTP reply (headers sent by
 * hub__sink_http). Writes are buffered; a failed write (client gone,
 * disk full) sets failed and later writes do nothing. */
typedef struct hub_sink {
    FILE *file;
    struct mg_connection *conn;
    int failed;
    int raw_cells; /* CSV: 1 writes cells as they are (see hub__sink_csv) */
    int64_t bytes; /* written so far */
    size_t len;
    char buf[16384];
} hub_sink;

void hub__sink_file(hub_sink *s, FILE *f);
/* Sends a 200 with ctype and Transfer-Encoding: chunked; filename (may
 * be NULL) names the download. */
void hub__sink_http(hub_sink *s, struct mg_connection *conn, const char *ctype,
                    const char *filename);
int hub__sink_write(hub_sink *s, const char *p, size_t n);
int hub__sink_puts(hub_sink *s, const char *str);
int hub__sink_printf(hub_sink *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One CSV field (RFC 4180 quoting), preceded by a comma unless first;
 * NULL writes an empty field. Unless s->raw_cells, a cell a spreadsheet
 * would run as a formula (one starting with =, +, -, @, tab or CR, that
 * is not a plain number) is written with a leading ' so it shows as the
 * text it is. */
int hub__sink_csv(hub_sink *s, const char *v, int first);
/* Flushes and ends the chunked reply. 0, or -1 when any write failed. */
int hub__sink_end(hub_sink *s);

/* Flat rows (a cJSON array of objects) as CSV with a header of cols
 * (NULL-terminated), or as aligned text (hub__table_text, each column
 * as wide as its widest cell). */
int hub__rows_csv(hub_sink *s, const cJSON *rows, const char *const *cols);
int hub__rows_text(FILE *out, const cJSON *rows, const char *const *cols);

/* One column of a text table. */
typedef struct hub_col {
    const char *key;   /* the member of each row shown */
    const char *title; /* its heading; NULL: the key */
    int width;         /* at least this wide; 0: as wide as its widest cell */
    int right;         /* aligned right (counts) */
} hub_col;

/* The one text table of the admin commands: a heading line, then one
 * line per row of rows (flat objects), cells after lead (first) or two
 * spaces; an absent or null cell shows "-". The last column is padded
 * to its width only when pad_last. 0, or -1 when out failed. */
int hub__table_text(FILE *out, const cJSON *rows, const hub_col *cols, size_t n,
                    const char *lead, int pad_last);
/* Prints root as JSON, or its array root[key] as CSV or text. */
int hub__print_rows(FILE *out, int format, const cJSON *root, const char *key,
                    const char *const *cols);
/* Replies root (consumed) as JSON, or root[key] as CSV. */
void hub__reply_rows(struct mg_connection *conn, int format, cJSON *root,
                     const char *key, const char *const *cols,
                     const char *filename);

#endif
