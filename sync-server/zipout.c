/*
 * zipout.c - see zipout.h. Record layouts from PKWARE's APPNOTE.TXT
 * 6.3: 4.3.7 (local file header), 4.3.12 (central directory header),
 * 4.3.14-16 (Zip64 end record and locator, end of central directory),
 * 4.5.3 (the Zip64 extended information extra field).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "errors.h"
#include "zipout.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define EXTRA_ZIP64 0x0001u

#define MAX32 0xffffffffu /* a 32-bit field that holds this: see Zip64 */
#define MAX16 0xffffu
#define NAME_MAX_LEN 1024

/* Version needed to extract: 2.0 (stored entries, folders), 4.5 when an
 * entry needs Zip64. Made by: Unix (3), so the mode bits are read. */
#define VER_PLAIN 20
#define VER_ZIP64 45
#define MADE_BY (3u << 8 | VER_ZIP64)

struct hub_zip {
    FILE *out;
    FILE *cd;      /* the central directory, spooled */
    uint64_t base; /* offset of the archive's first byte in out */
    uint64_t pos;  /* bytes written to out */
    uint64_t cd_bytes;
    uint64_t entries;
    /* the entry being written */
    int open;
    uint64_t size, done, offset;
    uint32_t crc, running;
    unsigned dos_time, dos_date;
    char name[NAME_MAX_LEN + 1];
    size_t name_len;
    int failed;
    char error[256];
};

/* ---- little-endian records -------------------------------------------- */

typedef struct rec {
    unsigned char b[128];
    size_t n;
} rec;

static void put16(rec *r, unsigned v)
{
    r->b[r->n++] = (unsigned char)(v & 0xff);
    r->b[r->n++] = (unsigned char)((v >> 8) & 0xff);
}

static void put32(rec *r, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        r->b[r->n++] = (unsigned char)((v >> (8 * i)) & 0xff);
}

static void put64(rec *r, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        r->b[r->n++] = (unsigned char)((v >> (8 * i)) & 0xff);
}

/* v, or the marker that says "in the Zip64 extra field". */
static uint32_t small32(uint64_t v)
{
    return v >= MAX32 ? MAX32 : (uint32_t)v;
}

static int fail(hub_zip *z, int code, const char *what)
{
    if (!z->failed) { /* cut to fit: a long path makes a long message */
        size_t k = strnlen(what, sizeof z->error - 1);
        memcpy(z->error, what, k);
        z->error[k] = '\0';
    }
    z->failed = 1;
    return code;
}

/* Writes n bytes to f (the archive or the spooled directory). */
static int emit(hub_zip *z, FILE *f, const void *p, size_t n)
{
    if (z->failed)
        return HUB_ESTORAGE;
    if (n && fwrite(p, 1, n, f) != n) {
        int e = errno;
        char msg[200];
        snprintf(msg, sizeof msg, "%s: %s",
                 f == z->out ? "writing the archive"
                             : "writing the archive's directory (a "
                               "temporary file)",
                 strerror(e));
        return fail(z, e == ENOSPC ? HUB_EFULL : HUB_ESTORAGE, msg);
    }
    if (f == z->out)
        z->pos += n;
    else
        z->cd_bytes += n;
    return HUB_OK;
}

/* MS-DOS date and time of t (UTC), as zip stores them; 1980-01-01 for
 * anything earlier. */
static void dos_stamp(int64_t t, unsigned *time_out, unsigned *date_out)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t < 315532800 || !gmtime_r(&tt, &tm)) {
        *time_out = 0;
        *date_out = (0u << 9) | (1u << 5) | 1u;
        return;
    }
    if (tm.tm_year > 207) /* 2107: the last year the field holds */
        tm.tm_year = 207;
    *time_out = (unsigned)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
    *date_out =
        (unsigned)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

int hub__zip_name_ok(const char *name)
{
    size_t n = strlen(name), part = 0;
    if (n == 0 || n > NAME_MAX_LEN || name[0] == '/')
        return 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/' || c == '\0') {
            /* no empty part, and none that is "." or ".." */
            if (part == 0 || (part == 1 && name[i - 1] == '.') ||
                (part == 2 && name[i - 1] == '.' && name[i - 2] == '.'))
                return 0;
            part = 0;
            continue;
        }
        if (c < 0x20 || c >= 0x7f || c == '\\' || c == ':')
            return 0;
        part++;
    }
    return 1;
}

int hub__zip_open(FILE *out, uint64_t base, hub_zip **zp)
{
    *zp = NULL;
    hub_zip *z = calloc(1, sizeof *z);
    if (!z)
        return HUB_ENOMEM;
    z->cd = tmpfile();
    if (!z->cd) {
        free(z);
        return HUB_ESTORAGE;
    }
    z->out = out;
    z->base = base;
    *zp = z;
    return HUB_OK;
}

int hub__zip_entry(hub_zip *z, const char *name, uint64_t size, uint32_t crc,
                   int64_t mtime)
{
    if (z->failed)
        return HUB_ESTORAGE;
    if (z->open)
        return fail(z, HUB_EBADINPUT, "an entry was started inside another");
    if (!hub__zip_name_ok(name))
        return fail(z, HUB_EBADINPUT, "an entry name that is not safe");
    snprintf(z->name, sizeof z->name, "%s", name);
    z->name_len = strlen(name);
    z->size = size;
    z->crc = crc;
    z->done = 0;
    z->running = (uint32_t)crc32(0L, Z_NULL, 0);
    z->offset = z->base + z->pos;
    dos_stamp(mtime, &z->dos_time, &z->dos_date);

    /* A size that does not fit goes in a Zip64 extra field here; the
     * local header's offset is not stored in it, so that field is only
     * in the central directory. */
    int big = size >= MAX32;
    rec r = {.n = 0};
    put32(&r, SIG_LOCAL);
    put16(&r, big || z->offset >= MAX32 ? VER_ZIP64 : VER_PLAIN);
    put16(&r, 0); /* flags: no data descriptor, names are ASCII */
    put16(&r, 0); /* method: stored */
    put16(&r, z->dos_time);
    put16(&r, z->dos_date);
    put32(&r, crc);
    put32(&r, small32(size)); /* compressed size: stored, the same */
    put32(&r, small32(size));
    put16(&r, (unsigned)z->name_len);
    put16(&r, big ? 20 : 0);
    int rc = emit(z, z->out, r.b, r.n);
    if (rc == HUB_OK)
        rc = emit(z, z->out, name, z->name_len);
    if (rc == HUB_OK && big) {
        rec x = {.n = 0};
        put16(&x, EXTRA_ZIP64);
        put16(&x, 16);
        put64(&x, size);
        put64(&x, size);
        rc = emit(z, z->out, x.b, x.n);
    }
    z->open = rc == HUB_OK;
    return rc;
}

int hub__zip_write(hub_zip *z, const void *p, size_t n)
{
    if (!z->open)
        return fail(z, HUB_EBADINPUT, "bytes written outside an entry");
    if (n > z->size - z->done) {
        char msg[NAME_MAX_LEN + 100];
        snprintf(msg, sizeof msg, "%s grew past its %llu bytes", z->name,
                 (unsigned long long)z->size);
        return fail(z, HUB_ECONFLICT, msg);
    }
    /* zlib's crc32 takes a uInt length: feed it in pieces. */
    const unsigned char *b = p;
    for (size_t off = 0; off < n;) {
        uInt part = n - off > 1u << 30 ? 1u << 30 : (uInt)(n - off);
        z->running = (uint32_t)crc32(z->running, b + off, part);
        off += part;
    }
    z->done += n;
    return emit(z, z->out, p, n);
}

int hub__zip_entry_end(hub_zip *z)
{
    if (!z->open)
        return fail(z, HUB_EBADINPUT, "no entry to end");
    z->open = 0;
    if (z->done != z->size || z->running != z->crc) {
        char msg[NAME_MAX_LEN + 160];
        snprintf(msg, sizeof msg,
                 "%s changed while it was written: %llu of %llu bytes, "
                 "CRC-32 %08x where its first read gave %08x",
                 z->name, (unsigned long long)z->done,
                 (unsigned long long)z->size, (unsigned)z->running,
                 (unsigned)z->crc);
        return fail(z, HUB_ECONFLICT, msg);
    }
    /* Its central directory header, with what does not fit the classic
     * fields in a Zip64 extra field, in the order APPNOTE 4.5.3 gives:
     * uncompressed size, compressed size, local header offset. */
    rec x = {.n = 0};
    int big_size = z->size >= MAX32, big_off = z->offset >= MAX32;
    if (big_size || big_off) {
        put16(&x, EXTRA_ZIP64);
        put16(&x, (unsigned)(8 * (2 * big_size + big_off)));
        if (big_size) {
            put64(&x, z->size);
            put64(&x, z->size);
        }
        if (big_off)
            put64(&x, z->offset);
    }
    rec r = {.n = 0};
    put32(&r, SIG_CENTRAL);
    put16(&r, MADE_BY);
    put16(&r, x.n ? VER_ZIP64 : VER_PLAIN);
    put16(&r, 0);
    put16(&r, 0);
    put16(&r, z->dos_time);
    put16(&r, z->dos_date);
    put32(&r, z->crc);
    put32(&r, small32(z->size));
    put32(&r, small32(z->size));
    put16(&r, (unsigned)z->name_len);
    put16(&r, (unsigned)x.n);
    put16(&r, 0);              /* comment */
    put16(&r, 0);              /* disk */
    put16(&r, 0);              /* internal attributes */
    put32(&r, 0100644u << 16); /* a regular file, rw-r--r-- */
    put32(&r, small32(z->offset));
    int rc = emit(z, z->cd, r.b, r.n);
    if (rc == HUB_OK)
        rc = emit(z, z->cd, z->name, z->name_len);
    if (rc == HUB_OK)
        rc = emit(z, z->cd, x.b, x.n);
    z->entries++;
    return rc;
}

int hub__zip_close(hub_zip *z)
{
    if (z->open)
        return fail(z, HUB_EBADINPUT, "an entry was not ended");
    if (z->failed)
        return HUB_ESTORAGE;
    uint64_t cd_offset = z->base + z->pos;
    if (fflush(z->cd) != 0 || fseek(z->cd, 0, SEEK_SET) != 0)
        return fail(z, HUB_ESTORAGE, "reading back the archive's directory");
    char buf[16384];
    size_t n;
    int rc = HUB_OK;
    while (rc == HUB_OK && (n = fread(buf, 1, sizeof buf, z->cd)) > 0)
        rc = emit(z, z->out, buf, n);
    if (rc == HUB_OK && ferror(z->cd))
        rc = fail(z, HUB_ESTORAGE, "reading back the archive's directory");
    if (rc != HUB_OK)
        return rc;
    uint64_t cd_size = z->cd_bytes;
    int zip64 = z->entries >= MAX16 || cd_size >= MAX32 || cd_offset >= MAX32;
    if (zip64) {
        uint64_t end64 = z->base + z->pos;
        rec r = {.n = 0};
        put32(&r, SIG_END64);
        put64(&r, 44); /* the size of the rest of this record */
        put16(&r, MADE_BY);
        put16(&r, VER_ZIP64);
        put32(&r, 0); /* this disk */
        put32(&r, 0); /* the directory's disk */
        put64(&r, z->entries);
        put64(&r, z->entries);
        put64(&r, cd_size);
        put64(&r, cd_offset);
        put32(&r, SIG_LOCATOR64);
        put32(&r, 0);
        put64(&r, end64);
        put32(&r, 1); /* disks */
        rc = emit(z, z->out, r.b, r.n);
        if (rc != HUB_OK)
            return rc;
    }
    unsigned count = z->entries >= MAX16 ? MAX16 : (unsigned)z->entries;
    rec e = {.n = 0};
    put32(&e, SIG_END);
    put16(&e, 0);
    put16(&e, 0);
    put16(&e, count);
    put16(&e, count);
    put32(&e, small32(cd_size));
    put32(&e, small32(cd_offset));
    put16(&e, 0); /* comment */
    return emit(z, z->out, e.b, e.n);
}

void hub__zip_free(hub_zip *z)
{
    if (!z)
        return;
    if (z->cd)
        fclose(z->cd);
    free(z);
}

const char *hub__zip_error(const hub_zip *z)
{
    return z->error;
}

uint64_t hub__zip_bytes(const hub_zip *z)
{
    return z->pos;
}

uint64_t hub__zip_entries(const hub_zip *z)
{
    return z->entries;
}
