/*
 * sniff.c - the content type of an attachment from its first bytes, one
 * table for the agent (which labels a file when it is recorded) and the
 * hub (which checks the label against the bytes it received: never
 * trusted from the client, nor from a file name).
 */
#include <string.h>

#include "fs_form.h"
#include "fs_protocol.h"

const char *fs_sniff_type(const unsigned char *b, size_t n)
{
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return "image/jpeg";
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return "image/webp";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WAVE", 4) == 0)
        return "audio/wav";
    if (n >= 4 && memcmp(b, "OggS", 4) == 0)
        return "audio/ogg";
    if (n >= 3 && memcmp(b, "ID3", 3) == 0)
        return "audio/mpeg";
    if (n >= 12 && memcmp(b + 4, "ftypM4A", 7) == 0)
        return "audio/mp4";
    if (n >= 5 && memcmp(b, "%PDF-", 5) == 0)
        return "application/pdf";
    return NULL;
}

const char *fs_field_file_type(const fs_field *fld, const unsigned char *b,
                               size_t n)
{
    const char *type = fs_sniff_type(b, n);

    if (type == NULL && fs_field_type_of(fld) == FS_FIELD_FILE)
        type = "application/octet-stream";
    return type;
}
