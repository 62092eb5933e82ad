/*
 * web.h - the web app served by `fieldsync-agent serve`: shared between
 * serve.c (CivetWeb, the device secret, cross-site checks, static files,
 * background sync) and webapi.c (the JSON endpoints, thin wrappers around
 * the same agent functions the command line uses).
 */
#ifndef FA_WEB_H
#define FA_WEB_H

#include <pthread.h>

#include <civetweb.h>

#include "agent_int.h"

#define FA_WEB_BODY_MAX (64 * 1024)

typedef struct fa__web {
    fa_agent *ag;         /* the requests' connection, under lock */
    pthread_mutex_t lock; /* one request at a time uses ag */
    char secret[65];      /* per-device secret: the cookie's value */
    char once[33];        /* one-time sign-in token, "" once used */

    /* Background sync: its own connection (sag), so the app stays
     * usable while a sync waits on the network. Fields below are under
     * sync_lock. */
    fa_agent *sag;
    pthread_t sync_thread;
    pthread_mutex_t sync_lock;
    pthread_cond_t sync_cond;
    int sync_requested, sync_running, stopping;
    int auto_sync_s; /* 0: only when asked */
    int failures;    /* attempts in a row that failed (backoff) */
    char phase[16];  /* "connecting", "sending", "receiving" */
    long long done, total;
    int64_t last_attempt_ms, last_end_ms, next_attempt_ms;
    int last_rc;           /* FA_* of the last attempt */
    long long last_queued; /* records still on the device after it */
    char last_message[700];
} fa__web;

/* JSON replies: fa__web_reply sends obj and frees it (NULL: a 503 for
 * want of memory); every error is {"error","message"}. */
void fa__web_reply(struct mg_connection *conn, int status, cJSON *obj);
void fa__web_error(struct mg_connection *conn, int status, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Routes an authenticated /api/ request (serve.c checked the secret and,
 * for state-changing methods, that it is not cross-site). Returns the
 * HTTP status sent. */
int fa__web_api(fa__web *w, struct mg_connection *conn);

/* Asks the sync thread to sync now (no-op while one runs). */
void fa__web_sync_request(fa__web *w);
/* The sync state as JSON (the caller's). */
cJSON *fa__web_sync_state(fa__web *w);

#endif
