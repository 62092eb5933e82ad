#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curlapi.h"

/* The soname of the libcurl whose headers the agent is built with
 * (Debian: libcurl4, the OpenSSL flavour). */
#define CURL_SONAME "libcurl.so.4"

static fa__curl_api api;
static const fa__curl_api *loaded;
static char load_err[512];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

_Static_assert(sizeof(void *) == sizeof api.easy_init,
               "function pointers are the size of dlsym's answer");

/* dlsym into a typed function pointer *fn: copied, as POSIX allows for
 * function addresses. A missing name fails the load rather than leaving
 * a NULL to be called later. */
static int get(void *lib, const char *name, void *fn)
{
    void *p = dlsym(lib, name);
    if (!p) {
        snprintf(load_err, sizeof load_err,
                 "%s has no %s; install libcurl %s or newer", CURL_SONAME, name,
                 LIBCURL_VERSION);
        return -1;
    }
    memcpy(fn, &p, sizeof p);
    return 0;
}

static void load(void)
{
    /* Debian's libcurl speaks TLS with OpenSSL; GnuTLS comes along only
     * for RTMP and LDAP, protocols the agent switches off
     * (CURLOPT_PROTOCOLS_STR). Loaded, GnuTLS initialises itself (its
     * system priorities, ASN.1 trees: ~0.7 MB of a sync's RSS)
     * unless this variable is set, and is then unusable until
     * gnutls_global_init, which nothing here calls. Set for the load
     * only, so that no program the agent might start inherits it. */
    const char *gnutls_env = "GNUTLS_NO_IMPLICIT_INIT";
    int set_env = getenv(gnutls_env) == NULL;
    if (set_env)
        setenv(gnutls_env, "1", 1);
    /* RTLD_LOCAL: libcurl's dependencies stay out of the global scope,
     * so they cannot interpose on anything the agent already uses. */
    void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (set_env)
        unsetenv(gnutls_env);
    if (!lib) {
        snprintf(load_err, sizeof load_err,
                 "cannot load %s, which the agent needs to reach a hub "
                 "(%s); install Debian's libcurl4 package",
                 CURL_SONAME, dlerror());
        return;
    }
    __typeof__(curl_version_info) *version_info = NULL;
    __typeof__(curl_global_init) *global_init = NULL;
    if (get(lib, "curl_version_info", &version_info) != 0 ||
        get(lib, "curl_global_init", &global_init) != 0)
        return;
    /* The options the agent sets (CURLOPT_PROTOCOLS_STR ...) are as new
     * as the headers it was built with; an older library ignores them. */
    const curl_version_info_data *v = version_info(CURLVERSION_NOW);
    if (v->version_num < LIBCURL_VERSION_NUM) {
        snprintf(load_err, sizeof load_err,
                 "%s is libcurl %s; the agent needs %s or newer", CURL_SONAME,
                 v->version, LIBCURL_VERSION);
        return;
    }
    if (get(lib, "curl_easy_init", &api.easy_init) != 0 ||
        get(lib, "curl_easy_setopt", &api.easy_setopt) != 0 ||
        get(lib, "curl_easy_perform", &api.easy_perform) != 0 ||
        get(lib, "curl_easy_getinfo", &api.easy_getinfo) != 0 ||
        get(lib, "curl_easy_cleanup", &api.easy_cleanup) != 0 ||
        get(lib, "curl_easy_strerror", &api.easy_strerror) != 0 ||
        get(lib, "curl_slist_append", &api.slist_append) != 0 ||
        get(lib, "curl_slist_free_all", &api.slist_free_all) != 0 ||
        get(lib, "curl_multi_init", &api.multi_init) != 0 ||
        get(lib, "curl_multi_add_handle", &api.multi_add_handle) != 0 ||
        get(lib, "curl_multi_remove_handle", &api.multi_remove_handle) != 0 ||
        get(lib, "curl_multi_perform", &api.multi_perform) != 0 ||
        get(lib, "curl_multi_poll", &api.multi_poll) != 0 ||
        get(lib, "curl_multi_info_read", &api.multi_info_read) != 0 ||
        get(lib, "curl_multi_cleanup", &api.multi_cleanup) != 0 ||
        get(lib, "curl_multi_strerror", &api.multi_strerror) != 0)
        return;
    /* Never undone with curl_global_cleanup: the library stays loaded
     * for the life of the process, and the form app's sync thread may
     * start a handle at any time. */
    CURLcode cc = global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK) {
        snprintf(load_err, sizeof load_err, "%s did not start: %s", CURL_SONAME,
                 api.easy_strerror(cc));
        return;
    }
    loaded = &api;
}

const fa__curl_api *fa__curl_load(char *err, size_t cap)
{
    pthread_once(&load_once, load);
    if (!loaded && cap > 0)
        snprintf(err, cap, "%s", load_err);
    return loaded;
}
