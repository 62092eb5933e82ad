/*
 * image.h - photos made safe and small before they are stored (image.c):
 * a JPEG always loses its metadata (EXIF holds the GPS position and the
 * camera's serial number), a PNG its text and EXIF chunks, and an image
 * over its field's max_pixels is scaled down (FORMS.md, attachment
 * fields). Used by attach.c for `record --attach` and the form app alike.
 */
#ifndef FA_IMAGE_H
#define FA_IMAGE_H

#include "agent_int.h"
#include "fs_protocol.h"

/* Larger images are refused as absurd, before anything is allocated. */
#define FA_IMAGE_PIXELS_LIMIT 150000000L /* 150 MP */
#define FA_IMAGE_SIDE_LIMIT 60000L
/* libjpeg's working memory (a progressive JPEG holds all its coefficients:
 * about 3 bytes a pixel): beyond it the decoder stops with an error. */
#define FA_IMAGE_JPEG_MEMORY (160L << 20)
/* An interlaced PNG is decoded whole to be scaled: at most this much. */
#define FA_IMAGE_PNG_WHOLE_MAX (64L << 20)

/* Where cleaned bytes go: a file descriptor, hashed on the way, through
 * a buffer of FA_SINK_BUF bytes. */
#define FA_SINK_BUF (64 * 1024)
typedef struct fa__sink {
    int fd;
    int failed; /* a write failed: errno in err */
    int err;
    long long n; /* bytes written */
    fs_sha256_ctx sha;
    size_t fill;
    unsigned char *buf; /* FA_SINK_BUF bytes */
} fa__sink;

/* 0, or -1 (sink->failed set) when the buffer cannot be allocated. */
int fa__sink_open(fa__sink *s, int fd);
void fa__sink_write(fa__sink *s, const void *p, size_t n);
/* Writes what is buffered; the digest into hex; frees. 0 or -1 when a
 * write failed (errno in s->err). */
int fa__sink_close(fa__sink *s, char hex[65]);

/* Rewrites the image of content type type ("image/jpeg" or "image/png")
 * read from in_fd (from offset 0) into out: without its metadata, and
 * scaled down to at most max_pixels pixels when it has more (0: any
 * number). FA_EINPUT with a message naming field and label when it
 * cannot be decoded or is absurdly large; the image is never stored
 * unprocessed. w and h (may be NULL) get the stored dimensions. */
int fa__image_clean(fa_agent *ag, const char *field, const char *label,
                    int in_fd, const char *type, long max_pixels, fa__sink *out,
                    long *w, long *h);

/* 1 when type is one fa__image_clean rewrites. */
int fa__image_cleans(const char *type);

#endif
