/*
 * push.c - sending the outbox: changeset after changeset from the
 * acknowledged sequence on, each taken only on the hub's 200 for it; a
 * 409 with the hub's sequence realigns ours (outbox.h). Once a push of
 * this sync has been acknowledged one at a time, the rest go out two in
 * flight (pipeline.c), and back to one at a time after any failure.
 */
#include <string.h>

#include "pipeline.h"
#include "push.h"
#include "store.h"
#include "trace.h"

/* The sequence a 409 says the hub holds, -1 when it says none (or its
 * answer is not JSON within the agent's limits). */
static int64_t hub_seq_of(fa_agent *ag, fa__http *h)
{
    cJSON *j = NULL;
    fs_json_parse((const char *)h->reply.data, h->reply.len, &ag->limits, &j,
                  NULL);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "hub_seq");
    int64_t v =
        cJSON_IsNumber(s) && s->valuedouble >= 0 ? (int64_t)s->valuedouble : -1;
    cJSON_Delete(j);
    return v;
}

int fa__push_all(fa__sync *s)
{
    fa_agent *ag = s->ag;
    const fa_sync_options *o = s->o;
    fa__http *h = s->h;
    int rc = FA_OK;
    long long total = -1, done = 0;
    /* two: the next push goes out with two in flight; fallback: a push
     * failed this sync, so one at a time to the end (fa__push_two). */
    int two = 0, fallback = !s->h2, tried = 0;
    fa__http_multi m = {0};
    while (rc == FA_OK) {
        int64_t acked = 0;
        rc = fa__meta_get_int(ag, "acked_seq", 0, &acked);
        if (rc != FA_OK)
            break;
        if (total < 0)
            total = fa__outbox_pending(ag, acked);
        fa__flight f;
        memset(&f, 0, sizeof f);
        rc = fa__batch_load(ag, s->device, acked, o->batch_count,
                            o->batch_bytes, &f.b);
        if (rc != FA_OK || !f.b.cs)
            break;
        if (f.b.cs->first_seq != acked + 1) {
            /* A hole left by an earlier realignment: close it. */
            fa__batch_free(&f.b);
            if (++s->rep->realigned > FA_MAX_REALIGN) {
                rc = fa__fail(ag, FA_EREFUSED,
                              "cannot agree on a "
                              "sequence with the hub");
                break;
            }
            rc = fa__outbox_realign(ag, acked);
            continue;
        }
        rc = fa__batch_encode(ag, &f.b, o->trace_dir, &f.body);
        if (rc != FA_OK) {
            fa__batch_free(&f.b);
            break;
        }
        if (two && !fallback) {
            if (!m.m)
                rc = fa__http_multi_init(ag, &m, h->api);
            if (rc == FA_OK)
                rc = fa__push_two(s, &m, &f, &done, total, &fallback, &tried);
            else
                fa__flight_end(&f);
            continue;
        }
        fa__trace_note(o->trace_dir, "push %lld-%lld",
                       (long long)f.b.cs->first_seq,
                       (long long)f.b.cs->last_seq);
        rc = fa__sync_request(s, h, "POST", "/api/v1/push", f.body.data,
                              f.body.len, 1, tried);
        fa__trace_note(
            o->trace_dir, "answer %lld-%lld %ld", (long long)f.b.cs->first_seq,
            (long long)f.b.cs->last_seq, rc == FA_OK ? h->status : 0L);
        tried = 0;
        fs_buf_free(&f.body);
        if (rc != FA_OK) {
            fa__batch_free(&f.b);
            break;
        }
        if (h->status == 409) {
            int64_t hub_seq = hub_seq_of(ag, h);
            fa__batch_free(&f.b);
            if (hub_seq < 0 || ++s->rep->realigned > FA_MAX_REALIGN) {
                rc = fa__http_fail(ag, h, FA_EREFUSED,
                                   "the hub and this device disagree on the "
                                   "sequence");
                break;
            }
            rc = fa__outbox_realign(ag, hub_seq);
            continue;
        }
        if (h->status != 200) {
            fa__batch_free(&f.b);
            rc =
                fa__http_fail(ag, h, FA_EREFUSED, "the hub refused the upload");
            break;
        }
        rc = fa__batch_take_reply(ag, &f.b, (const char *)h->reply.data,
                                  h->reply.len, s->rep, &done);
        fa__batch_free(&f.b);
        if (rc == FA_OK)
            fa__sync_progress(s, "sending", done, total);
        /* Hub and device agree on the sequence: the next push may go
         * out beside the one after it. */
        two = 1;
    }
    fa__http_multi_free(&m);
    if (done > 0)
        fa__sync_progress(s, "sent", done, total);
    return rc;
}
