/*
 * server.h - the state one `fieldsync-hub serve` process shares with
 * every worker thread (server.c sets it up and tears it down).
 */
#ifndef HUB_SERVER_H
#define HUB_SERVER_H

#include <pthread.h>

#include "fs_protocol.h"
#include "merge.h"

struct hub_ratelimit;
struct hub_checkpointer;
struct hub_mergeq;

/* Read-only after start, except the mutex. */
typedef struct hub {
    char *db_path;
    fs_limits limits;
    /* Merges are serialised in the process: one writer at a time is what
     * SQLite allows anyway, and a mutex queues writers fairly instead of
     * letting them spin on SQLITE_BUSY. */
    pthread_mutex_t write_lock;
    struct hub_ratelimit *rate;    /* NULL: no limit */
    struct hub_ratelimit *enrol;   /* enrolment attempts per client address */
    struct hub_checkpointer *ckpt; /* NULL: SQLite's own checkpoints */
    struct hub_mergeq *mergeq;     /* merges and commits pushes */
    const char *public_url;        /* hub_serve_options; may be NULL */
    hub_held_quota held;           /* per device (merge.h) */
    long long attach_quota;        /* bytes of files per device */
    long long attach_floor;        /* bytes kept free beside blobs/ */
} hub;

#endif
