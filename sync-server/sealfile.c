/*
 * sealfile.c - a data steward opens a sealed file (fs_seal.h, "sealed
 * files"), offline, with the steward's key: the submission's envelope
 * gives the file's key and plain reference, the hub's blobs/ the sealed
 * bytes, and the file is written only once whole and checked against
 * the hash the device sealed (a temporary name, fsync, rename). Like
 * every decryption it is written to the audit log before any byte leaves
 * (`file.unseal`). The hub server never runs this.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "blobs.h"
#include "cli.h"
#include "db.h"
#include "errors.h"
#include "forms.h"
#include "seal.h"
#include "stmtcache.h"

int hub__sealed_file_ref(const hub_steward *s, const fs_form *f, const char *id,
                         const cJSON *answers, const char *field,
                         cJSON **plain_out, char *err, size_t cap)
{
    *plain_out = NULL;
    const fs_field *fld = fs_form_field_named(f, field);
    if (!fld || !fs_field_type_is_attachment(fs_field_type_of(fld)) ||
        !(fs_field_flags(fld) & FS_FIELD_SEALED))
        return hub__errf(err, cap,
                         "%s is not a sealed image, audio or file field of "
                         "form %s version %lld",
                         field, fs_form_id(f), (long long)fs_form_version(f));
    const cJSON *outer = cJSON_GetObjectItemCaseSensitive(answers, field);
    if (!fs_answer_is_sealed_file(outer)) {
        hub__errf(err, cap, "submission %s has no sealed file for %s", id,
                  field);
        return HUB_ENOTFOUND;
    }
    cJSON *sealed = NULL;
    char why[256] = "";
    int rc = fs_seal_open(f, answers, id, s->id, s->pk, s->sk, &sealed, why,
                          sizeof why);
    if (rc == FS_EIDENT)
        return hub__errf(err, cap, "submission %s is %s (%s): give that key",
                         id, why, s->path);
    if (rc != FS_OK)
        return hub__errf(err, cap, "submission %s: %s", id, why);
    cJSON *plain = cJSON_DetachItemFromObjectCaseSensitive(sealed, field);
    cJSON_Delete(sealed);
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(plain, "key");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(plain, "sha256");
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(plain, "size");
    if (!cJSON_IsString(key) || !cJSON_IsString(h) || !cJSON_IsNumber(sz)) {
        cJSON_Delete(plain);
        return hub__errf(err, cap,
                         "submission %s: the sealed answers hold no key for "
                         "the file of %s",
                         id, field);
    }
    *plain_out = plain;
    return HUB_OK;
}

int hub__open_sealed_blob(const hub_steward *s, const fs_form *f,
                          const char *id, const cJSON *answers,
                          const char *field, const char *blob_dir, int out_fd,
                          char *err, size_t cap)
{
    cJSON *plain = NULL;
    int rc = hub__sealed_file_ref(s, f, id, answers, field, &plain, err, cap);
    if (rc != HUB_OK)
        return rc;
    const cJSON *outer = cJSON_GetObjectItemCaseSensitive(answers, field);
    const char *ct =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(outer, "sha256"));
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", blob_dir, ct ? ct : "");
    int in = ct ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (in < 0) {
        hub__errf(err, cap,
                  "the sealed file of submission %s, %s, is not at the hub "
                  "(%s): it has not arrived yet, or this copy of the "
                  "database lacks its blobs/ directory",
                  id, field, ct ? ct : "no hash");
        cJSON_Delete(plain);
        return HUB_ENOTFOUND;
    }
    unsigned char key[FS_SEAL_FILE_KEY_BYTES];
    const char *key64 =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(plain, "key"));
    char hex[65] = "", why[256] = "";
    long long size = 0;
    if (fs_seal_key_decode(key64, key) != FS_OK) {
        rc = hub__errf(err, cap, "submission %s: the file key of %s is damaged",
                       id, field);
    } else {
        int frc = fs_seal_file_decrypt(in, out_fd, key, f, id, field, &size,
                                       hex, why, sizeof why);
        if (frc != FS_OK)
            rc = hub__errf(err, cap, "submission %s, %s: %s", id, field, why);
    }
    close(in);
    sodium_memzero(key, sizeof key);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(plain, "sha256");
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(plain, "size");
    if (rc == HUB_OK &&
        (strcmp(hex, h->valuestring) != 0 || (double)size != sz->valuedouble))
        rc = hub__errf(err, cap,
                       "submission %s, %s: the opened file (%lld bytes, "
                       "%.12s) is not the one the device sealed",
                       id, field, size, hex);
    cJSON_Delete(plain);
    return rc;
}

/* The current revision of submission id: its form version and answers
 * (caller's). HUB_ENOTFOUND when there is none. */
static int load_row(sqlite3 *db, const char *id, char *form, size_t fcap,
                    int64_t *version, cJSON **answers)
{
    int err = HUB_OK;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT form_id, form_version, answers FROM "
                                "submissions WHERE id = ?1 ORDER BY rev DESC "
                                "LIMIT 1",
                                HUB_ARGS(HUB_TEXT(id)), &err);
    if (!st)
        return err;
    int r = hub__sql_step(st);
    if (r < 0)
        return r;
    if (r == 0)
        return HUB_ENOTFOUND; /* the step reset it */
    snprintf(form, fcap, "%s", hub__col(st, 0));
    *version = sqlite3_column_int64(st, 1);
    *answers = fs_json_parse_stored(hub__col(st, 2));
    hub__sql_end(st);
    return *answers ? HUB_OK : HUB_ENOMEM;
}

int hub_open_file(const char *db_path, const char *key, int pass_fd,
                  const char *id, const char *field, const char *out_path,
                  FILE *out)
{
    char err[768] = "";
    if (!key || !out_path || !out_path[0] || strcmp(out_path, "-") == 0) {
        fprintf(stderr, "fieldsync-hub: open-file needs --key FILE and -o "
                        "FILE (the file is written whole or not at all)\n");
        return 2;
    }
    if (!fs_valid_uuid(id) || !fs_valid_field_name(field)) {
        fprintf(stderr,
                "fieldsync-hub: usage: open-file SUBMISSION-ID FIELD --key "
                "FILE -o FILE\n");
        return 2;
    }
    /* Before the database is opened: a wrong passphrase costs nothing
     * else. */
    hub_steward *s = NULL;
    if (hub__steward_open(key, pass_fd, &s, err, sizeof err) != HUB_OK) {
        fprintf(stderr, "fieldsync-hub: %s\n", err);
        return 2;
    }
    sqlite3 *db = hub__open(db_path);
    if (!db) {
        hub__steward_close(s);
        return 1;
    }
    char form[FS_NAME_MAX + 1] = "", dir[4096], part[4200] = "";
    int64_t version = 0;
    cJSON *answers = NULL, *plain = NULL;
    fs_form *f = NULL;
    int fd = -1;
    int rc = load_row(db, id, form, sizeof form, &version, &answers);
    if (rc == HUB_ENOTFOUND)
        hub__errf(err, sizeof err, "no submission %s", id);
    if (rc == HUB_OK) {
        f = hub__form_at(db, form, version);
        if (!f)
            rc = hub__errf(err, sizeof err,
                           "submission %s: form %s version %lld is not "
                           "readable here",
                           id, form, (long long)version);
    }
    /* The envelope opens before anything is audited or written. */
    if (rc == HUB_OK)
        rc = hub__sealed_file_ref(s, f, id, answers, field, &plain, err,
                                  sizeof err);
    if (rc == HUB_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "submission", id);
        cJSON_AddStringToObject(d, "form", form);
        cJSON_AddStringToObject(d, "field", field);
        cJSON_AddStringToObject(d, "key", s->id);
        if (hub__audit(db, "cli", "file.unseal", d) != HUB_OK)
            rc = hub__errf(err, sizeof err,
                           "cannot record the decryption in the audit log, "
                           "so it is refused");
    }
    if (rc == HUB_OK) {
        snprintf(part, sizeof part, "%s.part-XXXXXX", out_path);
        fd = mkstemp(part);
        if (fd < 0) {
            rc = hub__errf(err, sizeof err, "cannot write %s: %s", part,
                           strerror(errno));
            part[0] = '\0';
        }
    }
    if (rc == HUB_OK) {
        hub__blob_dir_of(db_path, dir, sizeof dir);
        rc = hub__open_sealed_blob(s, f, id, answers, field, dir, fd, err,
                                   sizeof err);
    }
    if (rc == HUB_OK && fsync(fd) != 0)
        rc = hub__errf(err, sizeof err, "cannot write %s: %s", part,
                       strerror(errno));
    if (fd >= 0 && close(fd) != 0 && rc == HUB_OK)
        rc = hub__errf(err, sizeof err, "cannot write %s: %s", part,
                       strerror(errno));
    if (rc == HUB_OK && rename(part, out_path) != 0)
        rc = hub__errf(err, sizeof err, "cannot write %s: %s", out_path,
                       strerror(errno));
    if (rc == HUB_OK) {
        /* The name on the disk before success is reported. */
        char odir[4200];
        const char *slash = strrchr(out_path, '/');
        snprintf(odir, sizeof odir, "%.*s", slash ? (int)(slash - out_path) : 1,
                 slash ? out_path : ".");
        int dfd =
            open(odir[0] ? odir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (rc != HUB_OK && part[0])
        unlink(part); /* nothing half-opened is left */
    int status = 0;
    if (rc != HUB_OK) {
        fprintf(stderr, "fieldsync-hub: %s; nothing was written\n",
                err[0] ? err : sqlite3_errmsg(db));
        status = hub__exit_status(rc);
    } else {
        fprintf(out, "opened %s of submission %s into %s (%s, %.0f bytes)\n",
                field, id, out_path,
                cJSON_GetStringValue(
                    cJSON_GetObjectItemCaseSensitive(plain, "type")),
                cJSON_GetNumberValue(
                    cJSON_GetObjectItemCaseSensitive(plain, "size")));
    }
    if (plain) {
        cJSON *k = cJSON_GetObjectItemCaseSensitive(plain, "key");
        if (cJSON_IsString(k))
            sodium_memzero(k->valuestring, strlen(k->valuestring));
    }
    cJSON_Delete(plain);
    cJSON_Delete(answers);
    fs_form_free(f);
    hub__close(db);
    hub__steward_close(s);
    return status;
}
