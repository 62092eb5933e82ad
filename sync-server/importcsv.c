/*
 * importcsv.c - see importcsv.h.
 *
 * Every row goes the way a device's submission goes: the same validator
 * (fs_answers_validate), then the merge engine (hub__merge) under the
 * device id "import", so whatever the hub keeps up to date for a stored
 * revision is kept for these too; then the wave assignment the admin
 * named. All of it runs in one transaction that is committed only when
 * no row was refused (a dry run always rolls back).
 *
 * A row is known by a key: the file's base name and the row number, or
 * the value of a column the admin names (--key). The submission id is
 * derived from the form and the key, and imported_rows (schema hub-9)
 * remembers each key with a digest of what was stored, so importing the
 * same file again stores nothing and a changed row is refused, never
 * stored twice.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fs_form.h"
#include "audit.h"
#include "cli.h"
#include "csvread.h"
#include "db.h"
#include "errors.h"
#include "forms.h"
#include "importcsv.h"
#include "mapping.h"
#include "merge.h"
#include "stmtcache.h"

#define BATCH 200
#define PROGRESS_EVERY 1000
#define IMPORT_DEVICE "import"
#define ACTOR "cli"

enum { COL_IGNORED, COL_QUIET, COL_FIELD, COL_AREA };

typedef struct column {
    char *name;
    int role;      /* COL_* */
    int explicit_; /* named by --map */
    size_t field;  /* index in the form, for COL_FIELD */
} column;

typedef struct importer {
    sqlite3 *db;
    const hub_import_req *req;
    fs_form *form;
    char form_id[FS_ID_MAX + 1];
    int64_t version;
    column *cols;
    size_t ncols;
    long *field_col; /* per form field: its column, or -1 */
    long area_col, key_col;
    char source[256];
    char sha[65];
    int64_t import_id;
    fs_changeset *cs;
    int64_t batch_rows[BATCH];
    uint64_t clock;
    long long imported, skipped, refused;
} importer;

/* ---- dates ----------------------------------------------------------- */

static int days_in(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

/* Reads between lo and hi digits at *s into *v. */
static int take_digits(const char **s, int lo, int hi, int *v)
{
    int n = 0;
    *v = 0;
    while (n < hi && isdigit((unsigned char)(*s)[n])) {
        *v = *v * 10 + ((*s)[n] - '0');
        n++;
    }
    if (n < lo)
        return -1;
    *s += n;
    return 0;
}

int hub__import_date(const char *fmt, const char *s, char out[11])
{
    int y = -1, m = -1, d = -1, v;
    const char *f = fmt;
    while (*f) {
        if (strncmp(f, "YYYY", 4) == 0) {
            if (take_digits(&s, 4, 4, &y) != 0)
                return -1;
            f += 4;
        } else if (strncmp(f, "YY", 2) == 0) {
            if (take_digits(&s, 2, 2, &v) != 0)
                return -1;
            y = v >= 69 ? 1900 + v : 2000 + v;
            f += 2;
        } else if (*f == 'M' || *f == 'D') {
            int two = f[1] == f[0];
            if (take_digits(&s, 1, 2, &v) != 0)
                return -1;
            *(*f == 'M' ? &m : &d) = v;
            f += two ? 2 : 1;
        } else {
            if (*s != *f)
                return -1;
            s++;
            f++;
        }
    }
    if (*s || y < 1 || m < 1 || m > 12 || d < 1 || d > days_in(y, m))
        return -1;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u,
             (unsigned)m % 100u, (unsigned)d % 100u);
    return 0;
}

/* 1 when fmt is a date format hub__import_date reads: each of year,
 * month and day once, separated by / - . or a space. */
static int good_date_format(const char *fmt)
{
    int y = 0, m = 0, d = 0;
    for (const char *f = fmt; *f;) {
        if (strncmp(f, "YYYY", 4) == 0) {
            y++;
            f += 4;
        } else if (strncmp(f, "YY", 2) == 0) {
            y++;
            f += 2;
        } else if (*f == 'M' || *f == 'D') {
            (*(*f == 'M' ? &m : &d))++;
            f += f[1] == f[0] ? 2 : 1;
        } else if (strchr("/-. ", *f)) {
            f++;
        } else {
            return 0;
        }
    }
    return y == 1 && m == 1 && d == 1;
}

static int is_iso_date(const char *s)
{
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i]))
            return 0;
    return s[10] == '\0';
}

/* ---- cells ----------------------------------------------------------- */

static int blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

/* s without spaces around it, into buf (cut to cap). */
static const char *trimmed(const char *s, char *buf, size_t cap)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

static int whole_number(const char *s, double *v)
{
    char *end = NULL;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (end == s || *end || errno)
        return -1;
    *v = (double)n;
    return 0;
}

static int plain_number(const char *s, double *v)
{
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return -1;
    char *end = NULL;
    *v = strtod(s, &end);
    return *end || !isfinite(*v) ? -1 : 0;
}

/* "lat lon [altitude [accuracy]]", as ODK writes a location. */
static cJSON *geopoint(const char *s)
{
    double v[4];
    int n = 0;
    char *end = NULL;
    while (n < 4) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        v[n++] = strtod(s, &end);
        if (end == s || !isfinite(v[n - 1]))
            return NULL;
        s = end;
    }
    while (*s == ' ')
        s++;
    if (*s || n < 2)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "lat", v[0]);
    cJSON_AddNumberToObject(o, "lon", v[1]);
    if (n == 4)
        cJSON_AddNumberToObject(o, "accuracy", v[3]);
    return o;
}

/* The answer a cell holds for fld, or NULL with why set. */
static cJSON *cell_value(const importer *m, const fs_field *fld,
                         const char *cell, char *why, size_t cap)
{
    char t[128];
    double v;
    switch (fs_field_type_of(fld)) {
    case FS_FIELD_INTEGER:
    case FS_FIELD_LIKERT:
        if (whole_number(trimmed(cell, t, sizeof t), &v) == 0)
            return cJSON_CreateNumber(v);
        snprintf(why, cap, "'%.40s' is not a whole number", t);
        return NULL;
    case FS_FIELD_DECIMAL:
        if (plain_number(trimmed(cell, t, sizeof t), &v) == 0)
            return cJSON_CreateNumber(v);
        snprintf(why, cap, "'%.40s' is not a number (write it as 12.5)", t);
        return NULL;
    case FS_FIELD_SELECT_ONE:
        return cJSON_CreateString(trimmed(cell, t, sizeof t));
    case FS_FIELD_SELECT_MULTIPLE: {
        /* Choice codes separated by spaces, as ODK and Kobo write them. */
        cJSON *a = cJSON_CreateArray();
        const char *p = cell;
        while (a && *p) {
            while (*p == ' ' || *p == '\t')
                p++;
            size_t n = strcspn(p, " \t");
            if (n == 0)
                break;
            snprintf(t, sizeof t, "%.*s", (int)(n < 127 ? n : 127), p);
            cJSON_AddItemToArray(a, cJSON_CreateString(t));
            p += n;
        }
        return a;
    }
    case FS_FIELD_DATE: {
        char iso[11];
        trimmed(cell, t, sizeof t);
        if (is_iso_date(t))
            return cJSON_CreateString(t);
        if (!m->req->date_format) {
            snprintf(why, cap,
                     "'%.40s' is not an ISO date (YYYY-MM-DD); say how the "
                     "file writes dates with --date-format, e.g. "
                     "--date-format DD/MM/YYYY",
                     t);
            return NULL;
        }
        if (hub__import_date(m->req->date_format, t, iso) == 0)
            return cJSON_CreateString(iso);
        snprintf(why, cap, "'%.40s' is not a date written %s", t,
                 m->req->date_format);
        return NULL;
    }
    case FS_FIELD_GEOPOINT: {
        cJSON *g = geopoint(cell);
        if (!g)
            snprintf(why, cap,
                     "'%.40s' is not a location 'latitude longitude "
                     "[altitude accuracy]'",
                     trimmed(cell, t, sizeof t));
        return g;
    }
    case FS_FIELD_DATETIME:
        return cJSON_CreateString(trimmed(cell, t, sizeof t));
    default:
        return cJSON_CreateString(cell);
    }
}

/* ---- columns --------------------------------------------------------- */

/* The field named name (not a note), or -1. */
static long field_index(const fs_form *f, const char *name)
{
    for (size_t i = 0; i < fs_form_field_count(f); i++) {
        const fs_field *fld = fs_form_field(f, i);
        if (strcmp(fs_field_name(fld), name) == 0)
            return fs_field_type_of(fld) == FS_FIELD_NOTE ? -1 : (long)i;
    }
    return -1;
}

/* What the column name means without --map: a field of the same name,
 * else the last part of a group path (grp-name, grp/name) when that is
 * a field; "area" is the submission's area unless a field has that
 * name. Sets c->role and c->field. */
static void guess(const fs_form *f, column *c)
{
    const char *names[2] = {c->name, NULL};
    const char *cut = NULL;
    for (const char *p = c->name; *p; p++)
        if (*p == '/' || *p == '-')
            cut = p;
    if (cut)
        names[1] = cut + 1;
    c->role = COL_IGNORED;
    for (int i = 0; i < 2 && names[i]; i++) {
        long k = field_index(f, names[i]);
        if (k >= 0) {
            c->role = COL_FIELD;
            c->field = (size_t)k;
            return;
        }
        if (strcmp(names[i], "area") == 0) {
            c->role = COL_AREA;
            return;
        }
    }
}

static long find_column(const importer *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->ncols; i++)
        if (strlen(m->cols[i].name) == len &&
            strncmp(m->cols[i].name, name, len) == 0)
            return (long)i;
    return -1;
}

/* Applies --map COLUMN=TARGET. */
static int apply_map(importer *m, const char *map, char *err, size_t cap)
{
    const char *eq = strrchr(map, '=');
    if (!eq)
        return hub__errf(err, cap,
                         "--map takes COLUMN=FIELD, COLUMN=@area or "
                         "COLUMN= (leave the column out), not '%s'",
                         map);
    long i = find_column(m, map, (size_t)(eq - map));
    if (i < 0)
        return hub__errf(err, cap,
                         "--map %s: the file has no column '%.*s' (its "
                         "header names the columns)",
                         map, (int)(eq - map), map);
    column *c = &m->cols[i];
    const char *target = eq + 1;
    c->explicit_ = 1;
    if (!*target) {
        c->role = COL_QUIET;
    } else if (strcmp(target, "@area") == 0) {
        c->role = COL_AREA;
    } else {
        long k = field_index(m->form, target);
        if (k < 0)
            return hub__errf(err, cap,
                             "--map %s: form %s has no question named '%s' "
                             "(@area names the submission's area)",
                             map, m->form_id, target);
        c->role = COL_FIELD;
        c->field = (size_t)k;
    }
    return HUB_OK;
}

/* The target of column c for messages. */
static const char *target_name(const importer *m, const column *c)
{
    return c->role == COL_AREA
               ? "the area"
               : fs_field_name(fs_form_field(m->form, c->field));
}

/* Reads the header and decides what each column is. */
static int read_header(importer *m, hub_csv *csv, char *err, size_t cap)
{
    int r = hub__csv_next(csv, err, cap);
    if (r <= 0)
        return r < 0 ? HUB_EBADINPUT
                     : hub__errf(err, cap,
                                 "the file is empty (a header row "
                                 "naming the columns comes first)");
    m->ncols = csv->n;
    m->cols = calloc(m->ncols, sizeof *m->cols);
    if (!m->cols)
        return HUB_ENOMEM;
    for (size_t i = 0; i < m->ncols; i++) {
        char t[256];
        m->cols[i].name = strdup(trimmed(hub__csv_field(csv, i), t, sizeof t));
        if (!m->cols[i].name)
            return HUB_ENOMEM;
        if (find_column(m, m->cols[i].name, strlen(m->cols[i].name)) < (long)i)
            return hub__errf(err, cap, "two columns are named '%s'",
                             m->cols[i].name);
        guess(m->form, &m->cols[i]);
    }
    for (int i = 0; i < m->req->nmaps; i++) {
        int rc = apply_map(m, m->req->maps[i], err, cap);
        if (rc != HUB_OK)
            return rc;
    }
    /* One column per target: a --map wins over a guess; two guesses (or
     * two maps) for one target are for the admin to settle. */
    for (size_t i = 0; i < m->ncols; i++) {
        column *a = &m->cols[i];
        for (size_t j = 0; j < m->ncols && a->role >= COL_FIELD; j++) {
            column *b = &m->cols[j];
            if (j == i || b->role != a->role ||
                (a->role == COL_FIELD && a->field != b->field))
                continue;
            if (b->explicit_ && !a->explicit_) {
                a->role = COL_IGNORED;
            } else if (a->explicit_ == b->explicit_) {
                return hub__errf(
                    err, cap,
                    "columns '%s' and '%s' both give %s; say which with "
                    "--map '%s=%s' --map '%s='",
                    a->name, b->name, target_name(m, a), a->name,
                    a->role == COL_AREA ? "@area" : target_name(m, a), b->name);
            }
        }
    }
    size_t nf = fs_form_field_count(m->form);
    m->field_col = malloc((nf ? nf : 1) * sizeof *m->field_col);
    if (!m->field_col)
        return HUB_ENOMEM;
    for (size_t k = 0; k < nf; k++)
        m->field_col[k] = -1;
    m->area_col = m->key_col = -1;
    for (size_t i = 0; i < m->ncols; i++) {
        if (m->cols[i].role == COL_FIELD)
            m->field_col[m->cols[i].field] = (long)i;
        else if (m->cols[i].role == COL_AREA)
            m->area_col = (long)i;
    }
    if (m->req->key) {
        m->key_col = find_column(m, m->req->key, strlen(m->req->key));
        if (m->key_col < 0)
            return hub__errf(err, cap, "--key %s: the file has no such column",
                             m->req->key);
    }
    if (m->area_col < 0 && fs_form_area_required(m->form))
        return hub__errf(err, cap,
                         "form %s needs each submission's area, and no "
                         "column gives it: name one with --map COLUMN=@area",
                         m->form_id);
    return HUB_OK;
}

/* Notes on stderr: the columns left out, the questions no column
 * answers. */
static void note_columns(const importer *m)
{
    const char *sep = "";
    for (size_t i = 0; i < m->ncols; i++)
        if (m->cols[i].role == COL_IGNORED) {
            if (!*sep)
                fprintf(stderr,
                        "fieldsync-hub: note: these columns are not "
                        "questions of form %s and are left out:\n  ",
                        m->form_id);
            fprintf(stderr, "%s%s", sep, m->cols[i].name);
            sep = ", ";
        }
    if (*sep)
        fprintf(stderr, "\n  (--map COLUMN=FIELD takes one in; --map "
                        "COLUMN= leaves it out without this note)\n");
    sep = "";
    for (size_t k = 0; k < fs_form_field_count(m->form); k++) {
        const fs_field *fld = fs_form_field(m->form, k);
        if (m->field_col[k] >= 0 || fs_field_type_of(fld) == FS_FIELD_NOTE)
            continue;
        if (!*sep)
            fprintf(stderr, "fieldsync-hub: note: no column answers ");
        fprintf(stderr, "%s%s", sep, fs_field_name(fld));
        sep = ", ";
    }
    if (*sep)
        fprintf(stderr, " (left unanswered)\n");
}

/* ---- rows ------------------------------------------------------------ */

static void refuse(const importer *m, int64_t row, long col, const char *field,
                   const char *msg)
{
    if (col >= 0)
        fprintf(stderr, "row %lld, column %s: %s\n", (long long)row,
                m->cols[col].name, msg);
    else if (field && *field)
        fprintf(stderr, "row %lld, %s (no column): %s\n", (long long)row, field,
                msg);
    else
        fprintf(stderr, "row %lld: %s\n", (long long)row, msg);
}

/* The submission id of a key: a UUID made from a SHA-256 of the form
 * and the key (version nibble 8, RFC 9562's custom layout). */
static void derived_id(const char *form, const char *key,
                       char out[FS_UUID_LEN + 1])
{
    char buf[1200];
    unsigned char h[32];
    int n = snprintf(buf, sizeof buf, "fieldsync import\n%s\n%s", form, key);
    fs_sha256(buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1), h);
    h[6] = (unsigned char)((h[6] & 0x0F) | 0x80);
    h[8] = (unsigned char)((h[8] & 0x3F) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 15];
    }
    out[o] = '\0';
}

static int area_known(importer *m, const char *code, int *known)
{
    int rc;
    sqlite3_stmt *st =
        hub__sql(m->db, "SELECT 1 FROM mapping_areas WHERE code = ?1",
                 HUB_ARGS(HUB_TEXT(code)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    hub__sql_end(st);
    if (rc < 0)
        return rc;
    *known = rc > 0;
    return HUB_OK;
}

/* Stores the batch through the merge engine, then puts each submission
 * in the wave. */
static int flush(importer *m)
{
    fs_changeset *cs = m->cs;
    if (cs->n == 0)
        return HUB_OK;
    fs_result results[BATCH];
    hub_digest digests[BATCH];
    fs_push_reply reply = {0, 0, 0, cs->n, results};
    hub_held_quota q = {INT64_MAX, INT64_MAX, INT64_MAX};
    int64_t held = 0, held_bytes = 0;
    cs->first_seq = 1;
    cs->last_seq = (int64_t)cs->n;
    int rc = hub__merge_prepare(m->db, cs, results, digests);
    for (size_t i = 0; rc == HUB_OK && i < cs->n; i++)
        if (results[i].status == FS_RES_REFUSED) {
            refuse(m, m->batch_rows[i], -1, NULL, results[i].message);
            m->refused++;
        }
    if (rc == HUB_OK && m->refused == 0)
        rc = hub__merge(m->db, IMPORT_DEVICE, cs, digests, &q, &reply, &held,
                        &held_bytes);
    for (size_t i = 0; rc == HUB_OK && m->refused == 0 && i < cs->n; i++) {
        if (results[i].status != FS_RES_APPLIED) {
            refuse(m, m->batch_rows[i], -1, NULL,
                   "its submission id is taken at this hub by another "
                   "record; nothing is imported");
            m->refused++;
            break;
        }
        /* The import's own audit entry names the wave for every row. */
        rc = hub__wave_set(m->db, m->req->wave, cs->changes[i].sub.id, ACTOR);
    }
    for (size_t i = 0; i < cs->n; i++)
        fs_change_clear(&cs->changes[i]);
    cs->n = 0;
    return rc;
}

/* What was imported under key before: 1 with its digest in content and
 * where it came from in from, 0 when nothing. */
static int known_key(importer *m, const char *key, char content[65], char *from,
                     size_t cap)
{
    int rc;
    sqlite3_stmt *st = hub__sql(
        m->db,
        "SELECT r.content, i.source_name, r.row_number, r.submission_id, "
        "r.import_id "
        "FROM imported_rows r JOIN imports i ON i.id = r.import_id WHERE "
        "r.form_id = ?1 AND r.row_key = ?2",
        HUB_ARGS(HUB_TEXT(m->form_id), HUB_TEXT(key)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc > 0) {
        snprintf(content, 65, "%s", hub__col(st, 0));
        if (sqlite3_column_int64(st, 4) == m->import_id)
            snprintf(from, cap, "on row %s of this file", hub__col(st, 2));
        else
            snprintf(from, cap, "from %s row %s, submission %s",
                     hub__col(st, 1), hub__col(st, 2), hub__col(st, 3));
        hub__sql_end(st);
    }
    return rc;
}

/* Checks one row and, when it is good and new, queues it. */
static int do_row(importer *m, const hub_csv *csv)
{
    int64_t row = csv->record;
    int bad = 0;
    char why[1400];
    if (csv->n != m->ncols) {
        snprintf(why, sizeof why, "%zu cells, but the header names %zu columns",
                 csv->n, m->ncols);
        refuse(m, row, -1, NULL, why);
        m->refused++;
        return HUB_OK;
    }
    size_t nf = fs_form_field_count(m->form);
    cJSON *answers = cJSON_CreateObject();
    char *badf = calloc(nf ? nf : 1, 1);
    if (!answers || !badf) {
        cJSON_Delete(answers);
        free(badf);
        return HUB_ENOMEM;
    }
    for (size_t k = 0; k < nf; k++) {
        long c = m->field_col[k];
        if (c < 0 || blank(hub__csv_field(csv, (size_t)c)))
            continue;
        const fs_field *fld = fs_form_field(m->form, k);
        cJSON *v =
            cell_value(m, fld, hub__csv_field(csv, (size_t)c), why, sizeof why);
        if (v) {
            cJSON_AddItemToObject(answers, fs_field_name(fld), v);
        } else {
            refuse(m, row, c, NULL, why);
            badf[k] = 1;
            bad = 1;
        }
    }
    /* Room for more than a code: one cut to fit could name another. */
    char area[4 * FS_ID_MAX] = "";
    if (m->area_col >= 0)
        trimmed(hub__csv_field(csv, (size_t)m->area_col), area, sizeof area);
    fs_problems p;
    fs_problems_init(&p);
    int rc = HUB_OK;
    if (fs_answers_validate(m->form, answers, area, &p) != FS_OK) {
        for (size_t i = 0; i < p.n; i++) {
            long k = field_index(m->form, p.items[i].where);
            if (k >= 0 && badf[k])
                continue; /* said already */
            long c = k >= 0                                  ? m->field_col[k]
                     : strcmp(p.items[i].where, "area") == 0 ? m->area_col
                                                             : -1;
            refuse(m, row, c, p.items[i].where, p.items[i].msg);
            bad = 1;
        }
        if (p.dropped) {
            snprintf(why, sizeof why, "(+%zu more problems)", p.dropped);
            refuse(m, row, -1, NULL, why);
        }
    } else if (area[0]) {
        int known = 0;
        rc = area_known(m, area, &known);
        if (rc == HUB_OK && !known) {
            snprintf(why, sizeof why,
                     "'%s' is not an area code of this hub (see "
                     "`fieldsync-hub areas list`)",
                     area);
            refuse(m, row, m->area_col, NULL, why);
            bad = 1;
        }
    }
    free(badf);
    char key[600];
    if (m->key_col >= 0) {
        char t[512];
        trimmed(hub__csv_field(csv, (size_t)m->key_col), t, sizeof t);
        if (!t[0] || strlen(t) > 256) {
            refuse(m, row, m->key_col, NULL,
                   t[0] ? "a key of more than 256 bytes"
                        : "the key column is blank: every row needs its key");
            bad = 1;
        }
        snprintf(key, sizeof key, "column %s=%s", m->req->key, t);
    } else {
        snprintf(key, sizeof key, "row %s:%lld", m->source, (long long)row);
    }
    char *text = bad || rc != HUB_OK ? NULL : cJSON_PrintUnformatted(answers);
    cJSON_Delete(answers);
    if (rc != HUB_OK || bad) {
        m->refused += bad;
        return rc;
    }
    if (!text)
        return HUB_ENOMEM;
    /* What a re-import must repeat to be the same row. */
    char digest[65], before[65] = "", from[400];
    size_t tl = strlen(text) + strlen(area) + strlen(m->req->wave) + 4;
    char *content = malloc(tl);
    if (!content) {
        free(text);
        return HUB_ENOMEM;
    }
    snprintf(content, tl, "%s\n%s\n%s", area, m->req->wave, text);
    fs_sha256_hex(content, strlen(content), digest);
    free(content);
    rc = known_key(m, key, before, from, sizeof from);
    if (rc < 0 || rc > 0) {
        free(text);
        if (rc < 0)
            return rc;
        if (strcmp(before, digest) == 0) {
            m->skipped++;
            return HUB_OK;
        }
        snprintf(why, sizeof why,
                 "its key (%s) was imported %s with other answers, area "
                 "or wave; an import never changes what it stored: "
                 "correct that submission with `fieldsync-hub correct`",
                 key, from);
        refuse(m, row, m->key_col, NULL, why);
        m->refused++;
        return HUB_OK;
    }
    fs_change *ch = &m->cs->changes[m->cs->n];
    memset(ch, 0, sizeof *ch);
    ch->seq = (int64_t)m->cs->n + 1;
    ch->kind = FS_CHANGE_SUBMISSION;
    fs_submission *s = &ch->sub;
    derived_id(m->form_id, key, s->id);
    snprintf(s->form_id, sizeof s->form_id, "%s", m->form_id);
    s->form_version = m->version;
    size_t al = strlen(area); /* a valid code (checked above): it fits */
    memcpy(s->area, area, al < sizeof s->area ? al : sizeof s->area - 1);
    snprintf(s->collector, sizeof s->collector, "%s", IMPORT_DEVICE);
    int64_t now = (int64_t)fs_now_ms();
    s->hlc = fs_hlc_tick(&m->clock, (uint64_t)now);
    s->created_ms = now;
    s->rev = 1;
    s->answers_json = text;
    m->batch_rows[m->cs->n++] = row;
    rc = hub__sql_run(
        m->db,
        "INSERT INTO imported_rows (form_id, row_key, submission_id, "
        "import_id, row_number, content) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        HUB_ARGS(HUB_TEXT(m->form_id), HUB_TEXT(key), HUB_TEXT(s->id),
                 HUB_INT(m->import_id), HUB_INT(row), HUB_TEXT(digest)));
    if (rc == HUB_OK)
        m->imported++;
    if (rc == HUB_OK && m->cs->n == BATCH)
        rc = flush(m);
    return rc;
}

/* ---- the command ----------------------------------------------------- */

static int file_sha256(FILE *f, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[65536], h[EVP_MAX_MD_SIZE];
    unsigned hl = 0;
    size_t n;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, n) == 1;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, h, &hl) == 1 && hl == 32;
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; ok && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    rewind(f);
    return ok ? 0 : -1;
}

static int begin_import(importer *m, char *err, size_t cap)
{
    int rc;
    sqlite3_stmt *st = hub__sql(m->db, "SELECT 1 FROM waves WHERE name = ?1",
                                HUB_ARGS(HUB_TEXT(m->req->wave)), &rc);
    if (!st || (rc = hub__sql_step(st)) < 0)
        return rc;
    hub__sql_end(st);
    if (rc == 0)
        return hub__errf(err, cap,
                         "no wave '%s'; add it with `fieldsync-hub wave add` "
                         "(see `fieldsync-hub wave list`)",
                         m->req->wave);
    m->form = hub__form_latest(m->db, m->req->form);
    if (!m->form)
        return hub__errf(err, cap,
                         "no published form '%s' (publish it first with "
                         "`fieldsync-hub form publish`)",
                         m->req->form);
    snprintf(m->form_id, sizeof m->form_id, "%s", fs_form_id(m->form));
    m->version = fs_form_version(m->form);
    rc = hub__sql_run(
        m->db,
        "INSERT INTO imports (source_name, source_sha256, form_id, "
        "form_version, wave, key_column, actor, at_ms) VALUES (?1, ?2, ?3, "
        "?4, ?5, ?6, ?7, ?8)",
        HUB_ARGS(HUB_TEXT(m->source), HUB_TEXT(m->sha), HUB_TEXT(m->form_id),
                 HUB_INT(m->version), HUB_TEXT(m->req->wave),
                 HUB_TEXT(m->req->key ? m->req->key : ""), HUB_TEXT(ACTOR),
                 HUB_INT(fs_now_ms())));
    m->import_id = sqlite3_last_insert_rowid(m->db);
    return rc;
}

/* Records the run (one that stored nothing leaves only its audit entry)
 * and audits it. */
static int end_import(importer *m)
{
    int rc =
        m->imported > 0
            ? hub__sql_run(m->db,
                           "UPDATE imports SET imported = ?2, skipped = "
                           "?3 WHERE id = ?1",
                           HUB_ARGS(HUB_INT(m->import_id), HUB_INT(m->imported),
                                    HUB_INT(m->skipped)))
            : hub__sql_run(m->db, "DELETE FROM imports WHERE id = ?1",
                           HUB_ARGS(HUB_INT(m->import_id)));
    if (rc != HUB_OK)
        return rc;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "form", m->form_id);
    cJSON_AddNumberToObject(d, "version", (double)m->version);
    cJSON_AddStringToObject(d, "wave", m->req->wave);
    cJSON_AddStringToObject(d, "source", m->source);
    cJSON_AddStringToObject(d, "sha256", m->sha);
    cJSON_AddNumberToObject(d, "import", (double)m->import_id);
    cJSON_AddNumberToObject(d, "imported", (double)m->imported);
    cJSON_AddNumberToObject(d, "skipped", (double)m->skipped);
    return hub__audit(m->db, ACTOR, "submission.import", d);
}

static int run(importer *m, FILE *f, char *err, size_t cap)
{
    int rc = begin_import(m, err, cap);
    hub_csv csv;
    hub__csv_init(&csv, f);
    if (rc == HUB_OK)
        rc = read_header(m, &csv, err, cap);
    if (rc == HUB_OK) {
        note_columns(m);
        m->cs = fs_changeset_new(BATCH);
        rc = m->cs ? HUB_OK : HUB_ENOMEM;
    }
    int progress = m->req->progress || isatty(STDERR_FILENO);
    int r = 0;
    while (rc == HUB_OK && (r = hub__csv_next(&csv, err, cap)) > 0) {
        rc = do_row(m, &csv);
        long long n = (long long)csv.record - 1;
        if (progress && n % PROGRESS_EVERY == 0)
            fprintf(stderr, "fieldsync-hub: import: %lld rows read\n", n);
    }
    if (rc == HUB_OK && r < 0) {
        char where[1024];
        snprintf(where, sizeof where, "%s", err);
        rc = hub__errf(err, cap, "%s: %s", m->source, where);
    }
    hub__csv_free(&csv);
    if (rc == HUB_OK && m->refused == 0)
        rc = flush(m);
    if (rc == HUB_OK && m->refused == 0)
        rc = end_import(m);
    return rc;
}

static void free_importer(importer *m)
{
    for (size_t i = 0; m->cols && i < m->ncols; i++)
        free(m->cols[i].name);
    free(m->cols);
    free(m->field_col);
    fs_form_free(m->form);
    fs_changeset_free(m->cs);
}

int hub_import_csv(const char *db_path, const hub_import_req *req, FILE *out)
{
    if (!req->form || !req->wave || !req->file) {
        fprintf(stderr, "fieldsync-hub: usage: fieldsync-hub import csv "
                        "--form F --wave W FILE.csv\n");
        return 2;
    }
    if (req->date_format && !good_date_format(req->date_format)) {
        fprintf(stderr,
                "fieldsync-hub: --date-format takes the day, month and year "
                "as D or DD, M or MM, YY or YYYY with / - . or a space "
                "between, e.g. DD/MM/YYYY or D/M/YY; not '%s'\n",
                req->date_format);
        return 2;
    }
    FILE *f = fopen(req->file, "rb");
    if (!f) {
        fprintf(stderr, "fieldsync-hub: cannot open %s: %s\n", req->file,
                strerror(errno));
        return 2;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && sb.st_size > HUB_CSV_FILE_MAX) {
        fprintf(stderr,
                "fieldsync-hub: %s is larger than 512 MiB, the most one "
                "import reads; split it into several files (each with the "
                "header row) and use --key so rows keep their keys\n",
                req->file);
        fclose(f);
        return 2;
    }
    importer m;
    memset(&m, 0, sizeof m);
    m.req = req;
    const char *base = strrchr(req->file, '/');
    snprintf(m.source, sizeof m.source, "%s", base ? base + 1 : req->file);
    if (file_sha256(f, m.sha) != 0) {
        fprintf(stderr, "fieldsync-hub: cannot read %s\n", req->file);
        fclose(f);
        return 2;
    }
    m.db = hub__cli_begin(db_path);
    if (!m.db) {
        fclose(f);
        return 1;
    }
    char err[1024] = "";
    int rc = run(&m, f, err, sizeof err);
    fclose(f);
    if (rc == HUB_OK && m.refused > 0)
        rc = hub__errf(err, sizeof err,
                       "%lld row%s refused (listed above); nothing is "
                       "imported. Fix them (--dry-run lists them without "
                       "writing) and import the file again",
                       m.refused, m.refused == 1 ? "" : "s");
    long long imported = m.imported, skipped = m.skipped;
    free_importer(&m);
    if (rc == HUB_OK && req->dry_run) {
        hub__exec(m.db, "ROLLBACK");
        hub__close(m.db);
        fprintf(out,
                "dry run: %lld rows would be imported, %lld were imported "
                "before, 0 refused; nothing was written\n",
                imported, skipped);
        return 0;
    }
    if (rc != HUB_OK && req->dry_run && m.refused > 0)
        snprintf(err, sizeof err,
                 "dry run: %lld rows would be imported, %lld were imported "
                 "before, %lld refused (listed above); nothing was written",
                 imported, skipped, m.refused);
    int status = hub__cli_end(m.db, rc, "import", err);
    if (status == 0)
        fprintf(out,
                "imported %lld rows of %s into form %s v%lld, wave %s; "
                "%lld were imported before (unchanged); 0 refused\n",
                imported, m.source, req->form, (long long)m.version, req->wave,
                skipped);
    return status;
}
