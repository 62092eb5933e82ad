/*
 * record.c - recording a finalized submission offline from a file of
 * answers (`record`).
 *
 * The transactional outbox: the submission row and its outbox row are
 * written in one SQLite transaction, so a record either exists and will
 * be sent, or does not exist at all - whatever happens to the power.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "attach.h"
#include "scope.h"
#include "seal.h"
#include "drafts.h"
#include "forms.h"
#include "fs_form.h"
#include "store.h"

#define ANSWERS_MAX (1024 * 1024)

/* Checks answers with the validator the hub also runs, and lists every
 * problem at once, one per line ("field: reason"), so a user fixes the
 * file in one go. */
static int check_answers(fa_agent *ag, const fs_form *form,
                         const cJSON *answers, const char *area)
{
    fs_problems p;
    fs_problems_init(&p);
    int rc = fs_answers_validate(form, answers, area, &p);
    if (rc == FS_OK)
        return FA_OK;
    if (rc == FS_ENOMEM)
        return fa__fail(ag, FA_ESTORE, "out of memory");
    size_t used = 0;
    ag->err[0] = '\0';
    for (size_t i = 0; i < p.n && used < sizeof ag->err; i++) {
        int n = snprintf(ag->err + used, sizeof ag->err - used, "%s%s: %s",
                         i ? "\n" : "", p.items[i].where, p.items[i].msg);
        if (n < 0 || (size_t)n >= sizeof ag->err - used) {
            /* Keep whole lines only; say how many did not fit. */
            ag->err[used] = '\0';
            snprintf(ag->err + used, sizeof ag->err - used,
                     "\n... and %zu more", fs_problems_total(&p) - i);
            used = sizeof ag->err;
            break;
        }
        used += (size_t)n;
    }
    if (p.dropped > 0 && used < sizeof ag->err)
        snprintf(ag->err + used, sizeof ag->err - used, "\n... and %zu more",
                 p.dropped);
    return FA_EINPUT;
}

int fa_record(fa_agent *ag, const char *form_id, int64_t version,
              const char *area, const char *answers_json, char *id_out)
{
    return fa__record_files(ag, form_id, version, area, answers_json, NULL, 0,
                            id_out);
}

int fa__record_files(fa_agent *ag, const char *form_id, int64_t version,
                     const char *area, const char *answers_json,
                     const char *const *attach, size_t nattach, char *id_out)
{
    if (!fs_valid_form_id(form_id))
        return fa__fail(ag, FA_EINPUT,
                        "'%s' is not a form id (lower-case letters, digits "
                        "and _); `fieldsync-agent forms` lists them",
                        form_id);
    if (area && area[0] && !fs_valid_area_code(area))
        return fa__fail(ag, FA_EINPUT,
                        "'%s' is not an area code (letters, digits, . _ -, "
                        "at most 64)",
                        area);
    cJSON *answers = NULL;
    fs_err perr = {0};
    size_t alen = strlen(answers_json);
    if (alen > ANSWERS_MAX)
        return fa__fail(ag, FA_EINPUT, "the answers are larger than 1 MiB");
    if (fs_json_parse(answers_json, alen, &ag->limits, &answers, &perr) !=
        FS_OK)
        return fa__fail(ag, FA_EINPUT, "the answers are not valid JSON: %s",
                        perr.msg);
    if (!cJSON_IsObject(answers)) {
        cJSON_Delete(answers);
        return fa__fail(ag, FA_EINPUT,
                        "the answers must be a JSON object of field names "
                        "and values, e.g. {\"age_band\": \"25-34\"}");
    }
    char areas[FA_SCOPE_MAX];
    int rc = fa__meta_get(ag, "areas", areas, sizeof areas);
    int in =
        rc == FA_OK ? fa__area_covered(ag, areas, area ? area : "", NULL) : 1;
    if (in < 0)
        rc = in;
    if (rc == FA_OK && in == 0) {
        cJSON_Delete(answers);
        return fa__fail(ag, FA_EINPUT,
                        "this device records for areas %s (and the areas "
                        "below them) only; give one of them with --area",
                        areas);
    }
    if (rc != FA_OK) {
        cJSON_Delete(answers);
        return rc;
    }
    fs_form *form = NULL;
    rc = fa__form_load(ag, form_id, &version, &form);
    /* The id first: a sealed file is bound to its submission. */
    char id[FS_UUID_LEN + 1];
    if (rc == FA_OK && fs_uuid_v7(id) != FS_OK)
        rc = fa__fail(ag, FA_ESTORE, "the system has no randomness");
    /* Files first: each is durable in the store before the row that
     * references it commits. */
    for (size_t i = 0; rc == FA_OK && i < nattach; i++)
        rc = fa__attach_is_sealed(form, attach[i])
                 ? fa__attach_sealed(ag, form, answers, attach[i], id)
                 : fa__attach_file(ag, form, answers, attach[i]);
    if (rc == FA_OK)
        rc = check_answers(ag, form, answers, area);
    char *canon = rc == FA_OK ? cJSON_PrintUnformatted(answers) : NULL;
    if (rc == FA_OK && !canon)
        rc = fa__fail(ag, FA_ESTORE, "out of memory");
    if (rc != FA_OK) {
        fs_form_free(form);
        cJSON_Delete(answers);
        free(canon);
        return rc;
    }

    rc = fa__begin(ag);
    if (rc == FA_OK) {
        rc = fa__store_submission(ag, id, 0, form_id, version, area, canon);
        if (rc == FA_OK)
            rc = fa__attach_rows(ag, form, id, answers);
        if (rc == FA_OK)
            rc = fa__commit(ag);
        else
            fa__rollback(ag);
    }
    if (rc == FA_OK && id_out)
        memcpy(id_out, id, sizeof id);
    fs_form_free(form);
    cJSON_Delete(answers);
    free(canon);
    return rc;
}
