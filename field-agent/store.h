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

/* The meta table: text and integer settings. get copies the value into
 * out (at most cap bytes; "" when absent) or *out (def when absent or
 * not a number) and returns FA_OK, or FA_ESTORE. */
int fa__meta_get(fa_agent *ag, const char *key, char *out, size_t cap);
int fa__meta_get_int(fa_agent *ag, const char *key, int64_t def, int64_t *out);
int fa__meta_set(fa_agent *ag, const char *key, const char *value);
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
