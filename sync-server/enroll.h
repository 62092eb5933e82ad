/*
 * enroll.h - POST /api/v1/enroll: a device trades a one-time enrolment
 * code for its id and a bearer token.
 */
#ifndef HUB_ENROLL_H
#define HUB_ENROLL_H

#include <civetweb.h>

int hub__handle_enroll(struct mg_connection *conn, void *hubp);

#endif
