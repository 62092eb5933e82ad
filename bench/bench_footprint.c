/*
 * bench_footprint - what `fieldsync-agent` costs a cheap device: peak RSS
 * of the real binary recording and syncing N submissions, and the size of
 * the stripped binary.
 *
 * Recording N one process at a time takes ~45 ms each here (a process
 * start and an fsync per record), so N are recorded in this process with
 * the agent library (the code `record` runs) and --record-cli of them
 * with the binary, whose peak RSS is the largest seen. The sync of all N
 * is one run of the binary; a second sync, with nothing left to send,
 * shows what a sync costs before any changeset: libcurl, OpenSSL and one
 * request.
 *
 * Hubs face the network through a TLS terminator (deploy/stunnel), so the
 * same two syncs run again for a second agent over TLS: stunnel in front
 * of the same hub, a throwaway CA made with openssl and given to the
 * agent as its --cacert would be. Skipped, and said so, without openssl
 * or stunnel4.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"

#define OPENSSL_BIN "/usr/bin/openssl"
#define STUNNEL_BIN "/usr/bin/stunnel4"

typedef struct tls_front {
    pid_t pid;
    int port;
    char ca[4300]; /* the CA's certificate, for the agent */
} tls_front;

/* A port the system had free a moment ago, for stunnel to bind. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* A CA and a server certificate for 127.0.0.1 signed by it (P-256). */
static int make_certs(const char *dir, tls_front *t)
{
    char key[4300], csr[4300], crt[4300], ext[4300], cakey[4300], out[512];
    snprintf(t->ca, sizeof t->ca, "%s/ca.pem", dir);
    snprintf(cakey, sizeof cakey, "%s/ca.key", dir);
    snprintf(key, sizeof key, "%s/hub.key", dir);
    snprintf(csr, sizeof csr, "%s/hub.csr", dir);
    snprintf(crt, sizeof crt, "%s/hub.crt", dir);
    snprintf(ext, sizeof ext, "%s/hub.ext", dir);
    if (write_text(ext, "subjectAltName=IP:127.0.0.1\n"
                        "basicConstraints=critical,CA:FALSE\n"
                        "extendedKeyUsage=serverAuth\n") != 0)
        return -1;
    char *ca_argv[] = {OPENSSL_BIN,
                       "req",
                       "-x509",
                       "-newkey",
                       "ec",
                       "-pkeyopt",
                       "ec_paramgen_curve:P-256",
                       "-nodes",
                       "-keyout",
                       cakey,
                       "-out",
                       t->ca,
                       "-days",
                       "1",
                       "-subj",
                       "/CN=fieldsync bench CA",
                       NULL};
    char *req_argv[] = {OPENSSL_BIN,
                        "req",
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:P-256",
                        "-nodes",
                        "-keyout",
                        key,
                        "-out",
                        csr,
                        "-subj",
                        "/CN=127.0.0.1",
                        NULL};
    char *sign_argv[] = {
        OPENSSL_BIN, "x509",     "-req", "-in",         csr, "-CA",
        t->ca,       "-CAkey",   cakey,  "-set_serial", "1", "-days",
        "1",         "-extfile", ext,    "-out",        crt, NULL};
    if (bench_run(ca_argv, out, sizeof out, NULL) != 0 ||
        bench_run(req_argv, out, sizeof out, NULL) != 0 ||
        bench_run(sign_argv, out, sizeof out, NULL) != 0)
        return -1;
    return 0;
}

/* stunnel in front of the hub, with the shipped configuration's TLS
 * settings (deploy/stunnel/fieldsync-hub.conf). */
static int tls_start(tls_front *t, const char *dir, int hub_port)
{
    memset(t, 0, sizeof *t);
    t->pid = -1;
    char conf[4300], logf[4300], text[10000];
    snprintf(conf, sizeof conf, "%s/stunnel.conf", dir);
    snprintf(logf, sizeof logf, "%s/stunnel.log", dir);
    t->port = free_port();
    if (make_certs(dir, t) != 0 || t->port < 0)
        return -1;
    snprintf(text, sizeof text,
             "foreground = yes\npid =\ndebug = notice\n[fieldsync-hub]\n"
             "accept = 127.0.0.1:%d\nconnect = 127.0.0.1:%d\n"
             "cert = %s/hub.crt\nkey = %s/hub.key\n"
             "sslVersionMin = TLSv1.2\n"
             "ciphers = ECDHE+AESGCM:ECDHE+CHACHA20\n"
             "options = NO_RENEGOTIATION\n",
             t->port, hub_port, dir, dir);
    if (write_text(conf, text) != 0)
        return -1;
    t->pid = fork();
    if (t->pid < 0)
        return -1;
    if (t->pid == 0) {
        int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(STUNNEL_BIN, STUNNEL_BIN, conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        if (port_open(t->port))
            return 0;
        struct timespec ts = {0, 25 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "bench_footprint: stunnel did not start (%s)\n", logf);
    return -1;
}

static void tls_stop(tls_front *t)
{
    if (t->pid > 0) {
        kill(t->pid, SIGTERM);
        waitpid(t->pid, NULL, 0);
    }
    t->pid = -1;
}

/* A second agent seeded with n over HTTP, then pointed at the terminator
 * with the CA to trust; its two syncs' peak RSS in *sync_rss and
 * *idle_rss. */
static int tls_syncs(const bench_hub *h, const char *hub_bin,
                     const char *agent_bin, const char *dir, long n, long seed,
                     long *sync_rss, long *idle_rss)
{
    char tdir[4200], adir[4300], url[128], out[4096];
    snprintf(tdir, sizeof tdir, "%s/tls", dir);
    snprintf(adir, sizeof adir, "%s/agent", tdir);
    tls_front t;
    if (mkdir(tdir, 0700) != 0 || tls_start(&t, tdir, h->port) != 0) {
        tls_stop(&t);
        return -1;
    }
    snprintf(url, sizeof url, "https://127.0.0.1:%d", t.port);
    int rc = bench_seed_agent(h, hub_bin, adir, h->url, n, (uint64_t)seed, 100,
                              NULL, NULL) == 0 &&
                     bench_agent_set_hub(adir, url) == 0 &&
                     bench_agent_set_meta(adir, "ca_file", t.ca) == 0
                 ? 0
                 : -1;
    char *argv_sync[] = {(char *)agent_bin, "--dir", adir, "sync",
                         "--quiet",         NULL};
    if (rc == 0)
        rc = bench_run(argv_sync, out, sizeof out, sync_rss);
    if (rc == 0)
        rc = bench_run(argv_sync, out, sizeof out, idle_rss);
    tls_stop(&t);
    return rc;
}

int main(int argc, char **argv)
{
    const char *hub_bin = FS_BENCH_HUB, *agent_bin = FS_BENCH_AGENT;
    long n = 10000, cli = 100, seed = 13;
    /* Every option takes a value: step over both. */
    for (int i = 1; i < argc; i += 2) {
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
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("== agent footprint ==\n");
    printf("command: bench_footprint --n %ld --record-cli %ld --seed %ld\n", n,
           cli, seed);
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
    long rec_rss = 0, sync_rss = 0, idle_rss = 0, status_rss = 0;
    if (bench_seed_agent(&h, hub_bin, adir, h.url, n - cli, (uint64_t)seed, 100,
                         NULL, NULL) != 0)
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
        char *argv_rec[] = {(char *)agent_bin, "--dir",     adir, "record",
                            BENCH_FORM_ID,     "--answers", ans,  "--area",
                            "CITY-N01",        NULL};
        char out[256];
        long rss = 0;
        if (bench_run(argv_rec, out, sizeof out, &rss) != 0)
            status = 1;
        if (rss > rec_rss)
            rec_rss = rss;
    }
    char out[4096];
    char *argv_sync[] = {(char *)agent_bin, "--dir", adir, "sync",
                         "--quiet",         NULL};
    if (status == 0 && bench_run(argv_sync, out, sizeof out, &sync_rss) != 0)
        status = 1;
    if (status == 0 && bench_run(argv_sync, out, sizeof out, &idle_rss) != 0)
        status = 1;
    char *argv_status[] = {(char *)agent_bin, "--dir", adir, "status", NULL};
    if (status == 0 &&
        bench_run(argv_status, out, sizeof out, &status_rss) != 0)
        status = 1;
    long long held = bench_hub_count(&h);
    if (held != n)
        status = 1;
    long tls_rss = 0, tls_idle_rss = 0;
    int have_tls =
        access(OPENSSL_BIN, X_OK) == 0 && access(STUNNEL_BIN, X_OK) == 0;
    if (status == 0 && have_tls &&
        (tls_syncs(&h, hub_bin, agent_bin, dir, n, seed + 2, &tls_rss,
                   &tls_idle_rss) != 0 ||
         bench_hub_count(&h) != 2 * n)) {
        fprintf(stderr, "bench_footprint: the sync over TLS failed\n");
        status = 1;
    }
    char *argv_strip[] = {"/usr/bin/strip", "-o", stripped, (char *)agent_bin,
                          NULL};
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
               (double)rec_rss / 1024.0, n, (double)sync_rss / 1024.0,
               (double)status_rss / 1024.0, (double)peak / 1024.0);
        printf("sync with nothing left to send: %.1f MB (libcurl, OpenSSL "
               "and one request)\n",
               (double)idle_rss / 1024.0);
        if (have_tls)
            printf("over TLS (stunnel in front of the hub, a private CA): "
                   "sync of %ld %.1f MB, with nothing left to send %.1f "
                   "MB\n",
                   n, (double)tls_rss / 1024.0, (double)tls_idle_rss / 1024.0);
        else
            printf("over TLS: not measured (needs %s and %s)\n", OPENSSL_BIN,
                   STUNNEL_BIN);
        if (have_strip)
            printf("binary: %lld B as built, %lld B stripped (dynamically "
                   "linked: SQLite, zlib, cJSON, CivetWeb, libcrypto; "
                   "libcurl loaded by the commands that reach a hub)\n",
                   (long long)sb.st_size, (long long)ss.st_size);
    } else {
        fprintf(stderr,
                "bench_footprint: a step failed (hub holds %lld of "
                "%ld)\n",
                held, n);
    }
    if (bench_hub_stop(&h) != 0)
        status = 1;
    bench_rmrf(dir);
    curl_global_cleanup();
    return status;
}
