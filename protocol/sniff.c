/*
 * sniff.c - a file's content type from its first bytes (fs_protocol.h).
 * The hub decides the type of a file beside an OpenRosa submission with
 * it, never from the part's Content-Type or the file's name; the kinds
 * are the ones the agent recognises for record --attach (FORMS.md,
 * "Attachment fields").
 */
#include <string.h>

#include "fs_protocol.h"

const char *fs_sniff_type(const unsigned char *b, size_t n)
{
    static const struct {
        size_t at, len;
        const char *magic, *type;
    } kinds[] = {
        {0, 3, "\xFF\xD8\xFF", "image/jpeg"},
        {0, 8, "\x89PNG\r\n\x1a\n", "image/png"},
        {0, 4, "OggS", "audio/ogg"},
        {0, 3, "ID3", "audio/mpeg"},
        {4, 7, "ftypM4A", "audio/mp4"},
        {0, 5, "%PDF-", "application/pdf"},
    };

    /* RIFF containers: the form is 4 bytes after the length. */
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0) {
        if (memcmp(b + 8, "WEBP", 4) == 0)
            return "image/webp";
        if (memcmp(b + 8, "WAVE", 4) == 0)
            return "audio/wav";
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (n >= kinds[i].at + kinds[i].len &&
            memcmp(b + kinds[i].at, kinds[i].magic, kinds[i].len) == 0)
            return kinds[i].type;
    return NULL;
}
