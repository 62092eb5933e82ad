-- fieldsync hub database, schema version 13: the media files ODK Collect
-- sent beside an OpenRosa submission, by the file name the instance's XML
-- gives as the answer of an image, audio or file question. Collect splits
-- a large submission into several POSTs of the same instance, each with
-- the whole XML and some of the files: what earlier parts carried is
-- found here, so the part that completes the set stores the submission
-- with every file referenced. The bytes are in blobs/SHA256 beside the
-- database (written, fsynced and renamed before the row is written).
CREATE TABLE openrosa_files (
    device_id  TEXT NOT NULL,      -- devices.id of the phone that sent it
    instance   TEXT NOT NULL,      -- the instanceID's UUID, lower case
    name       TEXT NOT NULL,      -- the part's file name, as in the XML
    sha256     TEXT NOT NULL,      -- 64 lower-case hex: blobs/SHA256
    size       INTEGER NOT NULL,   -- bytes
    type       TEXT NOT NULL,      -- content type sniffed by the hub
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, instance, name)
) WITHOUT ROWID;
