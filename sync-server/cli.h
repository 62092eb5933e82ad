/*
 * cli.h - what the admin commands (hub.h) share: the one mapping from a
 * hub error code to an exit status, a command's write transaction, and
 * reading an admin's file.
 */
#ifndef HUB_CLI_H
#define HUB_CLI_H

#include <stddef.h>

#include <sqlite3.h>

/* The exit status of a command that ended with err (errors.h): 0; 2 for
 * what the admin can fix (bad input, nothing found, not allowed,
 * nothing changed); 1 when the hub failed (storage, memory). */
int hub__exit_status(int err);

/* Opens the hub database at db_path and begins a write transaction; the
 * db (end it with hub__cli_end), or NULL after printing why. */
sqlite3 *hub__cli_begin(const char *db_path);
/* Ends an admin command's transaction: commits when err is HUB_OK, else
 * prints "what: msg" (msg empty: the database's message) and rolls back;
 * closes db. Returns hub__exit_status of the outcome. */
int hub__cli_end(sqlite3 *db, int err, const char *what, const char *msg);

/* Reads a whole file of at most max bytes, NUL-terminated (caller
 * frees); NULL after printing why. */
char *hub__read_file(const char *path, size_t max, size_t *len);

#endif
