-- fieldsync agent database, sealed answers (issue 17): the data
-- stewards' public keys the hub published (pull kind 'seal_key'). A
-- finalized submission of a form with sealed fields is sealed to the key
-- its form version names; without that key here the device refuses to
-- finalize and keeps the draft.
CREATE TABLE seal_keys (
    id          TEXT PRIMARY KEY,   -- [A-Za-z0-9._-]{1,64}
    public_key  TEXT NOT NULL       -- X25519, base64 (32 bytes)
) WITHOUT ROWID;
