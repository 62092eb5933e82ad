/*
 * powercut.h - the side log shared by the power-cut shim (powercut.c, an
 * LD_PRELOAD library) and its restore tool (powercut-restore.c). Test
 * tooling only; see tests/RELIABILITY.md "Power cuts".
 *
 * The shim appends one record per change it sees to a file under a
 * tracked directory, after the change was made (a change the process was
 * killed inside is simply not in the log: lost, as at a power cut):
 *
 *   PC_WRITE  ino off len, then len bytes    pwrite/write/writev
 *   PC_TRUNC  ino size                       ftruncate, O_TRUNC
 *   PC_SYNC   ino                            fsync/fdatasync of a file
 *   PC_DSYNC  ino                            fsync of a directory
 *   PC_CREATE parent ino kind name           a new file or directory
 *   PC_RENAME parent ino name, parent2 name2 rename (name2 replaced)
 *   PC_UNLINK parent ino kind name           unlink, rmdir
 *   PC_CUT                                   the shim cut the power
 *
 * Every record starts with a pc_rec header; len counts the whole record.
 * Inode numbers name files as the shim saw them; the restore tool maps
 * them to files of its own (an inode number can be reused).
 */
#ifndef FS_POWERCUT_H
#define FS_POWERCUT_H

#include <stdint.h>

#define PC_WRITE 1
#define PC_TRUNC 2
#define PC_SYNC 3
#define PC_DSYNC 4
#define PC_CREATE 5
#define PC_RENAME 6
#define PC_UNLINK 7
#define PC_CUT 8

#define PC_FILE 0
#define PC_DIR 1

/* A record's bytes follow the header: for PC_WRITE the data, for
 * PC_CREATE/PC_UNLINK the name, for PC_RENAME the two names, each
 * NUL-terminated. */
typedef struct pc_rec {
    uint32_t type;
    uint32_t len;     /* whole record, header included */
    uint64_t ino;     /* the file written, synced, created or moved */
    uint64_t parent;  /* directory of a name */
    uint64_t parent2; /* PC_RENAME: the directory of the new name */
    uint64_t off;     /* PC_WRITE: offset; PC_TRUNC: the new size */
    uint32_t kind;    /* PC_FILE or PC_DIR */
    uint32_t pad;
} pc_rec;

/* A single record of data is split when larger (the log is read back
 * in bounded pieces). */
#define PC_MAX_DATA (1u << 20)

#endif
