/*
 * proxy.c - a bench-only TCP relay on 127.0.0.1 that counts the bytes of
 * every connection and, when asked, shapes them like a thin link.
 *
 * Shaping, per direction of each connection: data is cut into segments of
 * at most SEG bytes; each segment occupies the link for
 * (bytes + TCPIP_HDR) / rate seconds (one link per direction shared by
 * all connections), then arrives delay_ms later. A lost segment (drawn
 * from a seeded generator with probability loss_permille / 1000) arrives
 * one retransmission later: 1.5 round trips, between a fast retransmit
 * (one round trip) and a tail loss probe. Order is kept, as TCP keeps it.
 * What this does not model: the sender's congestion window shrinking
 * after a loss, which makes a real lossy link slower still.
 *
 * With drop_every_ms, the link dies at every multiple of it since the
 * proxy started: each open connection is reset on both sides (what was
 * queued on the way is lost), as when a phone loses its cell.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define SEG 1448
#define TCPIP_HDR 52 /* IPv4 20 + TCP 20 + timestamps 12 */

typedef struct seg {
    double at; /* release time */
    size_t len;
    unsigned char data[SEG];
    struct seg *next;
} seg;

typedef struct dir {
    seg *head, *tail;
} dir;

struct bench_proxy {
    int lfd;
    int port;
    int target_port;
    bench_link link;
    pthread_t tid;
    pthread_mutex_t lock;
    double link_free[2]; /* per direction: when the shared link is idle */
    bench_rng rng;
    long long bytes[2]; /* 0: client to hub, 1: hub to client */
    long long segments[2];
    long long lost;
    long conns;
    double t0; /* start, for drop_every_ms */
    long drops;
    long long drop_lost;
};

typedef struct conn {
    bench_proxy *p;
    int fd[2]; /* 0: client side, 1: hub side */
} conn;

static void queue(bench_proxy *p, dir *d, int way, const unsigned char *buf,
                  size_t n)
{
    double now = bench_now();
    const bench_link *l = &p->link;
    for (size_t off = 0; off < n;) {
        size_t len = n - off < SEG ? n - off : SEG;
        seg *s = malloc(sizeof *s);
        if (!s)
            abort();
        memcpy(s->data, buf + off, len);
        s->len = len;
        s->next = NULL;
        double at = now;
        pthread_mutex_lock(&p->lock);
        p->bytes[way] += (long long)len;
        p->segments[way]++;
        if (l->rate_bps > 0) {
            double start = p->link_free[way] > now ? p->link_free[way] : now;
            p->link_free[way] =
                start + (double)(len + TCPIP_HDR) * 8.0 / l->rate_bps;
            at = p->link_free[way];
        }
        at += l->delay_ms / 1000.0;
        if (l->loss_permille > 0 &&
            bench_rng_below(&p->rng, 1000) < (unsigned)l->loss_permille) {
            at += 1.5 * 2.0 * l->delay_ms / 1000.0;
            p->lost++;
        }
        pthread_mutex_unlock(&p->lock);
        if (d->tail && at < d->tail->at)
            at = d->tail->at;
        s->at = at;
        if (d->tail)
            d->tail->next = s;
        else
            d->head = s;
        d->tail = s;
        off += len;
    }
}

/* Resets both sides: the peers see the connection die. */
static void reset_conn(conn *c)
{
    struct linger l = {1, 0};
    for (int i = 0; i < 2; i++)
        setsockopt(c->fd[i], SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    bench_proxy *p = c->p;
    dir d[2] = {{NULL, NULL}, {NULL, NULL}};
    int open[2] = {1, 1};
    unsigned char buf[16384];
    double every = p->link.drop_every_ms / 1000.0, drop_at = 0;
    if (every > 0)
        drop_at =
            p->t0 + (double)((long)((bench_now() - p->t0) / every) + 1) * every;
    for (;;) {
        double now = bench_now();
        if (every > 0 && now >= drop_at) {
            long long queued = 0;
            for (seg *s = d[0].head; s; s = s->next)
                queued += (long long)s->len;
            pthread_mutex_lock(&p->lock);
            p->drops++;
            p->drop_lost += queued;
            pthread_mutex_unlock(&p->lock);
            reset_conn(c);
            goto out;
        }
        /* Deliver what is due. */
        for (int w = 0; w < 2; w++) {
            while (d[w].head && d[w].head->at <= now) {
                seg *s = d[w].head;
                size_t off = 0;
                while (off < s->len) {
                    /* MSG_NOSIGNAL: a side that closed (the hub drops
                     * a connection left idle) ends this relay, not the
                     * bench. */
                    ssize_t k = send(c->fd[1 - w], s->data + off, s->len - off,
                                     MSG_NOSIGNAL);
                    if (k <= 0)
                        goto out;
                    off += (size_t)k;
                }
                d[w].head = s->next;
                if (!d[w].head)
                    d[w].tail = NULL;
                free(s);
            }
            /* A side that closed is passed on once its data is out. */
            if (!open[w] && !d[w].head)
                shutdown(c->fd[1 - w], SHUT_WR);
        }
        if (!open[0] && !open[1] && !d[0].head && !d[1].head)
            break;
        int timeout = -1;
        for (int w = 0; w < 2; w++)
            if (d[w].head) {
                int ms = (int)((d[w].head->at - now) * 1000.0) + 1;
                if (timeout < 0 || ms < timeout)
                    timeout = ms;
            }
        if (every > 0) {
            int ms = (int)((drop_at - now) * 1000.0) + 1;
            if (timeout < 0 || ms < timeout)
                timeout = ms;
        }
        struct pollfd pf[2] = {{c->fd[0], open[0] ? POLLIN : 0, 0},
                               {c->fd[1], open[1] ? POLLIN : 0, 0}};
        if (poll(pf, 2, timeout) < 0 && errno != EINTR)
            break;
        for (int w = 0; w < 2; w++) {
            if (!open[w] || !(pf[w].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t k = read(c->fd[w], buf, sizeof buf);
            if (k <= 0)
                open[w] = 0;
            else
                queue(p, &d[w], w, buf, (size_t)k);
        }
    }
out:
    for (int w = 0; w < 2; w++)
        while (d[w].head) {
            seg *s = d[w].head;
            d[w].head = s->next;
            free(s);
        }
    close(c->fd[0]);
    close(c->fd[1]);
    free(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    bench_proxy *p = arg;
    for (;;) {
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return NULL; /* closed: the proxy stops */
        }
        int up = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)p->target_port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (up < 0 || connect(up, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            if (up >= 0)
                close(up);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = malloc(sizeof *c);
        c->p = p;
        c->fd[0] = fd;
        c->fd[1] = up;
        pthread_mutex_lock(&p->lock);
        p->conns++;
        pthread_mutex_unlock(&p->lock);
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_create(&t, &at, conn_main, c);
        pthread_attr_destroy(&at);
    }
}

bench_proxy *bench_proxy_start(int target_port, const bench_link *link,
                               uint64_t seed)
{
    bench_proxy *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->target_port = target_port;
    if (link)
        p->link = *link;
    bench_rng_seed(&p->rng, seed);
    pthread_mutex_init(&p->lock, NULL);
    p->t0 = bench_now();
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(p->lfd, 64) != 0 ||
        getsockname(p->lfd, (struct sockaddr *)&a, &al) != 0) {
        free(p);
        return NULL;
    }
    p->port = ntohs(a.sin_port);
    pthread_create(&p->tid, NULL, accept_main, p);
    return p;
}

int bench_proxy_port(const bench_proxy *p)
{
    return p->port;
}

void bench_proxy_counts(bench_proxy *p, bench_proxy_stats *st)
{
    pthread_mutex_lock(&p->lock);
    st->up = p->bytes[0];
    st->down = p->bytes[1];
    st->segments = p->segments[0] + p->segments[1];
    st->lost = p->lost;
    st->conns = p->conns;
    st->drops = p->drops;
    st->drop_lost = p->drop_lost;
    pthread_mutex_unlock(&p->lock);
}

void bench_proxy_reset(bench_proxy *p)
{
    pthread_mutex_lock(&p->lock);
    memset(p->bytes, 0, sizeof p->bytes);
    memset(p->segments, 0, sizeof p->segments);
    p->lost = 0;
    p->conns = 0;
    p->drops = 0;
    p->drop_lost = 0;
    pthread_mutex_unlock(&p->lock);
}

void bench_proxy_stop(bench_proxy *p)
{
    shutdown(p->lfd, SHUT_RDWR);
    close(p->lfd);
    pthread_join(p->tid, NULL);
    /* Connection threads end with their connections (the agent exited). */
    usleep(100000);
}
