/*
 * errors.c - see errors.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include "errors.h"

int hub__errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return HUB_EBADINPUT;
}
