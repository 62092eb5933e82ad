/*
 * openrosa.h - the OpenRosa endpoints ODK Collect uses, under
 * /openrosa/key/<device token>/ (the token in the path, as ODK Central
 * does for app users):
 *   GET  formList                 the device's forms, with each XForm's MD5
 *   GET  forms/<id>/<version>.xml the XForm (xform.h; stable bytes)
 *   HEAD submission               204, the pre-flight Collect sends
 *   POST submission               multipart/form-data with
 *                                 xml_submission_file: one filled form,
 *                                 merged like an agent's push (merge.h,
 *                                 mergeq.h) and answered 201
 * Every reply carries X-OpenRosa-Version: 1.0. PROTOCOL.md section 8.
 */
#ifndef HUB_OPENROSA_H
#define HUB_OPENROSA_H

#include <civetweb.h>

/* Returns the HTTP status it answered. */
int hub__handle_openrosa(struct mg_connection *conn, void *hubp);

#endif
