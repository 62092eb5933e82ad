/*
 * mapind.h - indicators and the wave-to-wave change of the mapping
 * dataset, computed here: the request is checked against its form, the
 * counted submissions within scope are read, and the indicator engine
 * (indicators.h) makes the table.
 *
 * Both return 0 with *out the caller's (cJSON_Delete), HUB_EBADINPUT
 * with a sentence in err, or HUB_ESTORAGE (errors.h).
 */
#ifndef HUB_MAPIND_H
#define HUB_MAPIND_H

#include <stddef.h>

#include <sqlite3.h>

#include "fs_form.h"
#include "fs_protocol.h"
#include "hub.h"
#include "indicators.h"

/* {"form", "indicator", "by", "k", ..., "cells": [...]}. */
int hub__indicators(sqlite3 *db, const hub_ind_request *req, const char *scope,
                    cJSON **out, char *err, size_t cap);
/* {..., "from", "to", "changes": [...]}: the change per area (and
 * category) from wave req->from to req->to. */
int hub__change(sqlite3 *db, const hub_ind_request *req, const char *scope,
                cJSON **out, char *err, size_t cap);

/* What indicators and the steward's offline indicators (sealind.c)
 * check alike. The k used: the request's text when it asks for more than
 * the hub's minimum (*min), else that minimum. */
int hub__ind_check_k(sqlite3 *db, const char *text, int *min, int *k, char *err,
                     size_t cap);
/* The spec and by field fit form f: mean of a number, share of a choice,
 * by a select_one. 0 or HUB_EBADINPUT with err. */
int hub__ind_check_fields(const fs_form *f, const hub_ind_spec *spec,
                          const char *by, char *err, size_t cap);

#endif
