/*
 * db.h - opening the hub's database file, for the admin commands and the
 * hub's own helper threads (request workers open theirs in server.c).
 */
#ifndef HUB_DB_H
#define HUB_DB_H

#include <sqlite3.h>

/* Opens the hub database at path, creating and migrating it (caller
 * closes); NULL after printing the reason to stderr. */
sqlite3 *hub__open(const char *path);

/* Runs sql; on failure prints it with context. 0 or -1. */
int hub__exec(sqlite3 *db, const char *sql);

#endif
