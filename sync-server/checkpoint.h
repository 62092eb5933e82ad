/*
 * checkpoint.h - WAL checkpoints off the writers' path: commits only note
 * the WAL's size; a thread of its own copies the WAL into the database.
 */
#ifndef HUB_CHECKPOINT_H
#define HUB_CHECKPOINT_H

#include <sqlite3.h>

typedef struct hub_checkpointer hub_checkpointer;

/* Starts the checkpoint thread on its own connection to db_path; NULL
 * when it cannot (the hub then keeps SQLite's default checkpoints). The
 * caller owns the result and stops it with hub__checkpointer_stop. */
hub_checkpointer *hub__checkpointer_start(const char *db_path);
/* Makes db's commits hand their checkpoints to c (a worker connection,
 * borrowed; c may be NULL). */
void hub__checkpointer_attach(hub_checkpointer *c, sqlite3 *db);
/* Stops and joins the thread, after the last writer has finished; frees
 * c (NULL is fine). */
void hub__checkpointer_stop(hub_checkpointer *c);

#endif
