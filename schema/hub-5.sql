-- fieldsync hub database, schema version 5: the mapping dataset (waves,
-- quotas; areas through the registry). See schema/INDICATORS.md.
--
-- Waves are a hub-side decision: the wire format of submissions does not
-- name one. A submission belongs to the wave whose dates hold the day it
-- was first recorded, unless an admin assigned it to another wave.

-- A named round of collection: [start_ms, end_ms) in UTC, from the
-- inclusive dates start_date..end_date (YYYY-MM-DD). Waves never overlap,
-- so the wave of a date is unambiguous.
CREATE TABLE waves (
    name        TEXT PRIMARY KEY,         -- e.g. 'baseline', 'remap-2027'
    title       TEXT NOT NULL DEFAULT '',
    start_date  TEXT NOT NULL,
    end_date    TEXT NOT NULL,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    CHECK (start_ms < end_ms)
);
CREATE INDEX waves_start ON waves (start_ms);

-- An admin's choice of wave for one submission (every revision of it),
-- overriding the dates: late interviews of a baseline, a pilot.
CREATE TABLE wave_assignments (
    submission_id TEXT PRIMARY KEY,
    wave          TEXT NOT NULL REFERENCES waves (name),
    assigned_ms   INTEGER NOT NULL,
    actor         TEXT NOT NULL
);

-- Target counts per area x wave x form; stratum narrows a quota to the
-- submissions whose answers hold every field=value of a canonical JSON
-- object ('{}': all); device_id makes it a device's sub-quota ('': the
-- area's quota).
CREATE TABLE quotas (
    id          INTEGER PRIMARY KEY,
    area        TEXT NOT NULL,
    wave        TEXT NOT NULL REFERENCES waves (name),
    form_id     TEXT NOT NULL,
    stratum     TEXT NOT NULL DEFAULT '{}',
    device_id   TEXT NOT NULL DEFAULT '',
    target      INTEGER NOT NULL CHECK (target >= 0),
    updated_ms  INTEGER NOT NULL,
    UNIQUE (area, wave, form_id, stratum, device_id)
);

-- Areas of the city (city > district > neighbourhood) live in the
-- registry as entities of type 'area' (schema version 4): devices get
-- them like any entity. This view reads their current fields; geometry
-- is a GeoJSON geometry object as text.
CREATE VIEW mapping_areas AS
SELECT e.id, e.area AS code,
       (SELECT f.value ->> '$' FROM entity_fields f
        WHERE f.entity_id = e.id AND f.name = 'name') AS name,
       (SELECT f.value ->> '$' FROM entity_fields f
        WHERE f.entity_id = e.id AND f.name = 'parent') AS parent,
       (SELECT f.value ->> '$' FROM entity_fields f
        WHERE f.entity_id = e.id AND f.name = 'level') AS level,
       (SELECT f.value ->> '$' FROM entity_fields f
        WHERE f.entity_id = e.id AND f.name = 'geometry') AS geometry
FROM entities e
WHERE e.type = 'area' AND e.deleted = 0;

-- The newest revision of each submission, with its wave ('' when no wave
-- holds it) and the time it was first recorded. Coverage and indicators
-- leave out the rejected ones; exports keep them with their state.
CREATE VIEW mapping_submissions AS
SELECT s.rowid AS row_id, s.id, s.rev, s.form_id, s.form_version, s.area,
       s.device_id, s.collector, s.answers, s.review_state, s.received_ms,
       f.first_ms AS created_ms,
       coalesce(a.wave,
                (SELECT w.name FROM waves w
                 WHERE w.start_ms <= f.first_ms AND f.first_ms < w.end_ms),
                '') AS wave
FROM submissions s
JOIN (SELECT id, max(rev) AS rev, min(created_ms) AS first_ms
      FROM submissions GROUP BY id) f ON f.id = s.id AND f.rev = s.rev
LEFT JOIN wave_assignments a ON a.submission_id = s.id;
