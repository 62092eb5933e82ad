/*
 * enroll.c - enrolment: trading an admin's one-time code for this
 * device's id and token at a hub, and keeping them with the hub's
 * address, the device's role and scope, and the CA to trust for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "scope.h"
#include "store.h"

/* 1 when the host of the http:// URL url is this machine: localhost,
 * an address in 127.0.0.0/8 or [::1]. */
static int on_loopback(const char *url)
{
    const char *h = url + 7;
    size_t n = strcspn(h, "/?#");
    const char *at = memchr(h, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    if (n >= 5 && strncmp(h, "[::1]", 5) == 0)
        return n == 5 || h[5] == ':';
    size_t hn = strcspn(h, ":/?#");
    if (hn > n)
        hn = n;
    if (hn == 9 && strncmp(h, "localhost", 9) == 0)
        return 1;
    /* 127.a.b.c: four decimal parts, the first 127. */
    if (hn < 9 || strncmp(h, "127.", 4) != 0)
        return 0;
    int dots = 1, digits = 0;
    for (size_t i = 4; i < hn; i++) {
        if (h[i] == '.') {
            if (!digits)
                return 0;
            dots++;
            digits = 0;
        } else if (h[i] >= '0' && h[i] <= '9' && digits < 3) {
            digits++;
        } else {
            return 0;
        }
    }
    return dots == 3 && digits > 0;
}

int fa_enroll(fa_agent *ag, const char *hub_url, const char *code,
              const char *name, const char *collector, const char *ca_file,
              int insecure_http)
{
    if (strncmp(hub_url, "http://", 7) != 0 &&
        strncmp(hub_url, "https://", 8) != 0)
        return fa__fail(ag, FA_EINPUT,
                        "--hub must be an http:// or https:// URL, e.g. "
                        "https://hub.example.org");
    if (strncmp(hub_url, "http://", 7) == 0 && !insecure_http &&
        !on_loopback(hub_url))
        return fa__fail(ag, FA_EINPUT,
                        "refusing the plain http:// hub %s: the device's "
                        "token and every answer would cross the network "
                        "unencrypted, readable and changeable by anyone "
                        "on the way. Use the hub's https:// address "
                        "(deploy/README.md), or give --insecure-http if "
                        "this network is trusted and you accept that",
                        hub_url);
    if (name && !fs_valid_name(name))
        return fa__fail(ag, FA_EINPUT,
                        "--name must be printable text of "
                        "1 to 128 bytes");
    if (collector && !fs_valid_name(collector))
        return fa__fail(ag, FA_EINPUT,
                        "--collector must be printable text "
                        "of 1 to 128 bytes");
    char existing[64];
    int rc = fa__meta_get(ag, "device_id", existing, sizeof existing);
    if (rc != FA_OK)
        return rc;
    if (existing[0])
        return fa__fail(ag, FA_EINPUT,
                        "this directory is already enrolled as device %s; "
                        "use another --dir for another enrolment",
                        existing);

    char ca_abs[FA_PATH_MAX] = "";
    if (ca_file && !realpath(ca_file, ca_abs))
        return fa__fail(ag, FA_EINPUT, "cannot read the CA file %s: %s",
                        ca_file, strerror(errno));
    fa__http h;
    rc = fa__http_init(ag, &h, hub_url, NULL, ca_abs);
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "code", code);
    if (name)
        cJSON_AddStringToObject(req, "name", name);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (rc == FA_OK)
        rc = fa__http_request(ag, &h, "POST", "/api/v1/enroll", body,
                              strlen(body), 0);
    free(body);
    cJSON *rep = NULL;
    if (rc == FA_OK && h.status != 200)
        rc =
            fa__http_fail(ag, &h, FA_EREFUSED, "the hub refused the enrolment");
    if (rc == FA_OK) {
        fs_err perr;
        if (fs_json_parse((const char *)h.reply.data, h.reply.len, &ag->limits,
                          &rep, &perr) != FS_OK)
            rc = fa__fail(ag, FA_EREFUSED, "the hub's answer is not JSON: %s",
                          perr.msg);
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rep, "device_id");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(rep, "token");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(rep, "name");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(rep, "role");
    if (rc == FA_OK &&
        (!cJSON_IsString(id) || !fs_valid_uuid(id->valuestring) ||
         !cJSON_IsString(tok) || strlen(tok->valuestring) != 64))
        rc = fa__fail(ag, FA_EREFUSED,
                      "the hub's enrolment answer lacks a device id or "
                      "token");
    if (rc == FA_OK) {
        const char *dname = cJSON_IsString(nm) ? nm->valuestring : "device";
        rc = fa__begin(ag);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "hub_url", h.base);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "device_id", id->valuestring);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "token", tok->valuestring);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "device_name", dname);
        if (rc == FA_OK && cJSON_IsString(role))
            rc = fa__meta_set(ag, "role", role->valuestring);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "collector", collector ? collector : dname);
        if (rc == FA_OK)
            rc = fa__meta_set(ag, "ca_file", ca_abs);
        if (rc == FA_OK)
            rc = fa__scope_save(ag, rep);
        if (rc == FA_OK)
            rc = fa__commit(ag);
        else
            fa__rollback(ag);
        if (rc == FA_OK)
            snprintf(ag->err, sizeof ag->err, "enrolled as %s (%s) at %s",
                     dname, id->valuestring, h.base);
    }
    cJSON_Delete(rep);
    fa__http_free(&h);
    return rc;
}
