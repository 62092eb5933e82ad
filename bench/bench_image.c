/*
 * bench_image - time and memory the agent spends on one phone photo
 * before storing it (field-agent/image.c): a 12 MP JPEG (4000 x 3000,
 * quality 90, baseline and progressive) scaled down to a field's
 * max_pixels, and the same photo only stripped of its metadata (under
 * max_pixels); a 12 MP PNG scaled down.
 *
 *   bench_image [--max-pixels N] [--reps N] [--width W --height H]
 *
 * Each measure runs in a child process of its own (fork, then the agent
 * library's fa__image_clean on the file), so its peak RSS is its own
 * (wait4's ru_maxrss); the figure beside it is a child that only opens
 * the agent, so the difference is the photo's. Wall time is the best of
 * --reps runs of the cleaning call alone.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "agent.h"
#include "image.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Photo-like rows: gradients and a little noise (compresses as a photo
 * does, unlike flat colour or pure noise). */
static void fill_row(unsigned char *row, long w, long y, uint32_t *seed)
{
    for (long x = 0; x < w; x++)
        for (int c = 0; c < 3; c++) {
            *seed = *seed * 1103515245u + 12345u;
            long v = (x * (c + 2) + y * (4 - c)) / 9 + (long)(*seed >> 28);
            row[x * 3 + c] = (unsigned char)(v & 0xff);
        }
}

static int write_jpeg(const char *path, long w, long h, int prog)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
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
    unsigned char *row = malloc((size_t)w * 3);
    uint32_t seed = 1;
    while (c.next_scanline < c.image_height) {
        fill_row(row, w, (long)c.next_scanline, &seed);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    return fclose(f);
}

static int write_png(const char *path, long w, long h)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    png_structp p =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop i = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p)))
        return -1;
    png_init_io(p, f);
    png_set_IHDR(p, i, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, i);
    unsigned char *row = malloc((size_t)w * 3);
    uint32_t seed = 1;
    for (long y = 0; y < h; y++) {
        fill_row(row, w, y, &seed);
        png_write_row(p, row);
    }
    png_write_end(p, i);
    png_destroy_write_struct(&p, &i);
    free(row);
    return fclose(f);
}

typedef struct result {
    double secs;
    long out_bytes, w, h;
    int rc;
} result;

/* In a child: open the agent in dir, clean path (type) reps times into
 * out; the best time through the pipe. The parent reads the child's peak
 * RSS. clean 0: only open the agent (the baseline). */
static int measure(const char *dir, const char *path, const char *type,
                   long max_pixels, int reps, int clean, result *r,
                   long *rss_kb)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        result res = {.secs = 1e9};
        char err[256];
        fa_agent *ag = NULL;
        if (fa_open(dir, &ag, err, sizeof err) != FA_OK) {
            fprintf(stderr, "bench_image: %s\n", err);
            _exit(1);
        }
        for (int k = 0; clean && k < reps; k++) {
            char out[4200];
            snprintf(out, sizeof out, "%s/out.img", dir);
            int in = open(path, O_RDONLY),
                o = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
            fa__sink s;
            fa__sink_open(&s, o);
            double t0 = now_s();
            res.rc = fa__image_clean(ag, "photo", path, in, type, max_pixels,
                                     &s, &res.w, &res.h);
            fa__sink_close(&s, NULL);
            double t = now_s() - t0;
            if (t < res.secs)
                res.secs = t;
            res.out_bytes = (long)s.n;
            close(in);
            close(o);
            if (res.rc != FA_OK)
                fprintf(stderr, "bench_image: %s\n", fa_last_error(ag));
        }
        fa_close(ag);
        if (write(pfd[1], &res, sizeof res) != (ssize_t)sizeof res)
            _exit(1);
        _exit(0);
    }
    close(pfd[1]);
    ssize_t got = read(pfd[0], r, sizeof *r);
    close(pfd[0]);
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || got != sizeof *r ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    *rss_kb = ru.ru_maxrss;
    return 0;
}

int main(int argc, char **argv)
{
    long w = 4000, h = 3000, max_pixels = 2000000;
    int reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--max-pixels") == 0)
            max_pixels = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--width") == 0)
            w = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--height") == 0)
            h = atol(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_image [--max-pixels N] [--reps N] "
                            "[--width W --height H]\n");
            return 2;
        }
    }
    char dir[] = "/tmp/bench_image.XXXXXX";
    if (!mkdtemp(dir))
        return perror("mkdtemp"), 1;
    char jpg[256], pjpg[256], png[256];
    snprintf(jpg, sizeof jpg, "%s/photo.jpg", dir);
    snprintf(pjpg, sizeof pjpg, "%s/photo-progressive.jpg", dir);
    snprintf(png, sizeof png, "%s/photo.png", dir);
    if (write_jpeg(jpg, w, h, 0) || write_jpeg(pjpg, w, h, 1) ||
        write_png(png, w, h))
        return fprintf(stderr, "bench_image: cannot write the photos\n"), 1;
    printf("bench_image --max-pixels %ld --reps %d --width %ld --height %ld\n",
           max_pixels, reps, w, h);
    result base;
    long base_kb = 0;
    if (measure(dir, jpg, "image/jpeg", 0, 0, 0, &base, &base_kb) != 0)
        return fprintf(stderr, "bench_image: the baseline failed\n"), 1;
    printf("baseline (agent opened, no photo): peak RSS %ld KiB\n", base_kb);
    struct {
        const char *name, *path, *type;
        long max;
    } cases[] = {
        {"JPEG baseline, scaled down", jpg, "image/jpeg", max_pixels},
        {"JPEG progressive, scaled down", pjpg, "image/jpeg", max_pixels},
        {"JPEG baseline, metadata stripped only", jpg, "image/jpeg", 0},
        {"PNG, scaled down", png, "image/png", max_pixels},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r;
        long kb = 0;
        FILE *f = fopen(cases[i].path, "rb");
        long in_bytes = 0;
        if (f) {
            fseek(f, 0, SEEK_END);
            in_bytes = ftell(f);
            fclose(f);
        }
        if (measure(dir, cases[i].path, cases[i].type, cases[i].max, reps, 1,
                    &r, &kb) != 0 ||
            r.rc != FA_OK) {
            printf("%-40s failed\n", cases[i].name);
            bad = 1;
            continue;
        }
        printf("%-40s %ldx%ld %ld B -> %ldx%ld %ld B: %.3f s, peak RSS "
               "%ld KiB (+%ld over the baseline)\n",
               cases[i].name, w, h, in_bytes, r.w, r.h, r.out_bytes, r.secs, kb,
               kb - base_kb);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        bad = 1;
    return bad;
}
