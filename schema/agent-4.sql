-- fieldsync agent database, schema version 4: the shared registry held on
-- the device (entities and their field versions).
-- Filled in by the entities work (issue 4).
SELECT 1;
