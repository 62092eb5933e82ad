/*
 * sealfile.c - a file that answers a sealed image, audio or file field
 * (fs_seal.h, "sealed files"): encrypted as it is read from its source,
 * one chunk in memory at a time, straight into a temporary name in the
 * agent's blobs/ and renamed to the SHA-256 of the ciphertext. The plain
 * bytes never land in the agent's directory; the file's key and plain
 * reference go into the sealed answers at finalize and are forgotten.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "fs_seal.h"
#include "seal.h"
#include "store.h"

#define SNIFF_BYTES 16

/* FIELD of spec FIELD=PATH into field; NULL when spec has no '='. */
static const char *split_spec(const char *spec, char *field, size_t cap)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || eq[1] == '\0' || (size_t)(eq - spec) >= cap)
        return NULL;
    memcpy(field, spec, (size_t)(eq - spec));
    field[eq - spec] = '\0';
    return eq + 1;
}

int fa__attach_is_sealed(const fs_form *form, const char *spec)
{
    char field[128];
    if (!split_spec(spec, field, sizeof field))
        return 0;
    const fs_field *fld = fs_form_field_named(form, field);
    return fld && fs_field_type_is_attachment(fs_field_type_of(fld)) &&
           (fs_field_flags(fld) & FS_FIELD_SEALED);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = fd >= 0 ? fsync(fd) : -1;
    if (fd >= 0)
        close(fd);
    return r;
}

/* The reference before sealing: the sealed file's, with the plain one
 * and the key under "plain" (fs_seal.h). NULL when out of memory. */
static cJSON *make_ref(const char *ct_hex, long long ct_size, const char *hex,
                       long long size, const char *type, const char *name,
                       const unsigned char *key)
{
    char key64[FS_SEAL_KEY_B64];
    fs_seal_key_encode(key, key64);
    cJSON *ref = cJSON_CreateObject();
    cJSON *plain = cJSON_CreateObject();
    int ok = ref && plain && cJSON_AddStringToObject(ref, "sha256", ct_hex) &&
             cJSON_AddNumberToObject(ref, "size", (double)ct_size) &&
             cJSON_AddStringToObject(ref, "type", FS_SEALED_FILE_TYPE) &&
             cJSON_AddTrueToObject(ref, "sealed") &&
             cJSON_AddStringToObject(plain, "sha256", hex) &&
             cJSON_AddNumberToObject(plain, "size", (double)size) &&
             cJSON_AddStringToObject(plain, "type", type) &&
             cJSON_AddStringToObject(plain, "name", name) &&
             cJSON_AddStringToObject(plain, "key", key64);
    sodium_memzero(key64, sizeof key64);
    if (ok)
        ok = cJSON_AddItemToObject(ref, "plain", plain);
    if (!ok) {
        cJSON_Delete(plain);
        cJSON_Delete(ref);
        return NULL;
    }
    return ref;
}

int fa__attach_sealed(fa_agent *ag, const fs_form *form, cJSON *answers,
                      const char *spec, const char *id)
{
    char field[128];
    const char *path = split_spec(spec, field, sizeof field);
    if (!path)
        return fa__fail(ag, FA_EINPUT,
                        "--attach takes FIELD=PATH, e.g. "
                        "--attach photo=flipchart.jpg, not '%s'",
                        spec);
    const fs_field *fld = fs_form_field_named(form, field);
    if (!fld)
        return fa__fail(ag, FA_EINPUT, "%s: not a field of this form", field);
    if (cJSON_GetObjectItemCaseSensitive(answers, field))
        return fa__fail(ag, FA_EINPUT,
                        "%s: answered twice (in the answers and by --attach)",
                        field);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return fa__fail(ag, FA_EINPUT, "%s: cannot open %s: %s", field, path,
                        strerror(errno));
    struct stat sb;
    long max = fs_field_max_bytes(fld);
    if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(in);
        return fa__fail(ag, FA_EINPUT, "%s: %s is not a regular file", field,
                        path);
    }
    if (sb.st_size == 0 || sb.st_size > max) {
        close(in);
        return fa__fail(ag, FA_EINPUT,
                        "%s: %s is %lld bytes; this field takes 1 to %ld "
                        "bytes (a smaller file, or a lower resolution)",
                        field, path, (long long)sb.st_size, max);
    }
    unsigned char head[SNIFF_BYTES];
    ssize_t hn = pread(in, head, sizeof head, 0);
    const char *type = hn > 0 ? fa__attach_sniff(head, (size_t)hn) : NULL;
    sodium_memzero(head, sizeof head);
    if (!type && fs_field_type_of(fld) == FS_FIELD_FILE)
        type = "application/octet-stream";
    if (!type || !fs_field_type_allowed(fld, type)) {
        close(in);
        return fa__fail(ag, FA_EINPUT,
                        "%s: %s is %s, which this %s field does not take",
                        field, path, type ? type : "of an unknown type",
                        fs_field_type_name(fs_field_type_of(fld)));
    }

    char dir[4096], tmp[4200], final[4200];
    snprintf(dir, sizeof dir, "%s/%s", ag->dir, FA_ATTACH_DIR);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        close(in);
        return fa__fail(ag, FA_ESTORE, "cannot create %s: %s", dir,
                        strerror(errno));
    }
    snprintf(tmp, sizeof tmp, "%s/.tmp-sealed-%ld-%08x", dir, (long)getpid(),
             (unsigned)randombytes_random());
    int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return fa__fail(ag, FA_ESTORE, "cannot write %s: %s", tmp,
                        strerror(errno));
    }
    unsigned char key[FS_SEAL_FILE_KEY_BYTES];
    char hex[65], ct_hex[65];
    long long size = 0, ct_size = 0;
    int rc = fs_seal_file_keygen(key);
    if (rc == FS_OK)
        rc = fs_seal_file_encrypt(in, out, key, form, id, field, &size, hex,
                                  &ct_size, ct_hex);
    int e = errno;
    close(in);
    if (rc == FS_OK && size != (long long)sb.st_size)
        rc = fa__fail(ag, FA_EINPUT,
                      "%s: %s changed while it was read (%lld bytes, then "
                      "%lld): record again when it is complete",
                      field, path, (long long)sb.st_size, size);
    else if (rc == FS_EIO)
        rc = fa__fail(ag, FA_ESTORE, "%s: cannot seal %s into %s: %s", field,
                      path, dir, strerror(e));
    else if (rc != FS_OK)
        rc = fa__fail(ag, FA_ESTORE, "%s: cannot seal %s: %s", field, path,
                      fs_strerror(rc));
    if (rc == FA_OK && fsync(out) != 0)
        rc = fa__fail(ag, FA_ESTORE, "cannot store the file in %s: %s", dir,
                      strerror(errno));
    if (close(out) != 0 && rc == FA_OK)
        rc = fa__fail(ag, FA_ESTORE, "cannot store the file in %s: %s", dir,
                      strerror(errno));
    if (rc == FA_OK) {
        snprintf(final, sizeof final, "%s/%s", dir, ct_hex);
        if (rename(tmp, final) != 0 || fsync_dir(dir) != 0)
            rc = fa__fail(ag, FA_ESTORE, "cannot store the file in %s: %s", dir,
                          strerror(errno));
    }
    if (rc != FA_OK) {
        unlink(tmp); /* sealed bytes only, but nothing half-made stays */
        sodium_memzero(key, sizeof key);
        return rc;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    cJSON *ref = make_ref(ct_hex, ct_size, hex, size, type,
                          base[0] ? base : "file", key);
    sodium_memzero(key, sizeof key);
    if (!ref || !cJSON_AddItemToObject(answers, field, ref)) {
        cJSON_Delete(ref);
        return fa__fail(ag, FA_ESTORE, "out of memory");
    }
    return FA_OK;
}
