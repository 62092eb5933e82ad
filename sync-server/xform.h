/*
 * xform.h - the ODK XForm of a fieldsync form (ODK XForms specification:
 * XHTML head with the model, body with the controls), for ODK Collect and
 * ODK Web Forms.
 *
 * The XForm has: itext translations in every language of the form; the
 * primary instance with the fields nested in their sections and
 * meta/instanceID (plus meta/deprecatedID, which an edit fills); binds
 * with type, required, relevant, constraint and jr:constraintMsg; input,
 * select1 and select controls with their appearance; groups for
 * sections; notes as read-only inputs; the start/end/today/deviceid
 * fields as jr:preload binds. Retired fields are left out (never asked).
 * The area of a submission, which is not an answer in fieldsync, is the
 * first question, /data/_area (a name no fieldsync field can have).
 *
 * Everything fieldsync checks is carried: per-type constraints (min,
 * max, pattern, lengths, counts), the constraint condition, skip logic,
 * the consent cut (a question that is not metadata is relevant only when
 * consent is yes) and choice filters (an itemset over a secondary
 * instance). Conditions keep fieldsync's meaning: a comparison with an
 * unanswered question is false.
 *
 * The bytes depend on the definition only - languages, elements and
 * attributes in a fixed order - so a published version's XForm, and its
 * MD5, never change.
 */
#ifndef HUB_XFORM_H
#define HUB_XFORM_H

#include <stddef.h>

#include "fs_form.h"

#define HUB_XFORM_MAX (16u << 20) /* bytes of one XForm */

/* Writes the XForm of f into out, which the function initialises (the
 * caller fs_buf_free's it, also on failure); the text is NUL-terminated.
 * FS_OK, FS_ENOMEM, FS_ETOOBIG (more than HUB_XFORM_MAX bytes). */
int hub__xform_write(const fs_form *f, fs_buf *out);

#endif /* HUB_XFORM_H */
