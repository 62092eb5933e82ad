-- fieldsync hub database, schema version 2: who may do what.
--
-- Scopes are lists of area codes or form ids joined by commas, or '*' for
-- all. Area codes and form ids cannot contain commas (PROTOCOL.md 3).

-- An enrolment code binds the device it enrols to a role and a scope.
ALTER TABLE enrol_codes ADD COLUMN areas TEXT NOT NULL DEFAULT '*';
ALTER TABLE enrol_codes ADD COLUMN forms TEXT NOT NULL DEFAULT '*';

-- A device records only for its areas and receives only its forms.
ALTER TABLE devices ADD COLUMN areas TEXT NOT NULL DEFAULT '*';
ALTER TABLE devices ADD COLUMN forms TEXT NOT NULL DEFAULT '*';

-- A change-log row with device_id set is for that device alone (its scope
-- changed, or a form newly assigned to it); NULL is for every device
-- whose scope covers it.
ALTER TABLE change_log ADD COLUMN device_id TEXT;
CREATE INDEX change_log_device ON change_log (device_id, sseq);

-- Tokens for people using the admin API (hub admins and reviewers). Only
-- a SHA-256 hash of each token is stored.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,            -- 'admin' or 'reviewer'
    areas       TEXT NOT NULL DEFAULT '*',
    token_hash  TEXT NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER
);

-- What admins did and what sensitive data was read, in order.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at_ms   INTEGER NOT NULL,
    actor   TEXT NOT NULL,                -- 'cli' or 'token:<name>'
    action  TEXT NOT NULL,                -- e.g. 'device.revoke'
    detail  TEXT NOT NULL DEFAULT '{}'    -- JSON
);
