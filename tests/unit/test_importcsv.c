/*
 * test_importcsv.c - the parts of `fieldsync-hub import csv` that read
 * text: the CSV reader (sync-server/csvread.h) on RFC 4180's cases and
 * on what it must refuse, and the dates of --date-format
 * (hub__import_date), two-digit years and impossible days included.
 */
#include <stdlib.h>
#include <string.h>

#include "csvread.h"
#include "importcsv.h"
#include "unit.h"

/* Reads text (len bytes) and joins its records as "a|b;c|d;" into out;
 * returns hub__csv_next's last result, err its message. */
static int read_all(const char *text, size_t len, char *out, size_t cap,
                    char *err, size_t errcap)
{
    FILE *f = fmemopen((void *)(uintptr_t)text, len, "rb");
    if (!f)
        return -9;
    hub_csv c;
    hub__csv_init(&c, f);
    size_t o = 0;
    int r;
    out[0] = err[0] = '\0';
    while ((r = hub__csv_next(&c, err, errcap)) > 0) {
        for (size_t i = 0; i < c.n; i++)
            o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "|" : "",
                                  hub__csv_field(&c, i));
        o += (size_t)snprintf(out + o, cap - o, ";");
    }
    hub__csv_free(&c);
    fclose(f);
    return r;
}

#define READS(text, want)                                                      \
    do {                                                                       \
        char got_[512], err_[256];                                             \
        int r_ = read_all(text, sizeof(text) - 1, got_, sizeof got_, err_,     \
                          sizeof err_);                                        \
        if (r_ != 0 || strcmp(got_, want) != 0)                                \
            return failf(__FILE__, __LINE__, "%s: got '%s' (%d %s)", #text,    \
                         got_, r_, err_);                                      \
    } while (0)

#define REFUSES(text, words)                                                   \
    do {                                                                       \
        char got_[512], err_[256];                                             \
        int r_ = read_all(text, sizeof(text) - 1, got_, sizeof got_, err_,     \
                          sizeof err_);                                        \
        if (r_ != -1 || !strstr(err_, words))                                  \
            return failf(__FILE__, __LINE__, "%s: %d '%s'", #text, r_, err_);  \
    } while (0)

static int test_rfc4180(void)
{
    READS("a,b\nc,d\n", "a|b;c|d;");
    READS("a,b\r\nc,d", "a|b;c|d;"); /* CRLF, no last end */
    READS("\xef\xbb\xbf"
          "id,x\r\n1,2\r\n",
          "id|x;1|2;"); /* BOM */
    READS("\"a,1\",\"say \"\"hi\"\"\"\n", "a,1|say \"hi\";");
    READS("\"two\nlines\",x\n", "two\nlines|x;");
    READS("\"crlf\r\ninside\",x\r\n", "crlf\r\ninside|x;");
    READS("a,,c\n,,\n", "a||c;||;");         /* blank cells */
    READS("a,b\n\n\r\nc,d\n\n", "a|b;c|d;"); /* blank lines */
    READS("a,b\rc,d\r", "a|b;c|d;");         /* old Mac ends */
    READS("\"\"\n", ";");                    /* one empty field */
    READS("caf\xc3\xa9,\xe2\x82\xac\n", "caf\xc3\xa9|\xe2\x82\xac;");
    READS("", "");
    return 0;
}

static int test_refused(void)
{
    REFUSES("a,\"open\n", "line 1 (row 1): a quoted field is not closed");
    REFUSES("a,b\n\"x\"y,z\n", "line 2 (row 2): text after the closing quote");
    REFUSES("a,b\nx\"y,z\n", "a quote inside a field");
    REFUSES("a,b\n\xff,z\n", "not UTF-8");
    REFUSES("a,b\nc\0d,e\n", "a NUL byte");
    REFUSES("\xef\xbb\x00", "not UTF-8 text");
    return 0;
}

static int test_limits(void)
{
    size_t n = HUB_CSV_RECORD_MAX + 10;
    char *big = malloc(n + 1);
    char *cols = malloc(2 * (HUB_CSV_COLUMNS_MAX + 1) + 1);
    CHECK(big && cols);
    memset(big, 'x', n);
    big[n] = '\0';
    char out[64], err[256];
    int r = read_all(big, n, out, sizeof out, err, sizeof err);
    int long_ok = r == -1 && strstr(err, "longer than 1 MiB");
    for (size_t i = 0; i <= HUB_CSV_COLUMNS_MAX; i++) {
        cols[2 * i] = 'x';
        cols[2 * i + 1] = ',';
    }
    cols[2 * (HUB_CSV_COLUMNS_MAX + 1)] = '\0';
    r = read_all(cols, strlen(cols), out, sizeof out, err, sizeof err);
    int cols_ok = r == -1 && strstr(err, "more than 2000 columns");
    free(big);
    free(cols);
    CHECK(long_ok);
    CHECK(cols_ok);
    return 0;
}

#define DATE(fmt, in, want)                                                    \
    do {                                                                       \
        char d_[11] = "";                                                      \
        int r_ = hub__import_date(fmt, in, d_);                                \
        if (want[0] ? (r_ != 0 || strcmp(d_, want) != 0) : r_ == 0)            \
            return failf(__FILE__, __LINE__, "%s %s: %d '%s'", fmt, in, r_,    \
                         d_);                                                  \
    } while (0)

static int test_dates(void)
{
    DATE("DD/MM/YYYY", "01/03/2023", "2023-03-01");
    DATE("DD/MM/YYYY", "1/3/2023", "2023-03-01");
    DATE("MM/DD/YYYY", "12/31/2023", "2023-12-31");
    DATE("D/M/YY", "5/11/22", "2022-11-05");
    DATE("D/M/YY", "1/1/68", "2068-01-01"); /* the pivot: 00-68 */
    DATE("D/M/YY", "1/1/69", "1969-01-01"); /* 69-99 */
    DATE("D/M/YY", "31/12/99", "1999-12-31");
    DATE("D/M/YY", "1/1/00", "2000-01-01");
    DATE("YYYY-MM-DD", "2024-02-29", "2024-02-29");
    DATE("DD.MM.YYYY", "29.02.2000", "2000-02-29");
    /* Not dates, or not in the format: refused, never guessed. */
    DATE("DD/MM/YYYY", "12/31/2023", "");
    DATE("DD/MM/YYYY", "29/02/2023", "");
    DATE("DD/MM/YYYY", "29/02/1900", "");
    DATE("DD/MM/YYYY", "31/04/2023", "");
    DATE("DD/MM/YYYY", "00/01/2023", "");
    DATE("DD/MM/YYYY", "01-03-2023", "");
    DATE("DD/MM/YYYY", "01/03/23", "");
    DATE("D/M/YY", "1/3/2023", "");
    DATE("DD/MM/YYYY", "01/03/2023 10:00", "");
    DATE("DD/MM/YYYY", "", "");
    return 0;
}

static const unit_case cases[] = {
    {"RFC 4180 records", test_rfc4180},
    {"what the reader refuses", test_refused},
    {"record and column limits", test_limits},
    {"dates of --date-format", test_dates},
};

int main(int argc, char **argv)
{
    return unit_run(cases, sizeof cases / sizeof cases[0], argc, argv);
}
