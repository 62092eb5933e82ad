/*
 * record_and_sync.c - an app embedding the fieldsync agent through its
 * public API alone (fieldsync.h, libfieldsync-agent): opens an agent
 * directory, enrols it and pulls the forms when given a hub and a code,
 * records one submission and sends it.
 *
 *   cc record_and_sync.c $(pkg-config --cflags --libs fieldsync-agent)
 *   ./a.out DIR FORM AREA ANSWERS_JSON [HUB_URL CODE]
 *
 * Prints the new submission's id, then what the sync did. Exits 0 when
 * the submission reached the hub, 1 otherwise, with the library's
 * message (which says what to do) on stderr.
 */
#include <signal.h>
#include <stdio.h>

#include <fieldsync.h>

static void on_progress(void *arg, const char *phase, long long done,
                        long long total)
{
    (void)arg;
    fprintf(stderr, "%s %lld/%lld\n", phase, done, total);
}

/* One sync with the defaults and a progress callback; prints the
 * report. */
static int sync_once(fa_agent *ag, fa_sync_report *rep)
{
    fa_sync_options opt;
    fa_sync_options_default(&opt);
    opt.on_progress = on_progress;
    int rc = fa_sync(ag, &opt, rep);
    printf("sent %lld, pulled %lld, queued %lld\n", rep->sent, rep->pulled,
           rep->queued);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 7) {
        fprintf(stderr,
                "usage: %s DIR FORM AREA ANSWERS_JSON [HUB_URL CODE]\n"
                "  DIR: the agent directory (made when missing)\n"
                "  HUB_URL CODE: enrol first, with a code from "
                "`fieldsync-hub enroll-code`\n",
                argv[0]);
        return 2;
    }
    const char *dir = argv[1], *form = argv[2], *area = argv[3];
    const char *answers = argv[4];
    /* The library raises no signals itself, but a TLS write to a closed
     * connection can (fieldsync.h, "Process-wide state"). */
    signal(SIGPIPE, SIG_IGN);
    printf("libfieldsync-agent %s\n", fa_version());

    char err[512];
    fa_agent *ag = NULL;
    if (fa_open(dir, &ag, err, sizeof err) != FA_OK) {
        fprintf(stderr, "cannot open %s: %s\n", dir, err);
        return 1;
    }
    /* A new device enrols, then syncs once for the forms it may record
     * with; an enrolled one records at once, offline or not. */
    int rc = FA_OK;
    fa_sync_report rep;
    if (argc == 7) {
        rc = fa_enroll(ag, argv[5], argv[6], "embedded example", NULL, NULL, 0);
        if (rc == FA_OK)
            rc = sync_once(ag, &rep);
    }
    char id[37] = "";
    if (rc == FA_OK)
        rc = fa_record(ag, form, 0, area, answers, id);
    if (rc == FA_OK) {
        printf("recorded %s\n", id);
        rc = sync_once(ag, &rep);
    }
    if (rc != FA_OK) {
        /* FA_EUNREACHABLE keeps the record queued for the next sync. */
        fprintf(stderr, "fieldsync: %s (code %d)\n", fa_last_error(ag), rc);
        fa_close(ag);
        return 1;
    }
    char *status = NULL;
    if (fa_status_json(ag, &status) == FA_OK)
        printf("status %s\n", status);
    fa_free(status);
    fa_close(ag);
    return rep.queued == 0 ? 0 : 1;
}
