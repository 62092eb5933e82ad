/*
 * scope.h - who made a request, and the areas and forms it may touch.
 *
 * A scope is "*" or item codes joined by commas ("N-01,N-02"). Strings
 * passed in are borrowed for the call.
 */
#ifndef HUB_SCOPE_H
#define HUB_SCOPE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "fs_protocol.h"

/* Scopes (areas, forms) are '*' or codes joined by commas. */
#define HUB_SCOPE_MAX 2048

/* Who made a request: an enrolled device or a person's API token. */
enum { HUB_DEVICE = 1, HUB_API = 2 };

typedef struct hub_device {
    int kind; /* HUB_DEVICE or HUB_API */
    char id[FS_UUID_LEN + 1];
    char name[FS_NAME_MAX + 1];
    char role[32]; /* admin, reviewer, outreach, enumerator */
    char areas[HUB_SCOPE_MAX];
    char forms[HUB_SCOPE_MAX]; /* devices only; '*' for API tokens */
    int64_t acked_seq;         /* devices only */
    int64_t last_seen_ms;      /* devices only; 0 never */
} hub_device;

/* 1 when item is in scope ('*' or a comma list), else 0. */
int hub__scope_has(const char *scope, const char *item);
/* 1 when every item of inner is in outer: a device whose areas all lie
 * in an area-scoped admin token's areas. A device of every area ('*')
 * is within '*' only; an empty inner is within nothing. */
int hub__scope_within(const char *inner, const char *outer);
/* Normalises a user's list ("N-01, N-02" or "*") into out, checking each
 * item with valid(). Returns 0, or -1 with a message in err. */
int hub__scope_parse(const char *in, int (*valid)(const char *), char *out,
                     size_t cap, char *err, size_t errlen);
/* Marks every change of cs outside dev's areas (an area they cover, or
 * one below it in db's registry) as refused (FS_ESCOPE). */
void hub__scope_filter(sqlite3 *db, const hub_device *dev, fs_changeset *cs);
/* The scope as a JSON value: "*" or an array of strings (caller
 * frees). */
cJSON *hub__scope_json(const char *scope);

#endif
