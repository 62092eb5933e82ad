/*
 * aggregates.c - rebuilding and verifying the aggregates of the mapping
 * dataset (aggregates.h). The triggers of schema/hub-10.sql keep them in
 * step on every write; this is the admin's tool to check that, and to
 * count again.
 */
#include "aggregates.h"

#include <string.h>

#include "cli.h"
#include "db.h"
#include "errors.h"
#include "stmtcache.h"

int hub__agg_rebuild(sqlite3 *db)
{
    return hub__sql_run(db, "INSERT INTO agg_rebuild VALUES ('rebuild')", NULL,
                        0);
}

/* Each row: what, form, wave, area, device, answers, n. What: "cell
 * stored" (a cell whose count is not the count from scratch), "cell
 * from scratch" (that count, missing or different in the cells);
 * "member ID" for a submission counted in the wrong cell or not at all
 * (n 1), or counted while it should not be (n 0); "answer stored" and
 * "answer from the cells" for a count per answer that differs from the
 * sum of the cells holding that answer (the cells are checked against
 * the submissions themselves); "pair stored" and "pair from the
 * cells" the same for a joint count (answers "BY=VALUE FIELD=VALUE", no
 * device); "by field" for a by field the pairs keep that the forms no
 * longer allow. Set differences (EXCEPT) rather than
 * joins on unindexed subqueries, which would compare every pair. */
static const char verify_sql[] =
    "WITH fresh AS (SELECT form_id, wave, area, device_id, answers, "
    "count(*) AS n FROM agg_contributions GROUP BY 1, 2, 3, 4, 5), "
    "cells AS (SELECT form_id, wave, area, device_id, answers, n FROM "
    "agg_cells WHERE n > 0), "
    "answers AS (SELECT form_id, wave, area, device_id, field || '=' || "
    "value, n FROM agg_answers WHERE n > 0), "
    "derived AS (SELECT form_id, wave, area, device_id, field || '=' || "
    "value, sum(n) FROM agg_cell_answers WHERE n > 0 GROUP BY form_id, wave, "
    "area, device_id, field, value UNION ALL SELECT form_id, wave, area, "
    "device_id, '=', sum(n) FROM agg_cells WHERE n > 0 GROUP BY 1, 2, 3, 4), "
    "pairs AS (SELECT form_id, wave, area, '', by_field || '=' || by_value "
    "|| ' ' || field || '=' || value, n FROM agg_pairs WHERE n > 0), "
    "paired AS (SELECT y.form_id, y.wave, y.area, '', y.by_field || '=' || "
    "y.by_value || ' ' || a.field || '=' || a.value, sum(y.n) FROM "
    "agg_cell_by y JOIN agg_cell_answers a ON a.cell = y.cell WHERE y.n > 0 "
    "GROUP BY y.form_id, y.wave, y.area, y.by_field, y.by_value, a.field, "
    "a.value UNION ALL SELECT form_id, wave, area, '', by_field || '=' || "
    "by_value || ' =', sum(n) FROM agg_cell_by WHERE n > 0 GROUP BY "
    "form_id, wave, area, by_field, by_value) "
    "SELECT 'cell stored', * FROM (SELECT * FROM cells EXCEPT SELECT * FROM "
    "fresh) "
    "UNION ALL SELECT 'cell from scratch', * FROM (SELECT * FROM fresh "
    "EXCEPT SELECT * FROM cells) "
    "UNION ALL SELECT 'member ' || k.id, k.form_id, k.wave, k.area, "
    "k.device_id, k.answers, 1 FROM agg_contributions k LEFT JOIN "
    "agg_members m ON m.submission_id = k.id LEFT JOIN agg_cells c ON c.id "
    "= m.cell WHERE c.id IS NULL OR c.form_id IS NOT k.form_id OR c.wave IS "
    "NOT k.wave OR c.area IS NOT k.area OR c.device_id IS NOT k.device_id OR "
    "c.answers IS NOT k.answers "
    "UNION ALL SELECT 'member ' || m.submission_id, '', '', '', '', '', 0 "
    "FROM agg_members m WHERE NOT EXISTS (SELECT 1 FROM agg_contributions k "
    "WHERE k.id = m.submission_id) "
    "UNION ALL SELECT 'answer stored', * FROM (SELECT * FROM answers EXCEPT "
    "SELECT * FROM derived) "
    "UNION ALL SELECT 'answer from the cells', * FROM (SELECT * FROM derived "
    "EXCEPT SELECT * FROM answers) "
    "UNION ALL SELECT 'pair stored', * FROM (SELECT * FROM pairs EXCEPT "
    "SELECT * FROM paired) "
    "UNION ALL SELECT 'pair from the cells', * FROM (SELECT * FROM paired "
    "EXCEPT SELECT * FROM pairs) "
    "UNION ALL SELECT 'by field', form_id, '', '', '', name, 0 FROM (SELECT "
    "* FROM agg_by_fields EXCEPT SELECT * FROM agg_by_form_fields)";

long hub__agg_verify(sqlite3 *db, FILE *out)
{
    int rc;
    long diffs = 0;
    sqlite3_stmt *st = hub__sql(db, verify_sql, NULL, 0, &rc);
    while (st && (rc = hub__sql_step(st)) > 0) {
        diffs++;
        if (out)
            fprintf(out,
                    "%s: form %s, wave %s, area %s, device %s, answers %s: "
                    "n %lld\n",
                    hub__col(st, 0), hub__col(st, 1), hub__col(st, 2),
                    hub__col(st, 3), hub__col(st, 4), hub__col(st, 5),
                    (long long)sqlite3_column_int64(st, 6));
    }
    return rc < 0 ? rc : diffs;
}

int hub_aggregates(const char *db_path, const char *sub, FILE *out)
{
    sqlite3 *db = hub__cli_begin(db_path);
    if (!db)
        return 1;
    if (sub[0] == 'r') {
        int rc = hub__agg_rebuild(db);
        int status = hub__cli_end(db, rc, "aggregates rebuild", "");
        if (status == 0)
            fprintf(out, "aggregates counted again from every submission\n");
        return status;
    }
    long diffs = hub__agg_verify(db, out);
    if (diffs < 0)
        return hub__cli_end(db, (int)diffs, "aggregates verify", "");
    hub__exec(db, "ROLLBACK"); /* read only: nothing to keep */
    hub__close(db);
    if (diffs == 0) {
        fprintf(out, "aggregates exact: every cell and submission agrees "
                     "with a count from scratch\n");
        return 0;
    }
    fprintf(stderr,
            "fieldsync-hub: aggregates verify: %ld difference(s) from a "
            "count from scratch; `fieldsync-hub aggregates rebuild` counts "
            "again\n",
            diffs);
    return 1;
}

/* Chooses the by fields of form: fields, comma-separated, or "*". */
static int choose_by(sqlite3 *db, const char *form, const char *fields,
                     char *err, size_t cap)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db, "SELECT 1 FROM forms WHERE id = ?1",
                                HUB_ARGS(HUB_TEXT(form)), &rc);
    if (!st || (rc = hub__sql_step(st)) < 0)
        return rc;
    hub__sql_end(st);
    if (rc == 0) {
        snprintf(err, cap, "no published form %s", form);
        return HUB_EBADINPUT;
    }
    if (!fields[0]) {
        snprintf(err, cap,
                 "name the by fields, comma-separated, or * for all of "
                 "them");
        return HUB_EBADINPUT;
    }
    rc = hub__sql_run(db, "DELETE FROM agg_by_chosen WHERE form_id = ?1",
                      HUB_ARGS(HUB_TEXT(form)));
    const char *p = strcmp(fields, "*") == 0 ? "" : fields;
    while (rc == HUB_OK && *p) {
        size_t len = strcspn(p, ",");
        char name[FS_ID_MAX + 1];
        snprintf(name, sizeof name, "%.*s",
                 (int)(len < FS_ID_MAX ? len : FS_ID_MAX), p);
        st = hub__sql(db,
                      "SELECT 1 FROM agg_by_eligible WHERE form_id = ?1 AND "
                      "name = ?2",
                      HUB_ARGS(HUB_TEXT(form), HUB_TEXT(name)), &rc);
        if (!st || (rc = hub__sql_step(st)) < 0)
            return rc;
        hub__sql_end(st);
        if (rc == 0 || len > FS_ID_MAX) {
            snprintf(err, cap,
                     "%s: not a select_one field of form %s that is never "
                     "personal, sensitive or sealed; name such fields, "
                     "comma-separated, or * for all of them",
                     name, form);
            return HUB_EBADINPUT;
        }
        rc = hub__sql_run(db,
                          "INSERT INTO agg_by_chosen (form_id, name) VALUES "
                          "(?1, ?2) ON CONFLICT DO NOTHING",
                          HUB_ARGS(HUB_TEXT(form), HUB_TEXT(name)));
        p += len + (p[len] == ',');
    }
    return rc == HUB_OK ? hub__agg_rebuild(db) : rc;
}

int hub_aggregates_by(const char *db_path, const char *form, const char *fields,
                      FILE *out)
{
    sqlite3 *db = hub__cli_begin(db_path);
    if (!db)
        return 1;
    char err[512] = "";
    int rc = choose_by(db, form, fields, err, sizeof err);
    int status = hub__cli_end(db, rc, "aggregates by", err);
    if (status == 0)
        fprintf(out,
                "by fields of %s: %s; aggregates counted again (a table "
                "--by another field reads the cells: exact, slower)\n",
                form, fields);
    return status;
}
