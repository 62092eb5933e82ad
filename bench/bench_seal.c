/*
 * bench_seal - what sealing answers costs (SECURITY.md, "Sealed
 * answers"): the agent's CPU per submission at finalize, and the bytes a
 * submission takes in a pushed changeset, sealed beside unsealed.
 *
 * The same seeded submissions bench_merge pushes (the 25-field bench
 * form, ~700 B of answers). Sealed: the bench form with its free-text
 * comment, the tension questions, the trust in police and the location
 * marked sealed, to a key pair made here. Per submission, in one thread:
 * unsealed, the agent's canonical text of the answers (parse, print);
 * sealed, the same plus fs_seal_answers (a fresh key, XChaCha20-Poly1305,
 * a sealed box) as the agent does at finalize. Thread CPU time, best of
 * --reps. Bytes: each set encoded as the agent pushes it (changesets of
 * --batch, gzip level 9), body bytes per submission; HTTP adds the same
 * to both. Then the steward's side: opening every envelope with the key.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "fs_form.h"
#include "fs_seal.h"

#define BASE_MS 1767225600000ull /* as bench_merge */

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const sealed_fields[] = {
    "comment", "tension_seen", "tension_kinds", "trust_police", "lat", "lon"};

/* The bench form with sealed_fields sealed to key "bench". */
static fs_form *sealed_form(void)
{
    cJSON *doc = fs_json_parse_stored(bench_form_json());
    cJSON *fld;
    cJSON_AddStringToObject(doc, "seal_key", "bench");
    cJSON_ArrayForEach(fld, cJSON_GetObjectItem(doc, "fields"))
    {
        const char *name =
            cJSON_GetStringValue(cJSON_GetObjectItem(fld, "name"));
        for (size_t i = 0; i < sizeof sealed_fields / sizeof *sealed_fields;
             i++)
            if (name && strcmp(name, sealed_fields[i]) == 0)
                cJSON_AddBoolToObject(fld, "sealed", 1);
    }
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    fs_form *f = NULL;
    if (text)
        fs_form_parse(text, strlen(text), FS_FORM_STRICT, &f, NULL);
    free(text);
    return f;
}

/* The answers of every submission as the agent stores them: canonical
 * text, sealed with pk when f is not NULL. CPU seconds of this thread. */
static double finalize_all(fs_submission *subs, char **out, size_t n,
                           const fs_form *f, const unsigned char *pk)
{
    double t0 = thread_cpu();
    for (size_t i = 0; i < n; i++) {
        cJSON *a = fs_json_parse_stored(subs[i].answers_json);
        if (f && fs_seal_answers(f, a, subs[i].id, "bench", pk) != FS_OK) {
            fprintf(stderr, "bench_seal: sealing failed\n");
            exit(1);
        }
        free(out[i]);
        out[i] = cJSON_PrintUnformatted(a);
        cJSON_Delete(a);
    }
    return thread_cpu() - t0;
}

/* Body bytes of subs (answers from texts) as the agent pushes them. */
static size_t wire_bytes(fs_submission *subs, char **texts, size_t n,
                         size_t batch, size_t *json)
{
    size_t total = 0;
    *json = 0;
    for (size_t off = 0; off < n; off += batch) {
        size_t cnt = n - off < batch ? n - off : batch;
        fs_submission *part = calloc(cnt, sizeof *part);
        for (size_t i = 0; part && i < cnt; i++) {
            part[i] = subs[off + i];
            part[i].answers_json = texts[off + i];
            part[i].answers = NULL;
        }
        fs_buf body;
        size_t jl = 0;
        fs_buf_init(&body, 16 * 1024 * 1024);
        if (!part || bench_encode(part, cnt,
                                  "01a22383-0f4a-79b9-b9d3-"
                                  "d0e744300001",
                                  (int64_t)off + 1, 9, &body, &jl) != FS_OK) {
            fprintf(stderr, "bench_seal: cannot encode\n");
            exit(1);
        }
        total += body.len;
        *json += jl;
        fs_buf_free(&body);
        free(part);
    }
    return total;
}

int main(int argc, char **argv)
{
    long n = 20000, seed = 7, batch = 200, reps = 3;
    for (int i = 1; i < argc; i += 2) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (strcmp(o, "--n") == 0)
            r = bench_int_arg(o, v, 1, 1000000, &n);
        else if (strcmp(o, "--seed") == 0)
            r = bench_int_arg(o, v, 1, 1L << 30, &seed);
        else if (strcmp(o, "--batch") == 0)
            r = bench_int_arg(o, v, 1, 1000, &batch);
        else if (strcmp(o, "--reps") == 0)
            r = bench_int_arg(o, v, 1, 20, &reps);
        else {
            fprintf(stderr, "usage: bench_seal [--n N] [--seed N] "
                            "[--batch N] [--reps N]\n");
            return 2;
        }
        if (r != 0)
            return 2;
    }
    printf("== sealing ==\n");
    printf("command: bench_seal --n %ld --seed %ld --batch %ld --reps %ld\n", n,
           seed, batch, reps);
    fs_form *f = sealed_form();
    unsigned char pk[FS_SEAL_KEY_BYTES], sk[FS_SEAL_KEY_BYTES];
    if (!f || fs_seal_init() != FS_OK) {
        fprintf(stderr, "bench_seal: the sealed bench form does not parse\n");
        return 1;
    }
    crypto_box_keypair(pk, sk);
    fs_submission *subs = calloc((size_t)n, sizeof *subs);
    char **plain = calloc((size_t)n, sizeof *plain);
    char **sealed = calloc((size_t)n, sizeof *sealed);
    bench_rng rng;
    bench_rng_seed(&rng, (uint64_t)seed);
    for (long i = 0; subs && i < n; i++)
        if (bench_submission(&rng, BASE_MS, &subs[i]) != FS_OK)
            return 1;
    if (!subs || !plain || !sealed)
        return 1;
    double best_plain = 1e9, best_sealed = 1e9;
    for (long r = 0; r < reps; r++) {
        double t = finalize_all(subs, plain, (size_t)n, NULL, NULL);
        best_plain = t < best_plain ? t : best_plain;
        t = finalize_all(subs, sealed, (size_t)n, f, pk);
        best_sealed = t < best_sealed ? t : best_sealed;
    }
    size_t jp = 0, js = 0;
    size_t wp = wire_bytes(subs, plain, (size_t)n, (size_t)batch, &jp);
    size_t ws = wire_bytes(subs, sealed, (size_t)n, (size_t)batch, &js);
    /* The steward opens every envelope once. */
    double t0 = thread_cpu();
    long opened = 0;
    for (long i = 0; i < n; i++) {
        cJSON *a = fs_json_parse_stored(sealed[i]), *p = NULL;
        char why[256];
        opened += fs_seal_open(f, a, subs[i].id, "bench", pk, sk, &p, why,
                               sizeof why) == FS_OK;
        cJSON_Delete(p);
        cJSON_Delete(a);
    }
    double t_open = thread_cpu() - t0;
    if (opened != n) {
        fprintf(stderr, "bench_seal: %ld of %ld envelopes opened\n", opened, n);
        return 1;
    }
    double dn = (double)n;
    printf("data: %ld submissions of the bench form, %zu of its fields "
           "sealed (%.0f B of answers each unsealed, %.0f B sealed)\n",
           n, sizeof sealed_fields / sizeof *sealed_fields, (double)jp / dn,
           (double)js / dn);
    printf("agent CPU at finalize, per submission (best of %ld): unsealed "
           "%.1f us, sealed %.1f us (+%.1f us)\n",
           reps, best_plain / dn * 1e6, best_sealed / dn * 1e6,
           (best_sealed - best_plain) / dn * 1e6);
    printf("changeset body (gzip 9, batches of %ld), per submission: "
           "unsealed %.1f B, sealed %.1f B (%.2fx)\n",
           batch, (double)wp / dn, (double)ws / dn, (double)ws / (double)wp);
    printf("steward, opening one envelope: %.1f us\n", t_open / dn * 1e6);
    for (long i = 0; i < n; i++) {
        free(plain[i]);
        free(sealed[i]);
        free(subs[i].answers_json);
    }
    free(plain);
    free(sealed);
    free(subs);
    fs_form_free(f);
    return 0;
}
