/*
 * attach.h - files that answer image, audio and file fields (attach.c):
 * copied into the agent's store by SHA-256 before the submission that
 * references them commits (issue 19; PROTOCOL.md, attachments).
 */
#ifndef FA_ATTACH_H
#define FA_ATTACH_H

#include "agent_int.h"
#include "fs_form.h"

#define FA_ATTACH_DIR "blobs" /* under the agent directory */

/* spec is FIELD=PATH. Checks the file against the field's limits (size,
 * content type sniffed from its first bytes), writes it durably to
 * blobs/SHA256 (a temporary name, fsync, rename, directory fsync) and
 * sets answers[FIELD] to its reference {"sha256", "size", "type",
 * "name"}. FA_EINPUT with a clear message when it does not fit. */
int fa__attach_file(fa_agent *ag, const fs_form *form, cJSON *answers,
                    const char *spec);

/* Inside the submission's transaction: a row per file the answers of
 * submission id reference (attachments once per hash). */
int fa__attach_rows(fa_agent *ag, const fs_form *form, const char *id,
                    const cJSON *answers);

struct fa__sync;

#define FA_ATTACH_CHUNK (64 * 1024) /* bytes per upload request */
/* 409s (the hub holds other bytes) in a row before an upload gives up. */
#define FA_ATTACH_CONFLICTS 3

/* After the changeset: sends every file the hub does not hold whole yet,
 * in chunks from the hub's offset (asked first, so a dropped upload
 * resumes where the hub's durable bytes end). A file no pushed
 * submission references yet waits for the next sync. */
int fa__attach_send(struct fa__sync *s);

#endif
