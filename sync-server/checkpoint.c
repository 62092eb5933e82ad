/*
 * checkpoint.c - WAL checkpoints off the writers' path.
 *
 * SQLite's default checkpoints from inside the COMMIT that takes the WAL
 * past 1,000 pages: that commit copies ~4 MB into the database file and
 * waits for its fsync while holding the hub's write lock, and every push
 * queued behind it waits too. The hub's worker connections instead only
 * note the WAL's size after each commit (a WAL hook); a thread of its own,
 * on its own connection, runs the PASSIVE checkpoint while the next
 * group of pushes is merged. A passive checkpoint never blocks a writer or
 * a reader, and the durability of each commit is unchanged: a commit is
 * durable once its WAL frames are synced, checkpointed or not.
 *
 * A WAL is rewound from its start only by a writer that finds every frame
 * already copied; under a steady stream of pushes that moment may not
 * come, and the WAL would keep growing. So past a hard limit the commit
 * that crosses it checkpoints itself, as SQLite would: by then the thread
 * has copied nearly everything, so this costs little, and the next
 * writer starts the WAL over.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "db.h"

/* SQLite's own default threshold, in pages. FIELDSYNC_CHECKPOINT_PAGES
 * sets another: the power-cut tests (tests/RELIABILITY.md) checkpoint
 * every few pushes instead of every few megabytes. */
#define SOFT_PAGES 1000
/* Beyond this many times the threshold the committing connection
 * checkpoints itself. */
#define HARD_FACTOR 16

struct hub_checkpointer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    sqlite3 *db;
    int wanted, stop, started;
    int soft_pages; /* set before any hook runs, then only read */
};

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    hub_checkpointer *c = arg;
    if (pages >= c->soft_pages * HARD_FACTOR) {
        /* SQLITE_BUSY when the thread is at it right now: fine, the
         * next commit tries again. */
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                  NULL);
    } else if (pages >= c->soft_pages) {
        pthread_mutex_lock(&c->lock);
        c->wanted = 1;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
    }
    return SQLITE_OK;
}

static void *run(void *arg)
{
    hub_checkpointer *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        if (!c->wanted) {
            pthread_cond_wait(&c->cond, &c->lock);
            continue;
        }
        c->wanted = 0;
        pthread_mutex_unlock(&c->lock);
        int rc = sqlite3_wal_checkpoint_v2(
            c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            fprintf(stderr, "fieldsync-hub: checkpoint: %s\n",
                    sqlite3_errmsg(c->db));
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

hub_checkpointer *hub__checkpointer_start(const char *db_path)
{
    hub_checkpointer *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    const char *env = getenv("FIELDSYNC_CHECKPOINT_PAGES");
    long pages = env ? strtol(env, NULL, 10) : 0;
    c->soft_pages = pages > 0 && pages <= SOFT_PAGES ? (int)pages : SOFT_PAGES;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->db = hub__open(db_path);
    if (c->db && pthread_create(&c->thread, NULL, run, c) == 0) {
        c->started = 1;
        return c;
    }
    hub__checkpointer_stop(c);
    return NULL;
}

void hub__checkpointer_attach(hub_checkpointer *c, sqlite3 *db)
{
    if (c && db)
        sqlite3_wal_hook(db, wal_hook, c);
}

void hub__checkpointer_stop(hub_checkpointer *c)
{
    if (!c)
        return;
    if (c->started) {
        pthread_mutex_lock(&c->lock);
        c->stop = 1;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
    }
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
