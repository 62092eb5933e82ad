-- fieldsync hub database, schema version 11: sealed answers, the data
-- stewards' public keys. A form version names the key its
-- sealed fields are sealed to (seal_key); devices get each key through
-- the change log (kind 'seal_key'). Private keys never reach the hub:
-- they stay in the steward's passphrase-protected key file.
CREATE TABLE seal_keys (
    id          TEXT PRIMARY KEY,   -- [A-Za-z0-9._-]{1,64}
    public_key  TEXT NOT NULL,      -- X25519, base64 (32 bytes)
    created_ms  INTEGER NOT NULL
) WITHOUT ROWID;
