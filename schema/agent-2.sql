-- fieldsync agent database, schema version 2: drafts.
--
-- A draft is a submission being filled. Every answer is saved as it is
-- given, so a device that dies mid-form keeps everything up to the last
-- answer. Finalizing moves it, in one transaction, into submissions and
-- the outbox and deletes the draft.
CREATE TABLE drafts (
    id           TEXT PRIMARY KEY,        -- the submission id it becomes
    form_id      TEXT NOT NULL,
    form_version INTEGER NOT NULL,
    area         TEXT NOT NULL DEFAULT '',
    answers      TEXT NOT NULL DEFAULT '{}',
    position     INTEGER NOT NULL DEFAULT 0, -- next field to ask
    base_rev     INTEGER NOT NULL DEFAULT 0, -- revision amended; 0: new
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);
