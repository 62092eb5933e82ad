/*
 * common.c - see bench.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "bench.h"

/* ---- generator ------------------------------------------------------- */

void bench_rng_seed(bench_rng *r, uint64_t seed)
{
    r->s = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t bench_rng_next(bench_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

unsigned bench_rng_below(bench_rng *r, unsigned n)
{
    return n ? (unsigned)((bench_rng_next(r) >> 33) % n) : 0;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const settings[] = {"urban", "periurban", "rural"};
static const char *const ages[] = {"18-24", "25-34", "35-49", "50-64", "65+"};
static const char *const genders[] = {"woman", "man", "another", "prefer_not"};
static const char *const works[] = {"employed", "self_employed", "unemployed",
                                    "student",  "retired",       "carer"};
static const char *const educations[] = {"none", "primary", "secondary",
                                         "vocational", "tertiary"};
static const char *const tensions[] = {"never", "rarely", "sometimes", "often"};
static const char *const tension_kinds[] = {"graffiti",    "verbal_abuse",
                                            "online_hate", "vandalism",
                                            "assault",     "protest"};
static const char *const reporteds[] = {"yes", "no", "not_applicable"};
static const char *const services[] = {"library", "youth_centre", "mosque",
                                       "church",  "sports",       "community",
                                       "clinic",  "food_bank"};
static const char *const platforms[] = {
    "none", "whatsapp", "facebook", "tiktok", "telegram", "instagram", "x"};
static const char *const yes_no[] = {"yes", "no"};

/* Twenty-five fields of the kinds a city survey has: choices, Likert
 * scales, counts, multi-selects, a location and one free-text comment.
 * Choice lists are the value lists the generator draws from, so every
 * generated submission is valid under the shared validator. */
typedef struct bench_field {
    const char *name, *type;
    const char *const *choices;
    size_t nchoices;
} bench_field;

#define CH(a) a, NELEM(a)
static const bench_field bench_fields[] = {
    {"interview_date", "date", NULL, 0},
    {"setting", "select_one", CH(settings)},
    {"age_band", "select_one", CH(ages)},
    {"gender", "select_one", CH(genders)},
    {"household", "integer", NULL, 0},
    {"years_here", "integer", NULL, 0},
    {"work", "select_one", CH(works)},
    {"education", "select_one", CH(educations)},
    {"belonging", "likert", NULL, 0},
    {"trust_neighbours", "likert", NULL, 0},
    {"trust_local_gov", "likert", NULL, 0},
    {"trust_police", "likert", NULL, 0},
    {"safe_day", "likert", NULL, 0},
    {"safe_night", "likert", NULL, 0},
    {"tension_seen", "select_one", CH(tensions)},
    {"tension_kinds", "select_multiple", CH(tension_kinds)},
    {"reported", "select_one", CH(reporteds)},
    {"services", "select_multiple", CH(services)},
    {"online_hours", "integer", NULL, 0},
    {"platform", "select_one", CH(platforms)},
    {"mixing", "likert", NULL, 0},
    {"consent", "select_one", CH(yes_no)},
    {"lat", "decimal", NULL, 0},
    {"lon", "decimal", NULL, 0},
    {"comment", "text", NULL, 0},
};

const char *bench_form_json(void)
{
    static char text[8192];
    if (text[0])
        return text;
    size_t used = (size_t)snprintf(
        text, sizeof text,
        "{\"id\":\"" BENCH_FORM_ID "\",\"version\":1,"
        "\"title\":{\"en\":\"Neighbourhood cohesion survey (bench)\"},"
        "\"kind\":\"survey\",\"default_language\":\"en\",\"fields\":[");
    for (size_t i = 0; i < NELEM(bench_fields) && used < sizeof text; i++) {
        const bench_field *f = &bench_fields[i];
        used += (size_t)snprintf(
            text + used, sizeof text - used,
            "%s{\"name\":\"%s\",\"type\":\"%s\"%s", i ? "," : "", f->name,
            f->type, strcmp(f->type, "likert") == 0 ? ",\"scale\":5" : "");
        if (f->nchoices && used < sizeof text)
            used += (size_t)snprintf(text + used, sizeof text - used,
                                     ",\"choices\":[");
        for (size_t k = 0; k < f->nchoices && used < sizeof text; k++)
            used += (size_t)snprintf(
                text + used, sizeof text - used,
                "%s{\"value\":\"%s\",\"label\":{\"en\":\"%s\"}}", k ? "," : "",
                f->choices[k], f->choices[k]);
        if (used < sizeof text)
            used += (size_t)snprintf(text + used, sizeof text - used, "%s}",
                                     f->nchoices ? "]" : "");
    }
    if (used + 3 < sizeof text)
        snprintf(text + used, sizeof text - used, "]}");
    return text;
}

static const char *const areas[] = {
    "CITY-N01", "CITY-N02", "CITY-N03", "CITY-N04", "CITY-N05", "CITY-N06",
    "CITY-N07", "CITY-N08", "CITY-S01", "CITY-S02", "CITY-S03", "CITY-S04"};
static const char *const collectors[] = {
    "Amina", "Joris", "Fatima", "Pieter", "Noor", "Mehmet", "Sanne", "Youssef"};
/* Words an enumerator's note is made of. */
static const char *const words[] = {
    "residents",  "said",     "the",     "square",    "after",     "dark",
    "youth",      "centre",   "closed",  "since",     "spring",    "posters",
    "were",       "torn",     "down",    "near",      "school",    "neighbours",
    "meet",       "at",       "market",  "on",        "saturdays", "some",
    "feel",       "ignored",  "by",      "council",   "rent",      "rising",
    "new",        "families", "arrived", "mostly",    "friendly",  "tension",
    "between",    "groups",   "online",  "rumours",   "about",     "mosque",
    "church",     "shared",   "event",   "police",    "patrols",   "rare",
    "street",     "lights",   "broken",  "bus",       "stop",      "graffiti",
    "removed",    "quickly",  "elderly", "afraid",    "to",        "go",
    "out",        "football", "club",    "brings",    "kids",      "together",
    "volunteers", "run",      "food",    "bank",      "wants",     "more",
    "language",   "classes",  "no",      "incidents", "this",      "month",
    "one",        "argument", "in",      "queue",     "calm",      "overall",
    "worried",    "jobs",     "work",    "late",      "library",   "busy"};

static int put(fs_buf *b, const char *s)
{
    return fs_buf_append(b, s, strlen(s));
}

static int putf(fs_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int putf(fs_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return FS_EINVAL;
    return fs_buf_append(b, tmp, (size_t)n);
}

static const char *pick(bench_rng *r, const char *const *a, size_t n)
{
    return a[bench_rng_below(r, (unsigned)n)];
}

#define PICK(r, a) pick((r), (a), NELEM(a))

/* A Likert answer leaning towards the middle, as real answers do. */
static int likert(bench_rng *r)
{
    return 1 + (int)((bench_rng_below(r, 5) + bench_rng_below(r, 5) + 1) / 2);
}

static int multi(bench_rng *r, fs_buf *b, const char *key, const char *const *a,
                 size_t n, unsigned max)
{
    int rc = putf(b, ",\"%s\":[", key);
    unsigned k = bench_rng_below(r, max + 1);
    unsigned start = bench_rng_below(r, (unsigned)n);
    for (unsigned i = 0; i < k && rc == FS_OK; i++)
        rc = putf(b, "%s\"%s\"", i ? "," : "", a[(start + i * 3) % n]);
    return rc == FS_OK ? put(b, "]") : rc;
}

int bench_answers(bench_rng *r, fs_buf *b)
{
    int rc = putf(b, "{\"interview_date\":\"2026-%02u-%02u\"",
                  1 + bench_rng_below(r, 12), 1 + bench_rng_below(r, 28));
    if (rc == FS_OK)
        rc = putf(b,
                  ",\"setting\":\"%s\",\"age_band\":\"%s\","
                  "\"gender\":\"%s\"",
                  PICK(r, settings), PICK(r, ages), PICK(r, genders));
    if (rc == FS_OK)
        rc = putf(b, ",\"household\":%u,\"years_here\":%u",
                  1 + bench_rng_below(r, 9), bench_rng_below(r, 61));
    if (rc == FS_OK)
        rc = putf(b, ",\"work\":\"%s\",\"education\":\"%s\"", PICK(r, works),
                  PICK(r, educations));
    if (rc == FS_OK)
        rc = putf(b,
                  ",\"belonging\":%d,\"trust_neighbours\":%d,"
                  "\"trust_local_gov\":%d,\"trust_police\":%d,"
                  "\"safe_day\":%d,\"safe_night\":%d",
                  likert(r), likert(r), likert(r), likert(r), likert(r),
                  likert(r));
    if (rc == FS_OK)
        rc = putf(b, ",\"tension_seen\":\"%s\"", PICK(r, tensions));
    if (rc == FS_OK)
        rc = multi(r, b, "tension_kinds", tension_kinds, NELEM(tension_kinds),
                   2);
    if (rc == FS_OK)
        rc = putf(b, ",\"reported\":\"%s\"", PICK(r, reporteds));
    if (rc == FS_OK)
        rc = multi(r, b, "services", services, NELEM(services), 3);
    if (rc == FS_OK)
        rc = putf(b,
                  ",\"online_hours\":%u,\"platform\":\"%s\","
                  "\"mixing\":%d,\"consent\":\"yes\"",
                  bench_rng_below(r, 9), PICK(r, platforms), likert(r));
    /* A location inside a ~10 km square: the digits do not compress. */
    if (rc == FS_OK)
        rc = putf(b, ",\"lat\":52.%05u,\"lon\":4.%05u",
                  30000 + bench_rng_below(r, 9000),
                  85000 + bench_rng_below(r, 9000));
    /* A third of the notes are left out (an empty text is not an
     * answer); the others are 4 to 15 words. */
    unsigned nw = bench_rng_below(r, 3) == 0 ? 0 : 4 + bench_rng_below(r, 12);
    if (rc == FS_OK && nw > 0)
        rc = put(b, ",\"comment\":\"");
    for (unsigned i = 0; i < nw && rc == FS_OK; i++)
        rc = putf(b, "%s%s", i ? " " : "", PICK(r, words));
    if (rc == FS_OK && nw > 0)
        rc = put(b, "\"");
    if (rc == FS_OK)
        rc = put(b, "}");
    return rc;
}

int bench_submission(bench_rng *r, uint64_t base_ms, fs_submission *s)
{
    memset(s, 0, sizeof *s);
    uint64_t ms = base_ms + bench_rng_below(r, 1000);
    uint64_t a = bench_rng_next(r), c = bench_rng_next(r);
    unsigned char u[16];
    for (int i = 0; i < 6; i++)
        u[i] = (unsigned char)(ms >> (40 - 8 * i));
    u[6] = (unsigned char)(0x70 | (a & 0x0f));
    u[7] = (unsigned char)(a >> 8);
    u[8] = (unsigned char)(0x80 | ((a >> 16) & 0x3f));
    for (int i = 9; i < 16; i++)
        u[i] = (unsigned char)(c >> (8 * (i - 9)));
    char hex[33];
    fs_hex(u, 16, hex);
    snprintf(s->id, sizeof s->id, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
             hex + 12, hex + 16, hex + 20);
    snprintf(s->form_id, sizeof s->form_id, "%s", BENCH_FORM_ID);
    s->form_version = 1;
    snprintf(s->area, sizeof s->area, "%s", PICK(r, areas));
    snprintf(s->collector, sizeof s->collector, "%s", PICK(r, collectors));
    s->hlc = ms << 16;
    s->created_ms = (int64_t)ms;
    s->rev = 1;
    fs_buf b;
    fs_buf_init(&b, 64 * 1024);
    int rc = bench_answers(r, &b);
    if (rc != FS_OK) {
        fs_buf_free(&b);
        return rc;
    }
    s->answers_json = (char *)b.data; /* handed over, NUL-terminated */
    return FS_OK;
}

/* ---- time, stats, files, processes ----------------------------------- */

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof v[0], cmp_double);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

int bench_tmpdir(char *out, size_t cap, const char *tag)
{
    const char *t = getenv("TMPDIR");
    int n = snprintf(out, cap, "%s/fieldsync-bench-%s.XXXXXX",
                     t && t[0] ? t : "/tmp", tag);
    if (n < 0 || (size_t)n >= cap || !mkdtemp(out))
        return -1;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : 0;
}

void bench_rmrf(const char *dir)
{
    if (getenv("FS_BENCH_KEEP")) {
        fprintf(stderr, "kept %s\n", dir);
        return;
    }
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int bench_run(char *const argv[], char *out, size_t cap, long *maxrss_kb)
{
    int fd[2] = {-1, -1};
    if (out && pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (out) {
            dup2(fd[1], 1);
            close(fd[0]);
            close(fd[1]);
            /* Captured commands are ours (enroll-code...): their advice
             * on stderr is noise in a bench report. */
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0)
                dup2(null, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    if (out) {
        close(fd[1]);
        size_t len = 0;
        ssize_t n;
        while ((n = read(fd[0], out + len, cap - 1 - len)) > 0) {
            len += (size_t)n;
            if (len >= cap - 1)
                break;
        }
        out[len] = '\0';
        close(fd[0]);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            return -1;
    if (maxrss_kb)
        *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

long bench_self_maxrss(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int bench_int_arg(const char *name, const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || x < lo || x > hi) {
        fprintf(stderr, "%s takes a number from %ld to %ld\n", name, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* ---- hub ------------------------------------------------------------- */

int bench_hub_rate_limit = 1;

/* 1 when `fieldsync-hub --help` lists opt. */
static int hub_has_option(const char *hub_bin, const char *opt)
{
    static char help[8192];
    char *argv[] = {(char *)hub_bin, "--help", NULL};
    if (bench_run(argv, help, sizeof help, NULL) < 0)
        return 0;
    return strstr(help, opt) != NULL;
}

int bench_hub_start(bench_hub *h, const char *hub_bin, const char *dir,
                    const char *listen_host, int threads)
{
    memset(h, 0, sizeof *h);
    snprintf(h->dir, sizeof h->dir, "%s", dir);
    snprintf(h->db, sizeof h->db, "%s/hub.db", dir);
    char form[4096], portf[4096], logf[4096], listen[96], th[16];
    snprintf(form, sizeof form, "%s/form.json", dir);
    snprintf(portf, sizeof portf, "%s/port", dir);
    snprintf(logf, sizeof logf, "%s/hub.log", dir);
    snprintf(listen, sizeof listen, "%s:0",
             listen_host ? listen_host : "127.0.0.1");
    snprintf(th, sizeof th, "%d", threads);
    FILE *f = fopen(form, "w");
    if (!f || fputs(bench_form_json(), f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "bench: cannot write %s\n", form);
        return -1;
    }
    char *pub[] = {(char *)hub_bin, "form", "publish", "--db",
                   h->db,           form,   NULL};
    char sink[512];
    if (bench_run(pub, sink, sizeof sink, NULL) != 0) {
        fprintf(stderr, "bench: form publish failed\n");
        return -1;
    }
    int rate_opt = hub_has_option(hub_bin, "--rate-limit");
    h->rate_limited = bench_hub_rate_limit || !rate_opt;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        char *argv[] = {(char *)hub_bin,
                        "serve",
                        "--db",
                        h->db,
                        "--listen",
                        listen,
                        "--port-file",
                        portf,
                        "--threads",
                        th,
                        NULL,
                        NULL,
                        NULL};
        if (!bench_hub_rate_limit && rate_opt) {
            argv[10] = "--rate-limit";
            argv[11] = "0";
        }
        execv(hub_bin, argv);
        _exit(127);
    }
    h->pid = pid;
    for (int i = 0; i < 400; i++) {
        FILE *p = fopen(portf, "r");
        char line[32] = "";
        if (p) {
            if (!fgets(line, sizeof line, p))
                line[0] = '\0';
            fclose(p);
        }
        long port = 0;
        char *end = NULL;
        port = strtol(line, &end, 10);
        if (line[0] && port > 0) {
            h->port = (int)port;
            snprintf(h->url, sizeof h->url, "http://%s:%d",
                     listen_host ? listen_host : "127.0.0.1", h->port);
            return 0;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "bench: hub exited at start; see %s\n", logf);
            h->pid = 0;
            return -1;
        }
        usleep(25000);
    }
    fprintf(stderr, "bench: hub did not start in 10 s\n");
    bench_hub_stop(h);
    return -1;
}

int bench_hub_stop(bench_hub *h)
{
    if (h->pid <= 0)
        return 0;
    kill(h->pid, SIGTERM);
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(h->pid, &st, 0, &ru) < 0 && errno == EINTR)
        ;
    h->pid = 0;
    h->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int bench_enroll_code(const bench_hub *h, const char *hub_bin, const char *name,
                      char *code, size_t cap)
{
    char *argv[] = {(char *)hub_bin, "enroll-code", "--db", (char *)h->db,
                    "--name",        (char *)name,  NULL};
    if (bench_run(argv, code, cap, NULL) != 0)
        return -1;
    code[strcspn(code, "\r\n")] = '\0';
    return code[0] ? 0 : -1;
}

static size_t to_buf(char *p, size_t size, size_t n, void *userp)
{
    return fs_buf_append(userp, p, size * n) == FS_OK ? size * n : 0;
}

int bench_enroll(const bench_hub *h, const char *hub_bin, const char *name,
                 bench_device *dev)
{
    char code[128];
    if (bench_enroll_code(h, hub_bin, name, code, sizeof code) != 0)
        return -1;
    char body[256], url[256];
    snprintf(body, sizeof body, "{\"code\":\"%s\",\"name\":\"%s\"}", code,
             name);
    snprintf(url, sizeof url, "%s/api/v1/enroll", h->url);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    fs_buf reply;
    fs_buf_init(&reply, 64 * 1024);
    struct curl_slist *hd =
        curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    long status = 0;
    int rc = -1;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        cJSON *j = NULL;
        fs_err perr;
        if (fs_json_parse((const char *)reply.data, reply.len, NULL, &j,
                          &perr) != FS_OK)
            j = NULL;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "device_id");
        const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "token");
        if (status == 200 && cJSON_IsString(id) && cJSON_IsString(tok)) {
            snprintf(dev->id, sizeof dev->id, "%s", id->valuestring);
            snprintf(dev->token, sizeof dev->token, "%s", tok->valuestring);
            rc = 0;
        }
        cJSON_Delete(j);
    }
    if (rc != 0)
        fprintf(stderr, "bench: enrolment of %s failed (HTTP %ld)\n", name,
                status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(c);
    fs_buf_free(&reply);
    return rc;
}

long long bench_hub_count(const bench_hub *h)
{
    sqlite3 *db = NULL;
    long long n = -1;
    if (sqlite3_open_v2(h->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM submissions", -1, &st,
                               NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* ---- pushing ----------------------------------------------------------- */

int bench_pusher_init(bench_pusher *p, const char *url, const char *token)
{
    memset(p, 0, sizeof *p);
    p->curl = curl_easy_init();
    if (!p->curl)
        return -1;
    fs_buf_init(&p->reply, 16 * 1024 * 1024);
    char auth[160];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *l = curl_slist_append(NULL, auth);
    l = curl_slist_append(l, "Content-Type: application/json");
    l = curl_slist_append(l, "Content-Encoding: gzip");
    l = curl_slist_append(l, "Expect:");
    p->headers = l;
    snprintf(p->url, sizeof p->url, "%s/api/v1/push", url);
    CURL *c = p->curl;
    curl_easy_setopt(c, CURLOPT_URL, p->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &p->reply);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    return 0;
}

void bench_pusher_body(bench_pusher *p, const void *body, size_t len)
{
    fs_buf_reset(&p->reply);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
}

long bench_push(bench_pusher *p, const void *body, size_t len)
{
    bench_pusher_body(p, body, len);
    if (curl_easy_perform(p->curl) != CURLE_OK)
        return -1;
    long status = 0;
    curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

void bench_pusher_free(bench_pusher *p)
{
    curl_slist_free_all(p->headers);
    curl_easy_cleanup(p->curl);
    fs_buf_free(&p->reply);
}

int bench_encode(const fs_submission *subs, size_t n, const char *device,
                 int64_t first_seq, int level, fs_buf *out, size_t *json_len)
{
    fs_changeset *cs = fs_changeset_new(n);
    if (!cs)
        return FS_ENOMEM;
    cs->protocol = FS_PROTOCOL_VERSION;
    cs->schema = FS_SCHEMA_VERSION;
    snprintf(cs->device, sizeof cs->device, "%s", device);
    cs->first_seq = first_seq;
    cs->last_seq = first_seq + (int64_t)n - 1;
    for (size_t i = 0; i < n; i++) {
        cs->changes[i].seq = first_seq + (int64_t)i;
        cs->changes[i].kind = FS_CHANGE_SUBMISSION;
        cs->changes[i].sub = subs[i]; /* borrowed answers */
    }
    cs->n = n;
    int rc = fs_changeset_encode(cs, level, out, json_len);
    for (size_t i = 0; i < n; i++)
        cs->changes[i].sub.answers_json = NULL;
    fs_changeset_free(cs);
    return rc;
}
