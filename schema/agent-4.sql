-- fieldsync agent database, schema version 4: the shared registry held on
-- the device (entities and their field versions), and the entity edits
-- made here, waiting in the outbox.

-- Entities of this device's areas, as last pulled or edited here.
CREATE TABLE entities (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    area        TEXT NOT NULL DEFAULT '',
    deleted     INTEGER NOT NULL DEFAULT 0,
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX entities_type_area ON entities (type, area);

-- Field values shown on the device. version is the hub version the
-- value is based on (0: written here, never seen from the hub); a local
-- edit keeps it and sends it as its base.
CREATE TABLE entity_fields (
    entity_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,            -- canonical JSON
    version     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entity_id, name)
);

-- Entity edits made on this device, one per outbox row (outbox.kind =
-- 'entity', ref_id = entity id, ref_rev = entity_changes.id). fields is
-- {"name": {"base": n, "value": v}} exactly as sent. state: 'queued'
-- until the hub acknowledges, then 'sent' or 'refused'.
CREATE TABLE entity_changes (
    id          INTEGER PRIMARY KEY,
    entity_id   TEXT NOT NULL,
    type        TEXT NOT NULL,
    op          TEXT NOT NULL,            -- new, set, delete
    fields      TEXT NOT NULL,
    collector   TEXT NOT NULL DEFAULT '',
    hlc         TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    state       TEXT NOT NULL DEFAULT 'queued',
    hub_status  TEXT NOT NULL DEFAULT '',
    hub_error   TEXT NOT NULL DEFAULT '',
    hub_message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX entity_changes_entity ON entity_changes (entity_id, state);
