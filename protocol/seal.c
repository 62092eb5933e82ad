/*
 * seal.c - sealed answers: the form's sealed marks, the envelope check
 * the hub runs, and sealing and opening with libsodium (fs_seal.h).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form_int.h"
#include "fs_seal.h"

#define SEAL_PAD 128 /* plaintext is padded to a multiple of this */
#define SEAL_AD_MAX 256
#define ENVELOPE_B64_MAX (4 * 1024 * 1024)

int fs_seal_init(void)
{
    return sodium_init() < 0 ? FS_ERANDOM : FS_OK;
}

int fs_seal_valid_key_id(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n]; n++) {
        char ch = s[n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return n >= 1 && n <= FS_SEAL_KEY_ID_MAX;
}

const char *fs_form_seal_key(const fs_form *f)
{
    return f->nsealed > 0 ? f->seal_key : NULL;
}

int fs_form_drafts_in_memory(const fs_form *f)
{
    return f->nsealed > 0 && f->drafts_in_memory;
}

/* ---- the form's marks ------------------------------------------------ */

/* 1 when condition cond names a sealed field (other than self). */
static int cond_names_sealed(const fs_form *f, const cJSON *cond,
                             const fs_field *self, int depth)
{
    const cJSON *it;

    if (cond == NULL || depth > FS__COND_DEPTH_MAX + 1)
        return 0;
    if (cJSON_IsArray(cond)) {
        cJSON_ArrayForEach(
            it, cond) if (cond_names_sealed(f, it, self, depth + 1)) return 1;
        return 0;
    }
    if (!cJSON_IsObject(cond))
        return 0;
    it = cJSON_GetObjectItemCaseSensitive(cond, "field");
    if (cJSON_IsString(it)) {
        const fs_field *ref = fs_form_field_named(f, it->valuestring);
        if (ref && ref != self && (ref->flags & FS_FIELD_SEALED))
            return 1;
    }
    return cond_names_sealed(f, cJSON_GetObjectItemCaseSensitive(cond, "all"),
                             self, depth + 1) ||
           cond_names_sealed(f, cJSON_GetObjectItemCaseSensitive(cond, "any"),
                             self, depth + 1) ||
           cond_names_sealed(f, cJSON_GetObjectItemCaseSensitive(cond, "not"),
                             self, depth + 1);
}

size_t fs__seal_parse_form(fs_form *f, const cJSON *sealed,
                           const cJSON *seal_key, const cJSON *drafts,
                           fs_problems *p)
{
    size_t bad = 0, i;
    char where[FS_PROBLEM_WHERE_MAX];

    if (drafts != NULL) {
        if (cJSON_IsString(drafts) &&
            strcmp(drafts->valuestring, "memory") == 0)
            f->drafts_in_memory = 1;
        else if (!cJSON_IsString(drafts) ||
                 strcmp(drafts->valuestring, "stored") != 0) {
            fs_problems_add(p, "$.sealed_drafts", "stored or memory");
            bad++;
        }
    }

    if (sealed != NULL && !cJSON_IsBool(sealed)) {
        fs_problems_add(p, "$.sealed", "true or false");
        bad++;
    }
    /* The form-wide mark seals its personal and sensitive fields. */
    if (cJSON_IsTrue(sealed))
        for (i = 0; i < f->nfields; i++)
            if (f->fields[i].flags & (FS_FIELD_PERSONAL | FS_FIELD_SENSITIVE))
                f->fields[i].flags |= FS_FIELD_SEALED;
    f->nsealed = 0;
    for (i = 0; i < f->nfields; i++) {
        fs_field *fld = &f->fields[i];

        if (!(fld->flags & FS_FIELD_SEALED))
            continue;
        snprintf(where, sizeof where, "$.fields[%zu]", i);
        if (fld->type == FS_FIELD_NOTE) {
            /* Nothing to seal: the mark is dropped quietly for notes that
             * a form-wide mark reached, refused when written on one. */
            fld->flags &= ~(unsigned)FS_FIELD_SEALED;
            continue;
        }
        f->nsealed++;
        if (fld->flags & FS_FIELD_CONSENT) {
            fs_problems_add(p, where,
                            "the consent field cannot be sealed: the hub "
                            "must see it to keep metadata only after a "
                            "refusal");
            bad++;
        }
        if (fld->flags & FS_FIELD_DEDUPE) {
            fs_problems_add(p, where,
                            "'%s' is in the dedupe key and cannot be sealed: "
                            "the hub must see a dedupe key; unseal it or "
                            "take it out of $.dedupe_key",
                            fld->name);
            bad++;
        }
    }
    /* A field the hub sees may not depend on one it cannot see: the hub
     * could not check its relevance, constraint or choices. */
    for (i = 0; i < f->nfields && f->nsealed > 0; i++) {
        const fs_field *fld = &f->fields[i];

        if (fld->flags & FS_FIELD_SEALED)
            continue;
        snprintf(where, sizeof where, "$.fields[%zu]", i);
        if (cond_names_sealed(f, fld->relevant, fld, 0) ||
            cond_names_sealed(f, fld->constraint, fld, 0) ||
            (fld->filter_field &&
             (fld->filter_field->flags & FS_FIELD_SEALED))) {
            fs_problems_add(p, where,
                            "'%s' is not sealed but its relevant, "
                            "constraint or choice_filter names a sealed "
                            "field, which the hub cannot see: seal '%s' too",
                            fld->name, fld->name);
            bad++;
        }
    }
    if (f->drafts_in_memory && f->nsealed == 0) {
        fs_problems_add(p, "$.sealed_drafts",
                        "applies to forms with sealed fields");
        bad++;
    }
    if (seal_key != NULL) {
        if (!cJSON_IsString(seal_key) ||
            !fs_seal_valid_key_id(seal_key->valuestring)) {
            fs_problems_add(p, "$.seal_key",
                            "the id of a steward key (letters, digits, . _ "
                            "-, at most 64), as `fieldsync-hub keys list` "
                            "shows it");
            bad++;
        } else {
            f->seal_key = seal_key->valuestring;
        }
        if (f->nsealed == 0) {
            fs_problems_add(p, "$.seal_key",
                            "no field is sealed: mark fields \"sealed\": "
                            "true, or drop seal_key");
            bad++;
        }
    } else if (f->nsealed > 0) {
        fs_problems_add(p, "$.seal_key",
                        "required when a field is sealed: the id of the "
                        "steward key that seals them (`fieldsync-hub keys "
                        "list`)");
        bad++;
    }
    return bad;
}

/* ---- what the hub checks --------------------------------------------- */

static int b64_ok(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring[0] != '\0' &&
           strlen(v->valuestring) <= ENVELOPE_B64_MAX;
}

size_t fs__seal_check_envelope(const fs_form *f, const cJSON *env,
                               fs_problems *p)
{
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(env, "key");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(env, "v");

    if (f->nsealed == 0) {
        fs_problems_add(p, FS_SEALED_MEMBER,
                        "form %s version %lld seals no field", f->id,
                        (long long)f->version);
        return 1;
    }
    if (!cJSON_IsObject(env) || !cJSON_IsNumber(v) || v->valuedouble != 1 ||
        !cJSON_IsString(key) || !b64_ok(env, "wrap") || !b64_ok(env, "nonce") ||
        !b64_ok(env, "ct") || cJSON_GetArraySize(env) != 5) {
        fs_problems_add(p, FS_SEALED_MEMBER,
                        "not a sealed envelope {v: 1, key, wrap, nonce, ct}");
        return 1;
    }
    if (strcmp(key->valuestring, f->seal_key) != 0) {
        char snip[FS_SEAL_KEY_ID_MAX + 8];
        fs__snippet(key->valuestring, snip, sizeof snip);
        fs_problems_add(p, FS_SEALED_MEMBER,
                        "sealed to key '%s', but form %s version %lld is "
                        "sealed to '%s'",
                        snip, f->id, (long long)f->version, f->seal_key);
        return 1;
    }
    return 0;
}

int fs_answers_check_sealed(const fs_form *f, const cJSON *answers,
                            fs_problems *p)
{
    if (f->nsealed == 0 || !cJSON_IsObject(answers))
        return FS_OK;
    if (cJSON_GetObjectItemCaseSensitive(answers, FS_SEALED_MEMBER) != NULL)
        return FS_OK; /* fs_answers_validate checks the envelope */
    fs_problems_add(p, FS_SEALED_MEMBER,
                    "form %s version %lld has sealed fields and they came "
                    "in plain text: the device must seal them (update the "
                    "agent)",
                    f->id, (long long)f->version);
    return FS_EINVALID;
}

/* ---- sealing --------------------------------------------------------- */

int fs_seal_key_decode(const char *b64, unsigned char out[FS_SEAL_KEY_BYTES])
{
    size_t n = 0;
    const char *end = NULL;

    if (b64 == NULL ||
        sodium_base642bin(out, FS_SEAL_KEY_BYTES, b64, strlen(b64), NULL, &n,
                          &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != FS_SEAL_KEY_BYTES || *end != '\0')
        return FS_EMALFORMED;
    return FS_OK;
}

void fs_seal_key_encode(const unsigned char key[FS_SEAL_KEY_BYTES],
                        char out[FS_SEAL_KEY_B64])
{
    sodium_bin2base64(out, FS_SEAL_KEY_B64, key, FS_SEAL_KEY_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
}

static int make_ad(char *ad, const fs_form *f, const char *submission_id,
                   const char *key_id)
{
    int n = snprintf(ad, SEAL_AD_MAX, "fieldsync-sealed-1|%s|%lld|%s|%s", f->id,
                     (long long)f->version, submission_id, key_id);
    return n > 0 && n < SEAL_AD_MAX ? n : -1;
}

static int add_b64(cJSON *env, const char *name, const unsigned char *bin,
                   size_t len)
{
    size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(cap);
    if (text == NULL)
        return FS_ENOMEM;
    sodium_bin2base64(text, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
    int ok = cJSON_AddStringToObject(env, name, text) != NULL;
    free(text);
    return ok ? FS_OK : FS_ENOMEM;
}

/* Frees a cJSON string after overwriting it. */
static void wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

/* Overwrites the strings of an answer tree before it is freed. */
static void wipe_strings(cJSON *item)
{
    for (cJSON *c = item ? item->child : NULL; c; c = c->next)
        wipe_strings(c);
    if (item && cJSON_IsString(item) && item->valuestring)
        sodium_memzero(item->valuestring, strlen(item->valuestring));
}

int fs_seal_answers(const fs_form *f, cJSON *answers, const char *submission_id,
                    const char *key_id,
                    const unsigned char pk[FS_SEAL_KEY_BYTES])
{
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    unsigned char wrap[crypto_box_SEALBYTES + sizeof key];
    char ad[SEAL_AD_MAX];
    int adlen, rc = FS_ENOMEM;

    if (f->nsealed == 0 || !cJSON_IsObject(answers) ||
        cJSON_GetObjectItemCaseSensitive(answers, FS_SEALED_MEMBER) ||
        (adlen = make_ad(ad, f, submission_id, key_id)) < 0)
        return FS_EINVAL;
    if (fs_seal_init() != FS_OK)
        return FS_ERANDOM;
    /* A sealed file's answer must come sealed, with its plain reference
     * ("plain", fs_seal.h) to move inside: checked before anything
     * moves, so a refusal leaves answers as they were. */
    for (size_t i = 0; i < f->nfields; i++) {
        const fs_field *fld = &f->fields[i];
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(answers, fld->name);
        if ((fld->flags & FS_FIELD_SEALED) && a != NULL &&
            fs_field_type_is_attachment(fld->type) &&
            (!fs_answer_is_sealed_file(a) ||
             !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(a, "plain"))))
            return FS_EINVAL;
    }
    cJSON *plain = cJSON_CreateObject();
    if (plain == NULL)
        return FS_ENOMEM;
    for (size_t i = 0; i < f->nfields; i++)
        if (f->fields[i].flags & FS_FIELD_SEALED) {
            const char *name = f->fields[i].name;
            cJSON *a = fs_field_type_is_attachment(f->fields[i].type)
                           ? cJSON_GetObjectItemCaseSensitive(answers, name)
                           : NULL;
            /* A sealed file: its plain reference goes in, its sealed
             * reference stays for the hub to take the file by. */
            if (a)
                a = cJSON_DetachItemFromObjectCaseSensitive(a, "plain");
            else
                a = cJSON_DetachItemFromObjectCaseSensitive(answers, name);
            if (a)
                cJSON_AddItemToObject(plain, name, a);
        }
    char *text = cJSON_PrintUnformatted(plain);
    size_t len = text ? strlen(text) : 0;
    size_t padded = 0, cap = len + SEAL_PAD;
    unsigned char *buf = text ? malloc(cap) : NULL;
    unsigned char *ct =
        buf ? malloc(cap + crypto_aead_xchacha20poly1305_ietf_ABYTES) : NULL;
    cJSON *env = ct ? cJSON_CreateObject() : NULL;
    if (env) {
        unsigned long long ctlen = 0;
        memcpy(buf, text, len);
        sodium_pad(&padded, buf, len, SEAL_PAD, cap);
        crypto_aead_xchacha20poly1305_ietf_keygen(key);
        randombytes_buf(nonce, sizeof nonce);
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            ct, &ctlen, buf, padded, (const unsigned char *)ad,
            (unsigned long long)adlen, NULL, nonce, key);
        rc =
            crypto_box_seal(wrap, key, sizeof key, pk) == 0 ? FS_OK : FS_EINVAL;
        sodium_memzero(key, sizeof key);
        if (rc == FS_OK && (!cJSON_AddNumberToObject(env, "v", 1) ||
                            !cJSON_AddStringToObject(env, "key", key_id)))
            rc = FS_ENOMEM;
        if (rc == FS_OK)
            rc = add_b64(env, "wrap", wrap, sizeof wrap);
        if (rc == FS_OK)
            rc = add_b64(env, "nonce", nonce, sizeof nonce);
        if (rc == FS_OK)
            rc = add_b64(env, "ct", ct, (size_t)ctlen);
        sodium_memzero(buf, cap);
    }
    if (rc == FS_OK && !cJSON_AddItemToObject(answers, FS_SEALED_MEMBER, env))
        rc = FS_ENOMEM;
    if (rc != FS_OK) {
        cJSON_Delete(env);
        /* Fail closed: put nothing back, the caller stores nothing. */
    }
    wipe_free(text);
    free(buf);
    free(ct);
    wipe_strings(plain);
    cJSON_Delete(plain);
    return rc;
}

static unsigned char *b64_member(const cJSON *env, const char *name,
                                 size_t *len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(env, name);
    if (!cJSON_IsString(v))
        return NULL;
    size_t cap = strlen(v->valuestring) / 4 * 3 + 3;
    unsigned char *bin = malloc(cap);
    const char *end = NULL;
    if (bin && (sodium_base642bin(bin, cap, v->valuestring,
                                  strlen(v->valuestring), NULL, len, &end,
                                  sodium_base64_VARIANT_ORIGINAL) != 0 ||
                *end != '\0')) {
        free(bin);
        return NULL;
    }
    return bin;
}

int fs_seal_open(const fs_form *f, const cJSON *answers,
                 const char *submission_id, const char *key_id,
                 const unsigned char pk[FS_SEAL_KEY_BYTES],
                 const unsigned char sk[FS_SEAL_KEY_BYTES], cJSON **sealed_out,
                 char *why, size_t whycap)
{
    const cJSON *env =
        cJSON_GetObjectItemCaseSensitive(answers, FS_SEALED_MEMBER);
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(env, "key");
    unsigned char dek[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    char ad[SEAL_AD_MAX];
    size_t wlen = 0, nlen = 0, clen = 0;
    int adlen, rc;

    *sealed_out = NULL;
    if (env == NULL) {
        snprintf(why, whycap, "no sealed answers");
        return FS_EINVAL;
    }
    if (!cJSON_IsString(key)) {
        snprintf(why, whycap, "the sealed envelope names no key");
        return FS_EMALFORMED;
    }
    if (strcmp(key->valuestring, key_id) != 0) {
        char snip[FS_SEAL_KEY_ID_MAX + 8];
        fs__snippet(key->valuestring, snip, sizeof snip);
        snprintf(why, whycap, "sealed to key '%s', not to '%s'", snip, key_id);
        return FS_EIDENT;
    }
    if (fs_seal_init() != FS_OK)
        return FS_ERANDOM;
    adlen = make_ad(ad, f, submission_id, key_id);
    unsigned char *wrap = b64_member(env, "wrap", &wlen);
    unsigned char *nonce = b64_member(env, "nonce", &nlen);
    unsigned char *ct = b64_member(env, "ct", &clen);
    unsigned char *plain = ct ? malloc(clen + 1) : NULL;
    unsigned long long plen = 0;
    size_t unpadded = 0;
    rc = FS_EMALFORMED;
    if (adlen < 0 || !wrap || !nonce || !ct || !plain ||
        wlen != crypto_box_SEALBYTES + sizeof dek ||
        nlen != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
        snprintf(why, whycap, "the sealed envelope is damaged");
    else if (crypto_box_seal_open(dek, wrap, wlen, pk, sk) != 0)
        snprintf(why, whycap,
                 "its sealed key does not open with key '%s' (tampered or "
                 "damaged)",
                 key_id);
    else if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                 plain, &plen, NULL, ct, clen, (const unsigned char *)ad,
                 (unsigned long long)adlen, nonce, dek) != 0)
        snprintf(why, whycap,
                 "the sealed answers fail their integrity check (tampered, "
                 "damaged, or moved from another submission)");
    else if (sodium_unpad(&unpadded, plain, (size_t)plen, SEAL_PAD) != 0)
        snprintf(why, whycap, "the sealed answers have bad padding");
    else {
        plain[unpadded] = '\0';
        *sealed_out = fs_json_parse_stored((const char *)plain);
        rc = cJSON_IsObject(*sealed_out) ? FS_OK : FS_EMALFORMED;
        if (rc != FS_OK) {
            cJSON_Delete(*sealed_out);
            *sealed_out = NULL;
            snprintf(why, whycap, "the sealed answers are not a JSON object");
        }
    }
    sodium_memzero(dek, sizeof dek);
    if (plain)
        sodium_memzero(plain, clen + 1);
    free(wrap);
    free(nonce);
    free(ct);
    free(plain);
    return rc;
}
