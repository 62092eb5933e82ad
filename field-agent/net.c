#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "net.h"
#include "store.h"

/* A hub reply is a page of changes or a push answer: far below this. */
#define REPLY_MAX (16 * 1024 * 1024)

static size_t on_data(char *p, size_t size, size_t n, void *userp)
{
    fs_buf *b = userp;
    /* Returning less than given makes curl stop: the cap holds even
     * against a hostile or broken hub. */
    if (fs_buf_append(b, p, size * n) != FS_OK)
        return 0;
    return size * n;
}

int fa__http_init(fa_agent *ag, fa__http *h, const char *base,
                  const char *token, const char *ca_file)
{
    memset(h, 0, sizeof h[0]);
    fs_buf_init(&h->reply, REPLY_MAX);
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (blen >= sizeof h->base)
        return fa__fail(ag, FA_EINPUT, "hub URL too long");
    memcpy(h->base, base, blen);
    h->base[blen] = '\0';
    char why[512];
    const fa__curl_api *api = fa__curl_load(why, sizeof why);
    if (!api)
        return fa__fail(ag, FA_ESTORE, "%s", why);
    h->api = api;
    h->curl = api->easy_init();
    if (!h->curl)
        return fa__fail(ag, FA_ESTORE, "cannot start the HTTP client");
    char auth[160];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *l = NULL;
    l = api->slist_append(l, "Content-Type: application/json");
    l = api->slist_append(l, "Accept: application/json");
    /* No "Expect: 100-continue" round trip: on a 300 ms link it costs
     * more than the small bodies it could save. */
    l = api->slist_append(l, "Expect:");
    if (token && token[0])
        l = api->slist_append(l, auth);
    h->headers = l;
    CURL *c = h->curl;
    api->easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    api->easy_setopt(c, CURLOPT_USERAGENT, "fieldsync-agent/0.1");
    api->easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    api->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    api->easy_setopt(c, CURLOPT_WRITEDATA, &h->reply);
    api->easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_err);
    api->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    api->easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
    /* A link that moves less than 1 byte/s for 60 s is dead; a slow one
     * that keeps moving is left alone. */
    api->easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    api->easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    api->easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    api->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    api->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    /* Certificates are always verified; a private CA is added, never a
     * way to switch verification off. */
    if (ca_file && ca_file[0])
        api->easy_setopt(c, CURLOPT_CAINFO, ca_file);
    return FA_OK;
}

void fa__http_free(fa__http *h)
{
    if (!h)
        return;
    if (h->api) {
        h->api->slist_free_all(h->headers);
        h->api->easy_cleanup(h->curl);
    }
    fs_buf_free(&h->reply);
}

/* Sets h up for one request: URL, method, body (borrowed), and for a
 * gzipped body its own header list, kept in h->extra until finish(). */
static void setup(fa__http *h, const char *method, const char *path,
                  const void *body, size_t len, int gzipped)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", h->base, path);
    const fa__curl_api *api = h->api;
    CURL *c = h->curl;
    fs_buf_reset(&h->reply);
    h->status = 0;
    h->curl_err[0] = '\0';
    h->extra = NULL;
    api->easy_setopt(c, CURLOPT_URL, url); /* curl keeps a copy */
    if (strcmp(method, "POST") == 0) {
        api->easy_setopt(c, CURLOPT_POST, 1L);
        api->easy_setopt(c, CURLOPT_POSTFIELDS, body);
        api->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (gzipped) {
            /* Copy the shared list with one more header for this call. */
            for (struct curl_slist *l = h->headers; l; l = l->next)
                h->extra = api->slist_append(h->extra, l->data);
            h->extra = api->slist_append(h->extra, "Content-Encoding: gzip");
            api->easy_setopt(c, CURLOPT_HTTPHEADER, h->extra);
        }
    } else {
        api->easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
}

/* What a request that ended with cc means for the agent. */
static int finish(fa_agent *ag, fa__http *h, CURLcode cc)
{
    const fa__curl_api *api = h->api;
    CURL *c = h->curl;
    api->easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    api->slist_free_all(h->extra);
    h->extra = NULL;
    if (cc != CURLE_OK) {
        if (cc == CURLE_WRITE_ERROR && h->reply.len >= REPLY_MAX)
            return fa__fail(ag, FA_EREFUSED,
                            "the hub at %s sent a reply larger than "
                            "16 MiB; it is not a fieldsync hub or is "
                            "broken",
                            h->base);
        const char *why = h->curl_err[0] ? h->curl_err : api->easy_strerror(cc);
        /* Trying again later cannot fix a certificate: say what to do
         * and make it final, so sync does not retry it as a dropout. */
        if (cc == CURLE_PEER_FAILED_VERIFICATION)
            return fa__fail(ag, FA_EREFUSED,
                            "the hub's certificate at %s is not trusted "
                            "(%s); if the hub uses its own CA, enrol with "
                            "--cacert FILE naming that CA's certificate",
                            h->base, why);
        if (cc == CURLE_SSL_CACERT_BADFILE)
            return fa__fail(ag, FA_EINPUT,
                            "cannot use the CA file given with --cacert "
                            "for %s: %s",
                            h->base, why);
        return fa__fail(ag, FA_EUNREACHABLE, "hub unreachable at %s: %s",
                        h->base, why);
    }
    api->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
    /* Every answer of a hub has a JSON body. None at all means the link
     * broke inside the answer: a hub killed right after its status line
     * looks like a complete empty answer to curl. Retry, keep the data. */
    if (h->reply.len == 0)
        return fa__fail(ag, FA_EUNREACHABLE,
                        "the hub at %s broke off its answer (HTTP %ld "
                        "without a body)",
                        h->base, h->status);
    return FA_OK;
}

int fa__http_request(fa_agent *ag, fa__http *h, const char *method,
                     const char *path, const void *body, size_t len,
                     int gzipped)
{
    setup(h, method, path, body, len, gzipped);
    return finish(ag, h, h->api->easy_perform(h->curl));
}

/* A PATCH body handed to curl through a callback that cannot go back.
 * When a kept-alive connection turns out to be dead after part of the
 * body left, curl would rewind a body it holds in memory and send the
 * whole chunk again on a new connection by itself. The hub keeps the
 * bytes of a cut chunk (PROTOCOL.md 4.7), so that resend arrives at an
 * offset the hub has moved past: a whole chunk over a thin link for a
 * 409. A body that cannot be rewound makes curl fail the request
 * instead, and the agent asks the hub's offset and sends the rest. */
typedef struct patch_body {
    const unsigned char *p;
    size_t len, pos;
} patch_body;

static size_t patch_read(char *out, size_t size, size_t n, void *userp)
{
    patch_body *b = userp;
    size_t room = size * n, left = b->len - b->pos;
    size_t k = left < room ? left : room;
    memcpy(out, b->p + b->pos, k);
    b->pos += k;
    return k;
}

static int patch_seek(void *userp, curl_off_t offset, int origin)
{
    patch_body *b = userp;
    /* Going back to the start is allowed only while nothing was read. */
    if (origin == SEEK_SET && offset == 0 && b->pos == 0)
        return CURL_SEEKFUNC_OK;
    return CURL_SEEKFUNC_CANTSEEK;
}

int fa__http_patch(fa_agent *ag, fa__http *h, const char *path,
                   long long offset, const void *body, size_t len)
{
    const fa__curl_api *api = h->api;
    CURL *c = h->curl;
    patch_body pb = {body, len, 0};
    char hdr[64];

    setup(h, "POST", path, NULL, len, 0); /* no POSTFIELDS: read below */
    api->easy_setopt(c, CURLOPT_READFUNCTION, patch_read);
    api->easy_setopt(c, CURLOPT_READDATA, &pb);
    api->easy_setopt(c, CURLOPT_SEEKFUNCTION, patch_seek);
    api->easy_setopt(c, CURLOPT_SEEKDATA, &pb);
    for (struct curl_slist *l = h->headers; l; l = l->next)
        h->extra = api->slist_append(h->extra, l->data);
    snprintf(hdr, sizeof hdr, "Upload-Offset: %lld", offset);
    h->extra = api->slist_append(h->extra, hdr);
    api->easy_setopt(c, CURLOPT_HTTPHEADER, h->extra);
    api->easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
    CURLcode cc = api->easy_perform(c);
    api->easy_setopt(c, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    /* Nothing of pb may be reached after this call returns. */
    api->easy_setopt(c, CURLOPT_READFUNCTION, (curl_read_callback)NULL);
    api->easy_setopt(c, CURLOPT_READDATA, (void *)NULL);
    api->easy_setopt(c, CURLOPT_SEEKFUNCTION, (curl_seek_callback)NULL);
    api->easy_setopt(c, CURLOPT_SEEKDATA, (void *)NULL);
    return finish(ag, h, cc);
}

int fa__http_multi_init(fa_agent *ag, fa__http_multi *m,
                        const fa__curl_api *api)
{
    m->api = api;
    m->m = api->multi_init();
    if (!m->m)
        return fa__fail(ag, FA_ESTORE, "cannot start the HTTP client");
    return FA_OK;
}

void fa__http_multi_free(fa__http_multi *m)
{
    if (m && m->m)
        m->api->multi_cleanup(m->m);
}

void fa__http_start(fa__http_multi *m, fa__http *h, const char *method,
                    const char *path, const void *body, size_t len, int gzipped)
{
    assert(!h->busy);
    setup(h, method, path, body, len, gzipped);
    h->api->easy_setopt(h->curl, CURLOPT_PRIVATE, (void *)h);
    CURLMcode mc = m->api->multi_add_handle(m->m, h->curl);
    /* Only a misuse of the interface fails here; it is then a request
     * that ended at once, and fa__http_wait says so. */
    h->cc = mc == CURLM_OK ? CURLE_OK : CURLE_FAILED_INIT;
    h->busy = mc == CURLM_OK;
}

/* Marks the requests of m that have ended as such. */
static void collect(fa__http_multi *m)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = m->api->multi_info_read(m->m, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        m->api->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        fa__http *done = (fa__http *)(void *)priv;
        CURLcode cc = msg->data.result; /* msg is gone after the removal */
        m->api->multi_remove_handle(m->m, msg->easy_handle);
        if (done) {
            done->cc = cc;
            done->busy = 0;
        }
    }
}

int fa__http_wait(fa_agent *ag, fa__http_multi *m, fa__http *h)
{
    while (h->busy) {
        int running = 0;
        CURLMcode mc = m->api->multi_perform(m->m, &running);
        if (mc == CURLM_OK)
            collect(m);
        if (!h->busy)
            break;
        if (mc == CURLM_OK)
            mc = m->api->multi_poll(m->m, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK) {
            /* The client itself broke (out of memory): end h's request
             * as one that got no answer. */
            m->api->multi_remove_handle(m->m, h->curl);
            h->busy = 0;
            h->cc = CURLE_OUT_OF_MEMORY;
            snprintf(h->curl_err, sizeof h->curl_err, "%s",
                     m->api->multi_strerror(mc));
        }
    }
    return finish(ag, h, h->cc);
}

long fa__http_os_errno(fa__http *h)
{
    long err = 0;
    if (h->api && h->curl)
        h->api->easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &err);
    return err;
}

void fa__http_error_message(fa__http *h, char *out, size_t cap)
{
    /* Whatever answered may not be a fieldsync hub: its reply is read
     * under the wire limits, and anything else gets the generic text. */
    fs_limits lim;
    fs_limits_default(&lim);
    cJSON *j = NULL;
    fs_json_parse((const char *)h->reply.data, h->reply.len, &lim, &j, NULL);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsString(m))
        snprintf(out, cap, "%s (%s)", m->valuestring,
                 cJSON_IsString(e) ? e->valuestring : "error");
    else
        snprintf(out, cap,
                 "HTTP status %ld from a server that did not "
                 "answer like a fieldsync hub",
                 h->status);
    cJSON_Delete(j);
}

int fa__http_fail(fa_agent *ag, fa__http *h, int code, const char *what)
{
    char msg[FA_MSG_MAX];
    fa__http_error_message(h, msg, sizeof msg);
    return fa__fail(ag, code, "%s: %s", what, msg);
}
