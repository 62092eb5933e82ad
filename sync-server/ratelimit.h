/*
 * ratelimit.h - a token bucket per principal (device or API token), so
 * that one broken or hostile client cannot take every worker.
 */
#ifndef HUB_RATELIMIT_H
#define HUB_RATELIMIT_H

typedef struct hub_ratelimit hub_ratelimit;

/* rate requests a second, bursts of 2 x rate. NULL when out of memory;
 * free with hub__ratelimit_free (NULL is fine). */
hub_ratelimit *hub__ratelimit_new(double rate);
/* The same with bursts of burst requests. */
hub_ratelimit *hub__ratelimit_new_burst(double rate, double burst);
void hub__ratelimit_free(hub_ratelimit *rl);
/* 1 when id may make a request now, else 0. rl NULL: always 1. */
int hub__ratelimit_take(hub_ratelimit *rl, const char *id);
/* Gives back the request id took last (one that turned out not to count),
 * never above the burst. */
void hub__ratelimit_give(hub_ratelimit *rl, const char *id);

#endif
