/*
 * fs_seal.h - sealed answers (FORMS.md, "Sealed answers"; SECURITY.md):
 * the answers to a form's sealed fields, encrypted on the device at
 * finalize so that only the data steward's private key opens them.
 * Part of the fsprotocol library; the construction is libsodium's, never
 * our own:
 *
 *   - a fresh random 32-byte key per submission revision encrypts the
 *     sealed answers (canonical JSON, padded to a multiple of 128 bytes)
 *     with XChaCha20-Poly1305 (crypto_aead_xchacha20poly1305_ietf), its
 *     associated data binding the form id, version, submission id and key
 *     id, so a ciphertext moved to another submission does not open;
 *   - that key is sealed to the steward's X25519 public key with a sealed
 *     box (crypto_box_seal): the device forgets it and cannot read back.
 *
 * The envelope is the answers' member FS_SEALED_MEMBER:
 *   {"v": 1, "key": KEY_ID, "wrap": B64, "nonce": B64, "ct": B64}
 * (base64 with padding). It travels and is stored as it was made, so a
 * replay is byte-identical.
 */
#ifndef FS_SEAL_H
#define FS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "fs_form.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FS_SEAL_KEY_BYTES 32  /* X25519 public and secret keys */
#define FS_SEAL_KEY_ID_MAX 64 /* [A-Za-z0-9._-], 1 .. 64 */
/* base64 text of a 32-byte key, with its NUL. */
#define FS_SEAL_KEY_B64 45

/* Makes libsodium ready (idempotent, thread-safe). FS_OK or FS_ERANDOM. */
int fs_seal_init(void);

/* 1 when s is a key id: [A-Za-z0-9._-], 1 .. 64 characters. */
int fs_seal_valid_key_id(const char *s);

/* base64 text <-> 32 raw key bytes. Decoding refuses anything that is not
 * exactly 32 bytes: FS_OK or FS_EMALFORMED. */
int fs_seal_key_decode(const char *b64, unsigned char out[FS_SEAL_KEY_BYTES]);
void fs_seal_key_encode(const unsigned char key[FS_SEAL_KEY_BYTES],
                        char out[FS_SEAL_KEY_B64]);

/* Seals, in place, the answers of f's sealed fields: they leave answers
 * and an envelope (FS_SEALED_MEMBER) to public key pk, named key_id, takes
 * their place, always (also when none is answered, so the envelope does
 * not tell whether they were). answers must not carry an envelope yet.
 * FS_OK; FS_EINVAL (a form without sealed fields, an envelope already
 * there), FS_ENOMEM, FS_ERANDOM. The plaintext copies made on the way are
 * wiped before return. */
int fs_seal_answers(const fs_form *f, cJSON *answers, const char *submission_id,
                    const char *key_id,
                    const unsigned char pk[FS_SEAL_KEY_BYTES]);

/* Opens the envelope of answers (of a submission of form f) with the key
 * pair pk/sk named key_id. On FS_OK *sealed_out is the object of sealed
 * answers (the caller's, cJSON_Delete). Otherwise why says what is wrong:
 * FS_EIDENT: sealed to another key (why names it); FS_EMALFORMED: the
 * envelope is damaged or was tampered with (it does not authenticate);
 * FS_EINVAL: answers carry no envelope; FS_ENOMEM. */
int fs_seal_open(const fs_form *f, const cJSON *answers,
                 const char *submission_id, const char *key_id,
                 const unsigned char pk[FS_SEAL_KEY_BYTES],
                 const unsigned char sk[FS_SEAL_KEY_BYTES], cJSON **sealed_out,
                 char *why, size_t whycap);

/* ---- sealed files (FORMS.md, "Sealed answers"; PROTOCOL.md,
 * attachments) ----------------------------------------------------------
 *
 * A sealed image, audio or file field: the device encrypts the file as
 * it reads it, in FS_SEAL_FILE_CHUNK chunks (never whole in memory),
 * with libsodium's crypto_secretstream_xchacha20poly1305 under a fresh
 * per-file key, every chunk's associated data binding the form id,
 * version, submission id and field, so a file moved to another
 * submission or field does not open. The file on disk and on the wire is
 *   FS_SEAL_FILE_MAGIC (8 bytes) | stream header (24) | chunks
 * (each chunk + 17 bytes; the last tagged final, nothing after it).
 *
 * Before sealing, the field's answer is
 *   {"sha256": CT-HASH, "size": CT-BYTES, "type": FS_SEALED_FILE_TYPE,
 *    "sealed": true, "plain": {"sha256", "size", "type", "name", "key"}}
 * and fs_seal_answers moves "plain" (the file's own hash, size, type,
 * name and its key, base64) into the envelope: the hub sees only the
 * ciphertext's hash and size, enough to take the file. */
#define FS_SEALED_FILE_TYPE "application/vnd.fieldsync.sealed"
#define FS_SEAL_FILE_MAGIC "FSSEALF1"
#define FS_SEAL_FILE_CHUNK (64 * 1024)
#define FS_SEAL_FILE_KEY_BYTES 32

/* The bytes a sealed file of plain_size (>= 1) bytes takes. */
long long fs_seal_file_size(long long plain_size);

/* A fresh random per-file key. FS_OK or FS_ERANDOM. */
int fs_seal_file_keygen(unsigned char key[FS_SEAL_FILE_KEY_BYTES]);

/* Reads in_fd to its end and writes it sealed to out_fd under key, for
 * field of submission submission_id of form f. Memory stays one chunk.
 * On FS_OK: *plain_size and plain_hex are the file's, *ct_size and
 * ct_hex the sealed file's (SHA-256, lower-case hex). FS_EIO (a read or
 * write failed; errno says why), FS_EINVAL (an empty file, a name too
 * long), FS_ERANDOM. out_fd may hold a partial file on failure: the
 * caller writes to a temporary name. */
int fs_seal_file_encrypt(int in_fd, int out_fd,
                         const unsigned char key[FS_SEAL_FILE_KEY_BYTES],
                         const fs_form *f, const char *submission_id,
                         const char *field, long long *plain_size,
                         char plain_hex[65], long long *ct_size,
                         char ct_hex[65]);

/* Opens the sealed file in_fd (read to its end) into out_fd. On FS_OK
 * *plain_size and plain_hex describe what was written. FS_EMALFORMED
 * with why: not a sealed file, a chunk that does not authenticate (wrong
 * key, tampered, another submission's or field's file), cut short or
 * followed by bytes; FS_EIO. out_fd may hold part of the file on
 * failure: the caller writes to a temporary name and removes it. */
int fs_seal_file_decrypt(int in_fd, int out_fd,
                         const unsigned char key[FS_SEAL_FILE_KEY_BYTES],
                         const fs_form *f, const char *submission_id,
                         const char *field, long long *plain_size,
                         char plain_hex[65], char *why, size_t whycap);

/* 1 when answer v is a sealed file reference ("sealed": true). */
int fs_answer_is_sealed_file(const cJSON *v);

#ifdef __cplusplus
}
#endif
#endif /* FS_SEAL_H */
