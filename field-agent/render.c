/*
 * render.c - the command line's text (render.h): one function a
 * document, reading it as agent.h describes it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs_entity.h"
#include "fs_schema.h"
#include "render.h"

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static long long num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static int yes(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const cJSON *member(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* ms since the epoch in UTC, to the second or to the minute. */
static void fmt_time(long long ms, int seconds, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (seconds)
        strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
    else
        strftime(buf, cap, "%Y-%m-%d %H:%M UTC", &tm);
}

void render_json(FILE *out, const cJSON *doc, const char *fallback)
{
    char *text = cJSON_Print(doc);
    fprintf(out, "%s\n", text ? text : fallback);
    free(text);
}

static void render_quotas(FILE *out, const cJSON *quotas)
{
    const cJSON *q;
    cJSON_ArrayForEach(q, quotas)
    {
        if (q == quotas->child)
            fprintf(out, "\nquotas (counted on this device):\n");
        char *strat = cJSON_PrintUnformatted(member(q, "stratum"));
        int any = strat && strcmp(strat, "{}") != 0;
        long long done = num(q, "recorded"), target = num(q, "target");
        fprintf(out, "  %s %s %s%s%s: %lld of %lld%s\n", str(q, "wave"),
                str(q, "area"), str(q, "form"), any ? " " : "",
                any ? strat : "", done, target,
                done >= target ? " (reached)" : "");
        free(strat);
    }
}

void render_status(FILE *out, const cJSON *status, int json)
{
    if (json) {
        cJSON *doc = cJSON_Duplicate(status, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "attention_items");
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "refused_items");
        render_json(out, doc, "(null)");
        cJSON_Delete(doc);
        return;
    }
    const char *outcome = str(status, "last_sync_outcome");
    char when[64] = "never";
    if (num(status, "last_sync_ms") > 0)
        fmt_time(num(status, "last_sync_ms"), 1, when, sizeof when);
    if (yes(status, "enrolled"))
        fprintf(out, "hub:         %s\ndevice:      %s (%s)\n",
                str(status, "hub"), str(status, "device_name"),
                str(status, "device_id"));
    else
        fprintf(out, "not enrolled: run `fieldsync-agent enroll --hub URL "
                     "--code CODE`\n");
    fprintf(out,
            "submissions: %lld on this device, %lld waiting to be "
            "sent\n",
            num(status, "submissions"), num(status, "pending"));
    if (num(status, "attachments_waiting") > 0)
        fprintf(out, "files:       %lld waiting to be sent, %lld bytes left\n",
                num(status, "attachments_waiting"),
                num(status, "attachment_bytes_left"));
    if (num(status, "attachments_damaged") > 0)
        fprintf(out,
                "files:       %lld damaged on this device (the copy no "
                "longer matches what was recorded) and not sent; record "
                "the original again with --attach FIELD=PATH to mend it\n",
                num(status, "attachments_damaged"));
    fprintf(out, "forms:       %lld\n", num(status, "forms"));
    fprintf(out, "last sync:   %s%s%s\n", when, outcome[0] ? ": " : "",
            outcome);
    render_quotas(out, member(status, "quotas"));
    const cJSON *it;
    long long attention = num(status, "needs_attention");
    if (attention > 0) {
        fprintf(out, "\n%lld submission(s) need attention (hub review):\n",
                attention);
        cJSON_ArrayForEach(it, member(status, "attention_items"))
        {
            fprintf(out, "  %s  %s: %s: %s\n", str(it, "id"), str(it, "form"),
                    str(it, "review_state"), str(it, "review_comment"));
        }
        fprintf(out, "  (correct one with `fieldsync-agent amend ID`)\n");
    }
    long long conflicts = num(status, "entity_conflicts");
    long long reg_refused = num(status, "entity_refused");
    if (conflicts + reg_refused > 0)
        fprintf(out,
                "\nregistry: %lld edit(s) met another device's edit "
                "(a hub admin settles them), %lld refused; see "
                "`fieldsync-agent entity show ID`\n",
                conflicts, reg_refused);
    long long refused = num(status, "refused");
    if (refused > 0) {
        fprintf(out,
                "\n%lld submission(s) refused by the hub, kept on "
                "this device:\n",
                refused);
        cJSON_ArrayForEach(it, member(status, "refused_items"))
        {
            fprintf(out, "  %s  %s: %s\n", str(it, "id"), str(it, "form"),
                    str(it, "hub_message"));
        }
    }
}

void render_forms(FILE *out, const cJSON *forms)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, forms)
    {
        fprintf(out, "%-32s  v%-4lld  %s\n", str(f, "id"), num(f, "version"),
                str(f, "title"));
    }
    if (cJSON_GetArraySize(forms) == 0)
        fprintf(out, "no forms on this device yet; run `fieldsync-agent "
                     "sync` to fetch them from the hub\n");
}

void render_drafts(FILE *out, const cJSON *drafts)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, drafts)
    {
        char when[32];
        fmt_time(num(d, "updated_ms"), 0, when, sizeof when);
        const char *area = str(d, "area");
        fprintf(out, "%s  %s v%lld  %s  %lld answer(s)  %s%s\n", str(d, "id"),
                str(d, "form"), num(d, "version"), area[0] ? area : "(no area)",
                num(d, "answers"), when,
                yes(d, "amendment") ? "  (amendment)" : "");
    }
    if (cJSON_GetArraySize(drafts) == 0)
        fprintf(out, "no drafts\n");
}

void render_show(FILE *out, const cJSON *record)
{
    const char *area = str(record, "area");
    const char *state = str(record, "state");
    fprintf(out, "%s  %s v%lld  area %s  %s", str(record, "id"),
            str(record, "title"), num(record, "version"),
            area[0] ? area : "(none)", state);
    if (strcmp(state, "draft") != 0)
        fprintf(out, ", revision %lld", num(record, "rev"));
    /* Each said only when there is something to say. */
    static const char *const said[][3] = {
        {"hub_status", ", hub: ", ""},
        {"hub_message", " (", ")"},
        {"review_state", ", review: ", ""},
        {"review_comment", " - \"", "\""},
    };
    for (size_t i = 0; i < sizeof said / sizeof said[0]; i++) {
        const char *v = str(record, said[i][0]);
        if (v[0])
            fprintf(out, "%s%s%s", said[i][1], v, said[i][2]);
    }
    fputc('\n', out);
    const cJSON *a;
    cJSON_ArrayForEach(a, member(record, "answers"))
    {
        fprintf(out, "  %s: %s\n", str(a, "label"), str(a, "text"));
    }
}

void render_entity_list(FILE *out, const cJSON *list, const char *type,
                        const char *area)
{
    /* Each entity is listed by its title field, which its type names. */
    fs_entity_types *t = NULL;
    fs_entity_types_parse(fs_entity_types_json, strlen(fs_entity_types_json),
                          &t, NULL);
    const fs_form *ty = t ? fs_entity_type(t, type) : NULL;
    const char *tf = ty ? fs_entity_title_field(ty) : "name";
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *f = member(member(e, "fields"), tf);
        const cJSON *v = member(f, "value");
        fprintf(out, "%s  %-12s %s%s\n", str(e, "id"), str(e, "area"),
                cJSON_IsString(v) ? v->valuestring : "",
                yes(f, "pending") ? "  (not sent yet)" : "");
    }
    if (cJSON_GetArraySize(list) == 0)
        fprintf(out, "no %s entities on this device%s%s\n", type,
                area ? " in " : "", area ? area : "");
    fs_entity_types_free(t);
}

void render_entity_show(FILE *out, const cJSON *entity)
{
    fprintf(out, "%s %s (area %s)%s\n", str(entity, "type"), str(entity, "id"),
            str(entity, "area"), yes(entity, "deleted") ? " - deleted" : "");
    const cJSON *f;
    cJSON_ArrayForEach(f, member(entity, "fields"))
    {
        char *v = cJSON_PrintUnformatted(member(f, "value"));
        fprintf(out, "  %-14s %s  (version %d%s)\n", f->string, v ? v : "",
                (int)num(f, "version"),
                yes(f, "pending") ? ", edited here, not sent yet" : "");
        free(v);
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, member(entity, "changes"))
    {
        const char *err = str(c, "hub_error");
        if (err[0])
            fprintf(out, "  hub: %s: %s\n", err, str(c, "hub_message"));
    }
}

void render_progress(void *arg, const char *phase, long long done,
                     long long total)
{
    FILE *out = arg;
    if (strcmp(phase, "sending") == 0 && total > 0)
        fprintf(out, "\rsending: %lld/%lld changes", done, total);
    else if (strcmp(phase, "sent") == 0)
        fputc('\n', out);
    else if (strcmp(phase, "receiving") == 0)
        fprintf(out, "\rreceiving: %lld changes", done);
    else if (strcmp(phase, "files") == 0 && total > 0)
        fprintf(out, "\rfiles: %lld/%lld sent%s", done, total,
                done == total ? "\n" : "");
}
