/*
 * exportmedia.c - `fieldsync-hub export media --form F -o media.zip`:
 * every file that answers the form's image, audio and file fields, as a
 * zip of STORED entries named "SUBMISSION/FIELD.EXT" (exportmedia.h).
 *
 * The same rules as the CSV and JSON exports decide what leaves: the
 * newest revision of each submission; a field marked personal or
 * sensitive in any version of the form is left out unless --personal
 * asks for it (and that export is audited before anything is written);
 * a sealed field is never exported (the hub cannot read a sealed
 * answer; the steward opens sealed files with open-file). Fail closed: a form version that
 * cannot be read refuses the export.
 *
 * Nothing is ever whole in memory. The rows are read in one read
 * transaction (one snapshot: a count first, for the progress, then the
 * files). Each file is read from blobs/ twice in 64 KiB chunks: first
 * for its CRC-32 and SHA-256 (a file whose bytes no longer match its
 * name is damaged and left out), then into the archive, whose writer
 * checks the CRC again. A file the hub does not hold whole yet (its
 * upload pending) is not in the archive; MISSING.txt, the archive's last
 * entry, names each such file and why. The archive is written to
 * FILE.part and renamed once it is whole and on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "fs_form.h"
#include "fs_schema.h"
#include "audit.h"
#include "blobs.h"
#include "cli.h"
#include "db.h"
#include "errors.h"
#include "exportmedia.h"
#include "forms.h"
#include "hub.h"
#include "stmtcache.h"
#include "zipout.h"

#define CHUNK (64 * 1024)
#define PROGRESS_FILES 100 /* a progress line every this many files */
#define PROGRESS_SECONDS 5 /* ... or this many seconds */
#define PART_MAX 128       /* bytes of a name part kept */

/* ---- names ----------------------------------------------------------- */

static const struct {
    const char *type, *ext;
} exts[] = {
    {"image/jpeg", "jpg"},        {"image/png", "png"},
    {"image/webp", "webp"},       {"image/gif", "gif"},
    {"image/heic", "heic"},       {"image/tiff", "tif"},
    {"audio/mpeg", "mp3"},        {"audio/mp4", "m4a"},
    {"audio/ogg", "ogg"},         {"audio/wav", "wav"},
    {"audio/x-wav", "wav"},       {"audio/aac", "aac"},
    {"audio/amr", "amr"},         {"audio/webm", "weba"},
    {"video/mp4", "mp4"},         {"application/pdf", "pdf"},
    {"text/plain", "txt"},        {"text/csv", "csv"},
    {"application/json", "json"}, {"application/zip", "zip"},
};

/* s with every byte outside A-Z a-z 0-9 . _ - replaced by _, a leading
 * dot too (no ".", "..", or hidden file), at most PART_MAX bytes. */
static void safe_part(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; s[n] && n < PART_MAX && n + 1 < cap; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                 (c == '.' && n > 0);
        out[n] = ok ? c : '_';
    }
    if (n == 0 && cap > 1)
        out[n++] = '_';
    out[n] = '\0';
}

void hub__media_name(const char *id, const char *field, const char *ctype,
                     char *out, size_t cap)
{
    char a[PART_MAX + 1], b[PART_MAX + 1];
    const char *ext = "bin";
    for (size_t i = 0; ctype && i < sizeof exts / sizeof exts[0]; i++)
        if (strcmp(exts[i].type, ctype) == 0)
            ext = exts[i].ext;
    safe_part(id, a, sizeof a);
    safe_part(field, b, sizeof b);
    snprintf(out, cap, "%s/%s.%s", a, b, ext);
}

int hub__media_ref(const cJSON *v)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(v, "sha256");
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(v, "size");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(v, "type");
    return cJSON_IsObject(v) && cJSON_IsString(h) &&
           hub__blob_name_ok(h->valuestring) && cJSON_IsNumber(sz) &&
           sz->valuedouble >= 1 && sz->valuedouble <= 1e15 &&
           sz->valuedouble == (double)(int64_t)sz->valuedouble &&
           cJSON_IsString(ty) && ty->valuestring[0] != '\0';
}

/* ---- the export ------------------------------------------------------ */

enum { MF_OUT = 0, MF_PERSONAL = 1, MF_SEALED = 2 };

typedef struct media_field {
    char name[FS_ID_MAX + 1];
    unsigned flags; /* FS_FIELD_* of every version, or-ed */
    int left_out;   /* MF_* */
} media_field;

typedef struct media_export {
    sqlite3 *db;
    char form[FS_ID_MAX + 1];
    int64_t version; /* 0: every version */
    int personal;
    media_field *fields;
    size_t nfields;
    char blobs[4096]; /* the hub's file store */
    unsigned char *buf;
    FILE *missing; /* MISSING.txt while it grows (a temporary file) */
    int64_t files_total, bytes_total; /* the count pass's */
    int64_t files, bytes, nmissing;
    char (*damaged)[65]; /* files found damaged: warned about once */
    size_t ndamaged;
    int64_t newest; /* the newest row's arrival (s): MISSING.txt's time,
                       so the same data makes the same archive */
    struct timespec last;
} media_export;

static media_field *field_named(media_export *me, const char *name)
{
    for (size_t i = 0; i < me->nfields; i++)
        if (strcmp(me->fields[i].name, name) == 0)
            return &me->fields[i];
    return NULL;
}

/* The attachment fields of the versions exported, with their marks in
 * every version: a mark in one holds for all (the personal and
 * sensitive marks of versions outside the range too, through
 * hub__form_marked). A definition that does not parse refuses. */
static int load_fields(media_export *me, char *err, size_t cap)
{
    int rc;
    sqlite3_stmt *st =
        hub__sql(me->db,
                 "SELECT definition FROM forms WHERE id = ?1 "
                 "AND (?2 = 0 OR version = ?2) ORDER BY version",
                 HUB_ARGS(HUB_TEXT(me->form), HUB_INT(me->version)), &rc);
    if (!st)
        return rc;
    int nversions = 0, out = HUB_OK;
    while (out == HUB_OK && (rc = hub__sql_step(st)) > 0) {
        fs_form *f = NULL;
        nversions++;
        if (fs_form_parse(hub__col(st, 0), (size_t)sqlite3_column_bytes(st, 0),
                          0, &f, NULL) != FS_OK ||
            !f) {
            snprintf(err, cap,
                     "a published version of form %s cannot be read, so "
                     "nothing is exported",
                     me->form);
            out = HUB_ESTORAGE;
            break;
        }
        for (size_t i = 0; out == HUB_OK && i < fs_form_field_count(f); i++) {
            const fs_field *fld = fs_form_field(f, i);
            if (!fs_field_type_is_attachment(fs_field_type_of(fld)))
                continue;
            media_field *mf = field_named(me, fs_field_name(fld));
            if (!mf) {
                media_field *grown =
                    realloc(me->fields, (me->nfields + 1) * sizeof *me->fields);
                if (!grown) {
                    out = HUB_ENOMEM;
                    break;
                }
                me->fields = grown;
                mf = &me->fields[me->nfields++];
                memset(mf, 0, sizeof *mf);
                snprintf(mf->name, sizeof mf->name, "%s", fs_field_name(fld));
            }
            mf->flags |= fs_field_flags(fld);
        }
        fs_form_free(f);
    }
    if (out != HUB_OK)
        hub__sql_end(st);
    else if (rc < 0)
        out = rc;
    if (out == HUB_OK && nversions == 0) {
        if (me->version)
            snprintf(err, cap, "form %s has no published version %lld",
                     me->form, (long long)me->version);
        else
            snprintf(err, cap, "no published form %s", me->form);
        return HUB_EBADINPUT;
    }
    if (out != HUB_OK)
        return out;
    cJSON *marked = hub__form_marked(me->db, me->form);
    if (!marked) {
        snprintf(err, cap,
                 "the personal and sensitive marks of form %s cannot be "
                 "read, so nothing is exported",
                 me->form);
        return HUB_ESTORAGE;
    }
    for (size_t i = 0; i < me->nfields; i++) {
        media_field *mf = &me->fields[i];
        if (hub__name_in(marked, mf->name))
            mf->flags |= FS_FIELD_PERSONAL;
        if (mf->flags & FS_FIELD_SEALED)
            mf->left_out = MF_SEALED;
        else if ((mf->flags & (FS_FIELD_PERSONAL | FS_FIELD_SENSITIVE)) &&
                 !me->personal)
            mf->left_out = MF_PERSONAL;
    }
    cJSON_Delete(marked);
    return HUB_OK;
}

/* Says which fields are left out and why; HUB_EBADINPUT when there is
 * nothing to export at all. 1 in *personal when a personal or sensitive
 * field is in (the export is audited). */
static int check_fields(const media_export *me, int *personal, char *err,
                        size_t cap)
{
    size_t in = 0;
    *personal = 0;
    if (me->nfields == 0) {
        if (me->version)
            snprintf(err, cap,
                     "version %lld of form %s has no image, audio or file "
                     "field: it has no files to export",
                     (long long)me->version, me->form);
        else
            snprintf(err, cap,
                     "form %s has no image, audio or file field: it has "
                     "no files to export",
                     me->form);
        return HUB_EBADINPUT;
    }
    for (size_t i = 0; i < me->nfields; i++) {
        const media_field *mf = &me->fields[i];
        if (mf->left_out == MF_PERSONAL)
            fprintf(stderr,
                    "fieldsync-hub: left out: %s, marked personal or "
                    "sensitive (--personal includes it; that export is "
                    "audited)\n",
                    mf->name);
        else if (mf->left_out == MF_SEALED)
            fprintf(stderr,
                    "fieldsync-hub: left out: %s, sealed: the hub cannot "
                    "read a sealed answer; the steward opens its files "
                    "offline with open-file --key\n",
                    mf->name);
        else
            in++;
        if (!mf->left_out &&
            (mf->flags & (FS_FIELD_PERSONAL | FS_FIELD_SENSITIVE)))
            *personal = 1;
    }
    if (in == 0) {
        snprintf(err, cap,
                 "every image, audio and file field of form %s is left "
                 "out (above): nothing to export",
                 me->form);
        return HUB_EBADINPUT;
    }
    return HUB_OK;
}

static const char rows_sql[] =
    "SELECT m.id, m.received_ms, m.answers FROM mapping_submissions m "
    "WHERE m.form_id = ?1 AND (?2 = 0 OR m.form_version = ?2) "
    "ORDER BY m.row_id";

/* One line of MISSING.txt: the name the file would have, the
 * submission, the field and why it is not in the archive. */
static int add_missing(media_export *me, const char *name, const char *id,
                       const char *field, const char *why)
{
    if (!me->missing) {
        me->missing = tmpfile();
        if (!me->missing)
            return HUB_ESTORAGE;
        fprintf(me->missing,
                "Files of form %s that this archive does not hold, one a "
                "line:\nthe name the file would have here, the submission, "
                "the field and why,\nseparated by tabs. Export again once "
                "the devices have sent them.\n\n",
                me->form);
    }
    me->nmissing++;
    if (fprintf(me->missing, "%s\t%s\t%s\t%s\n", name, id, field, why) < 0)
        return HUB_ESTORAGE;
    return HUB_OK;
}

/* Opens the whole file hash of size bytes in the store: 0 with *fd, or
 * 1 with why it is not there. */
static int open_blob(const media_export *me, const char *hash, int64_t size,
                     int *fd, char *why, size_t cap)
{
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", me->blobs, hash);
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (*fd < 0) {
        if (errno != ENOENT) {
            snprintf(why, cap, "the hub cannot read its copy: %s",
                     strerror(errno));
            return 1;
        }
        /* An upload in progress is .part-HASH (blobs.c). */
        snprintf(path, sizeof path, "%s/.part-%s", me->blobs, hash);
        if (stat(path, &sb) == 0)
            snprintf(why, cap,
                     "pending: the hub holds %lld of its %lld bytes; the "
                     "device has not sent the rest yet",
                     (long long)sb.st_size, (long long)size);
        else
            snprintf(why, cap,
                     "pending: the device has not sent any of its %lld "
                     "bytes yet",
                     (long long)size);
        return 1;
    }
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        (int64_t)sb.st_size != size) {
        snprintf(why, cap,
                 "the hub's file with this SHA-256 is not the %lld bytes "
                 "the submission names",
                 (long long)size);
        close(*fd);
        *fd = -1;
        return 1;
    }
    return 0;
}

/* Reads up to n bytes at the file position; -1 on an error. */
static ssize_t read_some(int fd, unsigned char *buf, size_t n)
{
    ssize_t r;
    do
        r = read(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

/* First read: the CRC-32 and, when hex is not NULL, the SHA-256 of the
 * size bytes from the start of fd. 0, or -1 when they could not all be
 * read. */
static int first_read(media_export *me, int fd, int64_t size, uint32_t *crc,
                      char *hex)
{
    EVP_MD_CTX *sha = hex ? EVP_MD_CTX_new() : NULL;
    if (hex && (!sha || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1)) {
        EVP_MD_CTX_free(sha);
        return -1;
    }
    uLong c = crc32(0L, Z_NULL, 0);
    int64_t got = 0;
    int ok = lseek(fd, 0, SEEK_SET) == 0;
    while (ok && got < size) {
        size_t want = size - got < CHUNK ? (size_t)(size - got) : CHUNK;
        ssize_t r = read_some(fd, me->buf, want);
        if (r <= 0) {
            ok = 0;
            break;
        }
        c = crc32(c, me->buf, (uInt)r);
        if (sha && EVP_DigestUpdate(sha, me->buf, (size_t)r) != 1)
            ok = 0;
        got += r;
    }
    if (ok && sha) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int dl = 0;
        ok = EVP_DigestFinal_ex(sha, d, &dl) == 1 && dl == 32;
        for (unsigned i = 0; ok && i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", d[i]);
    }
    EVP_MD_CTX_free(sha);
    *crc = (uint32_t)c;
    return ok ? 0 : -1;
}

/* Second read: the size bytes of fd into the archive as entry name. */
static int copy_entry(media_export *me, hub_zip *z, int fd, const char *name,
                      int64_t size, uint32_t crc, int64_t mtime)
{
    int rc = hub__zip_entry(z, name, (uint64_t)size, crc, mtime);
    if (rc != HUB_OK)
        return rc;
    if (lseek(fd, 0, SEEK_SET) != 0)
        return HUB_ESTORAGE;
    int64_t got = 0;
    while (rc == HUB_OK && got < size) {
        size_t want = size - got < CHUNK ? (size_t)(size - got) : CHUNK;
        ssize_t r = read_some(fd, me->buf, want);
        if (r <= 0)
            break; /* short: hub__zip_entry_end says so */
        rc = hub__zip_write(z, me->buf, (size_t)r);
        got += r;
    }
    return rc == HUB_OK ? hub__zip_entry_end(z) : rc;
}

/* A line on stderr every PROGRESS_FILES files or PROGRESS_SECONDS. */
static void progress(media_export *me)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (me->files % PROGRESS_FILES != 0 &&
        now.tv_sec - me->last.tv_sec < PROGRESS_SECONDS)
        return;
    me->last = now;
    fprintf(stderr, "fieldsync-hub: exported %lld of %lld files, %.1f MB\n",
            (long long)me->files, (long long)me->files_total,
            (double)me->bytes / 1e6);
}

static const char damaged_why[] =
    "damaged at the hub: its bytes no longer match its SHA-256; restore "
    "the hub's blobs/ from a backup";

/* One answered field of a row: its file into the archive, or its line
 * into MISSING.txt. */
static int export_file(media_export *me, hub_zip *z, const char *id,
                       const char *field, const cJSON *ref, int64_t mtime)
{
    const char *hash =
        cJSON_GetObjectItemCaseSensitive(ref, "sha256")->valuestring;
    const char *type =
        cJSON_GetObjectItemCaseSensitive(ref, "type")->valuestring;
    int64_t size =
        (int64_t)cJSON_GetObjectItemCaseSensitive(ref, "size")->valuedouble;
    char name[2 * PART_MAX + 16], why[256], hex[65];
    uint32_t crc = 0;
    int fd = -1;
    hub__media_name(id, field, type, name, sizeof name);
    for (size_t i = 0; i < me->ndamaged; i++)
        if (strcmp(me->damaged[i], hash) == 0)
            return add_missing(me, name, id, field, damaged_why);
    if (open_blob(me, hash, size, &fd, why, sizeof why))
        return add_missing(me, name, id, field, why);
    int rc = HUB_OK;
    if (first_read(me, fd, size, &crc, hex) != 0) {
        snprintf(why, sizeof why, "the hub cannot read its copy: %s",
                 strerror(errno));
        rc = add_missing(me, name, id, field, why);
    } else if (strcmp(hex, hash) != 0) {
        /* Never a damaged file under a name that promises the original. */
        fprintf(stderr,
                "fieldsync-hub: warning: %s/%s is damaged (its bytes hash "
                "to %.12s...): left out; restore it from a backup\n",
                me->blobs, hash, hex);
        void *grown =
            realloc(me->damaged, (me->ndamaged + 1) * sizeof *me->damaged);
        if (grown) {
            me->damaged = grown;
            snprintf(me->damaged[me->ndamaged++], 65, "%s", hash);
        }
        rc = add_missing(me, name, id, field, damaged_why);
    } else {
        rc = copy_entry(me, z, fd, name, size, crc, mtime);
        if (rc == HUB_OK) {
            me->files++;
            me->bytes += size;
            progress(me);
        }
    }
    close(fd);
    return rc;
}

/* Goes through the rows once: with z NULL only counts the files the
 * hub holds (for the progress), else writes them. */
static int walk(media_export *me, hub_zip *z)
{
    int rc;
    sqlite3_stmt *st =
        hub__sql(me->db, rows_sql,
                 HUB_ARGS(HUB_TEXT(me->form), HUB_INT(me->version)), &rc);
    if (!st)
        return rc;
    int out = HUB_OK;
    while (out == HUB_OK && (rc = hub__sql_step(st)) > 0) {
        const char *id = hub__col(st, 0);
        int64_t mtime = sqlite3_column_int64(st, 1) / 1000;
        if (mtime > me->newest)
            me->newest = mtime;
        cJSON *answers = fs_json_parse_stored(hub__col(st, 2));
        if (!answers) {
            if (z)
                out = add_missing(me, id, id, "*",
                                  "the submission's answers cannot be read");
            continue;
        }
        for (size_t i = 0; out == HUB_OK && i < me->nfields; i++) {
            const media_field *mf = &me->fields[i];
            if (mf->left_out)
                continue;
            const cJSON *v =
                cJSON_GetObjectItemCaseSensitive(answers, mf->name);
            if (!v || cJSON_IsNull(v))
                continue; /* not answered */
            if (!hub__media_ref(v)) {
                char name[2 * PART_MAX + 16];
                hub__media_name(id, mf->name, NULL, name, sizeof name);
                if (z)
                    out = add_missing(me, name, id, mf->name,
                                      "the answer is not a file reference");
                continue;
            }
            if (z) {
                out = export_file(me, z, id, mf->name, v, mtime);
                continue;
            }
            char path[4200];
            struct stat sb;
            const cJSON *sz = cJSON_GetObjectItemCaseSensitive(v, "size");
            snprintf(
                path, sizeof path, "%s/%s", me->blobs,
                cJSON_GetObjectItemCaseSensitive(v, "sha256")->valuestring);
            if (stat(path, &sb) == 0 && (double)sb.st_size == sz->valuedouble) {
                me->files_total++;
                me->bytes_total += (int64_t)sb.st_size;
            }
        }
        cJSON_Delete(answers);
    }
    if (out != HUB_OK)
        hub__sql_end(st);
    else if (rc < 0)
        out = rc;
    return out;
}

/* MISSING.txt, the last entry, from its temporary file. */
static int write_missing(media_export *me, hub_zip *z)
{
    if (!me->missing)
        return HUB_OK;
    if (fflush(me->missing) != 0)
        return HUB_ESTORAGE;
    int fd = fileno(me->missing);
    off_t size = lseek(fd, 0, SEEK_END);
    uint32_t crc;
    if (size <= 0 || first_read(me, fd, size, &crc, NULL) != 0)
        return HUB_ESTORAGE;
    return copy_entry(me, z, fd, "MISSING.txt", size, crc, me->newest);
}

/* The export proper, into out: both passes in one read transaction. */
static int write_zip(media_export *me, FILE *out, char *err, size_t cap)
{
    hub_zip *z = NULL;
    int rc = hub__zip_open(out, 0, &z);
    if (rc != HUB_OK) {
        snprintf(err, cap, "no temporary file for the archive's directory");
        return rc;
    }
    if (hub__exec(me->db, "BEGIN") != 0) {
        hub__zip_free(z);
        snprintf(err, cap, "%s", sqlite3_errmsg(me->db));
        return HUB_ESTORAGE;
    }
    clock_gettime(CLOCK_MONOTONIC, &me->last);
    rc = walk(me, NULL);
    if (rc == HUB_OK)
        rc = walk(me, z);
    hub__exec(me->db, rc == HUB_OK ? "COMMIT" : "ROLLBACK");
    if (rc == HUB_OK)
        rc = write_missing(me, z);
    if (rc == HUB_OK)
        rc = hub__zip_close(z);
    if (rc != HUB_OK) {
        if (hub__zip_error(z)[0])
            snprintf(err, cap, "%s", hub__zip_error(z));
        else if (rc == HUB_ESTORAGE || rc == HUB_EFULL)
            snprintf(err, cap, "reading the database or a temporary file: %s",
                     sqlite3_errmsg(me->db));
        else
            snprintf(err, cap, "%s", hub__strerror(rc));
    }
    hub__zip_free(z);
    return rc;
}

int hub_export_media(const char *db_path, const hub_export_req *req,
                     const char *out_path)
{
    char err[512] = "";
    if (req->key) {
        fprintf(stderr,
                "fieldsync-hub: export media takes no --key: it leaves "
                "sealed files out; a steward opens each one offline with "
                "fieldsync-hub open-file --key; nothing was exported\n");
        return 2;
    }
    if (!req->form || !fs_valid_form_id(req->form)) {
        fprintf(stderr, "fieldsync-hub: name the form with --form: %s\n",
                req->form ? req->form : "none given");
        return 2;
    }
    int to_file = out_path && strcmp(out_path, "-") != 0;
    if (!to_file && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "fieldsync-hub: a zip is not written to a terminal: "
                        "give -o FILE, or send standard output to a file "
                        "or a pipe\n");
        return 2;
    }
    media_export me = {0};
    snprintf(me.form, sizeof me.form, "%s", req->form);
    me.personal = req->personal;
    if (req->version && req->version[0]) {
        char *end = NULL;
        long long v = strtoll(req->version, &end, 10);
        if (*end != '\0' || v < 1 || v > 1000000000) {
            fprintf(stderr,
                    "fieldsync-hub: the version must be a number from 1, "
                    "not %s\n",
                    req->version);
            return 2;
        }
        me.version = v;
    }
    hub__blob_dir_of(db_path, me.blobs, sizeof me.blobs);
    me.buf = malloc(CHUNK);
    me.db = me.buf ? hub__open(db_path) : NULL;
    if (!me.db) {
        free(me.buf);
        return 1;
    }
    int personal = 0, status = 1;
    int rc = load_fields(&me, err, sizeof err);
    if (rc == HUB_OK)
        rc = check_fields(&me, &personal, err, sizeof err);
    FILE *f = stdout;
    char part[4096] = "";
    if (rc != HUB_OK) {
        fprintf(stderr, "fieldsync-hub: %s%s\n",
                err[0] ? err : sqlite3_errmsg(me.db),
                rc == HUB_EBADINPUT ? "; nothing was exported" : "");
        status = hub__exit_status(rc);
        f = NULL;
        goto out;
    }
    if (to_file) {
        snprintf(part, sizeof part, "%s.part", out_path);
        f = fopen(part, "wb");
        if (!f) {
            fprintf(stderr, "fieldsync-hub: cannot write %s: %s\n", part,
                    strerror(errno));
            goto out;
        }
    }
    /* Audited before any personal file leaves. */
    if (personal) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "export", "media");
        cJSON_AddStringToObject(d, "form", me.form);
        cJSON_AddNumberToObject(d, "version", (double)me.version);
        cJSON_AddStringToObject(d, "areas", "*");
        if (hub__audit(me.db, "cli", "export.personal", d) != HUB_OK) {
            fprintf(stderr,
                    "fieldsync-hub: cannot record the export in the audit "
                    "log, so it is refused: %s\n",
                    sqlite3_errmsg(me.db));
            goto out;
        }
    }
    rc = write_zip(&me, f, err, sizeof err);
    if (rc == HUB_OK && fflush(f) != 0) {
        snprintf(err, sizeof err, "writing the archive: %s", strerror(errno));
        rc = HUB_ESTORAGE;
    }
    if (rc != HUB_OK) {
        fprintf(stderr, "fieldsync-hub: export failed: %s; %s\n", err,
                to_file ? "nothing was exported"
                        : "what was written is not a whole archive");
        goto out;
    }
    status = 0;
out:
    if (to_file && f) {
        /* On the disk before its name says it is whole, and that name on
         * the disk before success is reported (as hub_export). */
        if (status == 0 && fsync(fileno(f)) != 0) {
            fprintf(stderr, "fieldsync-hub: cannot write %s: %s\n", part,
                    strerror(errno));
            status = 1;
        }
        if (fclose(f) != 0)
            status = 1;
        if (status == 0 && (rename(part, out_path) != 0 ||
                            fs_sync_parent_dir(out_path) != 0)) {
            fprintf(stderr, "fieldsync-hub: cannot put %s in place: %s\n",
                    out_path, strerror(errno));
            status = 1;
        }
        if (status != 0)
            remove(part);
    }
    if (status == 0) {
        fprintf(stderr,
                "fieldsync-hub: exported %lld files (%.1f MB) of form %s "
                "to %s",
                (long long)me.files, (double)me.bytes / 1e6, me.form,
                to_file ? out_path : "standard output");
        if (me.nmissing)
            fprintf(stderr, "; %lld not in it, listed in MISSING.txt",
                    (long long)me.nmissing);
        fputc('\n', stderr);
    }
    if (me.missing)
        fclose(me.missing);
    free(me.fields);
    free(me.damaged);
    free(me.buf);
    hub__close(me.db);
    return status;
}
