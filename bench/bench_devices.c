/*
 * bench_devices - many devices pushing at the same moment.
 *
 * --devices devices are enrolled through the real path, then each sends
 * one changeset of --per submissions at once, every device over its own
 * new connection (curl_multi, all transfers started together). Latency is
 * from the start of the burst to the device's reply; an error is any
 * transfer that failed or answered other than 200. The hub runs with its
 * default worker threads and per-device rate limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "bench.h"

#define BASE_MS 1767225600000ull

int main(int argc, char **argv)
{
    const char *hub_bin = FS_BENCH_HUB;
    long ndev = 500, per = 10, seed = 7, threads = 32; /* the hub's default */
    /* Every option takes a value: step over both. */
    for (int i = 1; i < argc; i += 2) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (strcmp(o, "--hub") == 0 && v)
            hub_bin = v;
        else if (strcmp(o, "--devices") == 0)
            r = bench_int_arg(o, v, 1, 5000, &ndev);
        else if (strcmp(o, "--per") == 0)
            r = bench_int_arg(o, v, 1, 1000, &per);
        else if (strcmp(o, "--threads") == 0)
            r = bench_int_arg(o, v, 1, 256, &threads);
        else if (strcmp(o, "--seed") == 0)
            r = bench_int_arg(o, v, 1, 1L << 30, &seed);
        else {
            fprintf(stderr, "usage: bench_devices [--hub PATH] [--devices "
                            "N] [--per N] [--threads N] [--seed N]\n");
            return 2;
        }
        if (r != 0)
            return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("== concurrency ==\n");
    printf("command: bench_devices --devices %ld --per %ld --threads %ld "
           "--seed %ld\n",
           ndev, per, threads, seed);
    char dir[4096];
    if (bench_tmpdir(dir, sizeof dir, "devices") != 0)
        return 1;
    bench_hub h;
    if (bench_hub_start(&h, hub_bin, dir, NULL, (int)threads) != 0)
        return 1;
    bench_device *devs = calloc((size_t)ndev, sizeof *devs);
    bench_pusher *ps = calloc((size_t)ndev, sizeof *ps);
    fs_buf *bodies = calloc((size_t)ndev, sizeof *bodies);
    double *lat = calloc((size_t)ndev, sizeof *lat);
    fs_submission *subs = calloc((size_t)per, sizeof *subs);
    bench_rng r;
    bench_rng_seed(&r, (uint64_t)seed);
    int status = 0;
    double t_enrol = bench_now();
    for (long d = 0; d < ndev && status == 0; d++) {
        char name[32];
        snprintf(name, sizeof name, "bench-dev-%ld", d);
        if (bench_enroll(&h, hub_bin, name, &devs[d]) != 0) {
            status = 1;
            break;
        }
        for (long k = 0; k < per; k++)
            bench_submission(&r, BASE_MS + (uint64_t)(d * per + k) * 1000,
                             &subs[k]);
        fs_buf_init(&bodies[d], 1024 * 1024);
        if (bench_encode(subs, (size_t)per, devs[d].id, 1, 6, &bodies[d],
                         NULL) != FS_OK)
            status = 1;
        for (long k = 0; k < per; k++)
            free(subs[k].answers_json);
    }
    t_enrol = bench_now() - t_enrol;
    long errors = 0, done = 0;
    double wall = 0;
    if (status == 0) {
        CURLM *m = curl_multi_init();
        for (long d = 0; d < ndev; d++) {
            bench_pusher_init(&ps[d], h.url, devs[d].token);
            bench_pusher_body(&ps[d], bodies[d].data, bodies[d].len);
            /* A new connection per device, as separate phones have. */
            curl_easy_setopt(ps[d].curl, CURLOPT_FORBID_REUSE, 1L);
            curl_easy_setopt(ps[d].curl, CURLOPT_PRIVATE, (void *)&ps[d]);
            curl_multi_add_handle(m, ps[d].curl);
        }
        double t0 = bench_now();
        int running = 1;
        while (running) {
            curl_multi_perform(m, &running);
            CURLMsg *msg;
            int left;
            while ((msg = curl_multi_info_read(m, &left))) {
                if (msg->msg != CURLMSG_DONE)
                    continue;
                bench_pusher *p = NULL;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
                long code = 0;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
                                  &code);
                long d = (long)(p - ps);
                lat[done++] = bench_now() - t0;
                if (msg->data.result != CURLE_OK || code != 200) {
                    if (errors < 5)
                        fprintf(stderr, "device %ld: %s, HTTP %ld %.120s\n", d,
                                curl_easy_strerror(msg->data.result), code,
                                (const char *)p->reply.data);
                    errors++;
                }
                curl_multi_remove_handle(m, msg->easy_handle);
            }
            if (running)
                curl_multi_poll(m, NULL, 0, 100, NULL);
        }
        wall = bench_now() - t0;
        curl_multi_cleanup(m);
    }
    long long held = bench_hub_count(&h);
    if (bench_hub_stop(&h) != 0) {
        fprintf(stderr, "bench_devices: hub did not stop cleanly\n");
        status = 1;
    }
    if (status == 0) {
        printf("setup: %ld devices enrolled in %.1f s (enroll-code + "
               "POST /api/v1/enroll each)\n",
               ndev, t_enrol);
        printf("%ld devices x %ld submissions at once: burst done in %.2f s; "
               "hub holds %lld (expected %ld)\n",
               ndev, per, wall, held, ndev * per);
        printf("push latency p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, max "
               "%.0f ms\n",
               1000 * bench_percentile(lat, (size_t)done, 50),
               1000 * bench_percentile(lat, (size_t)done, 95),
               1000 * bench_percentile(lat, (size_t)done, 99),
               1000 * bench_percentile(lat, (size_t)done, 100));
        printf("errors: %ld of %ld (target 0)\n", errors + (ndev - done), ndev);
        if (held != ndev * per)
            status = 1;
    }
    for (long d = 0; d < ndev; d++) {
        if (ps[d].curl)
            bench_pusher_free(&ps[d]);
        fs_buf_free(&bodies[d]);
    }
    free(devs);
    free(ps);
    free(bodies);
    free(lat);
    free(subs);
    bench_rmrf(dir);
    curl_global_cleanup();
    return status;
}
