/*
 * fieldsync.c - the parts of the embeddable API (include/fieldsync.h)
 * that only an app needs: the version, and the status as JSON text with
 * the library's own free, so that no cJSON type crosses the API.
 */
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "store.h"

#ifndef FS_VERSION
#error "FS_VERSION is set by field-agent/CMakeLists.txt"
#endif

const char *fa_version(void)
{
    return FS_VERSION;
}

void fa_free(void *p)
{
    free(p);
}

int fa_status_json(fa_agent *ag, char **out)
{
    *out = NULL;
    cJSON *doc = NULL;
    int rc = fa_status(ag, &doc);
    if (rc != FA_OK)
        return rc;
    /* cJSON allocates with whatever hooks the process gave it; the text
     * is copied so that fa_free, plain free, is always the right one. */
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    char *copy = text ? strdup(text) : NULL;
    cJSON_free(text);
    if (!copy)
        return fa__fail(ag, FA_ESTORE, "out of memory");
    *out = copy;
    return FA_OK;
}
