/*
 * errors.h - what the hub's domain functions return besides 0.
 *
 * A function that checks input from people (an admin command, an API
 * request) returns 0, HUB_EBADINPUT with a sentence for people in its err
 * buffer (nothing was changed), or HUB_ESTORAGE.
 */
#ifndef HUB_ERRORS_H
#define HUB_ERRORS_H

#include <stddef.h>

enum { HUB_EBADINPUT = 1, HUB_ESTORAGE = -1 };

/* Formats a message for people into err; returns HUB_EBADINPUT. */
int hub__errf(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
