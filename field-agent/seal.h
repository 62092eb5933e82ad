/*
 * seal.h - sealed answers on the device (seal.c): the stewards' public
 * keys the hub sends, and sealing a submission's sealed fields at
 * finalize (fs_seal.h), after which the device cannot read them back.
 */
#ifndef FA_SEAL_H
#define FA_SEAL_H

#include "agent_int.h"
#include "fs_form.h"

/* Keeps a key the hub published (pull kind "seal_key"). */
int fa__seal_key_apply(fa_agent *ag, const cJSON *payload);

/* The answers to store for submission id of (form_id, version): when the
 * form seals fields, answers_json with those sealed to the form's key;
 * else a copy. *out is the caller's (free). FA_EINPUT when the device has
 * not received the key yet (nothing is stored: a draft stays a draft).
 * Sets ag->sealed_commit so the commit clears the write-ahead log. */
int fa__seal_answers(fa_agent *ag, const char *id, const char *form_id,
                     int64_t version, const char *answers_json, char **out);

/* Removes the sealed envelope from answers a draft starts from (an
 * amendment): the device cannot read it, so those fields are asked
 * again. 1 when there was one. */
int fa__seal_strip(cJSON *answers);

/* sealfile.c: 1 when --attach spec (FIELD=PATH) names a sealed image,
 * audio or file field of form. */
int fa__attach_is_sealed(const fs_form *form, const char *spec);

/* For such a spec: checks the file against the field's limits (size,
 * type sniffed from its first bytes), encrypts it as it reads it into
 * blobs/ under the SHA-256 of the ciphertext (temporary name, fsync,
 * rename, directory fsync; the plain bytes are never written there),
 * bound to submission id, and sets answers[FIELD] to the reference
 * before sealing (fs_seal.h). FA_EINPUT with a clear message when the
 * file does not fit. */
int fa__attach_sealed(fa_agent *ag, const fs_form *form, cJSON *answers,
                      const char *spec, const char *id);

#endif
