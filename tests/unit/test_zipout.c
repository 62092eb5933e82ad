/*
 * test_zipout.c - the zip writer of `export media` (sync-server/zipout.h)
 * and the names it is given (hub__media_name). Archives are written to a
 * scratch directory and read back by another implementation, Python's
 * zipfile (zipcheck.py, FS_ZIPCHECK), and by Info-ZIP's `unzip -t`.
 *
 * Zip64 without 4 GiB of data: an archive is written after a hole of
 * 5 GiB (a sparse file; the writer is told the offset its first byte
 * has), so every local header and the central directory sit past 4 GiB
 * as they would in a large export. More than 65535 entries are real.
 * An entry of 4 GiB or more is checked by its header bytes only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "errors.h"
#include "exportmedia.h"
#include "fs_protocol.h"
#include "unit.h"
#include "zipout.h"

static char scratch[512];

/* A scratch directory for this run (removed by the last case). */
static const char *dir(void)
{
    if (!scratch[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(scratch, sizeof scratch, "%s/test_zipout.XXXXXX",
                 t && t[0] ? t : "/tmp");
        if (!mkdtemp(scratch))
            scratch[0] = '\0';
    }
    return scratch;
}

/* n deterministic bytes, different for each seed. */
static void fill(unsigned char *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

/* Adds entry name with bytes p[0..n), written in pieces of step, and
 * its manifest line. */
static int add(hub_zip *z, FILE *manifest, const char *name,
               const unsigned char *p, size_t n, size_t step)
{
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
    int rc = hub__zip_entry(z, name, n, crc, 1767225600); /* 2026-01-01 */
    for (size_t off = 0; rc == HUB_OK && off < n; off += step)
        rc = hub__zip_write(z, p + off, n - off < step ? n - off : step);
    if (rc == HUB_OK)
        rc = hub__zip_entry_end(z);
    char hex[65];
    fs_sha256_hex(p, n, hex);
    fprintf(manifest, "%s\t%zu\t%s\n", name, n, hex);
    return rc;
}

/* Runs zipcheck.py and unzip -t on path: 0 when both are content. */
static int verify(const char *path)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "python3 '%s' '%s' '%s.manifest' >'%s.check' 2>&1 && "
             "unzip -tq '%s' >>'%s.check' 2>&1",
             FS_ZIPCHECK, path, path, path, path, path);
    int r = system(cmd);
    if (r != 0) {
        size_t n;
        char check[640];
        snprintf(check, sizeof check, "%s.check", path);
        char *out = unit_slurp(check, &n);
        failf(__FILE__, __LINE__, "%s: %s", path, out ? out : "no output");
        free(out);
        return 1;
    }
    return 0;
}

static void remove_archive(const char *path)
{
    char p[640];
    remove(path);
    snprintf(p, sizeof p, "%s.manifest", path);
    remove(p);
    snprintf(p, sizeof p, "%s.check", path);
    remove(p);
}

/* Opens path for an archive at base (a hole of base bytes first) and
 * its manifest. */
static FILE *open_at(const char *path, uint64_t base, int zip64,
                     FILE **manifest)
{
    char m[640];
    snprintf(m, sizeof m, "%s.manifest", path);
    FILE *f = fopen(path, "wb");
    *manifest = fopen(m, "w");
    if (!f || !*manifest)
        return f;
    if (base && (ftruncate(fileno(f), (off_t)base) != 0 ||
                 fseeko(f, (off_t)base, SEEK_SET) != 0)) {
        fclose(f);
        return NULL;
    }
    fprintf(*manifest, "base=%llu zip64=%d\n", (unsigned long long)base, zip64);
    return f;
}

static int three_entries(uint64_t base, int zip64, const char *file)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir(), file);
    FILE *manifest = NULL;
    FILE *f = open_at(path, base, zip64, &manifest);
    CHECK(f && manifest);
    size_t big = 200000;
    unsigned char *p = malloc(big);
    CHECK(p);
    fill(p, big, 7);
    hub_zip *z = NULL;
    CHECK(hub__zip_open(f, base, &z) == HUB_OK);
    int rc =
        add(z, manifest, "MISSING.txt", (const unsigned char *)"hi\n", 3, 3);
    if (rc == HUB_OK) /* in odd pieces, as reads come */
        rc = add(z, manifest, "0190abcd/photo.jpg", p, big, 65537);
    if (rc == HUB_OK)
        rc = add(z, manifest, "0190abcd/empty.bin", p, 0, 1);
    if (rc == HUB_OK)
        rc = hub__zip_close(z);
    uint64_t bytes = hub__zip_bytes(z), entries = hub__zip_entries(z);
    hub__zip_free(z);
    free(p);
    fclose(manifest);
    CHECK(fclose(f) == 0);
    CHECK(rc == HUB_OK);
    CHECK(entries == 3);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (uint64_t)sb.st_size == base + bytes);
    if (verify(path))
        return 1;
    remove_archive(path);
    return 0;
}

static int small_archive(void)
{
    return three_entries(0, 0, "small.zip");
}

/* Every offset past 4 GiB: Zip64 extra fields in the central directory
 * and the Zip64 end records, read back by zipfile and unzip. */
static int zip64_offsets(void)
{
    return three_entries(5ull << 30, 1, "far.zip");
}

/* 70,000 entries: the 16-bit count overflows, so Zip64 end records. */
static int many_entries(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/many.zip", dir());
    FILE *manifest = NULL;
    FILE *f = open_at(path, 0, 1, &manifest);
    CHECK(f && manifest);
    hub_zip *z = NULL;
    CHECK(hub__zip_open(f, 0, &z) == HUB_OK);
    int rc = HUB_OK;
    for (unsigned i = 0; rc == HUB_OK && i < 70000; i++) {
        char name[64];
        unsigned char b[2] = {(unsigned char)i, (unsigned char)(i >> 8)};
        snprintf(name, sizeof name, "s%05u/f.bin", i);
        rc = add(z, manifest, name, b, 1 + i % 2, 2);
    }
    if (rc == HUB_OK)
        rc = hub__zip_close(z);
    hub__zip_free(z);
    fclose(manifest);
    CHECK(fclose(f) == 0);
    CHECK(rc == HUB_OK);
    if (verify(path))
        return 1;
    remove_archive(path);
    return 0;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A 5 GiB entry's local header: sizes in a Zip64 extra field, version
 * 4.5. Its bytes are not written, so ending it is refused. */
static int big_entry_header(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f);
    hub_zip *z = NULL;
    CHECK(hub__zip_open(f, 0, &z) == HUB_OK);
    uint64_t size = 5ull << 30;
    CHECK(hub__zip_entry(z, "a/b.wav", size, 0x12345678u, 0) == HUB_OK);
    int end = hub__zip_entry_end(z);
    hub__zip_free(z);
    fclose(f);
    int ok = len == 30 + 7 + 20 && le32((unsigned char *)buf) == 0x04034b50u &&
             buf[4] == 45 && le32((unsigned char *)buf + 14) == 0x12345678u &&
             le32((unsigned char *)buf + 18) == 0xffffffffu &&
             le32((unsigned char *)buf + 22) == 0xffffffffu && buf[28] == 20 &&
             memcmp(buf + 30, "a/b.wav", 7) == 0 && buf[37] == 1 &&
             buf[38] == 0 && buf[39] == 16 &&
             le64((unsigned char *)buf + 41) == size &&
             le64((unsigned char *)buf + 49) == size;
    free(buf);
    CHECK(ok);
    CHECK(end == HUB_ECONFLICT);
    return 0;
}

/* Bytes that do not match the size or CRC given up front spoil the
 * archive, with words that say so. */
static int changed_source(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f);
    hub_zip *z = NULL;
    CHECK(hub__zip_open(f, 0, &z) == HUB_OK);
    unsigned char p[100];
    fill(p, sizeof p, 3);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, sizeof p);
    CHECK(hub__zip_entry(z, "x/y.png", sizeof p, crc ^ 1, 0) == HUB_OK);
    CHECK(hub__zip_write(z, p, sizeof p) == HUB_OK);
    CHECK(hub__zip_entry_end(z) == HUB_ECONFLICT);
    CHECK(strstr(hub__zip_error(z), "x/y.png changed while it was written"));
    CHECK(hub__zip_close(z) != HUB_OK);
    hub__zip_free(z);

    CHECK(hub__zip_open(f, 0, &z) == HUB_OK);
    CHECK(hub__zip_entry(z, "x/y.png", 10, crc, 0) == HUB_OK);
    CHECK(hub__zip_write(z, p, 11) == HUB_ECONFLICT);
    CHECK(strstr(hub__zip_error(z), "grew past its 10 bytes"));
    hub__zip_free(z);
    fclose(f);
    free(buf);
    return 0;
}

/* The kernel's full disk: HUB_EFULL and its words. */
static int full_disk(void)
{
    FILE *f = fopen("/dev/full", "wb");
    CHECK(f);
    hub_zip *z = NULL;
    CHECK(hub__zip_open(f, 0, &z) == HUB_OK);
    size_t n = 1 << 20;
    unsigned char *p = calloc(1, n);
    CHECK(p);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
    int rc = hub__zip_entry(z, "a/b.bin", n, crc, 0);
    if (rc == HUB_OK)
        rc = hub__zip_write(z, p, n);
    free(p);
    CHECK(rc == HUB_EFULL);
    CHECK(strstr(hub__zip_error(z), "No space left on device"));
    hub__zip_free(z);
    fclose(f);
    return 0;
}

static int names(void)
{
    static const char *const good[] = {"a", "0190/photo.jpg", "MISSING.txt",
                                       "a/b/c.d", "_._.._etc/x_y.png"};
    static const char *const bad[] = {
        "",      "/abs",  "../x", "a/../b", "a/./b", "a//b", "a/",      "a\\b",
        "a\x01", "a\x7f", "c:/x", "..",     ".",     "a/..", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(hub__zip_name_ok(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hub__zip_name_ok(bad[i]))
            return failf(__FILE__, __LINE__, "'%s' was taken", bad[i]);

    char out[320];
    hub__media_name("0190abcd-0000", "photo", "image/jpeg", out, sizeof out);
    CHECK(strcmp(out, "0190abcd-0000/photo.jpg") == 0);
    hub__media_name("../../etc", "x/y", "image/png", out, sizeof out);
    CHECK(strcmp(out, "_._.._etc/x_y.png") == 0 && hub__zip_name_ok(out));
    hub__media_name("..", ".", "application/x-thing", out, sizeof out);
    CHECK(strcmp(out, "_./_.bin") == 0 && hub__zip_name_ok(out));
    hub__media_name("", "a\nb\x01", NULL, out, sizeof out);
    CHECK(strcmp(out, "_/a_b_.bin") == 0 && hub__zip_name_ok(out));
    hub__media_name("id", "rec", "audio/wav", out, sizeof out);
    CHECK(strcmp(out, "id/rec.wav") == 0);
    hub__media_name("id", "doc", "application/pdf", out, sizeof out);
    CHECK(strcmp(out, "id/doc.pdf") == 0);
    return 0;
}

static int cleanup(void)
{
    CHECK(scratch[0] == '\0' || rmdir(scratch) == 0);
    return 0;
}

static const unit_case cases[] = {
    {"names", names},
    {"small archive", small_archive},
    {"zip64 offsets", zip64_offsets},
    {"over 65535 entries", many_entries},
    {"big entry header", big_entry_header},
    {"changed source", changed_source},
    {"full disk", full_disk},
    {"cleanup", cleanup},
};

int main(int argc, char **argv)
{
    return unit_run(cases, sizeof cases / sizeof cases[0], argc, argv);
}
