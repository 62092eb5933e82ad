/*
 * hub.h - the fieldsync hub: a CivetWeb HTTP server on SQLite that merges
 * changesets from field agents into the central mapping dataset, plus the
 * admin commands that work on the same database file.
 *
 * All functions return 0 on success and a non-zero exit status on failure,
 * after printing what went wrong and what to do to stderr.
 */
#ifndef HUB_H
#define HUB_H

#include <stdint.h>
#include <stdio.h>

typedef struct hub_serve_options {
    const char *db_path;    /* default "fieldsync-hub.db" */
    const char *listen;     /* HOST:PORT, default "127.0.0.1:8080"; port 0
                              lets the OS choose */
    int threads;            /* worker threads, default 16 */
    const char *port_file;  /* when set, the bound port is written here
                              once the hub serves */
    double rate_limit;      /* requests a second per device or token
                              (bursts of twice that); 0: no limit */
    int request_timeout_s;  /* a read or write that stalls this long ends
                              the connection; default 60 */
    const char *public_url; /* the hub's address as devices reach it
                               (e.g. behind the TLS terminator), for the
                               URLs of the OpenRosa form list; NULL:
                               from each request's Host */
    /* Refused changes kept for an admin, per device: past either bound
     * a push that would hold more is refused whole (nothing of it
     * stored). 0 takes the default (HUB_HELD_* in merge.h). */
    long long held_max;       /* changes */
    long long held_max_bytes; /* bytes of the changes as received */
    int held_days;            /* older ones are dropped */
    /* Attachments (blobguard.h): bytes of files one device may have at
     * the hub, and bytes the disk of blobs/ keeps free. 0 takes the
     * default (HUB_ATTACH_* in blobguard.h). */
    long long attach_quota;
    long long attach_floor;
} hub_serve_options;

/* Serves until SIGINT or SIGTERM, then lets in-flight requests finish and
 * closes the database. */
int hub_serve(const hub_serve_options *opt);

/* Admin commands. Each opens db_path (created if missing). */
typedef struct hub_enroll_req {
    const char *name;  /* the device's name (NULL: "device") */
    const char *role;  /* outreach, enumerator (devices), admin, reviewer */
    const char *areas; /* "*" or codes separated by commas */
    const char *forms; /* "*" or form ids separated by commas */
    double expires_hours;
    /* The hub's address as devices reach it, for an ODK Collect device;
     * NULL for an ordinary code. */
    const char *collect_url;
    /* With collect_url: also write Collect's settings QR code as a PNG
     * here (mode 0600: it holds the device's token) ... */
    const char *qr_png;
    /* ... and draw it on out after the URL. */
    int qr_text;
} hub_enroll_req;
/* Prints a one-time enrolment code. With collect_url the code is claimed
 * at once and the ODK Collect server URL of the new device,
 * collect_url/openrosa/key/<token>, is printed instead (and its QR code
 * as asked). */
int hub_enroll_code(const char *db_path, const hub_enroll_req *req, FILE *out);
/* API tokens for people: role admin or reviewer. Prints the secret once. */
int hub_token_create(const char *db_path, const char *role, const char *name,
                     const char *areas, FILE *out);
int hub_token_list(const char *db_path, int json, FILE *out);
/* what: "device" or "token"; id: its id (or a token's name). */
int hub_revoke(const char *db_path, const char *what, const char *id,
               FILE *out);
/* Marks a submission received, has_issues, approved or rejected. */
int hub_review(const char *db_path, const char *id, const char *state,
               const char *comment, FILE *out);
/* Changes a device's areas and/or forms (NULL: unchanged). */
int hub_device_scope(const char *db_path, const char *device, const char *areas,
                     const char *forms, FILE *out);
/* Registry conflicts: open ones (all: resolved too), as text or JSON. */
int hub_conflicts(const char *db_path, int all, int json, FILE *out);
/* Settles conflict id_text ("7" or "#7") with a typed value or by
 * choosing listed value number choose (exactly one of them). */
int hub_resolve(const char *db_path, const char *id_text, const char *value,
                const char *choose, FILE *out);
/* Possible duplicate respondents: submissions of one form with the same
 * dedupe key. Lists only; nothing is dropped. */
int hub_duplicates(const char *db_path, int json, FILE *out);
/* An admin correction: answers_file becomes the next revision. */
int hub_correct(const char *db_path, const char *id, const char *answers_file,
                FILE *out);
/* Writes fields (a JSON object) of entity id of type, or of a new one
 * when id is NULL; prints the entity id. */
int hub_entity_put(const char *db_path, const char *type, const char *id,
                   const char *fields_json, FILE *out);
int hub_form_publish(const char *db_path, const char *file, FILE *out);
/* The same for a definition already in memory, text[0..len); file names
 * it in messages. */
int hub_form_publish_json(const char *db_path, const char *file,
                          const char *text, size_t len, FILE *out);
int hub_devices(const char *db_path, int json, FILE *out);
/* Changes held for review (refused or divergent), per device; with
 * device set, clears that device's (audited) so its pushes are taken
 * again. */
int hub_held(const char *db_path, const char *device, FILE *out);
int hub_stats(const char *db_path, int json, FILE *out);

/* The mapping dataset (mapcli.c). format: 0 text, 1 JSON, 2 CSV. Dates
 * are YYYY-MM-DD, inclusive. Exit status 2 means bad input, nothing
 * changed. */
int hub_wave_add(const char *db_path, const char *name, const char *title,
                 const char *start, const char *end, FILE *out);
int hub_wave_list(const char *db_path, int format, FILE *out);
int hub_wave_assign(const char *db_path, const char *wave, const char *id,
                    FILE *out);
/* stratum: "FIELD=VALUE,..." or NULL; device: a sub-quota's device id or
 * NULL. */
int hub_quota_set(const char *db_path, const char *area, const char *wave,
                  const char *form, const char *stratum, const char *device,
                  long long target, FILE *out);
int hub_quota_list(const char *db_path, const char *wave, int format,
                   FILE *out);
int hub_coverage(const char *db_path, const char *wave, int format, FILE *out);

/* An indicator table or a change between waves (mapind.c). Strings may be
 * NULL when not given; k is text so that a bad value gets a clear error. */
typedef struct hub_ind_request {
    const char *form;
    const char *indicator; /* count | mean:FIELD | share:FIELD=CODE|... */
    const char *by;        /* select_one field to disaggregate by */
    const char *wave;      /* indicators: one wave (NULL: all) */
    const char *from, *to; /* change: the two waves */
    const char *k;         /* smallest cell shown; never below the hub's
                              configured minimum (settings.h) */
    int admin; /* 1: may aggregate personal and sensitive fields (the CLI,
                  an admin token); 0 (the default) may not */
} hub_ind_request;

int hub_indicators(const char *db_path, const hub_ind_request *req, int format,
                   FILE *out);
int hub_change(const char *db_path, const hub_ind_request *req, int format,
               FILE *out);

/* Exports (export.c). Streams to out_path ("-" or NULL: stdout); shows
 * progress on stderr when it is a terminal. */
enum {
    HUB_EXPORT_CSV = 1,    /* a form version's submissions, one a row */
    HUB_EXPORT_JSON,       /* a form's submissions */
    HUB_EXPORT_AREAS,      /* GeoJSON areas, with an indicator's values */
    HUB_EXPORT_MECHANISMS, /* GeoJSON points */
};

/* Called every 1000 rows and once at the end (end = 1); total is 0 when
 * not known. */
typedef void (*hub_export_progress)(int64_t done, int64_t total, int end);

typedef struct hub_export_req {
    int kind;              /* HUB_EXPORT_* */
    const char *form;      /* csv, json; mechanisms (default
                              mechanism_mapping); areas with indicator */
    const char *version;   /* csv: default the newest; json: all */
    const char *labels;    /* csv: a language for choice labels */
    int personal;          /* include personal and sensitive fields */
    const char *indicator; /* areas: indicator spec */
    const char *wave;      /* areas: the indicator's wave */
    const char *k;         /* areas: smallest cell shown (never below the
                              hub's configured minimum) */
    hub_export_progress progress;
    int raw_cells; /* csv: no formula neutralisation (hub__sink_csv) */
    int admin;     /* areas: 1 when the indicator may be on a personal or
                  sensitive field (the CLI, an admin token) */
    /* csv, json: a steward's key file (seal.h) to open sealed answers
     * with, offline, on the CLI only; the passphrase comes from
     * pass_fd (>= 0) or the terminal. The export is refused whole when
     * one submission does not open. */
    const char *key;
    int pass_fd;
    const struct hub_steward *steward; /* opened from key (export.c) */
} hub_export_req;

int hub_export(const char *db_path, const hub_export_req *req,
               const char *out_path);
/* `export media` (exportmedia.c): the files of req->form's image, audio
 * and file fields as a zip to out_path ("-": stdout); req->version,
 * req->personal as for the CSV. */
int hub_export_media(const char *db_path, const hub_export_req *req,
                     const char *out_path);

/* Areas (areas.c): imports a GeoJSON FeatureCollection whose features
 * have properties code, name and parent (a city has none) and a
 * Polygon, MultiPolygon or Point geometry. A bad file is refused as a
 * whole, naming the feature and the reason; nothing changes. */
int hub_areas_import(const char *db_path, const char *file, FILE *out);
int hub_areas_list(const char *db_path, int format, FILE *out);
/* `areas levels [LIST]`: prints the level names, or sets them (top
 * first, e.g. "province,district,ward,village"; at most 8) and renames
 * the stored areas' levels by their depth, all or nothing. 0, 1 on a
 * storage error, 2 on a bad list or an area deeper than the levels. */
int hub_areas_levels(const char *db_path, const char *text, FILE *out);

#endif
