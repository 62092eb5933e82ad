-- fieldsync hub database, schema version 3: review of submissions.
--
-- A reviewer or admin marks a submission received (the default),
-- has_issues, approved or rejected, with a comment for the person who
-- recorded it. The state travels back to the submitting device.
ALTER TABLE submissions ADD COLUMN review_state TEXT NOT NULL
    DEFAULT 'received';
ALTER TABLE submissions ADD COLUMN review_comment TEXT NOT NULL DEFAULT '';
ALTER TABLE submissions ADD COLUMN reviewed_ms INTEGER;
CREATE INDEX submissions_review ON submissions (review_state);
