-- fieldsync agent database, schema version 3: the hub's review of each
-- submission, as last pulled (received, has_issues, approved, rejected)
-- with the reviewer's comment.
ALTER TABLE submissions ADD COLUMN review_state TEXT NOT NULL DEFAULT '';
ALTER TABLE submissions ADD COLUMN review_comment TEXT NOT NULL DEFAULT '';
