/*
 * net.h - the agent's HTTP client (libcurl, loaded on first use by
 * curlapi.c): one handle per sync so the connection is reused, bounded
 * reply bodies, timeouts for slow links.
 */
#ifndef FA_NET_H
#define FA_NET_H

#include <curl/curl.h>

#include "agent_int.h"
#include "curlapi.h"

typedef struct fa__http {
    const fa__curl_api *api; /* NULL until fa__http_init succeeds */
    CURL *curl;
    struct curl_slist *headers;
    char base[FA_URL_MAX];
    fs_buf reply; /* last reply body, decoded, capped */
    long status;  /* last HTTP status, 0 when none */
    char curl_err[CURL_ERROR_SIZE];
    struct curl_slist *extra; /* this request's own headers, until done */
    int busy;                 /* started on a multi handle and not ended */
    CURLcode cc;              /* how a request on a multi handle ended */
} fa__http;

/* Several fa__http requests in flight at once (curl multi), each on its
 * own connection. */
typedef struct fa__http_multi {
    const fa__curl_api *api;
    CURLM *m;
} fa__http_multi;

/* ca_file: a PEM bundle of the CAs to trust instead of the system's
 * (a city's own CA in front of its hub); NULL or "" for the system's.
 * Loads libcurl the first time; FA_ESTORE with the agent's message set
 * when it cannot. fa__http_free is safe after a failed init. */
int fa__http_init(fa_agent *ag, fa__http *h, const char *base,
                  const char *token, const char *ca_file);
void fa__http_free(fa__http *h);

/* Sends one request. body may be NULL (GET). Returns FA_OK when an HTTP
 * answer arrived (any status, in h->status), FA_EUNREACHABLE with the
 * agent's message set when none did. */
int fa__http_request(fa_agent *ag, fa__http *h, const char *method,
                     const char *path, const void *body, size_t len,
                     int gzipped);

/* PATCH of body (len bytes) to path with an Upload-Offset header
 * (attachment chunks, PROTOCOL.md); returns as fa__http_request. */
int fa__http_patch(fa_agent *ag, fa__http *h, const char *path,
                   long long offset, const void *body, size_t len);

/* A multi handle for requests of handles made with fa__http_init. */
int fa__http_multi_init(fa_agent *ag, fa__http_multi *m,
                        const fa__curl_api *api);
/* Every request started on m must have been waited for. */
void fa__http_multi_free(fa__http_multi *m);

/* Starts a request on h without waiting for it; body is borrowed until
 * fa__http_wait for h returned. h must not be busy. */
void fa__http_start(fa__http_multi *m, fa__http *h, const char *method,
                    const char *path, const void *body, size_t len,
                    int gzipped);
/* Moves every request of m on until h's has ended, then returns as
 * fa__http_request does. */
int fa__http_wait(fa_agent *ag, fa__http_multi *m, fa__http *h);

/* The system's error number of the last failed connection, 0 if none. */
long fa__http_os_errno(fa__http *h);

/* The "message" of a JSON error reply, or a generic text. */
void fa__http_error_message(fa__http *h, char *out, size_t cap);
/* Sets the agent's message to "what: " and the error reply's message,
 * and returns code. */
int fa__http_fail(fa_agent *ag, fa__http *h, int code, const char *what);

#endif
