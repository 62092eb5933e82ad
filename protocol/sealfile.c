/*
 * sealfile.c - sealed files (fs_seal.h): a file that answers a sealed
 * image, audio or file field, encrypted chunk by chunk as it streams from
 * disk with libsodium's secretstream, and the check of its reference in
 * the answers (what the device makes before sealing, what the hub sees
 * after).
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "form_int.h"
#include "fs_seal.h"

#define MAGIC_LEN 8
#define FILE_AD_MAX 320
#define ST_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define ST_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES

long long fs_seal_file_size(long long n)
{
    long long chunks = (n + FS_SEAL_FILE_CHUNK - 1) / FS_SEAL_FILE_CHUNK;
    if (chunks < 1)
        chunks = 1;
    return MAGIC_LEN + ST_HEADER + n + chunks * (long long)ST_ABYTES;
}

int fs_seal_file_keygen(unsigned char key[FS_SEAL_FILE_KEY_BYTES])
{
    if (fs_seal_init() != FS_OK)
        return FS_ERANDOM;
    crypto_secretstream_xchacha20poly1305_keygen(key);
    return FS_OK;
}

static int file_ad(char *ad, const fs_form *f, const char *submission_id,
                   const char *field)
{
    int n = snprintf(ad, FILE_AD_MAX, "fieldsync-sealed-file-1|%s|%lld|%s|%s",
                     fs_form_id(f), (long long)fs_form_version(f),
                     submission_id, field);
    return n > 0 && n < FILE_AD_MAX ? n : -1;
}

/* Reads up to n bytes (fewer only at the end). -1 on error. */
static ssize_t read_full(int fd, unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static void hex_of(crypto_hash_sha256_state *h, char hex[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(h, d);
    sodium_bin2hex(hex, 65, d, sizeof d);
}

int fs_seal_file_encrypt(int in_fd, int out_fd,
                         const unsigned char key[FS_SEAL_FILE_KEY_BYTES],
                         const fs_form *f, const char *submission_id,
                         const char *field, long long *plain_size,
                         char plain_hex[65], long long *ct_size,
                         char ct_hex[65])
{
    char ad[FILE_AD_MAX];
    int adlen = file_ad(ad, f, submission_id, field);
    if (adlen < 0)
        return FS_EINVAL;
    if (fs_seal_init() != FS_OK)
        return FS_ERANDOM;
    /* Two chunks of plain text so the last one is known before it is
     * sealed (it carries the final tag). */
    unsigned char *in = malloc(2 * (size_t)FS_SEAL_FILE_CHUNK);
    unsigned char *out = malloc((size_t)FS_SEAL_FILE_CHUNK + ST_ABYTES);
    crypto_secretstream_xchacha20poly1305_state st;
    crypto_hash_sha256_state hp, hc;
    unsigned char header[ST_HEADER];
    long long total = 0, ctotal = 0;
    int rc = FS_OK;

    if (!in || !out) {
        free(in);
        free(out);
        return FS_ENOMEM;
    }
    crypto_hash_sha256_init(&hp);
    crypto_hash_sha256_init(&hc);
    crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
    if (fs_write_full(out_fd, (const unsigned char *)FS_SEAL_FILE_MAGIC,
                      MAGIC_LEN) != 0 ||
        fs_write_full(out_fd, header, sizeof header) != 0)
        rc = FS_EIO;
    crypto_hash_sha256_update(&hc, (const unsigned char *)FS_SEAL_FILE_MAGIC,
                              MAGIC_LEN);
    crypto_hash_sha256_update(&hc, header, sizeof header);
    ctotal = MAGIC_LEN + ST_HEADER;

    unsigned char *cur = in, *next = in + FS_SEAL_FILE_CHUNK;
    ssize_t n = rc == FS_OK ? read_full(in_fd, cur, FS_SEAL_FILE_CHUNK) : 0;
    if (n < 0)
        rc = FS_EIO;
    else if (n == 0 && rc == FS_OK)
        rc = FS_EINVAL; /* an empty file answers nothing */
    while (rc == FS_OK && n > 0) {
        ssize_t m = n == FS_SEAL_FILE_CHUNK
                        ? read_full(in_fd, next, FS_SEAL_FILE_CHUNK)
                        : 0;
        if (m < 0) {
            rc = FS_EIO;
            break;
        }
        unsigned char tag =
            m == 0 ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0;
        unsigned long long clen = 0;
        crypto_hash_sha256_update(&hp, cur, (unsigned long long)n);
        crypto_secretstream_xchacha20poly1305_push(
            &st, out, &clen, cur, (unsigned long long)n,
            (const unsigned char *)ad, (unsigned long long)adlen, tag);
        if (fs_write_full(out_fd, out, (size_t)clen) != 0) {
            rc = FS_EIO;
            break;
        }
        crypto_hash_sha256_update(&hc, out, clen);
        total += n;
        ctotal += (long long)clen;
        unsigned char *t = cur;
        cur = next;
        next = t;
        n = m;
    }
    sodium_memzero(in, 2 * (size_t)FS_SEAL_FILE_CHUNK);
    sodium_memzero(&st, sizeof st);
    free(in);
    free(out);
    if (rc == FS_OK) {
        *plain_size = total;
        *ct_size = ctotal;
        hex_of(&hp, plain_hex);
        hex_of(&hc, ct_hex);
    }
    return rc;
}

int fs_seal_file_decrypt(int in_fd, int out_fd,
                         const unsigned char key[FS_SEAL_FILE_KEY_BYTES],
                         const fs_form *f, const char *submission_id,
                         const char *field, long long *plain_size,
                         char plain_hex[65], char *why, size_t whycap)
{
    char ad[FILE_AD_MAX];
    int adlen = file_ad(ad, f, submission_id, field);
    unsigned char head[MAGIC_LEN + ST_HEADER];
    crypto_secretstream_xchacha20poly1305_state st;
    crypto_hash_sha256_state hp;
    long long total = 0;
    int rc = FS_OK, final = 0;

    if (adlen < 0) {
        snprintf(why, whycap, "the field name is too long");
        return FS_EINVAL;
    }
    if (fs_seal_init() != FS_OK)
        return FS_ERANDOM;
    ssize_t n = read_full(in_fd, head, sizeof head);
    if (n < 0) {
        snprintf(why, whycap, "cannot read the sealed file: %s",
                 strerror(errno));
        return FS_EIO;
    }
    if (n != (ssize_t)sizeof head ||
        memcmp(head, FS_SEAL_FILE_MAGIC, MAGIC_LEN) != 0) {
        snprintf(why, whycap, "not a sealed file");
        return FS_EMALFORMED;
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(&st, head + MAGIC_LEN,
                                                        key) != 0) {
        snprintf(why, whycap, "the sealed file's header is damaged");
        return FS_EMALFORMED;
    }
    size_t cchunk = (size_t)FS_SEAL_FILE_CHUNK + ST_ABYTES;
    unsigned char *in = malloc(cchunk);
    unsigned char *out = malloc((size_t)FS_SEAL_FILE_CHUNK);
    if (!in || !out) {
        free(in);
        free(out);
        return FS_ENOMEM;
    }
    crypto_hash_sha256_init(&hp);
    for (;;) {
        n = read_full(in_fd, in, cchunk);
        if (n < 0) {
            snprintf(why, whycap, "cannot read the sealed file: %s",
                     strerror(errno));
            rc = FS_EIO;
            break;
        }
        if (n == 0 && final)
            break;
        if (final) {
            snprintf(why, whycap, "the sealed file has bytes after its end");
            rc = FS_EMALFORMED;
            break;
        }
        if (n < (ssize_t)ST_ABYTES + 1) {
            snprintf(why, whycap,
                     "the sealed file is cut short (its last chunk is "
                     "missing)");
            rc = FS_EMALFORMED;
            break;
        }
        unsigned long long plen = 0;
        unsigned char tag = 0;
        if (crypto_secretstream_xchacha20poly1305_pull(
                &st, out, &plen, &tag, in, (unsigned long long)n,
                (const unsigned char *)ad, (unsigned long long)adlen) != 0) {
            snprintf(why, whycap,
                     "the sealed file fails its integrity check at byte "
                     "%lld (wrong key, tampered, damaged, or the file of "
                     "another submission or field)",
                     total);
            rc = FS_EMALFORMED;
            break;
        }
        final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
        crypto_hash_sha256_update(&hp, out, plen);
        if (fs_write_full(out_fd, out, (size_t)plen) != 0) {
            snprintf(why, whycap, "cannot write the opened file: %s",
                     strerror(errno));
            rc = FS_EIO;
            break;
        }
        total += (long long)plen;
        if (!final && (size_t)n < cchunk) {
            snprintf(why, whycap,
                     "the sealed file is cut short (its last chunk is "
                     "missing)");
            rc = FS_EMALFORMED;
            break;
        }
    }
    sodium_memzero(out, (size_t)FS_SEAL_FILE_CHUNK);
    sodium_memzero(&st, sizeof st);
    free(in);
    free(out);
    if (rc == FS_OK) {
        *plain_size = total;
        hex_of(&hp, plain_hex);
    }
    return rc;
}

int fs_answer_is_sealed_file(const cJSON *v)
{
    return cJSON_IsObject(v) &&
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "sealed"));
}

/* ---- the references the validator checks ---------------------------- */

static int is_hex64(const cJSON *h)
{
    return cJSON_IsString(h) && strlen(h->valuestring) == 64 &&
           strspn(h->valuestring, "0123456789abcdef") == 64;
}

int fs__seal_check_file_ref(const fs_field *fld, const cJSON *v,
                            int before_sealing, fs_problems *p)
{
    const cJSON *m, *h, *sz, *ty, *plain;

    if (!fs_answer_is_sealed_file(v)) {
        fs_problems_add(p, fld->name,
                        "sealed: a plain file reference is refused; the "
                        "device must seal the file (update the agent)");
        return FS_EINVALID;
    }
    plain = cJSON_GetObjectItemCaseSensitive(v, "plain");
    if (plain != NULL && !before_sealing) {
        fs_problems_add(p, fld->name,
                        "sealed: the file's own hash, name and key travel "
                        "only inside the sealed answers, never in plain "
                        "text");
        return FS_EINVALID;
    }
    cJSON_ArrayForEach(m, v)
    {
        int known = strcmp(m->string, "sha256") == 0 ||
                    strcmp(m->string, "size") == 0 ||
                    strcmp(m->string, "type") == 0 ||
                    strcmp(m->string, "sealed") == 0 ||
                    (before_sealing && strcmp(m->string, "plain") == 0);
        if (!known) {
            fs_problems_add(p, fld->name,
                            "a sealed file reference has sha256, size, "
                            "type and sealed only");
            return FS_EINVALID;
        }
    }
    h = cJSON_GetObjectItemCaseSensitive(v, "sha256");
    sz = cJSON_GetObjectItemCaseSensitive(v, "size");
    ty = cJSON_GetObjectItemCaseSensitive(v, "type");
    if (!is_hex64(h)) {
        fs_problems_add(p, fld->name,
                        "sha256 must be 64 lower-case hex digits");
        return FS_EINVALID;
    }
    long long max = fs_seal_file_size(fs_field_max_bytes(fld));
    /* The range first: only a number in it is converted. */
    if (!cJSON_IsNumber(sz) ||
        !(sz->valuedouble >= (double)fs_seal_file_size(1)) ||
        sz->valuedouble > (double)max ||
        sz->valuedouble != (double)(long long)sz->valuedouble) {
        fs_problems_add(p, fld->name, "size must be %lld to %lld bytes",
                        fs_seal_file_size(1), max);
        return FS_EINVALID;
    }
    if (!cJSON_IsString(ty) ||
        strcmp(ty->valuestring, FS_SEALED_FILE_TYPE) != 0) {
        fs_problems_add(p, fld->name, "type must be %s", FS_SEALED_FILE_TYPE);
        return FS_EINVALID;
    }
    if (!before_sealing)
        return FS_OK;
    /* On the device, before sealing: the plain reference is a file
     * reference like any other, plus the file's key. */
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(plain, "key");
    unsigned char raw[FS_SEAL_KEY_BYTES];
    if (!cJSON_IsObject(plain) || !cJSON_IsString(key) ||
        fs_seal_key_decode(key->valuestring, raw) != FS_OK) {
        fs_problems_add(p, fld->name,
                        "a sealed file reference carries its plain "
                        "reference and key (\"plain\") until it is sealed");
        return FS_EINVALID;
    }
    sodium_memzero(raw, sizeof raw);
    cJSON *copy = cJSON_Duplicate(plain, 1);
    if (copy == NULL)
        return FS_ENOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "key");
    int rc = fs__check_attachment(fld, copy, p);
    const cJSON *psz = cJSON_GetObjectItemCaseSensitive(copy, "size");
    if (rc == FS_OK && fs_seal_file_size((long long)psz->valuedouble) !=
                           (long long)sz->valuedouble) {
        fs_problems_add(p, fld->name,
                        "the sealed file's size does not match its plain "
                        "size");
        rc = FS_EINVALID;
    }
    cJSON_Delete(copy);
    return rc;
}
