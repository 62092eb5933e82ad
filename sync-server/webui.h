/*
 * webui.h - the admin page: HTML, CSS and JavaScript built into the
 * binary and served at "/" and "/ui/...".
 */
#ifndef HUB_WEBUI_H
#define HUB_WEBUI_H

#include <civetweb.h>

/* Serves the admin page's file at the request's path: returns the HTTP
 * status sent, or 0 (nothing sent) when no file has that path. */
int hub__web_serve(struct mg_connection *conn);

#endif
