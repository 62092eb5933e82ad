/*
 * bench_wire / bench_thinlink - one real `fieldsync-agent sync` of N
 * recorded submissions through a relay in front of a real hub.
 *
 * bench_wire: the relay only counts. Bytes on the wire are everything the
 * sync moved in both directions, HTTP request and status lines, headers
 * and bodies (TCP payload); a second figure adds an estimate of TCP/IP
 * headers (52 bytes a segment). The baseline is gzip -6 of the same
 * recorded rows as JSON lines, in batches of the agent's batch size.
 *
 * bench_thinlink (THIN defined): the relay shapes the link like 2G (64
 * kbit/s each way, 300 ms round trip, 3% of segments resent); the figure
 * is the sync's wall time beside the ideal, the gzip baseline bytes over
 * the bandwidth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent.h"
#include "bench.h"

#ifdef THIN
#define NAME "bench_thinlink"
#define DEFAULT_N 1000
#else
#define NAME "bench_wire"
#define DEFAULT_N 10000
#endif

int main(int argc, char **argv)
{
    const char *hub_bin = FS_BENCH_HUB, *agent_bin = FS_BENCH_AGENT;
    long n = DEFAULT_N, seed = 11, batch = 0;
    long rate = 64000, rtt = 300, loss = 30; /* loss in permille */
    /* Every option takes a value: step over both. */
    for (int i = 1; i < argc; i += 2) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (strcmp(o, "--hub") == 0 && v)
            hub_bin = v;
        else if (strcmp(o, "--agent") == 0 && v)
            agent_bin = v;
        else if (strcmp(o, "--n") == 0)
            r = bench_int_arg(o, v, 1, 1000000, &n);
        else if (strcmp(o, "--batch") == 0)
            r = bench_int_arg(o, v, 1, 1000, &batch);
        else if (strcmp(o, "--seed") == 0)
            r = bench_int_arg(o, v, 1, 1L << 30, &seed);
        else if (strcmp(o, "--rate") == 0)
            r = bench_int_arg(o, v, 1000, 1000000000, &rate);
        else if (strcmp(o, "--rtt-ms") == 0)
            r = bench_int_arg(o, v, 0, 10000, &rtt);
        else if (strcmp(o, "--loss-permille") == 0)
            r = bench_int_arg(o, v, 0, 500, &loss);
        else {
            fprintf(stderr, "usage: " NAME " [--hub PATH] [--agent PATH] "
                            "[--n N] [--batch N] [--seed N] [--rate BITS] "
                            "[--rtt-ms MS] [--loss-permille P]\n");
            return 2;
        }
        if (r != 0)
            return 2;
    }
    fa_sync_options defaults;
    fa_sync_options_default(&defaults);
    if (batch == 0)
        batch = (long)defaults.batch_count;
    curl_global_init(CURL_GLOBAL_DEFAULT);
#ifdef THIN
    printf("== thin link ==\n");
    printf("command: " NAME " --n %ld --batch %ld --seed %ld --rate %ld "
           "--rtt-ms %ld --loss-permille %ld\n",
           n, batch, seed, rate, rtt, loss);
    bench_link link = {(double)rate, (int)(rtt / 2), (int)loss, 0};
#else
    printf("== wire bytes ==\n");
    printf("command: " NAME " --n %ld --batch %ld --seed %ld\n", n, batch,
           seed);
    bench_link link = {0, 0, 0, 0};
#endif
    char dir[4096], adir[4200];
    if (bench_tmpdir(dir, sizeof dir, "wire") != 0)
        return 1;
    snprintf(adir, sizeof adir, "%s/agent", dir);
    bench_hub h;
    if (bench_hub_start(&h, hub_bin, dir, NULL, 16) != 0)
        return 1;
    int status = 1;
    size_t gz = 0, raw = 0;
    bench_proxy *px = NULL;
    if (bench_seed_agent(&h, hub_bin, adir, h.url, n, (uint64_t)seed,
                         (size_t)batch, &gz, &raw) == 0)
        px = bench_proxy_start(h.port, &link, (uint64_t)seed);
    char url[128], bs[16];
    snprintf(bs, sizeof bs, "%ld", batch);
    if (px) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d", bench_proxy_port(px));
        if (bench_agent_set_hub(adir, url) != 0)
            px = NULL;
    }
    if (px) {
        char *argv_sync[] = {(char *)agent_bin, "--dir", adir,      "sync",
                             "--batch",         bs,      "--quiet", NULL};
        char out[4096];
        long rss = 0;
        double t0 = bench_now();
        int rc = bench_run(argv_sync, out, sizeof out, &rss);
        double secs = bench_now() - t0;
        bench_proxy_stats st;
        bench_proxy_counts(px, &st);
        long long held = bench_hub_count(&h);
        if (rc != 0 || held != n) {
            fprintf(stderr, NAME ": sync exited %d, hub holds %lld of %ld\n",
                    rc, held, n);
        } else {
            status = 0;
            double wire = (double)(st.up + st.down);
            double tcp = wire + 52.0 * (double)st.segments;
            (void)tcp;
            printf("data: %ld submissions, %.0f B each as JSON lines "
                   "(agent batch %ld)\n",
                   n, (double)raw / (double)n, batch);
            printf("gzip -6 baseline: %.1f B per submission (%zu B)\n",
                   (double)gz / (double)n, gz);
#ifdef THIN
            double ideal = (double)gz * 8.0 / (double)rate;
            printf("sync over %ld bit/s, %ld ms RTT, %.1f%% loss: %.1f s; "
                   "ideal (gzip bytes / bandwidth) %.1f s; ratio %.2fx "
                   "(target <= 1.5x)\n",
                   rate, rtt, (double)loss / 10.0, secs, ideal, secs / ideal);
            printf("moved %.0f B (%.1f B per submission) in %ld "
                   "connection(s); %lld of %lld segments resent\n",
                   wire, wire / (double)n, st.conns, st.lost, st.segments);
#else
            printf("on the wire: %.1f B per submission (up %lld B, down "
                   "%lld B, %ld connection(s), HTTP headers included); "
                   "ratio to gzip %.2fx (target <= 1.15x); target <= 220 B "
                   "per submission\n",
                   wire / (double)n, st.up, st.down, st.conns,
                   wire / (double)gz);
            printf("with TCP/IP headers (52 B a segment, %lld segments): "
                   "%.1f B per submission\n",
                   st.segments, tcp / (double)n);
            (void)secs;
#endif
        }
        bench_proxy_stop(px);
    }
    if (bench_hub_stop(&h) != 0)
        status = 1;
    bench_rmrf(dir);
    curl_global_cleanup();
    return status;
}
