-- fieldsync hub database, schema version 7: the OpenRosa instances that
-- amend a submission. ODK Collect names every version of a record by its
-- own instanceID and an edit by the instanceID it replaces
-- (deprecatedID); fieldsync keeps one submission id and numbers its
-- revisions. The first revision's instance is the submission id itself;
-- each later one is a row here. A row is written before its revision is
-- merged and removed when the merge does not store it, so a row whose
-- revision is missing (a crash in between) is a leftover the next send
-- of the same instance completes.
CREATE TABLE openrosa_instances (
    instance    TEXT PRIMARY KEY,   -- the instanceID's UUID, lower case
    submission  TEXT NOT NULL,      -- submissions.id
    rev         INTEGER NOT NULL,   -- submissions.rev it became
    answers_sha TEXT NOT NULL       -- SHA-256 of its canonical answers
) WITHOUT ROWID;
CREATE INDEX openrosa_instances_submission ON openrosa_instances (submission, rev);
