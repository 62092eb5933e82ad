/*
 * limits.c - the default limits on untrusted input. PROTOCOL.md promises
 * these numbers to agents; change them there first.
 */
#include "fs_internal.h"

void fs_limits_default(fs_limits *lim)
{
    if (lim == NULL)
        return;
    lim->max_compressed = 1024 * 1024;
    lim->max_decompressed = 8 * 1024 * 1024;
    lim->max_ratio = 200;
    lim->max_depth = 16;
    lim->max_changes = 1000;
    lim->max_string = 64 * 1024;
    lim->max_answers = 500;
    lim->max_values = 200000;
}
