/*
 * ratelimit.c - per-principal token buckets, so one broken or hostile
 * device cannot take the hub's workers from everyone else.
 *
 * A fixed table, no allocation per request: a principal hashes to a slot;
 * a slot taken by another principal that has been idle for a minute is
 * reused. When the table is full of active principals, the newcomer is
 * let through rather than refused: the limit protects the hub, it must
 * never lock out a device that did nothing wrong.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs_protocol.h"
#include "ratelimit.h"

#define SLOTS 4096
#define PROBES 8
#define IDLE_MS 60000

typedef struct slot {
    char id[FS_UUID_LEN + 1];
    double tokens;
    uint64_t last_ms;
} slot;

struct hub_ratelimit {
    pthread_mutex_t lock;
    double rate;  /* tokens added per second */
    double burst; /* bucket size */
    slot slots[SLOTS];
};

struct hub_ratelimit *hub__ratelimit_new_burst(double rate, double burst)
{
    struct hub_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    pthread_mutex_init(&rl->lock, NULL);
    rl->rate = rate;
    rl->burst = burst;
    return rl;
}

struct hub_ratelimit *hub__ratelimit_new(double rate)
{
    return hub__ratelimit_new_burst(rate, 2 * rate);
}

void hub__ratelimit_free(struct hub_ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int hub__ratelimit_take(struct hub_ratelimit *rl, const char *id)
{
    if (!rl)
        return 1;
    uint64_t now = fs_now_ms();
    unsigned h = hash(id);
    int allowed = 1;
    pthread_mutex_lock(&rl->lock);
    slot *s = NULL;
    for (unsigned i = 0; i < PROBES && !s; i++) {
        slot *c = &rl->slots[(h + i) % SLOTS];
        if (strcmp(c->id, id) == 0) {
            s = c;
        } else if (c->id[0] == '\0' || now - c->last_ms > IDLE_MS) {
            memset(c, 0, sizeof *c);
            memcpy(c->id, id, strnlen(id, FS_UUID_LEN));
            c->tokens = rl->burst;
            c->last_ms = now;
            s = c;
        }
    }
    if (s) {
        double add = (double)(now - s->last_ms) / 1000.0 * rl->rate;
        s->tokens = s->tokens + add > rl->burst ? rl->burst : s->tokens + add;
        s->last_ms = now;
        if (s->tokens >= 1.0)
            s->tokens -= 1.0;
        else
            allowed = 0;
    }
    pthread_mutex_unlock(&rl->lock);
    return allowed;
}

void hub__ratelimit_give(struct hub_ratelimit *rl, const char *id)
{
    if (!rl)
        return;
    unsigned h = hash(id);
    pthread_mutex_lock(&rl->lock);
    for (unsigned i = 0; i < PROBES; i++) {
        slot *c = &rl->slots[(h + i) % SLOTS];
        if (strcmp(c->id, id) == 0) {
            c->tokens =
                c->tokens + 1.0 > rl->burst ? rl->burst : c->tokens + 1.0;
            break;
        }
    }
    pthread_mutex_unlock(&rl->lock);
}
