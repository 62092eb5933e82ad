/*
 * seal.c - sealed answers at the hub: stewards' keys and key files, and
 * what a reader sees of a sealed submission (seal.h).
 *
 * A key file is JSON:
 *   {"fieldsync_steward_key": 1, "id", "public_key",
 *    "kdf": "argon2id13", "opslimit", "memlimit", "salt", "nonce",
 *    "secret"}
 * secret is the X25519 secret key encrypted with XChaCha20-Poly1305
 * under a key derived from the passphrase by Argon2id (libsodium's
 * crypto_pwhash, its "moderate" cost: 256 MiB, 3 passes), the id and
 * public key as associated data. A wrong passphrase fails to decrypt;
 * nothing else tells. KEY.pub, written beside it, holds the id and the
 * public key only: what `keys publish` needs, safe to copy to the hub.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "db.h"
#include "errors.h"
#include "forms.h"
#include "output.h"
#include "seal.h"
#include "stmtcache.h"

#define PASS_MAX 1024
#define PASS_MIN 12
#define KEYFILE_MAX (64 * 1024)
#define KEYFILE_AD "fieldsync-steward-key-1"

/* ---- passphrases ---------------------------------------------------- */

/* Reads one line from fd into buf (no newline kept). 0, or -1. */
static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || ch == '\n')
            break;
        if (n + 1 >= cap)
            return -1;
        buf[n++] = ch;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return 0;
}

/* The passphrase from pass_fd, or asked on the terminal (twice when
 * confirm) with echo off. 0, or -1 with err set. */
static int get_passphrase(int pass_fd, const char *prompt, int confirm,
                          char *buf, size_t cap, char *err, size_t errcap)
{
    if (pass_fd >= 0) {
        if (read_line(pass_fd, buf, cap) != 0 || buf[0] == '\0') {
            snprintf(err, errcap,
                     "no passphrase on file descriptor %d (one line, at "
                     "most %d bytes)",
                     pass_fd, PASS_MAX - 1);
            return -1;
        }
        return 0;
    }
    int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (tty < 0) {
        snprintf(err, errcap,
                 "no terminal to ask the passphrase on: give it on a file "
                 "descriptor with --passphrase-fd N (never as an "
                 "argument)");
        return -1;
    }
    struct termios old, quiet;
    int have = tcgetattr(tty, &old) == 0;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    if (have)
        tcsetattr(tty, TCSAFLUSH, &quiet);
    char again[PASS_MAX];
    int rc = 0;
    dprintf(tty, "%s: ", prompt);
    rc = read_line(tty, buf, cap);
    dprintf(tty, "\n");
    if (rc == 0 && confirm) {
        dprintf(tty, "again: ");
        rc = read_line(tty, again, sizeof again);
        dprintf(tty, "\n");
        if (rc == 0 && strcmp(again, buf) != 0) {
            snprintf(err, errcap, "the two passphrases differ");
            rc = -1;
        }
        sodium_memzero(again, sizeof again);
    }
    if (have)
        tcsetattr(tty, TCSAFLUSH, &old);
    close(tty);
    if (rc == 0 && buf[0] == '\0') {
        snprintf(err, errcap, "an empty passphrase");
        rc = -1;
    }
    return rc;
}

/* ---- key files ------------------------------------------------------ */

static int derive(unsigned char *key, size_t keylen, const char *pass,
                  const unsigned char *salt, unsigned long long ops, size_t mem)
{
    return crypto_pwhash(key, keylen, pass, strlen(pass), salt, ops, mem,
                         crypto_pwhash_ALG_ARGON2ID13);
}

static void key_ad(char *ad, size_t cap, const char *id, const char *pk64)
{
    snprintf(ad, cap, "%s|%s|%s", KEYFILE_AD, id, pk64);
}

static char *b64(const unsigned char *bin, size_t len)
{
    size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *t = malloc(cap);
    if (t)
        sodium_bin2base64(t, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
    return t;
}

static int unb64(const cJSON *o, const char *name, unsigned char *out,
                 size_t want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    size_t n = 0;
    const char *end = NULL;
    if (!cJSON_IsString(v) ||
        sodium_base642bin(out, want, v->valuestring, strlen(v->valuestring),
                          NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *end != '\0' || n != want)
        return -1;
    return 0;
}

/* Writes text to a new file path (never over an existing one). 0 or -1
 * with err. */
static int write_new(const char *path, const char *text, mode_t mode, char *err,
                     size_t cap)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, cap, "cannot create %s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (a key file is never overwritten: "
                                   "choose another name)"
                                 : "");
        return -1;
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int ok = done == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        snprintf(err, cap, "cannot write %s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

static cJSON *read_json_file(const char *path, char *err, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, cap, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(KEYFILE_MAX + 1);
    ssize_t n = buf ? read(fd, buf, KEYFILE_MAX + 1) : -1;
    close(fd);
    cJSON *doc = NULL;
    if (n > 0 && n <= KEYFILE_MAX) {
        buf[n] = '\0';
        doc = fs_json_parse_stored(buf);
    }
    free(buf);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        snprintf(err, cap,
                 "%s is not a steward key file (`fieldsync-hub keys "
                 "generate` makes one)",
                 path);
        return NULL;
    }
    return doc;
}

/* The id and public key of a key file or its .pub. 0 or -1 with err. */
static int read_public(const cJSON *doc, const char *path, char *id,
                       unsigned char pk[FS_SEAL_KEY_BYTES], char *err,
                       size_t cap)
{
    const cJSON *idv = cJSON_GetObjectItemCaseSensitive(doc, "id");
    if (!cJSON_IsString(idv) || !fs_seal_valid_key_id(idv->valuestring) ||
        unb64(doc, "public_key", pk, FS_SEAL_KEY_BYTES) != 0) {
        snprintf(err, cap,
                 "%s is not a steward key file: no valid id and "
                 "public_key",
                 path);
        return -1;
    }
    snprintf(id, FS_SEAL_KEY_ID_MAX + 1, "%s", idv->valuestring);
    return 0;
}

int hub_keys_generate(const char *out_path, const char *id, int pass_fd,
                      FILE *out)
{
    char err[512] = "", pass[PASS_MAX], keyid[FS_SEAL_KEY_ID_MAX + 1];
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    unsigned char salt[crypto_pwhash_SALTBYTES];
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    unsigned char sealed[crypto_box_SECRETKEYBYTES +
                         crypto_aead_xchacha20poly1305_ietf_ABYTES];
    if (!out_path) {
        fprintf(stderr, "fieldsync-hub: keys generate needs --out FILE: "
                        "where the steward's key file goes\n");
        return 2;
    }
    if (id && !fs_seal_valid_key_id(id)) {
        fprintf(stderr,
                "fieldsync-hub: --id takes letters, digits, . _ - (at "
                "most 64), not '%s'\n",
                id);
        return 2;
    }
    if (fs_seal_init() != FS_OK) {
        fprintf(stderr, "fieldsync-hub: libsodium cannot start\n");
        return 1;
    }
    if (get_passphrase(pass_fd, "passphrase for the new key", 1, pass,
                       sizeof pass, err, sizeof err) != 0) {
        fprintf(stderr, "fieldsync-hub: %s; no key made\n", err);
        return 2;
    }
    if (strlen(pass) < PASS_MIN) {
        sodium_memzero(pass, sizeof pass);
        fprintf(stderr,
                "fieldsync-hub: the passphrase has fewer than %d "
                "characters; choose a longer one (a few words); no key "
                "made\n",
                PASS_MIN);
        return 2;
    }
    unsigned char *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    unsigned char *kek =
        sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    if (!sk || !kek) {
        sodium_free(sk);
        sodium_free(kek);
        fprintf(stderr, "fieldsync-hub: out of memory\n");
        return 1;
    }
    crypto_box_keypair(pk, sk);
    randombytes_buf(salt, sizeof salt);
    randombytes_buf(nonce, sizeof nonce);
    char pk64[FS_SEAL_KEY_B64];
    fs_seal_key_encode(pk, pk64);
    if (id)
        snprintf(keyid, sizeof keyid, "%s", id);
    else {
        char hex[65];
        fs_sha256_hex(pk64, strlen(pk64), hex);
        snprintf(keyid, sizeof keyid, "steward-%.12s", hex);
    }
    unsigned long long ops = crypto_pwhash_OPSLIMIT_MODERATE;
    size_t mem = crypto_pwhash_MEMLIMIT_MODERATE;
    int status = 1;
    char *text = NULL, *pub = NULL;
    if (derive(kek, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, pass, salt,
               ops, mem) != 0) {
        fprintf(stderr, "fieldsync-hub: not enough memory for the key "
                        "derivation (256 MiB)\n");
        goto out;
    }
    char ad[512];
    key_ad(ad, sizeof ad, keyid, pk64);
    unsigned long long slen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        sealed, &slen, sk, crypto_box_SECRETKEYBYTES, (unsigned char *)ad,
        strlen(ad), NULL, nonce, kek);
    cJSON *doc = cJSON_CreateObject();
    char *salt64 = b64(salt, sizeof salt), *nonce64 = b64(nonce, sizeof nonce);
    char *secret64 = b64(sealed, (size_t)slen);
    cJSON_AddNumberToObject(doc, "fieldsync_steward_key", 1);
    cJSON_AddStringToObject(doc, "id", keyid);
    cJSON_AddStringToObject(doc, "public_key", pk64);
    pub = cJSON_PrintUnformatted(doc);
    cJSON_AddStringToObject(doc, "kdf", "argon2id13");
    cJSON_AddNumberToObject(doc, "opslimit", (double)ops);
    cJSON_AddNumberToObject(doc, "memlimit", (double)mem);
    cJSON_AddStringToObject(doc, "salt", salt64 ? salt64 : "");
    cJSON_AddStringToObject(doc, "nonce", nonce64 ? nonce64 : "");
    cJSON_AddStringToObject(doc, "secret", secret64 ? secret64 : "");
    text = cJSON_Print(doc);
    cJSON_Delete(doc);
    free(salt64);
    free(nonce64);
    free(secret64);
    char pubpath[4096];
    snprintf(pubpath, sizeof pubpath, "%s.pub", out_path);
    if (!text || !pub) {
        fprintf(stderr, "fieldsync-hub: out of memory\n");
        goto out;
    }
    size_t tl = strlen(text), pl = strlen(pub);
    char *t2 = realloc(text, tl + 2), *p2 = realloc(pub, pl + 2);
    text = t2 ? t2 : text;
    pub = p2 ? p2 : pub;
    if (!t2 || !p2)
        goto out;
    memcpy(text + tl, "\n", 2);
    memcpy(pub + pl, "\n", 2);
    if (write_new(out_path, text, 0600, err, sizeof err) != 0) {
        fprintf(stderr, "fieldsync-hub: %s; no key made\n", err);
        status = 2;
        goto out;
    }
    if (write_new(pubpath, pub, 0644, err, sizeof err) != 0) {
        fprintf(stderr, "fieldsync-hub: %s\n", err);
        unlink(out_path);
        status = 2;
        goto out;
    }
    fprintf(out,
            "steward key %s: private key in %s (encrypted with the "
            "passphrase; keep it off the hub), public key in %s\n"
            "publish it with: fieldsync-hub keys publish %s; forms name it "
            "with \"seal_key\": \"%s\"\n",
            keyid, out_path, pubpath, pubpath, keyid);
    status = 0;
out:
    sodium_memzero(pass, sizeof pass);
    sodium_free(sk);
    sodium_free(kek);
    free(text);
    free(pub);
    return status;
}

int hub__steward_open(const char *path, int pass_fd, hub_steward **out,
                      char *err, size_t cap)
{
    *out = NULL;
    if (fs_seal_init() != FS_OK)
        return hub__errf(err, cap, "libsodium cannot start");
    cJSON *doc = read_json_file(path, err, cap);
    if (!doc)
        return HUB_EBADINPUT;
    hub_steward *s = calloc(1, sizeof *s);
    unsigned char salt[crypto_pwhash_SALTBYTES];
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    unsigned char sealed[crypto_box_SECRETKEYBYTES +
                         crypto_aead_xchacha20poly1305_ietf_ABYTES];
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(doc, "opslimit");
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(doc, "memlimit");
    const cJSON *kdf = cJSON_GetObjectItemCaseSensitive(doc, "kdf");
    char pass[PASS_MAX];
    unsigned char *kek =
        sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    int rc = HUB_EBADINPUT;
    if (!s || !kek || !(s->sk = sodium_malloc(crypto_box_SECRETKEYBYTES))) {
        rc = hub__errf(err, cap, "out of memory");
        goto out;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    if (read_public(doc, path, s->id, s->pk, err, cap) != 0)
        goto out;
    if (!cJSON_IsString(kdf) || strcmp(kdf->valuestring, "argon2id13") != 0 ||
        !cJSON_IsNumber(ops) || !cJSON_IsNumber(mem) ||
        ops->valuedouble < crypto_pwhash_OPSLIMIT_MIN ||
        ops->valuedouble > 64 || mem->valuedouble < 8192 ||
        mem->valuedouble > 4294967296.0 ||
        mem->valuedouble > (double)(SIZE_MAX / 2) ||
        unb64(doc, "salt", salt, sizeof salt) != 0 ||
        unb64(doc, "nonce", nonce, sizeof nonce) != 0 ||
        unb64(doc, "secret", sealed, sizeof sealed) != 0) {
        hub__errf(err, cap,
                  "%s holds only a public key or is damaged: the steward's "
                  "key file (not its .pub) is needed",
                  path);
        goto out;
    }
    char prompt[300];
    snprintf(prompt, sizeof prompt, "passphrase for %s (key %s)", path, s->id);
    if (get_passphrase(pass_fd, prompt, 0, pass, sizeof pass, err, cap) != 0)
        goto out;
    char pk64[FS_SEAL_KEY_B64], ad[512];
    fs_seal_key_encode(s->pk, pk64);
    key_ad(ad, sizeof ad, s->id, pk64);
    unsigned char check[crypto_box_PUBLICKEYBYTES];
    if (derive(kek, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, pass, salt,
               (unsigned long long)ops->valuedouble,
               (size_t)mem->valuedouble) != 0) {
        hub__errf(err, cap, "not enough memory for the key derivation");
        goto out;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            s->sk, NULL, NULL, sealed, sizeof sealed, (unsigned char *)ad,
            strlen(ad), nonce, kek) != 0) {
        hub__errf(err, cap,
                  "wrong passphrase for %s (or the file was altered); "
                  "nothing was decrypted",
                  path);
        goto out;
    }
    if (crypto_scalarmult_base(check, s->sk) != 0 ||
        sodium_memcmp(check, s->pk, sizeof check) != 0) {
        hub__errf(err, cap, "%s: its secret and public keys do not match",
                  path);
        goto out;
    }
    rc = HUB_OK;
out:
    sodium_memzero(pass, sizeof pass);
    sodium_free(kek);
    cJSON_Delete(doc);
    if (rc != HUB_OK)
        hub__steward_close(s);
    else
        *out = s;
    return rc;
}

void hub__steward_close(hub_steward *s)
{
    if (!s)
        return;
    sodium_free(s->sk);
    free(s);
}

/* ---- published keys ------------------------------------------------- */

int hub__seal_key_known(sqlite3 *db, const char *id)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db, "SELECT 1 FROM seal_keys WHERE id = ?",
                                HUB_ARGS(HUB_TEXT(id)), &rc);
    int known = st && hub__sql_step(st) > 0;
    hub__sql_end(st);
    return known;
}

int hub_keys_publish(const char *db_path, const char *file, FILE *out)
{
    char err[512] = "", id[FS_SEAL_KEY_ID_MAX + 1];
    unsigned char pk[FS_SEAL_KEY_BYTES];
    cJSON *doc = read_json_file(file, err, sizeof err);
    if (!doc || read_public(doc, file, id, pk, err, sizeof err) != 0) {
        cJSON_Delete(doc);
        fprintf(stderr, "fieldsync-hub: %s; nothing published\n", err);
        return 2;
    }
    cJSON_Delete(doc);
    char pk64[FS_SEAL_KEY_B64];
    fs_seal_key_encode(pk, pk64);
    sqlite3 *db = hub__cli_begin(db_path);
    if (!db)
        return 1;
    int rc;
    sqlite3_stmt *st =
        hub__sql(db, "SELECT public_key FROM seal_keys WHERE id = ?",
                 HUB_ARGS(HUB_TEXT(id)), &rc);
    int step = st ? hub__sql_step(st) : rc;
    if (step > 0) {
        int same = strcmp(hub__col(st, 0), pk64) == 0;
        hub__sql_end(st);
        if (same) {
            fprintf(out, "key %s is already published, unchanged\n", id);
            return hub__cli_end(db, HUB_OK, "keys publish", "");
        }
        return hub__cli_end(db, HUB_ECONFLICT, "keys publish",
                            "another key is published under this id; a "
                            "published key never changes: generate the new "
                            "one with another --id");
    }
    if (step < 0)
        return hub__cli_end(db, step, "keys publish", "");
    int64_t now = (int64_t)fs_now_ms();
    cJSON *payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "id", id);
    cJSON_AddStringToObject(payload, "public_key", pk64);
    char *text = cJSON_PrintUnformatted(payload);
    cJSON_Delete(payload);
    rc =
        text
            ? hub__sql_run(db,
                           "INSERT INTO seal_keys (id, public_key, "
                           "created_ms) VALUES (?, ?, ?)",
                           HUB_ARGS(HUB_TEXT(id), HUB_TEXT(pk64), HUB_INT(now)))
            : HUB_ENOMEM;
    /* Devices get it like a form, on their next sync. */
    if (rc == HUB_OK)
        rc = hub__sql_run(db,
                          "INSERT INTO change_log (kind, ref, payload, "
                          "created_ms) VALUES ('seal_key', ?, ?, ?)",
                          HUB_ARGS(HUB_TEXT(id), HUB_TEXT(text), HUB_INT(now)));
    if (rc == HUB_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "key", id);
        rc = hub__audit(db, "cli", "keys.publish", d);
    }
    free(text);
    if (rc == HUB_OK)
        fprintf(out, "published key %s; devices get it on their next sync\n",
                id);
    return hub__cli_end(db, rc, "keys publish", "");
}

static cJSON *key_row(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", hub__col(st, 0));
    cJSON_AddStringToObject(o, "public_key", hub__col(st, 1));
    cJSON_AddNumberToObject(o, "forms", (double)sqlite3_column_int64(st, 2));
    return o;
}

int hub_keys_list(const char *db_path, int format, FILE *out)
{
    sqlite3 *db = hub__open(db_path);
    if (!db)
        return 1;
    /* forms: the form versions sealed to the key. */
    cJSON *rows = hub__sql_json(
        db,
        "SELECT k.id, k.public_key, (SELECT count(*) FROM forms f WHERE "
        "json_extract(f.definition, '$.seal_key') = k.id) FROM seal_keys k "
        "ORDER BY k.created_ms, k.id",
        NULL, 0, key_row);
    int status = 1;
    if (rows) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddItemToObject(root, "keys", rows);
        static const char *const cols[] = {"id", "forms", "public_key", NULL};
        status = hub__print_rows(out, format, root, "keys", cols) == 0 ? 0 : 1;
        cJSON_Delete(root);
    } else {
        fprintf(stderr, "fieldsync-hub: cannot read keys: %s\n",
                sqlite3_errmsg(db));
    }
    hub__close(db);
    return status;
}

/* ---- what readers see ----------------------------------------------- */

int hub__seal_mask(const fs_form *f, cJSON *answers)
{
    if (!cJSON_GetObjectItemCaseSensitive(answers, FS_SEALED_MEMBER))
        return 0;
    cJSON *names = cJSON_CreateArray();
    for (size_t i = 0; names && i < fs_form_field_count(f); i++) {
        const fs_field *fld = fs_form_field(f, i);
        if (fs_field_flags(fld) & FS_FIELD_SEALED)
            cJSON_AddItemToArray(names, cJSON_CreateString(fs_field_name(fld)));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(answers, FS_SEALED_MEMBER);
    if (names)
        cJSON_AddItemToObject(answers, FS_SEALED_MEMBER, names);
    return 1;
}

const fs_form *hub__seal_form(sqlite3 *db, hub_seal_forms *c, const char *form,
                              int64_t v)
{
    if (!c->def || c->version != v || strcmp(fs_form_id(c->def), form) != 0) {
        fs_form_free(c->def);
        c->def = hub__form_at(db, form, v);
        c->version = v;
    }
    return c->def;
}

void hub__seal_forms_free(hub_seal_forms *c)
{
    fs_form_free(c->def);
    c->def = NULL;
}

int hub__seal_reveal_row(sqlite3 *db, hub_seal_forms *c, const hub_steward *s,
                         const char *form, int64_t v, const char *id,
                         cJSON *answers, int *opened, char *err, size_t cap)
{
    *opened =
        cJSON_GetObjectItemCaseSensitive(answers, FS_SEALED_MEMBER) != NULL;
    if (!*opened)
        return HUB_OK;
    const fs_form *def = hub__seal_form(db, c, form, v);
    if (!def)
        return hub__errf(err, cap,
                         "submission %s: form %s version %lld is "
                         "not readable here",
                         id, form, (long long)v);
    return hub__seal_reveal(s, def, id, answers, err, cap);
}

int hub__seal_reveal(const hub_steward *s, const fs_form *f, const char *id,
                     cJSON *answers, char *err, size_t cap)
{
    if (!cJSON_GetObjectItemCaseSensitive(answers, FS_SEALED_MEMBER))
        return HUB_OK;
    cJSON *plain = NULL;
    char why[256] = "";
    int rc = fs_seal_open(f, answers, id, s->id, s->pk, s->sk, &plain, why,
                          sizeof why);
    if (rc == FS_EIDENT)
        return hub__errf(err, cap, "submission %s is %s (%s): give that key",
                         id, why, s->path);
    if (rc != FS_OK)
        return hub__errf(err, cap, "submission %s: %s", id, why);
    cJSON_DeleteItemFromObjectCaseSensitive(answers, FS_SEALED_MEMBER);
    cJSON *c = plain->child;
    while (c) {
        cJSON *next = c->next;
        cJSON *item = cJSON_DetachItemViaPointer(plain, c);
        const fs_field *fld = fs_form_field_named(f, item->string);
        /* A sealed file shows its plain reference; its key stays out of
         * exports (`open-file` opens the file). */
        if (fld && fs_field_type_is_attachment(fs_field_type_of(fld)) &&
            cJSON_IsObject(item)) {
            cJSON *k = cJSON_GetObjectItemCaseSensitive(item, "key");
            if (cJSON_IsString(k))
                sodium_memzero(k->valuestring, strlen(k->valuestring));
            cJSON_DeleteItemFromObjectCaseSensitive(item, "key");
        }
        cJSON_DeleteItemFromObjectCaseSensitive(answers, item->string);
        cJSON_AddItemToObject(answers, item->string, item);
        c = next;
    }
    cJSON_Delete(plain);
    return HUB_OK;
}
