/*
 * trace.h - what a sync sent, kept for whoever debugs one: with
 * FIELDSYNC_TRACE_DIR set (fa_sync_options.trace_dir), each push body is
 * saved as push-FIRST-LAST.json.gz and a line per push sent and per
 * answer taken or dropped goes to pushes.log (what went out beside what;
 * the tests that show two pushes in flight read it). Failures to write
 * are ignored: tracing never changes a sync.
 */
#ifndef FA_TRACE_H
#define FA_TRACE_H

#include "fs_protocol.h"

/* Saves body, the encoded cs, in dir. */
void fa__trace_body(const char *dir, const fs_changeset *cs,
                    const fs_buf *body);

/* Appends a line to dir's pushes.log; nothing when dir is NULL. */
void fa__trace_note(const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
