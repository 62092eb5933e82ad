/*
 * pipeline.h - two changesets in flight (pipeline.c says why it is as
 * safe as one at a time).
 */
#ifndef FA_PIPELINE_H
#define FA_PIPELINE_H

#include "outbox.h"
#include "sync.h"

/* A changeset on its way: its batch, encoded body and connection. */
typedef struct fa__flight {
    fa__batch b;
    fs_buf body;
    fa__http *h;
    int waited; /* fa__http_wait returned for it */
} fa__flight;

/* Frees the batch and body of f. */
void fa__flight_end(fa__flight *f);

/* Sends *first (takes it and its encoded body) and what follows it with
 * two changesets in flight on s->h and s->h2 through m, until the outbox
 * is done or a push fails; *done counts the changes acknowledged, of
 * total. *fallback is set when the sync is to go on one push at a time,
 * and *tried to the attempts already spent on the changeset it sends
 * next. Returns FA_OK, or an error of the agent's own store (or, with
 * no retries left, the failure of the push). */
int fa__push_two(fa__sync *s, fa__http_multi *m, fa__flight *first,
                 long long *done, long long total, int *fallback, int *tried);

#endif
