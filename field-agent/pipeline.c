/*
 * pipeline.c - two changesets in flight.
 *
 * On its own a push is: the agent sends, the hub decodes (one core),
 * merges and commits (its merge thread), answers, and only then does the
 * agent send the next. With the next changeset already in flight, the
 * hub decodes the two on both cores and commits them with one fsync, and
 * a thin link carries the next while the answer to the one before
 * travels back.
 *
 * What keeps this as safe as one at a time:
 *  - answers are taken in sequence order: the older push is settled (its
 *    200 applied) before the younger one's answer is looked at, so
 *    acked_seq moves exactly as it would one push at a time;
 *  - the hub holds a push that arrives before the one it follows
 *    (sync-server/push.c, PROTOCOL.md 4.4) instead of refusing it;
 *  - nothing but a 200 for the oldest push in flight is acted on. Any
 *    other outcome (no answer, 5xx, 409, an answer that does not match)
 *    ends the stretch: the younger push is waited for and its answer
 *    dropped, and the sync goes on one push at a time from acked_seq,
 *    with the usual retries, backoff and realignment. A 409 of a push
 *    sent beside another is never realigned on: it is sent again first,
 *    alone, and only a 409 to that is believed. A dropped 200 costs
 *    nothing: sent again, the hub answers it from its receipt.
 *  - it starts only after a push of this sync got a 200 one at a time,
 *    so hub and device are known to agree on the sequence (push.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "store.h"
#include "trace.h"

void fa__flight_end(fa__flight *f)
{
    fa__batch_free(&f->b);
    fs_buf_free(&f->body);
}

int fa__push_two(fa__sync *s, fa__http_multi *m, fa__flight *first,
                 long long *done, long long total, int *fallback, int *tried)
{
    fa_agent *ag = s->ag;
    const fa_sync_options *o = s->o;
    fa__flight f[2];
    int n = 1, more = 1, rc = FA_OK;
    f[0] = *first;
    f[0].h = s->h;
    fa__trace_note(o->trace_dir, "push %lld-%lld",
                   (long long)f[0].b.cs->first_seq,
                   (long long)f[0].b.cs->last_seq);
    fa__http_start(m, f[0].h, "POST", "/api/v1/push", f[0].body.data,
                   f[0].body.len, 1);
    for (;;) {
        /* Keep the next changeset in flight beside the oldest. */
        if (n == 1 && more) {
            fa__flight *g = &f[1];
            memset(g, 0, sizeof *g);
            rc = fa__batch_load(ag, s->device, f[0].b.cs->last_seq,
                                o->batch_count, o->batch_bytes, &g->b);
            if (rc != FA_OK)
                break;
            /* Nothing more, or a hole left by a realignment: what is in
             * flight is settled first; the caller deals with the rest.
             * A changeset too large to encode is reported there too. */
            more = g->b.cs && g->b.cs->first_seq == f[0].b.cs->last_seq + 1 &&
                   fa__batch_encode(ag, &g->b, o->trace_dir, &g->body) == FA_OK;
            if (more) {
                g->h = f[0].h == s->h ? s->h2 : s->h;
                fa__trace_note(o->trace_dir, "push %lld-%lld beside %lld-%lld",
                               (long long)g->b.cs->first_seq,
                               (long long)g->b.cs->last_seq,
                               (long long)f[0].b.cs->first_seq,
                               (long long)f[0].b.cs->last_seq);
                fa__http_start(m, g->h, "POST", "/api/v1/push", g->body.data,
                               g->body.len, 1);
                n = 2;
            } else {
                fa__batch_free(&g->b);
            }
        }
        /* Only the oldest push's answer counts (see above). */
        int r = fa__http_wait(ag, m, f[0].h);
        f[0].waited = 1;
        char why[FA_MSG_MAX] = "";
        if (r == FA_OK && f[0].h->status != 200 && o->trace_dir)
            fa__http_error_message(f[0].h, why, sizeof why);
        fa__trace_note(
            o->trace_dir, "answer %lld-%lld %ld%s%s",
            (long long)f[0].b.cs->first_seq, (long long)f[0].b.cs->last_seq,
            r == FA_OK ? f[0].h->status : 0L, why[0] ? ": " : "", why);
        if (r == FA_OK && f[0].h->status == 200) {
            rc = fa__batch_take_reply(ag, &f[0].b,
                                      (const char *)f[0].h->reply.data,
                                      f[0].h->reply.len, s->rep, done);
            /* An answer that does not match is sent for again, alone;
             * an error of our own store ends the sync. */
            if (rc != FA_OK && rc != FA_EREFUSED)
                break;
        }
        if (r != FA_OK || f[0].h->status != 200 || rc != FA_OK) {
            rc = FA_OK;
            *fallback = 1;
            /* A dropout or a busy hub was the first try of the changeset
             * sent next: its retries start after the first backoff, and
             * with no retries allowed (--retries 0) the sync ends here,
             * as it would have one push at a time. */
            *tried = r == FA_EUNREACHABLE ||
                     (r == FA_OK && fa__sync_transient(f[0].h->status));
            if (*tried && *tried >= o->max_attempts) {
                if (r == FA_OK)
                    r = fa__http_fail(ag, f[0].h, FA_EUNREACHABLE,
                                      "the hub is busy or failing");
                rc = r;
            }
            break;
        }
        fa__sync_progress(s, "sending", *done, total);
        fa__flight_end(&f[0]);
        f[0] = f[1];
        n--;
        if (n == 0)
            return FA_OK;
    }
    /* Settle everything still in flight; its answers are not used, and
     * the message of what ended the stretch is kept. */
    char *saved = rc != FA_OK ? strdup(ag->err) : NULL;
    for (int i = 0; i < n; i++) {
        /* Even one that has ended: waiting is what frees its request. */
        if (!f[i].waited) {
            int r = fa__http_wait(ag, m, f[i].h);
            fa__trace_note(o->trace_dir, "answer %lld-%lld %ld dropped",
                           (long long)f[i].b.cs->first_seq,
                           (long long)f[i].b.cs->last_seq,
                           r == FA_OK ? f[i].h->status : 0L);
        }
        fa__flight_end(&f[i]);
    }
    if (saved) {
        snprintf(ag->err, sizeof ag->err, "%s", saved);
        free(saved);
    }
    return rc;
}
