/* collectqr.c - the ODK Collect settings QR code (collectqr.h). */
#include "collectqr.h"

#include <cjson/cJSON.h>
#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define QUIET 4 /* modules of white around the code (ISO/IEC 18004) */
#define SCALE 8 /* PNG pixels a module */

static char *base64(const unsigned char *in, size_t n)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        *o++ = abc[v >> 18 & 63];
        *o++ = abc[v >> 12 & 63];
        *o++ = i + 1 < n ? abc[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? abc[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

char *hub__collect_settings(const char *server_url, const char *project)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *general = cJSON_AddObjectToObject(root, "general");
    cJSON *proj = NULL;
    /* The device's forms are its scope: Collect keeps exactly the hub's
     * list, and sends a finalized form as soon as there is a link. */
    if (general && cJSON_AddStringToObject(general, "server_url", server_url) &&
        cJSON_AddStringToObject(general, "form_update_mode", "match_exactly") &&
        cJSON_AddStringToObject(general, "autosend", "wifi_and_cellular") &&
        cJSON_AddObjectToObject(root, "admin"))
        proj = cJSON_AddObjectToObject(root, "project");
    char *json = NULL;
    if (proj && cJSON_AddStringToObject(proj, "name", project))
        json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json)
        return NULL;
    uLong len = (uLong)strlen(json);
    uLongf zlen = compressBound(len);
    unsigned char *z = malloc(zlen);
    char *out = NULL;
    if (z && compress2(z, &zlen, (const Bytef *)json, len, 9) == Z_OK)
        out = base64(z, zlen);
    free(z);
    cJSON_free(json);
    return out;
}

static QRcode *encode(const char *payload)
{
    /* Medium error correction, as Collect's own codes; 8-bit mode since
     * base64 has lower-case letters. */
    return QRcode_encodeString8bit(payload, 0, QR_ECLEVEL_M);
}

/* 1 when module (x, y) of the code with its quiet zone is dark. */
static int dark(const QRcode *qr, int x, int y)
{
    x -= QUIET;
    y -= QUIET;
    if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
        return 0;
    return qr->data[y * qr->width + x] & 1;
}

int hub__qr_text(const char *payload, FILE *out)
{
    QRcode *qr = encode(payload);
    if (!qr)
        return -1;
    int side = qr->width + 2 * QUIET;
    /* Black on white whatever the terminal's colours: a scanner needs
     * dark modules on a light ground. */
    for (int y = 0; y < side; y += 2) {
        fputs("\x1b[30;47m", out);
        for (int x = 0; x < side; x++) {
            int top = dark(qr, x, y),
                bottom = y + 1 < side && dark(qr, x, y + 1);
            fputs(top && bottom ? "\u2588"
                  : top         ? "\u2580"
                  : bottom      ? "\u2584"
                                : " ",
                  out);
        }
        fputs("\x1b[0m\n", out);
    }
    QRcode_free(qr);
    return 0;
}

typedef struct png_err {
    jmp_buf jmp;
    char msg[160];
} png_err;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jmp, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

int hub__qr_png(const char *payload, FILE *f, char *why, size_t whylen)
{
    QRcode *qr = encode(payload);
    if (!qr) {
        snprintf(why, whylen, "the settings do not fit a QR code");
        return -1;
    }
    const int side = (qr->width + 2 * QUIET) * SCALE;
    png_bytep row = malloc((size_t)side);
    png_err err = {.msg = ""};
    png_structp png =
        row ? png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, on_png_error,
                                      on_png_warning)
            : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    volatile int rc = -1; /* set after setjmp */
    if (!info) {
        snprintf(why, whylen, "out of memory");
    } else if (setjmp(err.jmp)) {
        snprintf(why, whylen, "cannot write the PNG: %s", err.msg);
    } else {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 8,
                     PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int y = 0; y < side; y++) {
            for (int x = 0; x < side; x++)
                row[x] = dark(qr, x / SCALE, y / SCALE) ? 0 : 255;
            png_write_row(png, row);
        }
        png_write_end(png, NULL);
        rc = 0;
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    free(row);
    QRcode_free(qr);
    return rc;
}
