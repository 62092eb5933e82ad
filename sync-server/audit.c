/*
 * audit.c - see audit.h.
 */
#include <stdlib.h>

#include "audit.h"
#include "errors.h"
#include "stmtcache.h"

int hub__audit(sqlite3 *db, const char *actor, const char *action,
               cJSON *detail)
{
    char *text = detail ? cJSON_PrintUnformatted(detail) : NULL;
    cJSON_Delete(detail);
    int rc =
        hub__sql_run(db,
                     "INSERT INTO audit_log (at_ms, actor, action, "
                     "detail) VALUES (?, ?, ?, ?)",
                     HUB_ARGS(HUB_INT(fs_now_ms()), HUB_TEXT(actor),
                              HUB_TEXT(action), HUB_TEXT(text ? text : "{}")));
    free(text);
    return rc;
}
