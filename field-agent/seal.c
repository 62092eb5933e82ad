/*
 * seal.c - sealed answers on the device (seal.h): keys from the hub and
 * sealing at finalize. The plaintext of sealed answers is never written
 * to the database as a submission; drafts hold it until finalize, and the
 * commit that turns a draft into a sealed submission clears the
 * write-ahead log (fa__commit) while secure_delete zeroes what the
 * draft's rows left in the database file (fa_open).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forms.h"
#include "fs_seal.h"
#include "seal.h"
#include "store.h"

int fa__seal_key_apply(fa_agent *ag, const cJSON *payload)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(payload, "id");
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(payload, "public_key");
    unsigned char raw[FS_SEAL_KEY_BYTES];
    if (!cJSON_IsString(id) || !fs_seal_valid_key_id(id->valuestring) ||
        !cJSON_IsString(pk) ||
        fs_seal_key_decode(pk->valuestring, raw) != FS_OK)
        return fa__fail(ag, FA_EREFUSED, "the hub sent a malformed key");
    /* A published key never changes: the first one kept stays. */
    return fa__exec(ag, "saving a key",
                    "INSERT OR IGNORE INTO seal_keys (id, public_key) "
                    "VALUES (?, ?)",
                    "tt", id->valuestring, pk->valuestring);
}

int fa__seal_answers(fa_agent *ag, const char *id, const char *form_id,
                     int64_t version, const char *answers_json, char **out)
{
    *out = NULL;
    fs_form *form = NULL;
    int rc = fa__form_load(ag, form_id, &version, &form);
    if (rc != FA_OK)
        return rc;
    const char *key = fs_form_seal_key(form);
    if (!key) {
        fs_form_free(form);
        *out = strdup(answers_json);
        return *out ? FA_OK : fa__fail(ag, FA_ESTORE, "out of memory");
    }
    char pk64[FS_SEAL_KEY_B64] = "";
    sqlite3_stmt *st = NULL;
    rc = fa__prepare(ag, &st, "reading keys",
                     "SELECT public_key FROM seal_keys WHERE id = ?", "t", key);
    int step = rc == FA_OK ? sqlite3_step(st) : SQLITE_ERROR;
    if (step == SQLITE_ROW)
        snprintf(pk64, sizeof pk64, "%s", fa__col_text(st, 0));
    sqlite3_finalize(st);
    unsigned char pk[FS_SEAL_KEY_BYTES];
    if (rc != FA_OK || (step != SQLITE_ROW && step != SQLITE_DONE))
        rc = fa__store_error(ag, "reading keys");
    else if (step == SQLITE_DONE || fs_seal_key_decode(pk64, pk) != FS_OK)
        rc = fa__fail(ag, FA_EINPUT,
                      "form %s version %lld seals answers to key %s, which "
                      "this device has not received yet: sync with the hub "
                      "(`fieldsync-agent sync`), then finalize again; "
                      "nothing was finalized (a draft is kept, unless the "
                      "form keeps drafts in memory only)",
                      form_id, (long long)version, key);
    cJSON *answers = rc == FA_OK ? fs_json_parse_stored(answers_json) : NULL;
    if (rc == FA_OK && !answers)
        rc = fa__fail(ag, FA_ESTORE, "out of memory");
    if (rc == FA_OK) {
        int src = fs_seal_answers(form, answers, id, key, pk);
        if (src != FS_OK)
            rc = fa__fail(ag, FA_ESTORE, "cannot seal the answers: %s",
                          fs_strerror(src));
    }
    if (rc == FA_OK) {
        *out = cJSON_PrintUnformatted(answers);
        if (!*out)
            rc = fa__fail(ag, FA_ESTORE, "out of memory");
        ag->sealed_commit = 1;
    }
    cJSON_Delete(answers);
    fs_form_free(form);
    return rc;
}

int fa__seal_strip(cJSON *answers)
{
    if (!cJSON_GetObjectItemCaseSensitive(answers, FS_SEALED_MEMBER))
        return 0;
    cJSON_DeleteItemFromObjectCaseSensitive(answers, FS_SEALED_MEMBER);
    /* A sealed file's reference goes too: its key is in the envelope,
     * so the file is given again like the other sealed answers. */
    cJSON *c = answers->child;
    while (c) {
        cJSON *next = c->next;
        if (fs_answer_is_sealed_file(c))
            cJSON_Delete(cJSON_DetachItemViaPointer(answers, c));
        c = next;
    }
    return 1;
}
