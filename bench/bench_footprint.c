/*
 * bench_footprint - what `fieldsync-agent` costs a cheap device: peak RSS
 * of the real binary recording and syncing N submissions, and the size of
 * the stripped binary.
 *
 * Recording N one process at a time takes ~45 ms each here (a process
 * start and an fsync per record), so N are recorded in this process with
 * the agent library (the code `record` runs) and --record-cli of them
 * with the binary, whose peak RSS is the largest seen. The sync of all N
 * is one run of the binary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "bench.h"

int main(int argc, char **argv)
{
    const char *hub_bin = FS_BENCH_HUB, *agent_bin = FS_BENCH_AGENT;
    long n = 10000, cli = 100, seed = 13;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (strcmp(o, "--hub") == 0 && v)
            hub_bin = v;
        else if (strcmp(o, "--agent") == 0 && v)
            agent_bin = v;
        else if (strcmp(o, "--n") == 0)
            r = bench_int_arg(o, v, 1, 1000000, &n);
        else if (strcmp(o, "--record-cli") == 0)
            r = bench_int_arg(o, v, 1, 100000, &cli);
        else if (strcmp(o, "--seed") == 0)
            r = bench_int_arg(o, v, 1, 1L << 30, &seed);
        else {
            fprintf(stderr, "usage: bench_footprint [--hub PATH] [--agent "
                            "PATH] [--n N] [--record-cli N] [--seed N]\n");
            return 2;
        }
        if (r != 0)
            return 2;
        i++;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("== agent footprint ==\n");
    printf("command: bench_footprint --n %ld --record-cli %ld --seed %ld\n",
           n, cli, seed);
    char dir[4096], adir[4200], ans[4200], stripped[4200];
    if (bench_tmpdir(dir, sizeof dir, "footprint") != 0)
        return 1;
    snprintf(adir, sizeof adir, "%s/agent", dir);
    snprintf(ans, sizeof ans, "%s/answers.json", dir);
    snprintf(stripped, sizeof stripped, "%s/fieldsync-agent.stripped", dir);
    bench_hub h;
    if (bench_hub_start(&h, hub_bin, dir, NULL, 16) != 0)
        return 1;
    int status = 0;
    long rec_rss = 0, sync_rss = 0, status_rss = 0;
    if (bench_seed_agent(&h, hub_bin, adir, h.url, n - cli, (uint64_t)seed,
                         100, NULL, NULL) != 0)
        status = 1;
    bench_rng r;
    bench_rng_seed(&r, (uint64_t)seed + 1);
    for (long i = 0; i < cli && status == 0; i++) {
        fs_buf b;
        fs_buf_init(&b, 64 * 1024);
        bench_answers(&r, &b);
        FILE *f = fopen(ans, "w");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0)
            status = 1;
        fs_buf_free(&b);
        char *argv_rec[] = {(char *)agent_bin, "--dir", adir, "record",
                            BENCH_FORM_ID, "--answers", ans, "--area",
                            "CITY-N01", NULL};
        char out[256];
        long rss = 0;
        if (bench_run(argv_rec, out, sizeof out, &rss) != 0)
            status = 1;
        if (rss > rec_rss)
            rec_rss = rss;
    }
    char out[4096];
    char *argv_sync[] = {(char *)agent_bin, "--dir", adir, "sync", "--quiet",
                         NULL};
    if (status == 0 && bench_run(argv_sync, out, sizeof out, &sync_rss) != 0)
        status = 1;
    char *argv_status[] = {(char *)agent_bin, "--dir", adir, "status", NULL};
    if (status == 0 &&
        bench_run(argv_status, out, sizeof out, &status_rss) != 0)
        status = 1;
    long long held = bench_hub_count(&h);
    if (held != n)
        status = 1;
    char *argv_strip[] = {"/usr/bin/strip", "-o", stripped,
                          (char *)agent_bin, NULL};
    struct stat sb, ss;
    memset(&ss, 0, sizeof ss);
    int have_strip = bench_run(argv_strip, out, sizeof out, NULL) == 0 &&
                     stat(stripped, &ss) == 0;
    stat(agent_bin, &sb);
    if (status == 0) {
        long peak = rec_rss > sync_rss ? rec_rss : sync_rss;
        printf("recorded %ld (%ld through the binary), synced %ld; hub "
               "holds %lld\n",
               n, cli, n, held);
        printf("peak RSS: record %.1f MB, sync of %ld %.1f MB, status "
               "%.1f MB; peak %.1f MB (target <= 8 MB)\n",
               rec_rss / 1024.0, n, sync_rss / 1024.0, status_rss / 1024.0,
               peak / 1024.0);
        if (have_strip)
            printf("binary: %lld B as built, %lld B stripped (dynamically "
                   "linked: libcurl, SQLite, zlib, cJSON)\n",
                   (long long)sb.st_size, (long long)ss.st_size);
    } else {
        fprintf(stderr, "bench_footprint: a step failed (hub holds %lld of "
                        "%ld)\n",
                held, n);
    }
    if (bench_hub_stop(&h) != 0)
        status = 1;
    bench_rmrf(dir);
    curl_global_cleanup();
    return status;
}
