/*
 * powercut.c - a power-cut simulator for one process, loaded with
 * LD_PRELOAD. Test tooling only (tests/RELIABILITY.md, "Power cuts").
 *
 * A killed process loses nothing the kernel already has; a power cut
 * loses everything the disk does not have yet. This library sits between
 * a process (the hub, an agent, SQLite inside them) and the C library for
 * every file under one directory tree (PC_ROOT), and writes down, in a
 * side log (PC_STATE/log, see powercut.h), every change it makes there and
 * every point where a change became durable:
 *  - a file's bytes and size are durable up to its last fsync or
 *    fdatasync;
 *  - a name (a file or directory created, renamed, removed) is durable
 *    only once its directory was fsynced, as POSIX says.
 * The changes themselves go to the real files as usual, so the process
 * reads what it wrote. fsync and fdatasync of a tracked file are noted
 * and not run: durability is what the log says, and the tests run faster.
 *
 * The power goes at the PC_CUT_AT-th change or sync the process makes
 * (counted from 1; before that one happens), or whenever the process is
 * sent SIGKILL: it stops at once. Several processes may share one tree
 * and log (an agent recording while it syncs): once one of them cut the
 * power (PC_STATE/cut exists), each of the others stops at its next
 * change or sync, so nothing happens after the cut. powercut-restore then rebuilds the
 * tree as a disk could hold it after the cut: everything durable, and a
 * seeded choice of what was not (writes kept, dropped, torn inside a
 * sector, out of order). PC_COUNT_FILE, if set, gets the number of
 * changes and syncs at a normal exit: the range a test draws cuts from.
 *
 * Seen: open, openat, creat (and their 64 forms), mkstemp and its
 * relatives (glibc opens those internally), fopen for writing
 * (through fopencookie), write, pwrite, writev, pwritev, ftruncate,
 * truncate, fsync, fdatasync, rename, renameat, unlink, unlinkat, remove,
 * mkdir, rmdir, close. Not seen: writes through mmap (SQLite's -shm
 * files, which SQLite rebuilds after a crash, are left out on purpose),
 * dup'ed descriptors, files moved in from outside the tree.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "powercut.h"

/* Every function below is an interposer and needs no prototype of its
 * own elsewhere; the C library's headers declare them. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define FD_MAX 16384

typedef struct fdent {
    uint64_t ino, dev;
    char used, dir;
} fdent;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char root[PATH_MAX];
static size_t root_len;
static int active;
static int log_fd = -1;
/* The log is locked (flock) from an event until its record is written:
 * the processes sharing one log see one order of events. Under lock. */
static int flocked;
static char flag[PATH_MAX];
static long long events, cut_at;
static const char *count_file;
static fdent fds[FD_MAX];

/* The next definition of a symbol: the C library's (or a sanitizer's). */
#define REAL(name, type)                                                       \
    static type real_##name;                                                   \
    if (!real_##name)                                                          \
        *(void **)&real_##name = dlsym(RTLD_NEXT, #name);

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef int (*fd_fn)(int);
typedef int (*ftrunc_fn)(int, off_t);
typedef int (*trunc_fn)(const char *, off_t);
typedef int (*path_fn)(const char *);
typedef int (*mkdir_fn)(const char *, mode_t);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*unlinkat_fn)(int, const char *, int);
typedef FILE *(*fopen_fn)(const char *, const char *);

static ssize_t raw_write(int fd, const void *buf, size_t n)
{
    REAL(write, write_fn);
    return real_write(fd, buf, n);
}

__attribute__((constructor)) static void pc_init(void)
{
    const char *r = getenv("PC_ROOT");
    const char *st = getenv("PC_STATE");
    char l[PATH_MAX];
    if (!r || !st || !realpath(r, root))
        return;
    snprintf(l, sizeof l, "%s/log", st);
    snprintf(flag, sizeof flag, "%s/cut", st);
    root_len = strlen(root);
    REAL(open, open_fn);
    log_fd = real_open(l, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        fprintf(stderr, "powercut: cannot open the log %s: %s\n", l,
                strerror(errno));
        return;
    }
    const char *c = getenv("PC_CUT_AT");
    cut_at = c ? strtoll(c, NULL, 10) : 0;
    count_file = getenv("PC_COUNT_FILE");
    active = 1;
}

__attribute__((destructor)) static void pc_fini(void)
{
    if (!active || !count_file)
        return;
    REAL(open, open_fn);
    int fd = real_open(count_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld\n", events);
    raw_write(fd, buf, (size_t)n);
    REAL(close, fd_fn);
    real_close(fd);
}

/* Appends one record (header, then up to two pieces of data). Caller
 * holds lock. */
static void log_rec(pc_rec *h, const void *a, size_t alen, const void *b,
                    size_t blen)
{
    struct iovec v[3] = {{h, sizeof *h}, {(void *)a, alen}, {(void *)b, blen}};
    h->len = (uint32_t)(sizeof *h + alen + blen);
    REAL(writev, writev_fn);
    ssize_t want = (ssize_t)h->len;
    if (real_writev(log_fd, v, 3) != want) {
        fprintf(stderr, "powercut: cannot write the log: %s\n",
                strerror(errno));
        abort();
    }
}

/* One more change or sync; the power goes at the chosen one, and for
 * every process sharing the log once one of them cut it. Caller holds
 * lock; unlock() ends the event. */
static void event(void)
{
    flock(log_fd, LOCK_EX);
    flocked = 1;
    events++;
    int gone = access(flag, F_OK) == 0;
    if (gone || (cut_at > 0 && events == cut_at)) {
        if (!gone) {
            REAL(open, open_fn);
            REAL(close, fd_fn);
            real_close(real_open(flag, O_WRONLY | O_CREAT, 0600));
            pc_rec h = {.type = PC_CUT};
            log_rec(&h, NULL, 0, NULL, 0);
        }
        kill(getpid(), SIGKILL);
        for (;;)
            pause();
    }
}

static void unlock(void)
{
    if (flocked) {
        flocked = 0;
        flock(log_fd, LOCK_UN);
    }
    pthread_mutex_unlock(&lock);
}

/* Whether abs (an absolute path without "." or ".." parts) is inside
 * the tree, and not a file the tests leave out (SQLite's shared-memory
 * index, written through mmap). */
static int inside(const char *abs)
{
    size_t n = strlen(abs);
    if (n > 4 && strcmp(abs + n - 4, "-shm") == 0)
        return 0;
    return strncmp(abs, root, root_len) == 0 &&
           (abs[root_len] == '/' || abs[root_len] == '\0');
}

/* Resolves path (relative to dirfd) into its directory's real path and
 * its last part. Returns 1 when it lies inside the tree, with *parent the
 * directory's inode; 0 otherwise. */
static int resolve(int dirfd, const char *path, char name[NAME_MAX + 1],
                   uint64_t *parent)
{
    char full[PATH_MAX * 2], dir[PATH_MAX], real_dir[PATH_MAX];
    if (!active || !path)
        return 0;
    if (path[0] == '/') {
        snprintf(full, sizeof full, "%s", path);
    } else {
        char base[PATH_MAX];
        if (dirfd == AT_FDCWD) {
            if (!getcwd(base, sizeof base))
                return 0;
        } else {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
            ssize_t n = readlink(link, base, sizeof base - 1);
            if (n < 0)
                return 0;
            base[n] = '\0';
        }
        snprintf(full, sizeof full, "%s/%s", base, path);
    }
    size_t len = strlen(full);
    while (len > 1 && full[len - 1] == '/')
        full[--len] = '\0';
    const char *slash = strrchr(full, '/');
    if (!slash || strlen(slash + 1) > NAME_MAX)
        return 0;
    snprintf(name, NAME_MAX + 1, "%s", slash + 1);
    size_t dlen = slash == full ? 1 : (size_t)(slash - full);
    if (dlen >= sizeof dir)
        return 0;
    memcpy(dir, full, dlen);
    dir[dlen] = '\0';
    if (!realpath(dir, real_dir))
        return 0;
    char abs[PATH_MAX * 2];
    snprintf(abs, sizeof abs, "%s/%s", real_dir, name);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || !inside(abs))
        return 0;
    struct stat st;
    if (stat(real_dir, &st) != 0)
        return 0;
    *parent = st.st_ino;
    return 1;
}

/* The tracked file behind fd, checked against the file it refers to now
 * (a descriptor closed behind the library's back is forgotten). */
static fdent *tracked(int fd)
{
    if (!active || fd < 0 || fd >= FD_MAX || !fds[fd].used)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_ino != fds[fd].ino ||
        st.st_dev != fds[fd].dev) {
        fds[fd].used = 0;
        return NULL;
    }
    return &fds[fd];
}

static void track(int fd)
{
    struct stat st;
    if (fd < 0 || fd >= FD_MAX || fstat(fd, &st) != 0)
        return;
    fds[fd].ino = st.st_ino;
    fds[fd].dev = st.st_dev;
    fds[fd].dir = S_ISDIR(st.st_mode) ? 1 : 0;
    fds[fd].used = 1;
}

static void log_write(uint64_t ino, uint64_t off, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        size_t k = n > PC_MAX_DATA ? PC_MAX_DATA : n;
        pc_rec h = {.type = PC_WRITE, .ino = ino, .off = off};
        log_rec(&h, p, k, NULL, 0);
        p += k;
        off += k;
        n -= k;
    }
}

/* open and its relatives: notes a file made or emptied, and remembers the
 * descriptor of anything inside the tree. */
static int do_open(int dirfd, const char *path, int flags, mode_t mode)
{
    REAL(openat, openat_fn);
    char name[NAME_MAX + 1];
    uint64_t parent = 0;
    if (!resolve(dirfd, path, name, &parent))
        return real_openat(dirfd, path, flags, mode);
    pthread_mutex_lock(&lock);
    struct stat before;
    int existed = fstatat(dirfd, path, &before, 0) == 0;
    int writes = (flags & O_ACCMODE) != O_RDONLY;
    int creates = !existed && (flags & O_CREAT);
    int empties = existed && writes && (flags & O_TRUNC) &&
                  S_ISREG(before.st_mode) && before.st_size > 0;
    if (creates || empties)
        event();
    int fd = real_openat(dirfd, path, flags, mode);
    if (fd >= 0) {
        track(fd);
        if (fd < FD_MAX && fds[fd].used) {
            if (creates) {
                pc_rec h = {.type = PC_CREATE,
                            .ino = fds[fd].ino,
                            .parent = parent,
                            .kind = PC_FILE};
                log_rec(&h, name, strlen(name) + 1, NULL, 0);
            } else if (empties) {
                pc_rec h = {.type = PC_TRUNC, .ino = fds[fd].ino, .off = 0};
                log_rec(&h, NULL, 0, NULL, 0);
            }
        }
    }
    unlock();
    return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
    if (flags & (O_CREAT | O_TMPFILE))
        return (mode_t)va_arg(ap, int);
    return 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return do_open(AT_FDCWD, path, flags, m);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return do_open(AT_FDCWD, path, flags, m);
}

int __open_2(const char *path, int flags)
{
    return do_open(AT_FDCWD, path, flags, 0);
}

int __open64_2(const char *path, int flags)
{
    return do_open(AT_FDCWD, path, flags, 0);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return do_open(dirfd, path, flags, m);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return do_open(dirfd, path, flags, m);
}

int creat(const char *path, mode_t mode)
{
    return do_open(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
    return do_open(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

/* mkstemp and its relatives: glibc creates the file through an internal
 * open that the wrappers above do not see, so they are done here the
 * same way (the name's last six X's replaced until one is new). */
static int do_mkstemp(char *tmpl, int suffix, int flags)
{
    static const char az[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    static unsigned long long seq;
    size_t len = strlen(tmpl);
    if (suffix < 0 || len < (size_t)suffix + 6) {
        errno = EINVAL;
        return -1;
    }
    char *x = tmpl + len - (size_t)suffix - 6;
    if (memcmp(x, "XXXXXX", 6) != 0) {
        errno = EINVAL;
        return -1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long v =
        (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 20);
    for (int tries = 0; tries < 1000; tries++) {
        unsigned long long r =
            v + __atomic_add_fetch(&seq, 7919, __ATOMIC_RELAXED);
        for (int i = 0; i < 6; i++) {
            x[i] = az[r % (sizeof az - 1)];
            r /= sizeof az - 1;
        }
        int fd =
            do_open(AT_FDCWD, tmpl,
                    (flags & ~O_ACCMODE) | O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

int mkstemp(char *tmpl)
{
    return do_mkstemp(tmpl, 0, 0);
}

int mkstemp64(char *tmpl)
{
    return do_mkstemp(tmpl, 0, 0);
}

int mkostemp(char *tmpl, int flags)
{
    return do_mkstemp(tmpl, 0, flags);
}

int mkostemp64(char *tmpl, int flags)
{
    return do_mkstemp(tmpl, 0, flags);
}

int mkstemps(char *tmpl, int suffix)
{
    return do_mkstemp(tmpl, suffix, 0);
}

int mkostemps(char *tmpl, int suffix, int flags)
{
    return do_mkstemp(tmpl, suffix, flags);
}

int close(int fd)
{
    REAL(close, fd_fn);
    if (active && fd >= 0 && fd < FD_MAX) {
        pthread_mutex_lock(&lock);
        fds[fd].used = 0;
        unlock();
    }
    return real_close(fd);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite, pwrite_fn);
    if (!active)
        return real_pwrite(fd, buf, n, off);
    pthread_mutex_lock(&lock);
    fdent *e = tracked(fd);
    if (e)
        event();
    ssize_t r = real_pwrite(fd, buf, n, off);
    if (e && r > 0)
        log_write(e->ino, (uint64_t)off, buf, (size_t)r);
    unlock();
    return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

/* The offset a write() on fd lands at. */
static off_t write_offset(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_APPEND)) {
        struct stat st;
        return fstat(fd, &st) == 0 ? st.st_size : 0;
    }
    return lseek(fd, 0, SEEK_CUR);
}

static void log_iov(uint64_t ino, off_t off, const struct iovec *v, int cnt,
                    ssize_t r)
{
    size_t left = r > 0 ? (size_t)r : 0;
    for (int i = 0; i < cnt && left > 0; i++) {
        size_t k = v[i].iov_len < left ? v[i].iov_len : left;
        log_write(ino, (uint64_t)off, v[i].iov_base, k);
        off += (off_t)k;
        left -= k;
    }
}

/* write and writev: at the descriptor's offset (or its end). */
static ssize_t seq_write(int fd, const struct iovec *v, int cnt)
{
    REAL(writev, writev_fn);
    pthread_mutex_lock(&lock);
    fdent *e = tracked(fd);
    off_t off = 0;
    if (e) {
        event();
        off = write_offset(fd);
    }
    ssize_t r = real_writev(fd, v, cnt);
    if (e && off >= 0)
        log_iov(e->ino, off, v, cnt, r);
    unlock();
    return r;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (!active)
        return raw_write(fd, buf, n);
    struct iovec v = {(void *)buf, n};
    return seq_write(fd, &v, 1);
}

ssize_t writev(int fd, const struct iovec *v, int cnt)
{
    REAL(writev, writev_fn);
    if (!active)
        return real_writev(fd, v, cnt);
    return seq_write(fd, v, cnt);
}

ssize_t pwritev(int fd, const struct iovec *v, int cnt, off_t off)
{
    REAL(pwritev, pwritev_fn);
    if (!active)
        return real_pwritev(fd, v, cnt, off);
    pthread_mutex_lock(&lock);
    fdent *e = tracked(fd);
    if (e)
        event();
    ssize_t r = real_pwritev(fd, v, cnt, off);
    if (e)
        log_iov(e->ino, off, v, cnt, r);
    unlock();
    return r;
}

ssize_t pwritev64(int fd, const struct iovec *v, int cnt, off_t off)
{
    return pwritev(fd, v, cnt, off);
}

int ftruncate(int fd, off_t len)
{
    REAL(ftruncate, ftrunc_fn);
    if (!active)
        return real_ftruncate(fd, len);
    pthread_mutex_lock(&lock);
    fdent *e = tracked(fd);
    if (e)
        event();
    int r = real_ftruncate(fd, len);
    if (e && r == 0) {
        pc_rec h = {.type = PC_TRUNC, .ino = e->ino, .off = (uint64_t)len};
        log_rec(&h, NULL, 0, NULL, 0);
    }
    unlock();
    return r;
}

int ftruncate64(int fd, off_t len)
{
    return ftruncate(fd, len);
}

int truncate(const char *path, off_t len)
{
    REAL(truncate, trunc_fn);
    char name[NAME_MAX + 1];
    uint64_t parent;
    struct stat st;
    if (!resolve(AT_FDCWD, path, name, &parent) || stat(path, &st) != 0)
        return real_truncate(path, len);
    pthread_mutex_lock(&lock);
    event();
    int r = real_truncate(path, len);
    if (r == 0) {
        pc_rec h = {.type = PC_TRUNC, .ino = st.st_ino, .off = (uint64_t)len};
        log_rec(&h, NULL, 0, NULL, 0);
    }
    unlock();
    return r;
}

/* fsync and fdatasync: noted, not run, for a tracked file or directory. */
static int do_sync(int fd, int data_only)
{
    pthread_mutex_lock(&lock);
    fdent *e = tracked(fd);
    if (e) {
        event();
        pc_rec h = {.type = e->dir ? PC_DSYNC : PC_SYNC, .ino = e->ino};
        log_rec(&h, NULL, 0, NULL, 0);
    }
    unlock();
    if (e)
        return 0;
    REAL(fsync, fd_fn);
    REAL(fdatasync, fd_fn);
    return data_only ? real_fdatasync(fd) : real_fsync(fd);
}

int fsync(int fd)
{
    return do_sync(fd, 0);
}

int fdatasync(int fd)
{
    return do_sync(fd, 1);
}

/* unlink, unlinkat, rmdir, remove. */
static int do_unlink(int dirfd, const char *path, int flags)
{
    REAL(unlinkat, unlinkat_fn);
    char name[NAME_MAX + 1];
    uint64_t parent;
    struct stat st;
    if (!resolve(dirfd, path, name, &parent) ||
        fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return real_unlinkat(dirfd, path, flags);
    pthread_mutex_lock(&lock);
    event();
    int r = real_unlinkat(dirfd, path, flags);
    if (r == 0) {
        pc_rec h = {.type = PC_UNLINK,
                    .ino = st.st_ino,
                    .parent = parent,
                    .kind = S_ISDIR(st.st_mode) ? PC_DIR : PC_FILE};
        log_rec(&h, name, strlen(name) + 1, NULL, 0);
    }
    unlock();
    return r;
}

int unlink(const char *path)
{
    return do_unlink(AT_FDCWD, path, 0);
}

int unlinkat(int dirfd, const char *path, int flags)
{
    return do_unlink(dirfd, path, flags);
}

int rmdir(const char *path)
{
    return do_unlink(AT_FDCWD, path, AT_REMOVEDIR);
}

int remove(const char *path)
{
    struct stat st;
    int dir = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
    return do_unlink(AT_FDCWD, path, dir ? AT_REMOVEDIR : 0);
}

static int do_mkdir(int dirfd, const char *path, mode_t mode)
{
    typedef int (*mkdirat_fn)(int, const char *, mode_t);
    REAL(mkdirat, mkdirat_fn);
    char name[NAME_MAX + 1];
    uint64_t parent;
    if (!resolve(dirfd, path, name, &parent))
        return real_mkdirat(dirfd, path, mode);
    pthread_mutex_lock(&lock);
    event();
    int r = real_mkdirat(dirfd, path, mode);
    struct stat st;
    if (r == 0 && fstatat(dirfd, path, &st, 0) == 0) {
        pc_rec h = {.type = PC_CREATE,
                    .ino = st.st_ino,
                    .parent = parent,
                    .kind = PC_DIR};
        log_rec(&h, name, strlen(name) + 1, NULL, 0);
    }
    unlock();
    return r;
}

int mkdir(const char *path, mode_t mode)
{
    return do_mkdir(AT_FDCWD, path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    return do_mkdir(dirfd, path, mode);
}

static int do_rename(int olddir, const char *from, int newdir, const char *to)
{
    REAL(renameat, renameat_fn);
    char n1[NAME_MAX + 1], n2[NAME_MAX + 1];
    uint64_t p1, p2;
    struct stat st;
    int in1 = resolve(olddir, from, n1, &p1);
    int in2 = resolve(newdir, to, n2, &p2);
    if (!in1 && !in2)
        return real_renameat(olddir, from, newdir, to);
    if (in1 != in2 || fstatat(olddir, from, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        /* Into or out of the tree: not modelled (see the top). */
        fprintf(stderr, "powercut: rename %s -> %s crosses the tree\n", from,
                to);
        return real_renameat(olddir, from, newdir, to);
    }
    pthread_mutex_lock(&lock);
    event();
    int r = real_renameat(olddir, from, newdir, to);
    if (r == 0) {
        pc_rec h = {.type = PC_RENAME,
                    .ino = st.st_ino,
                    .parent = p1,
                    .parent2 = p2,
                    .kind = S_ISDIR(st.st_mode) ? PC_DIR : PC_FILE};
        log_rec(&h, n1, strlen(n1) + 1, n2, strlen(n2) + 1);
    }
    unlock();
    return r;
}

int rename(const char *from, const char *to)
{
    return do_rename(AT_FDCWD, from, AT_FDCWD, to);
}

int renameat(int olddir, const char *from, int newdir, const char *to)
{
    return do_rename(olddir, from, newdir, to);
}

/* ---- stdio: a stream opened for writing inside the tree writes through
 * the functions above (glibc's own stdio calls the kernel directly). */

typedef struct stream {
    FILE *f;
    int fd;
} stream;

#define STREAM_MAX 256
static stream streams[STREAM_MAX];

static ssize_t cookie_read(void *c, char *buf, size_t n)
{
    return read((int)(intptr_t)c, buf, n);
}

static ssize_t cookie_write(void *c, const char *buf, size_t n)
{
    ssize_t r = write((int)(intptr_t)c, buf, n);
    /* fopencookie's contract: 0 on error. */
    return r < 0 ? 0 : r;
}

static int cookie_seek(void *c, off64_t *pos, int whence)
{
    off_t r = lseek((int)(intptr_t)c, (off_t)*pos, whence);
    if (r < 0)
        return -1;
    *pos = r;
    return 0;
}

static int cookie_close(void *c)
{
    int fd = (int)(intptr_t)c;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < STREAM_MAX; i++)
        if (streams[i].f && streams[i].fd == fd)
            streams[i].f = NULL;
    unlock();
    return close(fd);
}

static FILE *do_fopen(const char *path, const char *mode, fopen_fn real)
{
    char name[NAME_MAX + 1];
    uint64_t parent;
    int plus = strchr(mode, '+') != NULL;
    int flags;
    switch (mode[0]) {
    case 'w':
        flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
        break;
    case 'a':
        flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
        break;
    case 'r':
        flags = plus ? O_RDWR : O_RDONLY;
        break;
    default:
        return real(path, mode);
    }
    if (flags == O_RDONLY || !resolve(AT_FDCWD, path, name, &parent))
        return real(path, mode);
    if (strchr(mode, 'e'))
        flags |= O_CLOEXEC;
    int fd = do_open(AT_FDCWD, path, flags, 0666);
    if (fd < 0)
        return NULL;
    cookie_io_functions_t io = {cookie_read, cookie_write, cookie_seek,
                                cookie_close};
    FILE *f = fopencookie((void *)(intptr_t)fd, mode, io);
    if (!f) {
        close(fd);
        return NULL;
    }
    pthread_mutex_lock(&lock);
    for (int i = 0; i < STREAM_MAX; i++) {
        if (!streams[i].f) {
            streams[i].f = f;
            streams[i].fd = fd;
            break;
        }
    }
    unlock();
    return f;
}

FILE *fopen(const char *path, const char *mode)
{
    REAL(fopen, fopen_fn);
    return do_fopen(path, mode, real_fopen);
}

FILE *fopen64(const char *path, const char *mode)
{
    REAL(fopen64, fopen_fn);
    return do_fopen(path, mode, real_fopen64);
}

/* A cookie stream has no descriptor of its own: fileno gives the one
 * underneath, so that fsync(fileno(f)) works as without the library. */
static int stream_fd(FILE *f)
{
    int fd = -1;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < STREAM_MAX; i++)
        if (streams[i].f == f)
            fd = streams[i].fd;
    unlock();
    return fd;
}

int fileno(FILE *f)
{
    typedef int (*fileno_fn)(FILE *);
    REAL(fileno, fileno_fn);
    int fd = active ? stream_fd(f) : -1;
    return fd >= 0 ? fd : real_fileno(f);
}

int fileno_unlocked(FILE *f)
{
    return fileno(f);
}
