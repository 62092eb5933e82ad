/*
 * trace.c - push bodies and a log of pushes, for debugging (trace.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "agent_int.h"
#include "trace.h"

void fa__trace_body(const char *dir, const fs_changeset *cs, const fs_buf *body)
{
    char path[FA_PATH_MAX];
    snprintf(path, sizeof path, "%s/push-%lld-%lld.json.gz", dir,
             (long long)cs->first_seq, (long long)cs->last_seq);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(body->data, 1, body->len, f);
        fclose(f);
    }
}

void fa__trace_note(const char *dir, const char *fmt, ...)
{
    if (!dir)
        return;
    char path[FA_PATH_MAX];
    snprintf(path, sizeof path, "%s/pushes.log", dir);
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}
