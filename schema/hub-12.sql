-- fieldsync hub database, schema version 12: joint counts per pair of
-- answers, so that an indicator table `--by` a field reads a few thousand
-- rows at a million submissions even when every submission is its own
-- cell (schema/INDICATORS.md, "How the figures are kept"). Kept by the
-- same refresh as the counts per answer (schema/hub-10.sql).

-- The fields a table may be split by quickly, per form (the by fields):
-- those of agg_by_form_fields below. A --by outside them reads the cells
-- and stays exact; these only make it fast.
CREATE TABLE agg_by_fields (
    form_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (form_id, name)
) WITHOUT ROWID;

-- The by fields an admin chose for a form (`fieldsync-hub aggregates
-- by`), to bound the write cost of a form with many select_one fields:
-- each by field costs a joint count per kept answer of every counted
-- submission. A form with none here has every field it may have.
CREATE TABLE agg_by_chosen (
    form_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (form_id, name)
) WITHOUT ROWID;

-- The fields that may be by fields, read from the stored form
-- definitions: select_one in some version, and never personal, sensitive
-- or sealed in any (a --by refuses those).
CREATE VIEW agg_by_eligible AS
SELECT s.form_id, s.name
FROM (SELECT DISTINCT f.id AS form_id, j.value ->> '$.name' AS name
      FROM forms f, json_tree(f.definition, '$.fields') j
      WHERE j.type = 'object' AND j.value ->> '$.name' IS NOT NULL
        AND j.value ->> '$.type' = 'select_one') s
WHERE NOT EXISTS (SELECT 1 FROM forms g, json_tree(g.definition, '$.fields') k
                  WHERE g.id = s.form_id AND k.type = 'object'
                    AND k.value ->> '$.name' = s.name
                    AND (k.value ->> '$.personal' IS 1
                         OR k.value ->> '$.sensitive' IS 1
                         OR k.value ->> '$.sealed' IS 1));

-- The by fields, from the definitions and the admin's choice.
CREATE VIEW agg_by_form_fields AS
SELECT e.form_id, e.name FROM agg_by_eligible e
WHERE NOT EXISTS (SELECT 1 FROM agg_by_chosen c WHERE c.form_id = e.form_id)
   OR EXISTS (SELECT 1 FROM agg_by_chosen c
              WHERE c.form_id = e.form_id AND c.name = e.name);

-- The pairs: n counted submissions of form x wave x area whose answer to
-- by_field is by_value ('' when not answered) and whose answer to field
-- is value (both the answers' JSON text, as in agg_answers), and under
-- field '' (value '') all of them per by_value. No device: no reader
-- splits a --by table by device. Rows may reach n = 0 and stay until a
-- rebuild.
CREATE TABLE agg_pairs (
    form_id  TEXT NOT NULL,
    by_field TEXT NOT NULL,
    field    TEXT NOT NULL,
    wave     TEXT NOT NULL,
    area     TEXT NOT NULL,
    value    TEXT NOT NULL,
    by_value TEXT NOT NULL,
    n        INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (form_id, by_field, field, wave, area, value, by_value)
) WITHOUT ROWID;

-- A cell's answer to each of its form's by fields.
CREATE VIEW agg_cell_by AS
SELECT c.id AS cell, c.form_id, c.wave, c.area, c.n, b.name AS by_field,
       coalesce(c.answers -> ('$.' || b.name), '') AS by_value
FROM agg_cells c JOIN agg_by_fields b ON b.form_id = c.form_id;

-- The refresh of hub-10 with the pairs: taken away with the old cell,
-- added with the new one.
DROP TRIGGER agg_refresh_one;
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
    UPDATE agg_pairs SET n = n - 1
    WHERE (form_id, by_field, field, wave, area, value, by_value) IN
          (SELECT y.form_id, y.by_field, a.field, y.wave, y.area, a.value,
                  y.by_value
           FROM agg_cell_by y JOIN agg_cell_answers a ON a.cell = y.cell
           WHERE y.cell = (SELECT cell FROM agg_members
                           WHERE submission_id = NEW.submission_id));
    UPDATE agg_pairs SET n = n - 1
    WHERE field = '' AND value = ''
      AND (form_id, by_field, wave, area, by_value) IN
          (SELECT form_id, by_field, wave, area, by_value FROM agg_cell_by
           WHERE cell = (SELECT cell FROM agg_members
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
    INSERT INTO agg_pairs (form_id, by_field, field, wave, area, value,
                           by_value, n)
    SELECT y.form_id, y.by_field, a.field, y.wave, y.area, a.value,
           y.by_value, 1
    FROM agg_cell_by y JOIN agg_cell_answers a ON a.cell = y.cell
    WHERE y.cell = (SELECT cell FROM agg_members
                    WHERE submission_id = NEW.submission_id)
    ON CONFLICT (form_id, by_field, field, wave, area, value, by_value)
    DO UPDATE SET n = n + 1;
    INSERT INTO agg_pairs (form_id, by_field, field, wave, area, value,
                           by_value, n)
    SELECT form_id, by_field, '', wave, area, '', by_value, 1
    FROM agg_cell_by
    WHERE cell = (SELECT cell FROM agg_members
                  WHERE submission_id = NEW.submission_id)
    ON CONFLICT (form_id, by_field, field, wave, area, value, by_value)
    DO UPDATE SET n = n + 1;
    DELETE FROM agg_pending;
END;

-- The rebuild of hub-10 with the by fields and the pairs.
DROP TRIGGER agg_rebuild_all;
CREATE TRIGGER agg_rebuild_all INSTEAD OF INSERT ON agg_rebuild
BEGIN
    INSERT INTO agg_fields (form_id, name)
    SELECT f.form_id, f.name FROM agg_form_fields f
    WHERE NOT EXISTS (SELECT 1 FROM agg_fields a
                      WHERE a.form_id = f.form_id AND a.name = f.name);
    DELETE FROM agg_by_fields;
    INSERT INTO agg_by_fields (form_id, name)
    SELECT form_id, name FROM agg_by_form_fields;
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
    DELETE FROM agg_pairs;
    INSERT INTO agg_pairs (form_id, by_field, field, wave, area, value,
                           by_value, n)
    SELECT y.form_id, y.by_field, a.field, y.wave, y.area, a.value,
           y.by_value, sum(y.n)
    FROM agg_cell_by y JOIN agg_cell_answers a ON a.cell = y.cell
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
    INSERT INTO agg_pairs (form_id, by_field, field, wave, area, value,
                           by_value, n)
    SELECT form_id, by_field, '', wave, area, '', by_value, sum(n)
    FROM agg_cell_by GROUP BY 1, 2, 4, 5, 7;
END;

-- The form trigger of hub-10, which also counts everything again when a
-- version makes a field a by field or stops it being one (a field newly
-- marked personal: its pairs go).
DROP TRIGGER agg_form_insert;
CREATE TRIGGER agg_form_insert AFTER INSERT ON forms
BEGIN
    INSERT INTO agg_rebuild SELECT 'form field kept'
    WHERE EXISTS (SELECT 1 FROM submissions WHERE form_id = NEW.id)
      AND (EXISTS (SELECT 1 FROM agg_form_fields f
                   WHERE f.form_id = NEW.id AND NOT EXISTS
                         (SELECT 1 FROM agg_fields a
                          WHERE a.form_id = f.form_id AND a.name = f.name))
           OR EXISTS (SELECT name FROM agg_by_form_fields
                      WHERE form_id = NEW.id
                      EXCEPT SELECT name FROM agg_by_fields
                      WHERE form_id = NEW.id)
           OR EXISTS (SELECT name FROM agg_by_fields WHERE form_id = NEW.id
                      EXCEPT SELECT name FROM agg_by_form_fields
                      WHERE form_id = NEW.id));
    INSERT INTO agg_fields (form_id, name)
    SELECT f.form_id, f.name FROM agg_form_fields f
    WHERE f.form_id = NEW.id AND NOT EXISTS
          (SELECT 1 FROM agg_fields a
           WHERE a.form_id = f.form_id AND a.name = f.name);
    DELETE FROM agg_by_fields WHERE form_id = NEW.id;
    INSERT INTO agg_by_fields (form_id, name)
    SELECT form_id, name FROM agg_by_form_fields WHERE form_id = NEW.id;
    DELETE FROM agg_pairs WHERE form_id = NEW.id AND by_field NOT IN
        (SELECT name FROM agg_by_fields WHERE form_id = NEW.id);
END;

-- The by fields and pairs of what is stored already.
INSERT INTO agg_rebuild VALUES ('schema upgrade');
