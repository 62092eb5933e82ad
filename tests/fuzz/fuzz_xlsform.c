/*
 * fuzz_xlsform.c - libFuzzer target for the XLSForm importer
 * (hub__xlsform_convert: libzip, expat and our own reading of the
 * sheets), which reads whatever workbook an admin was handed, and for
 * the XForm written from what it accepts.
 *
 * Input: one mode byte, then
 *   - bit 0 clear: the bytes of an .xlsx file;
 *   - bit 0 set: the text of its parts separated by NUL bytes, in the
 *     order xl/workbook.xml, xl/_rels/workbook.xml.rels,
 *     xl/sharedStrings.xml and xl/worksheets/sheet1.xml, sheet2.xml,
 *     sheet3.xml; the target zips them (stored, with right checksums) so
 *     that mutations reach the XML and the sheets instead of stopping at
 *     a checksum.
 * Invariants beyond the sanitizers:
 *   - a refusal comes with at least one problem (or is out of memory),
 *     each NUL-terminated, valid UTF-8 and naming where; no definition;
 *   - an acceptance has no problem, and its definition is accepted again
 *     by fs_form_parse with FS_FORM_STRICT, as the hub publishes;
 *   - that form's XForm is written, twice with the same bytes, and expat
 *     reads it as well-formed XML.
 */
#include <expat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "fs_form.h"
#include "fuzz.h"
#include "xform.h"
#include "xlsform.h"

static void check_problems(const hub__xlsform_problems *p)
{
    for (size_t i = 0; i < p->n; i++) {
        const hub__xlsform_problem *it = &p->items[i];

        REQUIRE(memchr(it->where, '\0', sizeof it->where) != NULL);
        REQUIRE(memchr(it->msg, '\0', sizeof it->msg) != NULL);
        REQUIRE(it->where[0] != '\0' && it->msg[0] != '\0');
        REQUIRE(fs_utf8_valid(it->where, strlen(it->where)));
        REQUIRE(fs_utf8_valid(it->msg, strlen(it->msg)));
    }
}

static void check_xform(const fs_form *f)
{
    fs_buf a, b;
    XML_Parser p;

    REQUIRE(hub__xform_write(f, &a) == FS_OK);
    REQUIRE(hub__xform_write(f, &b) == FS_OK);
    REQUIRE(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    p = XML_ParserCreateNS(NULL, ' ');
    REQUIRE(p != NULL);
    REQUIRE(XML_Parse(p, (const char *)a.data, (int)a.len, 1) == XML_STATUS_OK);
    XML_ParserFree(p);
    fs_buf_free(&a);
    fs_buf_free(&b);
}

/* The parts in data[0..size), NUL-separated, as a zip in memory: *out
 * is malloc'ed. -1 when libzip fails (not a finding: out of memory). */
static int zip_parts(const uint8_t *data, size_t size, uint8_t **out,
                     size_t *outlen)
{
    static const char *const names[] = {
        "xl/workbook.xml",          "xl/_rels/workbook.xml.rels",
        "xl/sharedStrings.xml",     "xl/worksheets/sheet1.xml",
        "xl/worksheets/sheet2.xml", "xl/worksheets/sheet3.xml"};
    zip_error_t ze;
    zip_source_t *src;
    zip_t *za;
    size_t start = 0;
    zip_int64_t n;
    int rc = -1;

    zip_error_init(&ze);
    src = zip_source_buffer_create(NULL, 0, 0, &ze);
    REQUIRE(src != NULL);
    zip_source_keep(src);
    za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    REQUIRE(za != NULL);
    for (size_t i = 0; i < sizeof names / sizeof names[0] && start <= size;
         i++) {
        const uint8_t *end = memchr(data + start, '\0', size - start);
        size_t len =
            end != NULL ? (size_t)(end - (data + start)) : size - start;
        zip_source_t *ps = zip_source_buffer(za, data + start, len, 0);
        zip_int64_t idx;

        REQUIRE(ps != NULL);
        idx = zip_file_add(za, names[i], ps, ZIP_FL_OVERWRITE);
        REQUIRE(idx >= 0);
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
        start += len + 1;
    }
    if (zip_close(za) != 0) {
        zip_discard(za);
        zip_source_free(src);
        zip_error_fini(&ze);
        return -1;
    }
    if (zip_source_open(src) == 0) {
        zip_source_seek(src, 0, SEEK_END);
        n = zip_source_tell(src);
        zip_source_seek(src, 0, SEEK_SET);
        *out = malloc(n > 0 ? (size_t)n : 1);
        if (*out != NULL && n >= 0 &&
            zip_source_read(src, *out, (zip_uint64_t)n) == n) {
            *outlen = (size_t)n;
            rc = 0;
        }
        zip_source_close(src);
    }
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    zip_source_free(src);
    zip_error_fini(&ze);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t insize)
{
    const uint8_t *data;
    uint8_t *zipped = NULL;
    size_t size;
    hub__xlsform_problems p = {0};
    hub__xlsx_limits lim;
    cJSON *doc = NULL;
    fs_form *f = NULL;
    char *text;
    int rc;

    if (insize < 1)
        return 0;
    data = input + 1;
    size = insize - 1;
    if (input[0] & 1) {
        if (zip_parts(data, size, &zipped, &size) != 0)
            return 0;
        data = zipped;
    }
    /* The default limits, with parts and cells smaller so that one
     * input stays quick. */
    hub__xlsx_limits_default(&lim);
    lim.part_max = 1u << 20;
    lim.total_max = 4u << 20;
    lim.cells_max = 20000;
    rc = hub__xlsform_convert(data, size, "fuzz", &lim, &doc, &p);
    check_problems(&p);
    if (rc != FS_OK) {
        REQUIRE(doc == NULL);
        REQUIRE(p.n + p.dropped > 0 || rc == FS_ENOMEM);
        hub__xlsform_problems_free(&p);
        free(zipped);
        return 0;
    }
    REQUIRE(doc != NULL && p.n == 0 && p.dropped == 0);
    text = cJSON_PrintUnformatted(doc);
    REQUIRE(text != NULL);
    REQUIRE(fs_form_parse(text, strlen(text), FS_FORM_STRICT, &f, NULL) ==
            FS_OK);
    check_xform(f);
    fs_form_free(f);
    cJSON_free(text);
    cJSON_Delete(doc);
    hub__xlsform_problems_free(&p);
    free(zipped);
    return 0;
}
