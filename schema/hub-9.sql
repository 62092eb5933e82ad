-- fieldsync hub database, schema version 9: where imported submissions came from
-- (`fieldsync-hub import csv`, README.md "Bringing in an earlier round").
--
-- Rows collected with another tool come in as submissions of device
-- 'import'; these tables say, for each, which file (base name and
-- SHA-256), which row, who imported it and when, and let a second import
-- of the same rows recognise them.

-- One run of `import csv` that stored its file (a refused or dry run
-- leaves nothing).
CREATE TABLE imports (
    id            INTEGER PRIMARY KEY,
    source_name   TEXT NOT NULL,          -- the file's base name
    source_sha256 TEXT NOT NULL,          -- of the file's bytes
    form_id       TEXT NOT NULL,
    form_version  INTEGER NOT NULL,
    wave          TEXT NOT NULL,
    key_column    TEXT NOT NULL DEFAULT '', -- '' : rows keyed by file and row
    actor         TEXT NOT NULL,            -- 'cli', as in audit_log
    at_ms         INTEGER NOT NULL,
    imported      INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0  -- rows imported before
);

-- Each imported row: its key ('row FILE:N' or 'column COL=VALUE'), the
-- submission it became (an id derived from the form and the key), its
-- row number (the header is row 1) and the SHA-256 of what was stored
-- (area, wave, answers) to tell a repeat from a changed row.
CREATE TABLE imported_rows (
    form_id       TEXT NOT NULL,
    row_key       TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    import_id     INTEGER NOT NULL REFERENCES imports (id),
    row_number    INTEGER NOT NULL,
    content       TEXT NOT NULL,
    PRIMARY KEY (form_id, row_key)
);
CREATE INDEX imported_rows_submission ON imported_rows (submission_id);
