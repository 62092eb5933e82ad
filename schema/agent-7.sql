-- fieldsync agent database, attachments (issue 19): files that answer
-- image, audio and file fields. The bytes live in the agent directory
-- under blobs/, named by their SHA-256, written and fsynced before the
-- submission that references them commits. sent is how many bytes the
-- hub has said it holds durably; a file is waiting while sent < size.
CREATE TABLE attachments (
    sha256  TEXT PRIMARY KEY,       -- 64 lower-case hex
    size    INTEGER NOT NULL,       -- bytes
    type    TEXT NOT NULL,          -- content type
    sent    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE submission_attachments (
    submission_id TEXT NOT NULL,
    field         TEXT NOT NULL,
    sha256        TEXT NOT NULL REFERENCES attachments(sha256),
    PRIMARY KEY (submission_id, field)
) WITHOUT ROWID;
