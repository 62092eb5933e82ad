-- fieldsync hub database, schema version 1.
-- Applied by the migration runner (schema/migrate.c) inside one
-- transaction; later versions add hub-N.sql files, never edit this one.

-- One-time enrolment codes. Only a hash of each code is stored.
CREATE TABLE enrol_codes (
    code_hash   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,            -- device name the admin chose
    role        TEXT NOT NULL DEFAULT 'enumerator',
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    used_ms     INTEGER,                  -- NULL until used (single use)
    device_id   TEXT                      -- the device it enrolled
);

-- Enrolled devices. token_hash is SHA-256 of the bearer token; the token
-- itself is never stored. acked_seq is the last outbox sequence of the
-- device that the hub has merged and acknowledged (gap-free).
CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    enrolled_ms  INTEGER NOT NULL,
    revoked_ms   INTEGER,
    acked_seq    INTEGER NOT NULL DEFAULT 0,
    last_seen_ms INTEGER,
    last_push_ms INTEGER
);

-- One row per merged changeset: (device, first_seq, last_seq) names it,
-- digest is SHA-256 of its JSON, reply the exact answer we gave. A replay
-- with the same name and digest gets the same answer and changes nothing.
CREATE TABLE receipts (
    device_id   TEXT NOT NULL,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    digest      TEXT NOT NULL,
    reply       TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, first_seq, last_seq)
);

-- Published form versions. A published version never changes.
CREATE TABLE forms (
    id           TEXT NOT NULL,
    version      INTEGER NOT NULL,
    title        TEXT NOT NULL,
    definition   TEXT NOT NULL,           -- canonical JSON
    digest       TEXT NOT NULL,
    published_ms INTEGER NOT NULL,
    PRIMARY KEY (id, version)
);

-- Merged submissions, one row per revision.
CREATE TABLE submissions (
    id           TEXT NOT NULL,           -- UUIDv7 from the device
    rev          INTEGER NOT NULL,
    base_rev     INTEGER NOT NULL DEFAULT 0,
    form_id      TEXT NOT NULL,
    form_version INTEGER NOT NULL,
    area         TEXT NOT NULL DEFAULT '',
    device_id    TEXT NOT NULL,
    collector    TEXT NOT NULL DEFAULT '',
    hlc          TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    received_ms  INTEGER NOT NULL,
    answers      TEXT NOT NULL,           -- canonical JSON object
    digest       TEXT NOT NULL,           -- SHA-256 of the content
    UNIQUE (id, rev)
);
CREATE INDEX submissions_form ON submissions (form_id, form_version);
CREATE INDEX submissions_area ON submissions (area);

-- Nothing a device sent is silently dropped: a submission that reuses an
-- id with other content, or that the hub refused, is kept here with the
-- reason so an admin can see it.
CREATE TABLE held_changes (
    id          INTEGER PRIMARY KEY,
    device_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    outcome     TEXT NOT NULL,            -- 'divergent' or 'refused'
    error       TEXT NOT NULL DEFAULT '',
    message     TEXT NOT NULL DEFAULT '',
    change      TEXT NOT NULL,            -- the change as received (JSON)
    received_ms INTEGER NOT NULL
);

-- What devices pull, in one order. sseq is the cursor agents keep.
CREATE TABLE change_log (
    sseq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,            -- 'form'
    ref         TEXT NOT NULL,            -- e.g. 'resilience_baseline@2'
    payload     TEXT NOT NULL,            -- JSON the agent applies
    created_ms  INTEGER NOT NULL
);
