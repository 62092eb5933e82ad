/*
 * random.c - randomness, the wall clock, UUIDv7 ids and hex text.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "fs_internal.h"

/* Times are 64-bit milliseconds everywhere, but the C library's clock and
 * calendar go through time_t: on a 32-bit target it must have 64 bits
 * too, or every date after 2038-01-19 wraps (CMakeLists.txt builds such
 * targets with _TIME_BITS=64). */
_Static_assert(sizeof(time_t) >= 8, "time_t must have 64 bits: build with "
                                    "-D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64");

int fs_random_bytes(void *p, size_t n)
{
    unsigned char *dst = p;
    size_t got = 0;

    if (p == NULL && n > 0)
        return FS_EINVAL;
    /* getrandom may return fewer bytes than asked (over 256 bytes, or
     * when a signal arrives); keep asking until all are there. */
    while (got < n) {
        ssize_t r = getrandom(dst + got, n - got, 0);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return FS_ERANDOM;
        }
        got += (size_t)r;
    }
    return FS_OK;
}

uint64_t fs_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    if (ts.tv_sec < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fs_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

int fs_uuid_v7(char out[FS_UUID_LEN + 1])
{
    unsigned char b[16];
    char hex[33];
    uint64_t ms = fs_now_ms() & 0xFFFFFFFFFFFFull;
    int rc, i;

    if (out == NULL)
        return FS_EINVAL;
    rc = fs_random_bytes(b + 6, sizeof(b) - 6);
    if (rc != FS_OK)
        return rc;
    for (i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (8 * (5 - i)));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x70); /* version 7 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10 */
    fs_hex(b, sizeof(b), hex);
    snprintf(out, FS_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
             hex + 12, hex + 16, hex + 20);
    return FS_OK;
}
