/*
 * adminapi.c - the JSON API for hub admins and reviewers (API tokens).
 *
 * Every handler names the roles it admits; reviewers see only their
 * areas; fields a form marks personal or sensitive are left out of reads
 * unless an admin asks for them, and such reads are audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hierarchy.h"
#include "adminapi.h"
#include "db.h"
#include "errors.h"
#include "forms.h"
#include "access.h"
#include "audit.h"
#include "blobserve.h"
#include "http.h"
#include "review.h"
#include "scope.h"
#include "seal.h"
#include "stats.h"
#include "stmtcache.h"
#include "server.h"

static const char *const admin_only[] = {"admin", NULL};
static const char *const readers[] = {"admin", "reviewer", NULL};

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

static void actor_of(const hub_device *who, char *out, size_t cap)
{
    snprintf(out, cap, "token:%s", who->name);
}

/* Writes a read of personal data to the audit log before the data
 * leaves, so no read goes unrecorded: 0, or 503 replied. */
static int audit_read(struct mg_connection *conn, hub *h, const hub_device *who,
                      const char *action, cJSON *detail)
{
    char actor[FS_NAME_MAX + 8];
    actor_of(who, actor, sizeof actor);
    pthread_mutex_lock(&h->write_lock);
    int rc = hub__audit(hub__db(conn), actor, action, detail);
    pthread_mutex_unlock(&h->write_lock);
    if (rc != HUB_OK) {
        hub__reply_error(conn, 503, "storage",
                         "cannot record the read in the audit log, so it is "
                         "refused; try later");
        return 503;
    }
    return 0;
}

int hub__personal_read(struct mg_connection *conn, hub *h,
                       const hub_device *who, const char *action, cJSON *detail,
                       int *personal)
{
    long long p = 0;
    *personal = 0;
    if (hub__query_int(conn, "personal", 0, 0, 1, &p) != 0) {
        cJSON_Delete(detail);
        return 400;
    }
    if (!p) {
        cJSON_Delete(detail);
        return 0;
    }
    if (strcmp(who->role, "admin") != 0) {
        cJSON_Delete(detail);
        hub__reply_error(conn, 403, "forbidden",
                         "only hub admins may read personal or sensitive "
                         "fields");
        return 403;
    }
    int bad = audit_read(conn, h, who, action, detail);
    *personal = !bad;
    return bad;
}

/* Answers {key: arr} (arr consumed) with 200. */
static int reply_list(struct mg_connection *conn, const char *key, cJSON *arr)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, key, arr);
    hub__reply_obj(conn, 200, root);
    return 200;
}

/* Start of every GET handler: the method, then the token and its role.
 * Returns 0, or the status already answered. */
static int begin_get(struct mg_connection *conn, hub_device *who,
                     const char *const *roles)
{
    return hub__api_begin(conn, "GET", who, roles);
}

/* Who the token is: the admin page shows the views its role may use. */
int hub__handle_admin_whoami(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    hub_device who;
    int bad = begin_get(conn, &who, readers);
    if (bad)
        return bad;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", who.name);
    cJSON_AddStringToObject(o, "role", who.role);
    cJSON_AddItemToObject(o, "areas", hub__scope_json(who.areas));
    hub__reply_obj(conn, 200, o);
    return 200;
}

/* The newest version of each published form, with its definition: the
 * admin page offers its fields as indicators and disaggregations. */
int hub__handle_admin_forms(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    hub_device who;
    int bad = begin_get(conn, &who, readers);
    if (bad)
        return bad;
    int rc;
    sqlite3_stmt *st = hub__sql(hub__db(conn),
                                "SELECT f.id, f.version, f.definition FROM "
                                "forms f WHERE f.version = (SELECT "
                                "max(version) FROM forms g WHERE g.id = "
                                "f.id) ORDER BY f.id",
                                NULL, 0, &rc);
    if (!st)
        return hub__reply_err(conn, rc, "storage", "cannot read the forms");
    cJSON *arr = cJSON_CreateArray();
    while (hub__sql_step(st) > 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", hub__col(st, 0));
        cJSON_AddNumberToObject(o, "version",
                                (double)sqlite3_column_int64(st, 1));
        cJSON_AddItemToObject(o, "definition",
                              fs_json_parse_stored(hub__col(st, 2)));
        cJSON_AddItemToArray(arr, o);
    }
    return reply_list(conn, "forms", arr);
}

int hub__handle_admin_devices(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    hub_device who;
    int bad = begin_get(conn, &who, admin_only);
    if (bad)
        return bad;
    cJSON *arr = hub__devices_json_in(hub__db(conn), who.areas);
    if (!arr)
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "cannot read devices");
    return reply_list(conn, "devices", arr);
}

int hub__handle_admin_revoke(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    hub_device who;
    if (!hub__method_is(conn, "POST"))
        return 405;
    if (hub__auth(conn, &who, HUB_API, admin_only) != 0)
        return 403;
    cJSON *req = NULL;
    if (hub__read_json(conn, 4096, &req) != 0)
        return 400;
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(req, "device");
    if (!cJSON_IsString(dev) || !fs_valid_uuid(dev->valuestring)) {
        cJSON_Delete(req);
        hub__reply_error(conn, 400, "malformed",
                         "send {\"device\": \"<device id>\"}");
        return 400;
    }
    char actor[FS_NAME_MAX + 8];
    actor_of(&who, actor, sizeof actor);
    sqlite3 *db = hub__db(conn);
    int rc = hub__tx_begin(db, &h->write_lock);
    if (rc == HUB_OK)
        rc = hub__tx_end(
            db, &h->write_lock,
            hub__revoke_device_in(db, dev->valuestring, who.areas, actor));
    int status = 200;
    if (rc == HUB_ENOTFOUND) {
        status = hub__reply_err(conn, rc, "not_found",
                                "no active device %s in this token's areas",
                                dev->valuestring);
    } else if (rc != HUB_OK) {
        status = hub__reply_err(conn, rc, "storage", "could not revoke: %s",
                                hub__storage_detail(rc));
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "revoked", dev->valuestring);
        hub__reply_obj(conn, 200, o);
    }
    cJSON_Delete(req);
    return status;
}

#define IN_SCOPE "hub_area_in(?1, area)"

int hub__handle_admin_stats(struct mg_connection *conn, void *hubp)
{
    (void)hubp;
    hub_device who;
    int bad = begin_get(conn, &who, readers);
    if (bad)
        return bad;
    cJSON *stats = hub__stats_json(hub__db(conn), who.areas);
    if (!stats)
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "cannot read the dataset");
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "scope", hub__scope_json(who.areas));
    cJSON_AddItemToObject(root, "forms",
                          cJSON_DetachItemFromObject(stats, "forms"));
    cJSON_AddItemToObject(root, "areas",
                          cJSON_DetachItemFromObject(stats, "areas"));
    cJSON_Delete(stats);
    hub__reply_obj(conn, 200, root);
    return 200;
}

/* The fields of one form marked personal or sensitive in any of its
 * versions (forms.h), kept while rows of the same form follow. */
typedef struct marks {
    char form[FS_ID_MAX + 1];
    cJSON *names; /* owned; NULL when they could not be read */
} marks;

/* 0, or -1 when the marks of form cannot be read. */
static int load_marks(sqlite3 *db, marks *m, const char *form)
{
    if (m->names && strcmp(m->form, form) == 0)
        return 0;
    cJSON_Delete(m->names);
    snprintf(m->form, sizeof m->form, "%s", form);
    m->names = hub__form_marked(db, form);
    return m->names ? 0 : -1;
}

int hub__handle_admin_submissions(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    hub_device who;
    int bad = begin_get(conn, &who, readers);
    if (bad)
        return bad;
    long long after = 0, limit = 0, personal = 0;
    if (hub__query_int(conn, "after", 0, 0, INT64_MAX, &after) != 0 ||
        hub__query_int(conn, "limit", PAGE_DEFAULT, 1, PAGE_MAX, &limit) != 0 ||
        hub__query_int(conn, "personal", 0, 0, 1, &personal) != 0)
        return 400;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char form[FS_ID_MAX + 2] = "", area[FS_ID_MAX + 2] = "";
    char state[16] = "";
    if (ri->query_string) {
        size_t ql = strlen(ri->query_string);
        int fl = mg_get_var(ri->query_string, ql, "form", form, sizeof form);
        int al = mg_get_var(ri->query_string, ql, "area", area, sizeof area);
        int sl = mg_get_var(ri->query_string, ql, "state", state, sizeof state);
        if ((fl >= 0 && !fs_valid_form_id(form)) ||
            (al >= 0 && !fs_valid_area_code(area)) || fl == -2 || al == -2) {
            hub__reply_error(conn, 400, "bad_parameter",
                             "form and area must be a form id and an area "
                             "code");
            return 400;
        }
        if (sl == -2 || (sl >= 0 && !hub__review_state_valid(state))) {
            hub__reply_error(conn, 400, "bad_parameter",
                             "state must be received, has_issues, approved "
                             "or rejected");
            return 400;
        }
    }
    if (personal && strcmp(who.role, "admin") != 0) {
        hub__reply_error(conn, 403, "forbidden",
                         "only hub admins may read personal or sensitive "
                         "fields");
        return 403;
    }
    if (area[0] && hub__area_covered(hub__db(conn), who.areas, area) != 1) {
        hub__reply_error(conn, 403, "out_of_scope",
                         "area %s is outside this token's areas", area);
        return 403;
    }
    sqlite3 *db = hub__db(conn);
    if (personal) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "form", form);
        cJSON_AddStringToObject(d, "area", area);
        cJSON_AddNumberToObject(d, "after", (double)after);
        if (audit_read(conn, h, &who, "submissions.read_personal", d) != 0)
            return 503;
    }
    /* Only the filters given enter the SQL (fixed fragments, values
     * bound): "(?6 = '' OR review_state = ?6)" would hide the index on
     * review_state or area from the planner, and a rare state would then
     * scan every row (measured in bench/admin_page.sh). */
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT rowid, id, rev, form_id, form_version, area, "
             "device_id, collector, hlc, received_ms, answers, "
             "review_state, review_comment FROM submissions WHERE rowid > "
             "?2%s%s%s AND " IN_SCOPE " ORDER BY rowid LIMIT ?5",
             form[0] ? " AND form_id = ?3" : "",
             area[0] ? " AND area = ?4" : "",
             state[0] ? " AND review_state = ?6" : "");
    /* Built here: not for the statement cache. */
    sqlite3_stmt *st = NULL;
    int rc = hub__sqlite_err(sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    if (rc == HUB_OK)
        rc = hub__sql_bind(st, HUB_ARGS(HUB_TEXT(who.areas), HUB_INT(after),
                                        HUB_TEXT(form), HUB_TEXT(area),
                                        HUB_INT(limit), HUB_TEXT(state)));
    if (rc != HUB_OK) {
        sqlite3_finalize(st);
        return hub__reply_err(conn, rc, "storage", "cannot read submissions");
    }
    cJSON *arr = cJSON_CreateArray();
    marks m;
    memset(&m, 0, sizeof m);
    long long next = after;
    int failed = 0;
    hub_seal_forms sealed = {0}; /* sealed rows' form versions */
    while (hub__sql_step(st) > 0) {
        next = sqlite3_column_int64(st, 0);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", hub__col(st, 1));
        cJSON_AddNumberToObject(o, "rev", (double)sqlite3_column_int64(st, 2));
        const char *fid = hub__col(st, 3);
        int64_t ver = sqlite3_column_int64(st, 4);
        cJSON_AddStringToObject(o, "form", fid);
        cJSON_AddNumberToObject(o, "form_version", (double)ver);
        cJSON_AddStringToObject(o, "area", hub__col(st, 5));
        cJSON_AddStringToObject(o, "device", hub__col(st, 6));
        cJSON_AddStringToObject(o, "collector", hub__col(st, 7));
        cJSON_AddStringToObject(o, "hlc", hub__col(st, 8));
        cJSON_AddNumberToObject(o, "received_ms",
                                (double)sqlite3_column_int64(st, 9));
        cJSON *answers = fs_json_parse_stored(hub__col(st, 10));
        if (!personal && load_marks(db, &m, fid) != 0) {
            /* Marks unknown: nothing personal may leave, so nothing
             * does. */
            cJSON_Delete(answers);
            cJSON_Delete(o);
            failed = 1;
            break;
        }
        if (!personal) {
            const cJSON *n;
            cJSON_ArrayForEach(n, m.names)
            {
                cJSON_DeleteItemFromObjectCaseSensitive(answers,
                                                        n->valuestring);
            }
        }
        /* The envelope is no use here: the sealed fields' names. */
        if (cJSON_GetObjectItemCaseSensitive(answers, FS_SEALED_MEMBER)) {
            const fs_form *def = hub__seal_form(db, &sealed, fid, ver);
            if (def)
                hub__seal_mask(def, answers);
            else
                cJSON_DeleteItemFromObjectCaseSensitive(answers,
                                                        FS_SEALED_MEMBER);
        }
        cJSON_AddItemToObject(o, "answers", answers);
        hub__attach_annotate(h, o, answers);
        cJSON_AddStringToObject(o, "review_state", hub__col(st, 11));
        cJSON_AddStringToObject(o, "review_comment", hub__col(st, 12));
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
    cJSON_Delete(m.names);
    hub__seal_forms_free(&sealed);
    if (failed) {
        cJSON_Delete(arr);
        return hub__reply_err(conn, HUB_ESTORAGE, "storage",
                              "cannot read which fields are personal, so "
                              "no submission is shown");
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "submissions", arr);
    cJSON_AddNumberToObject(root, "next", (double)next);
    cJSON_AddBoolToObject(root, "personal_included", personal != 0);
    hub__reply_obj(conn, 200, root);
    return 200;
}

/* What the audit log may hold of personal values (entity fields written,
 * a conflict's chosen value): withheld unless the read asks for them. */
static void withhold_detail(cJSON *detail)
{
    static const char *const keys[] = {"fields", "value"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (cJSON_GetObjectItemCaseSensitive(detail, keys[i]))
            cJSON_ReplaceItemInObjectCaseSensitive(detail, keys[i],
                                                   cJSON_CreateNull());
}

int hub__handle_admin_audit(struct mg_connection *conn, void *hubp)
{
    hub_device who;
    int bad = begin_get(conn, &who, admin_only);
    if (bad)
        return bad;
    /* Entries name devices, tokens and submissions of every area: an
     * admin token scoped to some areas does not read them. */
    if (strcmp(who.areas, "*") != 0) {
        hub__reply_error(conn, 403, "out_of_scope",
                         "the audit log covers every area; only an admin "
                         "token for all areas may read it");
        return 403;
    }
    long long after = 0, limit = 0;
    if (hub__query_int(conn, "after", 0, 0, INT64_MAX, &after) != 0 ||
        hub__query_int(conn, "limit", PAGE_DEFAULT, 1, PAGE_MAX, &limit) != 0)
        return 400;
    int personal = 0;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "after", (double)after);
    bad = hub__personal_read(conn, hubp, &who, "audit.read_personal", d,
                             &personal);
    if (bad)
        return bad;
    int rc;
    sqlite3_stmt *st = hub__sql(hub__db(conn),
                                "SELECT id, at_ms, actor, action, detail FROM "
                                "audit_log WHERE id > ? ORDER BY id LIMIT ?",
                                HUB_ARGS(HUB_INT(after), HUB_INT(limit)), &rc);
    if (!st)
        return hub__reply_err(conn, rc, "storage", "cannot read the audit log");
    cJSON *arr = cJSON_CreateArray();
    while (hub__sql_step(st) > 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
        cJSON_AddNumberToObject(o, "at_ms",
                                (double)sqlite3_column_int64(st, 1));
        cJSON_AddStringToObject(o, "actor", hub__col(st, 2));
        cJSON_AddStringToObject(o, "action", hub__col(st, 3));
        cJSON *detail = fs_json_parse_stored(hub__col(st, 4));
        if (!personal)
            withhold_detail(detail);
        cJSON_AddItemToObject(o, "detail", detail);
        cJSON_AddItemToArray(arr, o);
    }
    return reply_list(conn, "audit", arr);
}
