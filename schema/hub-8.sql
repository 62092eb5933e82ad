-- fieldsync hub database, schema version 8: waves by a form's date field.
-- See schema/INDICATORS.md ("Waves") and schema/FORMS.md ("wave_date").
--
-- A form may name a date field ("wave_date"); the answer to it, when
-- given, decides the wave of a submission instead of the day it was first
-- recorded (an interview typed in after the round closed still belongs to
-- its round). An admin's wave assignment still wins over both.

-- The field a form version names as "wave_date" (its definition's
-- member, kept beside it so that storing a revision does not read the
-- whole definition), or NULL.
ALTER TABLE forms ADD COLUMN wave_date TEXT;
UPDATE forms SET wave_date = definition ->> '$.wave_date';
CREATE TRIGGER forms_wave_date AFTER INSERT ON forms
BEGIN
    UPDATE forms SET wave_date = NEW.definition ->> '$.wave_date'
    WHERE id = NEW.id AND version = NEW.version;
END;

-- dated_ms: 00:00 UTC of the day the revision answers to its form
-- version's wave_date field, in milliseconds; NULL when the form names
-- none or the answer is missing. A day belongs to the wave whose
-- inclusive dates hold it, and a wave is [start_ms, end_ms) from 00:00
-- UTC of its first day, so 00:00 UTC of the day decides.
ALTER TABLE submissions ADD COLUMN dated_ms INTEGER;
CREATE INDEX submissions_dated ON submissions (dated_ms);

-- Every way a revision is stored (a device's merge, an admin's
-- correction, a conflict's resolution, an import) sets it in the same
-- statement, so the wave of a stored revision is never missing. A
-- revision of a form without wave_date costs one lookup of its form.
CREATE TRIGGER submissions_dated AFTER INSERT ON submissions
WHEN (SELECT fo.wave_date FROM forms fo
      WHERE fo.id = NEW.form_id AND fo.version = NEW.form_version)
     IS NOT NULL
BEGIN
    UPDATE submissions SET dated_ms = (
        SELECT unixepoch(d.day) * 1000 FROM (
            SELECT NEW.answers ->> ('$.' || (
                SELECT fo.wave_date FROM forms fo
                WHERE fo.id = NEW.form_id AND fo.version = NEW.form_version
            )) AS day
        ) d
        WHERE d.day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]')
    WHERE rowid = NEW.rowid;
END;

-- Revisions stored before this version get theirs the same way.
UPDATE submissions SET dated_ms = (
    SELECT unixepoch(d.day) * 1000 FROM (
        SELECT submissions.answers ->> ('$.' || fo.wave_date) AS day
        FROM forms fo
        WHERE fo.id = submissions.form_id
          AND fo.version = submissions.form_version
    ) d
    WHERE d.day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]')
WHERE (SELECT fo.wave_date FROM forms fo
       WHERE fo.id = submissions.form_id
         AND fo.version = submissions.form_version) IS NOT NULL;

-- The newest revision of each submission, with its wave ('' when no wave
-- holds it), the time it was first recorded (created_ms) and the time
-- that decides its wave (dated_ms: the newest revision's date answer,
-- else created_ms). An admin's assignment wins over the dates. Coverage
-- and indicators leave out the rejected ones; exports keep them with
-- their state. This view is the one definition of "the current revision
-- of a submission and its wave": everything that counts by wave reads it.
DROP VIEW mapping_submissions;
CREATE VIEW mapping_submissions AS
SELECT s.rowid AS row_id, s.id, s.rev, s.form_id, s.form_version, s.area,
       s.device_id, s.collector, s.answers, s.review_state, s.received_ms,
       f.first_ms AS created_ms,
       coalesce(s.dated_ms, f.first_ms) AS dated_ms,
       coalesce(a.wave,
                (SELECT w.name FROM waves w
                 WHERE w.start_ms <= coalesce(s.dated_ms, f.first_ms)
                   AND coalesce(s.dated_ms, f.first_ms) < w.end_ms),
                '') AS wave
FROM submissions s
JOIN (SELECT id, max(rev) AS rev, min(created_ms) AS first_ms
      FROM submissions GROUP BY id) f ON f.id = s.id AND f.rev = s.rev
LEFT JOIN wave_assignments a ON a.submission_id = s.id;
