/*
 * powercut-restore.c - the other half of the power-cut simulator
 * (powercut.c). Test tooling only; see tests/RELIABILITY.md.
 *
 *   powercut-restore init ROOT STATE
 *       Takes the tree under ROOT as durable: copies it into STATE/base
 *       and starts an empty log, STATE/log (the shim's PC_STATE is
 *       STATE).
 *   powercut-restore cut ROOT STATE SEED
 *       After every process that used ROOT has stopped: rebuilds ROOT as
 *       a disk could hold it after a power cut at the end of the log (or
 *       at the shim's own cut), then takes that as the new durable base.
 *
 * The tree after a cut, from the base and the log:
 *  - a file holds every write and size change made before its last
 *    fsync; of those after it, a choice drawn from SEED: none, all, or
 *    each 512-byte sector piece of each write kept or dropped on its own
 *    (later ones may land while earlier ones do not) and, in one mode in
 *    four, some pieces torn (only a prefix of the piece landed);
 *  - a directory holds every name made, renamed or removed before its
 *    last fsync, and of those after it, a prefix in the order they were
 *    made (metadata reaches the disk in order, as on a journalling file
 *    system), of a length drawn from SEED;
 *  - anything the shim logged after its cut never happened.
 * SQLite's "-shm" index files are not kept: SQLite rebuilds them.
 *
 * Prints one line: "powercut: mode M writes W (pending P: kept K, torn
 * T, dropped D), names N (pending Q, kept J)".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "powercut.h"

#define SECTOR 512

typedef struct node {
    int kind;            /* PC_FILE or PC_DIR */
    uint64_t ino;        /* as the shim names it */
    unsigned char *data; /* a file's content */
    size_t size, cap;
    long last_sync; /* index of the last PC_SYNC/PC_DSYNC, -1 */
} node;

typedef struct entry {
    int parent, fid; /* node indexes */
    char *name;
    int live;
} entry;

typedef struct rec {
    pc_rec h;
    int fid, pfid, pfid2;
    unsigned char *data; /* PC_WRITE data, or names */
} rec;

static node *nodes;
static int nnodes, capnodes;
static entry *ents;
static int nents, capents;
static rec *recs;
static long nrecs, caprecs;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "powercut-restore: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *grow(void *p, size_t n, size_t each)
{
    void *q = realloc(p, n * each);
    if (!q)
        die("out of memory");
    return q;
}

/* Seeded, reproducible (xorshift64*). */
static uint64_t rng;

static uint64_t draw(uint64_t below)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return below ? (rng * 2685821657736338717ull) % below : 0;
}

static int new_node(int kind, uint64_t ino)
{
    if (nnodes == capnodes) {
        capnodes = capnodes ? capnodes * 2 : 64;
        nodes = grow(nodes, (size_t)capnodes, sizeof *nodes);
    }
    node *n = &nodes[nnodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->ino = ino;
    n->last_sync = -1;
    return nnodes++;
}

static void add_entry(int parent, int fid, const char *name)
{
    if (nents == capents) {
        capents = capents ? capents * 2 : 64;
        ents = grow(ents, (size_t)capents, sizeof *ents);
    }
    ents[nents].parent = parent;
    ents[nents].fid = fid;
    ents[nents].name = strdup(name);
    ents[nents].live = 1;
    if (!ents[nents].name)
        die("out of memory");
    nents++;
}

static entry *find_entry(int parent, const char *name)
{
    for (int i = 0; i < nents; i++)
        if (ents[i].live && ents[i].parent == parent &&
            strcmp(ents[i].name, name) == 0)
            return &ents[i];
    return NULL;
}

/* The node the shim's inode number names now: the latest one made with
 * it (numbers are reused once a file is gone). */
static int fid_of(uint64_t ino)
{
    for (int i = nnodes - 1; i >= 0; i--)
        if (nodes[i].ino == ino)
            return i;
    return -1;
}

static void put(node *n, uint64_t off, const unsigned char *p, size_t len)
{
    size_t end = (size_t)off + len;
    if (end > n->cap) {
        n->cap = end * 2 > 4096 ? end * 2 : 4096;
        n->data = grow(n->data, n->cap, 1);
    }
    if (off > n->size)
        memset(n->data + n->size, 0, (size_t)off - n->size);
    memcpy(n->data + off, p, len);
    if (end > n->size)
        n->size = end;
}

static void resize(node *n, uint64_t size)
{
    if (size > n->size) {
        unsigned char zero = 0;
        put(n, size - 1, &zero, 1); /* zero-fills the gap */
    }
    n->size = (size_t)size;
}

/* Forgets every node and name (before a new base is read). */
static void reset(void)
{
    for (int i = 0; i < nnodes; i++)
        free(nodes[i].data);
    for (int i = 0; i < nents; i++)
        free(ents[i].name);
    nnodes = 0;
    nents = 0;
}

static void read_file(const char *path, node *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot read %s: %s", path, strerror(errno));
    unsigned char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        put(n, n->size, buf, k);
    fclose(f);
}

static void write_file(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        die("cannot write %s: %s", path, strerror(errno));
}

static int is_shm(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, "-shm") == 0;
}

/* ---- init: the tree as it is now is durable ----------------------- */

static void scan(const char *dir, int parent)
{
    DIR *d = opendir(dir);
    if (!d)
        die("cannot list %s: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            is_shm(e->d_name))
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            die("cannot stat %s: %s", path, strerror(errno));
        if (S_ISDIR(st.st_mode)) {
            int fid = new_node(PC_DIR, st.st_ino);
            add_entry(parent, fid, e->d_name);
            scan(path, fid);
        } else if (S_ISREG(st.st_mode)) {
            int fid = new_node(PC_FILE, st.st_ino);
            add_entry(parent, fid, e->d_name);
            read_file(path, &nodes[fid]);
        }
    }
    closedir(d);
}

static void save_base(const char *root, const char *state)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/base", state);
    mkdir(state, 0700);
    mkdir(path, 0700);
    /* Start from the tree on disk: a fresh base, an empty log. */
    reset();
    struct stat st;
    if (stat(root, &st) != 0)
        die("cannot stat %s: %s", root, strerror(errno));
    new_node(PC_DIR, st.st_ino);
    scan(root, 0);
    snprintf(path, sizeof path, "%s/base/index", state);
    FILE *idx = fopen(path, "w");
    if (!idx)
        die("cannot write %s: %s", path, strerror(errno));
    for (int i = 0; i < nnodes; i++) {
        int parent = -1;
        const char *name = ".";
        for (int k = 0; k < nents; k++)
            if (ents[k].fid == i) {
                parent = ents[k].parent;
                name = ents[k].name;
            }
        fprintf(idx, "%d %d %llu %d %s\n", i, nodes[i].kind,
                (unsigned long long)nodes[i].ino, parent, name);
        if (nodes[i].kind == PC_FILE) {
            snprintf(path, sizeof path, "%s/base/f%d", state, i);
            write_file(path, nodes[i].data, nodes[i].size);
        }
    }
    if (fclose(idx) != 0)
        die("cannot write the index in %s: %s", state, strerror(errno));
    snprintf(path, sizeof path, "%s/cut", state);
    unlink(path);
    snprintf(path, sizeof path, "%s/log", state);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || close(fd) != 0)
        die("cannot start the log %s: %s", path, strerror(errno));
}

static void load_base(const char *state)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/base/index", state);
    FILE *idx = fopen(path, "r");
    if (!idx)
        die("cannot read %s: %s (run init first)", path, strerror(errno));
    char line[8192];
    while (fgets(line, sizeof line, idx)) {
        char *p = line, *end;
        long id = strtol(p, &end, 10);
        long kind = strtol(end, &end, 10);
        unsigned long long ino = strtoull(end, &end, 10);
        long parent = strtol(end, &end, 10);
        if (*end == ' ')
            end++;
        end[strcspn(end, "\n")] = '\0';
        int fid = new_node((int)kind, ino);
        if (fid != id)
            die("%s: the index is out of order", path);
        if (parent >= 0)
            add_entry((int)parent, fid, end);
        if (kind == PC_FILE) {
            snprintf(path, sizeof path, "%s/base/f%d", state, fid);
            read_file(path, &nodes[fid]);
        }
    }
    fclose(idx);
}

/* ---- cut ----------------------------------------------------------- */

/* Reads the log into recs, giving each record its nodes. Stops at the
 * shim's cut, or at a record cut short (the process died writing it). */
static void load_log(const char *state)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/log", state);
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot read %s: %s", path, strerror(errno));
    for (;;) {
        pc_rec h;
        if (fread(&h, sizeof h, 1, f) != 1)
            break;
        if (h.len < sizeof h || h.len - sizeof h > PC_MAX_DATA + 8192)
            die("%s: a record of impossible length", path);
        size_t dlen = h.len - sizeof h;
        unsigned char *d = malloc(dlen + 1);
        if (!d)
            die("out of memory");
        if (dlen && fread(d, 1, dlen, f) != dlen) {
            free(d);
            break;
        }
        d[dlen] = '\0';
        if (h.type == PC_CUT) {
            free(d);
            break;
        }
        if (nrecs == caprecs) {
            caprecs = caprecs ? caprecs * 2 : 1024;
            recs = grow(recs, (size_t)caprecs, sizeof *recs);
        }
        rec *r = &recs[nrecs];
        r->h = h;
        r->data = d;
        r->fid = r->pfid = r->pfid2 = -1;
        switch (h.type) {
        case PC_CREATE:
            r->pfid = fid_of(h.parent);
            r->fid = new_node((int)h.kind, h.ino);
            break;
        case PC_RENAME:
            r->pfid2 = fid_of(h.parent2);
            /* fall through */
        case PC_UNLINK:
            r->pfid = fid_of(h.parent);
            r->fid = fid_of(h.ino);
            break;
        default:
            r->fid = fid_of(h.ino);
            if (r->fid < 0) {
                fprintf(stderr,
                        "powercut-restore: record %ld names inode %llu, "
                        "which was neither in the base nor made since\n",
                        nrecs, (unsigned long long)h.ino);
                exit(1);
            }
            if (h.type == PC_SYNC || h.type == PC_DSYNC)
                nodes[r->fid].last_sync = nrecs;
        }
        nrecs++;
    }
    fclose(f);
}

typedef struct figures {
    long writes, pending, kept, torn, dropped, names, npending, nkept;
} figures;

/* Content: durable writes in full, the rest as the mode says. */
static void replay_content(int mode, figures *fg)
{
    for (long i = 0; i < nrecs; i++) {
        rec *r = &recs[i];
        if (r->h.type != PC_WRITE && r->h.type != PC_TRUNC)
            continue;
        node *n = &nodes[r->fid];
        int durable = i < n->last_sync;
        fg->writes++;
        if (r->h.type == PC_TRUNC) {
            if (!durable)
                fg->pending++;
            if (durable || mode == 1 || (mode >= 2 && draw(2))) {
                resize(n, r->h.off);
                if (!durable)
                    fg->kept++;
            } else {
                fg->dropped++;
            }
            continue;
        }
        size_t len = r->h.len - sizeof r->h;
        if (durable) {
            put(n, r->h.off, r->data, len);
            continue;
        }
        fg->pending++;
        /* Each piece of the write that falls in one sector. */
        uint64_t off = r->h.off;
        size_t done = 0;
        while (done < len) {
            size_t room = SECTOR - (size_t)(off % SECTOR);
            size_t k = len - done < room ? len - done : room;
            uint64_t choice = mode == 0   ? 0
                              : mode == 1 ? 1
                                          : draw(mode == 3 ? 3 : 2);
            if (choice == 1) {
                put(n, off, r->data + done, k);
                fg->kept++;
            } else if (choice == 2) {
                size_t part = (size_t)draw(k);
                if (part)
                    put(n, off, r->data + done, part);
                fg->torn++;
            } else {
                fg->dropped++;
            }
            off += k;
            done += k;
        }
    }
}

/* Names: each durable once every directory it touches was synced after
 * it; of the rest, a prefix in order. */
static void replay_names(int mode, figures *fg)
{
    long pending = 0;
    for (long i = 0; i < nrecs; i++) {
        rec *r = &recs[i];
        if (r->h.type != PC_CREATE && r->h.type != PC_RENAME &&
            r->h.type != PC_UNLINK)
            continue;
        fg->names++;
        int durable = r->pfid >= 0 && nodes[r->pfid].last_sync > i &&
                      (r->h.type != PC_RENAME ||
                       (r->pfid2 >= 0 && nodes[r->pfid2].last_sync > i));
        if (!durable)
            pending++;
    }
    fg->npending = pending;
    long keep = mode == 0   ? 0
                : mode == 1 ? pending
                            : (long)draw((uint64_t)pending + 1);
    long seen = 0;
    for (long i = 0; i < nrecs; i++) {
        rec *r = &recs[i];
        if (r->h.type != PC_CREATE && r->h.type != PC_RENAME &&
            r->h.type != PC_UNLINK)
            continue;
        int durable = r->pfid >= 0 && nodes[r->pfid].last_sync > i &&
                      (r->h.type != PC_RENAME ||
                       (r->pfid2 >= 0 && nodes[r->pfid2].last_sync > i));
        if (!durable) {
            if (seen++ >= keep)
                continue;
            fg->nkept++;
        }
        const char *name = (const char *)r->data;
        if (r->pfid < 0 || r->fid < 0)
            continue;
        if (r->h.type == PC_CREATE) {
            entry *old = find_entry(r->pfid, name);
            if (old)
                old->live = 0;
            add_entry(r->pfid, r->fid, name);
        } else if (r->h.type == PC_UNLINK) {
            entry *e = find_entry(r->pfid, name);
            if (e && e->fid == r->fid)
                e->live = 0;
        } else {
            const char *name2 = name + strlen(name) + 1;
            entry *e = find_entry(r->pfid, name);
            if (!e || e->fid != r->fid || r->pfid2 < 0)
                continue;
            entry *old = find_entry(r->pfid2, name2);
            if (old && old != e)
                old->live = 0;
            free(e->name);
            e->name = strdup(name2);
            e->parent = r->pfid2;
            if (!e->name)
                die("out of memory");
        }
    }
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        die("cannot list %s: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            remove_tree(path);
            if (rmdir(path) != 0)
                die("cannot remove %s: %s", path, strerror(errno));
        } else if (unlink(path) != 0) {
            die("cannot remove %s: %s", path, strerror(errno));
        }
    }
    closedir(d);
}

static void build_tree(const char *dir, int parent)
{
    for (int i = 0; i < nents; i++) {
        entry *e = &ents[i];
        if (!e->live || e->parent != parent)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->name);
        node *n = &nodes[e->fid];
        if (n->kind == PC_DIR) {
            if (mkdir(path, 0700) != 0)
                die("cannot make %s: %s", path, strerror(errno));
            build_tree(path, e->fid);
        } else {
            write_file(path, n->data, n->size);
            chmod(path, 0600);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "init") == 0) {
        save_base(argv[2], argv[3]);
        reset();
        free(nodes);
        free(ents);
        return 0;
    }
    if (argc != 5 || strcmp(argv[1], "cut") != 0) {
        fprintf(stderr, "usage: powercut-restore init ROOT STATE\n"
                        "       powercut-restore cut ROOT STATE SEED\n");
        return 2;
    }
    char *end;
    unsigned long long seed = strtoull(argv[4], &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "powercut-restore: SEED must be a number\n");
        return 2;
    }
    rng = seed * 0x9E3779B97F4A7C15ull + 1;
    load_base(argv[3]);
    load_log(argv[3]);
    int mode = (int)draw(4);
    figures fg = {0};
    replay_content(mode, &fg);
    replay_names(mode, &fg);
    remove_tree(argv[2]);
    build_tree(argv[2], 0);
    printf("powercut: mode %d writes %ld (pending %ld: kept %ld, torn %ld, "
           "dropped %ld), names %ld (pending %ld, kept %ld)\n",
           mode, fg.writes, fg.pending, fg.kept, fg.torn, fg.dropped, fg.names,
           fg.npending, fg.nkept);
    for (long i = 0; i < nrecs; i++)
        free(recs[i].data);
    free(recs);
    save_base(argv[2], argv[3]);
    reset();
    free(nodes);
    free(ents);
    return 0;
}
