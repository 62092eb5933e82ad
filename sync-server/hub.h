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

#include <stdio.h>

typedef struct hub_serve_options {
    const char *db_path;   /* default "fieldsync-hub.db" */
    const char *listen;    /* HOST:PORT, default "127.0.0.1:8080"; port 0
                              lets the OS choose */
    int threads;           /* worker threads, default 16 */
    const char *port_file; /* when set, the bound port is written here
                              once the hub serves */
    double rate_limit;     /* requests a second per device or token
                              (bursts of twice that); 0: no limit */
    int request_timeout_s; /* a read or write that stalls this long ends
                              the connection; default 60 */
} hub_serve_options;

/* Serves until SIGINT or SIGTERM, then lets in-flight requests finish and
 * closes the database. */
int hub_serve(const hub_serve_options *opt);

/* Admin commands. Each opens db_path (created if missing). */
/* areas, forms: "*" or codes separated by commas. */
int hub_enroll_code(const char *db_path, const char *name, const char *role,
                    const char *areas, const char *forms,
                    double expires_hours, FILE *out);
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
int hub_device_scope(const char *db_path, const char *device,
                     const char *areas, const char *forms, FILE *out);
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
int hub_devices(const char *db_path, int json, FILE *out);
int hub_stats(const char *db_path, int json, FILE *out);

#endif
