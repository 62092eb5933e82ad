/*
 * sync.c - one sync: push the outbox in bounded changesets (push.c),
 * then pull the hub's change log (pull.c), and both again when the hub
 * turns out to have lost what it acknowledged; retries with backoff for
 * every request, and the outcome kept for `status`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attach.h"
#include "outbox.h"
#include "pull.h"
#include "push.h"
#include "store.h"

void fa_sync_options_default(fa_sync_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_attempts = 5;
    /* Chosen by measurement (bench/README.md): on a 2G link each
     * changeset costs a round trip, and 200 survey submissions (~17 KB
     * gzipped, ~2 s at 64 kbit/s) keep that under a fifth of the sync
     * while a dropped request loses little; 100 cost 1.6x the ideal time,
     * 200 1.4x. */
    o->batch_count = 200;
    o->batch_bytes = 128 * 1024;
    /* The hub decodes the next changeset beside the one before and
     * commits the two together: ~1.3-1.5x the pushes a second of a lone
     * device on a fast link, and a round trip hidden per changeset on a
     * slow one (bench/README.md). Two, not more: the hub has two cores
     * to decode on, and more only lengthens what a failure resends. */
    o->in_flight = 2;
}

static void backoff(int attempt)
{
    /* Exponential with full jitter: 0.5 s, 1 s, 2 s ... capped at 8 s,
     * each drawn uniformly below its cap so that many devices coming
     * back at once do not retry in step. */
    unsigned cap_ms = 500u << (attempt < 4 ? attempt : 4);
    unsigned r = 0;
    fs_random_bytes(&r, sizeof r);
    unsigned ms = cap_ms / 2 + r % (cap_ms / 2 + 1);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int fa__sync_transient(long status)
{
    return status == 408 || status == 429 || status >= 500;
}

/* The first failure to connect at all ends at once: the hub is simply
 * not there. */
int fa__sync_request(fa__sync *s, fa__http *h, const char *method,
                     const char *path, const void *body, size_t len, int gz,
                     int tried)
{
    fa_agent *ag = s->ag;
    int first = s->first, rc = FA_OK;
    s->first = 0;
    for (int attempt = tried; attempt < s->o->max_attempts; attempt++) {
        if (attempt > 0)
            backoff(attempt - 1);
        rc = fa__http_request(ag, h, method, path, body, len, gz);
        if (rc == FA_EUNREACHABLE && first && attempt == 0) {
            long err = fa__http_os_errno(h);
            if (err == ECONNREFUSED || err == ENETUNREACH ||
                err == EHOSTUNREACH)
                return rc;
        }
        if (rc == FA_OK && !fa__sync_transient(h->status))
            return FA_OK;
        if (rc == FA_OK) {
            rc = fa__http_fail(ag, h, FA_EUNREACHABLE,
                               "the hub is busy or failing");
        } else if (rc != FA_EUNREACHABLE) {
            return rc;
        }
    }
    return rc;
}

void fa__sync_progress(const fa__sync *s, const char *phase, long long done,
                       long long total)
{
    if (s->o->on_progress)
        s->o->on_progress(s->o->progress_arg, phase, done, total);
}

static void record_outcome(fa_agent *ag, int rc, const fa_sync_report *rep)
{
    char text[1200];
    if (rc == FA_OK)
        snprintf(text, sizeof text, "ok, sent %lld, received %lld", rep->sent,
                 rep->pulled);
    else
        snprintf(text, sizeof text, "failed: %.1100s", ag->err);
    char saved[sizeof ag->err];
    memcpy(saved, ag->err, sizeof saved);
    fa__meta_set(ag, "last_sync_outcome", text);
    if (rc == FA_OK)
        fa__meta_set_int(ag, "last_sync_ms", (int64_t)fs_now_ms());
    memcpy(ag->err, saved, sizeof saved);
}

int fa_sync(fa_agent *ag, const fa_sync_options *opt, fa_sync_report *rep)
{
    memset(rep, 0, sizeof *rep);
    char hub[FA_URL_MAX], device[FS_UUID_LEN + 1], token[96], ca[FA_PATH_MAX];
    const fa__setting settings[] = {
        {"hub_url", hub, sizeof hub, NULL},
        {"ca_file", ca, sizeof ca, NULL},
        {"device_id", device, sizeof device, NULL},
        {"token", token, sizeof token, NULL},
    };
    int rc = fa__meta_get_all(ag, settings, 4);
    if (rc != FA_OK)
        return rc;
    if (!device[0] || !token[0])
        return fa__fail(ag, FA_ENOTENROLLED,
                        "this device is not enrolled; run `fieldsync-agent "
                        "enroll --hub URL --code CODE` with a code from "
                        "your hub admin");
    fa__http h, h2;
    memset(&h2, 0, sizeof h2); /* freed below even if never started */
    rc = fa__http_init(ag, &h, hub, token, ca);
    /* The second push in flight has its own connection. */
    int two = opt->in_flight > 1;
    if (rc == FA_OK && two)
        rc = fa__http_init(ag, &h2, hub, token, ca);
    fa__sync s = {ag, opt, rep, "", &h, two ? &h2 : NULL, 1};
    memcpy(s.device, device, sizeof s.device);
    for (int round = 0; rc == FA_OK; round++) {
        rc = fa__push_all(&s);
        int64_t hub_acked = -1, acked = 0;
        if (rc == FA_OK)
            rc = fa__pull_all(&s, &hub_acked);
        if (rc == FA_OK)
            rc = fa__meta_get_int(ag, "acked_seq", 0, &acked);
        if (rc != FA_OK || hub_acked < 0 || hub_acked >= acked)
            break;
        /* The hub knows less than it acknowledged before: it was restored
         * from an older backup. Send what it lost again. */
        if (round >= 2 || ++rep->realigned > FA_MAX_REALIGN) {
            rc = fa__fail(ag, FA_EREFUSED,
                          "the hub keeps losing acknowledged changes "
                          "(acknowledged %lld, now %lld); tell the hub "
                          "admin",
                          (long long)acked, (long long)hub_acked);
            break;
        }
        rc = fa__outbox_realign(ag, hub_acked);
    }
    /* Files follow the answers that reference them. */
    if (rc == FA_OK)
        rc = fa__attach_send(&s);
    int64_t acked = 0;
    if (fa__meta_get_int(ag, "acked_seq", 0, &acked) == FA_OK)
        rep->queued = fa__outbox_pending(ag, acked);
    if (rc == FA_EUNREACHABLE && rep->sent > 0)
        rc = FA_EPARTIAL;
    record_outcome(ag, rc, rep);
    fa__http_free(&h);
    if (two)
        fa__http_free(&h2);
    return rc;
}
