/*
 * faultproxy.c - a small TCP proxy that injects faults, for the
 * reliability tests and link benches. Not part of the product.
 *
 * It listens on 127.0.0.1, forwards every connection to one target and,
 * per connection, may plant one fault drawn from a seeded PRNG:
 *   drop      reset both sides once N bytes of the request (or reply)
 *             stream have passed, N random below --max-offset;
 *   truncate  stop one direction after N bytes and send FIN there, the
 *             other direction stays open (a half-dead link);
 *   corrupt   flip bits of the byte at offset N of one direction;
 *   delay     stall one direction for --delay-ms at offset N.
 * With --refault, a connection that outlives its fault (corrupt, delay),
 * or whose request stream passes max-offset bytes past the last draw with
 * no request fault pending, draws again further on: a long kept-alive
 * connection meets faults all along instead of once near its start.
 * Independently of faults it can add a fixed latency per direction and
 * cap the bandwidth of each direction of each connection, to model a thin
 * link. A fault that never fires (the stream was shorter than N) is not
 * counted. Counts go to stderr and --stats-file at exit (SIGTERM/SIGINT)
 * and to --stats-file on SIGUSR1.
 *
 * One thread, poll(), bounded buffers and a bounded number of
 * connections: a slow side applies back-pressure instead of growing
 * memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_CAP 65536
#define MARKS 64
#define MAX_CONNS_LIMIT 4096

enum fault { F_NONE, F_DROP, F_TRUNCATE, F_CORRUPT, F_DELAY, F_KINDS };
static const char *const fault_names[F_KINDS] = {"none", "drop", "truncate",
                                                 "corrupt", "delay"};

typedef struct mark {
    uint64_t end;        /* stream offset this mark releases up to */
    uint64_t release_ms; /* when */
} mark;

typedef struct dir {
    unsigned char buf[BUF_CAP];
    size_t start, end; /* bytes pending are buf[start..end) */
    uint64_t in, out;  /* stream offsets read and written */
    mark marks[MARKS];
    int mhead, mcount;
    double tokens;
    uint64_t tokens_ms;
    int eof;  /* the source said EOF */
    int shut; /* FIN sent to the destination */
    enum fault fault;
    uint64_t at; /* fault offset in this direction */
    int fired;
    uint64_t hold_until;
} dir;

typedef struct conn {
    int fd[2]; /* 0 client, 1 target */
    dir d[2];  /* d[0] client->target (request), d[1] target->client */
    uint64_t last_ms;
    uint64_t horizon; /* --refault: request offset of the next draw */
    int used;
} conn;

typedef struct opts {
    const char *target_host, *port_file, *stats_file, *listen_host;
    int target_port, listen_port;
    uint64_t seed;
    double p[F_KINDS][2]; /* probability per kind and direction */
    long delay_ms, latency_ms, idle_ms, max_offset, max_conns, refault;
    double rate; /* bytes per second per direction, 0 = unlimited */
} opts;

static struct {
    unsigned long long conns, refused, idle_closed;
    unsigned long long fired[F_KINDS][2];
    unsigned long long bytes[2];
} stats;

static volatile sig_atomic_t stop_flag, dump_flag;
static uint64_t prng;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void on_dump(int sig)
{
    (void)sig;
    dump_flag = 1;
}

static uint64_t next_rand(void)
{
    /* splitmix64: small, seeded, the same run for the same seed. */
    uint64_t z = (prng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform(void)
{
    return (double)(next_rand() >> 11) / 9007199254740992.0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_prob(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0.0 && v <= 1.0))
        return -1;
    *out = v;
    return 0;
}

/* HOST:PORT with a numeric IPv4 host. */
static int parse_hostport(char *s, const char **host, int *port)
{
    char *colon = strrchr(s, ':');
    long p;
    if (!colon || parse_long(colon + 1, 0, 65535, &p) != 0)
        return -1;
    *colon = '\0';
    *host = s;
    *port = (int)p;
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: faultproxy --target HOST:PORT [options]\n"
            "  --listen HOST:PORT   default 127.0.0.1:0\n"
            "  --port-file F        write the listening port to F\n"
            "  --stats-file F       write fault counts to F (exit, USR1)\n"
            "  --seed N             PRNG seed (default 1)\n"
            "  --drop P | --drop-request P | --drop-reply P\n"
            "  --truncate P | --corrupt P | --delay P\n"
            "                       per-connection probability (0..1) of\n"
            "                       that fault; the plain form is split\n"
            "                       evenly between request and reply;\n"
            "                       the sum must stay <= 1\n"
            "  --max-offset N       faults hit a byte offset below N "
            "(4096)\n"
            "  --delay-ms MS        length of a delay fault (1000)\n"
            "  --latency-ms MS      added latency, each direction (0)\n"
            "  --rate BYTES         bandwidth cap per direction (0: none)\n"
            "  --idle-ms MS         close a connection idle this long "
            "(30000)\n"
            "  --max-conns N        connections at once (256)\n"
            "  --refault 1          after a corrupt or delay fault, draw\n"
            "                       another for the same connection\n");
}

static int parse_opts(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->listen_host = "127.0.0.1";
    o->seed = 1;
    o->delay_ms = 1000;
    o->idle_ms = 30000;
    o->max_offset = 4096;
    o->max_conns = 256;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        double p = 0;
        int bad = v == NULL;
        if (bad) {
            fprintf(stderr, "faultproxy: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--target") == 0)
            bad = parse_hostport(v, &o->target_host, &o->target_port);
        else if (strcmp(a, "--listen") == 0)
            bad = parse_hostport(v, &o->listen_host, &o->listen_port);
        else if (strcmp(a, "--port-file") == 0)
            o->port_file = v;
        else if (strcmp(a, "--stats-file") == 0)
            o->stats_file = v;
        else if (strcmp(a, "--seed") == 0) {
            char *end = NULL;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            bad = errno || end == v || *end;
            o->seed = s;
        } else if (strcmp(a, "--drop-request") == 0) {
            bad = parse_prob(v, &o->p[F_DROP][0]);
        } else if (strcmp(a, "--drop-reply") == 0) {
            bad = parse_prob(v, &o->p[F_DROP][1]);
        } else if (strcmp(a, "--drop") == 0 || strcmp(a, "--truncate") == 0 ||
                   strcmp(a, "--corrupt") == 0 || strcmp(a, "--delay") == 0) {
            enum fault f = a[2] == 'd'   ? (a[3] == 'r' ? F_DROP : F_DELAY)
                           : a[2] == 't' ? F_TRUNCATE
                                         : F_CORRUPT;
            bad = parse_prob(v, &p);
            o->p[f][0] = o->p[f][1] = p / 2;
        } else if (strcmp(a, "--max-offset") == 0) {
            bad = parse_long(v, 1, 1L << 30, &o->max_offset);
        } else if (strcmp(a, "--delay-ms") == 0) {
            bad = parse_long(v, 0, 3600000, &o->delay_ms);
        } else if (strcmp(a, "--latency-ms") == 0) {
            bad = parse_long(v, 0, 60000, &o->latency_ms);
        } else if (strcmp(a, "--idle-ms") == 0) {
            bad = parse_long(v, 1, 3600000, &o->idle_ms);
        } else if (strcmp(a, "--refault") == 0) {
            bad = parse_long(v, 0, 1, &o->refault);
        } else if (strcmp(a, "--max-conns") == 0) {
            bad = parse_long(v, 1, MAX_CONNS_LIMIT, &o->max_conns);
        } else if (strcmp(a, "--rate") == 0) {
            /* At most 1 GiB/s: a long is 32 bits on armhf. */
            bad = parse_long(v, 0, 1L << 30, &n);
            o->rate = (double)n;
        } else {
            fprintf(stderr, "faultproxy: unknown option %s\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "faultproxy: bad value for %s: %s\n", a, v);
            return -1;
        }
    }
    double sum = 0;
    for (int f = 1; f < F_KINDS; f++)
        sum += o->p[f][0] + o->p[f][1];
    if (!o->target_host || sum > 1.0 + 1e-9) {
        fprintf(stderr, "faultproxy: %s\n",
                o->target_host ? "fault probabilities add up to more "
                                 "than 1"
                               : "--target is required");
        return -1;
    }
    return 0;
}

static void write_stats(const opts *o, FILE *f)
{
    fprintf(f, "connections %llu\nrefused %llu\nidle_closed %llu\n",
            stats.conns, stats.refused, stats.idle_closed);
    unsigned long long total = 0;
    for (int k = 1; k < F_KINDS; k++) {
        fprintf(f, "%s_request %llu\n%s_reply %llu\n", fault_names[k],
                stats.fired[k][0], fault_names[k], stats.fired[k][1]);
        total += stats.fired[k][0] + stats.fired[k][1];
    }
    fprintf(f, "faults %llu\nbytes_request %llu\nbytes_reply %llu\n", total,
            stats.bytes[0], stats.bytes[1]);
    fprintf(f, "seed %llu\n", (unsigned long long)o->seed);
}

static void dump_stats_file(const opts *o)
{
    if (!o->stats_file)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", o->stats_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    write_stats(o, f);
    /* Rename so a reader never sees half a file. */
    if (fclose(f) == 0)
        rename(tmp, o->stats_file);
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_conn(conn *c, int reset)
{
    for (int i = 0; i < 2; i++) {
        if (c->fd[i] < 0)
            continue;
        if (reset) {
            /* Linger 0: the peer sees a reset, as when a link dies. */
            struct linger l = {1, 0};
            setsockopt(c->fd[i], SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        close(c->fd[i]);
        c->fd[i] = -1;
    }
    c->used = 0;
}

/* One fault (or none) for c, at an offset below max_offset past what
 * each direction has read so far. */
static void plan_fault(const opts *o, conn *c)
{
    double r = uniform(), acc = 0;
    for (int d = 0; d < 2; d++) {
        c->d[d].fault = F_NONE;
        c->d[d].fired = 0;
    }
    c->horizon = c->d[0].in + (uint64_t)o->max_offset;
    for (int f = 1; f < F_KINDS; f++) {
        for (int d = 0; d < 2; d++) {
            acc += o->p[f][d];
            if (r < acc) {
                c->d[d].fault = (enum fault)f;
                c->d[d].at = c->d[d].in + next_rand() % (uint64_t)o->max_offset;
                return;
            }
        }
    }
}

static int open_target(const opts *o)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->target_port);
    if (inet_pton(AF_INET, o->target_host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_nonblock(fd);
    return fd;
}

static void accept_one(const opts *o, int lfd, conn *conns)
{
    int cfd = accept(lfd, NULL, NULL);
    if (cfd < 0)
        return;
    conn *c = NULL;
    for (long i = 0; i < o->max_conns; i++) {
        if (!conns[i].used) {
            c = &conns[i];
            break;
        }
    }
    int tfd = c ? open_target(o) : -1;
    if (tfd < 0) {
        /* Target down or too many connections: the client sees a
         * connection closed at once, as from a dead hub behind a NAT. */
        stats.refused++;
        close(cfd);
        return;
    }
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_nonblock(cfd);
    memset(c, 0, sizeof *c);
    c->used = 1;
    c->fd[0] = cfd;
    c->fd[1] = tfd;
    c->last_ms = now_ms();
    c->d[0].tokens_ms = c->d[1].tokens_ms = c->last_ms;
    c->d[0].tokens = c->d[1].tokens = o->rate > 0 ? o->rate / 8 : 0;
    stats.conns++;
    plan_fault(o, c);
}

/* Bytes of d that may be written now; *wake is lowered to when more may
 * be. */
static size_t writable(const opts *o, dir *d, uint64_t now, uint64_t *wake)
{
    if (d->shut || d->end == d->start)
        return 0;
    if (d->hold_until > now) {
        if (d->hold_until < *wake)
            *wake = d->hold_until;
        return 0;
    }
    uint64_t limit = d->in;
    if (o->latency_ms > 0) {
        limit = d->out;
        for (int i = 0; i < d->mcount; i++) {
            const mark *m = &d->marks[(d->mhead + i) % MARKS];
            if (m->release_ms > now) {
                if (m->release_ms < *wake)
                    *wake = m->release_ms;
                break;
            }
            limit = m->end;
        }
    }
    /* Stop at the fault's offset so it hits exactly there. */
    if (!d->fired && d->fault != F_NONE && d->fault != F_CORRUPT &&
        d->at >= d->out && d->at < limit)
        limit = d->at;
    size_t n = (size_t)(limit - d->out);
    if (o->rate > 0) {
        double cap = o->rate / 8 + 1;
        d->tokens += o->rate * (double)(now - d->tokens_ms) / 1000.0;
        d->tokens_ms = now;
        if (d->tokens > cap)
            d->tokens = cap;
        if (d->tokens < (double)n)
            n = (size_t)d->tokens;
        if (n == 0 && *wake > now + 5)
            *wake = now + 5;
    }
    return n;
}

/* Fires the fault of d if the stream reached it. Returns 1 when the
 * connection is gone. */
static int maybe_fire(const opts *o, conn *c, int k, uint64_t now)
{
    dir *d = &c->d[k];
    if (d->fired || d->fault == F_NONE || d->fault == F_CORRUPT ||
        d->out != d->at)
        return 0;
    d->fired = 1;
    stats.fired[d->fault][k]++;
    switch (d->fault) {
    case F_DROP:
        close_conn(c, 1);
        return 1;
    case F_TRUNCATE:
        shutdown(c->fd[1 - k], SHUT_WR);
        d->shut = 1;
        d->start = d->end = 0;
        break;
    case F_DELAY:
        d->hold_until = now + (uint64_t)o->delay_ms;
        c->last_ms = d->hold_until;
        if (o->refault)
            plan_fault(o, c);
        break;
    default:
        break;
    }
    return 0;
}

static int do_read(const opts *o, conn *c, int k, uint64_t now)
{
    dir *d = &c->d[k];
    if (d->start > 0 && d->start == d->end)
        d->start = d->end = 0;
    if (d->end == BUF_CAP && d->start > 0) {
        memmove(d->buf, d->buf + d->start, d->end - d->start);
        d->end -= d->start;
        d->start = 0;
    }
    if (d->end == BUF_CAP || d->mcount == MARKS)
        return 0;
    ssize_t n = recv(c->fd[k], d->buf + d->end, BUF_CAP - d->end, 0);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0) {
        d->eof = 1;
        return 0;
    }
    if (d->shut)
        return 0; /* truncated: what follows is lost on the way */
    uint64_t from = d->in;
    d->in += (uint64_t)n;
    if (d->fault == F_CORRUPT && !d->fired && d->at >= from && d->at < d->in) {
        unsigned char flip = (unsigned char)(1 + next_rand() % 255);
        d->buf[d->end + (size_t)(d->at - from)] ^= flip;
        d->fired = 1;
        stats.fired[F_CORRUPT][k]++;
        if (o->refault)
            plan_fault(o, c);
    }
    d->end += (size_t)n;
    stats.bytes[k] += (uint64_t)n;
    if (o->refault && k == 0 && d->in >= c->horizon &&
        (d->fault == F_NONE || d->fired))
        plan_fault(o, c);
    if (o->latency_ms > 0) {
        mark *m = &d->marks[(d->mhead + d->mcount) % MARKS];
        m->end = d->in;
        m->release_ms = now + (uint64_t)o->latency_ms;
        d->mcount++;
    }
    return 0;
}

static int do_write(const opts *o, conn *c, int k, uint64_t now)
{
    /* Writing is activity too: a capped link may drain a full buffer
     * for a long time without reading anything. */
    dir *d = &c->d[k];
    uint64_t wake = UINT64_MAX;
    size_t n = writable(o, d, now, &wake);
    if (n == 0)
        return 0;
    ssize_t w = send(c->fd[1 - k], d->buf + d->start, n, MSG_NOSIGNAL);
    if (w < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    d->start += (size_t)w;
    d->out += (uint64_t)w;
    c->last_ms = now;
    if (o->rate > 0)
        d->tokens -= (double)w;
    while (d->mcount > 0 && d->marks[d->mhead].end <= d->out) {
        d->mhead = (d->mhead + 1) % MARKS;
        d->mcount--;
    }
    return 0;
}

/* Moves data of one connection; returns 1 when it was closed. */
static int service(const opts *o, conn *c, const struct pollfd *pf,
                   uint64_t now)
{
    for (int k = 0; k < 2; k++) {
        short re = pf[k].revents;
        if (re & (POLLIN | POLLHUP | POLLERR)) {
            if (do_read(o, c, k, now) != 0) {
                close_conn(c, 1);
                return 1;
            }
            c->last_ms = now;
        }
    }
    for (int k = 0; k < 2; k++) {
        if (maybe_fire(o, c, k, now))
            return 1;
        if (do_write(o, c, k, now) != 0) {
            close_conn(c, 1);
            return 1;
        }
        if (maybe_fire(o, c, k, now))
            return 1;
        dir *d = &c->d[k];
        if (d->eof && !d->shut && d->start == d->end) {
            shutdown(c->fd[1 - k], SHUT_WR);
            d->shut = 1;
        }
    }
    if (c->d[0].shut && c->d[1].shut && c->d[0].eof && c->d[1].eof) {
        close_conn(c, 0);
        return 1;
    }
    if (now > c->last_ms + (uint64_t)o->idle_ms) {
        stats.idle_closed++;
        close_conn(c, 1);
        return 1;
    }
    return 0;
}

static int open_listener(const opts *o)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->listen_port);
    socklen_t len = sizeof sa;
    if (inet_pton(AF_INET, o->listen_host, &sa.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(fd, 512) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    set_nonblock(fd);
    int port = ntohs(sa.sin_port);
    if (o->port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", o->port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
            rename(tmp, o->port_file) != 0) {
            close(fd);
            return -1;
        }
    }
    fprintf(stderr, "faultproxy: 127.0.0.1:%d -> %s:%d, seed %llu\n", port,
            o->target_host, o->target_port, (unsigned long long)o->seed);
    return fd;
}

int main(int argc, char **argv)
{
    opts o;
    if (argc < 2 || parse_opts(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    prng = o.seed;
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_dump;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = open_listener(&o);
    if (lfd < 0) {
        fprintf(stderr, "faultproxy: cannot listen: %s\n", strerror(errno));
        return 1;
    }
    conn *conns = calloc((size_t)o.max_conns, sizeof *conns);
    struct pollfd *pf = calloc((size_t)o.max_conns * 2 + 1, sizeof *pf);
    int status = 0;
    if (!conns || !pf) {
        fprintf(stderr, "faultproxy: out of memory\n");
        status = 1;
        goto out;
    }
    for (long i = 0; i < o.max_conns; i++)
        conns[i].fd[0] = conns[i].fd[1] = -1;

    while (!stop_flag) {
        if (dump_flag) {
            dump_flag = 0;
            dump_stats_file(&o);
        }
        uint64_t now = now_ms(), wake = now + 200;
        pf[0].fd = lfd;
        pf[0].events = POLLIN;
        for (long i = 0; i < o.max_conns; i++) {
            conn *c = &conns[i];
            struct pollfd *p = &pf[1 + 2 * i];
            p[0].fd = p[1].fd = -1;
            p[0].revents = p[1].revents = 0;
            if (!c->used)
                continue;
            for (int k = 0; k < 2; k++) {
                dir *d = &c->d[k];
                p[k].fd = c->fd[k];
                p[k].events = 0;
                /* A full buffer whose head was written out has room
                 * again: do_read moves what is left to the front. */
                if (!d->eof && (d->end < BUF_CAP || d->start > 0) &&
                    d->mcount < MARKS)
                    p[k].events |= POLLIN;
                if (writable(&o, d, now, &wake) > 0)
                    p[1 - k].events |= POLLOUT;
            }
            uint64_t idle = c->last_ms + (uint64_t)o.idle_ms + 1;
            if (idle < wake)
                wake = idle;
        }
        int timeout = wake > now ? (int)(wake - now) : 0;
        int n = poll(pf, (nfds_t)(o.max_conns * 2 + 1), timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "faultproxy: poll: %s\n", strerror(errno));
            status = 1;
            break;
        }
        now = now_ms();
        if (n > 0 && (pf[0].revents & POLLIN))
            accept_one(&o, lfd, conns);
        for (long i = 0; i < o.max_conns; i++)
            if (conns[i].used)
                service(&o, &conns[i], &pf[1 + 2 * i], now);
    }
    for (long i = 0; conns && i < o.max_conns; i++)
        if (conns[i].used)
            close_conn(&conns[i], 0);
    write_stats(&o, stderr);
    dump_stats_file(&o);
out:
    free(conns);
    free(pf);
    close(lfd);
    return status;
}
