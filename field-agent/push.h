/*
 * push.h - sending the outbox to the hub (push.c).
 */
#ifndef FA_PUSH_H
#define FA_PUSH_H

#include "sync.h"

/* Sends every outbox row after the acknowledged sequence in changesets,
 * one at a time until a push of this sync is acknowledged, then two in
 * flight (pipeline.h) when s->h2 is set; realigns the sequence when the
 * hub answers 409 with its own. FA_OK when everything was acknowledged;
 * what was acknowledged before a failure is kept. */
int fa__push_all(fa__sync *s);

#endif
