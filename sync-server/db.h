/*
 * db.h - the hub's database connections: opening the file (created and
 * migrated), closing it, and write transactions under the hub's write
 * lock. Request workers open theirs in server.c; the admin commands and
 * the hub's helper threads use hub__open.
 */
#ifndef HUB_DB_H
#define HUB_DB_H

#include <pthread.h>

#include <sqlite3.h>

/* Opens the hub database at path, creating and migrating it; the caller
 * closes it with hub__close. NULL after printing the reason to stderr. */
sqlite3 *hub__open(const char *path);

/* Finalizes this thread's cached statements of db, then closes it (NULL
 * is fine). */
void hub__close(sqlite3 *db);

/* Runs sql; on failure prints it with context. 0 or -1. */
int hub__exec(sqlite3 *db, const char *sql);

/* BEGIN IMMEDIATE, holding lock (may be NULL) until hub__tx_end. HUB_OK,
 * or a HUB_E* code with the lock released. */
int hub__tx_begin(sqlite3 *db, pthread_mutex_t *lock);
/* Commits when err is HUB_OK, else rolls back; releases lock. Returns err,
 * or the commit's error. */
int hub__tx_end(sqlite3 *db, pthread_mutex_t *lock, int err);

#endif
