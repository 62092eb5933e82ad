/*
 * store.h - the agent's local database (store.c): the agent's message,
 * settings kept in the meta table, and transactions. Every write the
 * user makes commits together with its outbox row (outbox.h).
 */
#ifndef FA_STORE_H
#define FA_STORE_H

#include "agent_int.h"

/* Sets the agent's message (fa_last_error) and returns code. */
int fa__fail(fa_agent *ag, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepares sql and binds its parameters in order from the arguments, one
 * a character of types: 't' text (const char *, borrowed until the
 * statement is finalized; NULL binds NULL), 'i' an int64_t. *st is the
 * caller's (sqlite3_finalize) on success. On failure FA_ESTORE, with the
 * message for doing what set unless what is NULL. */
int fa__prepare(fa_agent *ag, sqlite3_stmt **st, const char *what,
                const char *sql, const char *types, ...);
/* Runs sql, a statement that returns no rows, bound as fa__prepare
 * binds: FA_OK, or FA_ESTORE with the message for doing what. */
int fa__exec(fa_agent *ag, const char *what, const char *sql, const char *types,
             ...);
/* Column i of st's current row as text, "" for NULL; borrowed until the
 * next step or finalize. */
const char *fa__col_text(sqlite3_stmt *st, int i);

/* The current row of st as a new object (the caller's): column i under
 * names[i], as types[i] says: 't' text, 'n' a number, 'b' a bool, 'j'
 * JSON the agent stored. */
cJSON *fa__row_json(sqlite3_stmt *st, const char *types,
                    const char *const *names);

/* The meta table: text and integer settings. get copies the value into
 * out (at most cap bytes; "" when absent) or *out (def when absent or
 * not a number) and returns FA_OK, or FA_ESTORE. */
int fa__meta_get(fa_agent *ag, const char *key, char *out, size_t cap);
int fa__meta_get_int(fa_agent *ag, const char *key, int64_t def, int64_t *out);
int fa__meta_set(fa_agent *ag, const char *key, const char *value);
/* Several settings at once, in order, until one fails: each a text
 * (text, cap) or else an integer (num, 0 when absent). */
typedef struct fa__setting {
    const char *key;
    char *text;
    size_t cap;
    int64_t *num;
} fa__setting;
int fa__meta_get_all(fa_agent *ag, const fa__setting *s, size_t n);
int fa__meta_set_int(fa_agent *ag, const char *key, int64_t value);

/* BEGIN IMMEDIATE / COMMIT (rolled back when it fails) / ROLLBACK (when
 * a transaction is open), with the agent's message set on failure. */
int fa__begin(fa_agent *ag);
int fa__commit(fa_agent *ag);
void fa__rollback(fa_agent *ag);
/* Sets the message for a failed database call while doing what (a full
 * disk said as such) and returns FA_ESTORE. */
int fa__store_error(fa_agent *ag, const char *what);

#endif
