/*
 * image.c - photos made safe and small before they are stored.
 *
 * Privacy fails closed: every JPEG loses its APPn and COM segments but
 * the JFIF header (its thumbnail dropped), the ICC colour profile and
 * Adobe's colour transform flag (needed to decode CMYK right); of EXIF
 * only the orientation survives (how the phone was held: without it an
 * upright photo shows on its side), written as an EXIF segment of its
 * own that holds nothing else. Whatever follows the end-of-image marker
 * is dropped too (phones append extra pictures there). A PNG keeps its critical chunks and the colour ones
 * (tRNS, gAMA, cHRM, sRGB, iCCP, sBIT, bKGD, pHYs): text, EXIF and time
 * chunks go. This is done on the bytes, without re-encoding, when the
 * image is small enough.
 *
 * Larger than the field's max_pixels, the image is decoded (libjpeg with
 * scale_denom for a cheap first halving, libpng), reduced with a box
 * filter one row at a time, and encoded again (JPEG quality 85): memory
 * holds a few rows, not the picture. Dimensions are checked before
 * anything is allocated, libjpeg's own memory is capped, and a file that
 * does not decode is refused rather than stored as it came.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "image.h"
#include "store.h"

/* ---- the sink -------------------------------------------------------- */

int fa__sink_open(fa__sink *s, int fd)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    fs_sha256_init(&s->sha);
    s->buf = malloc(FA_SINK_BUF);
    if (!s->buf) {
        s->failed = 1;
        s->err = ENOMEM;
        return -1;
    }
    return 0;
}

static void sink_flush(fa__sink *s)
{
    size_t off = 0;
    while (!s->failed && off < s->fill) {
        ssize_t w = write(s->fd, s->buf + off, s->fill - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->failed = 1;
            s->err = w < 0 ? errno : EIO;
            break;
        }
        off += (size_t)w;
    }
    s->fill = 0;
}

void fa__sink_write(fa__sink *s, const void *p, size_t n)
{
    const unsigned char *b = p;
    if (s->failed)
        return;
    fs_sha256_update(&s->sha, p, n);
    s->n += (long long)n;
    while (n > 0) {
        size_t take = FA_SINK_BUF - s->fill < n ? FA_SINK_BUF - s->fill : n;
        memcpy(s->buf + s->fill, b, take);
        s->fill += take, b += take, n -= take;
        if (s->fill == FA_SINK_BUF)
            sink_flush(s);
    }
}

int fa__sink_close(fa__sink *s, char hex[65])
{
    char dummy[65];
    if (s->buf)
        sink_flush(s);
    if (fs_sha256_final_hex(&s->sha, hex ? hex : dummy) != FS_OK)
        s->failed = 1;
    free(s->buf);
    s->buf = NULL;
    return s->failed ? -1 : 0;
}

int fa__image_cleans(const char *type)
{
    return type &&
           (strcmp(type, "image/jpeg") == 0 || strcmp(type, "image/png") == 0);
}

/* ---- sizes ----------------------------------------------------------- */

static int absurd(fa_agent *ag, const char *field, const char *label, long w,
                  long h)
{
    if (w < 1 || h < 1 || w > FA_IMAGE_SIDE_LIMIT || h > FA_IMAGE_SIDE_LIMIT ||
        (double)w * (double)h > (double)FA_IMAGE_PIXELS_LIMIT)
        return fa__fail(ag, FA_EINPUT,
                        "%s: %s says it is %ld x %ld pixels; images of at "
                        "most %ld pixels (%ld a side) are taken: take the "
                        "photo at a lower resolution",
                        field, label, w, h, FA_IMAGE_PIXELS_LIMIT,
                        FA_IMAGE_SIDE_LIMIT);
    return FA_OK;
}

/* The largest tw x th of the same shape as w x h with at most max pixels. */
static void target_size(long w, long h, long max, long *tw, long *th)
{
    double s = sqrt((double)max / ((double)w * (double)h));
    *tw = (long)floor((double)w * s);
    *th = (long)floor((double)h * s);
    if (*tw < 1)
        *tw = 1;
    if (*th < 1)
        *th = 1;
    while (*tw * *th > max) {
        if (*tw >= *th && *tw > 1)
            (*tw)--;
        else if (*th > 1)
            (*th)--;
        else
            break;
    }
}

/* ---- the box filter: rows in, fewer rows out ------------------------- */

typedef void (*row_fn)(void *ctx, const unsigned char *row);

typedef struct box {
    long iw, ih, ow, oh;
    int nc;
    long *xmap;     /* input column -> output column */
    uint32_t *xcnt; /* input columns per output column */
    uint64_t *acc;  /* ow * nc sums */
    unsigned char *out;
    long cur, rows; /* output row being summed, input rows in it */
    row_fn emit;
    void *ctx;
} box;

static int box_init(box *b, long iw, long ih, long ow, long oh, int nc,
                    row_fn emit, void *ctx)
{
    memset(b, 0, sizeof *b);
    b->iw = iw, b->ih = ih, b->ow = ow, b->oh = oh, b->nc = nc;
    b->emit = emit, b->ctx = ctx;
    b->cur = -1;
    b->xmap = malloc((size_t)iw * sizeof *b->xmap);
    b->xcnt = calloc((size_t)ow, sizeof *b->xcnt);
    b->acc = calloc((size_t)ow * (size_t)nc, sizeof *b->acc);
    b->out = malloc((size_t)ow * (size_t)nc);
    if (!b->xmap || !b->xcnt || !b->acc || !b->out)
        return -1;
    for (long x = 0; x < iw; x++) {
        b->xmap[x] = (long)((int64_t)x * ow / iw);
        b->xcnt[b->xmap[x]]++;
    }
    return 0;
}

static void box_flush(box *b)
{
    if (b->cur < 0 || b->rows == 0)
        return;
    size_t k = 0;
    for (long x = 0; x < b->ow; x++) {
        uint64_t cnt = (uint64_t)b->xcnt[x] * (uint64_t)b->rows;
        for (int c = 0; c < b->nc; c++, k++)
            b->out[k] = (unsigned char)((b->acc[k] + cnt / 2) / cnt);
    }
    b->emit(b->ctx, b->out);
    memset(b->acc, 0, (size_t)b->ow * (size_t)b->nc * sizeof *b->acc);
    b->rows = 0;
}

static void box_row(box *b, long y, const unsigned char *in)
{
    long oy = (long)((int64_t)y * b->oh / b->ih);
    if (oy != b->cur) {
        box_flush(b);
        b->cur = oy;
    }
    for (long x = 0; x < b->iw; x++) {
        uint64_t *a = b->acc + (size_t)b->xmap[x] * (size_t)b->nc;
        for (int c = 0; c < b->nc; c++)
            a[c] += in[(size_t)x * (size_t)b->nc + (size_t)c];
    }
    b->rows++;
}

static void box_free(box *b)
{
    free(b->xmap);
    free(b->xcnt);
    free(b->acc);
    free(b->out);
}

/* ---- EXIF orientation ------------------------------------------------ */

/* The one EXIF tag kept: Orientation (0x0112), how the camera was held.
 * Without it a photo taken upright shows on its side. p[0..n) is an APP1
 * payload; 2..8 when it says the picture is turned, else 0. */
static int exif_orientation(const unsigned char *p, size_t n)
{
    if (n < 6 + 8 || memcmp(p, "Exif\0\0", 6) != 0)
        return 0;
    const unsigned char *t = p + 6;
    size_t tn = n - 6;
    int le = t[0] == 'I' && t[1] == 'I';
    if (!le && !(t[0] == 'M' && t[1] == 'M'))
        return 0;
#define RD16(q)                                                                \
    (le ? (unsigned)(q)[0] | (unsigned)(q)[1] << 8                             \
        : (unsigned)(q)[0] << 8 | (unsigned)(q)[1])
#define RD32(q)                                                                \
    (le ? (uint32_t)RD16(q) | (uint32_t)RD16((q) + 2) << 16                    \
        : (uint32_t)RD16(q) << 16 | (uint32_t)RD16((q) + 2))
    uint32_t ifd = RD32(t + 4);
    if (ifd > tn - 2)
        return 0;
    unsigned count = RD16(t + ifd);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + 12 * (size_t)i;
        if (e + 12 > tn)
            return 0;
        if (RD16(t + e) == 0x0112 && RD16(t + e + 2) == 3 &&
            RD32(t + e + 4) == 1) {
            unsigned v = RD16(t + e + 8);
            return v >= 2 && v <= 8 ? (int)v : 0;
        }
    }
    return 0;
#undef RD16
#undef RD32
}

/* An APP1 payload holding nothing but the orientation: 32 bytes. */
static void exif_minimal(unsigned char b[32], int orientation)
{
    static const unsigned char head[] = {
        'E',  'x',  'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8, /* TIFF */
        0,    1,                                                 /* 1 tag */
        0x01, 0x12, 0,   3,   0, 0, 0,   1};                     /* SHORT */
    memcpy(b, head, sizeof head);
    b[24] = 0, b[25] = (unsigned char)orientation, b[26] = b[27] = 0;
    memset(b + 28, 0, 4); /* no next IFD */
}

/* ---- JPEG: segments -------------------------------------------------- */

/* Copies a JPEG from in to out without the segments that carry
 * metadata; -1 with why when it is not a well-formed JPEG. */
static int jpeg_strip(FILE *in, fa__sink *out, const char **why)
{
    int oriented_v = 0, *oriented = &oriented_v;
    int c1 = getc(in), c2 = getc(in);
    if (c1 != 0xFF || c2 != 0xD8) {
        *why = "it does not start like a JPEG";
        return -1;
    }
    fa__sink_write(out, "\xFF\xD8", 2);
    int m = -1; /* a marker read ahead by the scan copy */
    for (;;) {
        if (m < 0) {
            int c = getc(in);
            if (c != 0xFF) {
                *why = c == EOF ? "it ends early" : "a segment is damaged";
                return -1;
            }
            do
                c = getc(in);
            while (c == 0xFF);
            if (c == EOF || c == 0) {
                *why = c == EOF ? "it ends early" : "a segment is damaged";
                return -1;
            }
            m = c;
        }
        unsigned char mk[2] = {0xFF, (unsigned char)m};
        if (m == 0xD9) {
            fa__sink_write(out, mk, 2); /* the end: what follows is dropped */
            return 0;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7) || m == 0xD8) {
            *why = "a marker is out of place";
            return -1;
        }
        int l1 = getc(in), l2 = getc(in);
        if (l1 == EOF || l2 == EOF || (l1 << 8 | l2) < 2) {
            *why = "a segment is damaged";
            return -1;
        }
        size_t len = (size_t)(l1 << 8 | l2) - 2;
        unsigned char id[14];
        size_t idn = len < sizeof id ? len : sizeof id;
        if (fread(id, 1, idn, in) != idn) {
            *why = "it ends early";
            return -1;
        }
        int app = (m >= 0xE0 && m <= 0xEF) || m == 0xFE;
        int keep = !app;
        if (m == 0xE1 && idn >= 6 && memcmp(id, "Exif\0\0", 6) == 0 &&
            !*oriented) {
            /* EXIF: read whole (at most 64 KiB) for its orientation, and
             * write that alone. */
            unsigned char *x = malloc(len);
            if (!x) {
                *why = "out of memory";
                return -1;
            }
            memcpy(x, id, idn);
            if (fread(x + idn, 1, len - idn, in) != len - idn) {
                free(x);
                *why = "it ends early";
                return -1;
            }
            int o = exif_orientation(x, len);
            free(x);
            if (o) {
                unsigned char seg[4 + 32] = {0xFF, 0xE1, 0, 34};
                exif_minimal(seg + 4, o);
                fa__sink_write(out, seg, sizeof seg);
                *oriented = 1;
            }
            m = -1;
            continue;
        }
        if (m == 0xE0 && idn == 14 && memcmp(id, "JFIF", 5) == 0) {
            /* The JFIF header, its thumbnail dropped. */
            unsigned char j[18] = {0xFF, 0xE0, 0, 16};
            memcpy(j + 4, id, 12);
            j[16] = j[17] = 0;
            fa__sink_write(out, j, sizeof j);
        } else if ((m == 0xE2 && idn >= 12 &&
                    memcmp(id, "ICC_PROFILE", 12) == 0) ||
                   (m == 0xEE && idn >= 5 && memcmp(id, "Adobe", 5) == 0)) {
            keep = 1;
        }
        if (keep) {
            unsigned char h[4] = {0xFF, (unsigned char)m, (unsigned char)l1,
                                  (unsigned char)l2};
            fa__sink_write(out, h, 4);
            fa__sink_write(out, id, idn);
        }
        unsigned char buf[4096];
        for (size_t left = len - idn; left > 0;) {
            size_t n = left < sizeof buf ? left : sizeof buf;
            if (fread(buf, 1, n, in) != n) {
                *why = "it ends early";
                return -1;
            }
            if (keep)
                fa__sink_write(out, buf, n);
            left -= n;
        }
        m = -1;
        if (mk[1] != 0xDA)
            continue;
        /* Entropy-coded data after SOS: bytes, stuffed FF 00 and restart
         * markers, up to the next real marker. */
        for (;;) {
            int c = getc(in);
            if (c == EOF) {
                *why = "it ends early";
                return -1;
            }
            if (c != 0xFF) {
                unsigned char b = (unsigned char)c;
                fa__sink_write(out, &b, 1);
                continue;
            }
            do
                c = getc(in);
            while (c == 0xFF);
            if (c == EOF) {
                *why = "it ends early";
                return -1;
            }
            if (c == 0 || (c >= 0xD0 && c <= 0xD7)) {
                unsigned char p[2] = {0xFF, (unsigned char)c};
                fa__sink_write(out, p, 2);
                continue;
            }
            m = c;
            break;
        }
    }
}

/* ---- JPEG: decode, scale, encode ------------------------------------- */

typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void on_jpeg_error(j_common_ptr c)
{
    jerr *e = (jerr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jump, 1);
}

static void on_jpeg_message(j_common_ptr c, int level)
{
    if (level < 0)
        c->err->num_warnings++; /* corrupt data: checked at the end */
}

typedef struct jdest {
    struct jpeg_destination_mgr pub;
    fa__sink *sink;
    JOCTET buf[16384];
} jdest;

static void jdest_init(j_compress_ptr c)
{
    jdest *d = (jdest *)c->dest;
    d->pub.next_output_byte = d->buf;
    d->pub.free_in_buffer = sizeof d->buf;
}

static boolean jdest_empty(j_compress_ptr c)
{
    jdest *d = (jdest *)c->dest;
    fa__sink_write(d->sink, d->buf, sizeof d->buf);
    jdest_init(c);
    return TRUE;
}

static void jdest_term(j_compress_ptr c)
{
    jdest *d = (jdest *)c->dest;
    fa__sink_write(d->sink, d->buf, sizeof d->buf - d->pub.free_in_buffer);
}

static void jpeg_emit(void *ctx, const unsigned char *row)
{
    JSAMPROW r = (JSAMPROW)row;
    jpeg_write_scanlines(ctx, &r, 1);
}

typedef struct jscale {
    struct jpeg_decompress_struct d;
    struct jpeg_compress_struct c;
    jerr de, ce;
    jdest dest;
    box bx;
    JSAMPROW row;
    int started_c;
} jscale;

static int jpeg_clean(fa_agent *ag, const char *field, const char *label,
                      FILE *in, long max_pixels, fa__sink *out, long *ow,
                      long *oh)
{
    jscale *j = calloc(1, sizeof *j);
    if (!j)
        return fa__fail(ag, FA_ESTORE, "out of memory");
    int rc = FA_OK;
    j->d.err = jpeg_std_error(&j->de.pub);
    j->de.pub.error_exit = on_jpeg_error;
    j->de.pub.emit_message = on_jpeg_message;
    j->c.err = jpeg_std_error(&j->ce.pub);
    j->ce.pub.error_exit = on_jpeg_error;
    if (setjmp(j->de.jump) || setjmp(j->ce.jump)) {
        const char *msg = j->de.msg[0] ? j->de.msg : j->ce.msg;
        rc = fa__fail(ag, FA_EINPUT,
                      "%s: %s cannot be read as a JPEG (%s); the file is "
                      "damaged: take the photo again",
                      field, label, msg);
        goto done;
    }
    jpeg_create_decompress(&j->d);
    j->d.mem->max_memory_to_use = FA_IMAGE_JPEG_MEMORY;
    jpeg_stdio_src(&j->d, in);
    jpeg_save_markers(&j->d, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&j->d, TRUE);
    int orientation = 0;
    for (jpeg_saved_marker_ptr mk = j->d.marker_list; mk && !orientation;
         mk = mk->next)
        orientation = exif_orientation(mk->data, mk->data_length);
    long w = (long)j->d.image_width, h = (long)j->d.image_height;
    rc = absurd(ag, field, label, w, h);
    if (rc != FA_OK)
        goto done;
    if (max_pixels <= 0 || w * h <= max_pixels) {
        /* Small enough: the same bytes, without the metadata. */
        const char *why = NULL;
        jpeg_abort_decompress(&j->d);
        if (fseek(in, 0, SEEK_SET) != 0 || jpeg_strip(in, out, &why) != 0)
            rc = fa__fail(ag, FA_EINPUT,
                          "%s: %s cannot be read as a JPEG (%s); the file "
                          "is damaged: take the photo again",
                          field, label, why ? why : "it cannot be read");
        *ow = w, *oh = h;
        goto done;
    }
    long tw, th;
    target_size(w, h, max_pixels, &tw, &th);
    unsigned denom = 8;
    while (denom > 1 &&
           ((w + denom - 1) / denom < tw || (h + denom - 1) / denom < th))
        denom /= 2;
    j->d.scale_num = 1;
    j->d.scale_denom = denom;
    J_COLOR_SPACE cs = j->d.num_components == 1   ? JCS_GRAYSCALE
                       : j->d.num_components == 4 ? JCS_CMYK
                                                  : JCS_RGB;
    j->d.out_color_space = cs;
    jpeg_start_decompress(&j->d);
    long iw = (long)j->d.output_width, ih = (long)j->d.output_height;
    int nc = j->d.output_components;
    if (tw > iw)
        tw = iw;
    if (th > ih)
        th = ih;
    jpeg_create_compress(&j->c);
    j->dest.sink = out;
    j->dest.pub.init_destination = jdest_init;
    j->dest.pub.empty_output_buffer = jdest_empty;
    j->dest.pub.term_destination = jdest_term;
    j->c.dest = &j->dest.pub;
    j->c.image_width = (JDIMENSION)tw;
    j->c.image_height = (JDIMENSION)th;
    j->c.input_components = nc;
    j->c.in_color_space = cs;
    jpeg_set_defaults(&j->c);
    jpeg_set_quality(&j->c, 85, TRUE);
    j->row = malloc((size_t)iw * (size_t)nc);
    if (!j->row || box_init(&j->bx, iw, ih, tw, th, nc, jpeg_emit, &j->c)) {
        rc = fa__fail(ag, FA_ESTORE, "out of memory scaling %s", label);
        goto done;
    }
    jpeg_start_compress(&j->c, TRUE);
    j->started_c = 1;
    if (orientation) {
        unsigned char x[32];
        exif_minimal(x, orientation);
        jpeg_write_marker(&j->c, JPEG_APP0 + 1, x, sizeof x);
    }
    while (j->d.output_scanline < j->d.output_height) {
        long y = (long)j->d.output_scanline;
        if (jpeg_read_scanlines(&j->d, &j->row, 1) != 1)
            break;
        box_row(&j->bx, y, j->row);
    }
    box_flush(&j->bx);
    jpeg_finish_compress(&j->c);
    jpeg_finish_decompress(&j->d);
    if (j->de.pub.num_warnings > 0)
        rc = fa__fail(ag, FA_EINPUT,
                      "%s: %s is a damaged JPEG (part of the picture is "
                      "missing): take the photo again",
                      field, label);
    *ow = tw, *oh = th;
done:
    jpeg_destroy_decompress(&j->d);
    jpeg_destroy_compress(&j->c);
    free(j->row);
    box_free(&j->bx);
    free(j);
    return rc;
}

/* ---- PNG ------------------------------------------------------------- */

static int png_keep(const unsigned char t[4])
{
    static const char *const keep[] = {"IHDR", "PLTE", "IDAT", "IEND",
                                       "tRNS", "gAMA", "cHRM", "sRGB",
                                       "iCCP", "sBIT", "bKGD", "pHYs"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (memcmp(t, keep[i], 4) == 0)
            return 1;
    return 0;
}

/* Copies a PNG's chunks that are not metadata, up to IEND. */
static int png_strip(FILE *in, fa__sink *out, const char **why)
{
    unsigned char sig[8], h[8], buf[4096];
    if (fread(sig, 1, 8, in) != 8 || memcmp(sig, "\x89PNG\r\n\x1a\n", 8)) {
        *why = "it does not start like a PNG";
        return -1;
    }
    fa__sink_write(out, sig, 8);
    for (;;) {
        if (fread(h, 1, 8, in) != 8) {
            *why = "it ends early";
            return -1;
        }
        uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                       (uint32_t)h[2] << 8 | h[3];
        if (len > 0x7fffffffu) {
            *why = "a chunk is damaged";
            return -1;
        }
        int keep = png_keep(h + 4);
        if (keep)
            fa__sink_write(out, h, 8);
        for (uint64_t left = (uint64_t)len + 4; left > 0;) {
            size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
            if (fread(buf, 1, n, in) != n) {
                *why = "it ends early";
                return -1;
            }
            if (keep)
                fa__sink_write(out, buf, n);
            left -= n;
        }
        if (memcmp(h + 4, "IEND", 4) == 0)
            return 0;
    }
}

typedef struct perr {
    jmp_buf jump;
    char msg[200];
} perr;

static void on_png_error(png_structp png, png_const_charp msg)
{
    perr *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jump, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;
}

static void png_sink_write(png_structp png, png_bytep p, png_size_t n)
{
    fa__sink_write(png_get_io_ptr(png), p, n);
}

static void png_sink_flush(png_structp png)
{
    (void)png;
}

typedef struct pscale {
    png_structp r, w;
    png_infop ri, wi;
    perr re, we;
    box bx;
    unsigned char *rows; /* one row, or the whole interlaced image */
} pscale;

static void png_emit(void *ctx, const unsigned char *row)
{
    png_write_row(ctx, row);
}

static int png_clean(fa_agent *ag, const char *field, const char *label,
                     FILE *in, long max_pixels, fa__sink *out, long *ow,
                     long *oh)
{
    pscale *p = calloc(1, sizeof *p);
    if (!p)
        return fa__fail(ag, FA_ESTORE, "out of memory");
    int rc = FA_OK;
    if (setjmp(p->re.jump) || setjmp(p->we.jump)) {
        rc = fa__fail(ag, FA_EINPUT,
                      "%s: %s cannot be read as a PNG (%s); the file is "
                      "damaged: save it again",
                      field, label, p->re.msg[0] ? p->re.msg : p->we.msg);
        goto done;
    }
    p->r = png_create_read_struct(PNG_LIBPNG_VER_STRING, &p->re, on_png_error,
                                  on_png_warning);
    p->ri = p->r ? png_create_info_struct(p->r) : NULL;
    if (!p->ri) {
        rc = fa__fail(ag, FA_ESTORE, "out of memory");
        goto done;
    }
    png_set_user_limits(p->r, FA_IMAGE_SIDE_LIMIT, FA_IMAGE_SIDE_LIMIT);
    png_init_io(p->r, in);
    png_read_info(p->r, p->ri);
    long w = (long)png_get_image_width(p->r, p->ri);
    long h = (long)png_get_image_height(p->r, p->ri);
    rc = absurd(ag, field, label, w, h);
    if (rc != FA_OK)
        goto done;
    if (max_pixels <= 0 || w * h <= max_pixels) {
        const char *why = NULL;
        if (fseek(in, 0, SEEK_SET) != 0 || png_strip(in, out, &why) != 0)
            rc = fa__fail(ag, FA_EINPUT,
                          "%s: %s cannot be read as a PNG (%s); the file is "
                          "damaged: save it again",
                          field, label, why ? why : "it cannot be read");
        *ow = w, *oh = h;
        goto done;
    }
    png_set_expand(p->r);
    png_set_strip_16(p->r);
    int passes = png_set_interlace_handling(p->r);
    png_read_update_info(p->r, p->ri);
    int nc = png_get_channels(p->r, p->ri);
    size_t rowbytes = png_get_rowbytes(p->r, p->ri);
    if (rowbytes != (size_t)w * (size_t)nc || nc < 1 || nc > 4) {
        rc = fa__fail(ag, FA_EINPUT, "%s: %s is a PNG of a kind not handled",
                      field, label);
        goto done;
    }
    if (passes > 1 && (double)rowbytes * (double)h > FA_IMAGE_PNG_WHOLE_MAX) {
        rc = fa__fail(ag, FA_EINPUT,
                      "%s: %s is an interlaced PNG of %ld x %ld pixels, too "
                      "large to scale down on this device; save it without "
                      "interlacing or at a lower resolution",
                      field, label, w, h);
        goto done;
    }
    long tw, th;
    target_size(w, h, max_pixels, &tw, &th);
    p->rows = malloc(rowbytes * (size_t)(passes > 1 ? h : 1));
    p->w = png_create_write_struct(PNG_LIBPNG_VER_STRING, &p->we, on_png_error,
                                   on_png_warning);
    p->wi = p->w ? png_create_info_struct(p->w) : NULL;
    if (!p->rows || !p->wi ||
        box_init(&p->bx, w, h, tw, th, nc, png_emit, p->w)) {
        rc = fa__fail(ag, FA_ESTORE, "out of memory scaling %s", label);
        goto done;
    }
    static const int types[] = {0, PNG_COLOR_TYPE_GRAY,
                                PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                PNG_COLOR_TYPE_RGB_ALPHA};
    png_set_write_fn(p->w, out, png_sink_write, png_sink_flush);
    png_set_IHDR(p->w, p->wi, (png_uint_32)tw, (png_uint_32)th, 8, types[nc],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p->w, p->wi);
    if (passes > 1) {
        for (int pass = 0; pass < passes; pass++)
            for (long y = 0; y < h; y++)
                png_read_row(p->r, p->rows + (size_t)y * rowbytes, NULL);
        for (long y = 0; y < h; y++)
            box_row(&p->bx, y, p->rows + (size_t)y * rowbytes);
    } else {
        for (long y = 0; y < h; y++) {
            png_read_row(p->r, p->rows, NULL);
            box_row(&p->bx, y, p->rows);
        }
    }
    box_flush(&p->bx);
    png_read_end(p->r, NULL);
    png_write_end(p->w, NULL);
    *ow = tw, *oh = th;
done:
    png_destroy_read_struct(p->r ? &p->r : NULL, p->ri ? &p->ri : NULL, NULL);
    png_destroy_write_struct(p->w ? &p->w : NULL, p->wi ? &p->wi : NULL);
    free(p->rows);
    box_free(&p->bx);
    free(p);
    return rc;
}

int fa__image_clean(fa_agent *ag, const char *field, const char *label,
                    int in_fd, const char *type, long max_pixels, fa__sink *out,
                    long *w, long *h)
{
    int fd = dup(in_fd);
    FILE *in = fd >= 0 ? fdopen(fd, "rb") : NULL;
    long ow = 0, oh = 0;
    if (!in) {
        if (fd >= 0)
            close(fd);
        return fa__fail(ag, FA_ESTORE, "cannot read %s back: %s", label,
                        strerror(errno));
    }
    int rc;
    if (fseek(in, 0, SEEK_SET) != 0)
        rc = fa__fail(ag, FA_ESTORE, "cannot read %s back", label);
    else if (strcmp(type, "image/jpeg") == 0)
        rc = jpeg_clean(ag, field, label, in, max_pixels, out, &ow, &oh);
    else
        rc = png_clean(ag, field, label, in, max_pixels, out, &ow, &oh);
    fclose(in);
    if (w)
        *w = ow;
    if (h)
        *h = oh;
    return rc;
}
