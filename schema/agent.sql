-- fieldsync agent (device) database, schema version 1.
-- Applied by the migration runner (schema/migrate.c) inside one
-- transaction; later versions add agent-N.sql files.

-- Settings and sync state: hub_url, device_id, token, collector,
-- hlc (last stamp, hex), acked_seq (last outbox sequence the hub
-- acknowledged), cursor (last hub change-log sequence applied),
-- last_sync_ms, last_sync_outcome.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Forms pulled from the hub, every version (a submission names the exact
-- version it was made with).
CREATE TABLE forms (
    id         TEXT NOT NULL,
    version    INTEGER NOT NULL,
    title      TEXT NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (id, version)
);

-- Finalized submissions, one row per revision. state: 'queued' until the
-- hub acknowledges it, then 'sent'; 'refused' when the hub refused it
-- (quarantined, hub_error/hub_message say why).
CREATE TABLE submissions (
    id           TEXT NOT NULL,
    rev          INTEGER NOT NULL,
    base_rev     INTEGER NOT NULL DEFAULT 0,
    form_id      TEXT NOT NULL,
    form_version INTEGER NOT NULL,
    area         TEXT NOT NULL DEFAULT '',
    collector    TEXT NOT NULL DEFAULT '',
    hlc          TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    answers      TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'queued',
    hub_status   TEXT NOT NULL DEFAULT '',
    hub_error    TEXT NOT NULL DEFAULT '',
    hub_message  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (id, rev)
);

-- Transactional outbox: one row per change, written in the same
-- transaction as the change itself. seq is gap-free per device. Rows are
-- kept after acknowledgement so that a hub restored from an older backup
-- can be sent them again.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,             -- 'submission'
    ref_id     TEXT NOT NULL,             -- submissions.id
    ref_rev    INTEGER NOT NULL,          -- submissions.rev
    created_ms INTEGER NOT NULL
);
