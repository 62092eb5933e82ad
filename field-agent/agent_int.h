/*
 * agent_int.h - internals shared by the agent's modules.
 */
#ifndef AGENT_INT_H
#define AGENT_INT_H

#include <sqlite3.h>

#include "agent.h"
#include "fs_protocol.h"

/* Buffer sizes the modules share, so that what one writes another can
 * read back whole. */

/* The device's scope as meta keeps it: "*" or area codes (or form ids)
 * joined by commas (scope.c); a scope that does not fit is refused when
 * the hub sends it. */
#define FA_SCOPE_MAX 2048
/* A hub's error reply quoted in a message: its "message (error)"
 * (fa__http_error_message), cut to fit. */
#define FA_MSG_MAX 600
/* The hub's base URL, kept in meta at enrolment. */
#define FA_URL_MAX 512
/* A file path: the agent's database, the CA file kept in meta, traces. */
#define FA_PATH_MAX 4096

/* An answer shown as text (choice labels joined): far above any answer
 * a form allows, a cap only against runaway growth. */
#define FA_TEXT_MAX (16 * 1024 * 1024)

struct fa_agent {
    char *dir;
    sqlite3 *db;
    fs_limits limits;
    char err[16384]; /* room for every problem of a submission */
};

/* Sets the agent's message and returns code. */
int fa__fail(fa_agent *ag, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* meta table: text and integer settings. get returns FA_OK and copies
 * (or def when absent). */
int fa__meta_get(fa_agent *ag, const char *key, char *out, size_t cap);
int fa__meta_get_int(fa_agent *ag, const char *key, int64_t def, int64_t *out);
int fa__meta_set(fa_agent *ag, const char *key, const char *value);
int fa__meta_set_int(fa_agent *ag, const char *key, int64_t value);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK with the agent's error set. */
int fa__begin(fa_agent *ag);
int fa__commit(fa_agent *ag);
void fa__rollback(fa_agent *ag);
int fa__store_error(fa_agent *ag, const char *what);

#endif
