/*
 * seal.h - sealed answers on the device (seal.c): the stewards' public
 * keys the hub sends, and sealing a submission's sealed fields at
 * finalize (fs_seal.h), after which the device cannot read them back.
 */
#ifndef FA_SEAL_H
#define FA_SEAL_H

#include "agent_int.h"

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

#endif
