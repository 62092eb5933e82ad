/* collectqr.h - the ODK Collect settings QR code of a device enrolled
 * with `enroll-code --collect`.
 *
 * Collect reads a configuration code as base64(zlib(settings JSON)), the
 * JSON holding "general" (the server URL with the device's token),
 * "admin" and "project" sections. The code is drawn with libqrencode on
 * a terminal and written as a PNG with libpng. The code carries the
 * device's token: whoever scans it records as that device. */
#ifndef HUB_COLLECTQR_H
#define HUB_COLLECTQR_H

#include <stdio.h>

/* The settings payload for server_url (the device's OpenRosa address)
 * and a project name shown in Collect; malloc'd NUL-terminated base64,
 * NULL when out of memory. */
char *hub__collect_settings(const char *server_url, const char *project);

/* Draws payload's QR code on out with half blocks on a forced white
 * background, two rows of modules per line, with a quiet zone. 0, or -1
 * when the payload does not fit a QR code (or no memory). */
int hub__qr_text(const char *payload, FILE *out);

/* Writes payload's QR code as a grey-scale PNG (8 pixels a module,
 * 4-module quiet zone) to f, already open for writing. 0, or -1 with a
 * reason in why. */
int hub__qr_png(const char *payload, FILE *f, char *why, size_t whylen);

#endif
