/*
 * error.c - words and wire names for FS_E* codes, and fs_err filling.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs_internal.h"

const char *fs_strerror(int code)
{
    switch (code) {
    case FS_OK:
        return "success";
    case FS_ENOMEM:
        return "out of memory";
    case FS_EINVAL:
        return "invalid argument";
    case FS_EMALFORMED:
        return "malformed data (bad gzip, JSON or message shape)";
    case FS_ETOOBIG:
        return "size, count, ratio or nesting limit exceeded";
    case FS_EVERSION:
        return "unsupported protocol or schema version";
    case FS_EIDENT:
        return "identifier has the wrong syntax";
    case FS_EUTF8:
        return "text is not valid UTF-8";
    case FS_EIO:
        return "input/output error";
    case FS_ERANDOM:
        return "no randomness available";
    case FS_ESCOPE:
        return "outside the sender's areas or forms";
    case FS_EINVALID:
        return "answers do not satisfy the form";
    default:
        return "unknown error";
    }
}

/* These names travel in push replies and logs that scripts read: never
 * rename one, only add. */
const char *fs_errname(int code)
{
    switch (code) {
    case FS_OK:
        return "ok";
    case FS_ENOMEM:
        return "no_memory";
    case FS_EINVAL:
        return "invalid_argument";
    case FS_EMALFORMED:
        return "malformed";
    case FS_ETOOBIG:
        return "too_big";
    case FS_EVERSION:
        return "unsupported_version";
    case FS_EIDENT:
        return "bad_identifier";
    case FS_EUTF8:
        return "bad_utf8";
    case FS_EIO:
        return "io_error";
    case FS_ERANDOM:
        return "no_randomness";
    case FS_ESCOPE:
        return "out_of_scope";
    case FS_EINVALID:
        return "invalid_answers";
    default:
        return "unknown";
    }
}

/* Messages end up inside JSON replies, so a cut must not leave half a
 * UTF-8 character at the end: drop an incomplete trailing sequence. */
static void trim_partial_utf8(char *msg, size_t len)
{
    size_t start = len;
    size_t back = 0;

    /* Walk back over at most three continuation bytes to a lead byte. */
    while (start > 0 && back < 4) {
        unsigned char c = (unsigned char)msg[start - 1];
        start--;
        back++;
        if ((c & 0xC0) != 0x80)
            break;
    }
    if (start < len && fs__utf8_seq((const unsigned char *)msg + start,
                                    len - start) != len - start)
        msg[start] = '\0';
}

int fs_err_set(fs_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    w = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    if (w < 0)
        err->msg[0] = '\0';
    else if ((size_t)w >= sizeof(err->msg))
        trim_partial_utf8(err->msg, sizeof(err->msg) - 1);
    return code;
}

void fs__snippet(const char *s, char *out, size_t outsz)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n, i = 0, o = 0;

    if (outsz == 0)
        return;
    if (s == NULL) {
        out[0] = '\0';
        return;
    }
    n = strlen(s);
    while (i < n) {
        size_t k = 1;
        unsigned char c = p[i];

        if (c >= 0x80)
            k = fs__utf8_seq(p + i, n - i);
        /* Text that fits is kept whole ('?' replaces byte for byte), so a
         * snippet of a snippet is itself; longer text keeps room for
         * "..." and the NUL. */
        if (n >= outsz && o + (k ? k : 1) + 4 > outsz)
            break;
        if (k == 0 || c < 0x20 || c == 0x7f) {
            out[o++] = '?';
            i += 1;
        } else {
            memcpy(out + o, p + i, k);
            o += k;
            i += k;
        }
    }
    if (i < n && o + 4 <= outsz) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}
