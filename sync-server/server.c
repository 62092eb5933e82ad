/*
 * server.c - `fieldsync-hub serve`: CivetWeb set-up, routes, per-thread
 * database connections and a clean shutdown.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs_schema.h"
#include "hub.h"
#include "server.h"
#include "hierarchy.h"
#include "adminapi.h"
#include "checkpoint.h"
#include "conflictapi.h"
#include "db.h"
#include "enroll.h"
#include "framing.h"
#include "http.h"
#include "mapapi.h"
#include "merge.h"
#include "mergeq.h"
#include "openrosa.h"
#include "pull.h"
#include "blobbatch.h"
#include "blobs.h"
#include "blobguard.h"
#include "blobserve.h"
#include "push.h"
#include "ratelimit.h"
#include "review.h"
#include "webui.h"
#include "stmtcache.h"

/* Nice value of request workers (the merge thread keeps the process's). */
#define WORKER_NICE 5

/* Enrolment attempts a client address may make: ENROL_BURST at once,
 * then ENROL_RATE a second. */
#define ENROL_BURST 10.0
#define ENROL_RATE 0.2

/* Each worker thread owns one SQLite connection for its whole life:
 * connections are not shared between threads, and opening one per request
 * would re-read the schema every time. */
static void *init_thread(const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1)
        return NULL;
    hub *h = mg_get_user_data(ctx);
    /* A little below the merge thread (mergeq.c): requests are decoded in
     * parallel, merged by that one thread; it must not wait for a core. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKER_NICE);
    sqlite3 *db = NULL;
    char err[512];
    if (fs_db_open(h->db_path, &fs_schema_hub, 0, &db, err, sizeof err) != 0)
        fprintf(stderr, "fieldsync-hub: worker: %s\n", err);
    else if (hub__hierarchy_register(db) != 0)
        fprintf(stderr, "fieldsync-hub: worker: cannot register the area "
                        "hierarchy function\n");
    hub__checkpointer_attach(h->ckpt, db);
    return db;
}

static void exit_thread(const struct mg_context *ctx, int thread_type,
                        void *ptr)
{
    (void)ctx;
    (void)thread_type;
    /* Runs on the exiting worker itself: its cached statements go first,
     * or sqlite3_close would refuse to close a busy connection. */
    hub__stmt_release(ptr);
    hub__merge_release();
    sqlite3_close(ptr);
}

static int log_message(const struct mg_connection *conn, const char *msg)
{
    (void)conn;
    fprintf(stderr, "fieldsync-hub: http: %s\n", msg);
    return 1;
}

/* CivetWeb's own refusals (request line or headers too large, bad
 * request syntax) get the same JSON error object as ours. */
static int http_error(struct mg_connection *conn, int status, const char *msg)
{
    const char *code = status == 413   ? "too_big"
                       : status == 431 ? "headers_too_big"
                       : status == 408 ? "timeout"
                       : status >= 500 ? "server_error"
                                       : "bad_request";
    hub__reply_error(conn, status, code, "%s",
                     msg && msg[0] ? msg : "the request was refused");
    return 0;
}

/* Handlers run only with a database; a worker whose connection failed to
 * open answers 503 rather than crash. */
typedef int (*handler_fn)(struct mg_connection *, void *);
typedef struct route {
    const char *path;
    handler_fn fn;
} route;

static int handle_healthz(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    int rc;
    sqlite3_stmt *st =
        hub__sql(hub__db(conn), "SELECT count(*) FROM devices", NULL, 0, &rc);
    if (!st || hub__sql_step(st) <= 0) {
        hub__reply_error(conn, 503, "storage",
                         "the hub cannot read its database");
        return 503;
    }
    hub__sql_end(st);
    char body[128];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"ok\",\"protocol\":%d,\"schema\":%d}",
                     FS_PROTOCOL_VERSION, FS_SCHEMA_VERSION);
    hub__reply(conn, 200, body, (size_t)n);
    return 200;
}

/* Everything no route claims: a file of the admin page, or a 404. */
static int handle_not_found(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    int served = hub__web_serve(conn);
    if (served)
        return served;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    hub__reply_error(conn, 404, "not_found",
                     "no such endpoint: %.100s (see PROTOCOL.md)",
                     ri->local_uri ? ri->local_uri : "?");
    return 404;
}

static const route routes[] = {
    {"/healthz$", handle_healthz},
    {"/api/v1/enroll$", hub__handle_enroll},
    {"/api/v1/push$", hub__handle_push},
    {"/api/v1/pull$", hub__handle_pull},
    {"/api/v1/blobs$", hub__handle_blob_batch},
    {"/api/v1/blobs/", hub__handle_blob},
    {"/api/v1/admin/whoami$", hub__handle_admin_whoami},
    {"/api/v1/admin/forms$", hub__handle_admin_forms},
    {"/api/v1/admin/devices$", hub__handle_admin_devices},
    {"/api/v1/admin/devices/revoke$", hub__handle_admin_revoke},
    {"/api/v1/admin/stats$", hub__handle_admin_stats},
    {"/api/v1/admin/submissions$", hub__handle_admin_submissions},
    {"/api/v1/admin/submissions/", hub__handle_admin_file},
    {"/api/v1/admin/audit$", hub__handle_admin_audit},
    {"/api/v1/admin/review$", hub__handle_admin_review},
    {"/api/v1/admin/waves$", hub__handle_admin_waves},
    {"/api/v1/admin/quotas$", hub__handle_admin_quotas},
    {"/api/v1/admin/coverage$", hub__handle_admin_coverage},
    {"/api/v1/admin/indicators$", hub__handle_admin_indicators},
    {"/api/v1/admin/change$", hub__handle_admin_change},
    {"/api/v1/admin/export/", hub__handle_admin_export},
    {"/api/v1/admin/areas$", hub__handle_admin_areas},
    {"/api/v1/admin/conflicts$", hub__handle_admin_conflicts},
    {"/api/v1/admin/conflicts/resolve$", hub__handle_admin_resolve},
    {"/api/v1/admin/duplicates$", hub__handle_admin_duplicates},
    {"/openrosa/key/", hub__handle_openrosa},
    {"/", handle_not_found},
};

static int dispatch(struct mg_connection *conn, void *cbdata)
{
    const route *r = cbdata;
    if (!hub__db(conn)) {
        hub__reply_error(conn, 503, "storage",
                         "the hub cannot open its database; see its log");
        return 503;
    }
    const struct mg_request_info *ri = mg_get_request_info(conn);
    int status = r->fn(conn, ri->user_data);
    /* No cached statement may keep a read snapshot open between
     * requests: it would pin the WAL and serve stale reads. */
    hub__stmt_reset_all();
    return status;
}

/* Accepts HOST:PORT with an IPv4 address or "localhost" and writes the
 * CivetWeb listening_ports value. CivetWeb's own syntax (a trailing "s"
 * for TLS, "r" for redirect, "+" for dual stack) is refused: Debian's
 * CivetWeb cannot serve TLS with OpenSSL 3, and a typo must not open a
 * port that half works. */
static int parse_listen(const char *listen, char *out, size_t cap)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen) {
        fprintf(stderr,
                "fieldsync-hub: --listen %s: expected HOST:PORT, e.g. "
                "127.0.0.1:8080\n",
                listen);
        return -1;
    }
    const char *port = colon + 1;
    size_t plen = strlen(port);
    if (plen > 0 && (port[plen - 1] == 's' || port[plen - 1] == 'r')) {
        fprintf(stderr,
                "fieldsync-hub: --listen %s: this hub does not serve TLS "
                "(Debian's CivetWeb cannot with OpenSSL 3); listen on "
                "plain HTTP on loopback and put the TLS terminator from "
                "SECURITY.md in front\n",
                listen);
        return -1;
    }
    char *end = NULL;
    long p = strtol(port, &end, 10);
    if (plen == 0 || *end != '\0' || p < 0 || p > 65535) {
        fprintf(stderr,
                "fieldsync-hub: --listen %s: the port must be a number "
                "from 0 to 65535 (0 lets the system choose)\n",
                listen);
        return -1;
    }
    size_t hlen = (size_t)(colon - listen);
    char host[64];
    if (hlen >= sizeof host) {
        fprintf(stderr, "fieldsync-hub: --listen %s: host too long\n", listen);
        return -1;
    }
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    for (size_t i = 0; host[i]; i++) {
        if (!(host[i] == '.' || (host[i] >= '0' && host[i] <= '9'))) {
            fprintf(stderr,
                    "fieldsync-hub: --listen %s: the host must be an IPv4 "
                    "address such as 127.0.0.1 (this CivetWeb build has "
                    "no IPv6)\n",
                    listen);
            return -1;
        }
    }
    snprintf(out, cap, "%s:%ld", host, p);
    return 0;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        fprintf(stderr, "fieldsync-hub: cannot write %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    return 0;
}

int hub_serve(const hub_serve_options *opt)
{
    char ports[96], threads[16], timeout[24];
    if (parse_listen(opt->listen, ports, sizeof ports) != 0)
        return 2;
    snprintf(threads, sizeof threads, "%d", opt->threads);
    /* CivetWeb ends the reading of headers within its request timeout,
     * but gives a stalled body twice that before mg_read returns: half of
     * --request-timeout drops both within it, and gives headers a
     * deadline shorter than a body's. */
    snprintf(timeout, sizeof timeout, "%d", opt->request_timeout_s * 500);

    /* Each push allocates and frees buffers of a few hundred KiB (the
     * body, its inflated text, the reply). With glibc's moving defaults
     * those go to fresh mmaps and arenas are trimmed after each free, so
     * every push pays page faults for memory it just gave back: fixed
     * thresholds keep them in the heap (measured in bench/README.md). */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);

    /* Create and migrate once, before any worker opens it. */
    sqlite3 *db = hub__open(opt->db_path);
    if (!db)
        return 1;
    sqlite3_close(db);

    hub h;
    memset(&h, 0, sizeof h);
    h.db_path = strdup(opt->db_path);
    h.public_url = opt->public_url;
    fs_limits_default(&h.limits);
    h.held.max = opt->held_max > 0 ? opt->held_max : HUB_HELD_MAX;
    h.held.max_bytes =
        opt->held_max_bytes > 0 ? opt->held_max_bytes : HUB_HELD_MAX_BYTES;
    h.held.keep_ms =
        (int64_t)(opt->held_days > 0 ? opt->held_days : HUB_HELD_DAYS) *
        86400000;
    h.attach_quota =
        opt->attach_quota > 0 ? opt->attach_quota : HUB_ATTACH_QUOTA;
    h.attach_floor =
        opt->attach_floor > 0 ? opt->attach_floor : HUB_ATTACH_FLOOR;
    pthread_mutex_init(&h.write_lock, NULL);
    if (opt->rate_limit > 0)
        h.rate = hub__ratelimit_new(opt->rate_limit);
    /* Enrolment codes are guessed from one address at a time: a burst of
     * ENROL_BURST attempts, then one every 1/ENROL_RATE s; a code found
     * valid gives its attempt back (enroll.c). */
    h.enrol = hub__ratelimit_new_burst(ENROL_RATE, ENROL_BURST);
    if ((opt->rate_limit > 0 && !h.rate) || !h.enrol) {
        hub__ratelimit_free(h.rate);
        hub__ratelimit_free(h.enrol);
        free(h.db_path);
        return 1;
    }

    /* Block the stop signals in every thread (workers inherit the mask);
     * the main thread waits for them with sigwait. */
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopset, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* After the mask: these threads must not take a stop signal either. */
    h.ckpt = hub__checkpointer_start(opt->db_path);
    h.mergeq = hub__mergeq_start(&h);
    if (!h.mergeq) {
        hub__checkpointer_stop(h.ckpt);
        hub__ratelimit_free(h.rate);
        hub__ratelimit_free(h.enrol);
        free(h.db_path);
        return 1;
    }

    const char *options[] = {
        "listening_ports",
        ports,
        "num_threads",
        threads,
        /* Without keep-alive every sync pays a TCP handshake per batch.
         * An open connection holds a worker thread, idle or not, and an
         * agent opens two (PROTOCOL.md 4.4): with more devices syncing
         * than half the workers, a device's next changeset can wait for
         * a connection left idle to time out. Not shorter for that: on
         * 2G the two connections share 64 kbit/s, so one sits idle for
         * as long as the other's body takes (~2.5 s for 200 submissions,
         * more with losses), and 2 s here cost reconnects and resent
         * bodies (bench_thinlink 1.25x -> 1.5-1.6x). Enough workers
         * (main.c) is the answer. */
        "enable_keep_alive",
        "yes",
        "keep_alive_timeout_ms",
        "15000",
        /* Nagle plus delayed ACK stalls each small reply by ~40 ms. */
        "tcp_nodelay",
        "1",
        /* Per read or write: a 2G link moves a 16 KiB chunk in ~2 s; a
         * stalled or slow-loris client loses its worker after this. */
        "request_timeout_ms",
        timeout,
        "linger_timeout_ms",
        "1000",
        /* Paths are matched as sent: no route has an escaped byte, and a
         * decoded %00 would end the path early, serving the resource
         * named by what comes before it (framing.c refuses it). */
        "decode_url",
        "no",
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.init_thread = init_thread;
    cb.exit_thread = exit_thread;
    cb.log_message = log_message;
    cb.http_error = http_error;
    cb.begin_request = hub__check_framing;

    mg_init_library(0);
    struct mg_context *ctx = mg_start(&cb, &h, options);
    if (!ctx) {
        fprintf(stderr,
                "fieldsync-hub: cannot listen on %s (in use, or not an "
                "address of this machine?)\n",
                opt->listen);
        mg_exit_library();
        hub__mergeq_stop(h.mergeq);
        hub__checkpointer_stop(h.ckpt);
        hub__ratelimit_free(h.rate);
        hub__ratelimit_free(h.enrol);
        free(h.db_path);
        return 1;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        mg_set_request_handler(ctx, routes[i].path, dispatch,
                               (void *)&routes[i]);

    struct mg_server_port sp[4];
    int np = mg_get_server_ports(ctx, 4, sp);
    int port = np > 0 ? sp[0].port : -1;
    fprintf(stderr, "fieldsync-hub: serving http://%.*s:%d (database %s)\n",
            (int)(strrchr(ports, ':') - ports), ports, port, opt->db_path);
    int status = 0;
    if (opt->port_file && write_port_file(opt->port_file, port) != 0)
        status = 1;

    int sig = 0;
    while (status == 0 && sigwait(&stopset, &sig) != 0)
        ;
    if (status == 0)
        fprintf(stderr, "fieldsync-hub: %s received, finishing requests\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    mg_stop(ctx); /* waits for in-flight requests */
    mg_exit_library();
    hub__mergeq_stop(h.mergeq); /* no push is in flight after mg_stop */
    hub__checkpointer_stop(h.ckpt);
    pthread_mutex_destroy(&h.write_lock);
    hub__ratelimit_free(h.rate);
    hub__ratelimit_free(h.enrol);
    free(h.db_path);
    fprintf(stderr, "fieldsync-hub: stopped\n");
    return status;
}
