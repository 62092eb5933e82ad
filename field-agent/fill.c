/*
 * fill.c - filling a form in the terminal, one question at a time, and
 * what goes with it: drafts, resume, show, amend.
 *
 * Line-oriented on purpose: it works over a serial console, an ssh
 * session on a phone, or piped input in a test. Every accepted answer is
 * saved at once (fa__draft_save), so nothing typed is lost if the device
 * dies mid-form. Each answer is checked by the same validator the hub
 * uses (fs_answer_check), and the whole submission again before it is
 * finalized (fs_answers_validate).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drafts.h"

#define LINE_MAX_BYTES 4096
#define HISTORY_MAX 1024

typedef struct session {
    fa_agent *ag;
    const fs_form *f;
    fa__draft *d;
    const char *lang;
    FILE *in, *out;
    size_t hist[HISTORY_MAX];
    size_t nhist;
} session;

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
                     s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Reads one line; 0 at end of input. */
static int read_line(session *s, char *buf, size_t cap)
{
    fflush(s->out);
    if (!fgets(buf, (int)cap, s->in))
        return 0;
    /* Swallow the rest of an over-long line. */
    if (!strchr(buf, '\n') && !feof(s->in)) {
        int c;
        while ((c = fgetc(s->in)) != EOF && c != '\n')
            ;
    }
    return 1;
}

void fa__print_value(FILE *out, const fs_field *fld, const cJSON *v,
                     const char *lang)
{
    if (cJSON_IsString(v)) {
        const char *label = NULL;
        for (size_t i = 0; i < fs_field_choice_count(fld); i++) {
            const char *code = fs_field_choice(fld, i, lang, &label);
            if (strcmp(code, v->valuestring) == 0) {
                fprintf(out, "%s", label);
                return;
            }
        }
        fprintf(out, "%s", v->valuestring);
        return;
    }
    if (cJSON_IsArray(v)) {
        const cJSON *it;
        int first = 1;
        cJSON_ArrayForEach(it, v)
        {
            fprintf(out, first ? "" : ", ");
            fa__print_value(out, fld, it, lang);
            first = 0;
        }
        return;
    }
    char *t = cJSON_PrintUnformatted(v);
    fprintf(out, "%s", t ? t : "?");
    free(t);
}

static void prompt(session *s, size_t pos, const fs_field *fld)
{
    FILE *o = s->out;
    size_t total = fs_form_field_count(s->f);
    fprintf(o, "\n[%zu/%zu] %s%s\n", pos + 1, total,
            fs_field_label(fld, s->lang),
            fs_field_flags(fld) & FS_FIELD_REQUIRED ? " *" : "");
    const char *hint = fs_field_hint(fld, s->lang);
    if (hint)
        fprintf(o, "      %s\n", hint);
    fs_field_type t = fs_field_type_of(fld);
    size_t nc = fs_field_choice_count(fld);
    for (size_t i = 0; i < nc; i++) {
        const char *label = NULL;
        fs_field_choice(fld, i, s->lang, &label);
        fprintf(o, "  %2zu) %s\n", i + 1, label);
    }
    if (t == FS_FIELD_SELECT_MULTIPLE)
        fprintf(o, "      (one or more numbers, separated by spaces)\n");
    if (t == FS_FIELD_LIKERT) {
        int n = fs_field_scale(fld);
        for (int k = 1; k <= n; k++) {
            const char *l = fs_field_scale_label(fld, k, s->lang);
            if (l)
                fprintf(o, "  %2d) %s\n", k, l);
        }
        fprintf(o, "      (a number from 1 to %d)\n", n);
    }
    if (t == FS_FIELD_DATE)
        fprintf(o, "      (YYYY-MM-DD, or 'today')\n");
    if (t == FS_FIELD_DATETIME)
        fprintf(o, "      (YYYY-MM-DDTHH:MM:SSZ, or 'now')\n");
    if (t == FS_FIELD_GEOPOINT)
        fprintf(o, "      (latitude longitude [accuracy in metres])\n");
    const cJSON *cur =
        cJSON_GetObjectItemCaseSensitive(s->d->answers, fs_field_name(fld));
    if (cur) {
        fprintf(o, "      current answer: ");
        fa__print_value(o, fld, cur, s->lang);
        fprintf(o, " (Enter keeps it, - clears it)\n");
    }
    fprintf(o, "> ");
}

static int save(session *s)
{
    int rc = fa__draft_save(s->ag, s->d);
    if (rc != FA_OK)
        fprintf(s->out, "\n! could not save: %s\n", fa_last_error(s->ag));
    return rc;
}

static void saved_message(session *s)
{
    fprintf(s->out,
            "\nSaved as draft %s. Continue with `fieldsync-agent resume "
            "%s`.\n",
            s->d->id, s->d->id);
}

/* Asks for the area code when the form needs one and none is set. */
static int ask_area(session *s, int *stop)
{
    char areas[2048];
    char line[LINE_MAX_BYTES];
    int rc = fa__meta_get(s->ag, "areas", areas, sizeof areas);
    if (rc != FA_OK)
        return rc;
    while (!s->d->area[0]) {
        fprintf(s->out, "\nArea (neighbourhood code)%s%s:\n> ",
                areas[0] && strcmp(areas, "*") != 0 ? ", one of " : "",
                areas[0] && strcmp(areas, "*") != 0 ? areas : "");
        if (!read_line(s, line, sizeof line)) {
            *stop = 1;
            return FA_OK;
        }
        char *v = trim(line);
        if (strcmp(v, ":save") == 0 || strcmp(v, ":q") == 0) {
            *stop = 1;
            return FA_OK;
        }
        rc = fa__area_check(s->ag, v);
        if (rc == FA_EINPUT)
            fprintf(s->out, "  ! %s\n", fa_last_error(s->ag));
        else if (rc != FA_OK)
            return rc;
        else
            snprintf(s->d->area, sizeof s->d->area, "%s", v);
    }
    return save(s);
}

/* The question loop from d->position to the end. *stop is set when the
 * user stopped (saved as draft) or input ended. */
static int ask_all(session *s, int *stop)
{
    char line[LINE_MAX_BYTES], why[160];
    for (;;) {
        const fs_field *fld = fa__draft_current(s->f, s->d);
        if (!fld)
            break;
        size_t pos = (size_t)s->d->position;
        const char *name = fs_field_name(fld);
        if (fs_field_type_of(fld) == FS_FIELD_NOTE) {
            fprintf(s->out, "\n%s\n", fs_field_label(fld, s->lang));
            s->d->position++;
            continue;
        }
        prompt(s, pos, fld);
        if (!read_line(s, line, sizeof line)) {
            *stop = 1;
            return save(s);
        }
        char *v = trim(line);
        const cJSON *cur =
            cJSON_GetObjectItemCaseSensitive(s->d->answers, name);
        int required = fs_field_flags(fld) & FS_FIELD_REQUIRED;
        if (strcmp(v, ":save") == 0 || strcmp(v, ":q") == 0) {
            *stop = 1;
            return save(s);
        }
        if (strcmp(v, "<") == 0) {
            if (s->nhist == 0) {
                fprintf(s->out, "  (this is the first question)\n");
            } else {
                s->d->position = (int64_t)s->hist[--s->nhist];
                save(s);
            }
            continue;
        }
        if (strcmp(v, "?") == 0) {
            fprintf(s->out, "  Type the answer and Enter. '<' goes back one "
                            "question, ':save' saves a draft and stops, "
                            "Enter alone skips a question that is not "
                            "required.\n");
            continue;
        }
        if (v[0] == '\0' && !cur && required) {
            fprintf(s->out, "  ! this question needs an answer (or ':save' "
                            "to stop here)\n");
            continue;
        }
        cJSON *val = NULL;
        if (strcmp(v, "-") == 0) {
            if (required) {
                fprintf(s->out, "  ! this question needs an answer\n");
                continue;
            }
        } else if (v[0] != '\0') {
            val = fa__answer_parse(fld, v, why, sizeof why);
            if (!val) {
                fprintf(s->out, "  ! %s\n", why);
                continue;
            }
        } else if (cur) {
            val = cJSON_Duplicate(cur, 1); /* Enter keeps it */
        }
        fs_problems p;
        int rc = fa__draft_answer(s->ag, s->d, s->f, val, &p);
        if (rc == FA_EINPUT) {
            for (size_t i = 0; i < p.n; i++)
                fprintf(s->out, "  ! %s\n", p.items[i].msg);
            continue;
        }
        if (rc != FA_OK) {
            fprintf(s->out, "\n! could not save: %s\n", fa_last_error(s->ag));
            return rc;
        }
        if (s->nhist < HISTORY_MAX)
            s->hist[s->nhist++] = pos;
    }
    return FA_OK;
}

/* Runs a draft to its end: questions, the final check, finalize. */
static int run(session *s)
{
    char line[LINE_MAX_BYTES];
    int stop = 0;
    fprintf(s->out,
            "%s (v%lld). Type ? for help, < to go back, :save to "
            "stop and keep a draft.\n",
            fs_form_title(s->f, s->lang), (long long)s->d->form_version);
    int rc = FA_OK;
    if (fs_form_area_required(s->f))
        rc = ask_area(s, &stop);
    while (rc == FA_OK && !stop) {
        rc = ask_all(s, &stop);
        if (rc != FA_OK || stop)
            break;
        fa__draft_drop_irrelevant(s->f, s->d);
        fs_problems p;
        fs_problems_init(&p);
        if (fs_answers_validate(s->f, s->d->answers, s->d->area, &p) != FS_OK) {
            fprintf(s->out, "\nBefore it can be finalized:\n");
            for (size_t i = 0; i < p.n; i++)
                fprintf(s->out, "  ! %s: %s\n", p.items[i].where,
                        p.items[i].msg);
            int64_t first = fa__first_problem(s->f, &p);
            if (first < 0) {
                stop = 1;
                rc = save(s);
                break;
            }
            s->d->position = first;
            continue;
        }
        fprintf(s->out, "\nAll questions answered. Finalize? [y = finalize, "
                        "n = keep as draft, < = back]\n> ");
        if (!read_line(s, line, sizeof line)) {
            stop = 1;
            rc = save(s);
            break;
        }
        char *v = trim(line);
        if (strcmp(v, "<") == 0 && s->nhist > 0) {
            s->d->position = (int64_t)s->hist[--s->nhist];
            continue;
        }
        if (strcmp(v, "y") != 0 && strcmp(v, "Y") != 0) {
            stop = 1;
            rc = save(s);
            break;
        }
        rc = fa__draft_finalize(s->ag, s->d, s->f, &p);
        if (rc == FA_OK)
            fprintf(s->out,
                    "\nFinalized: %s%s. It will be sent on the next "
                    "sync.\n",
                    s->d->id, s->d->base_rev ? " (amended)" : "");
        return rc;
    }
    if (rc == FA_OK && stop)
        saved_message(s);
    return rc;
}

static int start(fa_agent *ag, fa__draft *d, const char *lang, FILE *in,
                 FILE *out)
{
    fs_form *f = NULL;
    int64_t version = d->form_version;
    int rc = fa__form_load(ag, d->form_id, &version, &f);
    if (rc != FA_OK)
        return rc;
    session s;
    memset(&s, 0, sizeof s);
    s.ag = ag;
    s.f = f;
    s.d = d;
    s.lang = lang;
    s.in = in;
    s.out = out;
    rc = run(&s);
    fs_form_free(f);
    return rc;
}

int fa_fill(fa_agent *ag, const char *form_id, const char *lang,
            const char *area, FILE *in, FILE *out)
{
    fs_form *f = NULL;
    int64_t version = 0;
    int rc = fa__form_load(ag, form_id, &version, &f);
    fs_form_free(f);
    if (rc != FA_OK)
        return rc;
    if (area && area[0] && !fs_valid_area_code(area))
        return fa__fail(ag, FA_EINPUT, "'%s' is not an area code", area);
    fa__draft d;
    rc = fa__draft_create(ag, &d, NULL, form_id, version, area, 0, NULL);
    if (rc == FA_OK)
        rc = start(ag, &d, lang, in, out);
    fa__draft_clear(&d);
    return rc;
}

int fa_resume(fa_agent *ag, const char *id, const char *lang, FILE *in,
              FILE *out)
{
    fa__draft d;
    int rc = fa__draft_load(ag, id, &d);
    if (rc == FA_OK)
        rc = start(ag, &d, lang, in, out);
    fa__draft_clear(&d);
    return rc;
}

int fa__draft_amend(fa_agent *ag, const char *id, fa__draft *d)
{
    memset(d, 0, sizeof *d);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ag->db,
                           "SELECT rev, form_id, form_version, area, answers "
                           "FROM submissions WHERE id = ? ORDER BY rev DESC "
                           "LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return fa__store_error(ag, "reading submissions");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
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

int fa_amend(fa_agent *ag, const char *id, const char *lang, FILE *in,
             FILE *out)
{
    fa__draft d;
    int rc = fa__draft_amend(ag, id, &d);
    if (rc == FA_OK) {
        fprintf(out, "Amending %s: Enter keeps each current answer.\n", id);
        rc = start(ag, &d, lang, in, out);
    }
    fa__draft_clear(&d);
    return rc;
}

int fa_drafts(fa_agent *ag, FILE *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ag->db,
                           "SELECT id, form_id, form_version, area, "
                           "base_rev, updated_ms, answers FROM drafts ORDER "
                           "BY updated_ms DESC",
                           -1, &st, NULL) != SQLITE_OK)
        return fa__store_error(ag, "reading drafts");
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *a = cJSON_Parse((const char *)sqlite3_column_text(st, 6));
        time_t t = (time_t)(sqlite3_column_int64(st, 5) / 1000);
        struct tm tm;
        char when[32];
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
        fprintf(out, "%s  %s v%lld  %s  %d answer(s)  %s%s\n",
                sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
                (long long)sqlite3_column_int64(st, 2),
                sqlite3_column_text(st, 3)[0]
                    ? (const char *)sqlite3_column_text(st, 3)
                    : "(no area)",
                cJSON_GetArraySize(a), when,
                sqlite3_column_int64(st, 4) ? "  (amendment)" : "");
        cJSON_Delete(a);
        n++;
    }
    sqlite3_finalize(st);
    if (n == 0)
        fprintf(out, "no drafts\n");
    return FA_OK;
}

int fa_show(fa_agent *ag, const char *id, const char *lang, FILE *out)
{
    /* A draft first (it is what is being worked on), else the newest
     * revision of a submission. */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            ag->db,
            "SELECT 'draft', form_id, form_version, area, answers, base_rev, "
            "'', '', '', '' FROM drafts WHERE id = ?1 UNION ALL SELECT * "
            "FROM (SELECT state, form_id, form_version, area, answers, rev, "
            "hub_status, hub_message, review_state, review_comment FROM "
            "submissions WHERE id = ?1 ORDER BY rev DESC LIMIT 1)",
            -1, &st, NULL) != SQLITE_OK)
        return fa__store_error(ag, "reading submissions");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return fa__fail(ag, FA_EINPUT, "no draft or submission %s here", id);
    }
    const char *state = (const char *)sqlite3_column_text(st, 0);
    int64_t version = sqlite3_column_int64(st, 2);
    fs_form *f = NULL;
    int rc = fa__form_load(ag, (const char *)sqlite3_column_text(st, 1),
                           &version, &f);
    if (rc != FA_OK) {
        sqlite3_finalize(st);
        return rc;
    }
    cJSON *answers = cJSON_Parse((const char *)sqlite3_column_text(st, 4));
    fprintf(out, "%s  %s v%lld  area %s  %s", id, fs_form_title(f, lang),
            (long long)version,
            sqlite3_column_text(st, 3)[0]
                ? (const char *)sqlite3_column_text(st, 3)
                : "(none)",
            state);
    if (strcmp(state, "draft") != 0)
        fprintf(out, ", revision %lld", (long long)sqlite3_column_int64(st, 5));
    const char *hub_status = (const char *)sqlite3_column_text(st, 6);
    if (hub_status[0])
        fprintf(out, ", hub: %s", hub_status);
    const char *msg = (const char *)sqlite3_column_text(st, 7);
    if (msg[0])
        fprintf(out, " (%s)", msg);
    const char *review = (const char *)sqlite3_column_text(st, 8);
    if (review[0])
        fprintf(out, ", review: %s", review);
    const char *comment = (const char *)sqlite3_column_text(st, 9);
    if (comment[0])
        fprintf(out, " - \"%s\"", comment);
    fputc('\n', out);
    for (size_t i = 0; i < fs_form_field_count(f); i++) {
        const fs_field *fld = fs_form_field(f, i);
        const cJSON *v =
            cJSON_GetObjectItemCaseSensitive(answers, fs_field_name(fld));
        if (!v)
            continue;
        fprintf(out, "  %s: ", fs_field_label(fld, lang));
        fa__print_value(out, fld, v, lang);
        fputc('\n', out);
    }
    cJSON_Delete(answers);
    fs_form_free(f);
    sqlite3_finalize(st);
    return FA_OK;
}
