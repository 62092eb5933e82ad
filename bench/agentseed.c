/*
 * agentseed.c - see bench_seed_agent in bench.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent_int.h"
#include "bench.h"

/* The recorded rows as the agent stores them, one JSON object a line,
 * gzipped batch lines at a time. */
static int gzip_baseline(fa_agent *ag, size_t batch, size_t *gz, size_t *raw)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ag->db,
                           "SELECT json_object('id', id, 'rev', rev, "
                           "'form', form_id, 'form_version', form_version, "
                           "'area', area, 'collector', collector, 'hlc', "
                           "hlc, 'created_ms', created_ms, 'answers', "
                           "json(answers)) FROM submissions ORDER BY "
                           "created_ms, id",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    fs_buf lines, out;
    fs_buf_init(&lines, 64 * 1024 * 1024);
    fs_buf_init(&out, 64 * 1024 * 1024);
    size_t rows = 0;
    int rc = 0;
    *gz = *raw = 0;
    for (;;) {
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            fs_buf_append(&lines, t, strlen(t));
            fs_buf_append(&lines, "\n", 1);
            rows++;
        }
        if (lines.len && (s != SQLITE_ROW || rows % batch == 0)) {
            fs_buf_reset(&out);
            if (fs_gzip(lines.data, lines.len, 6, &out) != FS_OK) {
                rc = -1;
                break;
            }
            *gz += out.len;
            *raw += lines.len;
            fs_buf_reset(&lines);
        }
        if (s != SQLITE_ROW)
            break;
    }
    sqlite3_finalize(st);
    fs_buf_free(&lines);
    fs_buf_free(&out);
    return rc;
}

int bench_seed_agent(const bench_hub *h, const char *hub_bin, const char *dir,
                     const char *url, long n, uint64_t seed, size_t batch,
                     size_t *gz_bytes, size_t *raw_bytes)
{
    char code[128], err[512];
    if (bench_enroll_code(h, hub_bin, "bench-agent", code, sizeof code) != 0)
        return -1;
    fa_agent *ag = NULL;
    if (fa_open(dir, &ag, err, sizeof err) != FA_OK) {
        fprintf(stderr, "bench: %s\n", err);
        return -1;
    }
    fa_sync_options o;
    fa_sync_options_default(&o);
    fa_sync_report rep;
    int rc = fa_enroll(ag, url, code, "bench-agent", "Amina", NULL, 0);
    if (rc == FA_OK)
        rc = fa_sync(ag, &o, &rep);
    if (rc == FA_OK)
        sqlite3_exec(ag->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
    bench_rng r;
    bench_rng_seed(&r, seed);
    for (long i = 0; i < n && rc == FA_OK; i++) {
        fs_buf b;
        fs_buf_init(&b, 64 * 1024);
        rc = bench_answers(&r, &b) == FS_OK ? FA_OK : FA_EINPUT;
        /* The area varies as in bench_submission. */
        char area[16];
        snprintf(area, sizeof area, "CITY-N%02u", 1 + bench_rng_below(&r, 8));
        if (rc == FA_OK)
            rc = fa_record(ag, BENCH_FORM_ID, 1, area, (const char *)b.data,
                           NULL);
        fs_buf_free(&b);
    }
    if (rc == FA_OK && gz_bytes)
        rc = gzip_baseline(ag, batch, gz_bytes, raw_bytes) == 0 ? FA_OK
                                                                : FA_ESTORE;
    if (rc != FA_OK)
        fprintf(stderr, "bench: seeding the agent: %s\n", fa_last_error(ag));
    fa_close(ag);
    return rc == FA_OK ? 0 : -1;
}

int bench_agent_set_meta(const char *dir, const char *key, const char *value)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/agent.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_open(path, &db) == SQLITE_OK &&
             sqlite3_prepare_v2(db, "UPDATE meta SET value = ? WHERE key = ?",
                                -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok ? 0 : -1;
}

int bench_agent_set_hub(const char *dir, const char *url)
{
    return bench_agent_set_meta(dir, "hub_url", url);
}
