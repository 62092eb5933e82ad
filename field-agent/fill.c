/*
 * fill.c - filling a form in the terminal, one question at a time:
 * fill, resume and amend.
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

#include "answer.h"
#include "forms.h"
#include "scope.h"
#include "store.h"

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
        char *text = fa__value_text(fld, cur, s->lang);
        fprintf(o, "      current answer: %s (Enter keeps it, - clears it)\n",
                text ? text : "?");
        free(text);
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
    if (fa__draft_in_memory(s->ag, s->d->id)) {
        fprintf(s->out,
                "\nThis form keeps drafts in memory only (its sealed "
                "answers never wait on the device's storage): the answers "
                "given are not kept. Fill it again to the end and "
                "finalize.\n");
        return;
    }
    fprintf(s->out,
            "\nSaved as draft %s. Continue with `fieldsync-agent resume "
            "%s`.\n",
            s->d->id, s->d->id);
}

/* Asks for the area code when the form needs one and none is set. */
static int ask_area(session *s, int *stop)
{
    char areas[FA_SCOPE_MAX];
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
    if (fs_form_drafts_in_memory(s->f))
        fprintf(s->out,
                "Some answers are sealed: until you finalize they are kept "
                "in memory only, never saved (stopping loses them); then "
                "only the data steward's key can read them, not this "
                "device.\n");
    else if (fs_form_seal_key(s->f))
        fprintf(s->out,
                "Some answers are sealed: they stay plain on this device "
                "until you finalize (a saved draft too), then only the "
                "data steward's key can read them, not this device.\n");
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

int fa_amend(fa_agent *ag, const char *id, const char *lang, FILE *in,
             FILE *out)
{
    fa__draft d;
    int rc = fa__draft_amend(ag, id, &d);
    if (rc == FA_OK) {
        fprintf(out, "Amending %s: Enter keeps each current answer.\n", id);
        if (d.sealed_dropped)
            fprintf(out, "Its sealed answers cannot be read on this device "
                         "(only the data steward's key opens them): they "
                         "are asked again.\n");
        rc = start(ag, &d, lang, in, out);
    }
    fa__draft_clear(&d);
    return rc;
}
