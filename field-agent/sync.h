/*
 * sync.h - one sync run, as its parts share it. sync.c runs it: the
 * outbox is pushed (push.c; pipeline.c keeps two changesets in flight),
 * then the hub's change log pulled and applied (pull.c), and both again
 * after a realignment when the hub lost what it had acknowledged.
 */
#ifndef FA_SYNC_H
#define FA_SYNC_H

#include "net.h"

/* Realignments one sync makes before it gives up agreeing with the hub. */
#define FA_MAX_REALIGN 8

typedef struct fa__sync {
    fa_agent *ag;
    const fa_sync_options *o; /* borrowed for the sync */
    fa_sync_report *rep;      /* counted into as the sync goes */
    char device[FS_UUID_LEN + 1];
    fa__http *h;  /* pushes one at a time, and pulls */
    fa__http *h2; /* the second push in flight; NULL: one at a time */
    int first;    /* no request has been made yet this sync */
} fa__sync;

/* One request on h with up to o->max_attempts tries (tried of them spent
 * already) for transient failures, with backoff between them; the first
 * request of a sync that finds no hub at all ends at once. Returns as
 * fa__http_request does; a hub still busy after the last try is
 * FA_EUNREACHABLE with its message. */
int fa__sync_request(fa__sync *s, fa__http *h, const char *method,
                     const char *path, const void *body, size_t len, int gz,
                     int tried);

/* 1 for an HTTP status worth trying again: a busy or failing hub. */
int fa__sync_transient(long status);

/* Tells the caller's on_progress, if any (agent.h says the phases). */
void fa__sync_progress(const fa__sync *s, const char *phase, long long done,
                       long long total);

#endif
