/*
 * exportmedia.h - `fieldsync-hub export media`: the files that answer a
 * form's image, audio and file fields, as one zip streamed from the
 * hub's file store (zipout.h), and the name each file has inside it,
 * which the CSV and JSON exports give beside the answer.
 */
#ifndef HUB_EXPORTMEDIA_H
#define HUB_EXPORTMEDIA_H

#include <stddef.h>

#include "fs_protocol.h"

/* The name in a media export of the file that answers field of
 * submission id, of content type ctype: "ID/FIELD.EXT", the extension
 * from the content type ("bin" for one without a usual extension). Each
 * part keeps only A-Z a-z 0-9 . _ - (anything else becomes _) and never
 * starts with a dot, so a name is never a path out of the folder it is
 * unpacked in. */
void hub__media_name(const char *id, const char *field, const char *ctype,
                     char *out, size_t cap);

/* 1 when v (an answer) is a file reference: an object with a sha256 of
 * 64 lower-case hex digits, a size from 1 and a content type. */
int hub__media_ref(const cJSON *v);

#endif
