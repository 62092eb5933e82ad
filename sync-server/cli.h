/*
 * cli.h - what the admin commands (hub.h) share: reading an admin's file
 * and ending a command's write transaction with its exit status.
 */
#ifndef HUB_CLI_H
#define HUB_CLI_H

#include <stddef.h>

#include <sqlite3.h>

/* Ends an admin command's transaction: commits when rc is SQLITE_OK,
 * else rolls back and prints "what: err" (err, when empty, the SQLite
 * message); closes db. Returns the exit status: 0, 2 for bad input
 * (SQLITE_MISUSE, SQLITE_NOTFOUND), 1 for storage errors. */
int hub__cli_end(sqlite3 *db, int rc, const char *what, const char *err);

/* Reads a whole file of at most max bytes, NUL-terminated (caller
 * frees); NULL after printing why. */
char *hub__read_file(const char *path, size_t max, size_t *len);

#endif
