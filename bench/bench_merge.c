/*
 * bench_merge - merge throughput of a real hub against raw SQLite.
 *
 * N generated submissions (seeded) are pushed to a fresh hub by 1, 10 and
 * 50 simulated agents at once, each over its own kept-alive connections,
 * in changesets of --batch, each agent with its next changeset in flight
 * beside the oldest as fieldsync-agent pushes (--in-flight 1: one at a
 * time, as it did before). The changesets are encoded before the clock
 * starts: what is timed is the hub (HTTP, gunzip, decode, merge, durable
 * commit, reply). Beside it, the same rows are inserted into a database
 * with the hub's own schema and settings (WAL, synchronous=FULL) in
 * 10,000-row transactions with one prepared statement: the raw baseline.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "agent.h"
#include "bench.h"
#include "fs_schema.h"

#define BASE_MS 1767225600000ull /* 2026-01-01, fixed for seeded output */

typedef struct agent_job {
    bench_device dev;
    const char *url;
    fs_buf *bodies;
    size_t nbodies;
    int in_flight; /* changesets pushed at once: 2 as fieldsync-agent */
    int fell_back; /* went on one at a time after a refused push */
    long bad_status;
    pthread_barrier_t *start;
} agent_job;

/* One connection of a bench agent and its request in flight. */
typedef struct slot {
    bench_pusher p;
    int busy;
    CURLcode cc;
} slot;

/* Runs the agent's transfers until s's has ended; returns its status or
 * -1. */
static long wait_slot(CURLM *m, slot *s)
{
    while (s->busy) {
        int running = 0;
        if (curl_multi_perform(m, &running) != CURLM_OK)
            return -1;
        CURLMsg *msg;
        int left = 0;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            slot *done = (slot *)(void *)priv;
            done->cc = msg->data.result;
            done->busy = 0;
            curl_multi_remove_handle(m, msg->easy_handle);
        }
        if (s->busy && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
            return -1;
    }
    long status = -1;
    if (s->cc == CURLE_OK)
        curl_easy_getinfo(s->p.curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* Pushes the agent's changesets in order, as fieldsync-agent does: with
 * in_flight 2 the next one is sent beside the oldest, whose answer is
 * always taken first, and after any answer but a 200 the other one is
 * waited for and the rest goes one at a time, from the refused one on
 * (field-agent/pipeline.c). */
static void *agent_main(void *arg)
{
    agent_job *j = arg;
    slot s[2];
    int nslots = j->in_flight, depth;
    CURLM *m = curl_multi_init();
    memset(s, 0, sizeof s);
    for (int i = 0; i < nslots; i++) {
        if (bench_pusher_init(&s[i].p, j->url, j->dev.token) != 0) {
            j->bad_status = -1;
            nslots = i;
            break;
        }
        curl_easy_setopt(s[i].p.curl, CURLOPT_PRIVATE, (void *)&s[i]);
    }
    depth = nslots;
    pthread_barrier_wait(j->start);
    size_t next = 0, oldest = 0;
    while (oldest < j->nbodies && m && !j->bad_status) {
        for (; next < j->nbodies && next < oldest + (size_t)depth; next++) {
            slot *q = &s[next % (size_t)depth];
            bench_pusher_body(&q->p, j->bodies[next].data, j->bodies[next].len);
            q->busy = curl_multi_add_handle(m, q->p.curl) == CURLM_OK;
            q->cc = q->busy ? CURLE_OK : CURLE_FAILED_INIT;
        }
        slot *q = &s[oldest % (size_t)depth];
        long st = wait_slot(m, q);
        if (st == 200) {
            oldest++;
        } else if (depth > 1) {
            for (size_t i = oldest + 1; i < next; i++)
                wait_slot(m, &s[i % (size_t)depth]);
            j->fell_back = 1;
            depth = 1;
            next = oldest;
        } else {
            j->bad_status = st;
            fprintf(stderr, "bench_merge: push %zu got %ld: %.200s\n", oldest,
                    st, (const char *)q->p.reply.data);
        }
    }
    for (int i = 0; i < nslots; i++) {
        if (s[i].busy)
            curl_multi_remove_handle(m, s[i].p.curl);
        bench_pusher_free(&s[i].p);
    }
    curl_multi_cleanup(m);
    return NULL;
}

/* CPU seconds of this process: the baseline runs alone in it. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Rows a second; *cpu_s gets the CPU seconds the inserts took. */
static double baseline(const fs_submission *subs, size_t n, size_t txn,
                       double *cpu_s)
{
    char dir[4096], path[4200], err[512];
    if (bench_tmpdir(dir, sizeof dir, "base") != 0)
        return -1;
    snprintf(path, sizeof path, "%s/raw.db", dir);
    sqlite3 *db = NULL;
    if (fs_db_open(path, &fs_schema_hub, 1, &db, err, sizeof err) != 0) {
        fprintf(stderr, "bench_merge: %s\n", err);
        return -1;
    }
    /* Everything a row holds is computed before the clock starts. */
    char(*hlc)[FS_HLC_TEXT_LEN + 1] = calloc(n, sizeof *hlc);
    char(*dig)[65] = calloc(n, sizeof *dig);
    for (size_t i = 0; i < n; i++) {
        fs_hlc_format(subs[i].hlc, hlc[i]);
        fs_sha256_hex(subs[i].answers_json, strlen(subs[i].answers_json),
                      dig[i]);
    }
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(
        db,
        "INSERT INTO submissions (id, rev, base_rev, form_id, form_version, "
        "area, device_id, collector, hlc, created_ms, received_ms, answers, "
        "digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        -1, &st, NULL);
    const char *device = "01a22383-0f4a-79b9-b9d3-d0e74430f9b8";
    double t0 = bench_now(), c0 = cpu_now();
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        if (i % txn == 0)
            ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
                 SQLITE_OK;
        const fs_submission *s = &subs[i];
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, s->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, s->rev);
        sqlite3_bind_int64(st, 3, s->base_rev);
        sqlite3_bind_text(st, 4, s->form_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, s->form_version);
        sqlite3_bind_text(st, 6, s->area, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, device, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, s->collector, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, hlc[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 10, s->created_ms);
        sqlite3_bind_int64(st, 11, s->created_ms);
        sqlite3_bind_text(st, 12, s->answers_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 13, dig[i], -1, SQLITE_STATIC);
        ok = ok && sqlite3_step(st) == SQLITE_DONE;
        if (ok && ((i + 1) % txn == 0 || i + 1 == n))
            ok = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    }
    double dt = bench_now() - t0;
    *cpu_s = cpu_now() - c0;
    if (!ok)
        fprintf(stderr, "bench_merge: baseline: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(hlc);
    free(dig);
    bench_rmrf(dir);
    return ok ? (double)n / dt : -1;
}

/* --wave 1: the hub gets a wave holding every generated submission
 * before the push, so each one is counted in the mapping aggregates as
 * it is merged (the write cost of keeping them); 0 (default): no wave. */
static long with_wave;

/* Adds that wave to the hub's database (the CLI beside the serving hub,
 * as an admin would). 0, or -1 after printing why. */
static int add_wave(const char *hub_bin, const bench_hub *h)
{
    char *argv[] = {(char *)hub_bin, "wave",        "add",     "bench",
                    "--db",          (char *)h->db, "--start", "2026-01-01",
                    "--end",         "2026-12-31",  NULL};
    char sink[512];
    if (bench_run(argv, sink, sizeof sink, NULL) != 0) {
        fprintf(stderr, "bench: wave add failed\n");
        return -1;
    }
    return 0;
}

/* Pushes subs through a fresh hub with k agents; returns merged/s. */
static double run_hub(const char *hub_bin, const fs_submission *subs, size_t n,
                      int k, size_t batch, int threads, int in_flight,
                      int *fell_back, double *secs, double *hub_cpu,
                      double *agents_cpu)
{
    char dir[4096];
    if (bench_tmpdir(dir, sizeof dir, "merge") != 0)
        return -1;
    bench_hub h;
    if (bench_hub_start(&h, hub_bin, dir, NULL, threads) != 0)
        return -1;
    if (with_wave && add_wave(hub_bin, &h) != 0)
        return -1;
    agent_job *jobs = calloc((size_t)k, sizeof *jobs);
    pthread_t *tids = calloc((size_t)k, sizeof *tids);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)k + 1);
    fs_submission *mine = calloc(n / (size_t)k + 1, sizeof *mine);
    double rate = -1;
    int ok = 1;
    for (int a = 0; a < k && ok; a++) {
        char name[32];
        snprintf(name, sizeof name, "bench-agent-%d", a);
        agent_job *j = &jobs[a];
        ok = bench_enroll(&h, hub_bin, name, &j->dev) == 0;
        /* Agent a has submissions a, a+k, a+2k ... in that order. */
        size_t m = 0;
        for (size_t i = (size_t)a; i < n; i += (size_t)k)
            mine[m++] = subs[i];
        j->nbodies = (m + batch - 1) / batch;
        j->bodies = calloc(j->nbodies, sizeof *j->bodies);
        j->url = h.url;
        j->in_flight = in_flight;
        j->start = &start;
        for (size_t b = 0; b < j->nbodies && ok; b++) {
            size_t off = b * batch;
            size_t cnt = m - off < batch ? m - off : batch;
            fs_buf_init(&j->bodies[b], 1024 * 1024);
            /* Level 9, as the agent compresses. */
            ok = bench_encode(mine + off, cnt, j->dev.id, (int64_t)off + 1, 9,
                              &j->bodies[b], NULL) == FS_OK;
        }
    }
    if (ok) {
        for (int a = 0; a < k; a++)
            pthread_create(&tids[a], NULL, agent_main, &jobs[a]);
        pthread_barrier_wait(&start);
        double t0 = bench_now(), c0 = cpu_now();
        for (int a = 0; a < k; a++) {
            pthread_join(tids[a], NULL);
            if (jobs[a].bad_status)
                ok = 0;
            *fell_back += jobs[a].fell_back;
        }
        *secs = bench_now() - t0;
        *agents_cpu = cpu_now() - c0;
        long long held = bench_hub_count(&h);
        if (held != (long long)n) {
            fprintf(stderr, "bench_merge: hub holds %lld, expected %zu\n", held,
                    n);
            ok = 0;
        }
        if (ok)
            rate = (double)n / *secs;
    }
    if (bench_hub_stop(&h) != 0) {
        fprintf(stderr, "bench_merge: hub did not stop cleanly\n");
        rate = -1;
    }
    *hub_cpu = h.cpu_s;
    for (int a = 0; a < k; a++) {
        for (size_t b = 0; b < jobs[a].nbodies; b++)
            fs_buf_free(&jobs[a].bodies[b]);
        free(jobs[a].bodies);
    }
    pthread_barrier_destroy(&start);
    free(mine);
    free(jobs);
    free(tids);
    bench_rmrf(dir);
    return rate;
}

int main(int argc, char **argv)
{
    const char *hub_bin = FS_BENCH_HUB;
    fa_sync_options defaults;
    fa_sync_options_default(&defaults);
    /* Changesets as large as a real agent sends. */
    long n = 100000, batch = (long)defaults.batch_count, seed = 42, txn = 10000,
         threads = 0, in_flight = defaults.in_flight;
    int agents[8] = {1, 10, 50}, nagents = 3;
    /* Every option takes a value: step over both. */
    for (int i = 1; i < argc; i += 2) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (strcmp(o, "--hub") == 0 && v)
            hub_bin = v;
        else if (strcmp(o, "--n") == 0)
            r = bench_int_arg(o, v, 1, 10000000, &n);
        else if (strcmp(o, "--batch") == 0)
            r = bench_int_arg(o, v, 1, 1000, &batch);
        else if (strcmp(o, "--seed") == 0)
            r = bench_int_arg(o, v, 1, 1L << 30, &seed);
        else if (strcmp(o, "--threads") == 0)
            r = bench_int_arg(o, v, 1, 256, &threads);
        else if (strcmp(o, "--in-flight") == 0)
            r = bench_int_arg(o, v, 1, 2, &in_flight);
        else if (strcmp(o, "--wave") == 0)
            r = bench_int_arg(o, v, 0, 1, &with_wave);
        else if (strcmp(o, "--agents") == 0 && v) {
            nagents = 0;
            char *p = (char *)v, *end = NULL;
            while (*p && nagents < 8) {
                long x = strtol(p, &end, 10);
                if (end == p || x < 1 || x > 1000) {
                    r = -1;
                    break;
                }
                agents[nagents++] = (int)x;
                p = *end == ',' ? end + 1 : end;
            }
        } else {
            fprintf(stderr,
                    "usage: bench_merge [--hub PATH] [--n N] [--agents "
                    "1,10,50] [--batch N] [--threads N] [--in-flight 1|2] "
                    "[--seed N] [--wave 0|1]\n");
            return 2;
        }
        if (r != 0)
            return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* One agent pushes ~100 requests a second here, far past what a
     * device on a real link can; the hub's per-device limit is not what
     * this measures. */
    bench_hub_rate_limit = 0;
    printf("== merge throughput ==\n");
    printf("command: bench_merge --n %ld --agents", n);
    for (int a = 0; a < nagents; a++)
        printf("%s%d", a ? "," : " ", agents[a]);
    printf(" --batch %ld --in-flight %ld --seed %ld --wave %ld%s\n", batch,
           in_flight, seed, with_wave, threads ? " (--threads set)" : "");
    printf("agents: each pushes %s\n",
           in_flight > 1 ? "with its next changeset in flight beside the "
                           "oldest, two connections (as fieldsync-agent "
                           "does)"
                         : "one changeset at a time, one connection (as "
                           "fieldsync-agent did before two in flight)");
    printf("hub: started with --rate-limit 0 (per-device request limit "
           "off: one bench agent pushes far faster than a field device)\n");

    fs_submission *subs = calloc((size_t)n, sizeof *subs);
    bench_rng r;
    bench_rng_seed(&r, (uint64_t)seed);
    size_t bytes = 0;
    for (long i = 0; i < n; i++) {
        /* About one submission every 3 s across the whole city. */
        if (bench_submission(&r, BASE_MS + (uint64_t)i * 3000, &subs[i]) !=
            FS_OK)
            return 1;
        bytes += strlen(subs[i].answers_json);
    }
    fs_buf one;
    fs_buf_init(&one, 1024 * 1024);
    size_t jl = 0;
    bench_encode(subs, 100 < n ? 100 : (size_t)n,
                 "01a22383-0f4a-79b9-b9d3-"
                 "d0e74430f9b8",
                 1, 0, &one, &jl);
    printf("data: %ld submissions, 25 fields, answers %.0f B avg, "
           "%.0f B per change as encoded JSON\n",
           n, (double)bytes / (double)n,
           (double)jl / (double)(100 < n ? 100 : n));
    fs_buf_free(&one);

    double base_cpu = 0;
    double base = baseline(subs, (size_t)n, (size_t)txn, &base_cpu);
    printf("raw SQLite baseline: %.0f rows/s (%ld-row transactions, WAL, "
           "synchronous=FULL, hub schema); CPU %.1f us a row\n",
           base, txn, 1e6 * base_cpu / (double)n);
    int status = base > 0 ? 0 : 1;
    for (int a = 0; a < nagents; a++) {
        /* A kept-alive connection holds a hub worker while it is open:
         * one per connection of each agent, 16 at least (the default). */
        int conns = agents[a] * (int)in_flight;
        int th = threads ? (int)threads : (conns > 16 ? conns : 16);
        double secs = 0, cpu = 0, acpu = 0;
        int fell_back = 0;
        double rate =
            run_hub(hub_bin, subs, (size_t)n, agents[a], (size_t)batch, th,
                    (int)in_flight, &fell_back, &secs, &cpu, &acpu);
        if (rate < 0) {
            printf("agents=%-3d FAILED\n", agents[a]);
            status = 1;
            continue;
        }
        /* CPU per row is steadier than wall time on a shared machine;
         * the target is the wall-time ratio. The bench's agents run on
         * the same cores as the hub: their CPU is printed beside. */
        printf("agents=%-3d hub threads=%-3d %ld in %.2f s: %.0f merged/s, "
               "%.0f%% of raw SQLite (target >= 60%%); hub CPU %.1f us a "
               "submission, agents' %.1f us",
               agents[a], th, n, secs, rate, 100.0 * rate / base,
               1e6 * cpu / (double)n, 1e6 * acpu / (double)n);
        if (in_flight > 1)
            printf("; %d of %d went on one at a time after a refused push",
                   fell_back, agents[a]);
        printf("\n");
    }
    for (long i = 0; i < n; i++)
        free(subs[i].answers_json);
    free(subs);
    curl_global_cleanup();
    return status;
}
