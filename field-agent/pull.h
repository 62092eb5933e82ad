/*
 * pull.h - taking what the hub has for this device (pull.c).
 */
#ifndef FA_PULL_H
#define FA_PULL_H

#include "sync.h"

/* Pulls the hub's change log after the device's cursor, page by page,
 * each page and the new cursor applied in one transaction. *hub_acked is
 * the sequence the hub says it acknowledged (last page), -1 if it did
 * not say. */
int fa__pull_all(fa__sync *s, int64_t *hub_acked);

#endif
