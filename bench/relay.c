/*
 * relay.c - bench/proxy.c as a program, for shell benches
 * (bench/attach_thin.sh): relays 127.0.0.1:PORT (written to --port-file)
 * to the hub, shaped like a thin link, until SIGTERM or SIGINT. Counts
 * go to --stats-file on SIGUSR1 and at exit, one "name value" a line.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void write_stats(bench_proxy *p, const char *path)
{
    bench_proxy_stats st;
    char tmp[4200];
    bench_proxy_counts(p, &st);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f,
            "up %lld\ndown %lld\nsegments %lld\nlate %lld\nconns %ld\n"
            "drops %ld\ndrop_lost %lld\n",
            st.up, st.down, st.segments, st.lost, st.conns, st.drops,
            st.drop_lost);
    if (fclose(f) == 0)
        rename(tmp, path);
}

int main(int argc, char **argv)
{
    long target = 0, rate = 64000, rtt = 300, loss = 30, drop = 0, seed = 1;
    const char *port_file = NULL, *stats_file = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = v ? 0 : -1;
        if (r == 0 && strcmp(o, "--target") == 0)
            r = bench_int_arg(o, v, 1, 65535, &target);
        else if (r == 0 && strcmp(o, "--rate-bps") == 0)
            r = bench_int_arg(o, v, 0, 1000000000L, &rate);
        else if (r == 0 && strcmp(o, "--rtt-ms") == 0)
            r = bench_int_arg(o, v, 0, 10000, &rtt);
        else if (r == 0 && strcmp(o, "--loss-permille") == 0)
            r = bench_int_arg(o, v, 0, 500, &loss);
        else if (r == 0 && strcmp(o, "--drop-every-ms") == 0)
            r = bench_int_arg(o, v, 0, 3600000, &drop);
        else if (r == 0 && strcmp(o, "--seed") == 0)
            r = bench_int_arg(o, v, 0, 1000000000L, &seed);
        else if (r == 0 && strcmp(o, "--port-file") == 0)
            port_file = v;
        else if (r == 0 && strcmp(o, "--stats-file") == 0)
            stats_file = v;
        else
            r = -1;
        if (r != 0) {
            fprintf(stderr,
                    "usage: bench_relay --target PORT --port-file F "
                    "--stats-file F [--rate-bps B] [--rtt-ms MS] "
                    "[--loss-permille P] [--drop-every-ms MS] [--seed N]\n");
            return 2;
        }
    }
    if (!target || !port_file || !stats_file) {
        fprintf(stderr, "bench_relay: --target, --port-file and --stats-file "
                        "are required\n");
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* the relay threads too */
    bench_link link = {(double)rate, (int)(rtt / 2), (int)loss, (int)drop};
    bench_proxy *p = bench_proxy_start((int)target, &link, (uint64_t)seed);
    if (!p) {
        fprintf(stderr, "bench_relay: cannot listen\n");
        return 1;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", bench_proxy_port(p)) < 0 || fclose(f) != 0 ||
        rename(tmp, port_file) != 0) {
        fprintf(stderr, "bench_relay: cannot write %s\n", port_file);
        return 1;
    }
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        write_stats(p, stats_file);
        if (sig != SIGUSR1)
            break;
    }
    return 0;
}
