/*
 * embed_threads.c - the thread rule of fieldsync.h in practice: one
 * handle per thread, all at once, through the installed library alone
 * (tests/integration/embed.sh builds it with pkg-config). Each thread
 * opens its own agent directory, enrols with its own code, pulls the
 * forms, records RECORDS submissions and syncs; the first calls that
 * reach a hub race on the library's one-time libcurl load.
 *
 *   embed_threads HUB_URL DIR1 CODE1 [DIR2 CODE2 ...]
 *
 * Prints "DIR sent N" per thread; exits 0 when every thread's records
 * were all acknowledged.
 */
#include <pthread.h>
#include <stdio.h>

#include <fieldsync.h>

#define MAX_THREADS 8
#define RECORDS 5

typedef struct job {
    const char *hub, *dir, *code;
    long long sent;
    int rc;
    char err[512];
} job;

static int run(job *j)
{
    fa_agent *ag = NULL;
    int rc = fa_open(j->dir, &ag, j->err, sizeof j->err);
    if (rc != FA_OK)
        return rc;
    fa_sync_options opt;
    fa_sync_options_default(&opt);
    fa_sync_report rep;
    rc = fa_enroll(ag, j->hub, j->code, NULL, NULL, NULL, 0);
    if (rc == FA_OK)
        rc = fa_sync(ag, &opt, &rep);
    for (int i = 0; rc == FA_OK && i < RECORDS; i++)
        rc = fa_record(ag, "demo_household", 0, "N-01",
                       "{\"gender\":\"another\",\"belonging\":3}", NULL);
    if (rc == FA_OK)
        rc = fa_sync(ag, &opt, &rep);
    if (rc == FA_OK)
        j->sent = rep.sent;
    else
        snprintf(j->err, sizeof j->err, "%s", fa_last_error(ag));
    fa_close(ag);
    return rc;
}

static void *thread_main(void *arg)
{
    job *j = arg;
    j->rc = run(j);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc % 2 != 0 || (argc - 2) / 2 > MAX_THREADS) {
        fprintf(stderr, "usage: %s HUB_URL DIR CODE [DIR CODE ...]\n", argv[0]);
        return 2;
    }
    int n = (argc - 2) / 2, failed = 0;
    job jobs[MAX_THREADS] = {0};
    pthread_t tids[MAX_THREADS];
    for (int i = 0; i < n; i++) {
        jobs[i] = (job){argv[1], argv[2 + 2 * i], argv[3 + 2 * i], 0, 0, ""};
        if (pthread_create(&tids[i], NULL, thread_main, &jobs[i]) != 0) {
            fprintf(stderr, "cannot start thread %d\n", i);
            return 1;
        }
    }
    for (int i = 0; i < n; i++) {
        pthread_join(tids[i], NULL);
        if (jobs[i].rc != FA_OK || jobs[i].sent != RECORDS) {
            fprintf(stderr, "%s: code %d, sent %lld: %s\n", jobs[i].dir,
                    jobs[i].rc, jobs[i].sent, jobs[i].err);
            failed = 1;
        }
        printf("%s sent %lld\n", jobs[i].dir, jobs[i].sent);
    }
    return failed;
}
