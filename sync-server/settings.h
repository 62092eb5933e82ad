/*
 * settings.h - what an admin chooses for the whole hub (the settings
 * table, schema/hub-6.sql): today the smallest cell any indicator,
 * change or map may show. A request can ask for more protection, never
 * less; a setting that cannot be read refuses the request instead of
 * falling back to a weaker value.
 */
#ifndef HUB_SETTINGS_H
#define HUB_SETTINGS_H

#include <stddef.h>
#include <stdio.h>

#include <sqlite3.h>

#define HUB_MIN_K_DEFAULT 5
#define HUB_MIN_K_LOWEST 2 /* 1 would show every single respondent */
#define HUB_K_MAX 1000

/* The configured minimum k into *out: HUB_OK or a HUB_E* code (and
 * then *out is HUB_K_MAX, the safest value). */
int hub__min_k(sqlite3 *db, int *out);
/* Sets the minimum k inside the caller's transaction and audits it
 * under actor. HUB_EBADINPUT with a sentence in err when text is not an
 * integer from HUB_MIN_K_LOWEST to HUB_K_MAX. */
int hub__min_k_set(sqlite3 *db, const char *text, const char *actor, char *err,
                   size_t cap);

/* `fieldsync-hub config set NAME VALUE` and `config show`. */
int hub_config_set(const char *db_path, const char *name, const char *value,
                   FILE *out);
int hub_config_show(const char *db_path, int json, FILE *out);

#endif
