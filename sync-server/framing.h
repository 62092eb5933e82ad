/*
 * framing.h - refusing requests whose framing two HTTP parsers could read
 * differently, before anything reads their body.
 */
#ifndef HUB_FRAMING_H
#define HUB_FRAMING_H

struct mg_connection;

/* CivetWeb's begin_request callback: 0 lets the request through; for a
 * request with both Content-Length and Transfer-Encoding, more than one
 * Content-Length, a Content-Length that is not one decimal number, a
 * Transfer-Encoding other than chunked, or "%00" in its target, answers
 * 400 with a JSON error, closes the connection (RFC 9112 6.1, 6.3) and
 * returns 400. */
int hub__check_framing(struct mg_connection *conn);

/* Makes CivetWeb close conn after the answer to the current request
 * instead of reading what the client may still send of it. */
void hub__close_after(struct mg_connection *conn);

#endif
