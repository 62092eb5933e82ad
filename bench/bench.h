/*
 * bench.h - helpers shared by the bench programs: a seeded generator of
 * realistic survey submissions, a real hub process, device enrolment over
 * HTTP, timing and percentiles.
 *
 * Bench programs are not tests: they print figures, never pass or fail
 * on speed. They exit non-zero only when something that must work did
 * not (a push refused, a count that does not add up).
 */
#ifndef FS_BENCH_H
#define FS_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs_protocol.h"

struct curl_slist;

#define BENCH_FORM_ID "bench_survey"

/* xorshift64*: fast, seeded, the same sequence on every machine. */
typedef struct bench_rng {
    uint64_t s;
} bench_rng;

void bench_rng_seed(bench_rng *r, uint64_t seed);
uint64_t bench_rng_next(bench_rng *r);
/* Uniform in [0, n). */
unsigned bench_rng_below(bench_rng *r, unsigned n);

/* The 25-field form every bench uses, as JSON text (static storage). */
const char *bench_form_json(void);

/* Appends one submission's answers (a JSON object, ~400 bytes) to out. */
int bench_answers(bench_rng *r, fs_buf *out);

/* Fills s with one generated submission: a UUIDv7 id whose time and
 * random bits come from r, the bench form, an area, a collector, an HLC
 * and created_ms near base_ms, and answers (malloc'd). */
int bench_submission(bench_rng *r, uint64_t base_ms, fs_submission *s);

/* Monotonic seconds. */
double bench_now(void);

/* Sorts v (n values) and returns the p-th percentile (0..100). */
double bench_percentile(double *v, size_t n, double p);

/* Makes a fresh temporary directory (mkdtemp under TMPDIR or /tmp) and
 * removes it with everything in it. */
int bench_tmpdir(char *out, size_t cap, const char *tag);
void bench_rmrf(const char *dir);

/* Runs argv (NULL-terminated), waits; returns its exit status or -1. When
 * out is not NULL its stdout is captured there (NUL-terminated, cut at
 * cap - 1). maxrss_kb (may be NULL) receives the child's peak RSS. */
int bench_run(char *const argv[], char *out, size_t cap, long *maxrss_kb);

/* A running hub. */
typedef struct bench_hub {
    pid_t pid;
    int port;
    char url[128];
    char db[4096];
    char dir[4096];
    int rate_limited; /* the hub's per-device request limit is on */
    double cpu_s;     /* after bench_hub_stop: the hub's CPU seconds */
} bench_hub;

/* 1 (default): hubs keep their default per-device request rate limit.
 * 0: started with --rate-limit 0, for benches that measure the merge
 * itself and push far faster than any one field device can. */
extern int bench_hub_rate_limit;

/* Publishes the bench form into dir/hub.db and starts
 * `fieldsync-hub serve` on 127.0.0.1:0 (listen_host overrides the
 * address, e.g. inside a network namespace) with threads workers. */
int bench_hub_start(bench_hub *h, const char *hub_bin, const char *dir,
                    const char *listen_host, int threads);
/* SIGTERM and wait; returns the hub's exit status. */
int bench_hub_stop(bench_hub *h);

/* A device enrolled through the real path: `fieldsync-hub enroll-code`
 * then POST /api/v1/enroll. */
typedef struct bench_device {
    char id[FS_UUID_LEN + 1];
    char token[80];
} bench_device;

int bench_enroll(const bench_hub *h, const char *hub_bin, const char *name,
                 bench_device *dev);
/* Only the one-time code (for an agent that enrols itself). */
int bench_enroll_code(const bench_hub *h, const char *hub_bin, const char *name,
                      char *code, size_t cap);

/* SELECT count(*) FROM submissions on the hub database. */
long long bench_hub_count(const bench_hub *h);

/* One simulated device pushing pre-encoded gzip changesets over one
 * kept-alive connection. */
typedef struct bench_pusher {
    void *curl;
    struct curl_slist *headers;
    fs_buf reply;
    char url[256];
} bench_pusher;

int bench_pusher_init(bench_pusher *p, const char *url, const char *token);
/* Sets the body of the next request (for curl_multi users). */
void bench_pusher_body(bench_pusher *p, const void *body, size_t len);
/* POSTs body to /api/v1/push; returns the HTTP status or -1. */
long bench_push(bench_pusher *p, const void *body, size_t len);
void bench_pusher_free(bench_pusher *p);

/* Encodes subs[0..n) as one changeset of device numbered from first_seq,
 * gzipped at level (0: plain JSON), appended to out. */
int bench_encode(const fs_submission *subs, size_t n, const char *device,
                 int64_t first_seq, int level, fs_buf *out, size_t *json_len);

/* ---- proxy.c: a counting, optionally shaping relay ------------------ */

typedef struct bench_link {
    double rate_bps;   /* bits a second each way; 0: unlimited */
    int delay_ms;      /* one-way delay */
    int loss_permille; /* segments lost and resent, per 1000 */
    int drop_every_ms; /* every connection reset at each multiple of this
                          since the start (the link dies); 0: never */
} bench_link;

typedef struct bench_proxy bench_proxy;
typedef struct bench_proxy_stats {
    long long up, down; /* bytes client->hub, hub->client (TCP payload) */
    long long segments; /* segments of at most 1448 bytes, both ways */
    long long lost;
    long conns;
    long drops;          /* connections reset by drop_every_ms */
    long long drop_lost; /* client->hub bytes queued, never delivered */
} bench_proxy_stats;

/* Listens on 127.0.0.1:0 and relays to 127.0.0.1:target_port. The proxy
 * lives until the process exits (bench_proxy_stop only stops accepting). */
bench_proxy *bench_proxy_start(int target_port, const bench_link *link,
                               uint64_t seed);
int bench_proxy_port(const bench_proxy *p);
void bench_proxy_counts(bench_proxy *p, bench_proxy_stats *st);
void bench_proxy_reset(bench_proxy *p);
void bench_proxy_stop(bench_proxy *p);

/* ---- agentseed.c: a real agent directory with recorded submissions -- */

/* Enrols an agent in dir with hub url (fa_enroll), fetches the forms
 * (fa_sync) and records n generated submissions with fa_record, the code
 * `fieldsync-agent record` runs. Only for speed, the seeding connection
 * skips fsync (synchronous=OFF): the recorded rows are the same. When
 * gz_bytes is not NULL it receives the gzip -6 size of the recorded rows
 * as JSON lines, batch rows per gzip stream: the baseline for the wire. */
int bench_seed_agent(const bench_hub *h, const char *hub_bin, const char *dir,
                     const char *url, long n, uint64_t seed, size_t batch,
                     size_t *gz_bytes, size_t *raw_bytes);

/* Points the agent in dir at another hub URL (a proxy in front). */
int bench_agent_set_hub(const char *dir, const char *url);
/* Sets one existing meta setting of the agent in dir (hub_url, ca_file). */
int bench_agent_set_meta(const char *dir, const char *key, const char *value);

/* Parses "--name value" integer options; returns 0 or -1. */
int bench_int_arg(const char *name, const char *v, long lo, long hi, long *out);

/* Peak resident set of this process so far, KiB. */
long bench_self_maxrss(void);

#endif
