-- fieldsync hub database, schema version 6: settings an admin chooses
-- for the whole hub (fieldsync-hub config set). A setting that has no
-- row has its documented default.

-- 'min_k': the smallest cell any indicator, change or map shows; a
-- request may ask for a larger k, never a smaller one.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
