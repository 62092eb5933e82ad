/*
 * backup.h - backups of the hub's database (backup.c).
 *
 * Return 0 on success, or an exit status after printing what went wrong
 * and what to do to stderr: 2 for wrong input (nothing was changed), 1 for
 * a storage problem.
 */
#ifndef HUB_BACKUP_H
#define HUB_BACKUP_H

#include <stdio.h>

/* Writes a consistent copy of the hub database db_path to out_path, also
 * while a hub serves it (SQLite's backup API; one read transaction, so
 * the hub's writes go on). The file is written under a temporary name
 * beside out_path with mode 0600, fsynced, renamed over out_path and its
 * directory fsynced. db_path must exist. */
int hub_backup(const char *db_path, const char *out_path, FILE *out);

/* Puts the backup backup_path at db_path, to be served: copies it under a
 * temporary name beside db_path (mode 0600), migrates it to this
 * version's schema, runs SQLite's integrity_check, and only when that
 * says ok renames it to db_path (fsynced, and its directory). Refuses an
 * existing db_path unless force is set; with force, the hub serving
 * db_path must have been stopped (db_path's -wal and -shm are removed). */
int hub_restore(const char *backup_path, const char *db_path, int force,
                FILE *out);

#endif
