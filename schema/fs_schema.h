/*
 * fs_schema.h - the agent and hub database schemas and their migrations.
 *
 * Each schema is a list of SQL steps; step i takes a database from
 * user_version i to i+1. The steps are the .sql files of this folder,
 * embedded in the binaries at build time.
 */
#ifndef FS_SCHEMA_H
#define FS_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

typedef struct fs_schema {
    const char *name;         /* "agent" or "hub", for messages */
    const char *const *steps; /* steps[i]: version i -> i + 1 */
    int nsteps;               /* the version this code writes */
} fs_schema;

extern const fs_schema fs_schema_agent;
extern const fs_schema fs_schema_hub;

/* Opens (creating when allowed) the database at path with the settings
 * every fieldsync database uses: WAL, synchronous=FULL (a commit that
 * returned survives a power cut), foreign keys, a busy timeout; then
 * brings it to the schema's version. A database newer than this code is
 * refused rather than guessed at. On failure err holds a sentence for the
 * user and *out is NULL. */
int fs_db_open(const char *path, const fs_schema *schema, int create,
               sqlite3 **out, char *err, size_t errlen);

/* Makes the name of the file or directory at path durable: fsyncs the
 * directory that holds it. A new or renamed file survives a power cut
 * only once its directory was synced (POSIX); SQLite does this for its
 * journals but not for a database it creates. Returns 0 or -1 (errno
 * set). */
int fs_sync_parent_dir(const char *path);

/* Runs the migrations of schema on db, each in its own transaction. */
int fs_schema_migrate(sqlite3 *db, const fs_schema *schema, char *err,
                      size_t errlen);

/* The registry's entity types (schema/entities.json, described in
 * schema/ENTITIES.md), NUL-terminated JSON for fs_entity_types_parse. */
extern const char fs_entity_types_json[];

#endif
