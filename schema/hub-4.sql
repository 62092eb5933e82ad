-- fieldsync hub database, schema version 4: the shared registry
-- (entities edited offline, field-level versions, conflicts).
--
-- An entity (schema/ENTITIES.md) is a set of fields, each versioned on
-- its own: version n+1 of a field is written on top of version n. Edits
-- from devices carry the version they had seen (their base); the merge
-- rules are in protocol/PROTOCOL.md section 7.

-- One row per entity. area is the value of the type's scope field (the
-- entity's own code for an area), kept here so scope checks need no
-- JSON. deleted: 1 once a delete was merged (see tombstones).
CREATE TABLE entities (
    id          TEXT PRIMARY KEY,         -- UUID made where it was created
    type        TEXT NOT NULL,            -- area, stakeholder, mechanism
    area        TEXT NOT NULL DEFAULT '',
    deleted     INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX entities_type_area ON entities (type, area);

-- The current version of each field. value is canonical JSON (never
-- NULL: a cleared field holds 'null'). device_id is '' for versions the
-- hub wrote itself (resolutions, admin imports).
CREATE TABLE entity_fields (
    entity_id   TEXT NOT NULL REFERENCES entities (id),
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    hlc         TEXT NOT NULL,
    device_id   TEXT NOT NULL DEFAULT '',
    collector   TEXT NOT NULL DEFAULT '',
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (entity_id, name)
);

-- Every version of every field, kept: who wrote what on top of which
-- version. origin: 'device', 'resolution' (an admin settled a conflict)
-- or 'admin' (an admin wrote it, e.g. areas imported from GeoJSON).
CREATE TABLE entity_versions (
    entity_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    base        INTEGER NOT NULL,
    value       TEXT NOT NULL,
    hlc         TEXT NOT NULL,
    device_id   TEXT NOT NULL DEFAULT '',
    collector   TEXT NOT NULL DEFAULT '',
    origin      TEXT NOT NULL DEFAULT 'device',
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (entity_id, name, version)
);
CREATE INDEX entity_versions_writer ON entity_versions (entity_id, device_id,
                                                        hlc);

-- Who deleted an entity, and when (the entities row stays, deleted = 1,
-- so a late edit from another device is recognised as edit-vs-delete).
CREATE TABLE tombstones (
    entity_id   TEXT PRIMARY KEY REFERENCES entities (id),
    device_id   TEXT NOT NULL DEFAULT '',
    collector   TEXT NOT NULL DEFAULT '',
    hlc         TEXT NOT NULL,
    received_ms INTEGER NOT NULL
);

-- Disagreements for an admin to settle. kind: 'field' (concurrent
-- different values of one field), 'delete' (a delete met an edit; field
-- is ''), 'submission' (an amendment whose base revision was no longer
-- current; ref is the submission id). At most one open conflict per
-- (kind, ref, field): a later competing value joins it.
CREATE TABLE conflicts (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    ref         TEXT NOT NULL,            -- entity or submission id
    field       TEXT NOT NULL DEFAULT '',
    area        TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'open',  -- 'open' or 'resolved'
    opened_ms   INTEGER NOT NULL,
    resolved_ms INTEGER,
    resolved_by TEXT,
    resolution  TEXT                      -- JSON: the value or choice
);
CREATE UNIQUE INDEX conflicts_one_open ON conflicts (kind, ref, field)
    WHERE status = 'open';
CREATE INDEX conflicts_status ON conflicts (status, id);

-- Every competing value of a conflict, numbered from 1 in arrival order.
-- value: canonical JSON of the field value; for 'delete' conflicts the
-- strings "delete" or "keep"; for 'submission' conflicts the revision's
-- answers. version: the field version it became (NULL when it never
-- was current); for submissions the revision number.
CREATE TABLE conflict_values (
    conflict_id INTEGER NOT NULL REFERENCES conflicts (id),
    n           INTEGER NOT NULL,
    value       TEXT NOT NULL,
    device_id   TEXT NOT NULL DEFAULT '',
    collector   TEXT NOT NULL DEFAULT '',
    hlc         TEXT NOT NULL,
    version     INTEGER,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (conflict_id, n)
);

-- Entity rows of the change log carry the entity's area, so a pull
-- gives a device only the entities of its areas.
ALTER TABLE change_log ADD COLUMN area TEXT;
