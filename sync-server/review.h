/*
 * review.h - reviewers and admins mark submissions received, has_issues,
 * approved or rejected with a comment; the state travels back to the
 * device that sent the submission.
 */
#ifndef HUB_REVIEW_H
#define HUB_REVIEW_H

#include <civetweb.h>
#include <sqlite3.h>

/* 1 when state is one of the four review states. */
int hub__review_state_valid(const char *state);
/* Sets the review of a submission's newest revision in the caller's
 * transaction, queues it for the device that sent it and audits it as
 * actor. HUB_OK, HUB_ENOTFOUND when there is no such submission within
 * areas, or a storage error (errors.h). */
int hub__review(sqlite3 *db, const char *id, const char *state,
                const char *comment, const char *actor, const char *areas);
/* POST /api/v1/admin/review. */
int hub__handle_admin_review(struct mg_connection *conn, void *hubp);

#endif
