/*
 * webui.c - the admin page: plain HTML, CSS and JavaScript files built
 * into the hub binary (cmake/embed.cmake), served at "/" and "/ui/...".
 *
 * Nothing is fetched from elsewhere, so the page works on a LAN without
 * internet. Every reply carries a strict Content-Security-Policy (scripts
 * and styles only from the hub's own files, no inline code, no framing)
 * and an ETag: browsers revalidate ("no-cache") and get 304 while the hub
 * binary is the same, and new files right after an upgrade.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webui.h"
#include "http.h"

extern const char fs_web_index_html[], fs_web_app_css[], fs_web_app_js[],
    fs_web_api_js[], fs_web_review_js[], fs_web_dataset_js[], fs_web_map_js[];
extern const size_t fs_web_index_html_len, fs_web_app_css_len,
    fs_web_app_js_len, fs_web_api_js_len, fs_web_review_js_len,
    fs_web_dataset_js_len, fs_web_map_js_len;

#define JS "text/javascript; charset=utf-8"

typedef struct asset {
    const char *path;
    const char *type;
    const char *data;
    const size_t *len;
    /* Filled once by prepare(), then read-only. The gzipped bytes are
     * another representation, so they get their own tag. */
    char etag[24];
    char etag_gz[24];
    fs_buf gz; /* empty when gzip does not pay */
} asset;

static asset assets[] = {
    {"/",
     "text/html; charset=utf-8",
     fs_web_index_html,
     &fs_web_index_html_len,
     "",
     "",
     {0}},
    {"/ui/app.css",
     "text/css; charset=utf-8",
     fs_web_app_css,
     &fs_web_app_css_len,
     "",
     "",
     {0}},
    {"/ui/app.js", JS, fs_web_app_js, &fs_web_app_js_len, "", "", {0}},
    {"/ui/api.js", JS, fs_web_api_js, &fs_web_api_js_len, "", "", {0}},
    {"/ui/review.js", JS, fs_web_review_js, &fs_web_review_js_len, "", "", {0}},
    {"/ui/dataset.js",
     JS,
     fs_web_dataset_js,
     &fs_web_dataset_js_len,
     "",
     "",
     {0}},
    {"/ui/map.js", JS, fs_web_map_js, &fs_web_map_js_len, "", "", {0}},
};
#define NASSETS (sizeof assets / sizeof assets[0])

/* img-src allows data: for the empty favicon and blob: for attachment
 * images, which the page fetches with its token (an <img src> cannot
 * send one) and shows from a blob: URL of its own; style-src has no
 * 'unsafe-inline', so the scripts colour the map through SVG attributes,
 * never through style attributes. */
static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'none'";

static pthread_once_t prepared = PTHREAD_ONCE_INIT;

/* Hashes and compresses every file once, on the first request. */
static void prepare(void)
{
    for (size_t i = 0; i < NASSETS; i++) {
        asset *a = &assets[i];
        char hex[65];
        fs_sha256_hex(a->data, *a->len, hex);
        snprintf(a->etag, sizeof a->etag, "\"%.16s\"", hex);
        snprintf(a->etag_gz, sizeof a->etag_gz, "\"%.16s-gz\"", hex);
        fs_buf_init(&a->gz, *a->len + 1024);
        if (fs_gzip(a->data, *a->len, 9, &a->gz) != FS_OK ||
            a->gz.len >= *a->len)
            fs_buf_free(&a->gz);
    }
}

static const asset *find(const char *uri)
{
    for (size_t i = 0; i < NASSETS; i++)
        if (strcmp(assets[i].path, uri) == 0)
            return &assets[i];
    return NULL;
}

/* 1 when an If-None-Match header names tag (or is "*"). A substring
 * match suffices: tags are quoted hex, so "x" never matches "x-gz". */
static int not_modified(struct mg_connection *conn, const char *tag)
{
    const char *inm = mg_get_header(conn, "If-None-Match");
    return inm && (strstr(inm, tag) != NULL || strcmp(inm, "*") == 0);
}

int hub__web_serve(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const asset *a = ri->local_uri ? find(ri->local_uri) : NULL;
    if (!a)
        return 0;
    pthread_once(&prepared, prepare);
    int head = strcmp(ri->request_method, "HEAD") == 0;
    if (!head && !hub__method_is(conn, "GET"))
        return 405;

    const char *ae = mg_get_header(conn, "Accept-Encoding");
    int zipped = a->gz.len > 0 && ae && strstr(ae, "gzip") != NULL;
    const char *tag = zipped ? a->etag_gz : a->etag;
    int status = not_modified(conn, tag) ? 304 : 200;
    const void *body = zipped ? (const void *)a->gz.data : a->data;
    size_t len = zipped ? a->gz.len : *a->len;
    char clen[32];
    snprintf(clen, sizeof clen, "%zu", len);

    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", a->type, -1);
    if (status == 200)
        mg_response_header_add(conn, "Content-Length", clen, -1);
    if (zipped)
        mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
    mg_response_header_add(conn, "Vary", "Accept-Encoding", -1);
    mg_response_header_add(conn, "ETag", tag, -1);
    mg_response_header_add(conn, "Cache-Control", "no-cache", -1);
    mg_response_header_add(conn, "Content-Security-Policy", csp, -1);
    mg_response_header_add(conn, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_add(conn, "X-Frame-Options", "DENY", -1);
    mg_response_header_add(conn, "Referrer-Policy", "no-referrer", -1);
    mg_response_header_send(conn);
    if (status == 200 && !head)
        mg_write(conn, body, len);
    return status;
}
