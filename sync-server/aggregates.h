/*
 * aggregates.h - the aggregates of the mapping dataset (schema/hub-10.sql):
 * counting everything again, and checking what triggers keep against a
 * count from scratch.
 */
#ifndef HUB_AGGREGATES_H
#define HUB_AGGREGATES_H

#include <stdio.h>

#include <sqlite3.h>

/* Counts every cell again from the view mapping_submissions, inside the
 * caller's write transaction. HUB_OK or a storage error. */
int hub__agg_rebuild(sqlite3 *db);

/* Compares the stored cells and memberships with a count from scratch
 * and writes one line per difference to out (NULL: none written).
 * Returns the number of differences (0: exact), or a storage error. */
long hub__agg_verify(sqlite3 *db, FILE *out);

/* fieldsync-hub aggregates rebuild|verify: exit status. */
int hub_aggregates(const char *db_path, const char *sub, FILE *out);

/* fieldsync-hub aggregates by --form FORM FIELDS: the form's by fields
 * (schema/hub-12.sql) become FIELDS (comma-separated select_one fields,
 * never personal, sensitive or sealed), or every such field for "*";
 * everything is counted again. Exit status. */
int hub_aggregates_by(const char *db_path, const char *form, const char *fields,
                      FILE *out);

#endif
