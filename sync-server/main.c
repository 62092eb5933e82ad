/*
 * main.c - the `fieldsync-hub` command: argument parsing only.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_protocol.h"
#include "backup.h"
#include "formcli.h"
#include "hub.h"
#include "importcsv.h"
#include "seal.h"
#include "aggregates.h"
#include "settings.h"
#include "waveassign.h"

static const char usage[] =
    "usage: fieldsync-hub COMMAND [OPTIONS]\n"
    "\n"
    "  serve [--db PATH] [--listen HOST:PORT] [--threads N]\n"
    "        [--rate-limit N] [--request-timeout S] [--port-file FILE]\n"
    "        [--public-url URL]\n"
    "        [--held-max N] [--held-max-bytes B] [--held-days D]\n"
    "        [--attach-quota B] [--attach-floor B]\n"
    "                                  run the hub (default 127.0.0.1:8080);\n"
    "                                  refused changes kept per device: at\n"
    "                                  most 1000, 8 MiB, 90 days; "
    "attachments:\n"
    "                                  2 GiB per device, and 1 GiB of disk\n"
    "                                  kept free\n"
    "  enroll-code [--db PATH] [--name NAME] [--role ROLE]\n"
    "        [--areas LIST] [--forms LIST] [--expires HOURS]\n"
    "        [--collect HUB_URL [--qr FILE.png] [--qr-text]]\n"
    "                                  print a one-time enrolment code; with\n"
    "                                  --collect, enrol an ODK Collect\n"
    "                                  device now and print its server URL\n"
    "                                  and settings QR code (drawn on a\n"
    "                                  terminal or with --qr-text; --qr\n"
    "                                  writes a PNG)\n"
    "  form publish [--db PATH] FILE   publish a form version (JSON or "
    "XLSForm .xlsx)\n"
    "  form import FILE.xlsx [-o FILE.json]\n"
    "                                  convert an XLSForm to a form "
    "definition\n"
    "  form xform --form ID [--version N] [-o FILE.xml]\n"
    "                                  the ODK XForm of a published form\n"
    "  device revoke [--db PATH] ID    refuse a lost device from now on\n"
    "  device scope [--db PATH] ID [--areas LIST] [--forms LIST]\n"
    "                                  change what a device may hold\n"
    "  token create [--db PATH] --role admin|reviewer --name NAME\n"
    "        [--areas LIST]            print a new API token (once)\n"
    "  token list [--db PATH] [--json] API tokens, without their secrets\n"
    "  review [--db PATH] ID --state received|has_issues|approved|rejected\n"
    "        [--comment TEXT]          review a submission; the device sees "
    "it\n"
    "  token revoke [--db PATH] ID|NAME\n"
    "  conflicts [--db PATH] [--all] [--json]\n"
    "                                  registry and amendment conflicts\n"
    "  resolve [--db PATH] ID --value V | --choose N\n"
    "                                  settle a conflict; devices get it\n"
    "  duplicates [--db PATH] [--json] possible duplicate respondents\n"
    "  entity put [--db PATH] TYPE [ID] --fields JSON\n"
    "                                  write registry fields as an admin\n"
    "  correct [--db PATH] ID --answers FILE.json\n"
    "                                  correct a submission (new revision)\n"
    "  devices [--db PATH] [--json]    list enrolled devices\n"
    "  held [--db PATH] [clear DEVICE-ID]\n"
    "                                  refused changes held per device;\n"
    "                                  clear drops one device's (audited)\n"
    "  config set [--db PATH] min-k N  the smallest cell indicators, "
    "change and\n"
    "                                  maps show (default 5; requests may "
    "ask more)\n"
    "  config show [--db PATH] [--json]\n"
    "  stats [--db PATH] [--json]      what the hub holds, per form and "
    "area\n"
    "  backup [--db PATH] -o FILE      a consistent copy (mode 0600), also "
    "while\n"
    "                                  the hub serves\n"
    "  restore [--db PATH] [--force] FILE\n"
    "                                  check a backup and put it at PATH "
    "(a new\n"
    "                                  path; --force replaces a stopped "
    "hub's)\n"
    "\n"
    "The mapping dataset (schema/INDICATORS.md):\n"
    "  wave add NAME --start DATE --end DATE [--title TEXT]\n"
    "  wave list [--json|--csv]\n"
    "  wave assign WAVE [SUBMISSION-ID] [--ids FILE] [--form F] [--area CODE]\n"
    "        [--from DATE] [--to DATE] [--in-wave W] [--dry-run]\n"
    "                                  put submissions in a wave whatever "
    "their\n"
    "                                  dates: one, a list (FILE: one id a "
    "line)\n"
    "                                  or all that match every filter\n"
    "  quota set --area CODE --wave W --form F --target N\n"
    "        [--stratum FIELD=VALUE,...] [--device ID]\n"
    "  quota list [--wave W] [--json|--csv]\n"
    "  coverage [--wave W] [--json|--csv]   quotas and what was collected\n"
    "  indicators --form F --indicator SPEC [--by FIELD] [--wave W]\n"
    "        [--k N] [--json|--csv]   SPEC: count, mean:FIELD or\n"
    "                                  share:FIELD=CODE|CODE...\n"
    "        [--key FILE [--passphrase-fd N]]\n"
    "                                  with sealed answers opened by a\n"
    "                                  steward's key, offline (audited)\n"
    "  change --form F --indicator SPEC --from W1 --to W2 [--by FIELD]\n"
    "        [--k N] [--json|--csv]   change per area between two waves\n"
    "  export csv --form F [--version V] [--labels LANG] [--personal]\n"
    "        [--raw-cells] [--key FILE [--passphrase-fd N]] [-o FILE]\n"
    "                                  one row per submission; cells a\n"
    "                                  spreadsheet would run as formulas\n"
    "                                  get a leading ' unless --raw-cells;\n"
    "                                  sealed answers show \"sealed\"\n"
    "                                  unless --key opens them (audited)\n"
    "  export json --form F [--version V] [--personal]\n"
    "        [--key FILE [--passphrase-fd N]] [-o FILE]\n"
    "  export media --form F [--version V] [--personal] -o FILE.zip\n"
    "                                  the files of the form's image, audio\n"
    "                                  and file fields, one zip entry each\n"
    "                                  (SUBMISSION/FIELD.EXT); files not yet\n"
    "                                  whole at the hub: MISSING.txt\n"
    "  export geojson areas [--form F --indicator SPEC [--wave W] [--k N]]\n"
    "        [-o FILE]                 areas, with the indicator's values\n"
    "  export geojson mechanisms [-o FILE]   mechanisms as points\n"
    "  areas import FILE.geojson       areas with code, name, parent\n"
    "  areas list [--json|--csv]\n"
    "  areas levels [LIST]             the level names, top first (default\n"
    "                                  city,district,neighbourhood; at most "
    "8)\n"
    "  import csv --form F --wave W FILE.csv [--map COLUMN=FIELD ...]\n"
    "        [--key COLUMN] [--date-format FMT] [--dry-run] [--progress]\n"
    "                                  rows of another tool's CSV export as\n"
    "                                  submissions, all or none; FIELD may\n"
    "                                  be @area, or empty to leave a column\n"
    "                                  out; FMT e.g. DD/MM/YYYY or D/M/YY\n"
    "\n"
    "Sealed answers (SECURITY.md), for a data steward:\n"
    "  keys generate --out FILE [--id ID] [--passphrase-fd N]\n"
    "                                  a key pair: FILE (the private key,\n"
    "                                  under a passphrase) and FILE.pub\n"
    "  keys publish [--db PATH] FILE   send the public key to devices\n"
    "  keys list [--db PATH] [--json|--csv]\n"
    "  open-file ID FIELD --key FILE [--passphrase-fd N] -o FILE\n"
    "                                  a sealed image, audio or file answer,\n"
    "                                  opened offline (audited)\n"
    "  aggregates rebuild [--db PATH] count coverage and indicators again\n"
    "  aggregates verify [--db PATH]  compare them with a count from "
    "scratch\n"
    "  aggregates by [--db PATH] --form F FIELDS|*\n"
    "                                  the select_one fields whose tables\n"
    "                                  --by are fast (default: *, all)\n"
    "\n"
    "  --help                          this text\n"
    "  --version                       the version\n"
    "\n"
    "PATH defaults to ./fieldsync-hub.db. LIST is * (all) or codes\n"
    "separated by commas, e.g. CITY-N01,CITY-N02. ROLE is enumerator\n"
    "(default), outreach, reviewer or admin. See README.md.\n";

typedef struct args {
    const char *db;
    const char *listen;
    const char *name;
    const char *role;
    const char *port_file;
    const char *areas;
    const char *forms;
    const char *collect; /* enroll-code --collect, serve --public-url:
                            the hub's address as devices reach it */
    const char *qr;      /* enroll-code --qr FILE.png */
    int qr_text;         /* enroll-code --qr-text */
    const char *state;
    const char *comment;
    /* the mapping dataset */
    const char *start, *end, *title, *wave, *stratum, *device, *target;
    const char *form, *version, *indicator, *by, *k, *labels, *output;
    const char *from, *to, *area1;
    const char *ids, *in_wave; /* wave assign */
    int personal;
    int raw_cells;
    /* import csv */
    const char *maps[64];
    int nmaps;
    const char *date_format;
    int dry_run, progress;
    /* --key: a key file (keys, export, indicators) or, for import csv,
     * the column that keys rows; --out, --id (keys) */
    const char *key, *out, *id;
    int pass_fd; /* --passphrase-fd; -1: the terminal */
    const char *value;
    const char *choose;
    const char *answers;
    const char *fields;
    int all;
    int force;
    double expires;
    double rate;
    double timeout;
    double held_max, held_bytes, held_days;
    double attach_quota, attach_floor; /* serve: bytes */
    int threads;
    int json;
    int role_given;
    const char *pos[4];
    int npos;
    const char *given[32]; /* the options given, for options_fit */
    int ngiven;
} args;

static int bad(const char *msg, const char *arg)
{
    fprintf(stderr, "fieldsync-hub: %s%s\n\n%s", msg, arg ? arg : "", usage);
    return 2;
}

static int number(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Options of the mapping commands: 1 when o is one (value stored). */
static int map_option(args *a, const char *o, const char *v)
{
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        {"--start", offsetof(args, start)},
        {"--end", offsetof(args, end)},
        {"--title", offsetof(args, title)},
        {"--wave", offsetof(args, wave)},
        {"--stratum", offsetof(args, stratum)},
        {"--device", offsetof(args, device)},
        {"--target", offsetof(args, target)},
        {"--form", offsetof(args, form)},
        {"--version", offsetof(args, version)},
        {"--indicator", offsetof(args, indicator)},
        {"--by", offsetof(args, by)},
        {"--k", offsetof(args, k)},
        {"--labels", offsetof(args, labels)},
        {"-o", offsetof(args, output)},
        {"--output", offsetof(args, output)},
        {"--from", offsetof(args, from)},
        {"--to", offsetof(args, to)},
        {"--ids", offsetof(args, ids)},
        {"--in-wave", offsetof(args, in_wave)},
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (strcmp(o, opts[i].name) == 0) {
            *(const char **)(void *)((char *)a + opts[i].off) = v;
            return 1;
        }
    return 0;
}

static int parse(int argc, char **argv, int start, args *a)
{
    for (int i = start; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (o[0] == '-' && o[1] != '\0' &&
            a->ngiven < (int)(sizeof a->given / sizeof a->given[0]))
            a->given[a->ngiven++] = o;
        if (strcmp(o, "--json") == 0) {
            a->json = 1;
            takes = 0;
        } else if (strcmp(o, "--csv") == 0) {
            a->json = 2;
            takes = 0;
        } else if (strcmp(o, "--personal") == 0) {
            a->personal = 1;
            takes = 0;
        } else if (strcmp(o, "--qr-text") == 0) {
            a->qr_text = 1;
            takes = 0;
        } else if (strcmp(o, "--raw-cells") == 0) {
            a->raw_cells = 1;
            takes = 0;
        } else if (strcmp(o, "--all") == 0) {
            a->all = 1;
            takes = 0;
        } else if (strcmp(o, "--force") == 0) {
            a->force = 1;
            takes = 0;
        } else if (strcmp(o, "--dry-run") == 0) {
            a->dry_run = 1;
            takes = 0;
        } else if (strcmp(o, "--progress") == 0) {
            a->progress = 1;
            takes = 0;
        } else if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (o[0] == '-' && o[1] != '\0' && !v) {
            return bad("missing value for ", o);
        } else if (strcmp(o, "--db") == 0) {
            a->db = v;
        } else if (strcmp(o, "--listen") == 0) {
            a->listen = v;
        } else if (strcmp(o, "--collect") == 0 ||
                   strcmp(o, "--public-url") == 0) {
            a->collect = v;
        } else if (strcmp(o, "--qr") == 0) {
            a->qr = v;
        } else if (strcmp(o, "--name") == 0) {
            a->name = v;
        } else if (strcmp(o, "--role") == 0) {
            a->role = v;
            a->role_given = 1;
        } else if (strcmp(o, "--port-file") == 0) {
            a->port_file = v;
        } else if (strcmp(o, "--state") == 0) {
            a->state = v;
        } else if (strcmp(o, "--comment") == 0) {
            a->comment = v;
        } else if (strcmp(o, "--area") == 0) {
            a->area1 = v;
        } else if (map_option(a, o, v)) {
            /* taken */
        } else if (strcmp(o, "--map") == 0) {
            if (a->nmaps == (int)(sizeof a->maps / sizeof a->maps[0]))
                return bad("at most 64 --map options", NULL);
            a->maps[a->nmaps++] = v;
        } else if (strcmp(o, "--date-format") == 0) {
            a->date_format = v;
        } else if (strcmp(o, "--key") == 0) {
            a->key = v;
        } else if (strcmp(o, "--value") == 0) {
            a->value = v;
        } else if (strcmp(o, "--choose") == 0) {
            a->choose = v;
        } else if (strcmp(o, "--answers") == 0) {
            a->answers = v;
        } else if (strcmp(o, "--fields") == 0) {
            a->fields = v;
        } else if (strcmp(o, "--areas") == 0) {
            a->areas = v;
        } else if (strcmp(o, "--forms") == 0) {
            a->forms = v;
        } else if (strcmp(o, "--request-timeout") == 0) {
            if (number(v, 1, 3600, &a->timeout) != 0)
                return bad("--request-timeout takes seconds, 1 to 3600: ", v);
        } else if (strcmp(o, "--rate-limit") == 0) {
            if (number(v, 0, 100000, &a->rate) != 0)
                return bad("--rate-limit takes requests a second (0: no "
                           "limit): ",
                           v);
        } else if (strcmp(o, "--held-max") == 0) {
            if (number(v, 1, 1e9, &a->held_max) != 0)
                return bad("--held-max takes a number of changes, 1 or "
                           "more: ",
                           v);
        } else if (strcmp(o, "--held-max-bytes") == 0) {
            if (number(v, 1024, 1e15, &a->held_bytes) != 0)
                return bad("--held-max-bytes takes bytes, 1024 or more: ", v);
        } else if (strcmp(o, "--attach-quota") == 0) {
            if (number(v, 1, 1e15, &a->attach_quota) != 0)
                return bad("--attach-quota takes bytes per device, 1 or "
                           "more: ",
                           v);
        } else if (strcmp(o, "--attach-floor") == 0) {
            if (number(v, 1, 1e15, &a->attach_floor) != 0)
                return bad("--attach-floor takes bytes to keep free, 1 or "
                           "more: ",
                           v);
        } else if (strcmp(o, "--held-days") == 0) {
            if (number(v, 1, 36500, &a->held_days) != 0)
                return bad("--held-days takes days, 1 to 36500: ", v);
        } else if (strcmp(o, "--threads") == 0) {
            double d;
            if (number(v, 1, 256, &d) != 0)
                return bad("--threads takes a number from 1 to 256: ", v);
            a->threads = (int)d;
        } else if (strcmp(o, "--out") == 0) {
            a->out = v;
        } else if (strcmp(o, "--id") == 0) {
            a->id = v;
        } else if (strcmp(o, "--passphrase-fd") == 0) {
            double d;
            if (number(v, 0, 1023, &d) != 0 || d != (double)(int)d)
                return bad("--passphrase-fd takes an open file descriptor "
                           "number, e.g. 3 with 3<passphrase.txt: ",
                           v);
            a->pass_fd = (int)d;
        } else if (strcmp(o, "--expires") == 0) {
            if (number(v, 0.0001, 8760, &a->expires) != 0)
                return bad("--expires takes hours, up to 8760: ", v);
        } else if (o[0] == '-') {
            return bad("unknown option ", o);
        } else {
            if (a->npos == 4)
                return bad("too many arguments at ", o);
            a->pos[a->npos++] = o;
            takes = 0;
        }
        i += takes;
    }
    return 0;
}

static const char *const roles[] = {"admin", "reviewer", "outreach",
                                    "enumerator"};

static int is_mapping_command(const char *cmd)
{
    static const char *const cmds[] = {
        "wave", "quota", "coverage", "indicators", "change", "export", "areas"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i]) == 0)
            return 1;
    return 0;
}

static int sub_is(const args *a, int n, const char *sub)
{
    return a->npos == n && strcmp(a->pos[0], sub) == 0;
}

static int mapping_command(const char *cmd, const args *a)
{
    if (strcmp(cmd, "wave") == 0) {
        if (sub_is(a, 2, "add")) {
            if (!a->start || !a->end)
                return bad("wave add needs --start DATE and --end DATE", NULL);
            return hub_wave_add(a->db, a->pos[1], a->title, a->start, a->end,
                                stdout);
        }
        if (sub_is(a, 1, "list"))
            return hub_wave_list(a->db, a->json, stdout);
        int filtered = a->ids || a->form || a->area1 || a->from || a->to ||
                       a->in_wave || a->dry_run;
        if (sub_is(a, 3, "assign") && !filtered)
            return hub_wave_assign(a->db, a->pos[1], a->pos[2], stdout);
        if ((sub_is(a, 2, "assign") && filtered) || sub_is(a, 3, "assign")) {
            hub_wave_match m = {.wave = a->pos[1],
                                .form = a->form,
                                .area = a->area1,
                                .from = a->from,
                                .to = a->to,
                                .in_wave = a->in_wave};
            return hub_wave_assign_many(a->db, &m,
                                        a->npos == 3 ? a->pos[2] : NULL, a->ids,
                                        a->dry_run, stdout);
        }
        if (sub_is(a, 2, "assign"))
            return bad("wave assign needs a submission id, --ids FILE or a "
                       "filter (--form, --area, --from, --to, --in-wave)",
                       NULL);
        return bad("usage: fieldsync-hub wave add|list|assign", NULL);
    }
    if (strcmp(cmd, "quota") == 0) {
        if (sub_is(a, 1, "set")) {
            double t = 0;
            if (!a->area1 || !a->wave || !a->form || !a->target)
                return bad("quota set needs --area, --wave, --form and "
                           "--target",
                           NULL);
            if (number(a->target, 0, 10000000, &t) != 0 ||
                t != (double)(long long)t)
                return bad("--target takes a count from 0 to 10000000: ",
                           a->target);
            return hub_quota_set(a->db, a->area1, a->wave, a->form, a->stratum,
                                 a->device, (long long)t, stdout);
        }
        if (sub_is(a, 1, "list"))
            return hub_quota_list(a->db, a->wave, a->json, stdout);
        return bad("usage: fieldsync-hub quota set|list", NULL);
    }
    if (strcmp(cmd, "coverage") == 0) {
        if (a->npos)
            return bad("coverage takes no arguments: ", a->pos[0]);
        return hub_coverage(a->db, a->wave, a->json, stdout);
    }
    if (strcmp(cmd, "export") == 0) {
        hub_export_req req = {.form = a->form,
                              .version = a->version,
                              .labels = a->labels,
                              .personal = a->personal,
                              .indicator = a->indicator,
                              .wave = a->wave,
                              .k = a->k,
                              .raw_cells = a->raw_cells,
                              .admin = 1,
                              .key = a->key,
                              .pass_fd = a->pass_fd};
        if (sub_is(a, 1, "media"))
            return hub_export_media(a->db, &req, a->output);
        if (sub_is(a, 1, "csv"))
            req.kind = HUB_EXPORT_CSV;
        else if (sub_is(a, 1, "json"))
            req.kind = HUB_EXPORT_JSON;
        else if (sub_is(a, 2, "geojson") && strcmp(a->pos[1], "areas") == 0)
            req.kind = HUB_EXPORT_AREAS;
        else if (sub_is(a, 2, "geojson") &&
                 strcmp(a->pos[1], "mechanisms") == 0)
            req.kind = HUB_EXPORT_MECHANISMS;
        else
            return bad("usage: fieldsync-hub export csv|json|media|geojson "
                       "areas|geojson mechanisms",
                       NULL);
        return hub_export(a->db, &req, a->output);
    }
    if (strcmp(cmd, "areas") == 0) {
        if (sub_is(a, 2, "import"))
            return hub_areas_import(a->db, a->pos[1], stdout);
        if (sub_is(a, 1, "list"))
            return hub_areas_list(a->db, a->json, stdout);
        if (sub_is(a, 1, "levels") || sub_is(a, 2, "levels"))
            return hub_areas_levels(a->db, a->npos == 2 ? a->pos[1] : NULL,
                                    stdout);
        return bad("usage: fieldsync-hub areas import FILE.geojson | areas "
                   "list | areas levels [LIST]",
                   NULL);
    }
    if (strcmp(cmd, "indicators") == 0 || strcmp(cmd, "change") == 0) {
        if (a->npos)
            return bad("unexpected argument ", a->pos[0]);
        if (!a->form || !a->indicator)
            return bad("name the form and the indicator: --form F "
                       "--indicator count|mean:FIELD|share:FIELD=CODE",
                       NULL);
        hub_ind_request req = {a->form, a->indicator, a->by, a->wave,
                               a->from, a->to,        a->k,  1};
        if (cmd[0] == 'i' && a->key)
            return hub_indicators_sealed(a->db, &req, a->key, a->pass_fd,
                                         a->json, stdout);
        if (cmd[0] == 'i')
            return hub_indicators(a->db, &req, a->json, stdout);
        if (!a->from || !a->to)
            return bad("change needs --from WAVE and --to WAVE", NULL);
        return hub_change(a->db, &req, a->json, stdout);
    }
    return bad("unknown command ", cmd);
}

/* ---- which options a command takes ---------------------------------- */

/* The usage text is the one list of each command's options: an entry is
 * a line "  word ..." with the lines under it that start with more
 * spaces; its literal words (lower case, before the first option or
 * placeholder) name the command. */

/* Length of the literal word at p (letters a-z and '-', not starting
 * with '-'), or 0. */
static size_t literal(const char *p)
{
    size_t n = 0;
    if (*p == '-')
        return 0;
    while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] == '-' && n > 0))
        n++;
    return p[n] == ' ' || p[n] == '\n' ? n : 0;
}

/* 1 when the entry at e (after its two spaces) names exactly the
 * command words cmd, pos[0..]: every literal word matches in turn. */
static int entry_names(const char *e, const char *cmd, const args *a)
{
    for (int w = 0;; w++) {
        size_t n = literal(e);
        if (n == 0)
            return w > 0;
        const char *want = w == 0 ? cmd : w - 1 < a->npos ? a->pos[w - 1] : "";
        if (strlen(want) != n || strncmp(e, want, n) != 0)
            return 0;
        e += n;
        while (*e == ' ')
            e++;
    }
}

/* 1 when option o appears in the entry text [e, end). */
static int entry_has(const char *e, const char *end, const char *o)
{
    size_t n = strlen(o);
    for (const char *p = e; p + n <= end; p++) {
        if (strncmp(p, o, n) != 0 || (p > e && p[-1] != ' ' && p[-1] != '[' &&
                                      p[-1] != '|' && p[-1] != '('))
            continue;
        char c = p[n];
        if (!((c >= 'a' && c <= 'z') || c == '-'))
            return 1;
    }
    return 0;
}

/* The end of the entry starting at e: the next line that is not one of
 * its continuation lines (more than two spaces in front). */
static const char *entry_end(const char *e)
{
    const char *p = strchr(e, '\n');
    while (p && strncmp(p + 1, "   ", 3) == 0)
        p = strchr(p + 1, '\n');
    return p ? p : e + strlen(e);
}

/* Every option given must be one the command's usage entries show
 * (--db and --help go with all). A command with no entry of its own
 * (a wrong subcommand) is left to its own usage message. Returns 0 or
 * the exit status of the refusal. */
static int options_fit(const char *cmd, const args *a)
{
    const char *found[8];
    const char *ends[8];
    int n = 0;
    for (const char *l = usage; l && *l;
         l = strchr(l, '\n'), l = l ? l + 1 : l) {
        if (strncmp(l, "  ", 2) != 0 || l[2] == ' ' || l[2] == '-')
            continue;
        if (n < 8 && entry_names(l + 2, cmd, a)) {
            found[n] = l;
            ends[n++] = entry_end(l);
        }
    }
    if (n == 0)
        return 0;
    for (int i = 0; i < a->ngiven; i++) {
        const char *o = a->given[i];
        if (strcmp(o, "--db") == 0 || strcmp(o, "--help") == 0 ||
            strcmp(o, "-h") == 0)
            continue;
        const char *look = strcmp(o, "--output") == 0 ? "-o" : o;
        int ok = 0;
        for (int k = 0; k < n && !ok; k++)
            ok = entry_has(found[k], ends[k], look);
        if (ok)
            continue;
        fprintf(stderr,
                "fieldsync-hub: %s is not an option of this command; "
                "it takes:\n",
                o);
        for (int k = 0; k < n; k++)
            fprintf(stderr, "%.*s\n", (int)(ends[k] - found[k]), found[k]);
        fprintf(stderr, "(fieldsync-hub --help lists every command)\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* Every file this program makes (databases, backups, exports) can
     * hold personal data: readable by its owner only. */
    umask(077);
    if (argc < 2)
        return bad("missing command", NULL);
    args a;
    memset(&a, 0, sizeof a);
    a.db = "fieldsync-hub.db";
    a.listen = "127.0.0.1:8080";
    a.role = "enumerator";
    a.expires = 24;
    /* Two connections a syncing device (PROTOCOL.md 4.4): 16 devices
     * at once, ~180 KB of memory a worker when idle. */
    a.threads = 32;
    a.rate = 20;
    a.timeout = 60;
    a.pass_fd = -1;
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("fieldsync-hub %s\n", FS_VERSION);
        return 0;
    }
    int rc = parse(argc, argv, 2, &a);
    if (rc == 0)
        rc = options_fit(cmd, &a);
    if (rc != 0)
        return rc;

    if (strcmp(cmd, "serve") == 0) {
        if (a.npos)
            return bad("serve takes no arguments: ", a.pos[0]);
        if (a.collect && strncmp(a.collect, "http://", 7) != 0 &&
            strncmp(a.collect, "https://", 8) != 0)
            return bad("--public-url takes http://... or https://..., not ",
                       a.collect);
        hub_serve_options o = {.db_path = a.db,
                               .listen = a.listen,
                               .threads = a.threads,
                               .port_file = a.port_file,
                               .rate_limit = a.rate,
                               .request_timeout_s = (int)a.timeout,
                               .public_url = a.collect,
                               .held_max = (long long)a.held_max,
                               .held_max_bytes = (long long)a.held_bytes,
                               .held_days = (int)a.held_days,
                               .attach_quota = (long long)a.attach_quota,
                               .attach_floor = (long long)a.attach_floor};
        return hub_serve(&o);
    }
    if (strcmp(cmd, "enroll-code") == 0) {
        int known = 0;
        for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
            known |= strcmp(a.role, roles[i]) == 0;
        if (!known)
            return bad("--role must be admin, reviewer, outreach or "
                       "enumerator, not ",
                       a.role);
        if (!a.areas)
            fprintf(stderr, "fieldsync-hub: no --areas given: the device "
                            "may record for any area\n");
        /* The QR code is drawn on a terminal unless asked otherwise;
         * a script that reads the URL gets the URL alone. */
        hub_enroll_req req = {.name = a.name,
                              .role = a.role,
                              .areas = a.areas ? a.areas : "*",
                              .forms = a.forms ? a.forms : "*",
                              .expires_hours = a.expires,
                              .collect_url = a.collect,
                              .qr_png = a.qr,
                              .qr_text = a.qr_text ||
                                         (a.collect && isatty(STDOUT_FILENO))};
        return hub_enroll_code(a.db, &req, stdout);
    }
    if (strcmp(cmd, "form") == 0) {
        if (sub_is(&a, 2, "publish") && hub_form_is_xlsx(a.pos[1]))
            return hub_form_publish_xlsx(a.db, a.pos[1], stdout);
        if (sub_is(&a, 2, "publish"))
            return hub_form_publish(a.db, a.pos[1], stdout);
        if (sub_is(&a, 2, "import"))
            return hub_form_import(a.pos[1], a.output, stdout);
        if (sub_is(&a, 1, "xform"))
            return hub_form_xform(a.db, a.form, a.version, a.output, stdout);
        return bad("usage: fieldsync-hub form publish|import FILE | form "
                   "xform --form ID",
                   NULL);
    }
    if (strcmp(cmd, "device") == 0) {
        if (a.npos == 2 && strcmp(a.pos[0], "revoke") == 0)
            return hub_revoke(a.db, "device", a.pos[1], stdout);
        if (a.npos == 2 && strcmp(a.pos[0], "scope") == 0)
            return hub_device_scope(a.db, a.pos[1], a.areas, a.forms, stdout);
        return bad("usage: fieldsync-hub device revoke|scope ID", NULL);
    }
    if (strcmp(cmd, "review") == 0) {
        if (a.npos != 1)
            return bad("usage: fieldsync-hub review ID --state STATE "
                       "[--comment TEXT]",
                       NULL);
        return hub_review(a.db, a.pos[0], a.state, a.comment, stdout);
    }
    if (strcmp(cmd, "token") == 0) {
        if (a.npos == 1 && strcmp(a.pos[0], "create") == 0)
            return hub_token_create(a.db, a.role_given ? a.role : "", a.name,
                                    a.areas ? a.areas : "*", stdout);
        if (a.npos == 1 && strcmp(a.pos[0], "list") == 0)
            return hub_token_list(a.db, a.json, stdout);
        if (a.npos == 2 && strcmp(a.pos[0], "revoke") == 0)
            return hub_revoke(a.db, "token", a.pos[1], stdout);
        return bad("usage: fieldsync-hub token create|list|revoke", NULL);
    }
    if (is_mapping_command(cmd))
        return mapping_command(cmd, &a);
    if (strcmp(cmd, "import") == 0) {
        if (!sub_is(&a, 2, "csv"))
            return bad("usage: fieldsync-hub import csv --form F --wave W "
                       "FILE.csv",
                       NULL);
        if (!a.form || !a.wave)
            return bad("import csv needs --form F and --wave W", NULL);
        hub_import_req req = {.form = a.form,
                              .wave = a.wave,
                              .file = a.pos[1],
                              .date_format = a.date_format,
                              .key = a.key,
                              .maps = a.maps,
                              .nmaps = a.nmaps,
                              .dry_run = a.dry_run,
                              .progress = a.progress};
        return hub_import_csv(a.db, &req, stdout);
    }
    if (strcmp(cmd, "aggregates") == 0) {
        if (sub_is(&a, 2, "by")) {
            if (!a.form)
                return bad("aggregates by needs --form F", NULL);
            return hub_aggregates_by(a.db, a.form, a.pos[1], stdout);
        }
        if (!sub_is(&a, 1, "rebuild") && !sub_is(&a, 1, "verify"))
            return bad("usage: fieldsync-hub aggregates rebuild|verify|by",
                       NULL);
        return hub_aggregates(a.db, a.pos[0], stdout);
    }
    if (strcmp(cmd, "conflicts") == 0) {
        if (a.npos)
            return bad("conflicts takes no arguments: ", a.pos[0]);
        return hub_conflicts(a.db, a.all, a.json, stdout);
    }
    if (strcmp(cmd, "resolve") == 0) {
        if (a.npos != 1)
            return bad("usage: fieldsync-hub resolve ID --value V | "
                       "--choose N",
                       NULL);
        return hub_resolve(a.db, a.pos[0], a.value, a.choose, stdout);
    }
    if (strcmp(cmd, "duplicates") == 0) {
        if (a.npos)
            return bad("duplicates takes no arguments: ", a.pos[0]);
        return hub_duplicates(a.db, a.json, stdout);
    }
    if (strcmp(cmd, "entity") == 0) {
        if ((a.npos != 2 && a.npos != 3) || strcmp(a.pos[0], "put") != 0)
            return bad("usage: fieldsync-hub entity put TYPE [ID] --fields "
                       "JSON",
                       NULL);
        return hub_entity_put(a.db, a.pos[1], a.npos == 3 ? a.pos[2] : NULL,
                              a.fields, stdout);
    }
    if (strcmp(cmd, "correct") == 0) {
        if (a.npos != 1)
            return bad("usage: fieldsync-hub correct ID --answers FILE.json",
                       NULL);
        return hub_correct(a.db, a.pos[0], a.answers, stdout);
    }
    if (strcmp(cmd, "devices") == 0)
        return hub_devices(a.db, a.json, stdout);
    if (strcmp(cmd, "held") == 0) {
        if (a.npos == 0)
            return hub_held(a.db, NULL, stdout);
        if (a.npos == 2 && strcmp(a.pos[0], "clear") == 0 &&
            fs_valid_uuid(a.pos[1]))
            return hub_held(a.db, a.pos[1], stdout);
        return bad("usage: fieldsync-hub held [clear DEVICE-ID]", NULL);
    }
    if (strcmp(cmd, "config") == 0) {
        if (sub_is(&a, 3, "set"))
            return hub_config_set(a.db, a.pos[1], a.pos[2], stdout);
        if (sub_is(&a, 1, "show"))
            return hub_config_show(a.db, a.json, stdout);
        return bad("usage: fieldsync-hub config set min-k N | config show",
                   NULL);
    }
    if (strcmp(cmd, "keys") == 0) {
        if (sub_is(&a, 1, "generate"))
            return hub_keys_generate(a.out, a.id, a.pass_fd, stdout);
        if (sub_is(&a, 2, "publish"))
            return hub_keys_publish(a.db, a.pos[1], stdout);
        if (sub_is(&a, 1, "list"))
            return hub_keys_list(a.db, a.json, stdout);
        return bad("usage: fieldsync-hub keys generate --out FILE | keys "
                   "publish FILE | keys list",
                   NULL);
    }
    if (strcmp(cmd, "open-file") == 0) {
        if (a.npos != 2)
            return bad("usage: fieldsync-hub open-file SUBMISSION-ID FIELD "
                       "--key FILE -o FILE",
                       NULL);
        return hub_open_file(a.db, a.key, a.pass_fd, a.pos[0], a.pos[1],
                             a.output, stdout);
    }
    if (strcmp(cmd, "stats") == 0)
        return hub_stats(a.db, a.json, stdout);
    if (strcmp(cmd, "backup") == 0) {
        if (a.npos)
            return bad("backup takes no arguments (the copy is -o FILE): ",
                       a.pos[0]);
        return hub_backup(a.db, a.output, stdout);
    }
    if (strcmp(cmd, "restore") == 0) {
        if (a.npos != 1)
            return bad("usage: fieldsync-hub restore [--db PATH] [--force] "
                       "FILE",
                       NULL);
        return hub_restore(a.pos[0], a.db, a.force, stdout);
    }
    return bad("unknown command ", cmd);
}
