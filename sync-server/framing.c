/*
 * framing.c - refusing ambiguous request framing (framing.h). A request
 * that a terminator in front of the hub and the hub itself could split
 * differently lets bytes after it be read as a second request that the
 * terminator never saw: it is refused and its connection closed, so no
 * byte after it is ever parsed.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>

#include "framing.h"
#include "http.h"

static int all_digits(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* 1 when s holds "%00", an encoded NUL byte. */
static int has_encoded_nul(const char *s)
{
    for (; s && *s; s++)
        if (s[0] == '%' && s[1] == '0' && s[2] == '0')
            return 1;
    return 0;
}

static const char *fault(const struct mg_request_info *ri)
{
    int n_len = 0, n_te = 0, bad_len = 0, bad_te = 0;
    for (int i = 0; i < ri->num_headers; i++) {
        const char *name = ri->http_headers[i].name;
        const char *value = ri->http_headers[i].value;
        if (strcasecmp(name, "Content-Length") == 0) {
            n_len++;
            bad_len |= !all_digits(value);
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            n_te++;
            bad_te |= !value || strcasecmp(value, "chunked") != 0;
        }
    }
    if (n_len && n_te)
        return "a request may not carry both Content-Length and "
               "Transfer-Encoding (RFC 9112 6.1); send the body with "
               "Content-Length only";
    if (n_len > 1)
        return "a request may carry only one Content-Length header";
    if (bad_len)
        return "Content-Length must be one decimal number";
    if (n_te > 1 || bad_te)
        return "Transfer-Encoding other than a single chunked is not "
               "understood";
    if (has_encoded_nul(ri->request_uri) || has_encoded_nul(ri->local_uri_raw))
        return "a request target may not contain %00";
    return NULL;
}

void hub__close_after(struct mg_connection *conn)
{
    /* CivetWeb keeps a connection open unless the request asked for
     * "Connection: close"; CivetWeb offers no other way to end it after
     * this answer, so the request is made to ask. The headers live in
     * the connection's own (writable) buffer until the next request. */
    struct mg_request_info *w =
        (struct mg_request_info *)mg_get_request_info(conn);
    if (!w)
        return;
    w->http_headers[0].name = "Connection";
    w->http_headers[0].value = "close";
    if (w->num_headers == 0)
        w->num_headers = 1;
}

int hub__check_framing(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *why = ri ? fault(ri) : NULL;
    if (!why)
        return 0;
    hub__close_after(conn);
    hub__reply_error(conn, 400, "bad_framing", "%s", why);
    return 400;
}
