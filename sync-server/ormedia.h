/*
 * ormedia.h - the media files ODK Collect sends beside an OpenRosa
 * submission (openrosa.c): each part streamed to a temporary file in the
 * hub's blobs/ directory while its SHA-256 is computed and its first
 * bytes kept for sniffing; kept under its hash (fsync, rename) only once
 * the submission's fields accept it, deleted otherwise.
 */
#ifndef HUB_ORMEDIA_H
#define HUB_ORMEDIA_H

#include <stddef.h>

#include <sqlite3.h>

#include "server.h"

#define HUB_ORMEDIA_FILE_MAX (256LL << 20) /* the form format's max_bytes */
#define HUB_ORMEDIA_PARTS_MAX 64           /* file parts in one POST */
#define HUB_ORMEDIA_NAME_MAX 255

typedef struct hub_or_file {
    char name[HUB_ORMEDIA_NAME_MAX + 1]; /* the part's file name */
    char tmp[4200];                      /* blobs/.or-XXXXXX while open */
    char sha256[65];
    long long size;
    const char *type; /* sniffed, or NULL when of no kind the hub knows */
    unsigned char head[16];
    size_t headlen;
    int fd;
    void *md;        /* EVP_MD_CTX while the part arrives */
    int used;        /* a field of the submission references it */
    long long limit; /* bytes, when its question is known; else 0 */
    char field[65];  /* that question */
} hub_or_file;

typedef struct hub_or_files {
    const hub *h;
    sqlite3 *db;           /* the request thread's connection */
    const hub_device *dev; /* who sends */
    long long body;        /* the request's Content-Length, -1 unknown */
    hub_or_file *v;
    size_t n;
    int err;       /* 0, or the first failure: 413 too many, too big or
                      over the quota, 507 at the floor, 503 */
    char why[512]; /* what the failure was */
} hub_or_files;

/* The files of one request of dev, whose body is body bytes (-1 when not
 * known). At the first file part the request is admitted as a whole
 * against dev's attachment quota and the disk's floor (blobguard.h), as
 * a chunk of that many bytes would be: a refusal stores nothing. */
void hub__ormedia_init(hub_or_files *fs, const hub *h, sqlite3 *db,
                       const hub_device *dev, long long body);
/* A new part named name: its temporary file. 0, or -1 with fs->err set. */
int hub__ormedia_begin(hub_or_files *fs, const char *name);
/* The open part answers question field, which takes at most limit
 * bytes (0: not known yet, the hub's largest). */
void hub__ormedia_limit(hub_or_files *fs, long long limit, const char *field);
/* Bytes of the open part. 0, or -1 with fs->err set. */
int hub__ormedia_write(hub_or_files *fs, const void *p, size_t n);
/* The open part is whole: hash and type known, bytes fsynced. */
int hub__ormedia_end(hub_or_files *fs);
/* The part named name, or NULL. */
hub_or_file *hub__ormedia_find(hub_or_files *fs, const char *name);
/* Every part that a field references stored under its hash (identical
 * files once) and recorded in openrosa_files for instance of device;
 * the others deleted. 0, or -1 with fs->why set. */
int hub__ormedia_commit(hub_or_files *fs, sqlite3 *db, const char *device,
                        const char *instance);
/* Deletes every temporary file and frees fs. */
void hub__ormedia_free(hub_or_files *fs);

/* A file an earlier part of the same instance carried: 1 found (ref
 * filled), 0 not, or a negative HUB_E* code. */
typedef struct hub_or_ref {
    char sha256[65];
    long long size;
    char type[128];
} hub_or_ref;
int hub__ormedia_lookup(sqlite3 *db, const char *device, const char *instance,
                        const char *name, hub_or_ref *ref);

#endif
