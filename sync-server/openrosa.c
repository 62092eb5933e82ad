/*
 * openrosa.c - OpenRosa form list, XForm download and submission for ODK
 * Collect (openrosa.h).
 *
 * A submission takes the agent's road: its XML is read with expat into
 * the answers of one fieldsync submission, which becomes a one-change
 * changeset of the device and goes through hub__scope_filter,
 * hub__merge_prepare (the same validator) and the merge queue, so it is
 * stored, reviewed and counted exactly like a pushed one. The instanceID
 * is its id: the same instance sent again is answered 201 and stored
 * once; other content under that id is refused with 409. An edit
 * (meta/deprecatedID naming the newest version) becomes the submission's
 * next revision; openrosa_instances (hub-7.sql) remembers which instance
 * each later revision came from.
 *
 * Media files (photos, recordings, documents) come as parts beside the
 * XML: streamed to disk and hashed by ormedia.c, checked against the
 * question whose answer names them, kept under their hash and recorded
 * in openrosa_files (hub-13.sql) so that the parts of a split
 * submission add up; the submission is merged once its files are all
 * at the hub.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <expat.h>
#include <openssl/evp.h>

#include "hierarchy.h"
#include "openrosa.h"
#include "errors.h"
#include "fs_form.h"
#include "http.h"
#include "merge.h"
#include "mergeq.h"
#include "ormedia.h"
#include "ratelimit.h"
#include "scope.h"
#include "server.h"
#include "stmtcache.h"
#include "xform.h"

#define PREFIX "/openrosa/key/"
#define TOKEN_MAX 128
#define SUBMISSION_MAX (10u << 20) /* bytes of one xml_submission_file */
#define VALUE_MAX (64u << 10)      /* bytes of one answer's text */
#define DEPTH_MAX 32               /* elements within elements */
#define RETRIES 8 /* sequence races with an agent of the same device */

/* ---- replies ---------------------------------------------------------- */

static void send_reply(struct mg_connection *conn, int status,
                       const char *ctype, const void *body, size_t len,
                       const char *extra_name, const char *extra_value)
{
    char clen[32], date[64];
    snprintf(clen, sizeof clen, "%zu", len);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    mg_response_header_start(conn, status);
    if (ctype)
        mg_response_header_add(conn, "Content-Type", ctype, -1);
    mg_response_header_add(conn, "Content-Length", clen, -1);
    /* Collect refuses any answer without it. */
    mg_response_header_add(conn, "X-OpenRosa-Version", "1.0", -1);
    mg_response_header_add(conn, "Date", date, -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    if (extra_name)
        mg_response_header_add(conn, extra_name, extra_value, -1);
    mg_response_header_send(conn);
    const char *m = mg_get_request_info(conn)->request_method;
    if (len > 0 && strcmp(m, "HEAD") != 0)
        mg_write(conn, body, len);
}

/* Appends s with the five XML specials escaped. */
static int put_escaped(fs_buf *b, const char *s)
{
    static const char specials[] = "<>&\"'";
    static const char *const reps[] = {"&lt;", "&gt;", "&amp;", "&quot;",
                                       "&apos;"};
    int rc = FS_OK;
    while (*s && rc == FS_OK) {
        size_t run = strcspn(s, specials);
        rc = fs_buf_append(b, s, run);
        s += run;
        if (*s && rc == FS_OK) {
            const char *r = reps[strchr(specials, *s) - specials];
            rc = fs_buf_append(b, r, strlen(r));
            s++;
        }
    }
    return rc;
}

static int put_str(fs_buf *b, const char *s)
{
    return fs_buf_append(b, s, strlen(s));
}

/* An OpenRosaResponse with one message (nature "submit_success" or
 * "error"), which Collect shows to its user. Returns status. */
static int reply_message(struct mg_connection *conn, int status,
                         const char *nature, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int reply_message(struct mg_connection *conn, int status,
                         const char *nature, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fs_buf b;
    fs_buf_init(&b, 8192);
    int rc = put_str(&b, "<OpenRosaResponse "
                         "xmlns=\"http://openrosa.org/http/response\">\n"
                         "  <message nature=\"");
    if (rc == FS_OK)
        rc = put_str(&b, nature);
    if (rc == FS_OK)
        rc = put_str(&b, "\">");
    if (rc == FS_OK)
        rc = put_escaped(&b, msg);
    if (rc == FS_OK)
        rc = put_str(&b, "</message>\n</OpenRosaResponse>\n");
    if (rc == FS_OK)
        send_reply(conn, status, "text/xml; charset=utf-8", b.data, b.len, NULL,
                   NULL);
    else
        send_reply(conn, status, NULL, "", 0, NULL, NULL);
    fs_buf_free(&b);
    return status;
}

static int reply_error(struct mg_connection *conn, int status, const char *msg)
{
    return reply_message(conn, status, "error", "%s", msg);
}

/* A form the device may not have and a form the hub does not have are
 * answered alike, so a device learns nothing of forms outside its
 * scope. */
static int reply_no_form(struct mg_connection *conn)
{
    return reply_error(conn, 404,
                       "no such form version on this device's form list; "
                       "refresh the form list");
}

/* ---- who asks ---------------------------------------------------------- */

/* Splits the path after PREFIX into the token and the rest. Returns 0,
 * or -1 when the path has no token. */
static int split_path(const char *uri, char token[TOKEN_MAX + 1],
                      const char **rest)
{
    if (strncmp(uri, PREFIX, sizeof PREFIX - 1) != 0)
        return -1;
    const char *t = uri + sizeof PREFIX - 1;
    const char *slash = strchr(t, '/');
    if (!slash || slash == t || (size_t)(slash - t) > TOKEN_MAX)
        return -1;
    memcpy(token, t, (size_t)(slash - t));
    token[slash - t] = '\0';
    *rest = slash + 1;
    return 0;
}

/* The device of the token in the path. 403 (as ODK Central answers a
 * wrong app-user key, which Collect then reports) for an unknown or
 * revoked token. Returns 0, or the status already answered. */
static int authenticate(struct mg_connection *conn, const char *token,
                        hub_device *dev)
{
    int revoked = 0;
    int found = hub__device_by_token(hub__db(conn), token, dev, &revoked);
    if (found < 0)
        return reply_error(conn, 503,
                           "the hub cannot read its database; try later");
    if (found == 0)
        return reply_error(conn, 403,
                           "this server URL holds a key the hub did not "
                           "issue; scan the device's QR code or enter the "
                           "URL from `fieldsync-hub enroll-code` again");
    if (revoked)
        return reply_error(conn, 403,
                           "this device was revoked by a hub admin; ask "
                           "them for a new enrolment");
    const hub *h = mg_get_request_info(conn)->user_data;
    if (!hub__ratelimit_take(h->rate, dev->id))
        return reply_error(conn, 429,
                           "too many requests from this device; retry in a "
                           "moment");
    hub__device_seen(hub__db(conn), dev);
    return 0;
}

/* ---- form list and download ------------------------------------------- */

/* Form id version ver as published (caller fs_form_free's *out).
 * HUB_OK, HUB_ENOTFOUND or an error. */
static int load_form(sqlite3 *db, const char *id, int64_t ver, fs_form **out)
{
    *out = NULL;
    int rc;
    sqlite3_stmt *st = hub__sql(
        db, "SELECT definition FROM forms WHERE id = ? AND version = ?",
        HUB_ARGS(HUB_TEXT(id), HUB_INT(ver)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc <= 0) {
        hub__sql_end(st);
        return rc < 0 ? rc : HUB_ENOTFOUND;
    }
    const char *def = hub__col(st, 0);
    rc = fs_form_parse(def, strlen(def), 0, out, NULL) == FS_OK
             ? HUB_OK
             : HUB_ENOTFOUND; /* not a form this hub can serve */
    hub__sql_end(st);
    return rc;
}

/* The XForm of form id version ver into out (caller frees, also on
 * failure); *title (may be NULL) gets a copy of the form's title (caller
 * frees). HUB_OK, HUB_ENOTFOUND or an error. */
static int load_xform(sqlite3 *db, const char *id, int64_t ver, fs_buf *out,
                      char **title)
{
    fs_buf_init(out, HUB_XFORM_MAX);
    fs_form *f = NULL;
    int rc = load_form(db, id, ver, &f);
    /* Collect cannot seal answers as a fieldsync agent does, and the hub
     * refuses them in plain text: such a form is not Collect's. */
    if (rc == HUB_OK && fs_form_seal_key(f))
        rc = HUB_ENOTFOUND;
    if (rc == HUB_OK)
        rc = hub__xform_write(f, out) == FS_OK ? HUB_OK : HUB_ENOMEM;
    if (rc == HUB_OK && title) {
        *title = strdup(fs_form_title(f, NULL));
        rc = *title ? HUB_OK : HUB_ENOMEM;
    }
    fs_form_free(f);
    return rc;
}

static void md5_hex(const void *p, size_t n, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(p, n, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16) {
        out[0] = '\0';
        return;
    }
    fs_hex(md, 16, out);
}

/* The device's base URL for the absolute URLs of the form list: serve
 * --public-url when given (the TLS terminator adds no header saying the
 * client came by https), else the scheme and Host the request names; a
 * Host with anything but host-name characters is not echoed back. */
static void base_url(struct mg_connection *conn, const char *token, char *out,
                     size_t cap)
{
    const hub *h = mg_get_request_info(conn)->user_data;
    if (h->public_url) {
        size_t n = strlen(h->public_url);
        while (n > 0 && h->public_url[n - 1] == '/')
            n--;
        snprintf(out, cap, "%.*s%s%s", (int)n, h->public_url, PREFIX, token);
        return;
    }
    const char *host = mg_get_header(conn, "Host");
    int ok = host && host[0] && strlen(host) < 256;
    for (const char *c = host; ok && *c; c++)
        ok = isalnum((unsigned char)*c) || *c == '.' || *c == '-' ||
             *c == ':' || *c == '[' || *c == ']';
    char local[64];
    if (!ok) {
        const struct mg_request_info *ri = mg_get_request_info(conn);
        snprintf(local, sizeof local, "127.0.0.1:%d",
                 ri->server_port > 0 ? ri->server_port : 80);
        host = local;
    }
    const char *proto = mg_get_header(conn, "X-Forwarded-Proto");
    int tls = proto && strcasecmp(proto, "https") == 0;
    snprintf(out, cap, "%s://%s%s%s", tls ? "https" : "http", host, PREFIX,
             token);
}

/* One form of the list. */
typedef struct listed {
    char id[FS_ID_MAX + 1];
    int64_t version;
} listed;

static int handle_form_list(struct mg_connection *conn, const hub_device *dev,
                            const char *token)
{
    sqlite3 *db = hub__db(conn);
    char base[512];
    base_url(conn, token, base, sizeof base);
    fs_buf list;
    fs_buf_init(&list, 16u << 20);
    int rc;
    sqlite3_stmt *st =
        hub__sql(db,
                 "SELECT id, version FROM forms f WHERE version = (SELECT "
                 "max(version) FROM forms WHERE id = f.id) ORDER BY id",
                 NULL, 0, &rc);
    if (!st) {
        fs_buf_free(&list);
        return reply_error(conn, 503, "the hub cannot read its forms");
    }
    rc = put_str(&list, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<xforms "
                        "xmlns=\"http://openrosa.org/xforms/xformsList\">\n");
    /* Collected first so that no statement stays open while XForms are
     * built (load_xform runs its own). */
    listed *forms = NULL;
    size_t n = 0, cap = 0;
    while (rc == FS_OK && hub__sql_step(st) > 0) {
        if (!hub__scope_has(dev->forms, hub__col(st, 0)))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            listed *nf = realloc(forms, cap * sizeof *nf);
            if (!nf) {
                rc = FS_ENOMEM;
                break;
            }
            forms = nf;
        }
        snprintf(forms[n].id, sizeof forms[n].id, "%s", hub__col(st, 0));
        forms[n++].version = sqlite3_column_int64(st, 1);
    }
    hub__sql_end(st);
    for (size_t i = 0; i < n && rc == FS_OK; i++) {
        fs_buf x;
        char *title = NULL;
        int lrc = load_xform(db, forms[i].id, forms[i].version, &x, &title);
        if (lrc != HUB_OK) {
            fs_buf_free(&x);
            free(title);
            continue; /* not a form Collect could use */
        }
        char md5[33], line[1024];
        md5_hex(x.data, x.len, md5);
        fs_buf_free(&x);
        rc = put_str(&list, "  <xform>\n    <formID>");
        if (rc == FS_OK)
            rc = put_escaped(&list, forms[i].id);
        if (rc == FS_OK)
            rc = put_str(&list, "</formID>\n    <name>");
        if (rc == FS_OK)
            rc = put_escaped(&list, title);
        free(title);
        snprintf(line, sizeof line,
                 "</name>\n    <version>%lld</version>\n"
                 "    <hash>md5:%s</hash>\n"
                 "    <downloadUrl>",
                 (long long)forms[i].version, md5);
        if (rc == FS_OK)
            rc = put_str(&list, line);
        if (rc == FS_OK)
            rc = put_escaped(&list, base);
        snprintf(line, sizeof line, "/forms/%s/%lld.xml</downloadUrl>\n",
                 forms[i].id, (long long)forms[i].version);
        if (rc == FS_OK)
            rc = put_str(&list, line);
        if (rc == FS_OK)
            rc = put_str(&list, "  </xform>\n");
    }
    free(forms);
    if (rc == FS_OK)
        rc = put_str(&list, "</xforms>\n");
    int status = 200;
    if (rc == FS_OK)
        send_reply(conn, 200, "text/xml; charset=utf-8", list.data, list.len,
                   NULL, NULL);
    else
        status = reply_error(conn, 500, "the form list is too large");
    fs_buf_free(&list);
    return status;
}

/* rest: "<id>/<version>.xml", or "<id>/<version>/manifest". */
static int handle_download(struct mg_connection *conn, const hub_device *dev,
                           const char *rest)
{
    char id[FS_ID_MAX + 1];
    const char *slash = strchr(rest, '/');
    size_t idlen = slash ? (size_t)(slash - rest) : 0;
    char *end = NULL;
    long long ver = slash ? strtoll(slash + 1, &end, 10) : 0;
    int manifest = end && strcmp(end, "/manifest") == 0;
    if (!slash || idlen == 0 || idlen > FS_ID_MAX || end == slash + 1 ||
        (strcmp(end, ".xml") != 0 && !manifest) || ver < 1)
        return reply_error(conn, 404,
                           "no such form: expected forms/<id>/<version>.xml "
                           "as the form list gives it");
    memcpy(id, rest, idlen);
    id[idlen] = '\0';
    if (!hub__scope_has(dev->forms, id))
        return reply_no_form(conn);
    fs_buf x;
    int rc = load_xform(hub__db(conn), id, ver, &x, NULL);
    int status;
    if (rc == HUB_ENOTFOUND)
        status = reply_no_form(conn);
    else if (rc != HUB_OK)
        status = reply_error(conn, 503, "the hub cannot build this XForm");
    else if (manifest) {
        /* No form has media files yet, so the form list names no
         * manifest; a client that asks anyway learns there is none. */
        static const char empty[] =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<manifest "
            "xmlns=\"http://openrosa.org/xforms/xformsManifest\"/>\n";
        send_reply(conn, 200, "text/xml; charset=utf-8", empty,
                   sizeof empty - 1, NULL, NULL);
        status = 200;
    } else {
        send_reply(conn, 200, "text/xml; charset=utf-8", x.data, x.len, NULL,
                   NULL);
        status = 200;
    }
    fs_buf_free(&x);
    return status;
}

/* ---- the submission's XML ---------------------------------------------- */

/* One submission as read from its XML: the text of each element by its
 * local name; fields are found by name in the form. */
typedef struct sub_value {
    char name[FS_ID_MAX + 1];
    char *text;
} sub_value;

typedef struct sub_xml {
    XML_Parser xp;
    char form_id[FS_ID_MAX + 1];
    char version[24];
    char instance_id[64];
    char deprecated_id[64];
    char area[FS_ID_MAX + 1];
    int depth, in_meta, seen_root, bad;
    char why[256];
    fs_buf text; /* the open leaf's text */
    char cur[FS_ID_MAX + 1];
    size_t n, cap;
    sub_value *values;
} sub_xml;

static const char *local_name(const char *name)
{
    const char *colon = strrchr(name, ':');
    return colon ? colon + 1 : name;
}

static void stop(sub_xml *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void stop(sub_xml *s, const char *fmt, ...)
{
    if (!s->bad) {
        s->bad = 1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->why, sizeof s->why, fmt, ap);
        va_end(ap);
    }
    XML_StopParser(s->xp, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name,
                             const XML_Char **attrs)
{
    sub_xml *s = ud;
    const char *ln = local_name(name);
    if (++s->depth > DEPTH_MAX) {
        stop(s, "elements nest deeper than %s", "32");
        return;
    }
    if (s->depth == 1) {
        s->seen_root = 1;
        for (size_t i = 0; attrs[i]; i += 2) {
            if (strcmp(attrs[i], "id") == 0)
                snprintf(s->form_id, sizeof s->form_id, "%s", attrs[i + 1]);
            else if (strcmp(attrs[i], "version") == 0)
                snprintf(s->version, sizeof s->version, "%s", attrs[i + 1]);
        }
        return;
    }
    if (s->depth == 2 && strcmp(ln, "meta") == 0)
        s->in_meta = 1;
    if (strlen(ln) > FS_ID_MAX) {
        stop(s, "element <%.80s> is not a question of this form", ln);
        return;
    }
    snprintf(s->cur, sizeof s->cur, "%s", ln);
    fs_buf_reset(&s->text);
}

static void XMLCALL on_text(void *ud, const XML_Char *t, int len)
{
    sub_xml *s = ud;
    if (s->depth >= 2 && fs_buf_append(&s->text, t, (size_t)len) != FS_OK)
        stop(s, "the answer to %s is too long", s->cur);
}

/* Leading and trailing white space of s dropped, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
                     s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    sub_xml *s = ud;
    const char *ln = local_name(name);
    int depth = s->depth--;
    if (depth < 2)
        return;
    if (depth == 2 && strcmp(ln, "meta") == 0) {
        s->in_meta = 0;
        return;
    }
    char *v = trim(s->text.data ? (char *)s->text.data : (char *)"");
    int leaf = strcmp(s->cur, ln) == 0; /* no element opened inside */
    if (!leaf || !v[0]) {
        fs_buf_reset(&s->text);
        return;
    }
    if (s->in_meta) {
        if (strcmp(ln, "instanceID") == 0)
            snprintf(s->instance_id, sizeof s->instance_id, "%s", v);
        else if (strcmp(ln, "deprecatedID") == 0)
            snprintf(s->deprecated_id, sizeof s->deprecated_id, "%s", v);
    } else if (depth == 2 && strcmp(ln, "_area") == 0) {
        snprintf(s->area, sizeof s->area, "%s", v);
    } else {
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 16;
            sub_value *nv =
                cap <= 4096 ? realloc(s->values, cap * sizeof *nv) : NULL;
            if (!nv) {
                stop(s, "too many answers (%s at most)", "4096");
                return;
            }
            s->values = nv;
            s->cap = cap;
        }
        sub_value *sv = &s->values[s->n];
        snprintf(sv->name, sizeof sv->name, "%s", ln);
        sv->text = strdup(v);
        if (!sv->text) {
            stop(s, "out of memory reading %s", ln);
            return;
        }
        s->n++;
    }
    s->cur[0] = '\0';
    fs_buf_reset(&s->text);
}

/* No DTD: nothing to expand, no entity bomb. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name,
                               const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal;
    stop(ud, "the submission has a DOCTYPE%s; send plain XML", "");
}

static void sub_xml_free(sub_xml *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->values[i].text);
    free(s->values);
    fs_buf_free(&s->text);
}

/* Parses xml into s (zeroed by the caller). Returns 0, or -1 with s->why
 * set. */
static int sub_xml_parse(sub_xml *s, const char *xml, size_t len)
{
    fs_buf_init(&s->text, VALUE_MAX);
    s->xp = XML_ParserCreate("UTF-8");
    if (!s->xp) {
        snprintf(s->why, sizeof s->why, "out of memory");
        return -1;
    }
    XML_SetUserData(s->xp, s);
    XML_SetElementHandler(s->xp, on_start, on_end);
    XML_SetCharacterDataHandler(s->xp, on_text);
    XML_SetStartDoctypeDeclHandler(s->xp, on_doctype);
    enum XML_Status st = XML_Parse(s->xp, xml, (int)len, XML_TRUE);
    if (st != XML_STATUS_OK && !s->bad) {
        s->bad = 1;
        snprintf(s->why, sizeof s->why,
                 "the submission is not well-formed XML: %s at line %lu",
                 XML_ErrorString(XML_GetErrorCode(s->xp)),
                 (unsigned long)XML_GetCurrentLineNumber(s->xp));
    }
    XML_ParserFree(s->xp);
    s->xp = NULL;
    if (!s->bad && !s->seen_root) {
        s->bad = 1;
        snprintf(s->why, sizeof s->why, "the submission is empty");
    }
    return s->bad ? -1 : 0;
}

/* ---- from XML to a fieldsync submission -------------------------------- */

/* The files of one submission: the parts of this request, and what
 * earlier parts of the same instance carried (a split submission). */
typedef struct media_ctx {
    hub_or_files *files;
    sqlite3 *db;
    const char *device, *instance;
    int status;  /* of a refusal: 400, or 413 / 415 for a file */
    int missing; /* files the XML names that no part carried yet */
    char missing_names[512];
} media_ctx;

/* The answer of an attachment field: the XML holds the file's name; the
 * reference is to the bytes the hub received under that name, checked
 * against the field's limits by their sniffed type. NULL with why (and
 * m->status) when refused, or when the file is still to come (m->missing
 * counted, why empty). */
static cJSON *attachment_value(const fs_field *fld, const char *text,
                               media_ctx *m, char *why, size_t cap)
{
    const char *fname = fs_field_name(fld);
    hub_or_file *f = m->files ? hub__ormedia_find(m->files, text) : NULL;
    hub_or_ref ref;
    const char *type;

    if (f) {
        snprintf(ref.sha256, sizeof ref.sha256, "%s", f->sha256);
        ref.size = f->size;
        type = f->type;
        if (!type && fs_field_type_of(fld) == FS_FIELD_FILE)
            type = "application/octet-stream";
        snprintf(ref.type, sizeof ref.type, "%s", type ? type : "");
    } else {
        int rc = hub__ormedia_lookup(m->db, m->device, m->instance, text, &ref);
        if (rc < 0) {
            m->status = 503;
            snprintf(why, cap, "the hub cannot read its database");
            return NULL;
        }
        if (rc == 0) {
            size_t used = strlen(m->missing_names);
            if (used + strlen(text) + 3 < sizeof m->missing_names)
                snprintf(m->missing_names + used,
                         sizeof m->missing_names - used, "%s%s",
                         used ? ", " : "", text);
            m->missing++;
            return NULL;
        }
    }
    if (ref.size < 1) {
        m->status = 400;
        snprintf(why, cap, "%s: the file %.80s is empty", fname, text);
        return NULL;
    }
    if (!ref.type[0]) {
        m->status = 415;
        snprintf(why, cap,
                 "%s: the bytes of %.80s are none of the kinds an %s field "
                 "takes (the hub reads JPEG, PNG, WebP, WAV, Ogg, MP3, M4A "
                 "and PDF from a file's first bytes, never from its name)",
                 fname, text, fs_field_type_name(fs_field_type_of(fld)));
        return NULL;
    }
    if (!fs_field_type_allowed(fld, ref.type)) {
        m->status = 415;
        snprintf(why, cap,
                 "%s: %.80s is %.60s by its bytes, a type this field does not "
                 "take; nothing was stored",
                 fname, text, ref.type);
        return NULL;
    }
    if (ref.size > fs_field_max_bytes(fld)) {
        m->status = 413;
        snprintf(why, cap,
                 "%s: %.80s is %lld bytes, more than the %ld this field "
                 "takes; nothing was stored",
                 fname, text, ref.size, fs_field_max_bytes(fld));
        return NULL;
    }
    if (f)
        f->used = 1;
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "sha256", ref.sha256);
        cJSON_AddNumberToObject(o, "size", (double)ref.size);
        cJSON_AddStringToObject(o, "type", ref.type);
        cJSON_AddStringToObject(o, "name", text);
    }
    return o;
}

/* One answer's text as the JSON value of its field's type. NULL (with
 * why) when the text is not one. */
static cJSON *answer_value(const fs_field *fld, const char *text, media_ctx *m,
                           char *why, size_t cap)
{
    char *end = NULL;
    switch (fs_field_type_of(fld)) {
    case FS_FIELD_IMAGE:
    case FS_FIELD_AUDIO:
    case FS_FIELD_FILE:
        return attachment_value(fld, text, m, why, cap);
    case FS_FIELD_INTEGER:
    case FS_FIELD_LIKERT: {
        long long v = strtoll(text, &end, 10);
        if (*end || v > 9007199254740991LL || v < -9007199254740991LL)
            break;
        return cJSON_CreateNumber((double)v);
    }
    case FS_FIELD_DECIMAL: {
        double v = strtod(text, &end);
        if (*end)
            break;
        return cJSON_CreateNumber(v);
    }
    case FS_FIELD_SELECT_MULTIPLE: {
        /* Choice values separated by spaces. */
        cJSON *a = cJSON_CreateArray();
        const char *p = text;
        int ok = a != NULL;
        while (ok && *p) {
            size_t gap = strspn(p, " "), len = strcspn(p + gap, " ");
            char value[FS_ID_MAX + 1];
            p += gap;
            if (len == 0)
                break;
            ok = len < sizeof value;
            if (ok) {
                memcpy(value, p, len);
                value[len] = '\0';
                ok = cJSON_AddItemToArray(a, cJSON_CreateString(value));
            }
            p += len;
        }
        if (ok)
            return a;
        cJSON_Delete(a);
        break;
    }
    case FS_FIELD_GEOPOINT: {
        /* "lat lon [altitude [accuracy]]" */
        double g[4] = {0, 0, 0, -1};
        const char *p = text;
        int n = 0;
        for (; n < 4 && *p; n++) {
            g[n] = strtod(p, &end);
            if (end == p || (*end && *end != ' '))
                break;
            p = end;
            while (*p == ' ')
                p++;
        }
        if (n < 2 || *p)
            break;
        cJSON *o = cJSON_CreateObject();
        if (o) {
            cJSON_AddNumberToObject(o, "lat", g[0]);
            cJSON_AddNumberToObject(o, "lon", g[1]);
            if (n == 4 && g[3] >= 0)
                cJSON_AddNumberToObject(o, "accuracy", g[3]);
        }
        return o;
    }
    default:
        return cJSON_CreateString(text);
    }
    snprintf(why, cap, "%s: '%.60s' is not a %s", fs_field_name(fld), text,
             fs_field_type_name(fs_field_type_of(fld)));
    return NULL;
}

/* The answers of s as canonical JSON text, in the form's field order
 * (so the same XML always gives the same text). NULL with why set when
 * an element is not a question of f or its text not of its type. */
static char *answers_json(const fs_form *f, const sub_xml *s, media_ctx *m,
                          char *why, size_t cap)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    for (size_t i = 0; ok && i < s->n; i++) {
        const fs_field *fld = fs_form_field_named(f, s->values[i].name);
        if (!fld || fs_field_type_of(fld) == FS_FIELD_NOTE) {
            /* Collect never fills a note; a section's own text is
             * white space, dropped already. */
            if (!fld) {
                snprintf(why, cap,
                         "<%s> is not a question of form %s version %lld",
                         s->values[i].name, fs_form_id(f),
                         (long long)fs_form_version(f));
                ok = 0;
            }
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->values[j].name, s->values[i].name) == 0) {
                snprintf(why, cap, "%s is answered twice", s->values[i].name);
                ok = 0;
            }
    }
    for (size_t k = 0; ok && k < fs_form_field_count(f); k++) {
        const fs_field *fld = fs_form_field(f, k);
        for (size_t i = 0; ok && i < s->n; i++) {
            if (strcmp(s->values[i].name, fs_field_name(fld)) != 0 ||
                fs_field_type_of(fld) == FS_FIELD_NOTE)
                continue;
            cJSON *v = answer_value(fld, s->values[i].text, m, why, cap);
            if (!v && fs_field_type_is_attachment(fs_field_type_of(fld)) &&
                !why[0])
                continue; /* a file still to come */
            ok = v && cJSON_AddItemToObject(o, fs_field_name(fld), v);
        }
    }
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

/* "uuid:<36 hex and dashes>" (Collect's instanceID) as a lower-case
 * UUID. Returns 0 or -1. */
static int instance_uuid(const char *iid, char out[FS_UUID_LEN + 1])
{
    if (strncasecmp(iid, "uuid:", 5) == 0)
        iid += 5;
    if (strlen(iid) != FS_UUID_LEN)
        return -1;
    for (size_t i = 0; i < FS_UUID_LEN; i++) {
        char c = iid[i];
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !isxdigit((unsigned char)c))
            return -1;
        out[i] = (char)tolower((unsigned char)c);
    }
    out[FS_UUID_LEN] = '\0';
    return 0;
}

/* What the hub holds as revision rev of submission id, beside sub: 0
 * nothing, 1 the same content, 2 other content, or a storage error. */
static int stored_as(sqlite3 *db, const char *id, int64_t rev,
                     const fs_submission *sub)
{
    int rc;
    sqlite3_stmt *st = hub__sql(db,
                                "SELECT form_id, form_version, area, answers "
                                "FROM submissions WHERE id = ? AND rev = ?",
                                HUB_ARGS(HUB_TEXT(id), HUB_INT(rev)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc <= 0) {
        hub__sql_end(st);
        return rc;
    }
    int same = strcmp(hub__col(st, 0), sub->form_id) == 0 &&
               sqlite3_column_int64(st, 1) == sub->form_version &&
               strcmp(hub__col(st, 2), sub->area) == 0 &&
               strcmp(hub__col(st, 3), sub->answers_json) == 0;
    hub__sql_end(st);
    return same ? 1 : 2;
}

/* ---- amendments (deprecatedID) ----------------------------------------- */

/* An instance recorded in openrosa_instances (hub-7.sql). */
typedef struct or_instance {
    char submission[FS_UUID_LEN + 1];
    int64_t rev;
    char answers_sha[65];
} or_instance;

/* Reads the row of instance into *out: 1 found, 0 not, or an error. */
static int instance_row(sqlite3 *db, const char *instance, or_instance *out)
{
    int rc;
    sqlite3_stmt *st =
        hub__sql(db,
                 "SELECT submission, rev, answers_sha FROM openrosa_instances "
                 "WHERE instance = ?",
                 HUB_ARGS(HUB_TEXT(instance)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc > 0) {
        snprintf(out->submission, sizeof out->submission, "%s",
                 hub__col(st, 0));
        out->rev = sqlite3_column_int64(st, 1);
        snprintf(out->answers_sha, sizeof out->answers_sha, "%s",
                 hub__col(st, 2));
    }
    hub__sql_end(st);
    return rc < 0 ? rc : rc > 0;
}

/* 1 when revision rev of submission id is stored with answers whose
 * SHA-256 is sha, 0 when not, or an error. */
static int revision_has(sqlite3 *db, const char *id, int64_t rev,
                        const char *sha)
{
    int rc;
    sqlite3_stmt *st =
        hub__sql(db, "SELECT answers FROM submissions WHERE id = ? AND rev = ?",
                 HUB_ARGS(HUB_TEXT(id), HUB_INT(rev)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    int has = 0;
    if (rc > 0) {
        char got[65];
        const char *a = hub__col(st, 0);
        fs_sha256_hex(a, strlen(a), got);
        has = strcmp(got, sha) == 0;
    }
    hub__sql_end(st);
    return rc < 0 ? rc : has;
}

/* The device that made submission id's first revision, its form and its
 * newest revision: 1 found, 0 not, or an error. */
static int submission_head(sqlite3 *db, const char *id,
                           char device[FS_UUID_LEN + 1],
                           char form[FS_ID_MAX + 1], int64_t *newest)
{
    int rc;
    sqlite3_stmt *st = hub__sql(
        db,
        "SELECT (SELECT device_id FROM submissions WHERE id = ?1 ORDER BY "
        "rev LIMIT 1), form_id, rev FROM submissions WHERE id = ?1 ORDER "
        "BY rev DESC LIMIT 1",
        HUB_ARGS(HUB_TEXT(id)), &rc);
    if (!st)
        return rc;
    rc = hub__sql_step(st);
    if (rc > 0) {
        snprintf(device, FS_UUID_LEN + 1, "%s", hub__col(st, 0));
        snprintf(form, FS_ID_MAX + 1, "%s", hub__col(st, 1));
        *newest = sqlite3_column_int64(st, 2);
    }
    hub__sql_end(st);
    return rc < 0 ? rc : rc > 0;
}

/* The device's acknowledged sequence now (another submission of the
 * same device may have advanced it since authentication). */
static int64_t acked_seq(sqlite3 *db, const char *device)
{
    int rc;
    sqlite3_stmt *st =
        hub__sql(db, "SELECT acked_seq FROM devices WHERE id = ?",
                 HUB_ARGS(HUB_TEXT(device)), &rc);
    int64_t v = -1;
    if (st && hub__sql_step(st) > 0)
        v = sqlite3_column_int64(st, 0);
    if (st)
        hub__sql_end(st);
    return v;
}

/* A Collect device has no outbox numbering its submissions: each takes
 * the device's next sequence number when it is merged. Submissions of
 * one device are therefore merged one at a time (a lock per stripe of
 * devices); without it, parallel sends from one phone would race for the
 * same number and be refused by the merge queue as out of sequence. */
#define STRIPES 64
static pthread_mutex_t stripes[STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void stripes_init(void)
{
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&stripes[i], NULL);
}

static pthread_mutex_t *device_lock(const char *device)
{
    pthread_once(&stripes_once, stripes_init);
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (const char *c = device; *c; c++)
        hash = (hash ^ (unsigned char)*c) * 16777619u;
    return &stripes[hash % STRIPES];
}

/* Removes the row of an edit whose revision was never stored. */
static int forget_instance(sqlite3 *db, const char *instance)
{
    return hub__sql_run(db, "DELETE FROM openrosa_instances WHERE instance = ?",
                        HUB_ARGS(HUB_TEXT(instance)));
}

/* An edit (its instance edit, or NULL for a first version) that is not
 * stored: its row goes before the answer does, so a client that reads
 * the answer never finds the row of an edit that was refused. */
static void forget_edit(sqlite3 *db, const char *edit)
{
    if (edit)
        forget_instance(db, edit);
}

/* Merges the one-change changeset cs through the merge queue, as a push.
 * Returns the status answered. */
static int merge_one(struct mg_connection *conn, hub *h, const hub_device *dev,
                     fs_changeset *cs, const char *edit)
{
    sqlite3 *db = hub__db(conn);
    fs_submission *sub = &cs->changes[0].sub;
    for (int attempt = 0; attempt < RETRIES; attempt++) {
        int64_t acked = acked_seq(db, dev->id);
        if (acked < 0) {
            forget_edit(db, edit);
            return reply_error(conn, 503, "the hub cannot read its database");
        }
        cs->first_seq = cs->last_seq = cs->changes[0].seq = acked + 1;
        fs_result result;
        hub_digest digest;
        memset(&result, 0, sizeof result);
        char csdigest[65];
        hub_push job;
        memset(&job, 0, sizeof job);
        job.device = dev->id;
        hub__mergeq_expect(h->mergeq, &job);
        hub__mergeq_decode_begin(h->mergeq);
        int rc = hub__merge_prepare(db, cs, &result, &digest);
        hub__mergeq_decode_end(h->mergeq, rc == HUB_OK);
        if (rc != HUB_OK) {
            hub__mergeq_drop(h->mergeq, &job);
            forget_edit(db, edit);
            return reply_error(conn, hub__http_status(rc),
                               "the hub could not check this submission; "
                               "nothing was stored, send it again later");
        }
        fs_sha256_hex(digest.hex, strlen(digest.hex), csdigest);
        job.cs = cs;
        job.digest = csdigest;
        job.results = &result;
        job.digests = &digest;
        hub__mergeq_submit(h->mergeq, &job);
        free(job.text);
        if (job.err == HUB_ECONFLICT)
            continue; /* another submission of this device took the seq */
        if (job.err != HUB_OK) {
            forget_edit(db, edit);
            return reply_error(conn, hub__http_status(job.err),
                               "the hub could not store this submission; "
                               "nothing was stored, send it again later");
        }
        switch (result.status) {
        case FS_RES_APPLIED:
            if (sub->rev > 1)
                return reply_message(conn, 201, "submit_success",
                                     "Received: stored as revision %lld of "
                                     "submission %s.",
                                     (long long)sub->rev, sub->id);
            return reply_message(conn, 201, "submit_success",
                                 "Received: stored as submission %s.", sub->id);
        case FS_RES_DUPLICATE:
            return reply_message(conn, 201, "submit_success",
                                 "Received already: submission %s is "
                                 "stored once.",
                                 sub->id);
        case FS_RES_DIVERGENT:
            /* An edit raced with a correction on the hub: both are kept
             * as a conflict for an admin. */
            if (strcmp(result.error, "conflict") == 0) {
                forget_edit(db, edit);
                return reply_message(conn, 409, "error", "not stored: %s",
                                     result.message);
            }
            /* Raced with another copy: the same content is a replay. */
            if (stored_as(db, sub->id, sub->rev, sub) == 1)
                return reply_message(conn, 201, "submit_success",
                                     "Received already: submission %s is "
                                     "stored once.",
                                     sub->id);
            forget_edit(db, edit);
            return reply_message(conn, 409, "error",
                                 "the hub holds instance %s with other "
                                 "content; an edit must carry the "
                                 "instance as deprecatedID",
                                 sub->id);
        default: /* refused by the scope check or the validator */
            forget_edit(db, edit);
            return reply_message(conn,
                                 strcmp(result.error, fs_errname(FS_ESCOPE)) ==
                                             0 ||
                                         strcmp(result.error, "not_owner") == 0
                                     ? 403
                                     : 400,
                                 "error", "not stored: %s", result.message);
        }
    }
    forget_edit(db, edit);
    return reply_error(conn, 503,
                       "the hub is busy with this device's other "
                       "submissions; send this one again");
}

static int reply_stored_once(struct mg_connection *conn, const char *id,
                             int64_t rev)
{
    return reply_message(conn, 201, "submit_success",
                         "Received already: revision %lld of submission %s "
                         "is stored once.",
                         (long long)rev, id);
}

static int reply_other_content(struct mg_connection *conn, const char *iid)
{
    return reply_message(conn, 409, "error",
                         "the hub holds instance %s with other content; an "
                         "edit must take a new instanceID and carry this "
                         "one as deprecatedID",
                         iid);
}

/* What the hub knows of instance iid (a UUID) beside sub: 0 nothing,
 * 1 stored with the same content (*rev its revision), 2 taken by other
 * content, or an error. A leftover row of an edit whose merge never
 * happened (hub-7.sql) is removed and counts as nothing. */
static int instance_held(sqlite3 *db, const char *iid, const fs_submission *sub,
                         char id_out[FS_UUID_LEN + 1], int64_t *rev)
{
    or_instance row;
    int rc = instance_row(db, iid, &row);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        rc = stored_as(db, row.submission, row.rev, sub);
        if (rc != 0) {
            snprintf(id_out, FS_UUID_LEN + 1, "%s", row.submission);
            *rev = row.rev;
            return rc;
        }
        return forget_instance(db, iid);
    }
    snprintf(id_out, FS_UUID_LEN + 1, "%s", iid);
    *rev = 1;
    return stored_as(db, iid, 1, sub);
}

/* A first version: the instanceID is the idempotency key, so a copy
 * already stored is answered as stored and other content under it
 * refused, before the merge would keep it beside the first for an
 * admin. */
static int submit_first(struct mg_connection *conn, hub *h,
                        const hub_device *dev, fs_changeset *cs)
{
    sqlite3 *db = hub__db(conn);
    fs_submission *sub = &cs->changes[0].sub;
    char id[FS_UUID_LEN + 1];
    int64_t rev = 0;
    int held = instance_held(db, sub->id, sub, id, &rev);
    if (held == 1)
        return reply_stored_once(conn, id, rev);
    if (held == 2)
        return reply_other_content(conn, sub->id);
    if (held < 0)
        return reply_error(conn, 503, "the hub cannot read its database");
    hub__scope_filter(hub__db(conn), dev, cs);
    return merge_one(conn, h, dev, cs, NULL);
}

/* An edit, as ODK Central takes one: the instance it replaces
 * (deprecatedID) must be the newest revision of a submission of this
 * device; it becomes the next revision. Unknown -> 404, not the newest
 * -> 409, nothing stored either way. */
static int submit_edit(struct mg_connection *conn, hub *h,
                       const hub_device *dev, fs_changeset *cs,
                       const char *deprecated, const char *sha)
{
    sqlite3 *db = hub__db(conn);
    fs_submission *sub = &cs->changes[0].sub;
    char old[FS_UUID_LEN + 1], iid[FS_UUID_LEN + 1];
    if (instance_uuid(deprecated, old) != 0)
        return reply_error(conn, 400,
                           "meta/deprecatedID must be uuid: followed by "
                           "the UUID of the instance this one edits");
    snprintf(iid, sizeof iid, "%s", sub->id);
    if (strcmp(iid, old) == 0)
        return reply_error(conn, 400,
                           "instanceID and deprecatedID are the same; an "
                           "edit takes a new instanceID");
    /* This very edit sent again. */
    char id[FS_UUID_LEN + 1];
    int64_t rev = 0;
    int held = instance_held(db, iid, sub, id, &rev);
    if (held == 1)
        return reply_stored_once(conn, id, rev);
    if (held == 2)
        return reply_other_content(conn, iid);
    if (held < 0)
        return reply_error(conn, 503, "the hub cannot read its database");

    /* What it edits: an earlier edit's instance, else a first version. */
    or_instance base;
    int rc = instance_row(db, old, &base);
    if (rc > 0 &&
        revision_has(db, base.submission, base.rev, base.answers_sha) <= 0)
        rc = 0; /* a leftover of an edit that was never stored */
    if (rc == 0) {
        snprintf(base.submission, sizeof base.submission, "%s", old);
        base.rev = 1;
    }
    char owner[FS_UUID_LEN + 1], form[FS_ID_MAX + 1];
    int64_t newest = 0;
    if (rc >= 0)
        rc = submission_head(db, base.submission, owner, form, &newest);
    if (rc < 0)
        return reply_error(conn, 503, "the hub cannot read its database");
    /* Another device's submission is answered as one the hub does not
     * have: a device learns nothing of others' records. */
    if (rc == 0 || newest < base.rev || strcmp(owner, dev->id) != 0)
        return reply_message(conn, 404, "error",
                             "no submission of this device has instanceID "
                             "%s (the deprecatedID); send the edit as a new "
                             "submission, or check it was sent to this hub",
                             old);
    if (strcmp(form, sub->form_id) != 0)
        return reply_message(conn, 400, "error",
                             "instance %s is a submission of form %s; an "
                             "edit keeps its form",
                             old, form);
    if (newest != base.rev)
        return reply_message(conn, 409, "error",
                             "instance %s is revision %lld of submission "
                             "%s, and the hub holds revision %lld since; "
                             "nothing was stored: download the newest "
                             "version and edit that",
                             old, (long long)base.rev, base.submission,
                             (long long)newest);
    /* The row first: a crash after the merge leaves no revision the
     * next send of this instance cannot find. */
    rc = hub__sql_run(db,
                      "INSERT OR REPLACE INTO openrosa_instances (instance, "
                      "submission, rev, answers_sha) VALUES (?, ?, ?, ?)",
                      HUB_ARGS(HUB_TEXT(iid), HUB_TEXT(base.submission),
                               HUB_INT(newest + 1), HUB_TEXT(sha)));
    if (rc != HUB_OK)
        return reply_error(conn, hub__http_status(rc),
                           "the hub could not record this edit; nothing "
                           "was stored, send it again later");
    snprintf(sub->id, sizeof sub->id, "%s", base.submission);
    sub->rev = newest + 1;
    sub->base_rev = newest;
    hub__scope_filter(hub__db(conn), dev, cs);
    return merge_one(conn, h, dev, cs, iid);
}

/* The files of a submission whose answers were read: the parts a field
 * references are stored under their hash and recorded for the instance
 * (those no field names are not kept). Returns 0 when every file the XML
 * names is at the hub, so the submission goes on to the merge; else the
 * status answered: 201 for a part of a split submission (more parts
 * follow), 400 for a last part that leaves a file missing (the files
 * that came are kept, so that a resend completes the set). */
static int submit_media(struct mg_connection *conn, const hub_device *dev,
                        hub_or_files *files, media_ctx *m, int incomplete)
{
    for (size_t i = 0; files && i < files->n; i++)
        if (!files->v[i].used)
            fprintf(stderr,
                    "fieldsync-hub: OpenRosa %s: file %s answers no question "
                    "of the form; not kept\n",
                    m->instance, files->v[i].name);
    if (files && hub__ormedia_commit(files, m->db, dev->id, m->instance) != 0)
        return reply_error(conn, 503, files->why);
    if (m->missing == 0)
        return 0;
    if (incomplete)
        return reply_message(conn, 201, "submit_success",
                             "Received part of submission %s: its files so "
                             "far are kept; %d to come (%s).",
                             m->instance, m->missing, m->missing_names);
    return reply_message(conn, 400, "error",
                         "not stored yet: the submission names %d file(s) "
                         "(%s) that no part carried; the files received are "
                         "kept: send the submission again with its files",
                         m->missing, m->missing_names);
}

/* The submission in xml[0..len) from dev, with the file parts beside
 * it: read, checked, merged. incomplete: Collect's *isIncomplete* (more
 * parts of the same instance follow). */
static int submit_xml(struct mg_connection *conn, hub *h, const hub_device *dev,
                      const char *xml, size_t len, hub_or_files *files,
                      int incomplete)
{
    sqlite3 *db = hub__db(conn);
    sub_xml s;
    memset(&s, 0, sizeof s);
    fs_changeset *cs = NULL;
    fs_form *f = NULL;
    int status;
    char why[512] = "";
    if (sub_xml_parse(&s, xml, len) != 0) {
        status = reply_error(conn, 400, s.why);
        goto out;
    }
    char *end = NULL;
    long long ver = strtoll(s.version, &end, 10);
    if (!s.form_id[0] || !s.version[0] || *end || ver < 1) {
        status = reply_error(conn, 400,
                             "the submission's root element needs the id "
                             "and version attributes of its form");
        goto out;
    }
    cs = fs_changeset_new(1);
    if (!cs) {
        status = reply_error(conn, 503, "out of memory");
        goto out;
    }
    cs->n = 1;
    cs->protocol = FS_PROTOCOL_VERSION;
    cs->schema = FS_SCHEMA_VERSION;
    snprintf(cs->device, sizeof cs->device, "%s", dev->id);
    fs_change *c = &cs->changes[0];
    c->kind = FS_CHANGE_SUBMISSION;
    fs_submission *sub = &c->sub;
    if (instance_uuid(s.instance_id, sub->id) != 0) {
        status = reply_error(conn, 400,
                             "meta/instanceID must be uuid: followed by a "
                             "UUID; Collect fills it, check the form's "
                             "meta block");
        goto out;
    }
    snprintf(sub->form_id, sizeof sub->form_id, "%s", s.form_id);
    sub->form_version = ver;
    snprintf(sub->area, sizeof sub->area, "%s", s.area);
    snprintf(sub->collector, sizeof sub->collector, "%s", dev->name);

    /* Scope first: out of scope answers as unpublished. */
    int rc = hub__scope_has(dev->forms, s.form_id)
                 ? load_form(db, s.form_id, ver, &f)
                 : HUB_ENOTFOUND;
    if (rc != HUB_OK || !f) {
        status = reply_no_form(conn);
        goto out;
    }
    /* One submission of a device at a time, from the first look at what
     * is stored (and at the files earlier parts carried) to the merge. */
    pthread_mutex_t *lock = device_lock(dev->id);
    pthread_mutex_lock(lock);
    media_ctx media = {files, db, dev->id, sub->id, 400, 0, ""};
    sub->answers_json = answers_json(f, &s, &media, why, sizeof why);
    if (!sub->answers_json) {
        pthread_mutex_unlock(lock);
        status =
            reply_error(conn, media.status, why[0] ? why : "out of memory");
        goto out;
    }
    /* Other content under a stored instance is refused before its
     * files are kept. */
    if (!s.deprecated_id[0] && media.missing == 0) {
        char held_id[FS_UUID_LEN + 1];
        int64_t held_rev = 0;
        if (instance_held(db, sub->id, sub, held_id, &held_rev) == 2) {
            pthread_mutex_unlock(lock);
            status = reply_other_content(conn, sub->id);
            goto out;
        }
    }
    status = submit_media(conn, dev, files, &media, incomplete);
    if (status != 0) {
        pthread_mutex_unlock(lock);
        goto out;
    }
    uint64_t clock = 0;
    sub->created_ms = (int64_t)fs_now_ms();
    sub->hlc = fs_hlc_tick(&clock, (uint64_t)sub->created_ms);
    sub->rev = 1;
    sub->base_rev = 0;

    char sha[65];
    fs_sha256_hex(sub->answers_json, strlen(sub->answers_json), sha);
    status = s.deprecated_id[0]
                 ? submit_edit(conn, h, dev, cs, s.deprecated_id, sha)
                 : submit_first(conn, h, dev, cs);
    pthread_mutex_unlock(lock);
out:
    fs_form_free(f);
    fs_changeset_free(cs);
    sub_xml_free(&s);
    return status;
}

/* ---- multipart --------------------------------------------------------- */

enum { PART_SKIP, PART_XML, PART_FILE, PART_INCOMPLETE };

typedef struct form_read {
    fs_buf xml;
    int found, too_big;
    int part;           /* what the part being read is (PART_*) */
    char incomplete[8]; /* the value of *isIncomplete* */
    hub_or_files files; /* the file parts, streamed to disk */
    struct mg_connection *conn;
    const hub_device *dev;
    int looked;    /* the XML before the files was read for their limits */
    fs_form *form; /* its form, when the device may use it */
    sub_xml sx;
} form_read;

/* The limit of a file part named name, when the XML came before it (as
 * Collect sends it): the max_bytes of the question whose answer names
 * the file, so that a file too large is refused as it arrives, not after
 * it was written whole. 0 when not known yet (checked after the body). */
static long long part_limit(form_read *fr, const char *name, char *field,
                            size_t cap)
{
    if (!fr->looked && fr->found == 1 && fr->xml.len > 0) {
        fr->looked = 1;
        if (sub_xml_parse(&fr->sx, (const char *)fr->xml.data, fr->xml.len) ==
                0 &&
            hub__scope_has(fr->dev->forms, fr->sx.form_id)) {
            char *end = NULL;
            long long ver = strtoll(fr->sx.version, &end, 10);
            if (end != fr->sx.version && *end == '\0' && ver > 0 &&
                load_form(hub__db(fr->conn), fr->sx.form_id, ver, &fr->form) !=
                    HUB_OK)
                fr->form = NULL;
        }
    }
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    for (size_t i = 0; fr->form && i < fr->sx.n; i++) {
        const fs_field *fld =
            fs_form_field_named(fr->form, fr->sx.values[i].name);
        if (fld && fs_field_type_is_attachment(fs_field_type_of(fld)) &&
            strcmp(fr->sx.values[i].text, base) == 0) {
            snprintf(field, cap, "%s", fs_field_name(fld));
            return fs_field_max_bytes(fld);
        }
    }
    return 0;
}

static int on_field_found(const char *key, const char *filename, char *path,
                          size_t pathlen, void *ud)
{
    (void)path;
    (void)pathlen;
    form_read *fr = ud;
    if (hub__ormedia_end(&fr->files) != 0)
        return MG_FORM_FIELD_STORAGE_ABORT;
    if (strcmp(key, "xml_submission_file") == 0) {
        fr->found++;
        fs_buf_reset(&fr->xml);
        fr->part = PART_XML;
        return MG_FORM_FIELD_STORAGE_GET;
    }
    /* A file beside the XML (a photo, a recording): streamed to a
     * temporary file in the hub's store, hashed on the way; whether a
     * question takes it is decided once the XML is read. */
    if (filename && filename[0]) {
        char field[FS_ID_MAX + 1] = "";
        long long limit = part_limit(fr, filename, field, sizeof field);
        fr->part = PART_FILE;
        if (hub__ormedia_begin(&fr->files, filename) != 0)
            return MG_FORM_FIELD_STORAGE_ABORT;
        hub__ormedia_limit(&fr->files, limit, field);
        return MG_FORM_FIELD_STORAGE_GET;
    }
    /* Collect's *isIncomplete*=yes on every part of a split submission
     * but the last; other plain fields are skipped. */
    if (strcmp(key, "*isIncomplete*") == 0) {
        fr->part = PART_INCOMPLETE;
        fr->incomplete[0] = '\0';
        return MG_FORM_FIELD_STORAGE_GET;
    }
    fr->part = PART_SKIP;
    return MG_FORM_FIELD_STORAGE_SKIP;
}

static int on_field_get(const char *key, const char *value, size_t len,
                        void *ud)
{
    (void)key;
    form_read *fr = ud;
    if (len == 0)
        return MG_FORM_FIELD_HANDLE_GET;
    switch (fr->part) {
    case PART_XML:
        if (fs_buf_append(&fr->xml, value, len) != FS_OK) {
            fr->too_big = 1;
            return MG_FORM_FIELD_HANDLE_ABORT;
        }
        break;
    case PART_FILE:
        if (hub__ormedia_write(&fr->files, value, len) != 0)
            return MG_FORM_FIELD_HANDLE_ABORT;
        break;
    case PART_INCOMPLETE: {
        size_t have = strlen(fr->incomplete);
        if (have + len < sizeof fr->incomplete) {
            memcpy(fr->incomplete + have, value, len);
            fr->incomplete[have + len] = '\0';
        }
        break;
    }
    default:
        break;
    }
    return MG_FORM_FIELD_HANDLE_GET;
}

static int on_field_store(const char *path, long long size, void *ud)
{
    (void)path;
    (void)size;
    (void)ud;
    return MG_FORM_FIELD_HANDLE_NEXT;
}

static int handle_submission(struct mg_connection *conn, hub *h,
                             const hub_device *dev)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char max[24];
    snprintf(max, sizeof max, "%u", SUBMISSION_MAX);
    if (strcmp(ri->request_method, "HEAD") == 0) {
        send_reply(conn, 204, NULL, "", 0, "X-OpenRosa-Accept-Content-Length",
                   max);
        return 204;
    }
    if (strcmp(ri->request_method, "POST") != 0)
        return reply_error(conn, 405, "use HEAD or POST for submission");
    const char *ct = mg_get_header(conn, "Content-Type");
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return reply_error(conn, 400,
                           "a submission is multipart/form-data with the "
                           "form's XML as xml_submission_file");
    form_read fr;
    memset(&fr, 0, sizeof fr);
    fs_buf_init(&fr.xml, SUBMISSION_MAX);
    hub__ormedia_init(&fr.files, h, hub__db(conn), dev, ri->content_length);
    fr.conn = conn;
    fr.dev = dev;
    struct mg_form_data_handler fdh = {on_field_found, on_field_get,
                                       on_field_store, &fr};
    int n = mg_handle_form_request(conn, &fdh);
    hub__ormedia_end(&fr.files);
    int status;
    if (fr.files.err)
        status = reply_error(conn, fr.files.err, fr.files.why);
    else if (fr.too_big)
        status = reply_error(conn, 413,
                             "the submission XML is larger than the hub "
                             "takes (10 MiB)");
    else if (n < 0 || fr.found == 0 || fr.xml.len == 0)
        status = reply_error(conn, 400,
                             "the multipart body has no "
                             "xml_submission_file part");
    else if (fr.found > 1)
        status = reply_error(conn, 400,
                             "the multipart body has more than one "
                             "xml_submission_file part");
    else
        status = submit_xml(conn, h, dev, (const char *)fr.xml.data, fr.xml.len,
                            &fr.files, strcasecmp(fr.incomplete, "yes") == 0);
    hub__ormedia_free(&fr.files);
    fs_form_free(fr.form);
    sub_xml_free(&fr.sx);
    fs_buf_free(&fr.xml);
    return status;
}

int hub__handle_openrosa(struct mg_connection *conn, void *hubp)
{
    hub *h = hubp;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char token[TOKEN_MAX + 1];
    const char *rest = NULL;
    if (!ri->local_uri || split_path(ri->local_uri, token, &rest) != 0)
        return reply_error(conn, 404,
                           "an OpenRosa URL is /openrosa/key/<device "
                           "token>/...; see README, Using ODK Collect");
    hub_device dev;
    int status = authenticate(conn, token, &dev);
    if (status != 0)
        return status;
    int is_get = strcmp(ri->request_method, "GET") == 0 ||
                 strcmp(ri->request_method, "HEAD") == 0;
    if (strcmp(rest, "formList") == 0 && is_get)
        return handle_form_list(conn, &dev, token);
    if (strncmp(rest, "forms/", 6) == 0 && is_get)
        return handle_download(conn, &dev, rest + 6);
    if (strcmp(rest, "submission") == 0)
        return handle_submission(conn, h, &dev);
    return reply_error(conn, 404,
                       "no such OpenRosa endpoint: formList, "
                       "forms/<id>/<version>.xml, "
                       "forms/<id>/<version>/manifest and submission are "
                       "served");
}
