/*
 * main.c - the `fieldsync-agent` command: argument parsing and messages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "fs_protocol.h"
#include "render.h"

static const char usage[] =
    "usage: fieldsync-agent [--dir DIR] COMMAND [OPTIONS]\n"
    "\n"
    "  enroll --hub URL --code CODE [--name NAME] [--collector NAME]\n"
    "         [--cacert FILE]      (FILE: CAs to trust for an https hub)\n"
    "         [--insecure-http]    (allow a plain http:// hub off this "
    "machine)\n"
    "                              join a hub with a code from its admin\n"
    "  forms [--json] [--lang L]   forms on this device\n"
    "  record FORM --answers FILE.json [--area CODE] [--version N]\n"
    "         [--attach FIELD=PATH]...\n"
    "                              store a finalized submission (offline),\n"
    "                              with files for image/audio/file fields\n"
    "  fill FORM [--lang L] [--area CODE]\n"
    "                              fill a form question by question\n"
    "  drafts                      drafts on this device\n"
    "  resume ID [--lang L]        continue a draft\n"
    "  show ID [--lang L]          a draft or submission with its answers\n"
    "  amend ID [--lang L]         correct a finalized submission (a new\n"
    "                              revision is sent)\n"
    "  status [--json]             hub, queue and last sync\n"
    "  entity list TYPE [--area CODE] [--json]\n"
    "  entity show ID [--json]\n"
    "  entity new TYPE FIELD=VALUE...\n"
    "  entity set ID FIELD=VALUE...   (FIELD= clears a field)\n"
    "  entity delete ID            the registry of areas, stakeholders and\n"
    "                              mechanisms (offline; sent on sync)\n"
    "  sync [--batch N] [--retries N] [--quiet]\n"
    "                              send queued records, fetch forms\n"
    "  serve [--listen HOST:PORT] [--auto-sync SECONDS] [--port-file F]\n"
    "                              the form app for a browser on this\n"
    "                              device (default 127.0.0.1:8090); prints\n"
    "                              a one-time sign-in address\n"
    "  --help                      this text\n"
    "  --version                   the version\n"
    "\n"
    "DIR defaults to $FIELDSYNC_DIR, else ~/.fieldsync.\n"
    "Exit status: 0 done; 1 local storage problem; 2 wrong input;\n"
    "3 hub unreachable (records kept, sync again later); 4 refused by the\n"
    "hub (its message says why); 5 not enrolled.\n";

static int exit_code(int rc)
{
    switch (rc) {
    case FA_OK:
        return 0;
    case FA_ESTORE:
        return 1;
    case FA_EINPUT:
        return 2;
    case FA_EUNREACHABLE:
    case FA_EPARTIAL:
        return 3;
    case FA_EREFUSED:
        return 4;
    case FA_ENOTENROLLED:
        return 5;
    default:
        return 1;
    }
}

static int bad(const char *msg, const char *arg)
{
    fprintf(stderr, "fieldsync-agent: %s%s\n\n%s", msg, arg ? arg : "", usage);
    return 2;
}

static char *read_all(FILE *f, size_t max, size_t *len)
{
    fs_buf b;
    fs_buf_init(&b, max);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (fs_buf_append(&b, chunk, n) != FS_OK) {
            fs_buf_free(&b);
            return NULL;
        }
    }
    if (ferror(f) || fs_buf_append(&b, "", 0) != FS_OK) {
        fs_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data ? (char *)b.data : strdup("");
}

typedef struct opts {
    const char *hub, *code, *name, *collector, *answers, *area, *cacert;
    const char *lang, *listen, *port_file;
    long long version, batch, retries, auto_sync;
    int json, quiet, insecure_http;
    const char *pos[4];
    int npos;
    const char *attach[FA_ATTACH_MAX];
    size_t nattach;
} opts;

static int int_opt(const char *name, const char *v, long long lo, long long hi,
                   long long *out)
{
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || x < lo || x > hi) {
        fprintf(stderr,
                "fieldsync-agent: %s takes a number from %lld to "
                "%lld, not %s\n",
                name, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse(int argc, char **argv, int i, opts *o)
{
    const struct {
        const char *name;
        const char **slot;
    } texts[] = {
        {"--hub", &o->hub},         {"--code", &o->code},
        {"--name", &o->name},       {"--collector", &o->collector},
        {"--cacert", &o->cacert},   {"--lang", &o->lang},
        {"--answers", &o->answers}, {"--area", &o->area},
        {"--listen", &o->listen},   {"--port-file", &o->port_file},
    };
    const struct {
        const char *name;
        long long lo, hi, *slot;
    } nums[] = {
        {"--auto-sync", 5, 86400, &o->auto_sync},
        {"--version", 1, 1000000000, &o->version},
        {"--batch", 1, 1000, &o->batch},
        {"--retries", 0, 100, &o->retries},
    };
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--insecure-http") == 0) {
            o->insecure_http = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            o->quiet = 1;
            continue;
        }
        if (a[0] != '-') {
            if (o->npos == 4)
                return bad("too many arguments at ", a);
            o->pos[o->npos++] = a;
            continue;
        }
        if (!v)
            return bad("missing value for ", a);
        i++;
        if (strcmp(a, "--attach") == 0) {
            if (o->nattach == FA_ATTACH_MAX)
                return bad("too many --attach (at most 16) at ", v);
            o->attach[o->nattach++] = v;
            continue;
        }
        int known = 0;
        for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
            if (strcmp(a, texts[k].name) == 0) {
                *texts[k].slot = v;
                known = 1;
            }
        }
        for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
            if (strcmp(a, nums[k].name) == 0) {
                if (int_opt(a, v, nums[k].lo, nums[k].hi, nums[k].slot) != 0)
                    return 2;
                known = 1;
            }
        }
        if (!known)
            return bad("unknown option ", a);
    }
    return 0;
}

static int cmd_forms(fa_agent *ag, const opts *o)
{
    cJSON *doc = NULL;
    int rc = fa_forms(ag, o->lang, &doc);
    if (rc == FA_OK && o->json)
        render_json(stdout, doc, "(null)");
    else if (rc == FA_OK)
        render_forms(stdout, doc);
    cJSON_Delete(doc);
    return exit_code(rc);
}

static int cmd_record(fa_agent *ag, const opts *o)
{
    if (o->npos != 1 || !o->answers)
        return bad("usage: record FORM --answers FILE.json [--area CODE] "
                   "[--attach FIELD=PATH]...",
                   NULL);
    FILE *f = strcmp(o->answers, "-") == 0 ? stdin : fopen(o->answers, "rb");
    if (!f) {
        fprintf(stderr, "fieldsync-agent: cannot open %s: %s\n", o->answers,
                strerror(errno));
        return 2;
    }
    size_t len = 0;
    char *text = read_all(f, 1024 * 1024, &len);
    if (f != stdin)
        fclose(f);
    if (!text) {
        fprintf(stderr,
                "fieldsync-agent: cannot read %s (larger than "
                "1 MiB?)\n",
                o->answers);
        return 2;
    }
    char id[FS_UUID_LEN + 1];
    int rc = fa__record_files(ag, o->pos[0], o->version, o->area, text,
                              o->attach, o->nattach, id);
    free(text);
    if (rc != FA_OK) {
        /* One line per problem, each indented under the headline. */
        fprintf(stderr, "fieldsync-agent: not recorded:\n");
        for (const char *p = fa_last_error(ag); *p;) {
            const char *nl = strchr(p, '\n');
            int n = nl ? (int)(nl - p) : (int)strlen(p);
            fprintf(stderr, "  %.*s\n", n, p);
            p += n + (nl ? 1 : 0);
        }
        return exit_code(rc);
    }
    printf("%s\n", id);
    return 0;
}

/* fill, resume, show and amend: one id-like argument each. */
static int cmd_form(fa_agent *ag, const char *cmd, const opts *o)
{
    if (o->npos != 1)
        return bad(strcmp(cmd, "fill") == 0 ? "usage: fill FORM [--lang L]"
                                            : "usage: COMMAND ID",
                   NULL);
    const char *arg = o->pos[0];
    int rc;
    cJSON *doc = NULL;
    if (strcmp(cmd, "fill") == 0)
        rc = fa_fill(ag, arg, o->lang, o->area, stdin, stdout);
    else if (strcmp(cmd, "resume") == 0)
        rc = fa_resume(ag, arg, o->lang, stdin, stdout);
    else if (strcmp(cmd, "amend") == 0)
        rc = fa_amend(ag, arg, o->lang, stdin, stdout);
    else
        rc = fa_show(ag, arg, o->lang, &doc);
    if (doc)
        render_show(stdout, doc);
    cJSON_Delete(doc);
    if (rc != FA_OK)
        fprintf(stderr, "fieldsync-agent: %s\n", fa_last_error(ag));
    return exit_code(rc);
}

/* entity SUB ...: field=value arguments are many, so this command reads
 * its own arguments: --area CODE and --json anywhere, the rest in
 * order. */
static int cmd_entity(fa_agent *ag, int argc, char **argv)
{
    const char *area = NULL;
    int json = 0, n = 0;
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--area") == 0 && i + 1 < argc)
            area = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] == '-') {
            free(pos);
            return bad("unknown option ", argv[i]);
        } else
            pos[n++] = argv[i];
    }
    const char *sub = n > 0 ? pos[0] : "";
    int rc = FA_OK, status = -1;
    char id[FS_UUID_LEN + 1];
    cJSON *doc = NULL;
    if (strcmp(sub, "list") == 0 && n == 2) {
        rc = fa_entity_list(ag, pos[1], area, &doc);
        if (rc == FA_OK && json)
            render_json(stdout, doc, "[]");
        else if (rc == FA_OK)
            render_entity_list(stdout, doc, pos[1], area);
    } else if (strcmp(sub, "show") == 0 && n == 2) {
        rc = fa_entity_show(ag, pos[1], &doc);
        if (rc == FA_OK && json)
            render_json(stdout, doc, "{}");
        else if (rc == FA_OK)
            render_entity_show(stdout, doc);
    } else if (strcmp(sub, "new") == 0 && n >= 2) {
        rc = fa_entity_new(ag, pos[1], n - 2, pos + 2, id);
        if (rc == FA_OK)
            printf("%s\n", id);
    } else if (strcmp(sub, "set") == 0 && n >= 2)
        rc = fa_entity_set(ag, pos[1], n - 2, pos + 2);
    else if (strcmp(sub, "delete") == 0 && n == 2)
        rc = fa_entity_delete(ag, pos[1]);
    else
        status = bad("usage: entity list TYPE [--area CODE] [--json] | "
                     "show ID | new TYPE FIELD=VALUE... | set ID "
                     "FIELD=VALUE... | delete ID",
                     NULL);
    free(pos);
    cJSON_Delete(doc);
    if (status >= 0)
        return status;
    if (rc != FA_OK) {
        fprintf(stderr, "fieldsync-agent: entity %s: not done:\n", sub);
        for (const char *p = fa_last_error(ag); *p;) {
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            fprintf(stderr, "  %.*s\n", len, p);
            p += len + (nl ? 1 : 0);
        }
    }
    return exit_code(rc);
}

static int cmd_sync(fa_agent *ag, const opts *o)
{
    fa_sync_options so;
    fa_sync_options_default(&so);
    if (!o->quiet && isatty(STDERR_FILENO)) {
        so.on_progress = render_progress;
        so.progress_arg = stderr;
    }
    if (o->batch)
        so.batch_count = (size_t)o->batch;
    if (o->retries >= 0)
        so.max_attempts = (int)o->retries + 1;
    so.trace_dir = getenv("FIELDSYNC_TRACE_DIR");
    fa_sync_report r;
    int rc = fa_sync(ag, &so, &r);
    if (rc == FA_OK) {
        if (!o->quiet) {
            printf("sync done: sent %lld change(s)", r.sent);
            if (r.sent)
                printf(" (%lld applied, %lld already there, %lld refused, "
                       "%lld divergent)",
                       r.applied, r.duplicate, r.refused, r.divergent);
            printf(", received %lld; %lld waiting\n", r.pulled, r.queued);
            if (r.purged)
                printf("removed %lld record(s) the hub already holds that "
                       "are outside this device's areas or forms now\n",
                       r.purged);
            if (r.refused)
                printf("%lld record(s) were refused by the hub and kept "
                       "here; see `fieldsync-agent status`\n",
                       r.refused);
        }
        return 0;
    }
    fprintf(stderr, "fieldsync-agent: %s\n", fa_last_error(ag));
    if (rc == FA_EUNREACHABLE || rc == FA_EPARTIAL)
        fprintf(stderr,
                "fieldsync-agent: %lld sent this time; %lld "
                "record(s) kept on this device, they will be sent "
                "on the next sync\n",
                r.sent, r.queued);
    return exit_code(rc);
}

int main(int argc, char **argv)
{
    const char *dir = getenv("FIELDSYNC_DIR");
    /* Every file this program makes (databases, backups, exports) can
     * hold personal data: readable by its owner only. */
    umask(077);
    char home_dir[4096];
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[i + 1];
            i += 2;
        } else if (strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("fieldsync-agent %s\n", FS_VERSION);
            return 0;
        } else {
            return bad("unknown option ", argv[i]);
        }
    }
    if (i >= argc)
        return bad("missing command", NULL);
    const char *cmd = argv[i++];
    if (strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (!dir || !dir[0]) {
        const char *home = getenv("HOME");
        if (!home)
            return bad("no --dir given and HOME is not set", NULL);
        snprintf(home_dir, sizeof home_dir, "%s/.fieldsync", home);
        dir = home_dir;
    }
    opts o;
    memset(&o, 0, sizeof o);
    o.retries = -1;
    int rc = strcmp(cmd, "entity") == 0 ? 0 : parse(argc, argv, i, &o);
    if (rc != 0)
        return rc;

    static const char *const known[] = {"enroll", "forms", "record", "status",
                                        "sync",   "fill",  "drafts", "resume",
                                        "show",   "amend", "entity", "serve"};
    int ok = 0;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        ok |= strcmp(cmd, known[k]) == 0;
    if (!ok)
        return bad("unknown command ", cmd);

    /* libcurl is loaded by the first request to a hub (curlapi.c), so
     * commands that work offline never map it. */
    if (strcmp(cmd, "serve") == 0) {
        if (o.npos != 0)
            return bad("usage: serve [--listen HOST:PORT] [--auto-sync "
                       "SECONDS]",
                       NULL);
        fa_serve_options so = {o.listen ? o.listen : "127.0.0.1:8090",
                               (int)o.auto_sync, o.port_file};
        return exit_code(fa_serve(dir, &so));
    }
    char err[1024];
    fa_agent *ag = NULL;
    rc = fa_open(dir, &ag, err, sizeof err);
    if (rc != FA_OK) {
        fprintf(stderr, "fieldsync-agent: %s\n", err);
        return exit_code(rc);
    }
    int status = 0;
    if (strcmp(cmd, "enroll") == 0) {
        if (!o.hub || !o.code) {
            status = bad("usage: enroll --hub URL --code CODE", NULL);
        } else {
            rc = fa_enroll(ag, o.hub, o.code, o.name, o.collector, o.cacert,
                           o.insecure_http);
            if (rc == FA_OK)
                printf("%s\n", fa_last_error(ag));
            else
                fprintf(stderr, "fieldsync-agent: %s\n", fa_last_error(ag));
            status = exit_code(rc);
        }
    } else if (strcmp(cmd, "forms") == 0) {
        status = cmd_forms(ag, &o);
    } else if (strcmp(cmd, "record") == 0) {
        status = cmd_record(ag, &o);
    } else if (strcmp(cmd, "fill") == 0 || strcmp(cmd, "resume") == 0 ||
               strcmp(cmd, "show") == 0 || strcmp(cmd, "amend") == 0) {
        status = cmd_form(ag, cmd, &o);
    } else if (strcmp(cmd, "drafts") == 0) {
        cJSON *doc = NULL;
        rc = fa_drafts(ag, NULL, 0, &doc);
        if (rc == FA_OK)
            render_drafts(stdout, doc);
        cJSON_Delete(doc);
        status = exit_code(rc);
    } else if (strcmp(cmd, "entity") == 0) {
        status = cmd_entity(ag, argc - i, argv + i);
    } else if (strcmp(cmd, "status") == 0) {
        cJSON *doc = NULL;
        rc = fa_status(ag, &doc);
        if (rc == FA_OK)
            render_status(stdout, doc, o.json);
        cJSON_Delete(doc);
        status = exit_code(rc);
    } else {
        status = cmd_sync(ag, &o);
    }
    if (status != 0 && strcmp(cmd, "forms") == 0)
        fprintf(stderr, "fieldsync-agent: %s\n", fa_last_error(ag));
    fa_close(ag);
    return status;
}
