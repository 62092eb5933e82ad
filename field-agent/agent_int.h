/*
 * agent_int.h - the agent object (struct fa_agent: its directory, its
 * database connection, the limits on what a hub sends, its last message)
 * and the sizes the modules share. Every internal header starts here;
 * store.h has the functions on the object.
 */
#ifndef FA_AGENT_INT_H
#define FA_AGENT_INT_H

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

/* Made by fa_open, freed by fa_close; one thread at a time. */
struct fa_agent {
    char *dir;         /* owned */
    sqlite3 *db;       /* owned */
    fs_limits limits;  /* for what a hub or a caller sends */
    char err[16384];   /* the last message; room for every problem of a
                         submission */
    int sealed_commit; /* the open transaction stores sealed answers: its
                          commit clears the write-ahead log (seal.h) */
    struct fa__mem_draft *mem_drafts; /* drafts kept in memory only
                                         (drafts.c); owned */
};

#endif
