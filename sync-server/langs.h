/*
 * langs.h - language names and codes, both ways: XLSForm headers name
 * languages as "English (en)", "english" or "en"; fieldsync texts are
 * keyed by code; an XForm's translations are named "English (en)".
 */
#ifndef HUB_LANGS_H
#define HUB_LANGS_H

#include <stddef.h>

/* The code of an XLSForm language: the code in "Name (code)", a code
 * itself ("fr", "pt-BR"), or the English name of a common language
 * ("french", any case). Writes it to out, its first part in lower case;
 * 0, or -1 when spec names no language fieldsync can key a text by. */
int hub__lang_code(const char *spec, char *out, size_t cap);

/* The English name of a code's language ("fr" -> "French", "pt-BR" ->
 * "Portuguese"), or NULL when the table does not know it. */
const char *hub__lang_name(const char *code);

#endif /* HUB_LANGS_H */
