-- fieldsync agent database, damaged attachment copies (issue 19): a file
-- whose copy in this device's store no longer hashes to its name (the
-- hub refused it at its hash check, 422, and the agent found its own copy
-- changed). It is not sent again until the original is recorded again
-- (`record --attach`), which mends the copy and clears the mark.
ALTER TABLE attachments ADD COLUMN damaged INTEGER NOT NULL DEFAULT 0;
