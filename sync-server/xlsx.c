/*
 * xlsx.c - reading the cells of an .xlsx workbook: libzip opens the
 * archive from memory, expat parses the parts that matter
 * (xl/workbook.xml and its relationships, the shared strings, the
 * worksheets). Every size is checked against hub__xlsx_limits before it
 * is used; see xlsx.h.
 */
#include <expat.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "xlsx.h"

#define XML_NS_SEP ' ' /* between namespace and local name in expat's names */

void hub__xlsx_limits_default(hub__xlsx_limits *lim)
{
    lim->file_max = 16u << 20;
    lim->entries_max = 1000;
    lim->part_max = 32u << 20;
    lim->total_max = 64u << 20;
    lim->strings_max = 200000;
    lim->cell_max = 32u << 10;
    lim->cells_max = 250000;
    lim->rows_max = 1048576;
    lim->cols_max = 16384;
    lim->depth_max = 32;
}

/* ---- a string pool: every text the workbook hands out ------------- */

typedef struct pool_block {
    struct pool_block *next;
    size_t used, cap;
    char data[];
} pool_block;

static char *pool_dup(pool_block **head, const char *s, size_t n)
{
    pool_block *b = *head;
    char *out;

    if (b == NULL || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > 65536 ? n + 1 : 65536;

        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = *head;
        *head = b;
    }
    out = b->data + b->used;
    memcpy(out, s, n);
    out[n] = '\0';
    b->used += n + 1;
    return out;
}

static void pool_free(pool_block *b)
{
    while (b != NULL) {
        pool_block *next = b->next;

        free(b);
        b = next;
    }
}

/* ---- the workbook ---------------------------------------------------- */

typedef struct sheet_slot {
    const char *name;
    const char *rid;  /* relationship id in workbook.xml */
    const char *part; /* resolved zip path, or NULL */
    hub__xlsx_sheet sheet;
    hub__xlsx_cell *cells; /* owned */
    int loaded;
} sheet_slot;

struct hub__xlsx {
    hub__xlsx_limits lim;
    zip_t *za;
    size_t total; /* uncompressed bytes read so far */
    pool_block *pool;
    sheet_slot *sheets;
    size_t nsheets, capsheets;
    const char *strings_part; /* from the relationships, or NULL */
    const char **strings;     /* shared strings, loaded with a sheet */
    size_t nstrings, capstrings;
    int strings_loaded;
};

static void fail(fs_problems *p, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(fs_problems *p, const char *where, const char *fmt, ...)
{
    char msg[FS_PROBLEM_MSG_MAX + 64];
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    fs_problems_add(p, where, "%s", msg);
}

/* Reads the part name into out (NUL-terminated, owned by the caller:
 * fs_buf_free), within the part and total limits. FS_EMALFORMED with
 * *missing = 1 when the archive has no such part. */
static int read_part(hub__xlsx *x, const char *name, fs_buf *out, int *missing,
                     fs_problems *p)
{
    zip_int64_t idx = zip_name_locate(x->za, name, 0);
    zip_stat_t st;
    zip_file_t *zf;
    unsigned char chunk[16384];
    zip_int64_t n;
    int rc = FS_OK;

    *missing = 0;
    fs_buf_init(out, 0);
    if (idx < 0) {
        *missing = 1;
        fail(p, "",
             "not an .xlsx workbook: it has no %s (save the form as "
             "an Excel .xlsx file)",
             name);
        return FS_EMALFORMED;
    }
    zip_stat_init(&st);
    if (zip_stat_index(x->za, (zip_uint64_t)idx, 0, &st) != 0 ||
        !(st.valid & ZIP_STAT_SIZE)) {
        fail(p, "", "broken zip archive: no size for %s", name);
        return FS_EMALFORMED;
    }
    if (st.size > x->lim.part_max || st.size > x->lim.total_max - x->total) {
        fail(p, "",
             "%s declares %llu bytes uncompressed, more than the %zu "
             "bytes allowed (a zip bomb?)",
             name, (unsigned long long)st.size,
             st.size > x->lim.part_max ? x->lim.part_max
                                       : x->lim.total_max - x->total);
        return FS_ETOOBIG;
    }
    zf = zip_fopen_index(x->za, (zip_uint64_t)idx, 0);
    if (zf == NULL) {
        fail(p, "", "cannot read %s: %s", name, zip_strerror(x->za));
        return FS_EMALFORMED;
    }
    fs_buf_init(out, (size_t)st.size);
    while ((n = zip_fread(zf, chunk, sizeof chunk)) > 0) {
        rc = fs_buf_append(out, chunk, (size_t)n);
        if (rc == FS_ETOOBIG) {
            fail(p, "",
                 "%s holds more than the %llu bytes it declares (a zip "
                 "bomb?)",
                 name, (unsigned long long)st.size);
            break;
        }
        if (rc != FS_OK)
            break;
    }
    if (rc == FS_OK && n < 0) {
        fail(p, "", "cannot read %s: %s", name, zip_file_strerror(zf));
        rc = FS_EMALFORMED;
    }
    if (rc == FS_OK && out->len != st.size) {
        fail(p, "", "%s is shorter than it declares", name);
        rc = FS_EMALFORMED;
    }
    if (rc == FS_OK && fs_buf_append(out, "", 0) != FS_OK)
        rc = FS_ENOMEM;
    zip_fclose(zf);
    if (rc != FS_OK) {
        fs_buf_free(out);
        return rc;
    }
    x->total += out->len;
    return FS_OK;
}

/* ---- XML ------------------------------------------------------------- */

/* What every part's parse shares; the part's own state embeds it first,
 * so the handlers reach both through expat's user data. */
typedef struct xml_ctx {
    XML_Parser parser;
    const hub__xlsx_limits *lim;
    int depth;
    int rc;        /* FS_OK until a handler stops the parse */
    char why[160]; /* the handler's reason */
    fs_buf text;   /* character data being collected */
    int collecting;
} xml_ctx;

static const char *local_name(const char *name)
{
    const char *sep = strrchr(name, XML_NS_SEP);

    return sep != NULL ? sep + 1 : name;
}

/* The attribute whose local name is local, or NULL. With namespaced
 * set, only one in a namespace (r:id), else only one without. */
static const char *attr(const XML_Char **atts, const char *local,
                        int namespaced)
{
    for (size_t i = 0; atts[i] != NULL; i += 2) {
        const char *sep = strrchr(atts[i], XML_NS_SEP);

        if ((sep != NULL) == (namespaced != 0) &&
            strcmp(sep != NULL ? sep + 1 : atts[i], local) == 0)
            return atts[i + 1];
    }
    return NULL;
}

static void xml_stop(xml_ctx *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void xml_stop(xml_ctx *c, int rc, const char *fmt, ...)
{
    va_list ap;

    if (c->rc != FS_OK)
        return;
    c->rc = rc;
    va_start(ap, fmt);
    if (vsnprintf(c->why, sizeof c->why, fmt, ap) < 0)
        c->why[0] = '\0';
    va_end(ap);
    XML_StopParser(c->parser, XML_FALSE);
}

/* No DTD, so no entity can be declared, let alone expanded. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name,
                               const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal;
    xml_stop(ud, FS_EMALFORMED,
             "a DOCTYPE is not allowed (it could declare entities)");
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    xml_ctx *c = ud;
    int rc;

    if (!c->collecting || c->rc != FS_OK)
        return;
    rc = fs_buf_append(&c->text, s, (size_t)len);
    if (rc == FS_ETOOBIG)
        xml_stop(c, rc, "a text of more than %zu bytes", c->lim->cell_max);
    else if (rc != FS_OK)
        xml_stop(c, rc, "out of memory");
}

/* Depth accounting shared by every start handler: 0 to go on. */
static int xml_enter(xml_ctx *c)
{
    if (c->rc != FS_OK)
        return -1;
    if (++c->depth > c->lim->depth_max) {
        xml_stop(c, FS_ETOOBIG, "XML nested more than %d deep",
                 c->lim->depth_max);
        return -1;
    }
    return 0;
}

static void xml_collect(xml_ctx *c)
{
    fs_buf_reset(&c->text);
    c->collecting = 1;
}

/* Parses buf with the handlers; the reason of a failure goes to p under
 * where. */
static int xml_parse(xml_ctx *c, const fs_buf *buf, XML_StartElementHandler st,
                     XML_EndElementHandler en, const char *where,
                     const char *part, fs_problems *p)
{
    XML_Parser xp = XML_ParserCreateNS(NULL, XML_NS_SEP);
    int rc;

    if (xp == NULL)
        return FS_ENOMEM;
    c->parser = xp;
    c->depth = 0;
    c->rc = FS_OK;
    c->why[0] = '\0';
    c->collecting = 0;
    fs_buf_init(&c->text, c->lim->cell_max);
    XML_SetUserData(xp, c);
    XML_SetElementHandler(xp, st, en);
    XML_SetCharacterDataHandler(xp, on_text);
    XML_SetStartDoctypeDeclHandler(xp, on_doctype);
    XML_SetParamEntityParsing(xp, XML_PARAM_ENTITY_PARSING_NEVER);
    if (buf->len > (size_t)INT32_MAX) {
        rc = FS_ETOOBIG;
        fail(p, where, "%s is too large", part);
    } else if (XML_Parse(xp, (const char *)buf->data, (int)buf->len, 1) ==
               XML_STATUS_ERROR) {
        rc = c->rc != FS_OK ? c->rc : FS_EMALFORMED;
        if (c->rc != FS_OK && where[0] != '\0')
            fail(p, where, "%s", c->why);
        else if (c->rc != FS_OK)
            fail(p, where, "%s: %s", part, c->why);
        else
            fail(p, where, "%s is not well-formed XML (line %lu: %s)", part,
                 (unsigned long)XML_GetCurrentLineNumber(xp),
                 XML_ErrorString(XML_GetErrorCode(xp)));
    } else {
        rc = c->rc;
    }
    fs_buf_free(&c->text);
    XML_ParserFree(xp);
    return rc;
}

/* ---- workbook.xml and its relationships ------------------------------ */

typedef struct wb_parse {
    xml_ctx x;
    hub__xlsx *book;
} wb_parse;

static void XMLCALL wb_start(void *ud, const XML_Char *name,
                             const XML_Char **atts)
{
    wb_parse *w = ud;
    hub__xlsx *b = w->book;
    const char *nm, *rid;
    sheet_slot *s;

    if (xml_enter(&w->x) != 0 || strcmp(local_name(name), "sheet") != 0)
        return;
    nm = attr(atts, "name", 0);
    rid = attr(atts, "id", 1);
    if (nm == NULL || rid == NULL || nm[0] == '\0') {
        xml_stop(&w->x, FS_EMALFORMED, "a sheet without a name or id");
        return;
    }
    if (b->nsheets == b->capsheets) {
        size_t cap = b->capsheets ? b->capsheets * 2 : 8;
        sheet_slot *grown;

        if (b->nsheets >= 1000) {
            xml_stop(&w->x, FS_ETOOBIG, "more than 1000 sheets");
            return;
        }
        grown = realloc(b->sheets, cap * sizeof *grown);
        if (grown == NULL) {
            xml_stop(&w->x, FS_ENOMEM, "out of memory");
            return;
        }
        b->sheets = grown;
        b->capsheets = cap;
    }
    s = &b->sheets[b->nsheets];
    memset(s, 0, sizeof *s);
    s->name = pool_dup(&b->pool, nm, strlen(nm));
    s->rid = pool_dup(&b->pool, rid, strlen(rid));
    if (s->name == NULL || s->rid == NULL) {
        xml_stop(&w->x, FS_ENOMEM, "out of memory");
        return;
    }
    s->sheet.name = s->name;
    b->nsheets++;
}

static void XMLCALL any_end(void *ud, const XML_Char *name)
{
    xml_ctx *c = ud;

    (void)name;
    c->depth--;
}

/* A relationship target, relative to xl/ or absolute, as a zip path.
 * NULL for what cannot be a part of this archive. */
static const char *part_path(hub__xlsx *b, const char *target)
{
    char path[512];
    int w;

    if (strstr(target, "..") != NULL || strstr(target, "://") != NULL)
        return NULL;
    if (target[0] == '/')
        w = snprintf(path, sizeof path, "%s", target + 1);
    else
        w = snprintf(path, sizeof path, "xl/%s", target);
    if (w < 0 || (size_t)w >= sizeof path)
        return NULL;
    return pool_dup(&b->pool, path, (size_t)w);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void XMLCALL rels_start(void *ud, const XML_Char *name,
                               const XML_Char **atts)
{
    wb_parse *w = ud;
    hub__xlsx *b = w->book;
    const char *id, *type, *target, *mode;

    if (xml_enter(&w->x) != 0 || strcmp(local_name(name), "Relationship") != 0)
        return;
    id = attr(atts, "Id", 0);
    type = attr(atts, "Type", 0);
    target = attr(atts, "Target", 0);
    mode = attr(atts, "TargetMode", 0);
    if (id == NULL || type == NULL || target == NULL ||
        (mode != NULL && strcmp(mode, "External") == 0))
        return;
    if (ends_with(type, "/sharedStrings")) {
        b->strings_part = part_path(b, target);
        return;
    }
    for (size_t i = 0; i < b->nsheets; i++)
        if (strcmp(b->sheets[i].rid, id) == 0)
            b->sheets[i].part = part_path(b, target);
}

int hub__xlsx_open(const void *data, size_t len, const hub__xlsx_limits *lim,
                   hub__xlsx **out, fs_problems *p)
{
    hub__xlsx *b;
    zip_source_t *src;
    zip_error_t ze;
    fs_buf buf;
    wb_parse w;
    int rc, missing;

    *out = NULL;
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return FS_ENOMEM;
    if (lim != NULL)
        b->lim = *lim;
    else
        hub__xlsx_limits_default(&b->lim);
    if (len > b->lim.file_max) {
        fail(p, "", "the file is larger than %zu bytes", b->lim.file_max);
        rc = FS_ETOOBIG;
        goto fail;
    }
    zip_error_init(&ze);
    src = zip_source_buffer_create(data, len, 0, &ze);
    if (src == NULL) {
        zip_error_fini(&ze);
        rc = FS_ENOMEM;
        goto fail;
    }
    b->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (b->za == NULL) {
        fail(p, "",
             "not an .xlsx file: %s (save the form as an Excel .xlsx "
             "workbook)",
             zip_error_strerror(&ze));
        zip_source_free(src);
        zip_error_fini(&ze);
        rc = FS_EMALFORMED;
        goto fail;
    }
    zip_error_fini(&ze);
    if (zip_get_num_entries(b->za, 0) < 0 ||
        (zip_uint64_t)zip_get_num_entries(b->za, 0) > b->lim.entries_max) {
        fail(p, "", "the archive has more than %zu entries",
             b->lim.entries_max);
        rc = FS_ETOOBIG;
        goto fail;
    }
    memset(&w, 0, sizeof w);
    w.x.lim = &b->lim;
    w.book = b;
    rc = read_part(b, "xl/workbook.xml", &buf, &missing, p);
    if (rc != FS_OK)
        goto fail;
    rc = xml_parse(&w.x, &buf, wb_start, any_end, "", "xl/workbook.xml", p);
    fs_buf_free(&buf);
    if (rc != FS_OK)
        goto fail;
    rc = read_part(b, "xl/_rels/workbook.xml.rels", &buf, &missing, p);
    if (rc != FS_OK)
        goto fail;
    rc = xml_parse(&w.x, &buf, rels_start, any_end, "",
                   "xl/_rels/workbook.xml.rels", p);
    fs_buf_free(&buf);
    if (rc != FS_OK)
        goto fail;
    *out = b;
    return FS_OK;
fail:
    hub__xlsx_free(b);
    return rc;
}

void hub__xlsx_free(hub__xlsx *x)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->nsheets; i++)
        free(x->sheets[i].cells);
    free(x->sheets);
    free(x->strings);
    if (x->za != NULL)
        zip_discard(x->za);
    pool_free(x->pool);
    free(x);
}

size_t hub__xlsx_sheet_count(const hub__xlsx *x)
{
    return x->nsheets;
}

const char *hub__xlsx_sheet_name(const hub__xlsx *x, size_t i)
{
    return i < x->nsheets ? x->sheets[i].name : NULL;
}

static int ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = (unsigned char)*a, cb = (unsigned char)*b;

        if (ca >= 'A' && ca <= 'Z')
            ca += 'a' - 'A';
        if (cb >= 'A' && cb <= 'Z')
            cb += 'a' - 'A';
        if (ca != cb || ca == 0)
            return ca - cb;
    }
}

int hub__xlsx_find_sheet(const hub__xlsx *x, const char *name)
{
    for (size_t i = 0; i < x->nsheets; i++)
        if (ascii_casecmp(x->sheets[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- shared strings -------------------------------------------------- */

typedef struct sst_parse {
    xml_ctx x;
    hub__xlsx *book;
    int in_si, in_phonetic;
    fs_buf value; /* the <si> being read: its runs joined */
} sst_parse;

static void XMLCALL sst_start(void *ud, const XML_Char *name,
                              const XML_Char **atts)
{
    sst_parse *s = ud;
    const char *ln = local_name(name);

    (void)atts;
    if (xml_enter(&s->x) != 0)
        return;
    if (strcmp(ln, "si") == 0) {
        s->in_si = 1;
        fs_buf_reset(&s->value);
    } else if (strcmp(ln, "rPh") == 0) {
        s->in_phonetic++; /* reading aids, not part of the text */
    } else if (strcmp(ln, "t") == 0 && s->in_si && !s->in_phonetic) {
        xml_collect(&s->x);
    }
}

static void XMLCALL sst_end(void *ud, const XML_Char *name)
{
    sst_parse *s = ud;
    hub__xlsx *b = s->book;
    const char *ln = local_name(name);
    int rc;

    s->x.depth--;
    if (s->x.rc != FS_OK)
        return;
    if (strcmp(ln, "t") == 0 && s->x.collecting) {
        s->x.collecting = 0;
        rc = fs_buf_append(&s->value, s->x.text.data, s->x.text.len);
        if (rc != FS_OK)
            xml_stop(&s->x, rc, "a shared string of more than %zu bytes",
                     b->lim.cell_max);
    } else if (strcmp(ln, "rPh") == 0) {
        s->in_phonetic--;
    } else if (strcmp(ln, "si") == 0) {
        const char *str;

        s->in_si = 0;
        if (b->nstrings >= b->lim.strings_max) {
            xml_stop(&s->x, FS_ETOOBIG, "more than %zu shared strings",
                     b->lim.strings_max);
            return;
        }
        if (b->nstrings == b->capstrings) {
            size_t cap = b->capstrings ? b->capstrings * 2 : 256;
            const char **grown = realloc(b->strings, cap * sizeof *grown);

            if (grown == NULL) {
                xml_stop(&s->x, FS_ENOMEM, "out of memory");
                return;
            }
            b->strings = grown;
            b->capstrings = cap;
        }
        str =
            pool_dup(&b->pool, s->value.len ? (const char *)s->value.data : "",
                     s->value.len);
        if (str == NULL) {
            xml_stop(&s->x, FS_ENOMEM, "out of memory");
            return;
        }
        b->strings[b->nstrings++] = str;
    }
}

static int load_strings(hub__xlsx *b, fs_problems *p)
{
    sst_parse s;
    fs_buf buf;
    int rc, missing;

    if (b->strings_loaded)
        return FS_OK;
    b->strings_loaded = 1;
    if (b->strings_part == NULL)
        return FS_OK; /* a workbook of numbers and inline strings only */
    rc = read_part(b, b->strings_part, &buf, &missing, p);
    if (rc != FS_OK)
        return rc;
    memset(&s, 0, sizeof s);
    s.x.lim = &b->lim;
    s.book = b;
    fs_buf_init(&s.value, b->lim.cell_max);
    rc = xml_parse(&s.x, &buf, sst_start, sst_end, "", b->strings_part, p);
    fs_buf_free(&s.value);
    fs_buf_free(&buf);
    return rc;
}

/* ---- worksheets ------------------------------------------------------ */

typedef struct ws_parse {
    xml_ctx x;
    hub__xlsx *book;
    sheet_slot *slot;
    size_t cap;
    uint32_t row, col; /* of the row and cell being read */
    char type[16];     /* the cell's t attribute */
    int in_cell, in_inline, in_phonetic;
    fs_buf value; /* the cell's <v>, or its inline string's runs */
    char where[FS_PROBLEM_WHERE_MAX]; /* sheet!cell of a cell's problem */
} ws_parse;

/* "AB12" into *row, *col; -1 when it is not a cell reference. */
static int parse_ref(const char *s, uint32_t *row, uint32_t *col)
{
    uint64_t c = 0, r = 0;
    size_t i = 0;

    while ((s[i] >= 'A' && s[i] <= 'Z') && i < 4)
        c = c * 26 + (uint64_t)(s[i++] - 'A' + 1);
    if (i == 0 || i > 3)
        return -1;
    if (s[i] < '1' || s[i] > '9')
        return -1;
    while (s[i] >= '0' && s[i] <= '9' && r <= UINT32_MAX)
        r = r * 10 + (uint64_t)(s[i++] - '0');
    if (s[i] != '\0' || r > UINT32_MAX)
        return -1;
    *row = (uint32_t)r;
    *col = (uint32_t)c;
    return 0;
}

void hub__xlsx_ref(uint32_t row, uint32_t col, char *out, size_t cap)
{
    char letters[8];
    size_t n = 0;

    while (col > 0 && n < sizeof letters) {
        col--;
        letters[n++] = (char)('A' + col % 26);
        col /= 26;
    }
    if (cap == 0)
        return;
    for (size_t i = 0; i < n && i + 1 < cap; i++)
        out[i] = letters[n - 1 - i];
    snprintf(out + (n < cap ? n : cap - 1), cap - (n < cap ? n : cap - 1),
             "%lu", (unsigned long)row);
}

static void ws_where(ws_parse *w)
{
    char ref[16];

    hub__xlsx_ref(w->row, w->col, ref, sizeof ref);
    snprintf(w->where, sizeof w->where, "%s!%s", w->slot->name, ref);
}

static void XMLCALL ws_start(void *ud, const XML_Char *name,
                             const XML_Char **atts)
{
    ws_parse *w = ud;
    const char *ln = local_name(name), *r, *t;

    if (xml_enter(&w->x) != 0)
        return;
    if (strcmp(ln, "row") == 0) {
        uint32_t row, col;
        char ref[24];

        r = attr(atts, "r", 0);
        row = w->row + 1;
        if (r != NULL) {
            snprintf(ref, sizeof ref, "A%.16s", r);
            if (parse_ref(ref, &row, &col) != 0 || row <= w->row) {
                xml_stop(&w->x, FS_EMALFORMED,
                         "row number '%.16s' is not above the previous row", r);
                return;
            }
        }
        if (row > w->book->lim.rows_max) {
            xml_stop(&w->x, FS_ETOOBIG, "row %lu is past the last row, %lu",
                     (unsigned long)row, (unsigned long)w->book->lim.rows_max);
            return;
        }
        w->row = row;
        w->col = 0;
    } else if (strcmp(ln, "c") == 0) {
        uint32_t row = w->row, col = w->col + 1;

        r = attr(atts, "r", 0);
        if (r != NULL &&
            (parse_ref(r, &row, &col) != 0 || row != w->row || col <= w->col)) {
            xml_stop(&w->x, FS_EMALFORMED,
                     "cell reference '%.16s' out of place in row %lu", r,
                     (unsigned long)w->row);
            return;
        }
        if (col > w->book->lim.cols_max) {
            xml_stop(&w->x, FS_ETOOBIG,
                     "column %lu of row %lu is past the last column, %lu",
                     (unsigned long)col, (unsigned long)row,
                     (unsigned long)w->book->lim.cols_max);
            return;
        }
        w->col = col;
        t = attr(atts, "t", 0);
        snprintf(w->type, sizeof w->type, "%s", t != NULL ? t : "n");
        w->in_cell = 1;
        fs_buf_reset(&w->value);
    } else if (w->in_cell && strcmp(ln, "v") == 0) {
        xml_collect(&w->x);
    } else if (w->in_cell && strcmp(ln, "is") == 0) {
        w->in_inline = 1;
    } else if (w->in_inline && strcmp(ln, "rPh") == 0) {
        w->in_phonetic++;
    } else if (w->in_inline && !w->in_phonetic && strcmp(ln, "t") == 0) {
        xml_collect(&w->x);
    }
}

/* A number as Excel would show it in a plain cell: "12", "0.25". */
static const char *number_text(const char *raw, char *buf, size_t cap)
{
    char *end = NULL;
    double d = strtod(raw, &end);

    if (end == raw || *end != '\0' || !isfinite(d))
        return raw;
    snprintf(buf, cap, "%.15g", d);
    if (strtod(buf, NULL) != d)
        return raw;
    return buf;
}

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void ws_cell_done(ws_parse *w)
{
    hub__xlsx *b = w->book;
    const char *text = w->value.len ? (const char *)w->value.data : "";
    int kept = 0; /* text lives as long as the workbook: no copy needed */
    char num[40];
    size_t len;
    hub__xlsx_cell *cell;

    w->in_cell = 0;
    if (strcmp(w->type, "s") == 0 && w->value.len > 0) {
        char *end = NULL;
        unsigned long long k = strtoull(text, &end, 10);

        if (end == text || *end != '\0' || text[0] == '-' || k >= b->nstrings) {
            ws_where(w);
            xml_stop(&w->x, FS_EMALFORMED,
                     "shared string '%.24s' does not exist (the workbook "
                     "has %zu)",
                     text, b->nstrings);
            return;
        }
        text = b->strings[k];
        kept = 1;
    } else if (strcmp(w->type, "b") == 0) {
        kept = strcmp(text, "1") == 0 || strcmp(text, "0") == 0;
        text = strcmp(text, "1") == 0   ? "TRUE"
               : strcmp(text, "0") == 0 ? "FALSE"
                                        : text;
    } else if (strcmp(w->type, "n") == 0) {
        text = number_text(text, num, sizeof num);
    }
    /* XLSForm reads every value trimmed, as pyxform does. */
    while (blank(*text))
        text++;
    len = strlen(text);
    while (len > 0 && blank(text[len - 1]))
        len--;
    if (len == 0)
        return; /* an empty or styled-only cell */
    if (w->slot->sheet.n >= b->lim.cells_max) {
        xml_stop(&w->x, FS_ETOOBIG, "more than %zu cells with a value",
                 b->lim.cells_max);
        return;
    }
    if (w->slot->sheet.n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        hub__xlsx_cell *grown = realloc(w->slot->cells, cap * sizeof *grown);

        if (grown == NULL) {
            xml_stop(&w->x, FS_ENOMEM, "out of memory");
            return;
        }
        w->slot->cells = grown;
        w->cap = cap;
    }
    cell = &w->slot->cells[w->slot->sheet.n];
    cell->row = w->row;
    cell->col = w->col;
    cell->text =
        kept && text[len] == '\0' ? text : pool_dup(&b->pool, text, len);
    if (cell->text == NULL) {
        xml_stop(&w->x, FS_ENOMEM, "out of memory");
        return;
    }
    w->slot->sheet.n++;
}

static void XMLCALL ws_end(void *ud, const XML_Char *name)
{
    ws_parse *w = ud;
    const char *ln = local_name(name);
    int rc;

    w->x.depth--;
    if (w->x.rc != FS_OK)
        return;
    if (w->x.collecting &&
        (strcmp(ln, "v") == 0 || (strcmp(ln, "t") == 0 && w->in_inline))) {
        w->x.collecting = 0;
        rc = fs_buf_append(&w->value, w->x.text.data, w->x.text.len);
        if (rc != FS_OK) {
            ws_where(w);
            xml_stop(&w->x, rc, "a cell of more than %zu bytes",
                     w->book->lim.cell_max);
        }
    } else if (strcmp(ln, "rPh") == 0 && w->in_phonetic > 0) {
        w->in_phonetic--;
    } else if (strcmp(ln, "is") == 0) {
        w->in_inline = 0;
    } else if (strcmp(ln, "c") == 0 && w->in_cell) {
        ws_cell_done(w);
    }
}

int hub__xlsx_read_sheet(hub__xlsx *x, size_t i, const hub__xlsx_sheet **out,
                         fs_problems *p)
{
    sheet_slot *s;
    ws_parse w;
    fs_buf buf;
    int rc, missing;

    *out = NULL;
    if (i >= x->nsheets)
        return FS_EINVAL;
    s = &x->sheets[i];
    if (s->loaded) {
        *out = &s->sheet;
        return FS_OK;
    }
    if (s->part == NULL) {
        fail(p, s->name, "the workbook does not say where this sheet is");
        return FS_EMALFORMED;
    }
    rc = load_strings(x, p);
    if (rc != FS_OK)
        return rc;
    rc = read_part(x, s->part, &buf, &missing, p);
    if (rc != FS_OK)
        return rc;
    memset(&w, 0, sizeof w);
    w.x.lim = &x->lim;
    w.book = x;
    w.slot = s;
    fs_buf_init(&w.value, x->lim.cell_max);
    snprintf(w.where, sizeof w.where, "%s", s->name);
    rc = xml_parse(&w.x, &buf, ws_start, ws_end, w.where, s->part, p);
    fs_buf_free(&w.value);
    fs_buf_free(&buf);
    if (rc != FS_OK) {
        free(s->cells);
        s->cells = NULL;
        s->sheet.n = 0;
        return rc;
    }
    s->sheet.cells = s->cells;
    s->loaded = 1;
    *out = &s->sheet;
    return FS_OK;
}

const char *hub__xlsx_text(const hub__xlsx_sheet *s, uint32_t row, uint32_t col)
{
    size_t lo = 0, hi = s->n;

    /* Cells are in order: rows rise and columns rise within a row. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const hub__xlsx_cell *c = &s->cells[mid];

        if (c->row < row || (c->row == row && c->col < col))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n && s->cells[lo].row == row && s->cells[lo].col == col)
        return s->cells[lo].text;
    return NULL;
}
