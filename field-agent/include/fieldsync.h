/*
 * fieldsync.h - the embeddable fieldsync field agent (libfieldsync-agent).
 *
 * The one public header of the agent library: an app (an Android app
 * through JNI, an iOS app, a kiosk program) links libfieldsync-agent.so.0
 * and records submissions into a local SQLite store with a transactional
 * outbox, then sends them to a fieldsync hub and pulls what the hub has for
 * the device (forms, review states). Build flags: `pkg-config --cflags
 * --libs fieldsync-agent`.
 *
 * Stability. Only what this header declares is exported (a version script
 * hides everything else, tagged FIELDSYNC_AGENT_0). Within soname
 * libfieldsync-agent.so.0 functions keep their signatures and meaning, error
 * codes keep their values, and the two structs below keep their size and
 * layout; a change to any of these takes a new soname.
 *
 * Errors. Every int function returns FA_OK (0) or a negative FA_E* code.
 * After a failure on a handle, fa_last_error(handle) says what happened and
 * what to do, in words fit to show the user.
 *
 * Ownership. fa_open hands out a handle the caller closes with fa_close.
 * Every char * the library returns through an out-parameter is the
 * caller's, freed with fa_free (never with another allocator's free: the
 * library and the app may use different C runtimes). Every const char *
 * the library returns is borrowed: how long it lives is said at the
 * function. Pointers the caller passes in are only read during the call;
 * the library keeps no copy of them after it returns, except where said.
 *
 * Threads. A handle (fa_agent) is used by one thread at a time; the library
 * takes no lock on it. Use one handle per thread, or serialise calls on a
 * shared handle with a lock of your own. Handles on the same directory
 * may be open at once, in one process or several: SQLite's locks
 * serialise their writes (a handle waits up to 30 s for another's
 * transaction). Run one fa_sync per directory at a time: the library does
 * not check that for you.
 *
 * Process-wide state. The library has no global variables that one handle
 * can change and another see. What it does once per process, on the first
 * call that reaches a hub (fa_enroll, fa_sync): it loads libcurl
 * (libcurl.so.4) and calls curl_global_init, guarded by pthread_once, and
 * never calls curl_global_cleanup. An app that also uses libcurl should
 * call curl_global_init itself before it starts threads and must not call
 * curl_global_cleanup while a fieldsync handle is open. The library uses
 * the process's libcjson with the allocator it was given: an app that
 * calls cJSON_InitHooks must do it before the first fa_ call and never
 * again. The library installs no signal handlers and tells libcurl to
 * use none (CURLOPT_NOSIGNAL): an app that syncs with an https hub should
 * ignore SIGPIPE, as the fieldsync-agent command's form app does, since a
 * TLS write to a connection the hub closed may raise it.
 */
#ifndef FIELDSYNC_H
#define FIELDSYNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FA_API __attribute__((visibility("default")))
#else
#define FA_API
#endif

/* The library's version as "MAJOR.MINOR.PATCH", static storage. */
FA_API const char *fa_version(void);

enum {
    FA_OK = 0,
    FA_EINPUT = -1,       /* the user's input is wrong (answers, options) */
    FA_ESTORE = -2,       /* the local database failed (disk full...) */
    FA_EUNREACHABLE = -3, /* hub not reachable: data kept, try later */
    FA_EREFUSED = -4,     /* hub refused: token, protocol or request */
    FA_ENOTENROLLED = -5, /* no hub and token yet: run enroll */
    FA_EPARTIAL = -6,     /* sync ended early; what was acknowledged is
                             kept, the rest stays queued */
};

/* An open agent directory: its database, device id and token. Opaque. */
typedef struct fa_agent fa_agent;

/* Opens (creating with mode 0700 when missing) the agent directory dir and
 * its database, migrating an older one. On success *out is the caller's,
 * closed with fa_close. On failure *out is NULL and err (errlen bytes,
 * may be NULL when errlen is 0) holds the reason. */
FA_API int fa_open(const char *dir, fa_agent **out, char *err, size_t errlen);
/* Closes the handle and frees it. NULL is allowed. */
FA_API void fa_close(fa_agent *ag);

/* The last error message of ag, "" when none. Borrowed: valid until the
 * next call on ag or its fa_close. */
FA_API const char *fa_last_error(const fa_agent *ag);

/* Frees a string the library returned (fa_status_json). NULL is
 * allowed. */
FA_API void fa_free(void *p);

/* Trades a one-time enrolment code (made on the hub with `fieldsync-hub
 * enroll-code`) for a device id and token, kept in the directory. name
 * and collector may be NULL. ca_file (may be NULL) is a PEM file of CAs to
 * trust for an https hub; its path is kept for every later sync. A plain
 * http:// hub is refused (FA_EINPUT) unless it is on this machine
 * (localhost, 127.0.0.0/8, ::1) or insecure_http is 1: the token and
 * every answer would cross the network readable by anyone on it. */
FA_API int fa_enroll(fa_agent *ag, const char *hub_url, const char *code,
                     const char *name, const char *collector,
                     const char *ca_file, int insecure_http);

/* Records a finalized submission of form_id (version 0: the newest one on
 * the device; forms arrive with fa_sync) with answers_json, a JSON object
 * {field name: value}, in area (may be NULL when the form needs none).
 * The submission and its outbox row commit in one transaction. id_out
 * (37 bytes, may be NULL) receives the new submission's id. Wrong answers
 * give FA_EINPUT with every problem in the last error, one per line. */
FA_API int fa_record(fa_agent *ag, const char *form_id, int64_t version,
                     const char *area, const char *answers_json, char *id_out);

typedef struct fa_sync_options {
    int max_attempts;      /* per request, for transient failures; 5 */
    size_t batch_count;    /* changes per changeset; 200 */
    size_t batch_bytes;    /* JSON bytes per changeset before gzip; 128 KiB */
    int in_flight;         /* changesets pushed at once: 2, or 1 */
    const char *trace_dir; /* when set, each push body is saved here */
    /* When set, called after each acknowledged changeset ("sending",
     * changes done of total), once after the last push of a stretch that
     * sent some ("sent", the same figures), and after each page pulled
     * but the last ("receiving", changes so far, total 0), from the
     * thread that runs fa_sync. phase is a static string. The callback
     * must not call into the same handle. */
    void (*on_progress)(void *arg, const char *phase, long long done,
                        long long total);
    void *progress_arg;
} fa_sync_options;

typedef struct fa_sync_report {
    long long sent; /* changes acknowledged by the hub this sync */
    long long applied, duplicate, divergent, refused;
    long long pulled; /* hub changes applied (forms...) */
    long long purged; /* records deleted: outside the device's scope */
    long long queued; /* changes still waiting after the sync */
    int realigned;    /* times the sequence was realigned */
} fa_sync_report;

/* Fills *o with the defaults named above. */
FA_API void fa_sync_options_default(fa_sync_options *o);
/* Sends the outbox to the hub and pulls the device's changes. opt (not
 * NULL) comes from fa_sync_options_default, changed as needed; rep (not
 * NULL) is zeroed and then counted up as the sync goes, so after a failure
 * such as FA_EPARTIAL it still says what the hub acknowledged. Blocks
 * until done: run it off the UI thread. */
FA_API int fa_sync(fa_agent *ag, const fa_sync_options *opt,
                   fa_sync_report *rep);

/* The device's status as a JSON object (what `fieldsync-agent status
 * --json` prints: hub, device_id, enrolled, submissions, pending,
 * refused, forms, last_sync_outcome...). *out is the caller's, freed with
 * fa_free. */
FA_API int fa_status_json(fa_agent *ag, char **out);

#ifdef __cplusplus
}
#endif

#endif
