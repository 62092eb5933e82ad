/*
 * seal.h - sealed answers at the hub (seal.c): the data stewards' public
 * keys (published, sent to devices like forms), a steward's key file
 * (the private key encrypted under a passphrase with a memory-hard KDF,
 * never in the hub database), and what exports and the API show of a
 * sealed submission: "sealed" without the key, the answers with it.
 *
 * The hub never decrypts on the server: only the steward commands run
 * by hand with --key open envelopes (fs_seal.h), each audited before any
 * answer leaves.
 */
#ifndef HUB_SEAL_H
#define HUB_SEAL_H

#include <stdio.h>

#include <sqlite3.h>

#include "fs_form.h"
#include "fs_seal.h"

/* An opened steward key: its id and pair; the secret key lives in
 * locked, guarded memory (sodium_malloc) until hub__steward_close. */
typedef struct hub_steward {
    char id[FS_SEAL_KEY_ID_MAX + 1];
    char path[256]; /* for messages */
    unsigned char pk[FS_SEAL_KEY_BYTES];
    unsigned char *sk;
} hub_steward;

/* Opens key file path with the passphrase read from file descriptor
 * pass_fd (one line), or from the terminal when pass_fd < 0. HUB_OK with
 * *out the caller's (hub__steward_close); HUB_EBADINPUT with err saying
 * what is wrong (no such file, not a key file, wrong passphrase). */
int hub__steward_open(const char *path, int pass_fd, hub_steward **out,
                      char *err, size_t cap);
void hub__steward_close(hub_steward *s);

/* 1 when key id is published on this hub. */
int hub__seal_key_known(sqlite3 *db, const char *id);

/* What a reader without the key sees of answers (parsed, of a submission
 * of form f): the envelope becomes the list of f's sealed fields under
 * FS_SEALED_MEMBER. Returns 1 when answers were sealed. */
int hub__seal_mask(const fs_form *f, cJSON *answers);

/* With steward key s: replaces the envelope of answers (of submission id
 * of form f) by the sealed answers. HUB_OK (also when answers are not
 * sealed); HUB_EBADINPUT with err naming the submission and what is
 * wrong (another key, tampered). The plaintext is the caller's. */
int hub__seal_reveal(const hub_steward *s, const fs_form *f, const char *id,
                     cJSON *answers, char *err, size_t cap);

/* indicators --key (sealind.c): the hub's indicator over the form's
 * submissions with their sealed answers opened, offline, audited. */
struct hub_ind_request;
int hub_indicators_sealed(const char *db_path,
                          const struct hub_ind_request *req, const char *key,
                          int pass_fd, int format, FILE *out);

/* The form versions a reading of many rows needs, one kept at a time
 * (rows come mostly in one version). Zero it before use. */
typedef struct hub_seal_forms {
    fs_form *def;
    int64_t version;
} hub_seal_forms;
/* The definition of version v of form (cached in c; borrowed), or NULL. */
const fs_form *hub__seal_form(sqlite3 *db, hub_seal_forms *c, const char *form,
                              int64_t v);
void hub__seal_forms_free(hub_seal_forms *c);
/* hub__seal_reveal for a row of submission id, version v of form; *opened
 * is 1 when the row was sealed (and is now open). */
int hub__seal_reveal_row(sqlite3 *db, hub_seal_forms *c, const hub_steward *s,
                         const char *form, int64_t v, const char *id,
                         cJSON *answers, int *opened, char *err, size_t cap);

/* ---- sealed files (sealfile.c) ---- */

/* With steward key s: the sealed answers of submission id (answers as
 * stored, the envelope still sealed; form f) opened, and *plain_out the
 * plain reference of field's sealed file: {"sha256", "size", "type",
 * "name", "key"} (the caller's; wipe "key" before cJSON_Delete). HUB_OK;
 * HUB_ENOTFOUND (the field is not answered with a sealed file);
 * HUB_EBADINPUT with err (not a sealed file field, another key,
 * tampered). */
int hub__sealed_file_ref(const hub_steward *s, const fs_form *f, const char *id,
                         const cJSON *answers, const char *field,
                         cJSON **plain_out, char *err, size_t cap);

/* Opens the sealed file of field of submission id (as for
 * hub__sealed_file_ref) from blob_dir/CIPHERTEXT-HASH into out_fd, in
 * chunks, and checks what it wrote against the hash and size the device
 * sealed. HUB_OK; HUB_ENOTFOUND (not answered, or the file has not
 * arrived); HUB_EBADINPUT with err naming the submission and the field
 * (wrong key, a byte changed, cut short, another submission's file).
 * out_fd may hold part of the file on failure: write to a temporary name
 * and remove it. The caller audits (`file.unseal`) before any byte
 * leaves, as hub_open_file does. For `export media` too. */
int hub__open_sealed_blob(const hub_steward *s, const fs_form *f,
                          const char *id, const cJSON *answers,
                          const char *field, const char *blob_dir, int out_fd,
                          char *err, size_t cap);

/* `fieldsync-hub open-file ID FIELD --key FILE -o OUT`: the sealed file
 * of the current revision of submission id, opened into out_path (whole
 * or not at all), audited first. Exit status. */
int hub_open_file(const char *db_path, const char *key, int pass_fd,
                  const char *id, const char *field, const char *out_path,
                  FILE *out);

/* The commands (main.c): keys generate, publish, list. */
int hub_keys_generate(const char *out_path, const char *id, int pass_fd,
                      FILE *out);
int hub_keys_publish(const char *db_path, const char *file, FILE *out);
int hub_keys_list(const char *db_path, int format, FILE *out);

#endif
