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

/* The commands (main.c): keys generate, publish, list. */
int hub_keys_generate(const char *out_path, const char *id, int pass_fd,
                      FILE *out);
int hub_keys_publish(const char *db_path, const char *file, FILE *out);
int hub_keys_list(const char *db_path, int format, FILE *out);

#endif
