/*
 * output.c - where the mapping dataset's tables and exports go: a FILE
 * (the CLI) or a chunked HTTP reply (the API), written as they are
 * produced so that a long export never sits whole in memory; and one
 * renderer of flat rows as CSV or aligned text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "http.h"

void hub__sink_file(hub_sink *s, FILE *f)
{
    memset(s, 0, sizeof *s);
    s->file = f;
}

void hub__sink_http(hub_sink *s, struct mg_connection *conn, const char *ctype,
                    const char *filename)
{
    memset(s, 0, sizeof *s);
    s->conn = conn;
    mg_response_header_start(conn, 200);
    mg_response_header_add(conn, "Content-Type", ctype, -1);
    mg_response_header_add(conn, "Transfer-Encoding", "chunked", -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    if (filename) {
        char cd[160];
        snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", filename);
        mg_response_header_add(conn, "Content-Disposition", cd, -1);
    }
    mg_response_header_send(conn);
}

static int flush(hub_sink *s)
{
    if (s->len == 0 || s->failed)
        return s->failed ? -1 : 0;
    if (s->conn) {
        /* A client that went away ends the export; nothing to clean. */
        if (mg_send_chunk(s->conn, s->buf, (unsigned)s->len) < 0)
            s->failed = 1;
    } else if (fwrite(s->buf, 1, s->len, s->file) != s->len) {
        s->failed = 1;
    }
    s->len = 0;
    return s->failed ? -1 : 0;
}

int hub__sink_write(hub_sink *s, const char *p, size_t n)
{
    s->bytes += (int64_t)n;
    while (n > 0 && !s->failed) {
        size_t room = sizeof s->buf - s->len;
        size_t take = n < room ? n : room;
        memcpy(s->buf + s->len, p, take);
        s->len += take;
        p += take;
        n -= take;
        if (s->len == sizeof s->buf)
            flush(s);
    }
    return s->failed ? -1 : 0;
}

int hub__sink_puts(hub_sink *s, const char *str)
{
    return hub__sink_write(s, str, strlen(str));
}

int hub__sink_printf(hub_sink *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return hub__sink_write(s, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return s->failed = 1, -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = hub__sink_write(s, big, (size_t)n);
    free(big);
    return rc;
}

/* 1 when a spreadsheet opening v would read it as a formula: answers
 * come from devices, and "=HYPERLINK(...)" in a comment must stay text.
 * A plain number ("-3", "+2.5") is data and stays as it is. */
static int formula_like(const char *v)
{
    if (!v[0] || !strchr("=+-@\t\r", v[0]))
        return 0;
    if (v[0] != '-' && v[0] != '+')
        return 1;
    const char *p = v + 1;
    int digits = 0, dot = 0;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits = 1;
        else if (*p == '.' && !dot)
            dot = 1;
        else
            return 1;
    }
    return !digits;
}

int hub__sink_csv(hub_sink *s, const char *v, int first)
{
    if (!first)
        hub__sink_write(s, ",", 1);
    if (!v)
        return s->failed ? -1 : 0;
    /* A neutralised cell is quoted whole, so the ' stays part of its
     * text. */
    int prefix = !s->raw_cells && formula_like(v);
    /* RFC 4180: quote a field holding a separator, quote or line break;
     * double the quotes inside. */
    if (!prefix && strpbrk(v, ",\"\r\n") == NULL)
        return hub__sink_puts(s, v);
    hub__sink_write(s, prefix ? "\"'" : "\"", prefix ? 2 : 1);
    for (const char *q = strchr(v, '"'); q; q = strchr(v, '"')) {
        hub__sink_write(s, v, (size_t)(q - v) + 1);
        hub__sink_write(s, "\"", 1);
        v = q + 1;
    }
    hub__sink_puts(s, v);
    return hub__sink_write(s, "\"", 1);
}

int hub__sink_end(hub_sink *s)
{
    flush(s);
    if (s->conn && !s->failed && mg_send_chunk(s->conn, "", 0) < 0)
        s->failed = 1;
    if (s->file && !s->failed && fflush(s->file) != 0)
        s->failed = 1;
    return s->failed ? -1 : 0;
}

/* The text of one value of a flat row: NULL for null or absent. */
static const char *cell_text(const cJSON *v, char *tmp, size_t cap)
{
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == (double)(long long)d && d < 9e15 && d > -9e15)
            snprintf(tmp, cap, "%lld", (long long)d);
        else
            snprintf(tmp, cap, "%.10g", d);
        return tmp;
    }
    return "";
}

int hub__rows_csv(hub_sink *s, const cJSON *rows, const char *const *cols)
{
    char tmp[64];
    for (size_t c = 0; cols[c]; c++)
        hub__sink_csv(s, cols[c], c == 0);
    hub__sink_write(s, "\r\n", 2);
    const cJSON *r;
    cJSON_ArrayForEach(r, rows)
    {
        for (size_t c = 0; cols[c]; c++)
            hub__sink_csv(
                s,
                cell_text(cJSON_GetObjectItemCaseSensitive(r, cols[c]), tmp,
                          sizeof tmp),
                c == 0);
        hub__sink_write(s, "\r\n", 2);
    }
    return s->failed ? -1 : 0;
}

#define TEXT_COLS_MAX 24

static const char *col_title(const hub_col *c)
{
    return c->title ? c->title : c->key;
}

/* One line of a table: the heading when r is NULL. */
static void table_line(FILE *out, const cJSON *r, const hub_col *cols, size_t n,
                       const int *w, const char *lead, int pad_last)
{
    char tmp[64];
    fputs(lead, out);
    for (size_t c = 0; c < n; c++) {
        const char *t =
            r ? cell_text(cJSON_GetObjectItemCaseSensitive(r, cols[c].key), tmp,
                          sizeof tmp)
              : col_title(&cols[c]);
        if (!t)
            t = "-";
        int last = c + 1 == n;
        if (cols[c].right)
            fprintf(out, "%*s", w[c], t);
        else if (last && !pad_last)
            fputs(t, out);
        else
            fprintf(out, "%-*s", w[c], t);
        fputs(last ? "\n" : "  ", out);
    }
}

int hub__table_text(FILE *out, const cJSON *rows, const hub_col *cols, size_t n,
                    const char *lead, int pad_last)
{
    int w[TEXT_COLS_MAX] = {0};
    char tmp[64];
    const cJSON *r;
    if (n > TEXT_COLS_MAX)
        n = TEXT_COLS_MAX;
    for (size_t c = 0; c < n; c++) {
        w[c] = cols[c].width;
        if (w[c] > 0)
            continue;
        w[c] = (int)strlen(col_title(&cols[c]));
        cJSON_ArrayForEach(r, rows)
        {
            const char *t =
                cell_text(cJSON_GetObjectItemCaseSensitive(r, cols[c].key), tmp,
                          sizeof tmp);
            int l = t ? (int)strlen(t) : 1;
            if (l > w[c])
                w[c] = l;
        }
    }
    table_line(out, NULL, cols, n, w, lead, pad_last);
    cJSON_ArrayForEach(r, rows)
    {
        table_line(out, r, cols, n, w, lead, pad_last);
    }
    return ferror(out) ? -1 : 0;
}

int hub__rows_text(FILE *out, const cJSON *rows, const char *const *cols)
{
    hub_col c[TEXT_COLS_MAX];
    size_t n = 0;
    for (; cols[n] && n < TEXT_COLS_MAX; n++)
        c[n] = (hub_col){cols[n], NULL, 0, 0};
    return hub__table_text(out, rows, c, n, "", 1);
}

int hub__print_rows(FILE *out, int format, const cJSON *root, const char *key,
                    const char *const *cols)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(root, key);
    if (format == HUB_FMT_JSON) {
        char *t = cJSON_Print(root);
        if (!t)
            return -1;
        fprintf(out, "%s\n", t);
        free(t);
        return ferror(out) ? -1 : 0;
    }
    if (format == HUB_FMT_CSV) {
        hub_sink s;
        hub__sink_file(&s, out);
        hub__rows_csv(&s, rows, cols);
        return hub__sink_end(&s);
    }
    return hub__rows_text(out, rows, cols);
}

void hub__reply_rows(struct mg_connection *conn, int format, cJSON *root,
                     const char *key, const char *const *cols,
                     const char *filename)
{
    if (format != HUB_FMT_CSV) {
        hub__reply_obj(conn, 200, root);
        return;
    }
    hub_sink s;
    hub__sink_http(&s, conn, "text/csv; charset=utf-8", filename);
    hub__rows_csv(&s, cJSON_GetObjectItemCaseSensitive(root, key), cols);
    hub__sink_end(&s);
    cJSON_Delete(root);
}
