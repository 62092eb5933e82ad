/*
 * attach.h - files that answer image, audio and file fields (attach.c):
 * copied into the agent's store by SHA-256 before the submission that
 * references them commits (issue 19; PROTOCOL.md, attachments).
 */
#ifndef FA_ATTACH_H
#define FA_ATTACH_H

#include "agent_int.h"
#include "fs_form.h"

#define FA_ATTACH_DIR "blobs"       /* under the agent directory */
#define FA_ATTACH_CHUNK (64 * 1024) /* bytes per read and write */

/* spec is FIELD=PATH. Checks the file against the field's limits (size,
 * content type sniffed from its first bytes), writes it durably to
 * blobs/SHA256 (a temporary name, fsync, rename, directory fsync) and
 * sets answers[FIELD] to its reference {"sha256", "size", "type",
 * "name"}. FA_EINPUT with a clear message when it does not fit. */
int fa__attach_file(fa_agent *ag, const fs_form *form, cJSON *answers,
                    const char *spec);

/* Where a file's bytes come from: a file (--attach) or the body of the
 * form app's upload. */
typedef struct fa__attach_src {
    const char *label; /* the file as the user knows it, for messages */
    const char *name;  /* its base name, for the reference */
    long long size;    /* bytes, or -1 when known only at the end */
    /* Up to n bytes into buf: the count, 0 at the end, -1 on error. */
    long (*read)(void *ctx, void *buf, size_t n);
    void *ctx;
} fa__attach_src;

/* An image field with max_pixels takes a JPEG or PNG of up to this many
 * bytes as the camera made it; what is stored, scaled down, is within
 * max_bytes. */
#define FA_ATTACH_IMAGE_IN_MAX (64L << 20)

/* The file of field fld from src into blobs/SHA256, streamed in chunks of
 * FA_ATTACH_CHUNK bytes (hashed and sniffed on the way, never whole in
 * memory): checked against the field's limits, a JPEG or PNG rewritten
 * without its metadata and scaled down to max_pixels (image.h), then
 * fsync, rename, directory fsync. *ref gets the answer's reference.
 * FA_EINPUT with a clear message when it does not fit; no temporary file
 * is left behind. */
int fa__attach_store(fa_agent *ag, const fs_field *fld,
                     const fa__attach_src *src, cJSON **ref);

/* Inside the submission's transaction: a row per file the answers of
 * submission id reference (attachments once per hash). */
int fa__attach_rows(fa_agent *ag, const fs_form *form, const char *id,
                    const cJSON *answers);

/* The content type of a file from its first bytes, or NULL (never from
 * its name); for sealed files too (sealfile.c). */
const char *fa__attach_sniff(const unsigned char *b, size_t n);

/* 409s (the hub holds other bytes) in a row before an upload gives up. */
#define FA_ATTACH_CONFLICTS 3

struct fa__sync;

/* After the changeset: sends every file the hub does not hold whole yet,
 * in chunks from the hub's offset (asked first, so a dropped upload
 * resumes where the hub's durable bytes end). A file no pushed
 * submission references yet waits for the next sync. */
int fa__attach_send(struct fa__sync *s);

/* Small files in batches (attachbatch.c, PROTOCOL.md 4.7): each waiting
 * file of at most FA_BATCH_FILE bytes goes in a POST /api/v1/blobs with
 * others, up to FA_BATCH_FILES files and about FA_BATCH_BYTES a request;
 * those the hub stored or had are marked sent, the rest are left to the
 * per-file uploads. FIELDSYNC_FILE_BATCH=0 in the environment turns it
 * off (one file per request, for comparison). */
#define FA_BATCH_FILE (64 * 1024)
#define FA_BATCH_FILES 1000
#define FA_BATCH_BYTES (256 * 1024)
int fa__attach_send_batches(struct fa__sync *s);

#endif
