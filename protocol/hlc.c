/*
 * hlc.c - hybrid logical clock (Kulkarni et al., "Logical Physical
 * Clocks", 2014). A stamp is (ms << 16) | counter: it follows the wall
 * clock when the clock moves forward and the counter keeps it increasing
 * when the clock stalls or steps back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fs_internal.h"

#define HLC_MS_MASK 0xFFFFFFFFFFFFull
#define HLC_CTR_MAX 0xFFFFu

static uint64_t hlc_make(uint64_t ms, uint64_t ctr)
{
    /* The counter is full: borrow a millisecond rather than wrap, so the
     * stamp still increases. The clock gets ahead by 1 ms per 65536
     * events in one millisecond, which real agents never reach. */
    if (ctr > HLC_CTR_MAX) {
        ms++;
        ctr = 0;
    }
    return ((ms & HLC_MS_MASK) << 16) | ctr;
}

uint64_t fs_hlc_tick(uint64_t *state, uint64_t wall_ms)
{
    uint64_t l = *state >> 16;
    uint64_t c = *state & HLC_CTR_MAX;
    uint64_t pt = wall_ms & HLC_MS_MASK;
    uint64_t next;

    if (pt > l)
        next = hlc_make(pt, 0);
    else
        next = hlc_make(l, c + 1);
    *state = next;
    return next;
}

void fs_hlc_observe(uint64_t *state, uint64_t remote, uint64_t wall_ms)
{
    uint64_t l = *state >> 16;
    uint64_t c = *state & HLC_CTR_MAX;
    uint64_t lm = remote >> 16;
    uint64_t cm = remote & HLC_CTR_MAX;
    uint64_t pt = wall_ms & HLC_MS_MASK;
    uint64_t nl = l;

    if (lm > nl)
        nl = lm;
    if (pt > nl)
        nl = pt;
    if (nl == l && nl == lm)
        *state = hlc_make(nl, (c > cm ? c : cm) + 1);
    else if (nl == l)
        *state = hlc_make(nl, c + 1);
    else if (nl == lm)
        *state = hlc_make(nl, cm + 1);
    else
        *state = hlc_make(nl, 0);
}

void fs_hlc_format(uint64_t hlc, char out[FS_HLC_TEXT_LEN + 1])
{
    snprintf(out, FS_HLC_TEXT_LEN + 1, "%016" PRIx64, hlc);
}

int fs_hlc_parse(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (s == NULL || out == NULL)
        return FS_EINVAL;
    /* Exactly 16 lower-case digits: one text per stamp, so stamps can be
     * compared as strings too. */
    for (i = 0; i < FS_HLC_TEXT_LEN; i++) {
        char c = s[i];

        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return FS_EMALFORMED;
    }
    if (s[FS_HLC_TEXT_LEN] != '\0')
        return FS_EMALFORMED;
    *out = v;
    return FS_OK;
}

int fs_hlc_cmp(uint64_t a, const char *dev_a, uint64_t b, const char *dev_b)
{
    int r;

    if (a != b)
        return a < b ? -1 : 1;
    r = strcmp(dev_a ? dev_a : "", dev_b ? dev_b : "");
    return (r > 0) - (r < 0);
}
