/*
 * drafts.c - drafts, and the one place where a finalized submission and
 * its outbox row are written together (drafts.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "drafts.h"
#include "forms.h"
#include "outbox.h"
#include "seal.h"
#include "store.h"

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    snprintf(dst, cap, "%s", fa__col_text(st, col));
}

/* ---- drafts kept in memory only --------------------------------------
 * A form with "sealed_drafts": "memory" never has a draft written to the
 * database: its plaintext lives in this process until it is finalized
 * (and sealed) or the process ends. The form app's process keeps them
 * across requests; a `fill` that stops loses them, as it says. */

struct fa__mem_draft {
    fa__draft d; /* answers owned */
    struct fa__mem_draft *next;
};

static struct fa__mem_draft *mem_find(fa_agent *ag, const char *id)
{
    struct fa__mem_draft *m = ag->mem_drafts;
    while (m && strcmp(m->d.id, id) != 0)
        m = m->next;
    return m;
}

/* 1 when drafts of (form_id, version) stay in memory. */
static int in_memory(fa_agent *ag, const char *form_id, int64_t version)
{
    fs_form *f = NULL;
    if (fa__form_load(ag, form_id, &version, &f) != FA_OK)
        return 0; /* no such form: the fill says so next */
    int mem = fs_form_drafts_in_memory(f);
    fs_form_free(f);
    return mem;
}

/* Copies d into the memory entry m (answers duplicated). */
static int mem_put(fa_agent *ag, struct fa__mem_draft *m, const fa__draft *d)
{
    cJSON *a = cJSON_Duplicate(d->answers, 1);
    if (!a)
        return fa__fail(ag, FA_ESTORE, "out of memory");
    cJSON_Delete(m->d.answers);
    m->d = *d;
    m->d.answers = a;
    return FA_OK;
}

static void mem_drop(fa_agent *ag, const char *id)
{
    for (struct fa__mem_draft **pm = &ag->mem_drafts; *pm; pm = &(*pm)->next)
        if (strcmp((*pm)->d.id, id) == 0) {
            struct fa__mem_draft *m = *pm;
            *pm = m->next;
            cJSON_Delete(m->d.answers);
            free(m);
            return;
        }
}

void fa__drafts_free(fa_agent *ag)
{
    while (ag->mem_drafts)
        mem_drop(ag, ag->mem_drafts->d.id);
}

int fa__draft_in_memory(fa_agent *ag, const char *id)
{
    return mem_find(ag, id) != NULL;
}

int fa__draft_create(fa_agent *ag, fa__draft *d, const char *id,
                     const char *form_id, int64_t version, const char *area,
                     int64_t base_rev, const char *answers_json)
{
    memset(d, 0, sizeof *d);
    if (id)
        snprintf(d->id, sizeof d->id, "%s", id);
    else if (fs_uuid_v7(d->id) != FS_OK)
        return fa__fail(ag, FA_ESTORE, "the system has no randomness");
    snprintf(d->form_id, sizeof d->form_id, "%s", form_id);
    snprintf(d->area, sizeof d->area, "%s", area ? area : "");
    d->form_version = version;
    d->base_rev = base_rev;
    d->answers = fs_json_parse_stored(answers_json ? answers_json : "{}");
    if (!d->answers)
        return fa__fail(ag, FA_ESTORE, "out of memory");
    /* A draft never holds a sealed envelope: an amendment of a sealed
     * submission starts without those answers (sealed again at
     * finalize, with a new key). */
    d->sealed_dropped = fa__seal_strip(d->answers);
    if (in_memory(ag, form_id, version)) {
        if (mem_find(ag, d->id))
            return fa__fail(ag, FA_EINPUT, "there is already a draft %s",
                            d->id);
        struct fa__mem_draft *m = calloc(1, sizeof *m);
        if (!m || mem_put(ag, m, d) != FA_OK) {
            free(m);
            return fa__fail(ag, FA_ESTORE, "out of memory");
        }
        m->next = ag->mem_drafts;
        ag->mem_drafts = m;
        return FA_OK;
    }
    int64_t now = (int64_t)fs_now_ms();
    char *text = cJSON_PrintUnformatted(d->answers);
    sqlite3_stmt *st = NULL;
    int rc = fa__prepare(ag, &st, "creating a draft",
                         "INSERT INTO drafts (id, form_id, form_version, "
                         "area, answers, base_rev, created_ms, updated_ms) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         "ttittiii", d->id, d->form_id, version, d->area,
                         text ? text : "{}", base_rev, now, now);
    int step = rc == FA_OK ? sqlite3_step(st) : SQLITE_DONE;
    sqlite3_finalize(st);
    free(text);
    if (rc != FA_OK)
        return rc;
    if (step == SQLITE_CONSTRAINT_PRIMARYKEY || step == SQLITE_CONSTRAINT)
        return fa__fail(ag, FA_EINPUT,
                        "there is already a draft %s; continue it with "
                        "`fieldsync-agent resume %s`",
                        d->id, d->id);
    return step == SQLITE_DONE ? FA_OK
                               : fa__store_error(ag, "creating a draft");
}

int fa__draft_load(fa_agent *ag, const char *id, fa__draft *d)
{
    memset(d, 0, sizeof *d);
    struct fa__mem_draft *m = mem_find(ag, id);
    if (m) {
        *d = m->d;
        d->answers = cJSON_Duplicate(m->d.answers, 1);
        return d->answers ? FA_OK : fa__fail(ag, FA_ESTORE, "out of memory");
    }
    sqlite3_stmt *st = NULL;
    if (fa__prepare(ag, &st, "reading drafts",
                    "SELECT id, form_id, form_version, area, answers, "
                    "position, base_rev FROM drafts WHERE id = ?",
                    "t", id) != FA_OK)
        return FA_ESTORE;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        copy_text(d->id, sizeof d->id, st, 0);
        copy_text(d->form_id, sizeof d->form_id, st, 1);
        d->form_version = sqlite3_column_int64(st, 2);
        copy_text(d->area, sizeof d->area, st, 3);
        d->answers =
            fs_json_parse_stored((const char *)sqlite3_column_text(st, 4));
        d->position = sqlite3_column_int64(st, 5);
        d->base_rev = sqlite3_column_int64(st, 6);
    }
    sqlite3_finalize(st);
    if (step == SQLITE_DONE)
        return fa__fail(ag, FA_EINPUT,
                        "no draft %s on this device; `fieldsync-agent "
                        "drafts` lists them",
                        id);
    if (step != SQLITE_ROW || !d->answers)
        return fa__store_error(ag, "reading a draft");
    return FA_OK;
}

int fa__draft_save(fa_agent *ag, const fa__draft *d)
{
    struct fa__mem_draft *m = mem_find(ag, d->id);
    if (m)
        return mem_put(ag, m, d);
    char *text = cJSON_PrintUnformatted(d->answers);
    int rc = text ? fa__exec(ag, "saving the draft",
                             "UPDATE drafts SET answers = ?, position = ?, "
                             "area = ?, updated_ms = ? WHERE id = ?",
                             "titit", text, d->position, d->area,
                             (int64_t)fs_now_ms(), d->id)
                  : fa__store_error(ag, "saving the draft");
    free(text);
    return rc;
}

void fa__draft_clear(fa__draft *d)
{
    cJSON_Delete(d->answers);
    d->answers = NULL;
}

int fa__draft_amend(fa_agent *ag, const char *id, fa__draft *d)
{
    memset(d, 0, sizeof *d);
    sqlite3_stmt *st = NULL;
    if (fa__prepare(ag, &st, "reading submissions",
                    "SELECT rev, form_id, form_version, area, answers FROM "
                    "submissions WHERE id = ? ORDER BY rev DESC LIMIT 1",
                    "t", id) != FA_OK)
        return FA_ESTORE;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return fa__fail(ag, FA_EINPUT,
                        "no submission %s on this device; `fieldsync-agent "
                        "status` lists recent ones",
                        id);
    }
    int rc = fa__draft_create(
        ag, d, id, (const char *)sqlite3_column_text(st, 1),
        sqlite3_column_int64(st, 2), (const char *)sqlite3_column_text(st, 3),
        sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 4));
    sqlite3_finalize(st);
    return rc;
}

int fa__store_submission(fa_agent *ag, const char *id, int64_t base_rev,
                         const char *form_id, int64_t version, const char *area,
                         const char *answers_json)
{
    char collector[FS_NAME_MAX + 1], hlc_buf[FS_HLC_TEXT_LEN + 1];
    int64_t seq = 0;
    int rc = fa__stamp(ag, collector, hlc_buf, &seq);
    if (rc != FA_OK)
        return rc;
    int64_t now = (int64_t)fs_now_ms();
    int64_t rev = base_rev + 1;
    /* A form's sealed fields are sealed here, on every path to a
     * submission (record, finalize, amendments): never stored plain. */
    char *stored = NULL;
    rc = fa__seal_answers(ag, id, form_id, version, answers_json, &stored);
    if (rc != FA_OK)
        return rc;
    answers_json = stored;

    rc = fa__exec(ag, "saving the submission",
                  "INSERT INTO submissions (id, rev, base_rev, form_id, "
                  "form_version, area, collector, hlc, created_ms, answers) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  "tiititttit", id, rev, base_rev, form_id, version,
                  area ? area : "", collector, hlc_buf, now, answers_json);
    if (rc == FA_OK)
        rc = fa__outbox_add(ag, "saving the submission", seq, "submission", id,
                            rev, now, hlc_buf);
    free(stored);
    return rc;
}

int fa__draft_finalize(fa_agent *ag, const fa__draft *d, const fs_form *f,
                       fs_problems *p)
{
    fs_problems_init(p);
    if (fs_answers_validate(f, d->answers, d->area, p) != FS_OK)
        return fa__fail(ag, FA_EINPUT, "the answers have problems");
    char *canon = cJSON_PrintUnformatted(d->answers);
    if (!canon)
        return fa__fail(ag, FA_ESTORE, "out of memory");
    int rc = fa__begin(ag);
    if (rc == FA_OK)
        rc = fa__store_submission(ag, d->id, d->base_rev, d->form_id,
                                  d->form_version, d->area, canon);
    /* Files the form app stored (attach.h): a row each, with the
     * submission, as `record --attach` does. */
    if (rc == FA_OK)
        rc = fa__attach_rows(ag, f, d->id, d->answers);
    if (rc == FA_OK)
        rc = fa__exec(ag, "finalizing", "DELETE FROM drafts WHERE id = ?", "t",
                      d->id);
    if (rc == FA_OK)
        rc = fa__commit(ag);
    else
        fa__rollback(ag);
    if (rc == FA_OK)
        mem_drop(ag, d->id);
    free(canon);
    return rc;
}
