/*
 * gzip.c - gzip framing of message bodies, with decompression under hard
 * limits so a small hostile body cannot make the hub allocate much.
 */
#include <limits.h>
#include <string.h>

#include <zlib.h>

#include "fs_internal.h"

#define FS_GZ_CHUNK 16384
/* Below this much output the ratio is not checked: tiny bodies (a few
 * hundred bytes of JSON with repeated keys) compress very well and are
 * harmless. */
#define FS_GZ_RATIO_FLOOR (64 * 1024)
/* zlib counts in uInt; feed it at most this much per call. */
#define FS_GZ_FEED ((size_t)UINT_MAX)

int fs_gzip(const void *in, size_t n, int level, fs_buf *out)
{
    z_stream zs;
    unsigned char chunk[FS_GZ_CHUNK];
    const unsigned char *src = in;
    size_t left = n;
    int rc = FS_OK;
    int zr;

    if ((in == NULL && n > 0) || out == NULL || level < 1 || level > 9)
        return FS_EINVAL;
    memset(&zs, 0, sizeof(zs));
    /* 16 + MAX_WBITS asks zlib for a gzip wrapper; its header carries no
     * name and mtime 0, so the same input always gives the same bytes. */
    if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return FS_ENOMEM;
    do {
        int flush;

        if (zs.avail_in == 0 && left > 0) {
            size_t feed = left < FS_GZ_FEED ? left : FS_GZ_FEED;
            zs.next_in = (unsigned char *)(uintptr_t)src;
            zs.avail_in = (uInt)feed;
            src += feed;
            left -= feed;
        }
        flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        zr = deflate(&zs, flush);
        if (zr == Z_STREAM_ERROR) {
            rc = FS_EINVAL;
            goto out;
        }
        rc = fs_buf_append(out, chunk, sizeof(chunk) - zs.avail_out);
        if (rc != FS_OK)
            goto out;
    } while (zr != Z_STREAM_END);
out:
    deflateEnd(&zs);
    return rc;
}

int fs_gunzip(const void *in, size_t n, const fs_limits *lim, fs_buf *out,
              fs_err *err)
{
    z_stream zs;
    unsigned char chunk[FS_GZ_CHUNK];
    fs_limits def;
    size_t produced = 0;
    int rc = FS_OK;
    int zr = Z_OK;

    if ((in == NULL && n > 0) || out == NULL)
        return fs_err_set(err, FS_EINVAL, "gunzip: bad arguments");
    if (lim == NULL) {
        fs_limits_default(&def);
        lim = &def;
    }
    if (n > lim->max_compressed)
        return fs_err_set(err, FS_ETOOBIG,
                          "body of %zu bytes is over the %zu-byte limit", n,
                          lim->max_compressed);
    /* The check above bounds n, but zlib takes uInt: be explicit. */
    if (n > FS_GZ_FEED)
        return fs_err_set(err, FS_ETOOBIG, "body too large for zlib");

    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return fs_err_set(err, FS_ENOMEM, "gunzip: cannot start zlib");
    zs.next_in = (unsigned char *)(uintptr_t)in;
    zs.avail_in = (uInt)n;

    while (zr != Z_STREAM_END) {
        size_t got;

        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        zr = inflate(&zs, Z_NO_FLUSH);
        got = sizeof(chunk) - zs.avail_out;
        if (zr == Z_NEED_DICT || zr == Z_DATA_ERROR) {
            rc = fs_err_set(err, FS_EMALFORMED, "gzip data is corrupt: %s",
                            zs.msg ? zs.msg : "bad data");
            goto out;
        }
        if (zr == Z_MEM_ERROR) {
            rc = fs_err_set(err, FS_ENOMEM, "gunzip: out of memory");
            goto out;
        }
        /* Each call gets a whole free chunk, so Z_BUF_ERROR can only mean
         * zlib wants input we do not have: the stream was cut short. */
        if (zr == Z_BUF_ERROR) {
            rc = fs_err_set(err, FS_EMALFORMED,
                            "gzip data is truncated after %zu bytes", n);
            goto out;
        }
        if (zr != Z_OK && zr != Z_STREAM_END) {
            rc = fs_err_set(err, FS_EMALFORMED, "gzip error %d", zr);
            goto out;
        }
        /* Limits are checked on this chunk before it is kept, so the
         * output buffer never grows past them. */
        if (got > lim->max_decompressed - produced) {
            rc = fs_err_set(err, FS_ETOOBIG,
                            "body inflates to more than %zu bytes",
                            lim->max_decompressed);
            goto out;
        }
        produced += got;
        /* n <= UINT_MAX and max_ratio is unsigned: the product fits. */
        if (produced > FS_GZ_RATIO_FLOOR &&
            (uint64_t)produced > (uint64_t)lim->max_ratio * n) {
            rc = fs_err_set(err, FS_ETOOBIG,
                            "body inflates more than %u times (%zu bytes "
                            "from %zu)",
                            lim->max_ratio, produced, n);
            goto out;
        }
        rc = fs_buf_append(out, chunk, got);
        if (rc == FS_ETOOBIG) {
            rc = fs_err_set(err, rc, "inflated body exceeds the buffer cap");
            goto out;
        }
        if (rc != FS_OK) {
            rc = fs_err_set(err, rc, "gunzip: out of memory");
            goto out;
        }
    }
    if (zs.avail_in != 0)
        rc = fs_err_set(err, FS_EMALFORMED,
                        "%u bytes of trailing data after the gzip stream",
                        zs.avail_in);
out:
    inflateEnd(&zs);
    return rc;
}
