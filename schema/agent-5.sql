-- fieldsync agent database, schema version 5: the quotas a hub admin
-- set for this device (sub-quotas, pull kind "quota"), counted offline
-- against the submissions recorded here.
--
-- id is the hub's quota id: a quota set again replaces its row. A
-- submission counts toward a quota when it is for the quota's form and
-- area, was first recorded within [start_ms, end_ms) (the wave's dates),
-- holds every field=value of stratum and was not rejected by the hub.
CREATE TABLE quotas (
    id          INTEGER PRIMARY KEY,
    area        TEXT NOT NULL,
    wave        TEXT NOT NULL,
    form_id     TEXT NOT NULL,
    stratum     TEXT NOT NULL DEFAULT '{}',
    target      INTEGER NOT NULL,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER NOT NULL
);
