/*
 * blobserve.c - attachment files to hub admins and reviewers
 * (PROTOCOL.md, "Attachments").
 *
 * The same rules as every admin read: an API token of role admin or
 * reviewer; a submission outside the token's areas does not exist for
 * it (404, as a review of it is); a field the form marks personal or
 * sensitive only for an admin who asks with ?personal=1, audited before
 * a byte leaves (and refused when the marks cannot be read).
 *
 * The file is the one stored under its hash (blobs.c), immutable once
 * there, streamed in chunks so memory does not grow with its size. The
 * browser must never treat it as a page: its type is decided here from
 * its first bytes, and only the image types of an allow-list are named
 * (anything else is application/octet-stream), with nosniff, a sandbox
 * CSP and "attachment" unless an image is asked for inline.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adminapi.h"
#include "blobs.h"
#include "blobserve.h"
#include "errors.h"
#include "forms.h"
#include "hierarchy.h"
#include "http.h"
#include "stmtcache.h"

#define PREFIX "/api/v1/admin/submissions/"
#define SEND_CHUNK (64 * 1024)

static const char *const readers[] = {"admin", "reviewer", NULL};

/* What the first bytes of a file say it is: the content type it is
 * served with, and the extension of its download name. */
typedef struct kind {
    const char *type; /* NULL: served as application/octet-stream */
    const char *ext;
} kind;

static kind sniff(const unsigned char *b, size_t n)
{
    static const unsigned char png[] = {0x89, 'P',  'N',  'G',
                                        '\r', '\n', 0x1a, '\n'};
    kind k = {NULL, "bin"};
    if (n >= 8 && memcmp(b, png, 8) == 0)
        k = (kind){"image/png", "png"};
    else if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        k = (kind){"image/jpeg", "jpg"};
    else if (n >= 12 && memcmp(b, "RIFF", 4) == 0 &&
             memcmp(b + 8, "WEBP", 4) == 0)
        k = (kind){"image/webp", "webp"};
    else if (n >= 5 && memcmp(b, "%PDF-", 5) == 0)
        k.ext = "pdf";
    else if (n >= 12 && memcmp(b, "RIFF", 4) == 0 &&
             memcmp(b + 8, "WAVE", 4) == 0)
        k.ext = "wav";
    else if (n >= 4 && memcmp(b, "OggS", 4) == 0)
        k.ext = "ogg";
    else if (n >= 3 && memcmp(b, "ID3", 3) == 0)
        k.ext = "mp3";
    else if (n >= 8 && memcmp(b + 4, "ftyp", 4) == 0)
        k.ext = "m4a";
    return k;
}

/* blobs/HASH in the directory of the database, where blobs.c stores a
 * file once it is whole and checked. */
static void blob_path(const hub *h, const char *hash, char *out, size_t cap)
{
    char dir[4096];
    hub__blob_dir(h, dir, sizeof dir);
    snprintf(out, cap, "%s/%s", dir, hash);
}

/* The hash of an attachment reference, or NULL when v is not one. */
static const char *ref_hash(const cJSON *v)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, "sha256");
    return cJSON_IsObject(v) && cJSON_IsString(s) &&
                   hub__blob_name_ok(s->valuestring)
               ? s->valuestring
               : NULL;
}

static int stored(const hub *h, const char *hash)
{
    char path[4200];
    struct stat sb;
    blob_path(h, hash, path, sizeof path);
    return lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

void hub__attach_annotate(const hub *h, cJSON *sub, const cJSON *answers)
{
    cJSON *files = NULL;
    int pending = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, answers)
    {
        const char *hash = ref_hash(v);
        if (!hash || !v->string)
            continue;
        if (!files)
            files = cJSON_AddObjectToObject(sub, "attachments");
        cJSON *o = cJSON_AddObjectToObject(files, v->string);
        static const char *const copy[] = {"name", "size", "type"};
        for (size_t i = 0; i < 3; i++) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, copy[i]);
            if (m)
                cJSON_AddItemToObject(o, copy[i], cJSON_Duplicate(m, 0));
        }
        int whole = stored(h, hash);
        pending += !whole;
        cJSON_AddStringToObject(o, "status", whole ? "stored" : "pending");
    }
    if (files)
        cJSON_AddNumberToObject(sub, "attachments_pending", pending);
}

/* ID and FIELD from PREFIX ID "/files/" FIELD: 0, or -1 after a 404. */
static int parse_path(struct mg_connection *conn, char id[FS_UUID_LEN + 1],
                      char field[FS_ID_MAX + 1])
{
    const char *uri = mg_get_request_info(conn)->local_uri;
    const char *p = uri + strlen(PREFIX);
    const char *sep = strchr(p, '/');
    size_t idlen = sep ? (size_t)(sep - p) : 0;
    if (idlen == FS_UUID_LEN && strncmp(sep, "/files/", 7) == 0 &&
        strlen(sep + 7) <= FS_ID_MAX) {
        memcpy(id, p, idlen);
        id[idlen] = '\0';
        snprintf(field, FS_ID_MAX + 1, "%s", sep + 7);
        if (fs_valid_uuid(id) && fs_valid_field_name(field))
            return 0;
    }
    hub__reply_error(conn, 404, "not_found",
                     "a submission's file is %sID/files/FIELD, with the "
                     "submission's id and a field name",
                     PREFIX);
    return -1;
}

/* Headers, then the file from fd in chunks. */
static int send_file(struct mg_connection *conn, int fd, long long size, kind k,
                     int want_inline, const char *id, const char *field)
{
    char clen[32], disp[160];
    int in = want_inline && k.type != NULL;
    snprintf(clen, sizeof clen, "%lld", size);
    snprintf(disp, sizeof disp, "%s; filename=\"%s-%s.%s\"",
             in ? "inline" : "attachment", id, field, k.ext);
    mg_response_header_start(conn, 200);
    mg_response_header_add(conn, "Content-Type",
                           k.type ? k.type : "application/octet-stream", -1);
    mg_response_header_add(conn, "Content-Length", clen, -1);
    mg_response_header_add(conn, "Content-Disposition", disp, -1);
    mg_response_header_add(conn, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_add(conn, "Content-Security-Policy",
                           "default-src 'none'; sandbox", -1);
    mg_response_header_add(conn, "Cache-Control", "private, no-store", -1);
    mg_response_header_add(conn, "Referrer-Policy", "no-referrer", -1);
    mg_response_header_send(conn);

    char *buf = malloc(SEND_CHUNK);
    long long left = size;
    while (buf && left > 0) {
        ssize_t r = read(fd, buf,
                         left < SEND_CHUNK ? (size_t)left : (size_t)SEND_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        /* Headers are out: a short read or a gone client can only cut
         * the body, which Content-Length tells the client. */
        if (r <= 0 || mg_write(conn, buf, (size_t)r) != (int)r)
            break;
        left -= r;
    }
    free(buf);
    if (left > 0)
        fprintf(stderr,
                "fieldsync-hub: file %s/%s cut after %lld of %lld bytes\n", id,
                field, size - left, size);
    return 200;
}

int hub__handle_admin_file(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    hub_device who;
    int bad = hub__api_begin(conn, "GET", &who, readers);
    if (bad)
        return bad;
    char id[FS_UUID_LEN + 1], field[FS_ID_MAX + 1];
    if (parse_path(conn, id, field) != 0)
        return 404;
    long long want_inline = 0, personal = 0; /* personal: read below */
    if (hub__query_int(conn, "inline", 0, 0, 1, &want_inline) != 0 ||
        hub__query_int(conn, "personal", 0, 0, 1, &personal) != 0)
        return 400;

    sqlite3 *db = hub__db(conn);
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT form_id, area, answers FROM "
                                "submissions WHERE id = ? ORDER BY rev DESC "
                                "LIMIT 1",
                                HUB_ARGS(HUB_TEXT(id)), &rc);
    if (!st || (rc = hub__sql_step(st)) < 0)
        return hub__reply_err(conn, rc, "storage",
                              "cannot read the submission");
    /* Outside the token's areas it does not exist for it. */
    if (rc == 0 || hub__area_covered(db, who.areas, hub__col(st, 1)) != 1) {
        hub__sql_end(st);
        hub__reply_error(conn, 404, "not_found",
                         "no submission %s in this token's areas", id);
        return 404;
    }
    char form[FS_ID_MAX + 1];
    snprintf(form, sizeof form, "%s", hub__col(st, 0));
    cJSON *answers = fs_json_parse_stored(hub__col(st, 2));
    hub__sql_end(st);

    /* Before anything about the answer is told: whether a marked field
     * holds a file is itself not for a reader without the right. */
    unsigned marks = 0;
    if (hub__form_marks(db, form, field, &marks) != HUB_OK)
        marks = FS_FIELD_PERSONAL | FS_FIELD_SENSITIVE; /* fail closed */
    if (marks && strcmp(who.role, "admin") != 0) {
        cJSON_Delete(answers);
        hub__reply_error(conn, 403, "forbidden",
                         "field %s is marked personal or sensitive: only "
                         "hub admins may read its file",
                         field);
        return 403;
    }
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(answers, field);
    const char *hash = ref_hash(ref);
    char path[4200];
    if (hash)
        blob_path(h, hash, path, sizeof path);
    cJSON_Delete(answers);
    if (!hash) {
        hub__reply_error(conn, 404, "not_found",
                         "submission %s has no file in field %s", id, field);
        return 404;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (fd < 0 && e != ENOENT)
            return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                                  "the hub cannot read the file: %s",
                                  strerror(e));
        hub__reply_error(conn, 404, "attachment_pending",
                         "attachment pending: the device has not finished "
                         "sending it");
        return 404;
    }
    if (marks) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "submission", id);
        cJSON_AddStringToObject(d, "field", field);
        int asked = 0;
        bad = hub__personal_read(conn, h, &who, "attachment.read_personal", d,
                                 &asked);
        if (!bad && !asked) {
            hub__reply_error(conn, 403, "forbidden",
                             "field %s is marked personal or sensitive: "
                             "ask with ?personal=1 (the read is audited)",
                             field);
            bad = 403;
        }
        if (bad) {
            close(fd);
            return bad;
        }
    }
    unsigned char head[16];
    ssize_t n = pread(fd, head, sizeof head, 0);
    int status = send_file(conn, fd, (long long)sb.st_size,
                           sniff(head, n > 0 ? (size_t)n : 0), (int)want_inline,
                           id, field);
    close(fd);
    return status;
}
