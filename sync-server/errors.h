/*
 * errors.h - the hub's one error convention, as libuv's and curl's: a
 * function returns HUB_OK (0) or a negative HUB_E* code, and puts its
 * results out through pointers; a sentence for people, when there is
 * one, goes into the caller's err buffer. hub__strerror gives the words
 * of a code.
 *
 * A code becomes something else only at the edges, each through one
 * function: an HTTP status (hub__http_status, http.h) for the API, an
 * exit status (hub__exit_status, cli.h) for the admin commands. SQLite's
 * result codes stop at the function that ran the statement
 * (hub__sqlite_err).
 */
#ifndef HUB_ERRORS_H
#define HUB_ERRORS_H

#include <stddef.h>

typedef enum hub_err {
    HUB_OK = 0,
    HUB_EBADINPUT = -1,  /* the request or command is wrong; nothing
                            changed (400, exit 2) */
    HUB_ENOTFOUND = -2,  /* what it names is not there, or not within the
                            caller's areas (404, exit 2) */
    HUB_EFORBIDDEN = -3, /* not for this role (403, exit 2) */
    HUB_ECONFLICT = -4,  /* the hub's state says no: a push out of
                            sequence (409, exit 2) */
    HUB_ESTORAGE = -5,   /* the database failed (503, exit 1) */
    HUB_EFULL = -6,      /* the disk is full (507, exit 1) */
    HUB_ENOMEM = -7,     /* out of memory (503, exit 1) */
    HUB_EQUOTA = -8,     /* a device's held changes would pass their
                            quota; nothing of its push stored (403) */
} hub_err;

/* A short sentence for err ("the database failed"); never NULL. */
const char *hub__strerror(int err);

/* The hub code of a SQLite result: HUB_OK for SQLITE_OK, SQLITE_ROW and
 * SQLITE_DONE, HUB_EFULL, HUB_ENOMEM, else HUB_ESTORAGE. A failure is
 * remembered for this thread (hub__storage_detail). */
int hub__sqlite_err(int rc);
/* SQLite's words for a storage failure err of this thread ("disk I/O
 * error"): the last one hub__sqlite_err converted; static text. */
const char *hub__storage_detail(int err);

/* Formats a message for people into err; returns HUB_EBADINPUT. */
int hub__errf(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
