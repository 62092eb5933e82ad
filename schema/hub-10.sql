-- fieldsync hub database, schema version 10: aggregates of the mapping dataset, kept in step
-- with the submissions by triggers so that coverage, indicator tables,
-- the change between waves and the map read a few thousand rows instead
-- of every submission. See schema/INDICATORS.md ("How the figures are
-- kept").
--
-- What a submission contributes is read from its row of the view
-- mapping_submissions (its newest revision and its wave), never worked
-- out again here: the view stays the one definition of both.

-- The fields whose answers the aggregates keep, per form: every field of
-- a type an indicator, a --by or a quota stratum can use (select_one,
-- select_multiple, likert, integer, decimal), in any stored version.
-- Never shrinks: a field kept that no version uses any more costs
-- nothing.
CREATE TABLE agg_fields (
    form_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (form_id, name)
) WITHOUT ROWID;

-- The same, read from the stored form definitions.
CREATE VIEW agg_form_fields AS
SELECT DISTINCT f.id AS form_id, j.value ->> '$.name' AS name
FROM forms f, json_tree(f.definition, '$.fields') j
WHERE j.type = 'object' AND j.value ->> '$.name' IS NOT NULL
  AND j.value ->> '$.type' IN ('select_one', 'select_multiple', 'likert',
                               'integer', 'decimal');

-- What one counted submission (newest revision, in a wave, not
-- rejected) contributes: its form, wave, area, device and its answers to
-- the kept fields, as a JSON object of the same values (a decimal number
-- as the stored answer spells it). Submissions with the same five values
-- share a cell. One pass of json_each over the answers (reading each
-- answer with -> would parse them again per field), one look-up of each
-- key (an IN list would be built again per key).
CREATE VIEW agg_contributions AS
SELECT m.id, m.form_id, m.wave, m.area, m.device_id,
       coalesce('{' || (SELECT group_concat(json_quote(j.key) || ':' ||
                                            CASE j.type
                                            WHEN 'text' THEN json_quote(j.value)
                                            WHEN 'integer' THEN j.value
                                            WHEN 'true' THEN 'true'
                                            WHEN 'false' THEN 'false'
                                            WHEN 'null' THEN 'null'
                                            WHEN 'real' THEN m.answers -> j.fullkey
                                            ELSE j.value END, ',')
                        FROM json_each(m.answers) j
                        WHERE EXISTS (SELECT 1 FROM agg_fields a
                                      WHERE a.form_id = m.form_id
                                        AND a.name = j.key)) || '}',
                '{}') AS answers
FROM mapping_submissions m
WHERE m.review_state <> 'rejected' AND m.wave <> '';

-- The cells: n counted submissions of form x wave x area x device with
-- exactly these kept answers. A cell may reach n = 0 and is then
-- removed.
CREATE TABLE agg_cells (
    id        INTEGER PRIMARY KEY,
    form_id   TEXT NOT NULL,
    wave      TEXT NOT NULL,
    area      TEXT NOT NULL,
    device_id TEXT NOT NULL,
    answers   TEXT NOT NULL,
    n         INTEGER NOT NULL CHECK (n >= 0),
    UNIQUE (form_id, wave, area, device_id, answers)
);

-- The cell each counted submission is counted in, so that a change takes
-- exactly its old contribution away.
CREATE TABLE agg_members (
    submission_id TEXT PRIMARY KEY,
    cell          INTEGER NOT NULL
) WITHOUT ROWID;

-- The same counts per single answer: n counted submissions of form x
-- wave x area x device whose answer to field is value (the answer's JSON
-- text), and under field '' (value '') all of them. A table of one field
-- (no --by), the map and a quota without a stratum or with one field in
-- it read these: their size does not grow with the number of kept
-- fields. Rows may reach n = 0 and stay until a rebuild.
CREATE TABLE agg_answers (
    form_id   TEXT NOT NULL,
    wave      TEXT NOT NULL,
    area      TEXT NOT NULL,
    device_id TEXT NOT NULL,
    field     TEXT NOT NULL,
    value     TEXT NOT NULL,
    n         INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (form_id, field, wave, area, device_id, value)
) WITHOUT ROWID;

-- A cell's answers one by one (spelled as in agg_contributions). Not a
-- compound view: SQLite flattens it, so a look-up of one cell reads one.
CREATE VIEW agg_cell_answers AS
SELECT c.id AS cell, c.form_id, c.wave, c.area, c.device_id, c.n,
       j.key AS field,
       CAST(CASE j.type
            WHEN 'text' THEN json_quote(j.value)
            WHEN 'integer' THEN j.value
            WHEN 'true' THEN 'true'
            WHEN 'false' THEN 'false'
            WHEN 'null' THEN 'null'
            WHEN 'real' THEN c.answers -> j.fullkey
            ELSE j.value END AS TEXT) AS value
FROM agg_cells c, json_each(c.answers) j;

-- The contribution being counted, read from the view once per refresh
-- (it is used twice); always empty between statements.
CREATE TABLE agg_pending (
    id        TEXT NOT NULL,
    form_id   TEXT NOT NULL,
    wave      TEXT NOT NULL,
    area      TEXT NOT NULL,
    device_id TEXT NOT NULL,
    answers   TEXT NOT NULL
);

-- INSERT INTO agg_refresh VALUES (ID): counts submission ID again from
-- the view (takes its old contribution away, adds the new one, if any).
CREATE VIEW agg_refresh (submission_id) AS SELECT '' WHERE 0;
CREATE TRIGGER agg_refresh_one INSTEAD OF INSERT ON agg_refresh
BEGIN
    UPDATE agg_answers SET n = n - 1
    WHERE (form_id, field, wave, area, device_id, value) IN
          (SELECT form_id, field, wave, area, device_id, value
           FROM agg_cell_answers
           WHERE cell = (SELECT cell FROM agg_members
                         WHERE submission_id = NEW.submission_id));
    UPDATE agg_answers SET n = n - 1
    WHERE field = '' AND value = ''
      AND (form_id, wave, area, device_id) IN
          (SELECT form_id, wave, area, device_id FROM agg_cells
           WHERE id = (SELECT cell FROM agg_members
                       WHERE submission_id = NEW.submission_id));
    UPDATE agg_cells SET n = n - 1
    WHERE id = (SELECT cell FROM agg_members
                WHERE submission_id = NEW.submission_id);
    DELETE FROM agg_cells
    WHERE n = 0 AND id = (SELECT cell FROM agg_members
                          WHERE submission_id = NEW.submission_id);
    DELETE FROM agg_members WHERE submission_id = NEW.submission_id;
    INSERT INTO agg_pending (id, form_id, wave, area, device_id, answers)
    SELECT id, form_id, wave, area, device_id, answers
    FROM agg_contributions WHERE id = NEW.submission_id;
    INSERT INTO agg_cells (form_id, wave, area, device_id, answers, n)
    SELECT form_id, wave, area, device_id, answers, 1 FROM agg_pending
    WHERE true ON CONFLICT (form_id, wave, area, device_id, answers)
    DO UPDATE SET n = n + 1;
    INSERT INTO agg_members (submission_id, cell)
    SELECT k.id, c.id FROM agg_pending k
    JOIN agg_cells c ON c.form_id = k.form_id AND c.wave = k.wave
     AND c.area = k.area AND c.device_id = k.device_id
     AND c.answers = k.answers;
    INSERT INTO agg_answers (form_id, wave, area, device_id, field, value, n)
    SELECT form_id, wave, area, device_id, field, value, 1
    FROM agg_cell_answers
    WHERE cell = (SELECT cell FROM agg_members
                  WHERE submission_id = NEW.submission_id)
    ON CONFLICT (form_id, field, wave, area, device_id, value)
    DO UPDATE SET n = n + 1;
    INSERT INTO agg_answers (form_id, wave, area, device_id, field, value, n)
    SELECT form_id, wave, area, device_id, '', '', 1 FROM agg_cells
    WHERE id = (SELECT cell FROM agg_members
                WHERE submission_id = NEW.submission_id)
    ON CONFLICT (form_id, field, wave, area, device_id, value)
    DO UPDATE SET n = n + 1;
    DELETE FROM agg_pending;
END;

-- INSERT INTO agg_rebuild VALUES (NULL): counts everything again from the
-- view (a wave redated, a form version keeping a new field).
CREATE VIEW agg_rebuild (why) AS SELECT '' WHERE 0;
CREATE TRIGGER agg_rebuild_all INSTEAD OF INSERT ON agg_rebuild
BEGIN
    INSERT INTO agg_fields (form_id, name)
    SELECT f.form_id, f.name FROM agg_form_fields f
    WHERE NOT EXISTS (SELECT 1 FROM agg_fields a
                      WHERE a.form_id = f.form_id AND a.name = f.name);
    DELETE FROM agg_members;
    DELETE FROM agg_cells;
    INSERT INTO agg_cells (form_id, wave, area, device_id, answers, n)
    SELECT form_id, wave, area, device_id, answers, count(*)
    FROM agg_contributions GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO agg_members (submission_id, cell)
    SELECT k.id, c.id FROM agg_contributions k
    JOIN agg_cells c ON c.form_id = k.form_id AND c.wave = k.wave
     AND c.area = k.area AND c.device_id = k.device_id
     AND c.answers = k.answers;
    DELETE FROM agg_answers;
    INSERT INTO agg_answers (form_id, wave, area, device_id, field, value, n)
    SELECT form_id, wave, area, device_id, field, value, sum(n)
    FROM agg_cell_answers GROUP BY 1, 2, 3, 4, 5, 6;
    INSERT INTO agg_answers (form_id, wave, area, device_id, field, value, n)
    SELECT form_id, wave, area, device_id, '', '', sum(n)
    FROM agg_cells GROUP BY 1, 2, 3, 4;
END;

-- (No INSERT OR IGNORE in these triggers: an outer upsert, such as
-- `wave add` redating a wave, would turn it into an abort.)

-- Every write that can change a submission's row of mapping_submissions
-- or whether it counts, whichever code path makes it (merge, review,
-- correction, import): a revision stored, a review state set, a wave
-- assigned or taken back.
CREATE TRIGGER agg_submission_insert AFTER INSERT ON submissions
BEGIN
    INSERT INTO agg_refresh VALUES (NEW.id);
END;
CREATE TRIGGER agg_submission_update AFTER UPDATE ON submissions
BEGIN
    INSERT INTO agg_refresh VALUES (NEW.id);
    INSERT INTO agg_refresh SELECT OLD.id WHERE OLD.id <> NEW.id;
END;
CREATE TRIGGER agg_submission_delete AFTER DELETE ON submissions
BEGIN
    INSERT INTO agg_refresh VALUES (OLD.id);
END;
CREATE TRIGGER agg_assignment_insert AFTER INSERT ON wave_assignments
BEGIN
    INSERT INTO agg_refresh VALUES (NEW.submission_id);
END;
CREATE TRIGGER agg_assignment_update AFTER UPDATE ON wave_assignments
BEGIN
    INSERT INTO agg_refresh VALUES (NEW.submission_id);
    INSERT INTO agg_refresh SELECT OLD.submission_id
    WHERE OLD.submission_id <> NEW.submission_id;
END;
CREATE TRIGGER agg_assignment_delete AFTER DELETE ON wave_assignments
BEGIN
    INSERT INTO agg_refresh VALUES (OLD.submission_id);
END;

-- A wave added, redated, renamed or removed moves submissions between
-- waves: everything is counted again (a rare admin action; a title
-- changed alone costs nothing).
CREATE TRIGGER agg_wave_insert AFTER INSERT ON waves
BEGIN
    INSERT INTO agg_rebuild VALUES ('wave added');
END;
CREATE TRIGGER agg_wave_update AFTER UPDATE ON waves
WHEN OLD.name IS NOT NEW.name OR OLD.start_ms IS NOT NEW.start_ms
  OR OLD.end_ms IS NOT NEW.end_ms
BEGIN
    INSERT INTO agg_rebuild VALUES ('wave redated');
END;
CREATE TRIGGER agg_wave_delete AFTER DELETE ON waves
BEGIN
    INSERT INTO agg_rebuild VALUES ('wave removed');
END;

-- A form version that keeps a field no earlier version kept: the stored
-- submissions of that form may answer it, so everything is counted again
-- (only when the form has submissions already).
CREATE TRIGGER agg_form_insert AFTER INSERT ON forms
BEGIN
    INSERT INTO agg_rebuild SELECT 'form field kept'
    WHERE EXISTS (SELECT 1 FROM submissions WHERE form_id = NEW.id)
      AND EXISTS (SELECT 1 FROM agg_form_fields f
                  WHERE f.form_id = NEW.id AND NOT EXISTS
                        (SELECT 1 FROM agg_fields a
                         WHERE a.form_id = f.form_id AND a.name = f.name));
    INSERT INTO agg_fields (form_id, name)
    SELECT f.form_id, f.name FROM agg_form_fields f
    WHERE f.form_id = NEW.id AND NOT EXISTS
          (SELECT 1 FROM agg_fields a
           WHERE a.form_id = f.form_id AND a.name = f.name);
END;

-- The aggregates of what is stored already.
INSERT INTO agg_rebuild VALUES ('schema upgrade');
