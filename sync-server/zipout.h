/*
 * zipout.h - a streaming writer of zip archives (PKWARE APPNOTE 6.3):
 * STORED entries (photos and audio do not compress) written one after
 * the other as their bytes come, so neither a file nor the archive is
 * ever whole in memory. The caller knows each entry's size and CRC-32
 * before its bytes (a first read of the file), so every local header is
 * complete and no data descriptor is needed: readers that go through
 * the archive front to back (Java's ZipInputStream, bsdtar) take it as
 * well as those that read the central directory.
 *
 * Zip64 extra fields and end records are written when an entry's size
 * or offset, the central directory's size or offset, or the number of
 * entries does not fit the classic 32- and 16-bit fields.
 *
 * The central directory is spooled to a temporary file while entries
 * are written and copied out at the end, so memory stays flat whatever
 * the number of entries.
 */
#ifndef HUB_ZIPOUT_H
#define HUB_ZIPOUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct hub_zip hub_zip;

/* Starts an archive on out (borrowed until hub__zip_free; never
 * closed here). base is the offset its first byte has in the file, 0
 * unless something comes before it (a test writes after a hole to
 * reach Zip64 offsets without 4 GiB of data). 0, or HUB_ENOMEM /
 * HUB_ESTORAGE (no temporary file for the central directory). */
int hub__zip_open(FILE *out, uint64_t base, hub_zip **z);

/* Starts an entry: its local header. name is a relative path with /
 * between folders (the caller made it safe: hub__zip_name_ok), 1 to
 * 1024 bytes; size and crc (zlib's crc32 of the bytes) as they will be
 * written; mtime in seconds since 1970, UTC. */
int hub__zip_entry(hub_zip *z, const char *name, uint64_t size, uint32_t crc,
                   int64_t mtime);
/* The next n bytes of the current entry. */
int hub__zip_write(hub_zip *z, const void *p, size_t n);
/* Ends the current entry: the bytes written must be as many as its size
 * and have its CRC, else HUB_ECONFLICT (the source changed between its
 * two reads) and the archive is spoiled. */
int hub__zip_entry_end(hub_zip *z);
/* Writes the central directory and the end records. The caller
 * flushes, syncs and closes out. */
int hub__zip_close(hub_zip *z);
void hub__zip_free(hub_zip *z);

/* After a failure: what failed, for people ("writing the archive: No
 * space left on device"); "" before one. */
const char *hub__zip_error(const hub_zip *z);
/* The bytes of the archive so far (base not counted) and its entries. */
uint64_t hub__zip_bytes(const hub_zip *z);
uint64_t hub__zip_entries(const hub_zip *z);

/* 1 when name may be an entry's name: relative, no empty, "." or ".."
 * part, no backslash, no control or non-ASCII byte. */
int hub__zip_name_ok(const char *name);

#endif
