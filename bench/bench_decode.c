/*
 * bench_decode - CPU the hub's protocol library spends on one submission:
 * decoding the changeset it came in, checking its answers against the
 * form, freeing what the decode made.
 *
 * The same seeded submissions bench_merge pushes, split among --agents
 * devices and encoded the same way (changesets of --batch, gzip level 9),
 * are decoded here in one thread with fs_changeset_decode (digest
 * included, as the hub asks for it), each submission's answers are
 * checked with fs_answers_validate against the bench form as the hub's
 * merge does, and the changeset is freed. No HTTP, no SQLite: the figure
 * is steady on a busy machine, where bench_merge's is not, so it is the
 * A/B measure for work on protocol/. Thread CPU time, best of --reps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "bench.h"
#include "fs_form.h"

#define BASE_MS 1767225600000ull /* as bench_merge */

/* CPU seconds of this thread. */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct phase_cpu {
    double decode, validate, release;
} phase_cpu;

/* Splits subs among k devices the way bench_merge does (device a has
 * submissions a, a+k, ...; each numbered from 1) and encodes them;
 * returns the number of bodies or 0. */
static size_t encode_all(const fs_submission *subs, size_t n, int k,
                         size_t batch, fs_buf **out)
{
    fs_submission *mine = calloc(n / (size_t)k + 1, sizeof *mine);
    fs_buf *bodies = calloc(n / batch + (size_t)k + 1, sizeof *bodies);
    size_t nb = 0;
    int ok = mine != NULL && bodies != NULL;

    for (int a = 0; a < k && ok; a++) {
        char dev[FS_UUID_LEN + 1];
        size_t m = 0;

        snprintf(dev, sizeof dev, "01a22383-0f4a-79b9-b9d3-d0e7443%05u",
                 (unsigned)a % 100000u);
        for (size_t i = (size_t)a; i < n; i += (size_t)k)
            mine[m++] = subs[i];
        for (size_t off = 0; off < m && ok; off += batch) {
            size_t cnt = m - off < batch ? m - off : batch;

            fs_buf_init(&bodies[nb], 1024 * 1024);
            ok = bench_encode(mine + off, cnt, dev, (int64_t)off + 1, 9,
                              &bodies[nb], NULL) == FS_OK;
            nb++;
        }
    }
    free(mine);
    if (!ok) {
        for (size_t b = 0; b < nb; b++)
            fs_buf_free(&bodies[b]);
        free(bodies);
        return 0;
    }
    *out = bodies;
    return nb;
}

/* One pass over every body; *bad counts what did not decode or check. */
static void run_once(const fs_buf *bodies, size_t nb, const fs_form *form,
                     phase_cpu *t, size_t *subs, size_t *bad)
{
    fs_limits lim;
    fs_limits_default(&lim);
    memset(t, 0, sizeof *t);
    *subs = 0;
    *bad = 0;
    for (size_t b = 0; b < nb; b++) {
        fs_changeset *cs = NULL;
        fs_err err = {0, ""};
        char digest[65];
        double t0 = thread_cpu();
        int rc = fs_changeset_decode(bodies[b].data, bodies[b].len, 1, &lim,
                                     &cs, digest, &err);
        double t1 = thread_cpu();
        t->decode += t1 - t0;
        if (rc != FS_OK) {
            fprintf(stderr, "bench_decode: body %zu: %s\n", b, err.msg);
            (*bad)++;
            continue;
        }
        for (size_t i = 0; i < cs->n; i++) {
            const fs_change *c = &cs->changes[i];
            fs_problems probs;
            fs_problems_init(&probs);
            if (c->err != FS_OK ||
                fs_answers_validate(form, c->sub.answers, c->sub.area,
                                    &probs) != FS_OK) {
                if (*bad == 0)
                    fprintf(stderr, "bench_decode: change %zu: %s\n", i,
                            c->err ? c->errmsg : probs.items[0].msg);
                (*bad)++;
            }
        }
        double t2 = thread_cpu();
        t->validate += t2 - t1;
        *subs += cs->n;
        fs_changeset_free(cs);
        t->release += thread_cpu() - t2;
    }
}

int main(int argc, char **argv)
{
    fa_sync_options defaults;
    fa_sync_options_default(&defaults);
    long n = 100000, batch = (long)defaults.batch_count, seed = 42, agents = 10,
         reps = 3;
    /* Every option takes a value: step over both. */
    for (int i = 1; i < argc; i += 2) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (strcmp(o, "--n") == 0)
            r = bench_int_arg(o, v, 1, 10000000, &n);
        else if (strcmp(o, "--batch") == 0)
            r = bench_int_arg(o, v, 1, 1000, &batch);
        else if (strcmp(o, "--seed") == 0)
            r = bench_int_arg(o, v, 1, 1L << 30, &seed);
        else if (strcmp(o, "--agents") == 0)
            r = bench_int_arg(o, v, 1, 1000, &agents);
        else if (strcmp(o, "--reps") == 0)
            r = bench_int_arg(o, v, 1, 100, &reps);
        else {
            fprintf(stderr, "usage: bench_decode [--n N] [--agents K] "
                            "[--batch N] [--reps R] [--seed N]\n");
            return 2;
        }
        if (r != 0)
            return 2;
    }
    printf("== decode, form check, free (one thread, no HTTP, no SQLite) "
           "==\n");
    printf("command: bench_decode --n %ld --agents %ld --batch %ld --reps "
           "%ld --seed %ld\n",
           n, agents, batch, reps, seed);

    fs_form *form = NULL;
    fs_problems fp;
    fs_problems_init(&fp);
    const char *fj = bench_form_json();
    if (fs_form_parse(fj, strlen(fj), 0, &form, &fp) != FS_OK) {
        fprintf(stderr, "bench_decode: bench form: %s\n", fp.items[0].msg);
        return 1;
    }
    fs_submission *subs = calloc((size_t)n, sizeof *subs);
    bench_rng r;
    bench_rng_seed(&r, (uint64_t)seed);
    for (long i = 0; i < n; i++)
        if (!subs || bench_submission(&r, BASE_MS + (uint64_t)i * 3000,
                                      &subs[i]) != FS_OK)
            return 1;
    fs_buf *bodies = NULL;
    size_t nb =
        encode_all(subs, (size_t)n, (int)agents, (size_t)batch, &bodies);
    if (nb == 0)
        return 1;
    size_t zbytes = 0;
    for (size_t b = 0; b < nb; b++)
        zbytes += bodies[b].len;
    printf("data: %ld submissions in %zu gzipped changesets, %.0f B each "
           "on average\n",
           n, nb, (double)zbytes / (double)nb);

    phase_cpu best = {0, 0, 0};
    int status = 0;
    for (long k = 0; k < reps; k++) {
        phase_cpu t;
        size_t done = 0, bad = 0;
        run_once(bodies, nb, form, &t, &done, &bad);
        if (bad > 0 || done != (size_t)n) {
            fprintf(stderr,
                    "bench_decode: %zu of %ld submissions failed, "
                    "%zu decoded\n",
                    bad, n, done);
            status = 1;
            break;
        }
        /* Each phase's best: the least disturbed by other processes. */
        if (k == 0 || t.decode < best.decode)
            best.decode = t.decode;
        if (k == 0 || t.validate < best.validate)
            best.validate = t.validate;
        if (k == 0 || t.release < best.release)
            best.release = t.release;
    }
    if (status == 0) {
        double us = 1e6 / (double)n;
        printf("CPU us a submission, best of %ld: decode %.2f, validate "
               "%.2f, free %.2f; total %.2f\n",
               reps, best.decode * us, best.validate * us, best.release * us,
               (best.decode + best.validate + best.release) * us);
    }
    for (size_t b = 0; b < nb; b++)
        fs_buf_free(&bodies[b]);
    free(bodies);
    for (long i = 0; i < n; i++)
        free(subs[i].answers_json);
    free(subs);
    fs_form_free(form);
    return status;
}
