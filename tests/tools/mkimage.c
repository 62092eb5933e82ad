/*
 * mkimage - test images for the attachment tests and benches (issue 19).
 *
 *   mkimage jpeg OUT W H [--exif] [--progressive] [--orientation N]
 *       a W x H photo-like JPEG (gradients and noise); --exif adds what a
 *       phone leaves in a photo: an EXIF APP1 segment with a GPS IFD and
 *       the camera's serial number, an XMP APP1, a comment and bytes after
 *       the end-of-image marker, each holding the text FS-PRIVATE-MARK;
 *       --orientation N (with --exif) adds EXIF's Orientation tag.
 *   mkimage png OUT W H [--text]
 *       a W x H RGB PNG; --text adds tEXt and eXIf chunks holding
 *       FS-PRIVATE-MARK.
 *   mkimage pngsize OUT SIZE [MARK]
 *       a valid PNG of exactly SIZE bytes (at least 1000) of random pixels
 *       stored uncompressed, without metadata: the agent stores it as it is.
 *       MARK (under 300 bytes) is written into the pixels as it is.
 *   mkimage info FILE
 *       decodes FILE (JPEG or PNG) whole and prints "W H"; exits 1 when
 *       it does not decode.
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#define MARK "FS-PRIVATE-MARK"

static unsigned char pixel(long x, long y, int c, uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    long v = (x * (c + 1) * 3 + y * (3 - c) * 2) / 7 + (long)(*seed >> 27);
    return (unsigned char)(v & 0xff);
}

/* An EXIF APP1 body: TIFF header, IFD0 with Make, a serial number and a
 * pointer to a GPS IFD with latitude and longitude. */
static int orientation;

static size_t exif_body(unsigned char *b)
{
    const unsigned ne = orientation ? 4 : 3, data = 8 + 2 + ne * 12 + 4;
    size_t n = 0;
    memcpy(b, "Exif\0\0", 6);
    unsigned char *t = b + 6; /* offsets are from here */
    memcpy(t, "II*\0\x08\0\0\0", 8);
    n = 8;
#define U16(v)                                                                 \
    (t[n++] = (unsigned char)((v)&0xff), t[n++] = (unsigned char)((v) >> 8))
#define U32(v) (U16((v)&0xffff), U16(((uint32_t)(v)) >> 16))
    /* IFD0 at 8 */
    U16(ne);
    U16(0x010F), U16(2), U32(16), U32(data); /* Make */
    if (orientation)
        U16(0x0112), U16(3), U32(1), U16(orientation), U16(0);
    U16(0x8825), U16(4), U32(1), U32(data + 32);  /* GPS IFD */
    U16(0xA431), U16(2), U32(16), U32(data + 16); /* serial */
    U32(0);
    memcpy(t + n, "PhoneMaker\0\0\0\0\0", 16), n += 16;
    memcpy(t + n, MARK "\0", 16), n += 16;
    /* GPS IFD: latitude ref and value */
    size_t gps = n;
    U16(2);
    U16(0x0001), U16(2), U32(2), U32(0x4e); /* 'N' */
    U16(0x0002), U16(5), U32(3), U32(gps + 2 + 2 * 12 + 4);
    U32(0);
    for (int i = 0; i < 3; i++)
        U32(48 - i), U32(1);
    memcpy(t + n, MARK, strlen(MARK)), n += strlen(MARK);
    return 6 + n;
}

static int make_jpeg(const char *out, long w, long h, int exif, int prog)
{
    FILE *f = fopen(out, "wb");
    if (!f)
        return perror(out), 1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (prog)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    if (exif) {
        unsigned char b[512];
        size_t n = exif_body(b);
        jpeg_write_marker(&c, JPEG_APP0 + 1, b, (unsigned)n);
        const char *xmp = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta "
                          "exif:GPSLatitude='48,51.4N'>" MARK "</x:xmpmeta>";
        jpeg_write_marker(&c, JPEG_APP0 + 1, (const JOCTET *)xmp,
                          (unsigned)(29 + strlen(xmp + 29)));
        jpeg_write_marker(&c, JPEG_COM, (const JOCTET *)MARK, strlen(MARK));
    }
    unsigned char *row = malloc((size_t)w * 3);
    uint32_t seed = 42;
    while (c.next_scanline < c.image_height) {
        for (long x = 0; x < w; x++)
            for (int k = 0; k < 3; k++)
                row[x * 3 + k] = pixel(x, (long)c.next_scanline, k, &seed);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    if (exif)
        fputs("trailer after EOI " MARK, f);
    return fclose(f) != 0;
}

static int make_png(const char *out, long w, long h, int text)
{
    FILE *f = fopen(out, "wb");
    if (!f)
        return perror(out), 1;
    png_structp p =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop i = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p)))
        return fprintf(stderr, "mkimage: png failed\n"), 1;
    png_init_io(p, f);
    png_set_IHDR(p, i, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (text) {
        png_text t = {.compression = PNG_TEXT_COMPRESSION_NONE,
                      .key = "Comment",
                      .text = MARK " gps 48.85 2.35"};
        png_set_text(p, i, &t, 1);
        unsigned char b[512];
        size_t n = exif_body(b);
        png_set_eXIf_1(p, i, (png_uint_32)(n - 6), b + 6);
    }
    png_write_info(p, i);
    unsigned char *row = malloc((size_t)w * 3);
    uint32_t seed = 7;
    for (long y = 0; y < h; y++) {
        for (long x = 0; x < w; x++)
            for (int k = 0; k < 3; k++)
                row[x * 3 + k] = pixel(x, y, k, &seed);
        png_write_row(p, row);
    }
    png_write_end(p, i);
    png_destroy_write_struct(&p, &i);
    free(row);
    return fclose(f) != 0;
}

static void chunk(FILE *f, const char *type, const unsigned char *d, uint32_t n)
{
    unsigned char h[8] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    memcpy(h + 4, type, 4);
    uLong crc = crc32(0, h + 4, 4);
    if (n)
        crc = crc32(crc, d, n);
    fwrite(h, 1, 8, f);
    if (n)
        fwrite(d, 1, n, f);
    unsigned char c[4] = {(unsigned char)(crc >> 24),
                          (unsigned char)(crc >> 16), (unsigned char)(crc >> 8),
                          (unsigned char)crc};
    fwrite(c, 1, 4, f);
}

/* Random pixels in stored deflate blocks; empty IDAT chunks (12 bytes)
 * and empty stored blocks (5 bytes) make up the exact size. */
static int make_png_size(const char *out, long size, const char *mark)
{
    const long w = 100, rowb = 1 + 3 * w;
    /* signature 8, IHDR 25, IEND 12, one IDAT 12 + zlib 2 + adler 4 +
     * final empty block 5; 5 more per stored block of <= 65535 bytes */
    long fixed = 8 + 25 + 12 + 12 + 2 + 4 + 5, h = 0, raw = 0, blocks = 0;
    long pad = -1;
    for (long t = 1; t < 65536; t++) { /* the most rows that leave >= 48 */
        long r = t * rowb, b = (r + 65534) / 65535;
        long p = size - fixed - r - 5 * b;
        if (p < 48)
            break;
        h = t, raw = r, blocks = b, pad = p;
    }
    if (h < 1)
        return fprintf(stderr, "mkimage: size %ld too small\n", size), 1;
    long empty_idat = 0;
    while (pad % 5 != 0)
        pad -= 12, empty_idat++;
    long empty_blocks = pad / 5;
    size_t zn = 2 + (size_t)raw + 5 * (size_t)(blocks + empty_blocks) + 5 + 4;
    unsigned char *z = malloc(zn), *pix = malloc((size_t)raw);
    if (getrandom(pix, (size_t)raw, 0) != (ssize_t)raw)
        return perror("getrandom"), 1;
    for (long y = 0; y < h; y++)
        pix[y * rowb] = 0; /* filter: none */
    /* A mark in the pixels of the second row: stored blocks keep it as
     * it is, so a test can look for it in every byte of a store. */
    if (mark && h > 1 && strlen(mark) < (size_t)rowb)
        memcpy(pix + rowb + 1, mark, strlen(mark));
    size_t k = 0;
    z[k++] = 0x78, z[k++] = 0x01;
    for (long i = 0; i < empty_blocks; i++)
        memcpy(z + k, "\0\0\0\xff\xff", 5), k += 5;
    for (long off = 0; off < raw; off += 65535) {
        unsigned len = (unsigned)(raw - off < 65535 ? raw - off : 65535);
        z[k++] = 0;
        z[k++] = (unsigned char)len, z[k++] = (unsigned char)(len >> 8);
        z[k++] = (unsigned char)~len, z[k++] = (unsigned char)(~len >> 8);
        memcpy(z + k, pix + off, len), k += len;
    }
    memcpy(z + k, "\x01\0\0\xff\xff", 5), k += 5;
    uLong ad = adler32(1, pix, (uInt)raw);
    z[k++] = (unsigned char)(ad >> 24), z[k++] = (unsigned char)(ad >> 16);
    z[k++] = (unsigned char)(ad >> 8), z[k++] = (unsigned char)ad;
    FILE *f = fopen(out, "wb");
    if (!f)
        return perror(out), 1;
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    unsigned char ihdr[13] = {0,
                              0,
                              0,
                              (unsigned char)w,
                              0,
                              0,
                              (unsigned char)(h >> 8),
                              (unsigned char)h,
                              8,
                              2};
    chunk(f, "IHDR", ihdr, 13);
    for (long i = 0; i < empty_idat; i++)
        chunk(f, "IDAT", NULL, 0);
    chunk(f, "IDAT", z, (uint32_t)k);
    chunk(f, "IEND", NULL, 0);
    free(z);
    free(pix);
    long at = ftell(f);
    int bad = fclose(f) != 0;
    if (at != size)
        return fprintf(stderr, "mkimage: wrote %ld, not %ld\n", at, size), 1;
    return bad;
}

static jmp_buf jfail;
static void on_error(j_common_ptr c)
{
    char m[JMSG_LENGTH_MAX];
    c->err->format_message(c, m);
    fprintf(stderr, "mkimage: %s\n", m);
    longjmp(jfail, 1);
}

static int info(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char sig[8] = {0};
    if (!f || fread(sig, 1, 8, f) != 8)
        return fprintf(stderr, "mkimage: cannot read %s\n", path), 1;
    rewind(f);
    if (sig[0] == 0xFF && sig[1] == 0xD8) {
        static struct jpeg_decompress_struct d;
        static struct jpeg_error_mgr e;
        d.err = jpeg_std_error(&e);
        e.error_exit = on_error;
        if (setjmp(jfail))
            return 1;
        jpeg_create_decompress(&d);
        jpeg_stdio_src(&d, f);
        jpeg_read_header(&d, TRUE);
        jpeg_start_decompress(&d);
        JSAMPROW row =
            malloc((size_t)d.output_width * (size_t)d.output_components);
        while (d.output_scanline < d.output_height)
            jpeg_read_scanlines(&d, &row, 1);
        jpeg_finish_decompress(&d);
        if (e.num_warnings)
            return fprintf(stderr, "mkimage: corrupt JPEG data\n"), 1;
        printf("%u %u\n", d.output_width, d.output_height);
        jpeg_destroy_decompress(&d);
        free(row);
        return fclose(f) != 0;
    }
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&img, f))
        return fprintf(stderr, "mkimage: %s\n", img.message), 1;
    img.format = PNG_FORMAT_RGBA;
    void *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL))
        return fprintf(stderr, "mkimage: %s\n", img.message), 1;
    printf("%u %u\n", img.width, img.height);
    free(buf);
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    int flag_a = 0, flag_b = 0;
    for (int i = 5; i < argc; i++) {
        if (strcmp(argv[i], "--exif") == 0 || strcmp(argv[i], "--text") == 0)
            flag_a = 1;
        else if (strcmp(argv[i], "--progressive") == 0)
            flag_b = 1;
        else if (strcmp(argv[i], "--orientation") == 0 && i + 1 < argc)
            orientation = atoi(argv[++i]);
    }
    if (argc >= 5 && strcmp(argv[1], "jpeg") == 0)
        return make_jpeg(argv[2], atol(argv[3]), atol(argv[4]), flag_a, flag_b);
    if (argc >= 5 && strcmp(argv[1], "png") == 0)
        return make_png(argv[2], atol(argv[3]), atol(argv[4]), flag_a);
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "pngsize") == 0)
        return make_png_size(argv[2], atol(argv[3]),
                             argc == 5 ? argv[4] : NULL);
    if (argc == 3 && strcmp(argv[1], "info") == 0)
        return info(argv[2]);
    fprintf(stderr, "usage: mkimage jpeg OUT W H [--exif] [--progressive] "
                    "[--orientation N]\n"
                    "       mkimage png OUT W H [--text]\n"
                    "       mkimage pngsize OUT SIZE [MARK]\n"
                    "       mkimage info FILE\n");
    return 2;
}
