/*
 * buf.c - growable byte buffer with a hard cap.
 *
 * Invariants: len <= cap <= max, and when data is not NULL it holds
 * cap + 1 bytes so that data[len] can always be the NUL terminator. cap
 * therefore never passes max, however the caller's bytes arrive.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_internal.h"

#define FS_BUF_MIN 256

void fs_buf_init(fs_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    /* One byte is always reserved for the NUL, so max stays allocatable. */
    b->max = max < SIZE_MAX ? max : SIZE_MAX - 1;
}

/* Makes room for need bytes of content; need <= b->max is checked by the
 * caller. Doubles to amortise, but clamps to max so a capped buffer never
 * holds more memory than its cap allows. */
static int grow(fs_buf *b, size_t need)
{
    size_t ncap = b->cap ? b->cap : FS_BUF_MIN;
    unsigned char *p;

    while (ncap < need) {
        if (ncap > b->max / 2) {
            ncap = b->max;
            break;
        }
        ncap *= 2;
    }
    if (ncap > b->max)
        ncap = b->max;
    p = realloc(b->data, ncap + 1);
    if (p == NULL)
        return FS_ENOMEM;
    b->data = p;
    b->cap = ncap;
    return FS_OK;
}

int fs_buf_append(fs_buf *b, const void *p, size_t n)
{
    int rc;

    if (b == NULL || (p == NULL && n > 0))
        return FS_EINVAL;
    /* len <= max always holds, so this cannot wrap. */
    if (n > b->max - b->len)
        return FS_ETOOBIG;
    if (b->data == NULL || b->len + n > b->cap) {
        rc = grow(b, b->len + n);
        if (rc != FS_OK)
            return rc;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return FS_OK;
}

void fs_buf_reset(fs_buf *b)
{
    if (b == NULL)
        return;
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void fs_buf_free(fs_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int fs_write_full(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}
