/*
 * serve.c - `fieldsync-agent serve`: the web app for enumerators on
 * tablets, served by CivetWeb on loopback from the agent itself.
 *
 * Security on the device: other apps on the same tablet can reach
 * loopback, so every request must carry the per-device secret (a random
 * 256-bit value kept in the agent store) in an HttpOnly, SameSite=Strict
 * cookie. The browser gets the cookie once, from an address with a
 * one-time token that `serve` prints. SameSite does not separate two
 * ports of 127.0.0.1 (they are the same site), so state-changing requests
 * must also come from the app's own origin: they need the X-Fieldsync
 * header (a cross-site form cannot set it, and a cross-origin fetch that
 * sets it needs a CORS preflight this server never grants), and
 * Sec-Fetch-Site and Origin, when the browser sends them, must name this
 * origin.
 *
 * Background sync runs on its own thread with its own database
 * connection, so the forms stay usable while a sync waits on the network.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "curlapi.h"
#include "store.h"
#include "web.h"

/* Web assets, embedded at build time (cmake/embed.cmake). */
extern const char fa_web_index[], fa_web_app_js[], fa_web_app_css[];
extern const size_t fa_web_index_len, fa_web_app_js_len, fa_web_app_css_len;

#define COOKIE_NAME "fieldsync_device"

/* ---- replies --------------------------------------------------------- */

static void security_headers(struct mg_connection *conn)
{
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(conn, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_add(conn, "X-Frame-Options", "DENY", -1);
    mg_response_header_add(conn, "Referrer-Policy", "no-referrer", -1);
    mg_response_header_add(conn, "Content-Security-Policy",
                           "default-src 'self'; frame-ancestors 'none'; "
                           "form-action 'self'",
                           -1);
}

static void send_body(struct mg_connection *conn, int status, const char *type,
                      const char *body, size_t len)
{
    char clen[32];
    snprintf(clen, sizeof clen, "%zu", len);
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", type, -1);
    mg_response_header_add(conn, "Content-Length", clen, -1);
    security_headers(conn);
    mg_response_header_send(conn);
    mg_write(conn, body, len);
}

void fa__web_reply(struct mg_connection *conn, int status, cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) {
        static const char oom[] = "{\"error\":\"no_memory\",\"message\":"
                                  "\"the agent is out of memory\"}";
        send_body(conn, 503, "application/json", oom, sizeof oom - 1);
        return;
    }
    send_body(conn, status, "application/json", text, strlen(text));
    free(text);
}

void fa__web_error(struct mg_connection *conn, int status, const char *code,
                   const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", code);
    cJSON_AddStringToObject(o, "message", msg);
    fa__web_reply(conn, status, o);
}

/* ---- the device secret ----------------------------------------------- */

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The secret survives restarts (a browser signed in once stays signed
 * in); it is made on the first serve. */
static int load_secret(fa_agent *ag, char out[65])
{
    int rc = fa__meta_get(ag, "web_secret", out, 65);
    if (rc != FA_OK || strlen(out) == 64)
        return rc;
    unsigned char b[32];
    if (fs_random_bytes(b, sizeof b) != FS_OK)
        return fa__fail(ag, FA_ESTORE, "the system has no randomness");
    hex(b, sizeof b, out);
    return fa__meta_set(ag, "web_secret", out);
}

/* Compares without an early exit, so timing does not reveal a prefix. */
static int same_secret(const char *a, const char *b, size_t n)
{
    if (strlen(a) != n || strlen(b) != n)
        return 0;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static int has_secret(fa__web *w, struct mg_connection *conn)
{
    const char *cookies = mg_get_header(conn, "Cookie");
    char v[80];
    if (!cookies || mg_get_cookie(cookies, COOKIE_NAME, v, sizeof v) <= 0)
        return 0;
    return same_secret(v, w->secret, 64);
}

/* GET /login?token=T: trades the one-time token for the cookie. */
static int handle_login(fa__web *w, struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char tok[64] = "";
    if (ri->query_string)
        mg_get_var(ri->query_string, strlen(ri->query_string), "token", tok,
                   sizeof tok);
    pthread_mutex_lock(&w->lock);
    int ok = w->once[0] && same_secret(tok, w->once, 32);
    if (ok)
        w->once[0] = '\0'; /* one time only */
    pthread_mutex_unlock(&w->lock);
    if (!ok) {
        fa__web_error(conn, 401, "bad_token",
                      "this sign-in address is wrong or was used already; "
                      "restart `fieldsync-agent serve` for a new one");
        return 401;
    }
    char cookie[160];
    snprintf(cookie, sizeof cookie,
             COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict; "
                         "Max-Age=31536000",
             w->secret);
    mg_response_header_start(conn, 303);
    mg_response_header_add(conn, "Set-Cookie", cookie, -1);
    mg_response_header_add(conn, "Location", "/", -1);
    mg_response_header_add(conn, "Content-Length", "0", -1);
    security_headers(conn);
    mg_response_header_send(conn);
    return 303;
}

/* A state-changing request must come from the app's own pages. */
static int same_origin(struct mg_connection *conn, char *why, size_t cap)
{
    const char *custom = mg_get_header(conn, "X-Fieldsync");
    const char *site = mg_get_header(conn, "Sec-Fetch-Site");
    const char *origin = mg_get_header(conn, "Origin");
    const char *host = mg_get_header(conn, "Host");
    if (!custom) {
        snprintf(why, cap, "the X-Fieldsync header is missing");
        return 0;
    }
    if (site && strcmp(site, "same-origin") != 0) {
        snprintf(why, cap, "Sec-Fetch-Site is %.40s", site);
        return 0;
    }
    if (origin) {
        char want[300];
        snprintf(want, sizeof want, "http://%.256s", host ? host : "");
        if (strcmp(origin, want) != 0) {
            snprintf(why, cap, "the request comes from %.100s", origin);
            return 0;
        }
    }
    return 1;
}

/* ---- static files ---------------------------------------------------- */

typedef struct asset {
    const char *path, *type;
    const char *data;
    const size_t *len;
} asset;

static int handle_asset(struct mg_connection *conn, const char *path)
{
    const asset assets[] = {
        {"/", "text/html; charset=utf-8", fa_web_index, &fa_web_index_len},
        {"/index.html", "text/html; charset=utf-8", fa_web_index,
         &fa_web_index_len},
        {"/app.js", "text/javascript; charset=utf-8", fa_web_app_js,
         &fa_web_app_js_len},
        {"/app.css", "text/css; charset=utf-8", fa_web_app_css,
         &fa_web_app_css_len},
    };
    for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++) {
        if (strcmp(path, assets[i].path) == 0) {
            send_body(conn, 200, assets[i].type, assets[i].data,
                      *assets[i].len);
            return 200;
        }
    }
    fa__web_error(conn, 404, "not_found", "no such page: %.100s", path);
    return 404;
}

static int handle_request(struct mg_connection *conn, void *wp)
{
    fa__web *w = wp;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *path = ri->local_uri ? ri->local_uri : "/";
    const char *m = ri->request_method;
    int safe = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (safe && strcmp(path, "/login") == 0)
        return handle_login(w, conn);
    if (!has_secret(w, conn)) {
        fa__web_error(conn, 401, "no_device_secret",
                      "this app needs the device's secret: open the "
                      "address `fieldsync-agent serve` printed on this "
                      "device");
        return 401;
    }
    char why[200];
    if (!safe && !same_origin(conn, why, sizeof why)) {
        fa__web_error(conn, 403, "cross_site",
                      "refused a cross-site request (%s)", why);
        return 403;
    }
    if (strncmp(path, "/api/", 5) == 0)
        return fa__web_api(w, conn);
    if (!safe) {
        fa__web_error(conn, 405, "method", "only GET here");
        return 405;
    }
    return handle_asset(conn, path);
}

/* ---- background sync ------------------------------------------------- */

static void on_progress(void *wp, const char *phase, long long done,
                        long long total)
{
    fa__web *w = wp;
    if (strcmp(phase, "sent") == 0)
        return; /* the page shows "sending" until the pull starts */
    pthread_mutex_lock(&w->sync_lock);
    snprintf(w->phase, sizeof w->phase, "%s", phase);
    w->done = done;
    w->total = total;
    pthread_mutex_unlock(&w->sync_lock);
}

/* The result in words a person can act on. */
static void describe(fa__web *w, int rc, const fa_sync_report *r,
                     const char *err)
{
    char *m = w->last_message;
    size_t cap = sizeof w->last_message;
    switch (rc) {
    case FA_OK:
        snprintf(m, cap, "sync done: sent %lld, received %lld; %lld waiting%s",
                 r->sent, r->pulled, r->queued,
                 r->refused ? "; some were refused by the hub (see "
                              "Quarantined)"
                            : "");
        break;
    case FA_EUNREACHABLE:
        snprintf(m, cap,
                 "hub unreachable, %lld record(s) kept on this device; they "
                 "will be sent on the next sync (%.400s)",
                 r->queued, err);
        break;
    case FA_EPARTIAL:
        snprintf(m, cap,
                 "the connection broke: %lld sent, %lld record(s) kept on "
                 "this device for the next sync",
                 r->sent, r->queued);
        break;
    default:
        snprintf(m, cap,
                 "sync failed: %.500s; %lld record(s) kept on this "
                 "device",
                 err, r->queued);
    }
}

static void *sync_main(void *wp)
{
    fa__web *w = wp;
    pthread_mutex_lock(&w->sync_lock);
    while (!w->stopping) {
        int64_t now = (int64_t)fs_now_ms();
        int due = w->sync_requested ||
                  (w->auto_sync_s > 0 && now >= w->next_attempt_ms);
        if (!due) {
            int64_t until =
                w->auto_sync_s > 0 ? w->next_attempt_ms : now + 3600 * 1000;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wait_ms = until - now;
            ts.tv_sec += (time_t)(wait_ms / 1000);
            ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->sync_cond, &w->sync_lock, &ts);
            continue;
        }
        w->sync_requested = 0;
        w->sync_running = 1;
        w->last_attempt_ms = now;
        snprintf(w->phase, sizeof w->phase, "connecting");
        w->done = w->total = 0;
        pthread_mutex_unlock(&w->sync_lock);

        fa_sync_options so;
        fa_sync_options_default(&so);
        so.max_attempts = 3;
        so.on_progress = on_progress;
        so.progress_arg = w;
        fa_sync_report rep;
        int rc = fa_sync(w->sag, &so, &rep);

        pthread_mutex_lock(&w->sync_lock);
        w->sync_running = 0;
        w->last_rc = rc;
        w->last_queued = rep.queued;
        w->last_end_ms = (int64_t)fs_now_ms();
        describe(w, rc, &rep, fa_last_error(w->sag));
        /* Backoff while the hub does not answer: interval x 2^failures,
         * at most an hour, with jitter so that tablets coming back on
         * the same network do not knock in step. */
        w->failures = rc == FA_OK ? 0 : w->failures + 1;
        if (w->auto_sync_s > 0) {
            int64_t delay = (int64_t)w->auto_sync_s * 1000;
            for (int i = 0; i < w->failures && delay < 3600 * 1000; i++)
                delay *= 2;
            if (delay > 3600 * 1000)
                delay = 3600 * 1000;
            unsigned r = 0;
            fs_random_bytes(&r, sizeof r);
            delay += (int64_t)(r % (unsigned)(delay / 10 + 1));
            w->next_attempt_ms = w->last_end_ms + delay;
        }
        pthread_cond_broadcast(&w->sync_cond);
    }
    pthread_mutex_unlock(&w->sync_lock);
    return NULL;
}

void fa__web_sync_request(fa__web *w)
{
    pthread_mutex_lock(&w->sync_lock);
    if (!w->sync_running)
        w->sync_requested = 1;
    pthread_cond_broadcast(&w->sync_cond);
    pthread_mutex_unlock(&w->sync_lock);
}

cJSON *fa__web_sync_state(fa__web *w)
{
    cJSON *o = cJSON_CreateObject();
    pthread_mutex_lock(&w->sync_lock);
    cJSON_AddBoolToObject(o, "running", w->sync_running || w->sync_requested);
    cJSON_AddStringToObject(o, "phase", w->phase);
    cJSON_AddNumberToObject(o, "done", (double)w->done);
    cJSON_AddNumberToObject(o, "total", (double)w->total);
    cJSON_AddNumberToObject(o, "last_attempt_ms", (double)w->last_attempt_ms);
    cJSON_AddNumberToObject(o, "last_end_ms", (double)w->last_end_ms);
    cJSON_AddBoolToObject(o, "last_ok",
                          w->last_end_ms > 0 && w->last_rc == FA_OK);
    cJSON_AddStringToObject(o, "last_message", w->last_message);
    cJSON_AddNumberToObject(o, "kept", (double)w->last_queued);
    cJSON_AddNumberToObject(o, "auto_sync_s", w->auto_sync_s);
    cJSON_AddNumberToObject(o, "next_attempt_ms",
                            w->auto_sync_s > 0 ? (double)w->next_attempt_ms
                                               : 0);
    pthread_mutex_unlock(&w->sync_lock);
    return o;
}

/* ---- serve ----------------------------------------------------------- */

/* HOST:PORT, IPv4 (the CivetWeb build has no IPv6); CivetWeb's own
 * suffixes (s for TLS, r for redirect) are refused. */
static int parse_listen(const char *listen, char *out, size_t cap,
                        int *loopback)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || colon - listen >= 64)
        return -1;
    char host[64];
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    for (const char *p = host; *p; p++)
        if (!(*p == '.' || (*p >= '0' && *p <= '9')))
            return -1;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
        return -1;
    *loopback = strncmp(host, "127.", 4) == 0;
    snprintf(out, cap, "%s:%ld", host, port);
    return 0;
}

static int log_message(const struct mg_connection *conn, const char *msg)
{
    (void)conn;
    fprintf(stderr, "fieldsync-agent: http: %s\n", msg);
    return 1;
}

static int write_port_file(const char *path, int port)
{
    char tmp[FA_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%d\n", port) > 0;
    ok &= fclose(f) == 0;
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}

int fa_serve(const char *dir, const fa_serve_options *o)
{
    char ports[96], err[1024];
    int loopback = 0;
    if (parse_listen(o->listen, ports, sizeof ports, &loopback) != 0) {
        fprintf(stderr,
                "fieldsync-agent: --listen %s: expected IPv4-HOST:PORT, "
                "e.g. 127.0.0.1:8090\n",
                o->listen);
        return FA_EINPUT;
    }
    fa__web w;
    memset(&w, 0, sizeof w);
    w.auto_sync_s = o->auto_sync_s;
    int rc = fa_open(dir, &w.ag, err, sizeof err);
    if (rc == FA_OK)
        rc = fa_open(dir, &w.sag, err, sizeof err);
    if (rc != FA_OK) {
        fprintf(stderr, "fieldsync-agent: %s\n", err);
        fa_close(w.ag);
        return rc;
    }
    rc = load_secret(w.ag, w.secret);
    unsigned char once[16];
    if (rc == FA_OK && fs_random_bytes(once, sizeof once) != FS_OK)
        rc = fa__fail(w.ag, FA_ESTORE, "the system has no randomness");
    if (rc != FA_OK) {
        fprintf(stderr, "fieldsync-agent: %s\n", fa_last_error(w.ag));
        fa_close(w.sag);
        fa_close(w.ag);
        return rc;
    }
    hex(once, sizeof once, w.once);
    /* libcurl is loaded now, before any thread starts (curlapi.h). The
     * form app works offline without it; only sync needs it. */
    char why[512];
    if (!fa__curl_load(why, sizeof why))
        fprintf(stderr,
                "fieldsync-agent: warning: %s; forms can be filled "
                "and saved, but not synced\n",
                why);
    pthread_mutex_init(&w.lock, NULL);
    pthread_mutex_init(&w.sync_lock, NULL);
    pthread_cond_init(&w.sync_cond, NULL);
    w.next_attempt_ms = (int64_t)fs_now_ms(); /* auto-sync: at once */

    /* Stop signals are taken by the main thread with sigwait; every
     * thread started below inherits the blocked mask. */
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopset, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *options[] = {
        "listening_ports",
        ports,
        /* A tablet has one user: a few workers, each small. */
        "num_threads",
        "3",
        "enable_keep_alive",
        "no",
        "request_timeout_ms",
        "30000",
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.log_message = log_message;
    mg_init_library(0);
    struct mg_context *ctx = mg_start(&cb, &w, options);
    int status = FA_OK;
    if (!ctx) {
        fprintf(stderr,
                "fieldsync-agent: cannot listen on %s (in use, or not an "
                "address of this machine?)\n",
                o->listen);
        status = FA_EINPUT;
        goto out;
    }
    mg_set_request_handler(ctx, "/", handle_request, &w);
    pthread_create(&w.sync_thread, NULL, sync_main, &w);

    struct mg_server_port sp[2];
    int port = mg_get_server_ports(ctx, 2, sp) > 0 ? sp[0].port : -1;
    int hostlen = (int)(strrchr(ports, ':') - ports);
    if (!loopback)
        fprintf(stderr,
                "fieldsync-agent: warning: listening beyond this "
                "device (%s); anyone who gets the address below "
                "can sign in once\n",
                ports);
    printf("fieldsync-agent: form app at http://%.*s:%d/\n"
           "open this address once on this device to sign in (it works "
           "one time):\nhttp://%.*s:%d/login?token=%s\n",
           hostlen, ports, port, hostlen, ports, port, w.once);
    fflush(stdout);
    if (o->port_file && write_port_file(o->port_file, port) != 0) {
        fprintf(stderr, "fieldsync-agent: cannot write %s: %s\n", o->port_file,
                strerror(errno));
        status = FA_ESTORE;
    }
    int sig = 0;
    while (status == FA_OK && sigwait(&stopset, &sig) != 0)
        ;
    mg_stop(ctx); /* waits for requests in flight */
    pthread_mutex_lock(&w.sync_lock);
    w.stopping = 1;
    pthread_cond_broadcast(&w.sync_cond);
    pthread_mutex_unlock(&w.sync_lock);
    pthread_join(w.sync_thread, NULL);
    fprintf(stderr, "fieldsync-agent: stopped serving\n");
out:
    mg_exit_library();
    pthread_cond_destroy(&w.sync_cond);
    pthread_mutex_destroy(&w.sync_lock);
    pthread_mutex_destroy(&w.lock);
    fa_close(w.sag);
    fa_close(w.ag);
    return status;
}
