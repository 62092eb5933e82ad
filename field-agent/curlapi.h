/*
 * curlapi.h - libcurl, loaded when a command first talks to a hub.
 *
 * Debian's libcurl brings 27 more shared libraries (OpenSSL's libssl,
 * GnuTLS, Kerberos, LDAP, SSH ...), all relocated when loaded: ~4.5 MB of
 * a process's RSS before it does anything, 2 MB more once OpenSSL starts
 * (bench/README.md). record, status, fill, entity and the other offline
 * commands never use the network, so the agent does not link libcurl;
 * the first HTTP client a command starts loads it here. Each pointer has
 * the type of the libcurl function it names, taken from curl/curl.h, so
 * calls through it are checked as direct calls are (except for the extra
 * checks of curl_easy_setopt's arguments that curl's headers add with
 * macros around the direct calls).
 */
#ifndef FA_CURLAPI_H
#define FA_CURLAPI_H

#include <curl/curl.h>

typedef struct fa__curl_api {
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
    /* The multi interface: two pushes in flight during a sync. */
    __typeof__(curl_multi_init) *multi_init;
    __typeof__(curl_multi_add_handle) *multi_add_handle;
    __typeof__(curl_multi_remove_handle) *multi_remove_handle;
    __typeof__(curl_multi_perform) *multi_perform;
    __typeof__(curl_multi_poll) *multi_poll;
    __typeof__(curl_multi_info_read) *multi_info_read;
    __typeof__(curl_multi_cleanup) *multi_cleanup;
    __typeof__(curl_multi_strerror) *multi_strerror;
} fa__curl_api;

/* Loads libcurl and runs its global start-up, once per process. It sets
 * an environment variable for the time of the load (curlapi.c says why),
 * so a program with threads calls it before starting them. Returns the
 * functions, or NULL with a message naming the library and the package
 * to install written to err (cap bytes). The library stays loaded until
 * the process exits. */
const fa__curl_api *fa__curl_load(char *err, size_t cap);

#endif
