/*
 * errors.c - see errors.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include <sqlite3.h>

#include "errors.h"

static _Thread_local int last_sqlite = SQLITE_ERROR;

const char *hub__strerror(int err)
{
    switch (err) {
    case HUB_OK:
        return "no error";
    case HUB_EBADINPUT:
        return "bad input";
    case HUB_ENOTFOUND:
        return "not found";
    case HUB_EFORBIDDEN:
        return "not allowed";
    case HUB_ECONFLICT:
        return "out of sequence with the hub's state";
    case HUB_ESTORAGE:
        return "the database failed";
    case HUB_EFULL:
        return "the disk is full";
    case HUB_ENOMEM:
        return "out of memory";
    case HUB_EQUOTA:
        return "the device's held changes are at their quota";
    default:
        return "unknown error";
    }
}

int hub__sqlite_err(int rc)
{
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
        return HUB_OK;
    last_sqlite = rc;
    if ((rc & 0xff) == SQLITE_FULL)
        return HUB_EFULL;
    if ((rc & 0xff) == SQLITE_NOMEM)
        return HUB_ENOMEM;
    return HUB_ESTORAGE;
}

const char *hub__storage_detail(int err)
{
    if (err == HUB_ENOMEM && (last_sqlite & 0xff) != SQLITE_NOMEM)
        return sqlite3_errstr(SQLITE_NOMEM); /* not SQLite's own */
    return sqlite3_errstr(last_sqlite);
}

int hub__errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return HUB_EBADINPUT;
}
